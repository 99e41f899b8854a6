#include "arch/x86/paging/phys_mode_pt.hpp"

namespace xeno::paging {

namespace {
constexpr u64 k4G = u64{1} << 32;
}

Status PhysModeTables::create_root()
{
    Result<Hpa> r = frames_.allocate_run_below(1, k4G);
    if (!r.ok()) return r.status();
    frames_.zero(r.value(), 1);
    root_ = r.value();
    return Status::OK;
}

Status PhysModeTables::map_page(u64 gfn, u64 mfn)
{
    // 32-bit paging covers 4 GiB of linear space; machine frames must fit 20 bits.
    if (gfn >= (k4G >> kPageShift) || mfn >= (k4G >> kPageShift)) return Status::UNSUPPORTED;
    u32& pde = table(root_)[gfn >> 10];
    if (!(pde & pt32::P)) {
        Result<Hpa> n = frames_.allocate_run_below(1, k4G);
        if (!n.ok()) return n.status();
        frames_.zero(n.value(), 1);
        pde = static_cast<u32>(n.value().value()) | pt32::P | pt32::RW | pt32::US;
    }
    u32* pt = table(Hpa{pde & pt32::ADDRESS_MASK});
    pt[gfn & 0x3ff] = static_cast<u32>(mfn << kPageShift) | pt32::P | pt32::RW | pt32::US;
    return Status::OK;
}

void PhysModeTables::unmap_page(u64 gfn)
{
    if (gfn >= (k4G >> kPageShift)) return;
    const u32 pde = table(root_)[gfn >> 10];
    if (pde & pt32::P) table(Hpa{pde & pt32::ADDRESS_MASK})[gfn & 0x3ff] = 0;
}

Status PhysModeTables::map_p2m(const mm::P2m& p2m)
{
    // A guest with paging off reaches only the low 4 GiB, so RAM above it
    // (guest_layout.hpp) has no place here.
    const u64 limit = p2m.guest_frames() < (k4G >> kPageShift) ? p2m.guest_frames() : (k4G >> kPageShift);
    for (u64 gfn = 0; gfn < limit; ++gfn) {
        const u64 mfn = p2m.mfn(gfn);
        if (mfn != mm::P2m::kInvalidMfn) XENO_TRY(map_page(gfn, mfn));
    }
    return Status::OK;
}

Result<u32> PhysModeTables::lookup(u64 gfn) const
{
    const u32 pde = table(root_)[gfn >> 10];
    if (!(pde & pt32::P)) return Status::NOT_FOUND;
    const u32 pte = table(Hpa{pde & pt32::ADDRESS_MASK})[gfn & 0x3ff];
    if (!(pte & pt32::P)) return Status::NOT_FOUND;
    return pte;
}

}  // namespace xeno::paging
