#include "mm/frame_allocator.hpp"

#include <catch2/catch.hpp>
#include <set>

#include "fake_memory.hpp"

using namespace xeno;
using xeno::mm::FrameAllocator;
using xeno::mm::HpaRange;

namespace {

MemoryRegion usable(u64 base, u64 len) { return MemoryRegion{base, len, MemoryRegion::Type::USABLE}; }
MemoryRegion reserved(u64 base, u64 len) { return MemoryRegion{base, len, MemoryRegion::Type::RESERVED}; }

}  // namespace

TEST_CASE("frame allocator: one region, low MiB and bitmap excluded", "[mm]")
{
    test::fake_memory_reset();
    FrameAllocator fa;
    const MemoryRegion regions[] = {usable(0, 4 << 20)};
    REQUIRE(fa.init(regions, 1, nullptr, 0, &test::fake_map) == Status::OK);
    // 4 MiB = 1024 frames; 256 below 1 MiB never handed out; 1024 bits = 128 bytes: one bitmap frame.
    CHECK(fa.bitmap_frames() == 1);
    CHECK(fa.bitmap_start().value() == 0x100000);
    CHECK(fa.total_frames() == 1024 - 256 - 1);
    CHECK(fa.free_frames() == fa.total_frames());
    Result<Hpa> f = fa.allocate();
    REQUIRE(f.ok());
    CHECK(f.value().value() == 0x101000);
    CHECK(fa.used_frames() == 1);
    CHECK_FALSE(fa.is_managed(0));
    CHECK_FALSE(fa.is_managed(0xff));
    CHECK_FALSE(fa.is_managed(0x100));  // the bitmap itself
}

TEST_CASE("frame allocator: holes, reserved regions and reserved ranges are never handed out", "[mm]")
{
    test::fake_memory_reset();
    FrameAllocator fa;
    const MemoryRegion regions[] = {usable(0, 0x9f000), usable(0x100000, 0x300000), reserved(0x200000, 0x10000),
                                    usable(0x500000, 0x100800)};  // a hole at 4..5 MiB, a partial frame at the end
    const HpaRange res[] = {{Hpa{0x300000}, Hpa{0x300001}}, {Hpa{0x580000}, Hpa{0x590000}}};
    REQUIRE(fa.init(regions, 4, res, 2, &test::fake_map) == Status::OK);
    // usable frames: 0x100..0x3ff (768) - 16 reserved - 1 (module byte) - bitmap 1; 0x500..0x5ff (256) - 16
    CHECK(fa.total_frames() == 768 - 16 - 1 - 1 + 256 - 16);
    std::set<u64> got;
    for (;;) {
        Result<Hpa> f = fa.allocate();
        if (!f.ok()) {
            CHECK(f.status() == Status::NO_MEMORY);
            break;
        }
        got.insert(f.value().frame());
    }
    CHECK(got.size() == fa.total_frames());
    CHECK(fa.free_frames() == 0);
    for (u64 f : got) {
        CHECK(f >= 0x100);
        CHECK_FALSE((f >= 0x200 && f < 0x210));
        CHECK(f != 0x300);
        CHECK_FALSE((f >= 0x400 && f < 0x500));
        CHECK_FALSE((f >= 0x580 && f < 0x590));
        CHECK(f < 0x600);  // the trailing partial frame at 0x600000 is not whole
    }
}

