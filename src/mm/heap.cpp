#include "mm/heap.hpp"

#include <cstdint>

#include "hal/memory.hpp"
#include "lib/assert.hpp"

namespace xeno::mm {

namespace {
constexpr u32 kSmallMagic = 0x48706753;  // "SgpH"
constexpr u32 kLargeMagic = 0x4870674c;  // "LgpH"
constexpr u64 kFreeTag = 0xf7ee'b10c'5a5a'0f0full;  // second word of every free small block
constexpr u16 kNoBlock = 0xffff;

using uptr = std::uintptr_t;
uptr addr_of(const void* p) { return reinterpret_cast<uptr>(p); }
}  // namespace

struct Heap::PageHeader {
    u32 magic;
    u16 cls;
    u16 free_head;   // page offset of the first free block, kNoBlock when full
    u16 live;        // blocks handed out
    u16 capacity;    // blocks in the page
    u16 first;       // page offset of block 0
    u16 pad;
    Hpa hpa;         // this page's machine address
    PageHeader* prev;  // links in partial_[cls]
    PageHeader* next;
    bool linked;
};

struct Heap::LargeHeader {
    u32 magic;
    u32 pad;
    u64 frames;  // run length including this header frame
    Hpa hpa;
    u64 size;    // bytes counted in bytes_in_use
};

usize Heap::class_for(usize size, usize align)
{
    if (size < 16) size = 16;
    if (align > 16) {
        if (align > 1024) return kClassCount;
        if (size < align) size = align;
        for (usize c = 0; c + 1 < kClassCount; ++c)  // power-of-two classes are aligned to their size
            if (kClassSizes[c] >= size) return c;
        return kClassCount;
    }
    for (usize c = 0; c < kClassCount; ++c)
        if (kClassSizes[c] >= size) return c;
    return kClassCount;
}

void Heap::init(FrameAllocator& frames, MapFn map)
{
    detach();
    frames_ = &frames;
    map_ = map;
}

void Heap::detach()
{
    frames_ = nullptr;
    map_ = nullptr;
    for (PageHeader*& p : partial_) p = nullptr;
    bytes_in_use_ = live_ = small_pages_ = large_frames_ = 0;
}

u64 Heap::cached_pages() const
{
    u64 n = 0;
    for (usize c = 0; c < kClassCount; ++c)
        for (const PageHeader* p = partial_[c]; p; p = p->next)
            if (p->live == 0) ++n;
    return n;
}

void Heap::push_partial(PageHeader* page)
{
    page->prev = nullptr;
    page->next = partial_[page->cls];
    if (page->next) page->next->prev = page;
    partial_[page->cls] = page;
    page->linked = true;
}

void Heap::unlink(PageHeader* page)
{
    if (page->prev) page->prev->next = page->next;
    else partial_[page->cls] = page->next;
    if (page->next) page->next->prev = page->prev;
    page->prev = page->next = nullptr;
    page->linked = false;
}

Result<Heap::PageHeader*> Heap::new_page(usize cls)
{
    Result<Hpa> f = frames_->allocate();
    if (!f.ok()) return f.status();
    auto* base = static_cast<u8*>(map_(f.value()));
    XENO_ASSERT((addr_of(base) & (kPageSize - 1)) == 0);  // free() finds the header by masking
    auto* page = reinterpret_cast<PageHeader*>(base);
    const usize size = kClassSizes[cls];
    // Power-of-two blocks sit at multiples of their size (so they are aligned to
    // it); the 2016 class only promises 16.
    const usize first = (size < kPageHeader || size == kMaxSmall) ? kPageHeader : size;
    const usize cap = (kPageSize - first) / size;
    *page = PageHeader{kSmallMagic, static_cast<u16>(cls), kNoBlock, 0, static_cast<u16>(cap),
                       static_cast<u16>(first), 0, f.value(), nullptr, nullptr, false};
    // Thread the free list front to back so blocks go out in address order.
    for (usize i = cap; i-- > 0;) {
        const usize off = first + i * size;
        auto* w = reinterpret_cast<u64*>(base + off);
        w[0] = page->free_head;
        w[1] = kFreeTag;
        page->free_head = static_cast<u16>(off);
    }
    ++small_pages_;
    push_partial(page);
    return page;
}

void Heap::release_page(PageHeader* page)
{
    unlink(page);
    const Hpa hpa = page->hpa;
    page->magic = 0;
    --small_pages_;
    const Status s = frames_->free(hpa);
    XENO_ASSERT(s == Status::OK);
}

Result<void*> Heap::allocate(usize size, usize align)
{
    if (!frames_ || align == 0 || (align & (align - 1)) != 0 || align > kMaxAlign) return Status::BAD_ARGUMENT;
    const usize cls = class_for(size, align);
    if (cls < kClassCount) {
        PageHeader* page = partial_[cls];
        if (!page) {
            Result<PageHeader*> np = new_page(cls);
            if (!np.ok()) return np.status();
            page = np.value();
        }
        auto* base = reinterpret_cast<u8*>(page);
        const u16 off = page->free_head;
        XENO_ASSERT(off != kNoBlock);
        auto* w = reinterpret_cast<u64*>(base + off);
        XENO_ASSERT(w[1] == kFreeTag);  // a scribbled free block: use after free or overflow
        page->free_head = static_cast<u16>(w[0]);
        w[0] = 0;
        w[1] = 0;
        ++page->live;
        if (page->free_head == kNoBlock) unlink(page);
        bytes_in_use_ += kClassSizes[cls];
        ++live_;
        return static_cast<void*>(w);
    }
    // Large: a header frame, then the payload frames.
    if (size > (~u64{0} >> 1)) return Status::NO_MEMORY;
    const u64 payload = (u64{size} + kPageSize - 1) / kPageSize;
    const u64 n = 1 + (payload ? payload : 1);
    Result<Hpa> f = frames_->allocate_run(n);
    if (!f.ok()) return f.status();
    auto* base = static_cast<u8*>(map_(f.value()));
    auto* h = reinterpret_cast<LargeHeader*>(base);
    *h = LargeHeader{kLargeMagic, 0, n, f.value(), (n - 1) * kPageSize};
    large_frames_ += n;
    bytes_in_use_ += h->size;
    ++live_;
    return static_cast<void*>(base + kPageSize);
}

void Heap::free(void* p)
{
    if (!p) return;
    XENO_ASSERT(frames_ != nullptr);
    if ((addr_of(p) & (kPageSize - 1)) == 0) free_large(p);
    else free_small(p);
}

void Heap::free_small(void* p)
{
    auto* base = reinterpret_cast<u8*>(addr_of(p) & ~uptr{kPageSize - 1});
    auto* page = reinterpret_cast<PageHeader*>(base);
    XENO_ASSERT(page->magic == kSmallMagic);  // not a heap pointer
    XENO_ASSERT(page->cls < kClassCount);
    const usize size = kClassSizes[page->cls];
    const usize off = addr_of(p) - addr_of(base);
    XENO_ASSERT(off >= page->first && (off - page->first) % size == 0 && (off - page->first) / size < page->capacity);
    auto* w = static_cast<u64*>(p);
    if (w[1] == kFreeTag) {
        // Either a double free or live data that happens to hold the tag: ask the free list.
        for (u16 o = page->free_head; o != kNoBlock; o = static_cast<u16>(reinterpret_cast<u64*>(base + o)[0]))
            XENO_ASSERT(o != off);  // double free
    }
    XENO_ASSERT(page->live > 0);
    // Scrubbed: what a freed object held (guest data, host addresses in the
    // sim build) stays neither readable nor in machine memory's hash.
    __builtin_memset(w, 0, size);
    w[0] = page->free_head;
    w[1] = kFreeTag;
    page->free_head = static_cast<u16>(off);
    --page->live;
    bytes_in_use_ -= size;
    --live_;
    if (!page->linked) push_partial(page);
    if (page->live == 0) {
        // Keep one empty page per class (this one, if no other empty one is cached).
        for (PageHeader* q = partial_[page->cls]; q; q = q->next)
            if (q != page && q->live == 0) {
                release_page(page);
                return;
            }
    }
}

void Heap::free_large(void* p)
{
    auto* h = reinterpret_cast<LargeHeader*>(static_cast<u8*>(p) - kPageSize);
    XENO_ASSERT(h->magic == kLargeMagic);  // double free or not a heap pointer
    const Hpa hpa = h->hpa;
    const u64 n = h->frames;
    XENO_ASSERT(n >= 2 && n <= large_frames_);
    h->magic = 0;
    u8* bytes = static_cast<u8*>(p);
    __builtin_memset(bytes, 0, h->size);  // scrubbed, as small blocks are
    large_frames_ -= n;
    bytes_in_use_ -= h->size;
    --live_;
    const Status s = frames_->free_run(hpa, n);
    XENO_ASSERT(s == Status::OK);
}

void Heap::trim()
{
    for (usize c = 0; c < kClassCount; ++c) {
        PageHeader* q = partial_[c];
        while (q) {
            PageHeader* next = q->next;
            if (q->live == 0) release_page(q);
            q = next;
        }
    }
}

namespace {
constinit Heap g_heap;  // constexpr constructor: no global constructor
}  // namespace

HeapScope::HeapScope(FrameAllocator& frames) { g_heap.init(frames, &hal::machine_to_virt); }
HeapScope::~HeapScope() { g_heap.detach(); }

}  // namespace xeno::mm

namespace xeno {
mm::Heap& heap() { return mm::g_heap; }
}  // namespace xeno
