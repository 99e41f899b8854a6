// Page faults and their exact error codes (SDM Vol. 3A 4.6, 4.7).
#include "arch/x86/paging/guest_walk.hpp"

#include "tests/paging/walk_fixture.hpp"

namespace xeno::paging::test {

namespace {

u32 fault_code(const PagingState& s, Access a, u64 la, FakeMemory& m)
{
    const WalkResult r = walk(s, a, la, m);
    REQUIRE(r.outcome == WalkOutcome::PAGE_FAULT);
    CHECK(r.linear.value() == la);
    return r.error_code;
}

bool ok(const PagingState& s, Access a, u64 la, FakeMemory& m) { return walk(s, a, la, m).outcome == WalkOutcome::OK; }

Access implicit(AccessType t) { return Access{t, true, true}; }

}  // namespace

TEST_CASE("not present at each level, each mode: P=0 with W/U/I from the access", "[paging]")
{
    const PagingMode modes[] = {PagingMode::BITS32, PagingMode::PAE, PagingMode::LEVEL4};
    for (PagingMode mode : modes) {
        FakeMemory m;
        Tables t(m, mode);
        const u64 la = 0x4060'7000;
        t.map(la, 0x8000, 1, P | RW | US);
        PagingState s = t.state();
        for (unsigned level = t.top(); level >= 1; --level) {
            INFO("mode " << int(mode) << " level " << level);
            const u64 saved = t.get(la, level);
            t.set(la, level, saved & ~P);
            s.cpl = 0;
            s.efer &= ~kEferNxe;
            CHECK(fault_code(s, read_access(), la, m) == 0);
            CHECK(fault_code(s, fetch_access(), la, m) == 0);  // no I/D without NXE or SMEP
            // The entries up to the not-present one are reported, none changed.
            const auto before = m.bytes();
            const WalkResult r = walk(s, write_access(), la, m);
            CHECK(r.entry_count == t.top() - level + 1);
            CHECK(r.entries[r.entry_count - 1].gpa.value() == t.entry(la, level));
            CHECK(r.entries[r.entry_count - 1].level == level);
            CHECK(m.bytes() == before);
            s.cpl = 3;
            CHECK(fault_code(s, write_access(), la, m) == (pfec::W | pfec::U));
            s.efer |= kEferNxe;
            // I/D with NXE only under PAE/4-level paging.
            CHECK(fault_code(s, fetch_access(), la, m) == (pfec::U | (mode == PagingMode::BITS32 ? 0 : pfec::I)));
            s.cr4 |= kCr4Smep;
            CHECK(fault_code(s, fetch_access(), la, m) == (pfec::U | pfec::I));
            s.cr4 &= ~kCr4Smep;
            // Reserved bits in a not-present entry are ignored.
            if (mode != PagingMode::BITS32) {
                t.set(la, level, (saved & ~P) | (u64{1} << 51));
                s.maxphyaddr = 36;
                CHECK(fault_code(s, read_access(), la, m) == pfec::U);
                s.maxphyaddr = 36;
            }
            t.set(la, level, saved);
            REQUIRE(ok(s, write_access(), la, m));
        }
    }
}

TEST_CASE("writes to read-only pages: CR0.WP for supervisor, always for user", "[paging]")
{
    const PagingMode modes[] = {PagingMode::BITS32, PagingMode::PAE, PagingMode::LEVEL4};
    for (PagingMode mode : modes) {
        INFO("mode " << int(mode));
        FakeMemory m;
        Tables t(m, mode);
        t.map(0x1000, 0x8000, 1, P | US);                 // leaf read-only
        t.map(0x80'0000, 0x9000, 1, P | RW | US, P | US);  // upper levels read-only
        PagingState s = t.state();
        for (u64 la : {u64{0x1000}, u64{0x80'0000}}) {
            s.cpl = 0;
            CHECK(ok(s, write_access(), la, m));
            CHECK(ok(s, implicit(AccessType::WRITE), la, m));
            s.cr0 |= kCr0Wp;
            CHECK(fault_code(s, write_access(), la, m) == (pfec::P | pfec::W));
            CHECK(ok(s, read_access(), la, m));
            s.cpl = 3;
            CHECK(fault_code(s, write_access(), la, m) == (pfec::P | pfec::W | pfec::U));
            CHECK(fault_code(s, implicit(AccessType::WRITE), la, m) == (pfec::P | pfec::W));
            s.cr0 &= ~kCr0Wp;
            CHECK(fault_code(s, write_access(), la, m) == (pfec::P | pfec::W | pfec::U));
            CHECK(ok(s, read_access(), la, m));
        }
    }
}

TEST_CASE("user accesses to supervisor pages: U/S=0 at any level", "[paging]")
{
    const PagingMode modes[] = {PagingMode::BITS32, PagingMode::PAE, PagingMode::LEVEL4};
    for (PagingMode mode : modes) {
        FakeMemory m;
        Tables t(m, mode);
        const u64 la = 0x4060'7000;
        t.map(la, 0x8000, 1, P | RW | US);
        PagingState s = t.state();
        s.cpl = 3;
        for (unsigned level = mode == PagingMode::PAE ? 2 : t.top(); level >= 1; --level) {
            INFO("mode " << int(mode) << " level " << level);
            t.clear_flags(la, level, US);
            CHECK(fault_code(s, read_access(), la, m) == (pfec::P | pfec::U));
            CHECK(fault_code(s, write_access(), la, m) == (pfec::P | pfec::W | pfec::U));
            CHECK(fault_code(s, fetch_access(), la, m) == (pfec::P | pfec::U));
            CHECK(ok(s, implicit(AccessType::READ), la, m));  // supervisor-mode regardless of CPL
            s.cpl = 0;
            CHECK(ok(s, read_access(), la, m));
            CHECK_FALSE(walk(s, read_access(), la, m).user);
            s.cpl = 3;
            t.set_flags(la, level, US);
        }
    }
}

TEST_CASE("XD: fetch faults with NXE; XD is a reserved bit without NXE", "[paging]")
{
    const PagingMode modes[] = {PagingMode::PAE, PagingMode::LEVEL4};
    for (PagingMode mode : modes) {
        FakeMemory m;
        Tables t(m, mode);
        const u64 la = 0x4060'7000;
        t.map(la, 0x8000, 1, P | RW | US);
        PagingState s = t.state();
        for (unsigned level = mode == PagingMode::PAE ? 2 : t.top(); level >= 1; --level) {
            INFO("mode " << int(mode) << " level " << level);
            t.set_flags(la, level, XD);
            s.efer |= kEferNxe;
            s.cpl = 0;
            CHECK(fault_code(s, fetch_access(), la, m) == (pfec::P | pfec::I));
            s.cpl = 3;
            CHECK(fault_code(s, fetch_access(), la, m) == (pfec::P | pfec::U | pfec::I));
            const WalkResult r = walk(s, write_access(), la, m);
            REQUIRE(r.outcome == WalkOutcome::OK);
            CHECK_FALSE(r.executable);
            s.efer &= ~kEferNxe;
            CHECK(fault_code(s, read_access(), la, m) == (pfec::P | pfec::U | pfec::RSVD));
            CHECK(fault_code(s, fetch_access(), la, m) == (pfec::P | pfec::U | pfec::RSVD));
            t.clear_flags(la, level, XD);
            CHECK(walk(s, fetch_access(), la, m).executable);
        }
    }
}

TEST_CASE("reserved bits: RSVD=1 with P=1", "[paging]")
{
    SECTION("PAE: bits 62:M, large-page bits 20:13, PDPTE bits 2:1 and 8:5")
    {
        FakeMemory m;
        Tables t(m, PagingMode::PAE);
        t.map(0x1000, 0x8000, 1, P | RW);
        t.map(0x4000'0000, 0x20'0000, 2, P | RW);
        PagingState s = t.state();
        s.maxphyaddr = 36;
        s.cpl = 0;
        t.set_flags(0x1000, 1, u64{1} << 36);
        CHECK(fault_code(s, write_access(), 0x1000, m) == (pfec::P | pfec::W | pfec::RSVD));
        s.maxphyaddr = 40;
        CHECK(ok(s, read_access(), 0x1000, m));
        t.set_flags(0x1000, 1, u64{1} << 62);  // reserved in PAE (ignored in 4-level)
        CHECK(fault_code(s, read_access(), 0x1000, m) == (pfec::P | pfec::RSVD));

        t.set_flags(0x4000'0000, 2, u64{1} << 13);
        CHECK(fault_code(s, read_access(), 0x4000'0000, m) == (pfec::P | pfec::RSVD));
        t.clear_flags(0x4000'0000, 2, u64{1} << 13);
        CHECK(ok(s, read_access(), 0x4000'0000, m));

        for (u64 b : {RW, US, A, D, PS, G, XD}) {
            INFO("PDPTE bit " << b);
            t.set_flags(0x4000'0000, 3, b);
            CHECK(fault_code(s, read_access(), 0x4000'0000, m) == (pfec::P | pfec::RSVD));
            PdpteLoadResult l = load_pae_pdptes(s, m.iface());
            CHECK(l.outcome == PdpteLoad::RESERVED);  // MOV to CR3 raises #GP(0)
            t.clear_flags(0x4000'0000, 3, b);
        }
        CHECK(load_pae_pdptes(s, m.iface()).outcome == PdpteLoad::OK);
        // A not-present PDPTE may hold anything.
        m.put(0x100000 + 8 * 3, 8, 0xffff'ffff'ffff'fffeull);
        CHECK(load_pae_pdptes(s, m.iface()).outcome == PdpteLoad::OK);
    }
    SECTION("4-level: bits 51:M, PS in a PML4E, 1 GiB bits 29:13, 1 GiB pages unsupported")
    {
        FakeMemory m;
        Tables t(m, PagingMode::LEVEL4);
        t.map(0x1000, 0x8000, 1, P | RW);
        t.map(0x40'0000'0000ull, 0x4000'0000, 3, P | RW);
        t.map(0x80'0000'0000ull, 0x20'0000, 2, P | RW);
        PagingState s = t.state();
        s.maxphyaddr = 39;
        t.set_flags(0x1000, 2, u64{1} << 51);
        CHECK(fault_code(s, read_access(), 0x1000, m) == (pfec::P | pfec::RSVD));
        t.clear_flags(0x1000, 2, u64{1} << 51);
        t.set_flags(0x1000, 2, u64{1} << 39);
        CHECK(fault_code(s, read_access(), 0x1000, m) == (pfec::P | pfec::RSVD));
        t.clear_flags(0x1000, 2, u64{1} << 39);
        CHECK(ok(s, read_access(), 0x1000, m));
        t.set_flags(0x1000, 4, PS);
        CHECK(fault_code(s, read_access(), 0x1000, m) == (pfec::P | pfec::RSVD));
        t.clear_flags(0x1000, 4, PS);

        CHECK(ok(s, read_access(), 0x40'0000'0000ull, m));
        t.set_flags(0x40'0000'0000ull, 3, u64{1} << 29);
        CHECK(fault_code(s, read_access(), 0x40'0000'0000ull, m) == (pfec::P | pfec::RSVD));
        t.clear_flags(0x40'0000'0000ull, 3, u64{1} << 29);
        s.page_1gb = false;
        CHECK(fault_code(s, read_access(), 0x40'0000'0000ull, m) == (pfec::P | pfec::RSVD));
        s.page_1gb = true;

        t.set_flags(0x80'0000'0000ull, 2, u64{1} << 20);
        s.cpl = 3;
        CHECK(fault_code(s, write_access(), 0x80'0000'0000ull, m) == (pfec::P | pfec::W | pfec::U | pfec::RSVD));
    }
    SECTION("32-bit: 4 MiB PDE bit 21 always, bits 20:13 beyond MAXPHYADDR; 4 KiB entries none")
    {
        FakeMemory m;
        Tables t(m, PagingMode::BITS32);
        t.map(0x40'0000, 0x40'0000, 2, P | RW);
        t.map(0x1000, 0x8000, 1, P | RW);
        PagingState s = t.state();
        s.maxphyaddr = 52;  // PSE-36 capped at 40 bits
        t.set_flags(0x40'0000, 2, u64{1} << 21);
        CHECK(fault_code(s, read_access(), 0x40'0000, m) == (pfec::P | pfec::RSVD));
        t.clear_flags(0x40'0000, 2, u64{1} << 21);
        t.set_flags(0x40'0000, 2, u64{1} << 20);
        CHECK(ok(s, read_access(), 0x40'0000, m));
        s.maxphyaddr = 32;
        CHECK(fault_code(s, read_access(), 0x40'0000, m) == (pfec::P | pfec::RSVD));
        t.set_flags(0x1000, 1, 0x180);  // PAT and G in a PTE: not reserved
        CHECK(ok(s, read_access(), 0x1000, m));
    }
}

TEST_CASE("SMEP: supervisor fetches from user pages fault, in every mode", "[paging]")
{
    const PagingMode modes[] = {PagingMode::BITS32, PagingMode::PAE, PagingMode::LEVEL4};
    for (PagingMode mode : modes) {
        INFO("mode " << int(mode));
        FakeMemory m;
        Tables t(m, mode);
        t.map(0x1000, 0x8000, 1, P | RW | US);
        t.map(0x2000, 0x9000, 1, P | RW);  // supervisor page (U/S=0 in the PTE)
        PagingState s = t.state();
        CHECK(ok(s, fetch_access(), 0x1000, m));
        s.cr4 |= kCr4Smep;
        CHECK(fault_code(s, fetch_access(), 0x1000, m) == (pfec::P | pfec::I));
        CHECK(ok(s, fetch_access(), 0x2000, m));
        CHECK(ok(s, read_access(), 0x1000, m));
        CHECK(ok(s, write_access(), 0x1000, m));
        s.cpl = 3;
        CHECK(ok(s, fetch_access(), 0x1000, m));
    }
}

TEST_CASE("SMAP: supervisor data accesses to user pages need EFLAGS.AC and an explicit access", "[paging]")
{
    const PagingMode modes[] = {PagingMode::BITS32, PagingMode::PAE, PagingMode::LEVEL4};
    for (PagingMode mode : modes) {
        INFO("mode " << int(mode));
        FakeMemory m;
        Tables t(m, mode);
        t.map(0x1000, 0x8000, 1, P | RW | US);
        t.map(0x3000, 0xa000, 1, P | US);  // read-only user page
        t.map(0x2000, 0x9000, 1, P | RW);
        PagingState s = t.state();
        s.cr4 |= kCr4Smap;
        CHECK(fault_code(s, read_access(), 0x1000, m) == pfec::P);
        CHECK(fault_code(s, write_access(), 0x1000, m) == (pfec::P | pfec::W));
        CHECK(ok(s, fetch_access(), 0x1000, m));  // SMAP does not restrict fetches
        CHECK(ok(s, write_access(), 0x2000, m));
        s.rflags_ac = true;
        CHECK(ok(s, read_access(), 0x1000, m));
        CHECK(ok(s, write_access(), 0x1000, m));
        CHECK(fault_code(s, implicit(AccessType::READ), 0x1000, m) == pfec::P);
        // Read-only user page with AC=1: CR0.WP decides as for supervisor pages.
        CHECK(ok(s, write_access(), 0x3000, m));
        s.cr0 |= kCr0Wp;
        CHECK(fault_code(s, write_access(), 0x3000, m) == (pfec::P | pfec::W));
        // Implicit supervisor accesses at CPL 3: U/S=0 in the error code, AC ignored.
        s.cpl = 3;
        CHECK(fault_code(s, implicit(AccessType::READ), 0x1000, m) == pfec::P);
        CHECK(fault_code(s, implicit(AccessType::WRITE), 0x1000, m) == (pfec::P | pfec::W));
        CHECK(ok(s, implicit(AccessType::READ), 0x2000, m));
        CHECK(ok(s, read_access(), 0x1000, m));  // user-mode accesses are not affected
    }
}

}  // namespace xeno::paging::test