TEST_CASE("frame allocator: contiguous runs, exhaustion, double free", "[mm]")
{
    test::fake_memory_reset();
    FrameAllocator fa;
    const MemoryRegion regions[] = {usable(0x100000, 0x10000)};  // 16 frames, one is the bitmap
    REQUIRE(fa.init(regions, 1, nullptr, 0, &test::fake_map) == Status::OK);
    REQUIRE(fa.total_frames() == 15);
    Result<Hpa> a = fa.allocate_run(4);
    REQUIRE(a.ok());
    CHECK(a.value().value() == 0x101000);
    Result<Hpa> b = fa.allocate();
    REQUIRE(b.ok());
    CHECK(b.value().value() == 0x105000);
    CHECK(fa.allocate_run(11).status() == Status::NO_MEMORY);
    Result<Hpa> c = fa.allocate_run(10);
    REQUIRE(c.ok());
    CHECK(c.value().value() == 0x106000);
    CHECK(fa.free_frames() == 0);
    CHECK(fa.allocate().status() == Status::NO_MEMORY);

    // Free the middle frame of the first run: a 2-run does not fit in the holes.
    REQUIRE(fa.free(Hpa{0x102000}) == Status::OK);
    REQUIRE(fa.free(Hpa{0x105000}) == Status::OK);
    CHECK(fa.allocate_run(2).status() == Status::NO_MEMORY);
    CHECK(fa.free(Hpa{0x102000}) == Status::BAD_STATE);   // double free detected
    CHECK(fa.free(Hpa{0x100000}) == Status::BAD_ARGUMENT); // the bitmap frame
    CHECK(fa.free(Hpa{0x0a0000}) == Status::BAD_ARGUMENT); // below 1 MiB, unmanaged
    CHECK(fa.free(Hpa{0x103004}) == Status::BAD_ARGUMENT); // misaligned
    CHECK(fa.free_run(Hpa{0x103000}, 3) == Status::BAD_STATE);  // 0x105000 is already free: nothing freed
    CHECK_FALSE(fa.is_free(0x103));
    REQUIRE(fa.free_run(Hpa{0x103000}, 2) == Status::OK);
    Result<Hpa> d = fa.allocate_run(4);
    REQUIRE(d.ok());
    CHECK(d.value().value() == 0x102000);
    CHECK(fa.allocate_run(0).status() == Status::BAD_ARGUMENT);
}

TEST_CASE("frame allocator: zeroing, limits and bad maps", "[mm]")
{
    test::fake_memory_reset();
    FrameAllocator fa;
    const MemoryRegion regions[] = {usable(0x100000, 0x100000)};
    REQUIRE(fa.init(regions, 1, nullptr, 0, &test::fake_map) == Status::OK);
    Result<Hpa> z = fa.allocate_zeroed_run(2);
    REQUIRE(z.ok());
    const u8* p = static_cast<const u8*>(test::fake_map(z.value()));
    bool all_zero = true;
    for (u64 i = 0; i < 2 * kPageSize; ++i) all_zero = all_zero && p[i] == 0;
    CHECK(all_zero);
    CHECK(fa.allocate_run_below(1, 0x100000).status() == Status::NO_MEMORY);
    Result<Hpa> below = fa.allocate_run_below(1, 0x104000);
    REQUIRE(below.ok());
    CHECK(below.value().value() == 0x103000);

    FrameAllocator none;
    const MemoryRegion low[] = {usable(0, 0x80000)};
    CHECK(none.init(low, 1, nullptr, 0, &test::fake_map) == Status::NO_MEMORY);
    CHECK(none.init(regions, 1, nullptr, 0, nullptr) == Status::BAD_ARGUMENT);
}

