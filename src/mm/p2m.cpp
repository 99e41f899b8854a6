#include "mm/p2m.hpp"

#include "lib/bits.hpp"

namespace xeno::mm {

Status P2m::init(FrameAllocator& frames, u64 guest_frames, MapFn map)
{
    if (guest_frames == 0 || map == nullptr) return Status::BAD_ARGUMENT;
    map_ = map;
    table_frames_ = align_up(guest_frames * sizeof(u64), kPageSize) >> kPageShift;
    Result<Hpa> t = frames.allocate_run(table_frames_);
    if (!t.ok()) return t.status();
    table_ = t.value();
    guest_frames_ = guest_frames;
    u64* e = entries();
    for (u64 i = 0; i < guest_frames_; ++i) e[i] = kInvalidMfn;
    return Status::OK;
}

Status P2m::populate_range(FrameAllocator& frames, u64 first, u64 count, bool from_top)
{
    if (first > guest_frames_ || count > guest_frames_ - first) return Status::BAD_ARGUMENT;
    for (u64 gfn = first; gfn < first + count; ++gfn) {
        Result<Hpa> f = from_top ? frames.allocate_zeroed_high() : frames.allocate_zeroed();
        if (!f.ok()) return f.status();
        entries()[gfn] = f.value().frame();
    }
    return Status::OK;
}

Status P2m::set(u64 gfn, u64 mfn_value)
{
    if (gfn >= guest_frames_) return Status::BAD_ARGUMENT;
    entries()[gfn] = mfn_value;
    return Status::OK;
}

u64 P2m::mfn(u64 gfn) const
{
    if (gfn < guest_frames_) return entries()[gfn];
    for (u32 i = 0; i < outside_count_; ++i)
        if (outside_gfn_[i] == gfn) return outside_mfn_[i];
    return kInvalidMfn;
}

Status P2m::map_outside(u64 gfn, u64 mfn_value)
{
    if (gfn < guest_frames_ || mfn_value == kInvalidMfn) return Status::BAD_ARGUMENT;
    for (u32 i = 0; i < outside_count_; ++i) {
        if (outside_gfn_[i] == gfn) return outside_mfn_[i] == mfn_value ? Status::OK : Status::BAD_ARGUMENT;
        if (outside_mfn_[i] == mfn_value) return Status::BAD_ARGUMENT;
    }
    if (outside_count_ == kMaxOutsideFrames) return Status::NO_MEMORY;
    outside_gfn_[outside_count_] = gfn;
    outside_mfn_[outside_count_] = mfn_value;
    ++outside_count_;
    return Status::OK;
}

Result<Hpa> P2m::translate(Gpa gpa) const
{
    const u64 m = mfn(gpa.frame());
    if (m == kInvalidMfn) return Status::NOT_FOUND;
    return Hpa::from_frame(m) + gpa.page_offset();
}

Status P2m::copy_to_guest(Gpa dst, const void* src, u64 length, WrittenFn notify) const
{
    if (length && dst.value() + (length - 1) < dst.value()) return Status::NOT_FOUND;  // wraps past 2^64
    for (u64 page = dst.frame(); length && page <= (dst + (length - 1)).frame(); ++page)
        if (mfn(page) == kInvalidMfn) return Status::NOT_FOUND;
    const u8* s = static_cast<const u8*>(src);
    while (length) {
        const Hpa h = translate(dst).value();
        const u64 chunk = length < kPageSize - dst.page_offset() ? length : kPageSize - dst.page_offset();
        u8* d = static_cast<u8*>(map_(h));
        __builtin_memcpy(d, s, chunk);
        if (notify) notify(h, chunk);
        s += chunk;
        dst = dst + chunk;
        length -= chunk;
    }
    return Status::OK;
}

Status P2m::copy_from_guest(void* dst, Gpa src, u64 length) const
{
    if (length && src.value() + (length - 1) < src.value()) return Status::NOT_FOUND;  // wraps past 2^64
    for (u64 page = src.frame(); length && page <= (src + (length - 1)).frame(); ++page)
        if (mfn(page) == kInvalidMfn) return Status::NOT_FOUND;
    u8* d = static_cast<u8*>(dst);
    while (length) {
        const Hpa h = translate(src).value();
        const u64 chunk = length < kPageSize - src.page_offset() ? length : kPageSize - src.page_offset();
        const u8* s = static_cast<const u8*>(map_(h));
        __builtin_memcpy(d, s, chunk);
        d += chunk;
        src = src + chunk;
        length -= chunk;
    }
    return Status::OK;
}

}  // namespace xeno::mm
