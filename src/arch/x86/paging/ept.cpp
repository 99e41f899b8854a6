#include "arch/x86/paging/ept.hpp"

namespace xeno::paging {

Status EptBuilder::create_root()
{
    Result<Hpa> r = frames_.allocate_zeroed();
    if (!r.ok()) return r.status();
    root_ = r.value();
    tables_ = 1;
    return Status::OK;
}

Status EptBuilder::map_page(Gpa gpa, Hpa hpa)
{
    Hpa t = root_;
    for (unsigned level = 4; level > 1; --level) {
        u64& e = table(t)[ept_index(gpa.value(), level)];
        if (!(e & ept::RWX)) {
            Result<Hpa> n = frames_.allocate_zeroed();
            if (!n.ok()) return n.status();
            ++tables_;
            // Non-leaf entries: permissions only; the leaf decides (29.3.2).
            e = n.value().value() | ept::RWX;
        }
        t = Hpa{e & ept::ADDRESS_MASK};
    }
    table(t)[ept_index(gpa.value(), 1)] = hpa.page_base().value() | ept::RWX | (ept::MEMTYPE_WB << ept::MEMTYPE_SHIFT);
    return Status::OK;
}

Status EptBuilder::unmap_page(Gpa gpa)
{
    Hpa t = root_;
    for (unsigned level = 4; level > 1; --level) {
        const u64 e = table(t)[ept_index(gpa.value(), level)];
        if (!(e & ept::RWX)) return Status::NOT_FOUND;
        t = Hpa{e & ept::ADDRESS_MASK};
    }
    u64& e = table(t)[ept_index(gpa.value(), 1)];
    if (!(e & ept::RWX)) return Status::NOT_FOUND;
    e = 0;
    return Status::OK;
}

Status EptBuilder::map_p2m(const mm::P2m& p2m)
{
    for (u64 gfn = 0; gfn < p2m.guest_frames(); ++gfn) {
        const u64 mfn = p2m.mfn(gfn);
        if (mfn == mm::P2m::kInvalidMfn) continue;
        XENO_TRY(map_page(Gpa::from_frame(gfn), Hpa::from_frame(mfn)));
    }
    return Status::OK;
}

Result<u64> EptBuilder::lookup(Gpa gpa) const
{
    Hpa t = root_;
    for (unsigned level = 4; level > 1; --level) {
        const u64 e = table(t)[ept_index(gpa.value(), level)];
        if (!(e & ept::RWX)) return Status::NOT_FOUND;
        t = Hpa{e & ept::ADDRESS_MASK};
    }
    const u64 e = table(t)[ept_index(gpa.value(), 1)];
    if (!(e & ept::RWX)) return Status::NOT_FOUND;
    return e;
}

}  // namespace xeno::paging
