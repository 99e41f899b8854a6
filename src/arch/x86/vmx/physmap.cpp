#include "arch/x86/vmx/physmap.hpp"

#include "arch/x86/paging/ept.hpp"
#include "arch/x86/paging/phys_mode_pt.hpp"
#include "arch/x86/vmx/shadow_paging.hpp"
#include "arch/x86/vmx/vmcs_setup.hpp"
#include "core/domain.hpp"
#include "core/log.hpp"
#include "core/scheduler.hpp"
#include "hal/memory.hpp"

namespace xeno::vmx {

namespace {

constexpr u64 k4GiBFrames = (u64{1} << 32) >> kPageShift;

Hpa ept_root(const Domain& d) { return Hpa{d.eptp & ~u64{kPageSize - 1}}; }

// Map guest frame `gfn` (its p2m entry set) where the processor walks:
// the domain's EPT, or every vcpu's physical-mode tables under shadow
// paging (the shadow cache reads the p2m at each fill).
Status map_everywhere(Domain& d, u64 gfn, u64 mfn)
{
    if (d.eptp) {
        paging::EptBuilder ept(*d.frames(), &hal::machine_to_virt);
        ept.use_root(ept_root(d));
        return ept.map_page(Gpa::from_frame(gfn), Hpa::from_frame(mfn));
    }
    for (u32 i = 0; i < d.vcpu_count(); ++i) {
        const Vcpu& w = d.vcpu(i);
        if (!w.phys_mode_root.value() || gfn >= k4GiBFrames) continue;
        paging::PhysModeTables pt(*d.frames(), &hal::machine_to_virt);
        pt.use_root(w.phys_mode_root);
        XENO_TRY(pt.map_page(gfn, mfn));
    }
    return Status::OK;
}

// Take guest frame `gfn` out of the p2m and of every table built from it;
// returns its machine frame.
u64 unmap_everywhere(Domain& d, u64 gfn)
{
    const u64 mfn = d.p2m().mfn(gfn);
    (void)d.p2m().set(gfn, mm::P2m::kInvalidMfn);
    if (d.eptp) {
        paging::EptBuilder ept(*d.frames(), &hal::machine_to_virt);
        ept.use_root(ept_root(d));
        (void)ept.unmap_page(Gpa::from_frame(gfn));
    }
    for (u32 i = 0; i < d.vcpu_count(); ++i) {
        const Vcpu& w = d.vcpu(i);
        if (!w.phys_mode_root.value()) continue;
        paging::PhysModeTables pt(*d.frames(), &hal::machine_to_virt);
        pt.use_root(w.phys_mode_root);
        pt.unmap_page(gfn);
    }
    return mfn;
}

// Whether a vcpu other than `v` may be running the guest on another CPU
// with translations older than the current generation.
bool stale_elsewhere(Domain& d, const Vcpu* except)
{
    const u64 gen = d.reservation().generation;
    for (u32 i = 0; i < d.vcpu_count(); ++i) {
        const Vcpu& w = d.vcpu(i);
        if (&w != except && w.in_guest && w.physmap_seen != gen) return true;
    }
    return false;
}

// Whether a vcpu other than `except` is in guest mode now.
bool in_guest_elsewhere(Domain& d, const Vcpu* except)
{
    for (u32 i = 0; i < d.vcpu_count(); ++i)
        if (&d.vcpu(i) != except && d.vcpu(i).in_guest) return true;
    return false;
}

// This CPU drops its EPT translations of the domain (INVEPT under EPT) and
// `v` is up to date with the current generation.
void catch_up(Vcpu& v, const char* when)
{
    if (v.eptp && flush_ept(v) != Status::OK)
        LogLine{}.str("physmap: INVEPT ").str(when).str(" failed on vcpu ").dec(v.id());
    v.physmap_seen = v.domain().reservation().generation;
}

void free_frame(Domain& d, u64 mfn)
{
    if (d.frames()->free(Hpa::from_frame(mfn)) != Status::OK)
        LogLine{}.str("physmap: freeing machine frame ").hex(mfn).str(" failed");
}

}  // namespace

Status map_frame_outside_ram(Vcpu& v, u64 gfn, Hpa frame)
{
    Domain& d = v.domain();
    XENO_TRY(d.p2m().map_outside(gfn, frame.frame()));
    if (!d.eptp || !d.frames()) return Status::OK;
    paging::EptBuilder ept(*d.frames(), &hal::machine_to_virt);
    ept.use_root(ept_root(d));
    XENO_TRY(ept.map_page(Gpa::from_frame(gfn), frame));
    return v.eptp ? flush_ept(v) : Status::OK;
}

bool physmap_ram_slot(Vcpu& v, u64 gfn)
{
    const Domain& d = v.domain();
    return gfn < d.p2m().guest_frames() && d.layout().is_ram(gfn << kPageShift);
}

Status physmap_populate(Vcpu& v, u64 gfn, u64 count)
{
    Domain& d = v.domain();
    if (!d.frames() || count == 0 || gfn + count < gfn) return Status::BAD_ARGUMENT;
    for (u64 g = gfn; g < gfn + count; ++g)
        if (!physmap_ram_slot(v, g) || d.p2m().mfn(g) != mm::P2m::kInvalidMfn) return Status::BAD_ARGUMENT;
    mm::FrameAllocator& frames = *d.frames();
    // Frames first, into the p2m only (no processor walks it): a shortage
    // leaves nothing behind.
    for (u64 g = gfn; g < gfn + count; ++g) {
        Result<Hpa> f = g < k4GiBFrames ? frames.allocate_run_below(1, u64{1} << 32) : frames.allocate_zeroed_high();
        if (!f.ok()) {
            for (u64 u = gfn; u < g; ++u) free_frame(d, unmap_everywhere(d, u));
            return Status::NO_MEMORY;
        }
        if (g < k4GiBFrames) frames.zero(f.value(), 1);
        hal::machine_memory_written(f.value(), kPageSize);
        (void)d.p2m().set(g, f.value().frame());
    }
    for (u64 g = gfn; g < gfn + count; ++g) {
        if (map_everywhere(d, g, d.p2m().mfn(g)) == Status::OK) continue;
        // Out of frames for a table: take the extent back out (it may have
        // been reached already on another CPU: the removal's rules apply).
        const Status s = physmap_remove(v, gfn, count);
        if (s != Status::OK) LogLine{}.str("physmap: undoing a populate failed: ").str(status_name(s));
        return Status::NO_MEMORY;
    }
    d.reservation().populated += count;
    d.reservation().flush_pending = true;  // the shadows' machine-to-guest index
    return Status::OK;
}

Status physmap_remove(Vcpu& v, u64 gfn, u64 count)
{
    Domain& d = v.domain();
    mm::Reservation& r = d.reservation();
    if (!d.frames() || count == 0 || gfn + count < gfn) return Status::BAD_ARGUMENT;
    for (u64 g = gfn; g < gfn + count; ++g)
        if (!physmap_ram_slot(v, g) || d.p2m().mfn(g) == mm::P2m::kInvalidMfn) return Status::BAD_ARGUMENT;
    // Once the generation moves, every other vcpu in guest mode is stale.
    const bool others_in_guest = in_guest_elsewhere(d, &v);
    if (others_in_guest && count > mm::Reservation::kMaxQuarantined - r.quarantined_count) return Status::BAD_STATE;
    for (u64 g = gfn; g < gfn + count; ++g) {
        const u64 mfn = unmap_everywhere(d, g);
        if (others_in_guest) r.quarantined[r.quarantined_count++] = mfn;
        else free_frame(d, mfn);
    }
    r.populated -= count;
    ++r.generation;
    r.flush_pending = true;
    if (others_in_guest) {
        LogLine{}.str("physmap: ").dec(count).str(" frame(s) from guest frame ").hex(gfn)
            .str(" wait until the other processors leave the guest (").dec(r.quarantined_count).str(" waiting)");
        for (u32 i = 0; i < d.vcpu_count(); ++i) {
            Vcpu& w = d.vcpu(i);
            if (&w != &v && w.in_guest && w.scheduler) w.scheduler->kick();
        }
    }
    return Status::OK;
}

void physmap_flush(Vcpu& v)
{
    Domain& d = v.domain();
    mm::Reservation& r = d.reservation();
    if (!r.flush_pending) return;
    r.flush_pending = false;
    catch_up(v, "after a physmap change");
    // Shadow paging: the shadows may map frames that are gone, the index
    // from machine to guest frames is stale; the caller's address space is
    // rebuilt now (every VM entry flushes the TLB there: no VPID).
    if (d.shadow().ready()) {
        d.shadow().p2m_changed();
        if (v.paging == GuestPaging::SHADOW) shadow_sync(v);
    }
}

void physmap_sync(Vcpu& v)
{
    Domain& d = v.domain();
    mm::Reservation& r = d.reservation();
    physmap_flush(v);
    if (v.physmap_seen != r.generation) catch_up(v, "before entry");
    if (r.quarantined_count == 0 || stale_elsewhere(d, &v)) return;
    for (u32 i = 0; i < r.quarantined_count; ++i) free_frame(d, r.quarantined[i]);
    LogLine{}.str("physmap: ").dec(r.quarantined_count).str(" frame(s) freed at vcpu ").dec(v.id())
        .str("'s entry: no processor reaches them any more");
    r.quarantined_count = 0;
}

}  // namespace xeno::vmx
