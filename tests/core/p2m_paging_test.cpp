#include <catch2/catch.hpp>
#include <cstring>
#include <map>
#include <set>

#include "arch/x86/paging/ept.hpp"
#include "arch/x86/paging/phys_mode_pt.hpp"
#include "fake_memory.hpp"
#include "mm/p2m.hpp"

using namespace xeno;

namespace {

mm::FrameAllocator make_allocator()
{
    test::fake_memory_reset();
    mm::FrameAllocator fa;
    const MemoryRegion regions[] = {{0, test::kFakeMemoryBytes, MemoryRegion::Type::USABLE}};
    REQUIRE(fa.init(regions, 1, nullptr, 0, &test::fake_map) == Status::OK);
    return fa;
}

}  // namespace

TEST_CASE("p2m: populate, translate, copy across page boundaries", "[mm][p2m]")
{
    mm::FrameAllocator fa = make_allocator();
    mm::P2m p2m;
    REQUIRE(p2m.init(fa, 256, &test::fake_map) == Status::OK);  // 1 MiB guest
    CHECK(p2m.table_frames() == 1);
    CHECK(p2m.mfn(0) == mm::P2m::kInvalidMfn);
    REQUIRE(p2m.populate(fa) == Status::OK);
    const u64 m5 = p2m.mfn(5);
    CHECK(m5 != mm::P2m::kInvalidMfn);
    CHECK(p2m.translate(Gpa{0x5123}).value().value() == (m5 << 12) + 0x123);
    CHECK(p2m.translate(Gpa{0x100000}).status() == Status::NOT_FOUND);

    const char msg[] = "crosses a page boundary";
    static Hpa last_written;
    static usize written = 0;
    written = 0;
    REQUIRE(p2m.copy_to_guest(Gpa{0x1ff8}, msg, sizeof msg, [](Hpa h, usize n) { last_written = h; written += n; }) == Status::OK);
    CHECK(written == sizeof msg);
    CHECK(last_written.value() == p2m.mfn(2) << 12);
    char back[sizeof msg] = {};
    REQUIRE(p2m.copy_from_guest(back, Gpa{0x1ff8}, sizeof msg) == Status::OK);
    CHECK(std::strcmp(back, msg) == 0);
    CHECK(std::memcmp(test::fake_map(Hpa::from_frame(p2m.mfn(2))), msg + 8, sizeof msg - 8) == 0);
    // Past the end of guest RAM: nothing copied.
    CHECK(p2m.copy_to_guest(Gpa{0xffff0}, msg, 0x20, nullptr) == Status::NOT_FOUND);
    CHECK(p2m.copy_from_guest(back, Gpa{0x100000}, 1) == Status::NOT_FOUND);
    // A range that wraps past 2^64 onto guest frame 0 (a guest's DMA address): refused.
    CHECK(p2m.copy_to_guest(Gpa{~u64{0} - 7}, msg, 0x20, nullptr) == Status::NOT_FOUND);
    CHECK(p2m.copy_from_guest(back, Gpa{~u64{0} - 7}, 0x10) == Status::NOT_FOUND);
}

