// grant_table_op, version 1: the table's size and frames (docs/xen-abi.md).
// The table's frames are guest RAM pages the guest placed with
// XENMEM_add_to_physmap (memory_op.cpp); mapping and copying grants comes
// with the split drivers that need them.
#include "core/domain.hpp"
#include "public/compat.hpp"
#include "public/grant_table.hpp"
#include "xen/guest_access.hpp"
#include "xen/hypercall.hpp"
#include "xen/xen_domain.hpp"

namespace xeno::xen {

namespace {

constexpr u64 kInvalidFrame = ~u64{0};

i64 query_size(Vcpu& v, u64 arg)
{
    gnttab_query_size q;
    if (const int r = get_guest(v, arg, &q)) return r;
    if (!own_domain(q.dom)) {
        q.status = gntst::bad_domain;
    } else {
        q.nr_frames = v.domain().xen().grant_frames();
        q.max_nr_frames = kMaxGrantFrames;
        q.status = gntst::okay;
    }
    return put_guest(v, arg, q);
}

i64 setup_table(Vcpu& v, u64 arg, bool long_mode)
{
    gnttab_setup_table s{};
    compat::gnttab_setup_table c{};
    if (long_mode) {
        if (const int r = get_guest(v, arg, &s)) return r;
    } else {
        if (const int r = get_guest(v, arg, &c)) return r;
        s.dom = c.dom;
        s.nr_frames = c.nr_frames;
        s.frame_list = c.frame_list;
    }
    // A 32-bit guest's frame numbers are 32 bits wide.
    const usize frame_size = long_mode ? sizeof(u64) : sizeof(u32);
    XenDomain& xd = v.domain().xen();
    if (!own_domain(s.dom)) {
        s.status = gntst::bad_domain;
    } else if (s.nr_frames > kMaxGrantFrames) {
        s.status = gntst::general_error;
    } else {
        if (const int r = check_guest_writable(v, s.frame_list, s.nr_frames * frame_size)) return r;
        if (const int r = check_guest_writable(v, arg, long_mode ? sizeof s : sizeof c)) return r;
        // Each frame's guest frame number, where the guest placed it.
        for (u32 i = 0; i < s.nr_frames; ++i) {
            const u64 gfn = i < xd.grant_frames() && xd.grant_gfn(i) != kNoGfn ? xd.grant_gfn(i) : kInvalidFrame;
            const int r = long_mode ? put_guest(v, s.frame_list + i * frame_size, gfn)
                                    : put_guest(v, s.frame_list + i * frame_size, static_cast<u32>(gfn));
            if (r) return r;
        }
        if (s.nr_frames > xd.grant_frames()) xd.set_grant_frames(s.nr_frames);
        s.status = gntst::okay;
    }
    if (long_mode) return put_guest(v, arg, s);
    c.status = s.status;
    return put_guest(v, arg, c);
}

}  // namespace

i64 do_grant_table_op(Hypercall& call)
{
    Vcpu& v = call.vcpu;
    const u64 arg = call.arg[1];
    const u64 count = call.arg[2];
    switch (call.arg[0]) {
    case gnttabop::query_size:
        if (count != 1) return -err::XEN_EINVAL;
        return query_size(v, arg);
    case gnttabop::setup_table:
        if (count != 1) return -err::XEN_EINVAL;
        return setup_table(v, arg, call.long_mode);
    case gnttabop::get_version: {
        if (count != 1) return -err::XEN_EINVAL;
        gnttab_get_version g;
        if (const int r = get_guest(v, arg, &g)) return r;
        if (!own_domain(g.dom)) return -err::XEN_ESRCH;
        g.version = 1;
        return put_guest(v, arg, g);
    }
    case gnttabop::set_version: {
        if (count != 1) return -err::XEN_EINVAL;
        gnttab_set_version s;
        if (const int r = get_guest(v, arg, &s)) return r;
        if (s.version != 1) return -err::XEN_EINVAL;  // version 2 is not served
        return 0;
    }
    default: return -err::XEN_ENOSYS;
    }
}

}  // namespace xeno::xen
