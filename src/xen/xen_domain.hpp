// A domain's Xen interface state (docs/xen-abi.md): its event channels, HVM
// parameters, where the guest placed shared_info, its vcpu_infos and grant
// frames, each vcpu's timers and poll set, and the hypervisor's ends of the
// console and store rings. The guest-visible structures themselves
// (shared_info, vcpu_info, the rings) live in guest frames the guest chose
// or the hypervisor reserved; this is what the hypervisor keeps beside them.
//
// Xeno serves one domain per machine; it presents itself to the guest as
// domain kDomainId, with the toolstack's and backends' domain 0 being the
// hypervisor itself.
#pragma once

#include "devices/timer_queue.hpp"
#include "lib/status.hpp"
#include "lib/types.hpp"
#include "public/event_channel.hpp"
#include "public/vcpu.hpp"
#include "public/xen.hpp"

namespace xeno {
class Domain;
class Vcpu;
}  // namespace xeno

namespace xeno::xen {

class XenStore;

inline constexpr u16 kDomainId = 1;
inline constexpr u32 kMaxPorts = 1024;        // ports 1..1023, as xl's default max_event_channels
inline constexpr u32 kMaxGrantFrames = 32;
inline constexpr u32 kMaxPollPorts = 128;
inline constexpr u32 kHvmParamCount = 39;     // HVM_NR_PARAMS
inline constexpr u64 kNoGfn = ~u64{0};
// The rings the hypervisor serves, in the E820-reserved BIOS area.
inline constexpr u64 kConsoleRingGfn = 0xfe;
inline constexpr u64 kStoreRingGfn = 0xff;
inline constexpr u32 kConsolePort = 1;
inline constexpr u32 kStorePort = 2;
inline constexpr u32 kVirqCount = 24;         // NR_VIRQS

// Whether a domain id a guest passes names its own domain.
constexpr bool own_domain(domid_t id) { return id == domid::self || id == kDomainId; }

// One event channel. `state` holds EVTCHNSTAT_* values.
struct EventPort {
    u8 state = 0;
    u8 virq = 0;
    bool backend = false;  // interdomain with the hypervisor's console or store
    u16 remote_dom = 0;    // unbound: the domain that may bind; interdomain: the peer's
    u32 peer = 0;          // interdomain (not backend): the peer port
    u32 vcpu = 0;          // the vcpu its events go to
};

// Per-vcpu Xen state.
struct VcpuXen {
    class XenDomain* owner = nullptr;
    u32 id = 0;
    u64 vcpu_info_gpa = 0;          // where its vcpu_info is (valid: vcpu_info_placed)
    bool vcpu_info_registered = false;  // by VCPUOP_register_vcpu_info (else in shared_info)
    u8 upcall_vector = 0;           // HVMOP_set_evtchn_upcall_vector (0: none)
    u64 runstate_gla = 0;           // VCPUOP_register_runstate_memory_area (0: none)
    bool runstate_compat = false;   // registered from 32-bit mode: the x86_32 layout
    u64 time_area_gpa = 0;          // VCPUOP_register_vcpu_time_memory_area: a second vcpu_time_info (0: none)
    i32 runstate = 0;               // RUNSTATE_*
    u64 runstate_entry = 0;         // system time it entered it
    u64 runstate_time[4] = {};
    u32 virq_port[kVirqCount] = {};
    devices::DeviceTimer singleshot;
    devices::DeviceTimer periodic;
    u64 period_ns = 0;
    // SCHEDOP_block: it sleeps until an event is pending for it.
    bool blocked = false;
    // VCPUOP_down: offline until VCPUOP_up (resumed: up was called).
    bool down = false;
    bool resumed = false;
    // SCHEDOP_poll: the ports it waits on, until one is pending or the timer.
    bool polling = false;
    bool poll_timed_out = false;
    u32 poll_count = 0;
    u32 poll_ports[kMaxPollPorts] = {};
    devices::DeviceTimer poll_timer;
};

// Write a runstate area (VCPUOP_register_runstate_memory_area) of `vcpu`,
// whose VMCS is current: 0 or -EFAULT.
int write_runstate_area(Vcpu& vcpu, const vcpu_runstate_info& info, u64 linear);

class XenDomain {
public:
    explicit XenDomain(Domain& domain);
    ~XenDomain();
    XenDomain(const XenDomain&) = delete;
    XenDomain& operator=(const XenDomain&) = delete;

    Domain& domain() { return domain_; }
    // The heap-backed parts (port table, the store), made at the first use.
    // NO_MEMORY when the heap cannot give them.
    Status ensure_ready();
    bool ready() const { return ports_ != nullptr; }

    // Xen system time: ns on the machine's clock.
    u64 system_time() const;

