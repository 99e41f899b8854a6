// event_channel_op: the 2-level event channels a guest binds and sends
// on (docs/xen-abi.md). Delivery itself is XenDomain::set_pending.
#include "core/domain.hpp"
#include "public/event_channel.hpp"
#include "xen/guest_access.hpp"
#include "xen/hypercall.hpp"
#include "xen/xen_domain.hpp"

namespace xeno::xen {

namespace {

// VIRQs each vcpu has its own of (Xen's virq_is_global is false for them).
bool per_vcpu_virq(u32 virq)
{
    return virq == virq::VIRQ_TIMER || virq == virq::VIRQ_DEBUG || virq == virq::VIRQ_XENOPROF ||
           virq == virq::VIRQ_XENPMU;
}

i64 no_port() { return -err::XEN_ENOSPC; }

template <class T, class Op>
i64 with_struct(Vcpu& v, u64 arg, Op&& op)
{
    T s;
    if (const int r = get_guest(v, arg, &s)) return r;
    // The answer must be deliverable before the operation binds anything.
    if (const int r = check_guest_writable(v, arg, sizeof s)) return r;
    const i64 result = op(s);
    if (result < 0) return result;
    if (const int r = put_guest(v, arg, s)) return r;
    return result;
}

i64 alloc_unbound(XenDomain& xd, evtchn_alloc_unbound& a)
{
    if (!own_domain(a.dom)) return -err::XEN_ESRCH;
    const domid_t remote = a.remote_dom == domid::self ? kDomainId : a.remote_dom;
    if (remote != kDomainId && remote != 0) return -err::XEN_ESRCH;
    const Result<u32> p = xd.allocate_port();
    if (!p.ok()) return no_port();
    EventPort& e = xd.allocated(p.value());
    e.state = static_cast<u8>(evtchnstat::unbound);
    e.remote_dom = remote;
    e.vcpu = 0;
    a.port = p.value();
    return 0;
}

i64 bind_interdomain(XenDomain& xd, evtchn_bind_interdomain& b)
{
    // The only other end a guest can reach here is its own unbound port
    // (a loopback): domain 0 is the hypervisor, which binds nothing.
    if (!own_domain(b.remote_dom)) return -err::XEN_ESRCH;
    EventPort* remote = xd.port(b.remote_port);
    if (!remote || remote->state != evtchnstat::unbound || remote->remote_dom != kDomainId) return -err::XEN_EINVAL;
    const Result<u32> p = xd.allocate_port();
    if (!p.ok()) return no_port();
    EventPort& local = xd.allocated(p.value());
    local.state = remote->state = static_cast<u8>(evtchnstat::interdomain);
    local.remote_dom = remote->remote_dom = kDomainId;
    local.peer = b.remote_port;
    remote->peer = p.value();
    local.vcpu = 0;
    b.local_port = p.value();
    // Xen marks the new local port pending, so neither side misses a send
    // made before the binding.
    xd.set_pending(p.value());
    return 0;
}

i64 bind_virq(Vcpu& v, XenDomain& xd, evtchn_bind_virq& b)
{
    if (b.virq >= kVirqCount) return -err::XEN_EINVAL;
    if (b.vcpu >= v.domain().vcpu_count()) return -err::XEN_ENOENT;
    if (!per_vcpu_virq(b.virq) && b.vcpu != 0) return -err::XEN_EINVAL;  // global VIRQs go to vcpu 0
    VcpuXen& x = xd.vcpu(b.vcpu);
    if (x.virq_port[b.virq]) return -err::XEN_EEXIST;
    const Result<u32> p = xd.allocate_port();
    if (!p.ok()) return no_port();
    EventPort& e = xd.allocated(p.value());
    e.state = static_cast<u8>(evtchnstat::virq);
    e.virq = static_cast<u8>(b.virq);
    e.vcpu = b.vcpu;
    x.virq_port[b.virq] = p.value();
    b.port = p.value();
    return 0;
}

i64 bind_ipi(Vcpu& v, XenDomain& xd, evtchn_bind_ipi& b)
{
    if (b.vcpu >= v.domain().vcpu_count()) return -err::XEN_ENOENT;
    const Result<u32> p = xd.allocate_port();
    if (!p.ok()) return no_port();
    EventPort& e = xd.allocated(p.value());
    e.state = static_cast<u8>(evtchnstat::ipi);
    e.vcpu = b.vcpu;
    b.port = p.value();
    return 0;
}

i64 status(XenDomain& xd, evtchn_status& s)
{
    if (!own_domain(s.dom)) return -err::XEN_ESRCH;
    const EventPort* e = xd.port(s.port);
    if (!e) return -err::XEN_EINVAL;
    s.status = e->state;
    s.vcpu = e->vcpu;
    s.u._output[0] = s.u._output[1] = 0;
    switch (e->state) {
    case evtchnstat::unbound: s.u.unbound.dom = e->remote_dom; break;
    case evtchnstat::interdomain:
        s.u.interdomain.dom = e->remote_dom;
        s.u.interdomain.port = e->peer;
        break;
    case evtchnstat::virq: s.u.virq = e->virq; break;
    default: break;
    }
    return 0;
}

i64 bind_vcpu(Vcpu& v, XenDomain& xd, const evtchn_bind_vcpu& b)
{
    EventPort* e = xd.port(b.port);
    if (!e || e->state == evtchnstat::closed) return -err::XEN_EINVAL;
    if (b.vcpu >= v.domain().vcpu_count()) return -err::XEN_ENOENT;
    if (e->state == evtchnstat::ipi || (e->state == evtchnstat::virq && per_vcpu_virq(e->virq))) return -err::XEN_EINVAL;
    e->vcpu = b.vcpu;
    return 0;
}

i64 reset(XenDomain& xd, const evtchn_reset& r)
{
    if (!own_domain(r.dom)) return -err::XEN_ESRCH;
    // Every port but the backends' (the console and the store stay bound:
    // their other end is the hypervisor, which never rebinds them).
    for (u32 p = 1; p < kMaxPorts; ++p) {
        const EventPort& e = xd.allocated(p);
        if (e.state != evtchnstat::closed && !e.backend) xd.close_port(p);
    }
    return 0;
}

}  // namespace

i64 do_event_channel_op(Hypercall& call)
{
    Vcpu& v = call.vcpu;
    XenDomain& xd = v.domain().xen();
    const u64 arg = call.arg[1];
    switch (call.arg[0]) {
    case evtchnop::alloc_unbound:
        return with_struct<evtchn_alloc_unbound>(v, arg, [&](evtchn_alloc_unbound& a) { return alloc_unbound(xd, a); });
    case evtchnop::bind_interdomain:
        return with_struct<evtchn_bind_interdomain>(v, arg, [&](evtchn_bind_interdomain& b) { return bind_interdomain(xd, b); });
    case evtchnop::bind_virq:
        return with_struct<evtchn_bind_virq>(v, arg, [&](evtchn_bind_virq& b) { return bind_virq(v, xd, b); });
    case evtchnop::bind_ipi:
        return with_struct<evtchn_bind_ipi>(v, arg, [&](evtchn_bind_ipi& b) { return bind_ipi(v, xd, b); });
    case evtchnop::status:
        return with_struct<evtchn_status>(v, arg, [&](evtchn_status& s) { return status(xd, s); });
    case evtchnop::close: {
        evtchn_close c;
        if (const int r = get_guest(v, arg, &c)) return r;
        const EventPort* e = xd.port(c.port);
        if (!e || e->state == evtchnstat::closed) return -err::XEN_EINVAL;
        if (e->backend) return -err::XEN_EINVAL;  // the console and the store are the toolstack's
        xd.close_port(c.port);
        return 0;
    }
    case evtchnop::send: {
        evtchn_send s;
        if (const int r = get_guest(v, arg, &s)) return r;
        return xd.send(s.port);
    }
    case evtchnop::unmask: {
        evtchn_unmask u;
        if (const int r = get_guest(v, arg, &u)) return r;
        if (!xd.port(u.port)) return -err::XEN_EINVAL;
        xd.unmask(u.port);
        return 0;
    }
    case evtchnop::bind_vcpu: {
        evtchn_bind_vcpu b;
        if (const int r = get_guest(v, arg, &b)) return r;
        return bind_vcpu(v, xd, b);
    }
    case evtchnop::reset: {
        evtchn_reset r;
        if (const int e = get_guest(v, arg, &r)) return e;
        return reset(xd, r);
    }
    default: return -err::XEN_ENOSYS;  // bind_pirq (no PIRQs), the FIFO ABI: guests stay with 2-level
    }
}

}  // namespace xeno::xen