TEST_CASE("frame allocator: with zeroed boot memory only frames freed since boot are zeroed again", "[mm]")
{
    // The fake memory holds 0xcc everywhere: a frame allocate_zeroed did not
    // zero still shows it. With memory_zeroed the allocator trusts the boot
    // loader (here it is lying, which makes the skip visible).
    test::fake_memory_reset();
    FrameAllocator fa;
    const MemoryRegion regions[] = {usable(0, 4 << 20)};
    REQUIRE(fa.init(regions, 1, nullptr, 0, &test::fake_map, true) == Status::OK);
    CHECK(fa.bitmap_frames() == 1);  // both bitmaps: 2 x 128 bytes
    Result<Hpa> pristine = fa.allocate_zeroed();
    REQUIRE(pristine.ok());
    const u8* p = static_cast<const u8*>(test::fake_map(pristine.value()));
    CHECK(p[0] == 0xcc);  // never used since boot: not written
    CHECK(fa.frames_zeroed() == 0);
    REQUIRE(fa.free(pristine.value()) == Status::OK);
    // Runs are first fit from the bottom: the freed frame and the never
    // used one after it.
    Result<Hpa> again = fa.allocate_zeroed_run(2);
    REQUIRE(again.ok());
    REQUIRE(again.value() == pristine.value());
    CHECK(p[0] == 0);
    CHECK(p[4095] == 0);
    CHECK(p[4096] == 0xcc);
    CHECK(fa.frames_zeroed() == 1);

    // Without the promise every frame is zeroed.
    test::fake_memory_reset();
    FrameAllocator plain;
    REQUIRE(plain.init(regions, 1, nullptr, 0, &test::fake_map) == Status::OK);
    Result<Hpa> f = plain.allocate_zeroed_run(3);
    REQUIRE(f.ok());
    const u8* q = static_cast<const u8*>(test::fake_map(f.value()));
    for (u64 i = 0; i < 3 * 4096; i += 512) CHECK(q[i] == 0);
    CHECK(plain.frames_zeroed() == 3);
}

// init marks the free bitmap range by range (mark_frames), while is_managed
// answers frame by frame from the regions and reservations: two sources of
// truth that must agree on every frame of every map, including overlapping
// regions, unaligned edges, reservations crossing region ends, and maps
// whose bitmap lands between reservations.
TEST_CASE("frame allocator: after init a frame is free exactly when it is managed, over random maps", "[mm]")
{
    std::uint64_t state = 0x2545f4914f6cdd1dull;  // fixed: the same maps every run
    const auto next = [&state] {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    };
    constexpr u64 kFrames = test::kFakeMemoryBytes / kPageSize;
    // Addresses on frame edges half of the time, anywhere the other half.
    const auto address = [&] {
        const u64 a = next() % test::kFakeMemoryBytes;
        return next() % 2 ? a & ~(kPageSize - 1) : a;
    };
    unsigned maps_built = 0;
    for (int round = 0; round < 400; ++round) {
        MemoryRegion regions[8];
        const usize region_count = 1 + next() % 8;
        for (usize i = 0; i < region_count; ++i) {
            const u64 base = address();
            const u64 length = 1 + next() % (test::kFakeMemoryBytes - base);
            regions[i] = next() % 4 ? usable(base, length) : reserved(base, length);
        }
        HpaRange ranges[4];
        const usize range_count = next() % 5;
        for (usize i = 0; i < range_count; ++i) {
            const u64 start = address();
            const u64 end = start + 1 + next() % (test::kFakeMemoryBytes - start);
            ranges[i] = HpaRange{Hpa{start}, Hpa{end}};
        }
        test::fake_memory_reset();
        FrameAllocator fa;
        const Status s = fa.init(regions, region_count, ranges, range_count, &test::fake_map);
        if (s != Status::OK) {
            CHECK(s == Status::NO_MEMORY);  // no usable memory above 1 MiB for the bitmap
            continue;
        }
        ++maps_built;
        u64 managed = 0, mismatches = 0;
        for (u64 frame = 0; frame < kFrames + 16; ++frame) {
            const bool is_managed = fa.is_managed(frame);
            managed += is_managed;
            if (fa.is_free(frame) != is_managed) ++mismatches;
        }
        INFO("round " << round);
        CHECK(mismatches == 0);
        CHECK(fa.total_frames() == managed);
        CHECK(fa.free_frames() == managed);
        // And every managed frame can be handed out, and nothing else.
        u64 handed_out = 0;
        for (;;) {
            const Result<Hpa> f = fa.allocate();
            if (!f.ok()) break;
            ++handed_out;
            if (!fa.is_managed(f.value().frame())) ++mismatches;
        }
        CHECK(handed_out == managed);
        CHECK(mismatches == 0);
    }
    CHECK(maps_built > 300);
}
