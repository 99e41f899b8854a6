// hvm_op: HVM parameters and the per-vcpu upcall vector (docs/xen-abi.md).
#include "core/domain.hpp"
#include "public/hvm.hpp"
#include "xen/guest_access.hpp"
#include "xen/hypercall.hpp"
#include "xen/xen_domain.hpp"

namespace xeno::xen {

namespace {

// The parameters the hypervisor owns (the toolstack sets them in Xen): the
// guest reads them, it may not move the rings.
bool hypervisor_owned(u32 index)
{
    return index == hvm_param::STORE_PFN || index == hvm_param::STORE_EVTCHN || index == hvm_param::CONSOLE_PFN ||
           index == hvm_param::CONSOLE_EVTCHN || index == hvm_param::IOREQ_PFN || index == hvm_param::BUFIOREQ_PFN ||
           index == hvm_param::IDENT_PT || index == hvm_param::VM86_TSS || index == hvm_param::VM86_TSS_SIZED;
}

// CALLBACK_IRQ: how event upcalls arrive. Vector (an IDT vector of 0x10 or
// more), a GSI the 8259A and I/O APIC have (0 turns the callback off), or
// nothing.
bool valid_callback(u64 via)
{
    switch (callback_via_type(via)) {
    case hvm_param_callback_type::VECTOR: return callback_via_payload(via) >= 0x10 && callback_via_payload(via) <= 0xff;
    case hvm_param_callback_type::GSI: return callback_via_payload(via) < 16;
    default: return false;
    }
}

i64 param_op(Vcpu& v, u64 arg, bool set)
{
    xen_hvm_param p;
    if (const int r = get_guest(v, arg, &p)) return r;
    if (!own_domain(p.domid)) return -err::XEN_ESRCH;
    if (p.index >= HVM_NR_PARAMS) return -err::XEN_EINVAL;
    XenDomain& xd = v.domain().xen();
    if (!set) {
        p.value = xd.param(p.index);
        return put_guest(v, arg, p);
    }
    if (hypervisor_owned(p.index)) return -err::XEN_EPERM;
    if (p.index == hvm_param::CALLBACK_IRQ && !valid_callback(p.value)) return -err::XEN_EINVAL;
    xd.set_param(p.index, p.value);
    return 0;
}

i64 set_upcall_vector(Vcpu& v, u64 arg)
{
    xen_hvm_evtchn_upcall_vector u;
    if (const int r = get_guest(v, arg, &u)) return r;
    if (u.vector < 0x10) return -err::XEN_EINVAL;
    if (u.vcpu >= v.domain().vcpu_count()) return -err::XEN_ENOENT;
    v.domain().xen().vcpu(u.vcpu).upcall_vector = u.vector;
    return 0;
}

}  // namespace

i64 do_hvm_op(Hypercall& call)
{
    switch (call.arg[0]) {
    case hvmop::set_param: return param_op(call.vcpu, call.arg[1], true);
    case hvmop::get_param: return param_op(call.vcpu, call.arg[1], false);
    case hvmop::set_evtchn_upcall_vector: return set_upcall_vector(call.vcpu, call.arg[1]);
    default: return -err::XEN_ENOSYS;
    }
}

}  // namespace xeno::xen