TEST_CASE("p2m: frames placed outside the table's range", "[mm][p2m]")
{
    mm::FrameAllocator fa = make_allocator();
    mm::P2m p2m;
    REQUIRE(p2m.init(fa, 256, &test::fake_map) == Status::OK);
    REQUIRE(p2m.populate(fa) == Status::OK);
    Result<Hpa> f = fa.allocate_zeroed();
    REQUIRE(f.ok());
    const u64 gfn = 0x8000;  // 128 MiB, far past the 1 MiB of RAM
    CHECK(p2m.map_outside(0x10, f.value().frame()) == Status::BAD_ARGUMENT);  // inside the table
    REQUIRE(p2m.map_outside(gfn, f.value().frame()) == Status::OK);
    CHECK(p2m.mfn(gfn) == f.value().frame());
    CHECK(p2m.mfn(gfn + 1) == mm::P2m::kInvalidMfn);
    CHECK(p2m.translate(Gpa{(gfn << 12) + 0x10}).value().value() == f.value().value() + 0x10);
    CHECK(p2m.map_outside(gfn, f.value().frame()) == Status::OK);                // the same again
    CHECK(p2m.map_outside(gfn + 1, f.value().frame()) == Status::BAD_ARGUMENT);  // one page at two places
    CHECK(p2m.map_outside(gfn, p2m.mfn(3)) == Status::BAD_ARGUMENT);             // another page there
    const char msg[] = "grant";
    REQUIRE(p2m.copy_to_guest(Gpa{gfn << 12}, msg, sizeof msg, nullptr) == Status::OK);
    CHECK(std::memcmp(test::fake_map(f.value()), msg, sizeof msg) == 0);
    u32 placed = 1;
    for (u64 g = gfn + 1; placed < mm::P2m::kMaxOutsideFrames; ++g, ++placed) {
        Result<Hpa> more = fa.allocate_zeroed();
        REQUIRE(more.ok());
        REQUIRE(p2m.map_outside(g, more.value().frame()) == Status::OK);
    }
    Result<Hpa> one_more = fa.allocate_zeroed();
    REQUIRE(one_more.ok());
    CHECK(p2m.map_outside(gfn + 1000, one_more.value().frame()) == Status::NO_MEMORY);
    CHECK(p2m.outside_count() == mm::P2m::kMaxOutsideFrames);
}

