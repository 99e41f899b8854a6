// memory_op: placing Xen's shared pages in the guest's physical address
// space, and what the guest's memory is (docs/xen-abi.md).
#include "boot/guest_layout.hpp"
#include "arch/x86/vmx/physmap.hpp"
#include "core/domain.hpp"
#include "hal/memory.hpp"
#include "public/compat.hpp"
#include "public/memory.hpp"
#include "xen/guest_access.hpp"
#include "xen/hypercall.hpp"
#include "xen/xen_domain.hpp"

namespace xeno::xen {

namespace {

// Clear guest frame `gfn` (RAM) for a shared structure.
void clear_frame(Domain& d, u64 gfn)
{
    const Hpa h = d.p2m().translate(Gpa::from_frame(gfn)).value();
    __builtin_memset(hal::machine_to_virt(h), 0, kPageSize);
    hal::machine_memory_written(h, kPageSize);
}

// A guest frame outside RAM for a shared page: unpopulated address space
// (above the first MiB, not the local and I/O APIC window at 0xfec00000 and
// up, below the guest's physical address width), backed by a fresh frame
// of the hypervisor's, as Xen maps its own page there. Once placed, a frame
// stays (placing the same one again is nothing; another page there -EINVAL).
i64 place_outside_ram(Vcpu& v, u64 gfn)
{
    constexpr u64 kFirstMiB = 0x100;  // frames below 1 MiB: legacy VGA and BIOS space
    constexpr u64 kApicWindowFirst = 0xfec00000 >> kPageShift, kApicWindowEnd = u64{1} << (32 - kPageShift);
    const u64 limit = u64{1} << (v.guest_maxphyaddr - kPageShift);
    if (gfn < kFirstMiB || (gfn >= kApicWindowFirst && gfn < kApicWindowEnd) || gfn >= limit) return -err::XEN_EINVAL;
    Domain& d = v.domain();
    if (d.p2m().mfn(gfn) != mm::P2m::kInvalidMfn) return -err::XEN_EINVAL;
    if (!d.frames()) return -err::XEN_ENOMEM;
    Result<Hpa> f = d.frames()->allocate_zeroed();
    if (!f.ok()) return -err::XEN_ENOMEM;
    hal::machine_memory_written(f.value(), kPageSize);
    const Status s = vmx::map_frame_outside_ram(v, gfn, f.value());
    if (s == Status::OK) return 0;
    (void)d.frames()->free(f.value());
    return s == Status::NO_MEMORY ? -err::XEN_ENOMEM : -err::XEN_EINVAL;
}

i64 add_to_physmap(Vcpu& v, u64 arg, bool long_mode)
{
    xen_add_to_physmap a{};
    if (long_mode) {
        if (const int r = get_guest(v, arg, &a)) return r;
    } else {
        compat::xen_add_to_physmap c;
        if (const int r = get_guest(v, arg, &c)) return r;
        a.domid = c.domid;
        a.size = c.size;
        a.space = c.space;
        a.idx = c.idx;
        a.gpfn = c.gpfn;
    }
    if (!own_domain(a.domid)) return -err::XEN_ESRCH;
    XenDomain& xd = v.domain().xen();
    switch (a.space) {
    case xenmapspace::shared_info:
        if (a.idx != 0 || !guest_ram_frame(v, a.gpfn)) return -err::XEN_EINVAL;
        xd.place_shared_info(a.gpfn);
        return 0;
    case xenmapspace::grant_table: {
        if ((a.idx & XENMAPIDX_grant_table_status) || a.idx >= kMaxGrantFrames)
            return -err::XEN_EINVAL;  // version 1 has no status frames
        const u32 frame = static_cast<u32>(a.idx);
        if (guest_ram_frame(v, a.gpfn)) {
            clear_frame(v.domain(), a.gpfn);
        } else if (frame < xd.grant_frames() && xd.grant_gfn(frame) == a.gpfn) {
            return 0;  // where it is already
        } else if (const i64 r = place_outside_ram(v, a.gpfn)) {
            return r;
        }
        if (frame + 1 > xd.grant_frames()) xd.set_grant_frames(frame + 1);
        xd.set_grant_gfn(frame, a.gpfn);
        return 0;
    }
    default: return -err::XEN_ENOSYS;
    }
}

i64 memory_map(Vcpu& v, u64 arg, bool long_mode)
{
    xen_memory_map m{};
    compat::xen_memory_map c{};
    if (long_mode) {
        if (const int r = get_guest(v, arg, &m)) return r;
    } else {
        if (const int r = get_guest(v, arg, &c)) return r;
        m.nr_entries = c.nr_entries;
        m.buffer = c.buffer;
    }
    const usize arg_size = long_mode ? sizeof m : sizeof c;
    boot::E820Entry entries[boot::kGuestE820Max];
    const usize count = boot::guest_e820(v.domain().layout(), entries);
    const u32 n = m.nr_entries < count ? m.nr_entries : static_cast<u32>(count);
    if (const int r = check_guest_writable(v, m.buffer, n * sizeof(e820entry))) return r;
    if (const int r = check_guest_writable(v, arg, arg_size)) return r;
    for (u32 i = 0; i < n; ++i) {
        const e820entry e{entries[i].addr, entries[i].size, entries[i].type};
        if (const int r = put_guest(v, m.buffer + i * sizeof(e820entry), e)) return r;
    }
    m.nr_entries = n;
    c.nr_entries = n;
    return long_mode ? put_guest(v, arg, m) : put_guest(v, arg, c);
}

// The domain id a reservation query names (a pointer to a domid_t).
i64 query_domain(Vcpu& v, u64 arg)
{
    domid_t id;
    if (const int r = get_guest(v, arg, &id)) return r;
    return own_domain(id) ? 0 : -err::XEN_ESRCH;
}

}  // namespace

i64 do_memory_op(Hypercall& call)
{
    Vcpu& v = call.vcpu;
    const boot::GuestLayout& layout = v.domain().layout();
    // Bits 63:6 of the command are a continuation's start extent (Xen's
    // MEMOP_EXTENT_SHIFT): only the reservation operations use one.
    switch (call.arg[0] & 0x3f) {
    case xenmem::add_to_physmap: return add_to_physmap(v, call.arg[1], call.long_mode);
    case xenmem::memory_map: return memory_map(v, call.arg[1], call.long_mode);
    case xenmem::increase_reservation:
    case xenmem::decrease_reservation:
    case xenmem::populate_physmap:
        return memory_reservation_op(call, static_cast<u32>(call.arg[0] & 0x3f));
    case xenmem::current_reservation:
        if (const i64 r = query_domain(v, call.arg[1])) return r;
        return static_cast<i64>(v.domain().reservation().total());
    case xenmem::maximum_reservation:
        if (const i64 r = query_domain(v, call.arg[1])) return r;
        return static_cast<i64>(v.domain().reservation().maximum);
    case xenmem::maximum_gpfn:
        if (const i64 r = query_domain(v, call.arg[1])) return r;
        return static_cast<i64>(layout.frame_span() - 1);
    default: return -err::XEN_ENOSYS;
    }
}

}  // namespace xeno::xen