    // ---- event channels (event_channel.cpp) ----
    EventPort* port(u32 p) { return ready() && p > 0 && p < kMaxPorts ? &ports_[p] : nullptr; }
    Result<u32> allocate_port();
    // A port allocate_port returned (valid by construction).
    EventPort& allocated(u32 p) { return ports_[p]; }
    void close_port(u32 p);
    // Mark `p` pending (2-level: shared_info pending bit, then the selector
    // and evtchn_upcall_pending of its vcpu unless masked) and deliver the upcall.
    void set_pending(u32 p);
    // Raise VIRQ `virq` on vcpu `vcpu` (nothing if unbound).
    void send_virq(u32 vcpu, u32 virq);
    // evtchn_2l unmask: clear the mask bit; deliver if the port is pending.
    void unmask(u32 p);
    bool port_pending(u32 p);
    // EVTCHNOP_send from the guest on `p`.
    int send(u32 p);

    // ---- shared_info and vcpu_info ----
    u64 shared_info_gfn() const { return shared_info_gfn_; }
    // Place shared_info at guest frame `gfn` (RAM): cleared, then filled.
    void place_shared_info(u64 gfn);
    // The vcpu_info of `vcpu` in guest memory, null when it has none yet.
    vcpu_info* vcpu_info_of(u32 vcpu);
    shared_info* shared();
    // Fill vcpu `vcpu`'s vcpu_time_info (pvclock) for the current time.
    void update_vcpu_time(u32 vcpu);
    // Whether vcpu `vcpu` has evtchn_upcall_pending set.
    bool upcall_pending(u32 vcpu);
    // CALLBACK_IRQ as a GSI: drive the ISA line from vcpu 0's
    // evtchn_upcall_pending (before each of its entries and at each event).
    void sync_gsi_callback();
    // The vector to inject now for the callback, or -1 (interrupt_injection.cpp).
    int callback_vector(u32 vcpu);
    // SCHEDOP_block / SCHEDOP_poll: whether vcpu `vcpu` has a reason to wake.
    bool wakeup_pending(u32 vcpu);
    // Account a runstate change of `vcpu` (RUNSTATE_*) and write its
    // registered runstate area, if any. The vcpu's VMCS must be current.
    void set_runstate(u32 vcpu, i32 state);
    // The vcpu's runstate as VCPUOP_get_runstate_info reports it.
    vcpu_runstate_info runstate_of(u32 vcpu);
    // Write `info` at guest-linear `linear` through v's page tables, in the
    // x86_32 layout when `compat` (0 or -EFAULT).
    static int put_runstate(Vcpu& v, u64 linear, const vcpu_runstate_info& info, bool compat);
    // The scheduler runs `vcpu` again after SCHEDOP_block, SCHEDOP_poll or
    // HLT (its VMCS is current).
    void vcpu_resumed(u32 vcpu);
    // SCHEDOP_watchdog (docs/xen-abi.md): the id, 0, or -errno.
    i64 watchdog(u32 id, u32 timeout_s);

    VcpuXen& vcpu(u32 id) { return vcpus_[id]; }
    u64 param(u32 index) const { return params_[index]; }
    void set_param(u32 index, u64 value) { params_[index] = value; }

    // Whether the hypervisor itself reads or writes guest frame `gfn`
    // (shared_info, a registered vcpu_info or time area, the console and
    // store rings, a grant frame): the balloon must not take it away.
    bool uses_frame(u64 gfn) const;

    // ---- grant table (grant_table.cpp) ----
    u32 grant_frames() const { return grant_frames_; }
    void set_grant_frames(u32 n) { grant_frames_ = n; }
    u64 grant_gfn(u32 frame) const { return grant_gfn_[frame]; }
    void set_grant_gfn(u32 frame, u64 gfn) { grant_gfn_[frame] = gfn; }

    // ---- console and store (pv_backends.cpp) ----
    // The guest notified the console (store) port: drain its ring.
    void service_console();
    void service_store();
    // Console input bytes for console_io read and the console ring.
    usize console_read(u8* out, usize length);
    XenStore* store() { return store_; }

    // ---- the hypercall page MSR (hypercall_page.cpp) ----
    u64 hypercall_page_msr = 0;

private:
    static void singleshot_fired(void* context, u64 now);
    static void periodic_fired(void* context, u64 now);
    static void poll_fired(void* context, u64 now);
    static void watchdog_fired(void* context, u64 now);
    void mark_vcpu_events(u32 vcpu);
    void kick(u32 vcpu);

    Domain& domain_;
    EventPort* ports_ = nullptr;
    u64 params_[kHvmParamCount] = {};
    u64 shared_info_gfn_ = kNoGfn;
    // Events marked before the guest placed shared_info: moved into it then.
    u64 early_pending_[kMaxPorts / 64] = {};
    u32 grant_frames_ = 1;
    u64 grant_gfn_[kMaxGrantFrames] = {};
    VcpuXen vcpus_[32];
    static constexpr u32 kWatchdogs = 2;  // NR_DOMAIN_WATCHDOG_TIMERS
    devices::DeviceTimer watchdogs_[kWatchdogs];
    bool watchdog_used_[kWatchdogs] = {};
    XenStore* store_ = nullptr;
    void* store_arena_ = nullptr;
    bool console_connected_ = false;  // the guest has notified the console (store) port
    bool store_connected_ = false;
    bool gsi_level_ = false;  // the GSI callback line is asserted
    u32 gsi_line_ = 0;
    usize console_input_used_ = 0;
};

}  // namespace xeno::xen
