#include "mm/heap.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>


using namespace xeno;
using xeno::mm::FrameAllocator;
using xeno::mm::Heap;

namespace {

// The heap needs a map that keeps page offsets (as hal::machine_to_virt
// does in both builds), so not test::fake_map's vector: a page-aligned buffer
// for machine addresses [0, 8 MiB).
constexpr u64 kMemBytes = 8ull << 20;
alignas(4096) u8 g_mem[kMemBytes];
void* aligned_map(Hpa hpa) { return g_mem + hpa.value(); }

// `bytes` of machine memory at 1 MiB (default 256 frames, one of them the bitmap).
void make_frames(FrameAllocator& fa, u64 bytes = 0x100000)
{
    std::memset(g_mem, 0xcc, sizeof g_mem);
    const MemoryRegion regions[] = {MemoryRegion{0x100000, bytes, MemoryRegion::Type::USABLE}};
    REQUIRE(fa.init(regions, 1, nullptr, 0, &aligned_map) == Status::OK);
}

std::uintptr_t addr(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

}  // namespace

TEST_CASE("heap: every class, alignment, reuse after free", "[mm][heap]")
{
    FrameAllocator fa;
    make_frames(fa);
    Heap h;
    h.init(fa, &aligned_map);
    const u64 start_free = fa.free_frames();
    for (usize c = 0; c < Heap::kClassCount; ++c) {
        const usize size = Heap::kClassSizes[c];
        CHECK(Heap::class_for(size, 16) == c);
        Result<void*> a = h.allocate(size);
        Result<void*> b = h.allocate(size);
        REQUIRE(a.ok());
        REQUIRE(b.ok());
        CHECK(addr(a.value()) % 16 == 0);
        CHECK(addr(a.value()) % 4096 != 0);  // small blocks never at a page base
        CHECK(addr(b.value()) - addr(a.value()) == size);  // address order within a fresh page
        std::memset(a.value(), 0x11, size);
        std::memset(b.value(), 0x22, size);
        CHECK(h.bytes_in_use() == 2 * size);
        h.free(a.value());
        Result<void*> again = h.allocate(size);
        REQUIRE(again.ok());
        CHECK(again.value() == a.value());  // LIFO reuse
        CHECK(static_cast<u8*>(b.value())[size - 1] == 0x22);
        h.free(again.value());
        h.free(b.value());
        CHECK(h.bytes_in_use() == 0);
        CHECK(h.live_allocations() == 0);
    }
    CHECK(h.small_pages() == Heap::kClassCount);  // one cached empty page per class
    CHECK(h.cached_pages() == Heap::kClassCount);
    CHECK(fa.free_frames() == start_free - Heap::kClassCount);
    h.trim();
    CHECK(h.pages_held() == 0);
    CHECK(fa.free_frames() == start_free);

    for (usize align = 16; align <= 4096; align <<= 1) {
        for (usize size : {usize{1}, usize{24}, usize{100}, usize{3000}}) {
            Result<void*> p = h.allocate(size, align);
            REQUIRE(p.ok());
            CHECK(addr(p.value()) % align == 0);
            std::memset(p.value(), 0x5a, size);
            h.free(p.value());
        }
    }
    CHECK(h.allocate(8, 3).status() == Status::BAD_ARGUMENT);
    CHECK(h.allocate(8, 8192).status() == Status::BAD_ARGUMENT);
    CHECK(Heap::class_for(2017, 16) == Heap::kClassCount);
    CHECK(Heap::class_for(1500, 16) == 7);
    CHECK(Heap::class_for(1500, 32) == Heap::kClassCount);  // no aligned class above 1024
    h.free(nullptr);
    h.trim();
    CHECK(fa.free_frames() == start_free);
}

TEST_CASE("heap: large allocations return their frames", "[mm][heap]")
{
    FrameAllocator fa;
    make_frames(fa);
    Heap h;
    h.init(fa, &aligned_map);
    const u64 start_free = fa.free_frames();
    Result<void*> a = h.allocate(2017);
    Result<void*> b = h.allocate(5 * 4096);
    Result<void*> c = h.allocate(5 * 4096 + 1);
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    REQUIRE(c.ok());
    CHECK(addr(a.value()) % 4096 == 0);
    CHECK(fa.free_frames() == start_free - (2 + 6 + 7));
    CHECK(h.large_frames() == 15);
    CHECK(h.bytes_in_use() == (1 + 5 + 6) * 4096);
    std::memset(b.value(), 0x77, 5 * 4096);
    std::memset(c.value(), 0x88, 5 * 4096 + 1);
    CHECK(static_cast<u8*>(b.value())[5 * 4096 - 1] == 0x77);
    h.free(b.value());
    CHECK(fa.free_frames() == start_free - 9);
    h.free(a.value());
    h.free(c.value());
    CHECK(fa.free_frames() == start_free);
    CHECK(h.pages_held() == 0);
    CHECK(h.bytes_in_use() == 0);
}

TEST_CASE("heap: exhaustion returns NO_MEMORY and leaves the heap usable", "[mm][heap]")
{
    FrameAllocator fa;
    make_frames(fa, 0x10000);  // 16 frames, one is the bitmap
    Heap h;
    h.init(fa, &aligned_map);
    const u64 start_free = fa.free_frames();
    REQUIRE(start_free == 15);
    CHECK(h.allocate(20 * 4096).status() == Status::NO_MEMORY);
    CHECK(h.pages_held() == 0);
    std::vector<void*> live;
    for (;;) {
        Result<void*> p = h.allocate(1024);
        if (!p.ok()) {
            CHECK(p.status() == Status::NO_MEMORY);
            break;
        }
        std::memset(p.value(), static_cast<int>(live.size() & 0xff), 1024);
        live.push_back(p.value());
    }
    CHECK(live.size() == 15 * 3);  // 3 x 1024 per page after the 1024-aligned first block
    CHECK(fa.free_frames() == 0);
    CHECK(h.allocate(16).status() == Status::NO_MEMORY);
    CHECK(h.live_allocations() == live.size());
    for (usize i = 0; i < live.size(); ++i) CHECK(static_cast<u8*>(live[i])[1023] == (i & 0xff));
    h.free(live.back());
    live.pop_back();
    Result<void*> p = h.allocate(1024);  // the freed block comes back
    REQUIRE(p.ok());
    live.push_back(p.value());
    for (void* q : live) h.free(q);
    h.trim();
    CHECK(fa.free_frames() == start_free);
    CHECK(h.pages_held() == 0);
}

TEST_CASE("heap: seeded random alloc/free keeps blocks disjoint and contents intact", "[mm][heap]")
{
    FrameAllocator fa;
    make_frames(fa, 0x400000);
    Heap h;
    h.init(fa, &aligned_map);
    const u64 start_free = fa.free_frames();
    struct Block {
        u8* p;
        usize size;
        u8 fill;
    };
    std::vector<Block> live;
    std::mt19937 rng(12345);
    auto check_block = [](const Block& b) {
        for (usize i = 0; i < b.size; ++i)
            if (b.p[i] != b.fill) return false;
        return true;
    };
    usize failures = 0;
    for (int step = 0; step < 3000; ++step) {
        const bool do_alloc = live.empty() || rng() % 100 < 55;
        if (do_alloc) {
            const u32 kind = rng() % 10;
            const usize size = kind < 8 ? 1 + rng() % 2048 : 2049 + rng() % (3 * 4096);
            const usize align = usize{16} << (rng() % 4 == 0 ? rng() % 9 : 0);
            Result<void*> r = h.allocate(size, align);
            REQUIRE(r.ok());
            REQUIRE(addr(r.value()) % align == 0);
            Block b{static_cast<u8*>(r.value()), size, static_cast<u8>(rng())};
            for (const Block& o : live)
                if (!(b.p + b.size <= o.p || o.p + o.size <= b.p)) ++failures;
            std::memset(b.p, b.fill, b.size);
            live.push_back(b);
        } else {
            const usize i = rng() % live.size();
            if (!check_block(live[i])) ++failures;
            h.free(live[i].p);
            live[i] = live.back();
            live.pop_back();
        }
    }
    CHECK(failures == 0);
    for (const Block& b : live) {
        CHECK(check_block(b));
        h.free(b.p);
    }
    CHECK(h.live_allocations() == 0);
    CHECK(h.bytes_in_use() == 0);
    h.trim();
    CHECK(fa.free_frames() == start_free);
}

namespace {
struct Widget {
    static int alive;
    u64 a;
    u32 b;
    Widget(u64 x, u32 y) : a(x), b(y) { ++alive; }
    ~Widget() { --alive; }
};
int Widget::alive = 0;

struct alignas(256) Aligned {
    u8 bytes[300];
};
}  // namespace

TEST_CASE("heap: create/destroy and the hypervisor-wide heap", "[mm][heap]")
{
    FrameAllocator fa;
    make_frames(fa);
    Heap h;
    h.init(fa, &aligned_map);
    Result<Widget*> w = mm::create<Widget>(h, u64{7}, u32{9});
    REQUIRE(w.ok());
    CHECK(w.value()->a == 7);
    CHECK(w.value()->b == 9);
    CHECK(Widget::alive == 1);
    Result<Aligned*> al = mm::create<Aligned>(h);
    REQUIRE(al.ok());
    CHECK(addr(al.value()) % 256 == 0);
    mm::destroy(h, w.value());
    mm::destroy(h, al.value());
    mm::destroy<Widget>(h, nullptr);
    CHECK(Widget::alive == 0);
    CHECK(h.live_allocations() == 0);

    // A detached heap allocates nothing; xeno::heap() outside start() is one
    // (every run, a stopped one too, leaves start() through its heap scope's
    // destructor: many_machines_test.cpp).
    h.detach();
    CHECK_FALSE(h.ready());
    CHECK(h.allocate(16).status() == Status::BAD_ARGUMENT);
    CHECK(&xeno::heap() == &xeno::heap());
    CHECK_FALSE(xeno::heap().ready());
}
