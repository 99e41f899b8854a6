// The guest-physical-to-machine map of one domain: an array of machine frame
// numbers, one per guest frame, stored in machine memory (contiguous frames
// from the frame allocator), as Xen's p2m is the authority on what a guest
// frame is backed by. EPT tables and the shadow/physical-mode tables are
// built from it; every hypervisor access to guest memory goes through it.
#pragma once

#include "lib/status.hpp"
#include "lib/types.hpp"
#include "mm/frame_allocator.hpp"

namespace xeno::mm {

class P2m {
public:
    static constexpr u64 kInvalidMfn = ~u64{0};

    constexpr P2m() = default;

    // Table for `guest_frames` guest frames, all invalid at first.
    Status init(FrameAllocator& frames, u64 guest_frames, MapFn map);
    // Back every guest frame with a fresh, zeroed machine frame.
    Status populate(FrameAllocator& frames) { return populate_range(frames, 0, guest_frames_); }
    // The same for guest frames [first, first + count) (RAM around a hole);
    // `from_top`: machine frames from the top of memory down (RAM above 4
    // GiB, which nothing needs below 4 GiB).
    Status populate_range(FrameAllocator& frames, u64 first, u64 count, bool from_top = false);
    // Map one guest frame to a machine frame (BAD_ARGUMENT past the end).
    Status set(u64 gfn, u64 mfn);

    u64 guest_frames() const { return guest_frames_; }
    u64 mfn(u64 gfn) const;  // kInvalidMfn when unmapped or out of range

    // A few frames placed in the guest's physical address space beyond the
    // table's range (outside its RAM, where no device is): Xen's shared
    // pages that a guest maps into unpopulated space (grant-table frames:
    // Linux with XEN_UNPOPULATED_ALLOC). mfn() and translate() see them.
    // NO_MEMORY when all kMaxOutsideFrames are used, BAD_ARGUMENT for a
    // frame inside the table's range or one already placed elsewhere.
    static constexpr u32 kMaxOutsideFrames = 64;
    Status map_outside(u64 gfn, u64 mfn);
    u32 outside_count() const { return outside_count_; }
    Result<Hpa> translate(Gpa gpa) const;
    Hpa table() const { return table_; }
    u64 table_frames() const { return table_frames_; }

    // Copy between guest-physical memory and a hypervisor buffer, page by
    // page through the map. NOT_FOUND when any byte is unmapped (nothing is
    // copied then). copy_to_guest reports what it wrote to
    // hal::machine_memory_written only when `notify` is given.
    using WrittenFn = void (*)(Hpa, usize);
    Status copy_to_guest(Gpa dst, const void* src, u64 length, WrittenFn notify) const;
    Status copy_from_guest(void* dst, Gpa src, u64 length) const;

private:
    u64* entries() const { return static_cast<u64*>(map_(table_)); }

    MapFn map_ = nullptr;
    Hpa table_{};
    u64 table_frames_ = 0;
    u64 guest_frames_ = 0;
    u64 outside_gfn_[kMaxOutsideFrames] = {};
    u64 outside_mfn_[kMaxOutsideFrames] = {};
    u32 outside_count_ = 0;
};

}  // namespace xeno::mm