TEST_CASE("EPT: 4-level tables from the p2m, WB RWX leaves, EPTP", "[paging][ept]")
{
    mm::FrameAllocator fa = make_allocator();
    mm::P2m p2m;
    REQUIRE(p2m.init(fa, 1024, &test::fake_map) == Status::OK);  // 4 MiB: two PTs
    REQUIRE(p2m.populate(fa) == Status::OK);
    paging::EptBuilder ept(fa, &test::fake_map);
    REQUIRE(ept.create_root() == Status::OK);
    REQUIRE(ept.map_p2m(p2m) == Status::OK);
    CHECK(ept.table_frames() == 1 + 1 + 1 + 2);
    Result<u64> e = ept.lookup(Gpa{0x3ff000});
    REQUIRE(e.ok());
    CHECK((e.value() & paging::ept::ADDRESS_MASK) == p2m.mfn(0x3ff) << 12);
    CHECK((e.value() & 0xfff) == 0x37);  // RWX, memory type 6 (WB) in bits 5:3
    CHECK(ept.lookup(Gpa{0x400000}).status() == Status::NOT_FOUND);
    CHECK(paging::make_eptp(Hpa{0x123000}) == 0x12301e);
    CHECK(paging::ept_index(0x0000'0080'4020'1000ull, 4) == 1);
    CHECK(paging::ept_index(0x0000'0080'4020'1000ull, 3) == 1);
    CHECK(paging::ept_index(0x0000'0080'4020'1000ull, 2) == 1);
    CHECK(paging::ept_index(0x0000'0080'4020'1000ull, 1) == 1);
}

TEST_CASE("physical-mode tables: 32-bit, user, 1:1 through the p2m", "[paging][physmode]")
{
    mm::FrameAllocator fa = make_allocator();
    mm::P2m p2m;
    REQUIRE(p2m.init(fa, 2048, &test::fake_map) == Status::OK);  // 8 MiB
    REQUIRE(p2m.populate(fa) == Status::OK);
    paging::PhysModeTables pt(fa, &test::fake_map);
    REQUIRE(pt.create_root() == Status::OK);
    REQUIRE(pt.map_p2m(p2m) == Status::OK);
    for (u64 gfn : {u64{0}, u64{0x3ff}, u64{0x400}, u64{0x7ff}}) {
        Result<u32> e = pt.lookup(gfn);
        REQUIRE(e.ok());
        CHECK((e.value() & paging::pt32::ADDRESS_MASK) == p2m.mfn(gfn) << 12);
        CHECK((e.value() & 0x7) == 0x7);
    }
    CHECK(pt.lookup(0x800).status() == Status::NOT_FOUND);
    CHECK(pt.map_page(0x100000, 1) == Status::UNSUPPORTED);  // beyond 32-bit linear space
}

// Isolation (issue 5): the guest-physical tables the hypervisor builds map
// exactly the domain's own frames, each once, and nothing else: not their
// own table frames, not the p2m's, not any frame the domain does not own.
TEST_CASE("EPT and physical-mode tables map exactly the domain's frames", "[paging][isolation]")
{
    mm::FrameAllocator fa = make_allocator();
    mm::P2m p2m;
    const u64 guest_frames = 1536;  // 6 MiB: a partly filled last page table
    REQUIRE(p2m.init(fa, guest_frames, &test::fake_map) == Status::OK);
    REQUIRE(p2m.populate(fa) == Status::OK);
    std::map<u64, u64> owned;  // mfn -> gfn
    for (u64 gfn = 0; gfn < guest_frames; ++gfn) REQUIRE(owned.emplace(p2m.mfn(gfn), gfn).second);

    paging::EptBuilder ept(fa, &test::fake_map);
    REQUIRE(ept.create_root() == Status::OK);
    REQUIRE(ept.map_p2m(p2m) == Status::OK);
    paging::PhysModeTables pt(fa, &test::fake_map);
    REQUIRE(pt.create_root() == Status::OK);
    REQUIRE(pt.map_p2m(p2m) == Status::OK);

    std::set<u64> table_frames;
    std::map<u64, u64> ept_leaves;  // gfn -> mfn
    auto walk_ept = [&](auto& self, u64 table, unsigned level, u64 gpa_base) -> void {
        table_frames.insert(table >> 12);
        const auto* e = static_cast<const u64*>(test::fake_map(Hpa{table}));
        for (u64 i = 0; i < 512; ++i) {
            if (!(e[i] & paging::ept::RWX)) continue;
            const u64 gpa = gpa_base | (i << (12 + 9 * (level - 1)));
            if (level == 1) {
                CHECK(ept_leaves.emplace(gpa >> 12, (e[i] & paging::ept::ADDRESS_MASK) >> 12).second);
            } else {
                REQUIRE_FALSE((e[i] & paging::ept::LARGE));
                self(self, e[i] & paging::ept::ADDRESS_MASK, level - 1, gpa);
            }
        }
    };
    walk_ept(walk_ept, ept.root().value(), 4, 0);
    CHECK(ept_leaves.size() == guest_frames);
    for (const auto& [gfn, mfn] : ept_leaves) {
        INFO("gfn " << gfn);
        REQUIRE(owned.count(mfn) == 1);
        CHECK(owned.at(mfn) == gfn);
        CHECK(table_frames.count(mfn) == 0);
    }

    std::set<u64> pt_frames;
    u64 pt_leaves = 0;
    pt_frames.insert(pt.root().value() >> 12);
    const auto* pd = static_cast<const u32*>(test::fake_map(pt.root()));
    for (u64 i = 0; i < 1024; ++i) {
        if (!(pd[i] & paging::pt32::P)) continue;
        const u64 table = pd[i] & paging::pt32::ADDRESS_MASK;
        pt_frames.insert(table >> 12);
        const auto* pte = static_cast<const u32*>(test::fake_map(Hpa{table}));
        for (u64 j = 0; j < 1024; ++j) {
            if (!(pte[j] & paging::pt32::P)) continue;
            const u64 gfn = (i << 10) | j, mfn = (pte[j] & paging::pt32::ADDRESS_MASK) >> 12;
            INFO("gfn " << gfn);
            ++pt_leaves;
            REQUIRE(owned.count(mfn) == 1);
            CHECK(owned.at(mfn) == gfn);
        }
    }
    CHECK(pt_leaves == guest_frames);
    for (u64 f : pt_frames) CHECK(owned.count(f) == 0);
    for (u64 f : table_frames) CHECK(owned.count(f) == 0);
}
