// HYPERVISOR_event_channel_op(cmd, arg): the EVTCHNOP_* sub-ops and their
// argument structures, the VIRQ_* numbers a guest binds, and the 2-level and
// FIFO ABI constants (event_channel.h, xen.h). Values and x86_64 layouts
// pinned to Xen 4.19's public headers.
#pragma once

#include <cstddef>

#include "lib/types.hpp"
#include "public/xen.hpp"

namespace xeno::xen {

namespace evtchnop {
inline constexpr u32 bind_interdomain = 0;
inline constexpr u32 bind_virq = 1;
inline constexpr u32 bind_pirq = 2;
inline constexpr u32 close = 3;
inline constexpr u32 send = 4;
inline constexpr u32 status = 5;
inline constexpr u32 alloc_unbound = 6;
inline constexpr u32 bind_ipi = 7;
inline constexpr u32 bind_vcpu = 8;
inline constexpr u32 unmask = 9;
inline constexpr u32 reset = 10;
inline constexpr u32 init_control = 11;  // FIFO ABI from here on
inline constexpr u32 expand_array = 12;
inline constexpr u32 set_priority = 13;
inline constexpr u32 reset_cont = 14;  // Xen-internal: the continuation of reset
}  // namespace evtchnop

// VIRQ_*. Per-vcpu (V) ones bind once per vcpu; per-domain (D) and global (G)
// ones bind on vcpu 0 and may move with EVTCHNOP_bind_vcpu. Xen's full names
// are kept: a bare ENOMEM or DEBUG is a host macro.
namespace virq {
inline constexpr u32 VIRQ_TIMER = 0;    // V: singleshot/periodic timer expired
inline constexpr u32 VIRQ_DEBUG = 1;    // V: dump debug state
inline constexpr u32 VIRQ_CONSOLE = 2;  // G: bytes on Xen's emergency console
inline constexpr u32 VIRQ_DOM_EXC = 3;  // G
inline constexpr u32 VIRQ_TBUF = 4;     // G
inline constexpr u32 VIRQ_DEBUGGER = 6;    // G
inline constexpr u32 VIRQ_XENOPROF = 7;    // V
inline constexpr u32 VIRQ_CON_RING = 8;    // G
inline constexpr u32 VIRQ_PCPU_STATE = 9;  // G
inline constexpr u32 VIRQ_MEM_EVENT = 10;  // G
inline constexpr u32 VIRQ_ARGO = 11;       // D
inline constexpr u32 VIRQ_ENOMEM = 12;     // G
inline constexpr u32 VIRQ_XENPMU = 13;     // V
inline constexpr u32 VIRQ_ARCH_0 = 16;
inline constexpr u32 VIRQ_ARCH_1 = 17;
inline constexpr u32 VIRQ_ARCH_2 = 18;
inline constexpr u32 VIRQ_ARCH_3 = 19;
inline constexpr u32 VIRQ_ARCH_4 = 20;
inline constexpr u32 VIRQ_ARCH_5 = 21;
inline constexpr u32 VIRQ_ARCH_6 = 22;
inline constexpr u32 VIRQ_ARCH_7 = 23;
inline constexpr u32 VIRQ_MCA = VIRQ_ARCH_0;  // G, x86: machine-check telemetry (arch-x86/xen-mca.h)
}  // namespace virq
inline constexpr u32 NR_VIRQS = 24;

// EVTCHNOP_alloc_unbound: a fresh port in dom that remote_dom may bind to.
struct evtchn_alloc_unbound {
    domid_t dom;         // IN
    domid_t remote_dom;  // IN
    evtchn_port_t port;  // OUT
};
static_assert(sizeof(evtchn_alloc_unbound) == 8);
static_assert(offsetof(evtchn_alloc_unbound, remote_dom) == 2 && offsetof(evtchn_alloc_unbound, port) == 4);

struct evtchn_bind_interdomain {
    domid_t remote_dom;         // IN
    u16 _pad;
    evtchn_port_t remote_port;  // IN
    evtchn_port_t local_port;   // OUT
};
static_assert(sizeof(evtchn_bind_interdomain) == 12);
static_assert(offsetof(evtchn_bind_interdomain, remote_port) == 4);
static_assert(offsetof(evtchn_bind_interdomain, local_port) == 8);

struct evtchn_bind_virq {
    u32 virq;            // IN: virq::VIRQ_*
    u32 vcpu;            // IN
    evtchn_port_t port;  // OUT
};
static_assert(sizeof(evtchn_bind_virq) == 12);
static_assert(offsetof(evtchn_bind_virq, vcpu) == 4 && offsetof(evtchn_bind_virq, port) == 8);

struct evtchn_bind_pirq {
    u32 pirq;            // IN
    u32 flags;           // IN: BIND_PIRQ__WILL_SHARE
    evtchn_port_t port;  // OUT
};
inline constexpr u32 BIND_PIRQ__WILL_SHARE = 1;
static_assert(sizeof(evtchn_bind_pirq) == 12 && offsetof(evtchn_bind_pirq, port) == 8);

struct evtchn_bind_ipi {
    u32 vcpu;            // IN
    evtchn_port_t port;  // OUT
};
static_assert(sizeof(evtchn_bind_ipi) == 8 && offsetof(evtchn_bind_ipi, port) == 4);

// close, send and unmask name one local port.
struct evtchn_close {
    evtchn_port_t port;
};
struct evtchn_send {
    evtchn_port_t port;
};
struct evtchn_unmask {
    evtchn_port_t port;
};
static_assert(sizeof(evtchn_close) == 4 && sizeof(evtchn_send) == 4 && sizeof(evtchn_unmask) == 4);

// EVTCHNSTAT_*: evtchn_status.status.
namespace evtchnstat {
inline constexpr u32 closed = 0;
inline constexpr u32 unbound = 1;
inline constexpr u32 interdomain = 2;
inline constexpr u32 pirq = 3;
inline constexpr u32 virq = 4;
inline constexpr u32 ipi = 5;
}  // namespace evtchnstat

struct evtchn_status {
    domid_t dom;         // IN: may be DOMID_SELF
    u16 _pad;
    evtchn_port_t port;  // IN
    u32 status;          // OUT: evtchnstat::
    u32 vcpu;            // OUT: the vcpu the port notifies
    union {
        struct {
            domid_t dom;
        } unbound;
        struct {
            domid_t dom;
            u16 _pad;
            evtchn_port_t port;
        } interdomain;
        u32 pirq;
        u32 virq;
        u32 _output[2];  // the union's full size, for zeroing it
    } u;
};
static_assert(sizeof(evtchn_status) == 24);
static_assert(offsetof(evtchn_status, port) == 4 && offsetof(evtchn_status, status) == 8);
static_assert(offsetof(evtchn_status, vcpu) == 12 && offsetof(evtchn_status, u) == 16);
static_assert(offsetof(evtchn_status, u.interdomain.port) == 20);

// EVTCHNOP_bind_vcpu: which vcpu a (non-IPI, non-per-vcpu-VIRQ) port notifies.
struct evtchn_bind_vcpu {
    evtchn_port_t port;
    u32 vcpu;
};
static_assert(sizeof(evtchn_bind_vcpu) == 8 && offsetof(evtchn_bind_vcpu, vcpu) == 4);

// EVTCHNOP_reset: close every port of dom (and return it to the 2-level ABI).
struct evtchn_reset {
    domid_t dom;
};
static_assert(sizeof(evtchn_reset) == 2);

// EVTCHNOP_init_control: switch vcpu to the FIFO ABI, its control block at
// control_gfn + offset.
struct evtchn_init_control {
    u64 control_gfn;  // IN
    u32 offset;       // IN
    u32 vcpu;         // IN
    u8 link_bits;     // OUT
    u8 _pad[7];
};
static_assert(sizeof(evtchn_init_control) == 24);
static_assert(offsetof(evtchn_init_control, offset) == 8 && offsetof(evtchn_init_control, vcpu) == 12);
static_assert(offsetof(evtchn_init_control, link_bits) == 16);

struct evtchn_expand_array {
    u64 array_gfn;  // IN: one more page of event words
};
static_assert(sizeof(evtchn_expand_array) == 8);

struct evtchn_set_priority {
    evtchn_port_t port;
    u32 priority;  // evtchn_fifo::PRIORITY_MAX (0) .. PRIORITY_MIN (15)
};
static_assert(sizeof(evtchn_set_priority) == 8 && offsetof(evtchn_set_priority, priority) == 4);

// 2-level ABI: one pending and one mask bit per port in shared_info, one
// selector bit per word, so 64 * 64 ports on x86_64.
inline constexpr u32 EVTCHN_2L_NR_CHANNELS = sizeof(xen_ulong_t) * sizeof(xen_ulong_t) * 64;
static_assert(EVTCHN_2L_NR_CHANNELS == 4096);

// FIFO ABI: an event_word_t (u32) per port in guest-supplied array pages.
namespace evtchn_fifo {
inline constexpr u32 PRIORITY_MAX = 0;  // highest
inline constexpr u32 PRIORITY_DEFAULT = 7;
inline constexpr u32 PRIORITY_MIN = 15;  // lowest
inline constexpr u32 MAX_QUEUES = PRIORITY_MIN + 1;
inline constexpr u32 PENDING = 31;  // bit numbers in an event word
inline constexpr u32 MASKED = 30;
inline constexpr u32 LINKED = 29;
inline constexpr u32 BUSY = 28;
inline constexpr u32 LINK_BITS = 17;
inline constexpr u32 LINK_MASK = (1u << LINK_BITS) - 1;
inline constexpr u32 NR_CHANNELS = 1u << LINK_BITS;
}  // namespace evtchn_fifo
using event_word_t = u32;

struct evtchn_fifo_control_block {
    u32 ready;  // bit q: queue q is not empty
    u32 _rsvd;
    u32 head[evtchn_fifo::MAX_QUEUES];
};
static_assert(sizeof(evtchn_fifo_control_block) == 72 && offsetof(evtchn_fifo_control_block, head) == 8);

}  // namespace xeno::xen
