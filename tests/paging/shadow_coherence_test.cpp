// Shadow coherence: write protection of guest page tables, guest_wrote
// zapping, INVLPG, write-flood unshadowing, CR0.WP=0, mode-change flushes,
// MMIO and guest tables outside RAM.
#include "tests/paging/shadow_fixture.hpp"

namespace xeno::paging::test {

namespace {

struct Setup {
    Domain d;
    ShadowMmu mmu;
    GuestTables t;
    PagingState g;

    explicit Setup(PagingMode mode, u32 max_pages = 64, u64 root = 0x1000)
        : d(3), t(d, mode, root, 0x2000)
    {
        REQUIRE(mmu.init(d.fa, &xeno::test::fake_map, d.p2m, max_pages) == Status::OK);
    }
    void start(bool nxe = false)
    {
        g = t.state(nxe);
        mmu.set_guest_mode(g);
        REQUIRE(mmu.activate(g).ok());
    }
    // The emulator's write of `width` bytes at `gpa`, reported to the MMU.
    void guest_write(u64 gpa, unsigned width, u64 value)
    {
        d.put(gpa, width, value);
        mmu.guest_wrote(Gpa{gpa}, width);
    }
    AccessResult access(u64 la, AccessType type, u8 cpl = 0) { return cpu_access(mmu, d, g, la, type, cpl); }
    bool shadow_maps(u64 la) const
    {
        for (const ShadowLeaf& l : shadow_leaves(g, mmu.active_root()))
            if (l.la == (la & ~u64{0xfff})) return true;
        return false;
    }
    ~Setup()
    {
        mmu.destroy();
        CHECK(d.fa.free_frames() == d.free_before_init);
    }
};

}  // namespace

TEST_CASE("shadow: a frame that becomes a page table loses its writable mappings", "[paging][shadow]")
{
    Setup s(PagingMode::LEVEL4);
    s.t.map(0x70'0000, 0x5'0000, 1, P | RW | US | D);  // frame 0x50 is data for now
    s.t.map(0x40'0000, 0x6'0000, 1, P | RW | US | D);
    s.start();
    REQUIRE(s.access(0x70'0010, AccessType::WRITE).outcome == Outcome::OK);
    CHECK_FALSE(s.mmu.write_protected(0x50));
    // The guest (natively, through its writable mapping) fills frame 0x50
    // with a PTE, then links it as the page table for 0x80'0000.
    s.d.put(0x5'0000, 8, 0x7'0000 | P | RW | US | D);
    const u64 pde = s.t.entry(0x40'0000, 2) + 8 * 2;  // PDE 4 (0x80'0000), same PD
    s.guest_write(pde, 8, 0x5'0000 | P | RW | US);
    CHECK(s.mmu.stats().emulated_writes == 1);
    REQUIRE(s.access(0x80'0000, AccessType::READ).outcome == Outcome::OK);
    CHECK(s.mmu.write_protected(0x50));
    CHECK(s.mmu.stats().write_protections == 1);
    // The old data mapping is now read-only: writes are emulated.
    const AccessResult w = s.access(0x70'0018, AccessType::WRITE);
    CHECK(w.outcome == Outcome::EMULATE_WRITE);
    CHECK(w.gpa == 0x5'0018);
    check_oracle(s.mmu, s.d, s.g);
    // The emulated write lands and the walk through it sees the new PTE.
    s.guest_write(0x5'0000, 8, 0x7'1000 | P | RW | US | D);
    CHECK(s.mmu.stats().zapped_entries >= 1);
    const AccessResult r = s.access(0x80'0123, AccessType::READ);
    REQUIRE(r.outcome == Outcome::OK);
    CHECK(r.mfn == s.d.p2m.mfn(0x71));
    check_oracle(s.mmu, s.d, s.g);
}

TEST_CASE("shadow: guest_wrote zaps only the entries written (32-bit entries)", "[paging][shadow]")
{
    Setup s(PagingMode::BITS32);
    s.t.map(0x40'0000, 0x5'0000, 1, P | RW | US | D);
    s.t.map(0x40'1000, 0x5'1000, 1, P | RW | US | D);
    s.start();
    REQUIRE(s.access(0x40'0000, AccessType::WRITE).outcome == Outcome::OK);
    REQUIRE(s.access(0x40'1000, AccessType::WRITE).outcome == Outcome::OK);
    const u64 pte1 = s.t.entry(0x40'1000, 1);
    s.guest_write(pte1, 4, 0x5'2000 | P | US);  // second PTE only
    CHECK(s.shadow_maps(0x40'0000));
    CHECK_FALSE(s.shadow_maps(0x40'1000));
    CHECK(s.mmu.stats().zapped_entries == 1);
    const AccessResult r = s.access(0x40'1000, AccessType::READ, 3);
    REQUIRE(r.outcome == Outcome::OK);
    CHECK(r.mfn == s.d.p2m.mfn(0x52));
    const AccessResult w = s.access(0x40'1000, AccessType::WRITE, 3);
    CHECK(w.outcome == Outcome::GUEST_FAULT);
    CHECK(w.error_code == (pfec::P | pfec::W | pfec::U));
    // A write straddling two entries zaps both; a PDE write drops the table link.
    s.guest_write(pte1 - 2, 4, 0);
    CHECK_FALSE(s.shadow_maps(0x40'0000));
    REQUIRE(s.access(0x40'1000, AccessType::READ).outcome == Outcome::GUEST_FAULT);
    check_oracle(s.mmu, s.d, s.g);
}

TEST_CASE("shadow: INVLPG drops the leaf and the refault restores it", "[paging][shadow]")
{
    Setup s(PagingMode::PAE);
    s.t.map(0x40'0000, 0x5'0000, 1, P | RW | US);
    s.start(true);
    REQUIRE(s.access(0x40'0000, AccessType::READ).outcome == Outcome::OK);
    CHECK(s.shadow_maps(0x40'0000));
    const u64 zapped = s.mmu.stats().zapped_entries;
    s.mmu.invlpg(s.g, Gla{0x40'0abc});
    CHECK_FALSE(s.shadow_maps(0x40'0000));
    CHECK(s.mmu.stats().zapped_entries == zapped + 1);
    s.mmu.invlpg(s.g, Gla{0x9000'0000});  // nothing there: harmless
    // Clean page: read-only until the first write sets D.
    REQUIRE(s.access(0x40'0000, AccessType::READ).outcome == Outcome::OK);
    for (const ShadowLeaf& l : shadow_leaves(s.g, s.mmu.active_root())) CHECK_FALSE((l.entry & RW));
    REQUIRE(s.access(0x40'0000, AccessType::WRITE).outcome == Outcome::OK);
    CHECK((s.t.get(0x40'0000, 1) & D) == D);
    check_oracle(s.mmu, s.d, s.g);
}

TEST_CASE("shadow: a page table written over and over is unshadowed", "[paging][shadow]")
{
    Setup s(PagingMode::LEVEL4);
    s.t.map(0x40'0000, 0x5'0000, 1, P | RW | US | D);
    const u64 pt = s.t.entry(0x40'0000, 1) & ~u64{0xfff};
    s.t.map(0x60'0000, pt, 1, P | RW | US | D);  // the page table, mapped as data too
    s.start();
    REQUIRE(s.access(0x40'0000, AccessType::READ).outcome == Outcome::OK);
    REQUIRE(s.mmu.write_protected(pt >> 12));
    CHECK(s.access(0x60'0100, AccessType::WRITE).outcome == Outcome::EMULATE_WRITE);

    // Three writes, then a fault filled through the page: the counter restarts.
    for (int i = 0; i < 3; ++i) s.guest_write(pt + 8 * (1 + i), 8, 0x5'1000 | P | RW | US | D);
    REQUIRE(s.access(0x40'1000, AccessType::READ).outcome == Outcome::OK);
    for (int i = 0; i < 3; ++i) s.guest_write(pt + 0x100 + 8 * i, 8, 0);
    CHECK(s.mmu.stats().unshadowed == 0);
    CHECK(s.mmu.write_protected(pt >> 12));
    // The fourth write in a row: the frame is data now.
    s.guest_write(pt + 0x200, 8, 0);
    CHECK(s.mmu.stats().unshadowed == 1);
    CHECK_FALSE(s.mmu.write_protected(pt >> 12));
    REQUIRE(s.access(0x60'0100, AccessType::WRITE).outcome == Outcome::OK);  // native writes now
    check_oracle(s.mmu, s.d, s.g);
    // Used as a page table again: shadowed again and the data alias is read-only.
    REQUIRE(s.access(0x40'0000, AccessType::READ).outcome == Outcome::OK);
    CHECK(s.mmu.write_protected(pt >> 12));
    CHECK(s.mmu.stats().write_protections >= 1);
    check_oracle(s.mmu, s.d, s.g);
    // The active root is never unshadowed.
    for (int i = 0; i < 6; ++i) s.guest_write(0x1000 + 8 * 300, 8, 0);
    CHECK(s.mmu.stats().unshadowed == 1);
    CHECK(s.mmu.write_protected(1));
}

TEST_CASE("shadow: CR0.WP=0 supervisor writes to read-only pages", "[paging][shadow]")
{
    Setup s(PagingMode::BITS32);
    s.t.map(0x40'0000, 0x5'0000, 1, P | US | D);
    s.start();
    s.g.cr0 &= ~kCr0Wp;
    s.mmu.set_guest_mode(s.g);
    CHECK(s.mmu.stats().full_flushes == 1);
    REQUIRE(s.mmu.activate(s.g).ok());
    check_access(s.mmu, s.d, s.g, 0x40'0000, AccessType::WRITE, 0);
    std::vector<ShadowLeaf> leaves = shadow_leaves(s.g, s.mmu.active_root());
    REQUIRE(leaves.size() == 1);
    CHECK((leaves[0].entry & (RW | US)) == RW);  // writable, supervisor-only
    check_oracle(s.mmu, s.d, s.g);
    check_access(s.mmu, s.d, s.g, 0x40'0000, AccessType::READ, 3);  // refaults into the user read-only form
    leaves = shadow_leaves(s.g, s.mmu.active_root());
    REQUIRE(leaves.size() == 1);
    CHECK((leaves[0].entry & (RW | US)) == US);
    check_access(s.mmu, s.d, s.g, 0x40'0000, AccessType::WRITE, 3);  // the guest's own #PF
    check_oracle(s.mmu, s.d, s.g);
}

TEST_CASE("shadow: paging-control changes flush, unchanged ones do not", "[paging][shadow]")
{
    Setup s(PagingMode::LEVEL4);
    s.t.map(0x40'0000, 0x5'0000, 1, P | RW | US | D);
    s.start();
    REQUIRE(s.access(0x40'0000, AccessType::READ).outcome == Outcome::OK);
    REQUIRE(s.mmu.stats().pages_in_use == 4);
    s.mmu.set_guest_mode(s.g);
    CHECK(s.mmu.stats().full_flushes == 0);
    CHECK(s.mmu.stats().pages_in_use == 4);
    PagingState smep = s.g;
    smep.cr4 |= kCr4Smep;
    s.mmu.set_guest_mode(smep);
    CHECK(s.mmu.stats().full_flushes == 1);
    CHECK(s.mmu.stats().pages_in_use == 0);
    CHECK(s.mmu.stats().roots_cached == 0);
    CHECK(s.mmu.active_root().value() == 0);
    CHECK_FALSE(s.mmu.write_protected(1));
    s.g = smep;
    REQUIRE(s.mmu.activate(s.g).ok());
    check_access(s.mmu, s.d, s.g, 0x40'0000, AccessType::FETCH, 0);  // SMEP: the guest's #PF
    check_access(s.mmu, s.d, s.g, 0x40'0000, AccessType::READ, 3);
    check_oracle(s.mmu, s.d, s.g);
}

TEST_CASE("shadow: paging turned off drops every shadow; tables rewritten meanwhile are seen after", "[paging][shadow]")
{
    Setup s(PagingMode::BITS32);
    s.t.map(0x40'0000, 0x5'0000, 1, P | RW | US | D);
    s.start();
    REQUIRE(s.access(0x40'0000, AccessType::READ).outcome == Outcome::OK);
    REQUIRE(s.mmu.write_protected(s.t.root() >> 12));
    s.mmu.guest_paging_off();
    CHECK(s.mmu.stats().full_flushes == 1);
    CHECK(s.mmu.stats().pages_in_use == 0);
    CHECK_FALSE(s.mmu.write_protected(s.t.root() >> 12));
    s.mmu.guest_paging_off();  // still off: nothing more to drop
    CHECK(s.mmu.stats().full_flushes == 1);
    // Written natively while paging was off (no guest_wrote), then paging on
    // with the same CR3 and controls.
    s.d.put(s.t.entry(0x40'0000, 1), 4, 0x6'0000 | P | RW | US | D);
    s.start();
    const AccessResult r = s.access(0x40'0000, AccessType::READ);
    REQUIRE(r.outcome == Outcome::OK);
    CHECK(r.mfn == s.d.p2m.mfn(0x60));
    CHECK(s.mmu.stats().full_flushes == 1);  // the same controls as before: no flush at the way back
}

TEST_CASE("shadow: unprotect lets the processor write a frame still shadowed as a page table", "[paging][shadow]")
{
    // Address space A uses a page table; the guest switches to B and reuses
    // A's page table as a stack without touching A's directory: the cached
    // shadows of A still protect the frame. An event delivery writing there
    // needs it writable: unprotect drops those shadows.
    Setup s(PagingMode::BITS32);
    s.t.map(0x40'0000, 0x5'0000, 1, P | RW | US | D);
    const u64 a_pt = s.t.get(0x40'0000, 2) & ~u64{0xfff};
    s.start();
    REQUIRE(s.access(0x40'0000, AccessType::READ).outcome == Outcome::OK);
    REQUIRE(s.mmu.write_protected(a_pt >> 12));
    GuestTables b(s.d, PagingMode::BITS32, 0x8000, 0x9000);
    b.map(0x40'0000, 0x6'0000, 1, P | RW | US | D);
    PagingState gb = b.state();
    REQUIRE(s.mmu.activate(gb).ok());
    REQUIRE(cpu_access(s.mmu, s.d, gb, 0x40'0000, AccessType::READ, 0).outcome == Outcome::OK);
    CHECK(s.mmu.write_protected(a_pt >> 12));  // A's cached shadows
    CHECK(s.mmu.unprotect(a_pt >> 12));
    CHECK_FALSE(s.mmu.write_protected(a_pt >> 12));
    // B's own directory is the active root: it stays protected.
    CHECK_FALSE(s.mmu.unprotect(0x8));
    CHECK(s.mmu.write_protected(0x8));
    // Back in A the table is shadowed (and protected) again at the next walk.
    REQUIRE(s.mmu.activate(s.g).ok());
    REQUIRE(s.access(0x40'0000, AccessType::READ).outcome == Outcome::OK);
    CHECK(s.mmu.write_protected(a_pt >> 12));
    check_oracle(s.mmu, s.d, s.g);
}

TEST_CASE("shadow: MMIO and guest tables outside RAM", "[paging][shadow]")
{
    Setup s(PagingMode::LEVEL4);
    s.t.map(0x40'0000, 0x50'0000, 1, P | RW | US | D);  // past the 4 MiB of RAM
    s.t.map(0x60'0000, 0x5'0000, 1, P | RW | US | D);
    s.start();
    const AccessResult m = s.access(0x40'0abc, AccessType::WRITE);
    CHECK(m.outcome == Outcome::MMIO);
    CHECK(m.gpa == 0x50'0abc);
    CHECK_FALSE(s.shadow_maps(0x40'0000));
    // A PDE pointing at a page table past RAM: the walk reads all ones
    // there, a present entry with reserved bits: the guest's #PF, P|RSVD.
    s.guest_write(s.t.entry(0x60'0000, 2), 8, 0x60'0000 | P | RW | US);
    const AccessResult bad = s.access(0x60'0000, AccessType::READ);
    CHECK(bad.outcome == Outcome::GUEST_FAULT);
    CHECK((bad.error_code & (pfec::P | pfec::RSVD)) == (pfec::P | pfec::RSVD));
    check_oracle(s.mmu, s.d, s.g);
}

}  // namespace xeno::paging::test

namespace xeno::paging::test {

TEST_CASE("shadow: a clean alias of a dirty large page is not writable", "[paging][shadow]")
{
    Setup s(PagingMode::LEVEL4);
    s.t.map(0x40'0000, 0x20'0000, 2, P | RW | US | D);  // two PDEs, the same 2 MiB page
    s.t.map(0x60'0000, 0x20'0000, 2, P | RW | US | D);
    s.start();
    REQUIRE(s.access(0x40'0000, AccessType::WRITE).outcome == Outcome::OK);
    REQUIRE(s.access(0x60'0000, AccessType::WRITE).outcome == Outcome::OK);
    // The guest cleans the second alias; the first keeps its direct shadow.
    s.guest_write(s.t.entry(0x60'0000, 2), 8, 0x20'0000 | P | RW | US | PS);
    REQUIRE(s.access(0x60'1000, AccessType::READ).outcome == Outcome::OK);  // another 4 KiB of it
    check_oracle(s.mmu, s.d, s.g);
    REQUIRE(s.access(0x60'0000, AccessType::WRITE).outcome == Outcome::OK);
    CHECK((s.t.get(0x60'0000, 2) & D) == D);
    check_oracle(s.mmu, s.d, s.g);
}

TEST_CASE("shadow: PAE PDPTEs are taken from the CR3 load", "[paging][shadow]")
{
    Setup s(PagingMode::PAE);
    s.t.map(0x40'0000, 0x5'0000, 1, P | RW | US | D);
    s.t.map(0x4040'0000, 0x6'0000, 1, P | RW | US | D);  // PDPTE 1: another PD
    const u64 new_pd = s.t.get(0x4040'0000, 3) & ~u64{0xfff};
    s.start(true);
    auto load = [&] {
        P2mGuestMemory pm(s.d.p2m, &xeno::test::fake_map);
        const PdpteLoadResult pd = load_pae_pdptes(s.g, pm.memory());
        REQUIRE(pd.outcome == PdpteLoad::OK);
        s.g.pdptes_loaded = true;
        for (int i = 0; i < 4; ++i) s.g.pdptes[i] = pd.pdptes[i];
        REQUIRE(s.mmu.activate(s.g).ok());
    };
    load();
    REQUIRE(s.access(0x40'0000, AccessType::READ).outcome == Outcome::OK);
    REQUIRE(s.access(0x4040'0000, AccessType::READ).outcome == Outcome::OK);
    // The PDPT is not write-protected: the guest rewrites PDPTE 0 natively,
    // then reloads CR3 (the same value).
    s.d.put(s.t.root(), 8, new_pd | P);
    load();
    // One root, reloaded: no switch to another address space, so no hit.
    CHECK(s.mmu.stats().root_misses == 1);
    CHECK(s.mmu.stats().root_hits == 0);
    // Re-linked at the load to the cached shadow of the new PD: no fault.
    const u64 faults = s.mmu.stats().faults;
    const AccessResult r = s.access(0x40'0000, AccessType::READ);
    REQUIRE(r.outcome == Outcome::OK);
    CHECK(r.mfn == s.d.p2m.mfn(0x60));
    CHECK(s.mmu.stats().faults == faults);
    check_oracle(s.mmu, s.d, s.g);
}

}  // namespace xeno::paging::test
