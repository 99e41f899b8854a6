// The hypervisor heap: small objects and buffers for hypervisor structures,
// all carved from machine frames of the FrameAllocator (DESIGN: the hypervisor
// allocates everything from the machine memory the boot map describes).
//
// Small sizes (<= kMaxSmall) come from size classes. Each class owns whole
// pages; a page holds blocks of one class behind a 64-byte page header
// (magic, class, free list, live count, links), so free() finds the class of
// any small pointer from its page base. Small blocks are never at page offset
// 0; large allocations always are: a run of 1 + n frames whose first frame is
// a header (magic, run length, its machine address) and whose payload starts
// at the second frame, page aligned. That costs a frame per large allocation
// but keeps every large payload 4 KiB aligned and the small/large test a mask.
//
// Pages of a small class that become empty are returned to the frame
// allocator, except one per class that stays cached: an alloc/free pair at a
// page boundary (a common pattern: one temporary object) would otherwise take
// and return a frame, and zero nothing useful, on every call. trim() drops
// the cached pages.
//
// Misuse (double free, a pointer the heap never gave out) is a hypervisor
// bug, reported through XENO_ASSERT. Detection is exact for small blocks
// (free blocks carry a tag; a tagged block is confirmed by walking its page's
// free list) and for large runs while their header frame is still ours.
//
// Deterministic: addresses depend only on the call sequence and on the frame
// allocator, which is itself deterministic.
#pragma once

#include <new>
#include <utility>

#include "lib/status.hpp"
#include "lib/types.hpp"
#include "mm/frame_allocator.hpp"

namespace xeno::mm {

class Heap {
public:
    static constexpr usize kPageSize = 4096;
    static constexpr usize kPageHeader = 64;
    static constexpr usize kClassCount = 8;
    // Powers of two up to 1024 (block i at offset k * size: aligned to its
    // size), then 2016 = two blocks per page after the header (16-aligned).
    static constexpr usize kClassSizes[kClassCount] = {16, 32, 64, 128, 256, 512, 1024, 2016};
    static constexpr usize kMaxSmall = 2016;
    static constexpr usize kMaxAlign = kPageSize;

    constexpr Heap() = default;
    Heap(const Heap&) = delete;
    Heap& operator=(const Heap&) = delete;

    // Start over on `frames` (forgets anything held before: call on a fresh
    // allocator, or after everything was freed).
    // `map` reaches machine memory (hal::machine_to_virt in the hypervisor);
    // it must keep page offsets (page-aligned frames map to page-aligned
    // pointers): free() finds a block's page header by masking the pointer.
    void init(FrameAllocator& frames, MapFn map);
    // Forget the allocator (the heap allocates nothing until the next init).
    void detach();
    bool ready() const { return frames_ != nullptr; }

    // `size` bytes aligned to `align` (a power of two <= 4096). NO_MEMORY when
    // the frame allocator has no frame (heap state unchanged), BAD_ARGUMENT
    // for a bad alignment or not initialised. size 0 gives a 16-byte block.
    Result<void*> allocate(usize size, usize align = 16);
    void free(void* p);

    // Return the cached empty pages to the frame allocator.
    void trim();

    // The class index a small request uses, or kClassCount for a large one.
    static usize class_for(usize size, usize align);

    u64 bytes_in_use() const { return bytes_in_use_; }  // block sizes of live allocations
    u64 live_allocations() const { return live_; }
    u64 pages_held() const { return small_pages_ + large_frames_; }  // incl. cached empty pages and large headers
    u64 small_pages() const { return small_pages_; }
    u64 large_frames() const { return large_frames_; }
    u64 cached_pages() const;

private:
    struct PageHeader;
    struct LargeHeader;

    Result<PageHeader*> new_page(usize cls);
    void release_page(PageHeader* page);
    void unlink(PageHeader* page);
    void push_partial(PageHeader* page);
    void free_small(void* p);
    void free_large(void* p);

    FrameAllocator* frames_ = nullptr;
    MapFn map_ = nullptr;
    PageHeader* partial_[kClassCount] = {};  // pages with at least one free block (cached empty ones too)
    u64 bytes_in_use_ = 0;
    u64 live_ = 0;
    u64 small_pages_ = 0;
    u64 large_frames_ = 0;
};

// Typed helpers: placement-new into heap memory / run the destructor and free.
template <class T, class... A>
Result<T*> create(Heap& h, A&&... args)
{
    Result<void*> m = h.allocate(sizeof(T), alignof(T) < 16 ? 16 : alignof(T));
    if (!m.ok()) return m.status();
    return ::new (m.value()) T(std::forward<A>(args)...);
}

template <class T>
void destroy(Heap& h, T* p)
{
    if (!p) return;
    p->~T();
    h.free(p);
}

// Sets the hypervisor-wide heap up over `frames` for its own lifetime.
class HeapScope {
public:
    explicit HeapScope(FrameAllocator& frames);
    ~HeapScope();
    HeapScope(const HeapScope&) = delete;
    HeapScope& operator=(const HeapScope&) = delete;
};

}  // namespace xeno::mm

namespace xeno {

// The hypervisor-wide heap; ready() once start() has built the frame allocator.
mm::Heap& heap();

template <class T, class... A>
Result<T*> create(A&&... args)
{
    return mm::create<T>(heap(), std::forward<A>(args)...);
}

template <class T>
void destroy(T* p)
{
    mm::destroy(heap(), p);
}

}  // namespace xeno
