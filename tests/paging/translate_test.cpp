// Successful translations in every paging mode: addresses, page sizes,
// effective permissions, the walked entries, accessed/dirty flags.
#include "arch/x86/paging/guest_walk.hpp"

#include "tests/paging/walk_fixture.hpp"

namespace xeno::paging::test {

TEST_CASE("paging off: identity, 32-bit linear addresses", "[paging]")
{
    FakeMemory m;
    PagingState s;
    s.cr0 = kCr0Pe;
    CHECK(paging_mode(s) == PagingMode::NONE);
    const WalkResult r = walk(s, write_access(), 0x1'2345'6789ull, m);
    REQUIRE(r.outcome == WalkOutcome::OK);
    CHECK(r.gpa.value() == 0x2345'6789ull);
    CHECK(r.page_size == 0x1000);
    CHECK(r.entry_count == 0);
    CHECK(r.writable);
    CHECK(r.user);
    CHECK(r.executable);
}

TEST_CASE("mode selection follows CR0.PG, CR4.PAE, EFER.LME/LMA", "[paging]")
{
    PagingState s;
    s.cr0 = kCr0Pe | kCr0Pg;
    CHECK(paging_mode(s) == PagingMode::BITS32);
    s.cr4 = kCr4Pae;
    CHECK(paging_mode(s) == PagingMode::PAE);
    s.efer = kEferLme;
    CHECK(paging_mode(s) == PagingMode::LEVEL4);
    s.efer = kEferLme | kEferLma;
    CHECK(paging_mode(s) == PagingMode::LEVEL4);
}

TEST_CASE("32-bit paging: 4 KiB page, walked entries, A and D", "[paging]")
{
    FakeMemory m;
    Tables t(m, PagingMode::BITS32);
    t.map(0x8040'3000, 0x0023'4000, 1, P | RW | US | G);
    PagingState s = t.state();
    s.cr4 |= kCr4Pge;

    WalkResult r = walk(s, read_access(), 0x8040'3abc, m);
    REQUIRE(r.outcome == WalkOutcome::OK);
    CHECK(r.gpa.value() == 0x0023'4abc);
    CHECK(r.page_size == 0x1000);
    CHECK(r.writable);
    CHECK(r.user);
    CHECK(r.executable);
    CHECK(r.global);
    CHECK_FALSE(r.dirty);
    REQUIRE(r.entry_count == 2);
    CHECK(r.entries[0].level == 2);
    CHECK(r.entries[0].width == 4);
    CHECK(r.entries[0].gpa.value() == 0x100000 + 4 * 0x201);
    CHECK(r.entries[1].level == 1);
    CHECK(r.entries[1].gpa.value() == 0x101000 + 4 * 0x003);
    // A on both entries, no D for a read.
    CHECK(t.get(0x8040'3000, 2) == (0x101000 | P | RW | US | A));
    CHECK(t.get(0x8040'3000, 1) == (0x234000 | P | RW | US | G | A));
    CHECK(r.entries[1].value == (0x234000 | P | RW | US | G | A));

    r = walk(s, write_access(), 0x8040'3000, m);
    REQUIRE(r.outcome == WalkOutcome::OK);
    CHECK(r.dirty);
    CHECK(t.get(0x8040'3000, 2) == (0x101000 | P | RW | US | A));  // D only on the leaf
    CHECK(t.get(0x8040'3000, 1) == (0x234000 | P | RW | US | G | A | D));

    s.cr4 &= ~kCr4Pge;
    CHECK_FALSE(walk(s, read_access(), 0x8040'3000, m).global);
}

TEST_CASE("32-bit paging: 4 MiB pages need CR4.PSE; PSE-36 upper address bits", "[paging]")
{
    FakeMemory m;
    Tables t(m, PagingMode::BITS32);
    t.map(0xc000'0000, 0x0480'0000, 2, P | RW | PCD);
    PagingState s = t.state();
    WalkResult r = walk(s, write_access(), 0xc012'3456, m);
    REQUIRE(r.outcome == WalkOutcome::OK);
    CHECK(r.gpa.value() == 0x0492'3456);
    CHECK(r.page_size == 4u << 20);
    CHECK(r.entry_count == 1);
    CHECK(r.pat_index == 2);
    CHECK(t.get(0xc000'0000, 2) == (0x0480'0000 | P | RW | PCD | PS | A | D));

    // PSE-36: bits 20:13 of the PDE are address bits 39:32 (MAXPHYADDR 40).
    t.set(0xc000'0000, 2, 0x0480'0000 | (u64{0x5a} << 13) | P | RW | PS);
    s.maxphyaddr = 40;
    r = walk(s, read_access(), 0xc012'3456, m);
    REQUIRE(r.outcome == WalkOutcome::OK);
    CHECK(r.gpa.value() == 0x5a'0492'3456ull);
    // With MAXPHYADDR 36 only bits 16:13 are address bits; bit 17+ reserved.
    s.maxphyaddr = 36;
    r = walk(s, read_access(), 0xc012'3456, m);
    CHECK(r.outcome == WalkOutcome::PAGE_FAULT);
    CHECK(r.error_code == (pfec::P | pfec::RSVD));
    t.set(0xc000'0000, 2, 0x0480'0000 | (u64{0xa} << 13) | P | RW | PS);
    r = walk(s, read_access(), 0xc012'3456, m);
    REQUIRE(r.outcome == WalkOutcome::OK);
    CHECK(r.gpa.value() == 0xa'0492'3456ull);

    // Without CR4.PSE the PS bit is ignored: the PDE points to a page table.
    s.cr4 &= ~kCr4Pse;
    t.set(0xc000'0000, 2, 0x0020'0000 | P | RW | PS);
    m.put(0x0020'0000 + 4 * 0x123, 4, 0x0077'7000 | P);
    r = walk(s, read_access(), 0xc012'3456, m);
    REQUIRE(r.outcome == WalkOutcome::OK);
    CHECK(r.gpa.value() == 0x0077'7456);
    CHECK(r.page_size == 0x1000);
    CHECK(r.entry_count == 2);
}

TEST_CASE("PAE paging: 4 KiB and 2 MiB pages, PDPTE from memory or registers", "[paging]")
{
    FakeMemory m;
    Tables t(m, PagingMode::PAE, 0x100fe0);  // CR3 bits 31:5: the PDPT need not be page aligned
    t.map(0x4020'1000, 0x0033'3000, 1, P | RW);
    t.map(0xbfe0'0000, 0x0060'0000, 2, P | US | PWT | (u64{1} << 12));
    PagingState s = t.state();
    s.efer = kEferNxe;

    WalkResult r = walk(s, write_access(), 0x4020'1010, m);
    REQUIRE(r.outcome == WalkOutcome::OK);
    CHECK(r.gpa.value() == 0x0033'3010);
    REQUIRE(r.entry_count == 3);
    CHECK(r.entries[0].level == 3);
    CHECK(r.entries[0].gpa.value() == 0x100fe0 + 8 * 1);
    CHECK(r.entries[1].level == 2);
    CHECK(r.entries[2].level == 1);
    CHECK(t.get(0x4020'1000, 3) == (0x101000 | P));  // PDPTEs have no accessed flag
    CHECK(t.get(0x4020'1000, 2) == (0x102000 | P | RW | US | A));
    CHECK(t.get(0x4020'1000, 1) == (0x333000 | P | RW | A | D));
    CHECK_FALSE(r.user);
    CHECK(r.writable);

    r = walk(s, fetch_access(), 0xbfe1'2345, m);
    REQUIRE(r.outcome == WalkOutcome::OK);
    CHECK(r.gpa.value() == 0x0061'2345);
    CHECK(r.page_size == 2u << 20);
    CHECK(r.pat_index == 5);
    CHECK_FALSE(r.writable);
    CHECK(r.executable);

    // With the PDPTE registers loaded the PDPT in memory is not read again.
    const PdpteLoadResult loaded = load_pae_pdptes(s, m.iface());
    REQUIRE(loaded.outcome == PdpteLoad::OK);
    CHECK(loaded.pdptes[1] == (0x101000 | P));
    s.pdptes_loaded = true;
    for (int i = 0; i < 4; ++i) s.pdptes[i] = loaded.pdptes[i];
    t.set(0x4020'1000, 3, 0);
    r = walk(s, read_access(), 0x4020'1010, m);
    REQUIRE(r.outcome == WalkOutcome::OK);
    CHECK(r.gpa.value() == 0x0033'3010);
    CHECK(r.entries[0].value == (0x101000 | P));
    s.pdptes_loaded = false;
    CHECK(walk(s, read_access(), 0x4020'1010, m).outcome == WalkOutcome::PAGE_FAULT);
    s.cr3 = 0xffff'ffe0;  // PDPT beyond guest memory
    CHECK(load_pae_pdptes(s, m.iface()).outcome == PdpteLoad::MEMORY_ERROR);
}

TEST_CASE("4-level paging: linear-address bits 63:48 are not the walker's business", "[paging]")
{
    // Canonicality is checked by the segment/instruction layer (#GP/#SS).
    FakeMemory m;
    Tables t(m, PagingMode::LEVEL4);
    t.map(0x0000'8000'0000'1000ull, 0x7000, 1, P);
    const WalkResult r = walk(t.state(), read_access(), 0xffff'8000'0000'1234ull, m);
    REQUIRE(r.outcome == WalkOutcome::OK);
    CHECK(r.gpa.value() == 0x7234);
}

TEST_CASE("4-level paging: 4 KiB, 2 MiB and 1 GiB pages", "[paging]")
{
    FakeMemory m;
    Tables t(m, PagingMode::LEVEL4);
    const u64 la4k = 0xffff'8000'1234'5000ull, la2m = 0x0000'7fff'ffe0'0000ull, la1g = 0x0000'0040'0000'0000ull;
    t.map(la4k, 0x0004'5000, 1, P | RW | G);
    t.map(la2m, 0x0000'0012'3440'0000ull, 2, P | RW | US);
    t.map(la1g, 0x0000'00ff'c000'0000ull, 3, P | US);
    PagingState s = t.state();
    s.maxphyaddr = 40;

    WalkResult r = walk(s, read_access(), la4k | 0x678, m);
    REQUIRE(r.outcome == WalkOutcome::OK);
    CHECK(r.gpa.value() == 0x0004'5678);
    REQUIRE(r.entry_count == 4);
    for (unsigned i = 0; i < 4; ++i) CHECK(r.entries[i].level == 4 - i);
    CHECK(r.entries[0].gpa.value() == 0x100000 + 8 * 0x100);
    CHECK(r.linear.value() == (la4k | 0x678));

    r = walk(s, write_access(), la2m + 0x1f'ffff, m);
    REQUIRE(r.outcome == WalkOutcome::OK);
    CHECK(r.gpa.value() == 0x0000'0012'345f'ffffull);
    CHECK(r.page_size == 2u << 20);
    CHECK(r.entry_count == 3);
    CHECK(r.user);
    CHECK((t.get(la2m, 2) & (A | D)) == (A | D));
    CHECK((t.get(la2m, 3) & (A | D)) == A);

    r = walk(s, read_access(), la1g + 0x2345'6789, m);
    REQUIRE(r.outcome == WalkOutcome::OK);
    CHECK(r.gpa.value() == 0x0000'00ff'e345'6789ull);
    CHECK(r.page_size == 1u << 30);
    CHECK(r.entry_count == 2);
    CHECK_FALSE(r.writable);

    // Bits 62:52 of 4-level entries are ignored (not reserved).
    t.set_flags(la4k, 1, u64{0x7ff} << 52);
    r = walk(s, read_access(), la4k, m);
    REQUIRE(r.outcome == WalkOutcome::OK);
    CHECK(r.gpa.value() == 0x0004'5000);
}

TEST_CASE("A/D flags: none after a failed walk, none when updates are off", "[paging]")
{
    FakeMemory m;
    Tables t(m, PagingMode::LEVEL4);
    t.map(0x40'0000, 0x5000, 1, P | US);  // read-only user page
    PagingState s = t.state();
    s.cpl = 3;
    const auto before = m.bytes();
    WalkResult r = walk(s, write_access(), 0x40'0000, m);
    REQUIRE(r.outcome == WalkOutcome::PAGE_FAULT);
    CHECK(r.entry_count == 4);  // the entries walked are reported with the fault
    CHECK(m.bytes() == before);

    Access peek = write_access();
    peek.update_ad = false;
    s.cpl = 0;
    r = walk(s, peek, 0x40'0000, m);
    REQUIRE(r.outcome == WalkOutcome::OK);
    CHECK_FALSE(r.dirty);
    CHECK(m.bytes() == before);
    CHECK(m.cmpxchg_count == 0);

    r = walk(s, write_access(), 0x40'0000, m);
    REQUIRE(r.outcome == WalkOutcome::OK);
    CHECK(t.get(0x40'0000, 1) == (0x5000 | P | US | A | D));
    // Everything already set: no further writes.
    const int n = m.cmpxchg_count;
    REQUIRE(walk(s, write_access(), 0x40'0000, m).outcome == WalkOutcome::OK);
    CHECK(m.cmpxchg_count == n);
}

TEST_CASE("A/D update racing another writer redoes the walk; endless races give RETRY", "[paging]")
{
    FakeMemory m;
    Tables t(m, PagingMode::PAE);
    t.map(0x1000, 0x9000, 1, P | RW);
    const PagingState s = t.state();
    m.fail_next_cmpxchg = 1;
    WalkResult r = walk(s, write_access(), 0x1000, m);
    REQUIRE(r.outcome == WalkOutcome::OK);
    CHECK(t.get(0x1000, 1) == (0x9000 | P | RW | A | D));
    CHECK(t.get(0x1000, 2) == (0x102000 | P | RW | US | A));

    t.set(0x1000, 1, 0x9000 | P | RW);
    m.always_fail = true;
    r = walk(s, write_access(), 0x1000, m);
    CHECK(r.outcome == WalkOutcome::RETRY);
}

TEST_CASE("a PML4 that maps itself: A set once per entry", "[paging]")
{
    FakeMemory m;
    // PML4[0x1ff] -> PML4 itself; la with all indices 0x1ff walks it 4 times.
    m.put(0x100000 + 8 * 0x1ff, 8, 0x100000 | P | RW);
    PagingState s = Tables(m, PagingMode::LEVEL4).state();
    const WalkResult r = walk(s, write_access(), 0xffff'ffff'ffff'f008ull, m);
    REQUIRE(r.outcome == WalkOutcome::OK);
    CHECK(r.gpa.value() == 0x100008);
    CHECK(m.get(0x100000 + 8 * 0x1ff, 8) == (0x100000 | P | RW | A | D));
    CHECK(r.entries[0].value == (0x100000 | P | RW | A | D));
}

TEST_CASE("tables outside guest memory are a memory error", "[paging]")
{
    FakeMemory m;
    Tables t(m, PagingMode::LEVEL4);
    t.map(0x1000, 0x9000, 1, P | RW);
    PagingState s = t.state();
    t.set(0x1000, 2, 0x7000'0000 | P | RW);  // page table far beyond the 4 MiB of memory
    WalkResult r = walk(s, read_access(), 0x1000, m);
    REQUIRE(r.outcome == WalkOutcome::MEMORY_ERROR);
    CHECK(r.bad_gpa.value() == 0x7000'0000 + 8);
    s.cr3 = 0x8000'0000;
    r = walk(s, read_access(), 0x1000, m);
    REQUIRE(r.outcome == WalkOutcome::MEMORY_ERROR);
    CHECK(r.bad_gpa.value() == 0x8000'0000);
}

}  // namespace xeno::paging::test
