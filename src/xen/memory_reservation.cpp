// memory_op's reservation operations (docs/xen-abi.md "memory_op"): the
// balloon. decrease_reservation takes RAM frames out of the guest's
// physical address space and gives them back to the machine,
// populate_physmap puts fresh zeroed frames back at RAM places that have
// none, increase_reservation hands the domain frames without a guest
// address (what Xen gives a translated guest), all within the domain's
// maximum reservation (the RAM it was built with).
//
// Each returns the number of extents done (Xen's contract: a caller learns
// how far it got), an extent being all or nothing here. Long requests are
// preempted every kFramesPerStep frames and continue through the command's
// bits 63:6 (MEMOP_EXTENT_SHIFT), as Xen's do.
#include "arch/x86/vmx/physmap.hpp"
#include "core/domain.hpp"
#include "public/compat.hpp"
#include "public/memory.hpp"
#include "xen/guest_access.hpp"
#include "xen/hypercall.hpp"
#include "xen/xen_domain.hpp"

namespace xeno::xen {

namespace {

constexpr unsigned kExtentShift = 6;   // MEMOP_EXTENT_SHIFT
constexpr u32 kMaxOrder = 9;           // Xen's default memop-max-order for a guest: 2 MiB extents
constexpr u64 kFramesPerStep = 512;    // then a continuation lets events in

// The request in the 64-bit layout, whichever mode the caller is in.
int read_reservation(Hypercall& call, xen_memory_reservation* r)
{
    if (call.long_mode) return get_guest(call.vcpu, call.arg[1], r);
    compat::xen_memory_reservation c;
    if (const int e = get_guest(call.vcpu, call.arg[1], &c)) return e;
    *r = xen_memory_reservation{};
    r->extent_start = c.extent_start;
    r->nr_extents = c.nr_extents;
    r->extent_order = c.extent_order;
    r->mem_flags = c.mem_flags;
    r->domid = c.domid;
    return 0;
}

// Extent i's base frame from the caller's list (xen_pfn_t: 32 bits from
// 32-bit mode).
int read_extent(Hypercall& call, u64 list, u64 i, u64* gfn)
{
    if (call.long_mode) return get_guest(call.vcpu, list + i * sizeof(u64), gfn);
    u32 g32 = 0;
    if (const int e = get_guest(call.vcpu, list + i * sizeof(u32), &g32)) return e;
    *gfn = g32;
    return 0;
}

// One decrease_reservation extent: refused (false) when a frame of it is
// one the hypervisor uses or not backed RAM.
bool decrease_one(Vcpu& v, u64 gfn, u64 frames)
{
    if (gfn + frames < gfn) return false;
    const XenDomain& xd = v.domain().xen();
    for (u64 g = gfn; g < gfn + frames; ++g)
        if (xd.uses_frame(g)) return false;
    return vmx::physmap_remove(v, gfn, frames) == Status::OK;
}

bool populate_one(Vcpu& v, u64 gfn, u64 frames)
{
    const mm::Reservation& r = v.domain().reservation();
    if (frames > r.maximum - r.total()) return false;
    return vmx::physmap_populate(v, gfn, frames) == Status::OK;
}

// One increase_reservation extent: 2^order contiguous zeroed frames, below
// 2^address_bits when the flags ask, held by the domain.
bool increase_one(Vcpu& v, u32 order, u32 address_bits)
{
    Domain& d = v.domain();
    mm::Reservation& r = d.reservation();
    const u64 frames = u64{1} << order;
    if (!d.frames() || frames > r.maximum - r.total() || r.unplaced_count == mm::Reservation::kMaxUnplaced) return false;
    const u64 limit = address_bits && address_bits < 64 ? u64{1} << address_bits : ~u64{0};
    Result<Hpa> f = d.frames()->allocate_run_below(frames, limit);
    if (!f.ok()) return false;
    d.frames()->zero(f.value(), frames);
    r.unplaced_first[r.unplaced_count] = f.value().frame();
    r.unplaced_order[r.unplaced_count] = order;
    ++r.unplaced_count;
    r.unplaced_frames += frames;
    return true;
}

// The operation up to its end or its step's end.
i64 reservation_step(Hypercall& call, u32 op)
{
    Vcpu& v = call.vcpu;
    const u64 start = call.arg[0] >> kExtentShift;
    xen_memory_reservation r;
    if (const int e = read_reservation(call, &r)) return e;
    if (!own_domain(r.domid)) return -err::XEN_ESRCH;
    // As Xen: a count too large to continue, a start past the end or too
    // large an extent do nothing (0 extents, or the start extent).
    if (r.nr_extents > (u64{0xffffffff} >> kExtentShift) || start >= r.nr_extents || r.extent_order > kMaxOrder)
        return static_cast<i64>(start);
    // No populate-on-demand pool: nothing is done.
    if (r.mem_flags & xenmemf::populate_on_demand) return static_cast<i64>(start);
    const u64 frames = u64{1} << r.extent_order;
    u64 step_frames = 0;
    for (u64 i = start; i < r.nr_extents; ++i) {
        if (step_frames >= kFramesPerStep) {
            call.arg[0] = op | (i << kExtentShift);
            call.preempted = true;
            return 0;
        }
        step_frames += frames;
        bool done = false;
        if (op == xenmem::increase_reservation) {
            // A translated guest gets no frame numbers back: the list is not written.
            done = increase_one(v, r.extent_order, xenmemf::get_address_bits(r.mem_flags));
        } else {
            u64 gfn = 0;
            if (const int e = read_extent(call, r.extent_start, i, &gfn)) return i == 0 ? e : static_cast<i64>(i);
            done = op == xenmem::decrease_reservation ? decrease_one(v, gfn, frames) : populate_one(v, gfn, frames);
        }
        if (!done) return static_cast<i64>(i);
    }
    return static_cast<i64>(r.nr_extents);
}

}  // namespace

i64 memory_reservation_op(Hypercall& call, u32 op)
{
    const i64 result = reservation_step(call, op);
    vmx::physmap_flush(call.vcpu);  // once for the step's extents
    return result;
}

}  // namespace xeno::xen
