// HYPERVISOR_sched_op(cmd, arg): the SCHEDOP_* sub-ops, the SHUTDOWN_*
// reasons and the argument structures (sched.h). Values and x86_64 layouts
// pinned to Xen 4.19's public headers.
#pragma once

#include <cstddef>

#include "lib/types.hpp"
#include "public/xen.hpp"

namespace xeno::xen {

namespace schedop {
inline constexpr u32 yield = 0;  // arg NULL
// arg NULL. With upcalls masked, Xen unmasks and checks for pending events
// before blocking, so a wakeup between the guest's check and the call is not lost.
inline constexpr u32 block = 1;
inline constexpr u32 shutdown = 2;         // arg: sched_shutdown
inline constexpr u32 poll = 3;             // arg: sched_poll
inline constexpr u32 remote_shutdown = 4;  // arg: sched_remote_shutdown
inline constexpr u32 shutdown_code = 5;    // arg: sched_shutdown; reported at the later shutdown
inline constexpr u32 watchdog = 6;         // arg: sched_watchdog
inline constexpr u32 pin_override = 7;     // arg: sched_pin_override (hardware domain only)
}  // namespace schedop

// SHUTDOWN_*: sched_shutdown.reason, for the toolstack; Xen itself does not care.
namespace shutdown {
inline constexpr u32 poweroff = 0;
inline constexpr u32 reboot = 1;
inline constexpr u32 suspend = 2;
inline constexpr u32 crash = 3;
inline constexpr u32 watchdog = 4;  // the domain's watchdog fired
inline constexpr u32 soft_reset = 5;
inline constexpr u32 MAX = 5;  // SHUTDOWN_MAX: the largest valid reason
}  // namespace shutdown

struct sched_shutdown {
    u32 reason;  // shutdown::
};
static_assert(sizeof(sched_shutdown) == 4);

// Block until one of ports is pending, or until timeout (system time, ns;
// 0: none).
struct sched_poll {
    guest_handle ports;  // XEN_GUEST_HANDLE(evtchn_port_t)
    u32 nr_ports;
    u32 _pad;
    u64 timeout;
};
static_assert(sizeof(sched_poll) == 24);
static_assert(offsetof(sched_poll, nr_ports) == 8 && offsetof(sched_poll, timeout) == 16);

struct sched_remote_shutdown {
    domid_t domain_id;
    u16 _pad;
    u32 reason;  // shutdown::
};
static_assert(sizeof(sched_remote_shutdown) == 8 && offsetof(sched_remote_shutdown, reason) == 4);

// id 0: create a watchdog (returns its id) firing after timeout seconds;
// id != 0: timeout 0 destroys it, otherwise pokes it with a new timeout.
struct sched_watchdog {
    u32 id;
    u32 timeout;
};
static_assert(sizeof(sched_watchdog) == 8 && offsetof(sched_watchdog, timeout) == 4);

// pcpu < 0 undoes the override.
struct sched_pin_override {
    i32 pcpu;
};
static_assert(sizeof(sched_pin_override) == 4);

}  // namespace xeno::xen
