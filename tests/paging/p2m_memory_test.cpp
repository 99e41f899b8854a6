// The walker over a domain's p2m: tables in guest frames that live at
// scattered machine frames, A/D flags written to machine memory.
#include "arch/x86/paging/guest_walk_p2m.hpp"

#include "mm/frame_allocator.hpp"
#include "tests/core/fake_memory.hpp"
#include "tests/paging/walk_fixture.hpp"

namespace xeno::paging::test {

namespace {

u64 written_bytes = 0;

void guest_put(const mm::P2m& p2m, u64 gpa, u64 value)
{
    REQUIRE(p2m.copy_to_guest(Gpa{gpa}, &value, sizeof value, nullptr) == Status::OK);
}

u64 guest_get(const mm::P2m& p2m, u64 gpa)
{
    u64 v = 0;
    REQUIRE(p2m.copy_from_guest(&v, Gpa{gpa}, sizeof v) == Status::OK);
    return v;
}

}  // namespace

TEST_CASE("walk through the p2m: translation, A/D in machine memory, holes", "[paging]")
{
    xeno::test::fake_memory_reset();
    mm::FrameAllocator fa;
    const MemoryRegion regions[] = {{0, xeno::test::kFakeMemoryBytes, MemoryRegion::Type::USABLE}};
    REQUIRE(fa.init(regions, 1, nullptr, 0, &xeno::test::fake_map) == Status::OK);
    mm::P2m p2m;
    REQUIRE(p2m.init(fa, 512, &xeno::test::fake_map) == Status::OK);  // 2 MiB guest
    REQUIRE(p2m.populate(fa) == Status::OK);
    // Swap two guest frames so guest and machine order differ.
    const u64 m3 = p2m.mfn(3), m7 = p2m.mfn(7);
    REQUIRE(p2m.set(3, m7) == Status::OK);
    REQUIRE(p2m.set(7, m3) == Status::OK);

    // 4-level tables at guest frames 1..4: la 0x40'2000 -> gpa 0x12000.
    guest_put(p2m, 0x1000, 0x2000 | P | RW | US);
    guest_put(p2m, 0x2000, 0x3000 | P | RW | US);
    guest_put(p2m, 0x3000 + 8 * 2, 0x7000 | P | RW | US);
    guest_put(p2m, 0x7000 + 8 * 2, 0x12000 | P | RW);
    PagingState s;
    s.cr0 = kCr0Pe | kCr0Pg;
    s.cr3 = 0x1000;
    s.cr4 = kCr4Pae;
    s.efer = kEferLme | kEferLma;

    written_bytes = 0;
    P2mGuestMemory pm(p2m, &xeno::test::fake_map, [](Hpa, usize n) { written_bytes += n; });
    WalkResult r = guest_walk(s, write_access(), Gla{0x40'2abc}, pm.memory());
    REQUIRE(r.outcome == WalkOutcome::OK);
    CHECK(r.gpa.value() == 0x12abc);
    REQUIRE(r.entry_count == 4);
    CHECK(r.entries[3].gpa.value() == 0x7010);
    CHECK(guest_get(p2m, 0x7010) == (0x12000 | P | RW | A | D));
    CHECK(guest_get(p2m, 0x3010) == (0x7000 | P | RW | US | A));
    CHECK(written_bytes == 4 * 8);
    // The entry really is in machine frame m3 (guest frame 7).
    u64 raw = 0;
    std::memcpy(&raw, static_cast<u8*>(xeno::test::fake_map(Hpa::from_frame(m3))) + 0x10, 8);
    CHECK(raw == (0x12000 | P | RW | A | D));

    // A table past the end of guest memory, or in a p2m hole.
    guest_put(p2m, 0x7010, 0x12000 | P | RW);
    guest_put(p2m, 0x3010, 0x20'0000 | P | RW | US);
    r = guest_walk(s, read_access(), Gla{0x40'2abc}, pm.memory());
    REQUIRE(r.outcome == WalkOutcome::MEMORY_ERROR);
    CHECK(r.bad_gpa.value() == 0x20'0010);
    guest_put(p2m, 0x3010, 0x7000 | P | RW | US);
    REQUIRE(p2m.set(7, mm::P2m::kInvalidMfn) == Status::OK);
    r = guest_walk(s, read_access(), Gla{0x40'2abc}, pm.memory());
    REQUIRE(r.outcome == WalkOutcome::MEMORY_ERROR);
    CHECK(r.bad_gpa.value() == 0x7010);

    // 32-bit entries work as well.
    REQUIRE(p2m.set(7, m3) == Status::OK);
    guest_put(p2m, 0x5000, (0x6000 | P | RW) << 32);  // PDE 0 = 0, PDE 1 (at 0x5004) -> PT at 0x6000
    guest_put(p2m, 0x6000 + 4 * 2, 0x15000 | P);         // PTE 2, PTE 3 = 0
    s = PagingState{};
    s.cr0 = kCr0Pe | kCr0Pg;
    s.cr3 = 0x5000;
    r = guest_walk(s, read_access(), Gla{0x40'2123}, pm.memory());
    REQUIRE(r.outcome == WalkOutcome::OK);
    CHECK(r.gpa.value() == 0x15123);
    CHECK((guest_get(p2m, 0x6008) & 0xffffffff) == (0x15000 | P | A));
}

}  // namespace xeno::paging::test
