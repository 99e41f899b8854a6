// The machine frame allocator: every machine frame the hypervisor uses (its
// own structures, VMX regions, page tables, guest RAM) comes from here.
//
// Built from the boot memory map: the usable regions, minus the reserved
// ranges the caller names (the hypervisor image, the boot modules), minus the
// first MiB (real-mode structures, BIOS data; never handed out). The free
// bitmap (one bit per frame up to the highest usable frame, 1 = free) lives
// in machine memory the allocator takes from itself, so it needs no heap.
//
// Machine memory is reached through a MapFn (hal::machine_to_virt in the
// hypervisor; a fake over a host buffer in unit tests).
#pragma once

#include "core/boot_info.hpp"
#include "lib/status.hpp"
#include "lib/types.hpp"

namespace xeno::mm {

using MapFn = void* (*)(Hpa);

struct HpaRange {
    Hpa start;
    Hpa end;  // exclusive
};

class FrameAllocator {
public:
    static constexpr usize kMaxReserved = BootInfo::kMaxModules + 4;
    static constexpr u64 kLowReservedEnd = 1 << 20;  // frames below 1 MiB are never handed out

    constexpr FrameAllocator() = default;

    // Build the allocator. Fails (NO_MEMORY) when no usable memory can hold
    // the bitmap, TOO_LARGE with more reserved ranges than kMaxReserved.
    // memory_zeroed: every usable frame reads zero at boot.
    Status init(const MemoryRegion* regions, usize region_count, const HpaRange* reserved, usize reserved_count,
                MapFn map, bool memory_zeroed = false);

    // One frame / `count` physically contiguous frames. NO_MEMORY when none.
    Result<Hpa> allocate();
    Result<Hpa> allocate_run(u64 count);
    // As above, below a machine address limit (e.g. 4 GiB for a 32-bit CR3).
    Result<Hpa> allocate_run_below(u64 count, u64 limit);

    // BAD_ARGUMENT for a frame the allocator does not manage or a misaligned
    // address; BAD_STATE for a frame that is already free (double free).
    Status free(Hpa frame);
    Status free_run(Hpa first, u64 count);

    // Zero `count` frames starting at `first` through the map.
    void zero(Hpa first, u64 count) const;
    // allocate_run + zero.
    Result<Hpa> allocate_zeroed_run(u64 count);
    Result<Hpa> allocate_zeroed() { return allocate_zeroed_run(1); }
    // One zeroed frame from the top of machine memory down: for memory
    // without address constraints (guest RAM above 4 GiB), so that frames
    // below 4 GiB stay for what needs them (32-bit page tables, VMX regions
    // on CPUs limited to 32-bit addresses).
    Result<Hpa> allocate_zeroed_high();

    u64 total_frames() const { return total_; }  // frames managed (free or in use; bitmap excluded)
    u64 free_frames() const { return free_; }
    u64 used_frames() const { return total_ - free_; }
    Hpa bitmap_start() const { return bitmap_; }
    u64 bitmap_frames() const { return bitmap_frames_; }  // both bitmaps
    u64 frames_zeroed() const { return frames_zeroed_; }  // by allocate_zeroed* (the others were known zero)

    bool is_free(u64 frame) const;
    bool is_managed(u64 frame) const;  // usable, not reserved, not the bitmap, not below 1 MiB

private:
    bool usable_not_reserved(u64 frame) const;
    u64* words() const;
    u64& dirty_word(u64 index) const;
    bool is_dirty(u64 frame) const;
    void set_free(u64 frame, bool free_bit);
    void mark_frames(u64 from, u64 to, bool free_bit);  // [from, to), clipped to the limit

    MemoryRegion regions_[BootInfo::kMaxRegions] = {};
    usize region_count_ = 0;
    HpaRange reserved_[kMaxReserved] = {};
    usize reserved_count_ = 0;
    MapFn map_ = nullptr;
    Hpa bitmap_{};
    u64 bitmap_frames_ = 0;
    u64 frame_limit_ = 0;  // frames [0, frame_limit_) are described by the bitmap
    u64 total_ = 0;
    u64 free_ = 0;
    u64 search_hint_ = 0;
    u64 top_hint_ = 0;         // allocate_zeroed_high: where the downward search resumes
    u64 bitmap_words_ = 0;     // words of one bitmap
    u64 frames_zeroed_ = 0;
};

}  // namespace xeno::mm
