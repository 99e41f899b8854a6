#include "mm/frame_allocator.hpp"

#include "lib/bits.hpp"

namespace xeno::mm {

namespace {
constexpr u64 kBitsPerWord = 64;
}

bool FrameAllocator::usable_not_reserved(u64 frame) const
{
    const u64 addr = frame << kPageShift;
    if (addr < kLowReservedEnd) return false;
    bool usable = false;
    for (usize i = 0; i < region_count_; ++i) {
        const MemoryRegion& r = regions_[i];
        if (r.type != MemoryRegion::Type::USABLE) continue;
        // Only whole frames inside the region count.
        const u64 lo = align_up(r.base, kPageSize);
        const u64 hi = align_down(r.base + r.length, kPageSize);
        if (addr >= lo && addr + kPageSize <= hi) usable = true;
    }
    // A RESERVED region overlapping a USABLE one wins (firmware maps may overlap).
    for (usize i = 0; i < region_count_; ++i) {
        const MemoryRegion& r = regions_[i];
        if (r.type == MemoryRegion::Type::USABLE) continue;
        if (addr + kPageSize > r.base && addr < r.base + r.length) return false;
    }
    if (!usable) return false;
    for (usize i = 0; i < reserved_count_; ++i)
        if (addr + kPageSize > reserved_[i].start.value() && addr < reserved_[i].end.value()) return false;
    return true;
}

bool FrameAllocator::is_managed(u64 frame) const
{
    if (frame >= frame_limit_) return false;
    if (frame >= bitmap_.frame() && frame < bitmap_.frame() + bitmap_frames_) return false;
    return usable_not_reserved(frame);
}

u64* FrameAllocator::words() const { return static_cast<u64*>(map_(bitmap_)); }

// Word `index` of the dirty bitmap, which follows the free bitmap (mapped a
// frame at a time: the frames need not be contiguous in the hypervisor's view).
u64& FrameAllocator::dirty_word(u64 index) const
{
    const u64 byte = (bitmap_words_ + index) * 8;
    return static_cast<u64*>(map_(bitmap_ + (byte & ~(kPageSize - 1))))[(byte & (kPageSize - 1)) / 8];
}

bool FrameAllocator::is_dirty(u64 frame) const { return test_bit(dirty_word(frame / kBitsPerWord), frame % kBitsPerWord); }

bool FrameAllocator::is_free(u64 frame) const
{
    if (frame >= frame_limit_) return false;
    return test_bit(words()[frame / kBitsPerWord], frame % kBitsPerWord);
}

void FrameAllocator::set_free(u64 frame, bool free_bit)
{
    u64& w = words()[frame / kBitsPerWord];
    if (free_bit)
        w |= bit(frame % kBitsPerWord);
    else
        w &= ~bit(frame % kBitsPerWord);
}

Status FrameAllocator::init(const MemoryRegion* regions, usize region_count, const HpaRange* reserved,
                            usize reserved_count, MapFn map, bool memory_zeroed)
{
    if (region_count > BootInfo::kMaxRegions || reserved_count > kMaxReserved) return Status::TOO_LARGE;
    if (map == nullptr) return Status::BAD_ARGUMENT;
    *this = FrameAllocator{};
    map_ = map;
    for (usize i = 0; i < region_count; ++i) regions_[i] = regions[i];
    region_count_ = region_count;
    for (usize i = 0; i < reserved_count; ++i) reserved_[i] = reserved[i];
    reserved_count_ = reserved_count;

    u64 top = 0;
    for (usize i = 0; i < region_count; ++i)
        if (regions[i].type == MemoryRegion::Type::USABLE) {
            const u64 end = align_down(regions[i].base + regions[i].length, kPageSize);
            if (end > top) top = end;
        }
    frame_limit_ = top >> kPageShift;
    if (frame_limit_ == 0) return Status::NO_MEMORY;

    // The bitmap: whole u64 words, whole frames, placed in the first run of
    // usable frames large enough (first fit, lowest address).
    const u64 bitmap_bytes = align_up(frame_limit_, kBitsPerWord) / 8;
    bitmap_words_ = bitmap_bytes / 8;
    bitmap_frames_ = align_up(2 * bitmap_bytes, kPageSize) >> kPageShift;
    u64 run = 0;
    bool placed = false;
    for (u64 f = 0; f < frame_limit_; ++f) {
        run = usable_not_reserved(f) ? run + 1 : 0;
        if (run == bitmap_frames_) {
            bitmap_ = Hpa::from_frame(f + 1 - bitmap_frames_);
            placed = true;
            break;
        }
    }
    if (!placed) {
        bitmap_frames_ = 0;
        frame_limit_ = 0;
        return Status::NO_MEMORY;
    }

    u64* w = words();
    for (u64 i = 0; i < bitmap_words_; ++i) w[i] = 0;
    for (u64 i = 0; i < bitmap_words_; ++i) dirty_word(i) = memory_zeroed ? 0 : ~u64{0};
    // The free bits, range by range (asking usable_not_reserved frame by
    // frame would cost frames x regions): every whole frame of a USABLE
    // region, less any frame another region, a reservation, the low
    // megabyte or the bitmap touches -- is_managed's answer for each frame.
    for (usize i = 0; i < region_count_; ++i) {
        const MemoryRegion& r = regions_[i];
        if (r.type == MemoryRegion::Type::USABLE)
            mark_frames(align_up(r.base, kPageSize) >> kPageShift, align_down(r.base + r.length, kPageSize) >> kPageShift,
                        true);
    }
    for (usize i = 0; i < region_count_; ++i) {
        const MemoryRegion& r = regions_[i];
        if (r.type != MemoryRegion::Type::USABLE)
            mark_frames(r.base >> kPageShift, align_up(r.base + r.length, kPageSize) >> kPageShift, false);
    }
    for (usize i = 0; i < reserved_count_; ++i)
        mark_frames(reserved_[i].start.frame(), align_up(reserved_[i].end.value(), kPageSize) >> kPageShift, false);
    mark_frames(0, kLowReservedEnd >> kPageShift, false);
    mark_frames(bitmap_.frame(), bitmap_.frame() + bitmap_frames_, false);
    for (u64 i = 0; i < bitmap_words_; ++i) total_ += static_cast<u64>(__builtin_popcountll(w[i]));
    free_ = total_;
    return Status::OK;
}

void FrameAllocator::mark_frames(u64 from, u64 to, bool free_bit)
{
    if (to > frame_limit_) to = frame_limit_;
    for (u64 f = from; f < to; ++f) set_free(f, free_bit);
}

Result<Hpa> FrameAllocator::allocate() { return allocate_run_below(1, ~u64{0}); }

Result<Hpa> FrameAllocator::allocate_run(u64 count) { return allocate_run_below(count, ~u64{0}); }

Result<Hpa> FrameAllocator::allocate_run_below(u64 count, u64 limit)
{
    if (count == 0) return Status::BAD_ARGUMENT;
    if (count > free_) return Status::NO_MEMORY;
    const u64 frame_cap = (limit >> kPageShift) < frame_limit_ ? (limit >> kPageShift) : frame_limit_;
    // Single frames resume from a hint so that repeated allocations are not
    // quadratic; runs search from the bottom (first fit).
    const u64 start = count == 1 && search_hint_ < frame_cap ? search_hint_ : 0;
    for (int pass = 0; pass < 2; ++pass) {
        const u64 from = pass == 0 ? start : 0;
        const u64 to = pass == 0 ? frame_cap : start;
        u64 run = 0;
        for (u64 f = from; f < to; ++f) {
            if (run == 0 && (f % kBitsPerWord) == 0 && words()[f / kBitsPerWord] == 0) {
                f += kBitsPerWord - 1;  // a whole word in use: no run starts there
                continue;
            }
            run = is_free(f) ? run + 1 : 0;
            if (run == count) {
                const u64 first = f + 1 - count;
                for (u64 g = first; g <= f; ++g) set_free(g, false);
                free_ -= count;
                if (count == 1) search_hint_ = f + 1;
                return Hpa::from_frame(first);
            }
        }
        if (start == 0) break;
    }
    return Status::NO_MEMORY;
}

Result<Hpa> FrameAllocator::allocate_zeroed_high()
{
    if (free_ == 0) return Status::NO_MEMORY;
    // Downward from the hint, then from the top down to it.
    const u64 start = top_hint_ && top_hint_ <= frame_limit_ ? top_hint_ : frame_limit_;
    for (int pass = 0; pass < 2; ++pass) {
        const u64 stop = pass == 0 ? 0 : start;
        for (u64 f = pass == 0 ? start : frame_limit_; f > stop;) {
            --f;
            if ((f % kBitsPerWord) == kBitsPerWord - 1 && words()[f / kBitsPerWord] == 0 && f + 1 >= kBitsPerWord) {
                f -= kBitsPerWord - 1;  // a whole word in use
                continue;
            }
            if (!is_free(f)) continue;
            set_free(f, false);
            --free_;
            top_hint_ = f;
            if (is_dirty(f)) {
                zero(Hpa::from_frame(f), 1);
                ++frames_zeroed_;
            }
            return Hpa::from_frame(f);
        }
    }
    return Status::NO_MEMORY;
}

Status FrameAllocator::free(Hpa frame)
{
    if (!frame.page_aligned() || !is_managed(frame.frame())) return Status::BAD_ARGUMENT;
    if (is_free(frame.frame())) return Status::BAD_STATE;
    set_free(frame.frame(), true);
    dirty_word(frame.frame() / kBitsPerWord) |= bit(frame.frame() % kBitsPerWord);  // it may hold data now
    ++free_;
    return Status::OK;
}

Status FrameAllocator::free_run(Hpa first, u64 count)
{
    // Check the whole run first so a bad call changes nothing.
    for (u64 i = 0; i < count; ++i) {
        const Hpa f = first + i * kPageSize;
        if (!f.page_aligned() || !is_managed(f.frame())) return Status::BAD_ARGUMENT;
        if (is_free(f.frame())) return Status::BAD_STATE;
    }
    for (u64 i = 0; i < count; ++i) XENO_TRY(free(first + i * kPageSize));
    return Status::OK;
}

void FrameAllocator::zero(Hpa first, u64 count) const
{
    for (u64 i = 0; i < count; ++i) {
        u64* p = static_cast<u64*>(map_(first + i * kPageSize));
        for (u64 j = 0; j < kPageSize / 8; ++j) p[j] = 0;
    }
}

Result<Hpa> FrameAllocator::allocate_zeroed_run(u64 count)
{
    Result<Hpa> r = allocate_run(count);
    if (!r.ok()) return r;
    for (u64 i = 0; i < count; ++i) {
        const Hpa f = r.value() + i * kPageSize;
        if (!is_dirty(f.frame())) continue;  // never freed since a zeroed boot: still zero
        zero(f, 1);
        ++frames_zeroed_;
    }
    return r;
}

}  // namespace xeno::mm
