// vcpu_op: vcpu_info placement, runstate areas and the Xen timers (docs/xen-abi.md).
#include "core/domain.hpp"
#include "devices/apic_message.hpp"
#include "hal/memory.hpp"
#include "public/vcpu.hpp"
#include "xen/guest_access.hpp"
#include "xen/hypercall.hpp"
#include "xen/xen_domain.hpp"

namespace xeno::xen {

namespace {

constexpr u64 kMinPeriodNs = 1'000'000;  // Xen refuses periodic timers under 1 ms

i64 register_vcpu_info(Vcpu& caller, u32 target, u64 arg)
{
    vcpu_register_vcpu_info r;
    if (const int e = get_guest(caller, arg, &r)) return e;
    XenDomain& xd = caller.domain().xen();
    VcpuXen& x = xd.vcpu(target);
    // Within one page, naturally aligned for the hypervisor's locked
    // updates of its words, RAM, and once per vcpu.
    if (r.offset > kPageSize - sizeof(vcpu_info) || (r.offset & 7) || !guest_ram_frame(caller, r.mfn) ||
        x.vcpu_info_registered)
        return -err::XEN_EINVAL;
    vcpu_info current{};
    if (const vcpu_info* old = xd.vcpu_info_of(target)) current = *old;
    const u64 gpa = (r.mfn << kPageShift) + r.offset;
    const Hpa h = caller.domain().p2m().translate(Gpa{gpa}).value();
    __builtin_memcpy(hal::machine_to_virt(h), &current, sizeof current);
    x.vcpu_info_gpa = gpa;
    x.vcpu_info_registered = true;
    xd.update_vcpu_time(target);
    return 0;
}

i64 set_singleshot(Vcpu& v, u64 arg)
{
    vcpu_set_singleshot_timer t;
    if (const int e = get_guest(v, arg, &t)) return e;
    XenDomain& xd = v.domain().xen();
    if ((t.flags & VCPU_SSHOTTMR_future) && t.timeout_abs_ns < xd.system_time()) return -err::XEN_ETIME;
    v.domain().timers().arm(xd.vcpu(v.id()).singleshot, t.timeout_abs_ns);
    return 0;
}

i64 set_periodic(Vcpu& v, u64 arg)
{
    vcpu_set_periodic_timer t;
    if (const int e = get_guest(v, arg, &t)) return e;
    if (t.period_ns < kMinPeriodNs || t.period_ns > (u64{1} << 62)) return -err::XEN_EINVAL;
    XenDomain& xd = v.domain().xen();
    VcpuXen& x = xd.vcpu(v.id());
    x.period_ns = t.period_ns;
    v.domain().timers().arm(x.periodic, xd.system_time() + t.period_ns);
    return 0;
}

}  // namespace

i64 do_vcpu_op(Hypercall& call)
{
    Vcpu& v = call.vcpu;
    Domain& d = v.domain();
    if (call.arg[1] >= d.vcpu_count()) return -err::XEN_ENOENT;
    const u32 target = static_cast<u32>(call.arg[1]);
    XenDomain& xd = d.xen();
    VcpuXen& x = xd.vcpu(target);
    const bool self = target == v.id();
    switch (call.arg[0]) {
    case vcpuop::is_up: return d.vcpu(target).run_state != VcpuRunState::WAIT_FOR_SIPI && !x.down ? 1 : 0;
    case vcpuop::register_vcpu_info: return register_vcpu_info(v, target, call.arg[2]);
    case vcpuop::register_runstate_memory_area: {
        vcpu_register_runstate_memory_area a;
        if (const int e = get_guest(v, call.arg[2], &a)) return e;
        // A 32-bit guest's handle is the union's low half (the rest may
        // be anything) and names the x86_32 layout.
        if (!call.long_mode) a.addr &= 0xffffffff;
        // Written now through the caller's page tables (a kernel address,
        // the same in every vcpu's), and at each change of the vcpu's state.
        if (a.addr && XenDomain::put_runstate(v, a.addr, xd.runstate_of(target), !call.long_mode) != 0)
            return -err::XEN_EFAULT;
        x.runstate_gla = a.addr;
        x.runstate_compat = !call.long_mode;
        return 0;
    }
    case vcpuop::register_vcpu_time_memory_area: {
        // A second vcpu_time_info for the guest's vDSO: kept at the
        // guest-physical address its linear address has now.
        vcpu_register_time_memory_area a;
        if (const int e = get_guest(v, call.arg[2], &a)) return e;
        if (!call.long_mode) a.addr &= 0xffffffff;  // (vcpu_time_info has one layout)
        u64 gpa = 0;
        if (a.addr && ((a.addr & (kPageSize - 1)) + sizeof(vcpu_time_info) > kPageSize || (a.addr & 7) ||
                       !translate_guest(v, a.addr, true, &gpa)))
            return -err::XEN_EINVAL;
        x.time_area_gpa = gpa;
        xd.update_vcpu_time(target);
        return 0;
    }
    case vcpuop::get_runstate_info: return XenDomain::put_runstate(v, call.arg[2], xd.runstate_of(target), !call.long_mode);
    case vcpuop::set_singleshot_timer:
        if (!self) return -err::XEN_EINVAL;  // a vcpu sets its own timers
        return set_singleshot(v, call.arg[2]);
    case vcpuop::stop_singleshot_timer:
        if (!self) return -err::XEN_EINVAL;
        d.timers().cancel(x.singleshot);
        return 0;
    case vcpuop::set_periodic_timer:
        if (!self) return -err::XEN_EINVAL;
        return set_periodic(v, call.arg[2]);
    case vcpuop::stop_periodic_timer:
        if (!self) return -err::XEN_EINVAL;
        x.period_ns = 0;
        d.timers().cancel(x.periodic);
        return 0;
    case vcpuop::down: {
        // Offline until VCPUOP_up: it stops once this hypercall returns
        // (or at once, if it is another vcpu), with its state kept.
        Vcpu& t = d.vcpu(target);
        if (t.run_state == VcpuRunState::WAIT_FOR_SIPI || x.down) return 0;
        x.down = true;
        t.run_state = VcpuRunState::HALTED;
        t.halted_with_if = false;
        xd.set_runstate(target, runstate::offline);
        d.kick(target);  // running on another CPU: it stops at its next exit
        return 0;
    }
    case vcpuop::up:
        if (x.down) {
            x.down = false;
            x.resumed = true;
            d.kick(target);
            return 0;
        }
        // A vcpu that never ran needs a start state: PVH vcpus get theirs
        // from INIT-SIPI-SIPI (VCPUOP_initialise is not served).
        return d.vcpu(target).run_state == VcpuRunState::WAIT_FOR_SIPI ? -err::XEN_EINVAL : 0;
    case vcpuop::send_nmi: {
        devices::ApicMessage m;
        m.mode = devices::DeliveryMode::NMI;
        d.vcpu(target).lapic().accept(m);
        return 0;
    }
    default: return -err::XEN_ENOSYS;  // initialise: PVH vcpus start with INIT-SIPI-SIPI
    }
}

}  // namespace xeno::xen
