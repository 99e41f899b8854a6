// sched_op: yield, block, poll, shutdown and the domain watchdog (docs/xen-abi.md).
#include "arch/x86/vmx/interrupt_injection.hpp"
#include "core/domain.hpp"
#include "core/log.hpp"
#include "public/compat.hpp"
#include "public/sched.hpp"
#include "public/vcpu.hpp"
#include "xen/guest_access.hpp"
#include "xen/hypercall.hpp"
#include "xen/xen_domain.hpp"

namespace xeno::xen {

namespace {

// The vcpu sleeps once this hypercall returns: HALTED, woken by what
// XenDomain::wakeup_pending or an interrupt it can take says.
void sleep(Vcpu& v)
{
    v.run_state = VcpuRunState::HALTED;
    v.halted_with_if = true;  // events wake it whatever its RFLAGS.IF
    v.domain().xen().set_runstate(v.id(), runstate::blocked);
}

i64 shutdown_domain(Vcpu& v, u32 reason)
{
    Domain& d = v.domain();
    switch (reason) {
    case shutdown::poweroff: d.end(DomainEnd::POWER_OFF, 0, "guest powered off (SCHEDOP_shutdown poweroff)"); return 0;
    case shutdown::reboot: d.reset("SCHEDOP_shutdown reboot"); return 0;
    case shutdown::crash: d.end(DomainEnd::CRASHED, kGuestCrashStatus, "guest crashed (SCHEDOP_shutdown crash)"); return 0;
    case shutdown::watchdog: d.end(DomainEnd::CRASHED, kGuestCrashStatus, "guest watchdog (SCHEDOP_shutdown watchdog)"); return 0;
    case shutdown::suspend:
    case shutdown::soft_reset: return -err::XEN_ENOSYS;  // no toolstack to resume or rebuild the domain
    default: return -err::XEN_EINVAL;
    }
}

i64 poll(Vcpu& v, u64 arg, bool long_mode)
{
    sched_poll p{};
    if (long_mode) {
        if (const int r = get_guest(v, arg, &p)) return r;
    } else {
        compat::sched_poll c;
        if (const int r = get_guest(v, arg, &c)) return r;
        p.ports = c.ports;
        p.nr_ports = c.nr_ports;
        p.timeout = c.timeout;
    }
    if (p.nr_ports > kMaxPollPorts) return -err::XEN_EINVAL;
    XenDomain& xd = v.domain().xen();
    VcpuXen& x = xd.vcpu(v.id());
    u32 ports[kMaxPollPorts];
    if (const int r = copy_from_guest(v, ports, p.ports, p.nr_ports * sizeof(u32))) return r;
    for (u32 i = 0; i < p.nr_ports; ++i)
        if (!xd.port(ports[i])) return -err::XEN_EINVAL;
    for (u32 i = 0; i < p.nr_ports; ++i)
        if (xd.port_pending(ports[i])) return 0;
    if (p.timeout != 0 && p.timeout <= xd.system_time()) return 0;
    x.poll_count = p.nr_ports;
    for (u32 i = 0; i < p.nr_ports; ++i) x.poll_ports[i] = ports[i];
    x.polling = true;
    x.poll_timed_out = false;
    if (p.timeout) v.domain().timers().arm(x.poll_timer, p.timeout);
    sleep(v);
    return 0;
}

}  // namespace

i64 do_sched_op(Hypercall& call)
{
    Vcpu& v = call.vcpu;
    switch (call.arg[0]) {
    case schedop::yield:
        v.yield_requested = true;
        return 0;
    case schedop::block:
        if (vmx::has_wakeup_event(v, true) || v.domain().xen().upcall_pending(v.id())) return 0;
        v.domain().xen().vcpu(v.id()).blocked = true;
        sleep(v);
        return 0;
    case schedop::poll: return poll(v, call.arg[1], call.long_mode);
    case schedop::shutdown: {
        sched_shutdown s;
        if (const int r = get_guest(v, call.arg[1], &s)) return r;
        return shutdown_domain(v, s.reason);
    }
    case schedop::watchdog: {
        sched_watchdog w;
        if (const int r = get_guest(v, call.arg[1], &w)) return r;
        return v.domain().xen().watchdog(w.id, w.timeout);
    }
    default: return -err::XEN_ENOSYS;
    }
}

}  // namespace xeno::xen
