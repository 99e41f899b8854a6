// The shadow oracle over each guest paging mode: accesses run on the shadow
// tables (a simulated CPU) agree with the guest's own tables, and every
// shadow leaf maps p2m[guest gpa] with no more rights than the guest gives.
#include "tests/paging/shadow_fixture.hpp"

namespace xeno::paging::test {

namespace {

constexpr u64 kPatLarge = u64{1} << 12;


void sweep(ShadowMmu& mmu, Domain& d, const PagingState& g, const std::vector<u64>& addresses)
{
    for (int round = 0; round < 2; ++round)  // the second round finds the shadows in place
        for (u64 la : addresses)
            for (AccessType t : {AccessType::READ, AccessType::WRITE, AccessType::FETCH})
                for (u8 cpl : {u8{0}, u8{3}}) check_access(mmu, d, g, la, t, cpl);
    check_oracle(mmu, d, g);
}

std::vector<u64> pages_of(u64 la, unsigned count, u64 stride = 0x1000)
{
    std::vector<u64> v;
    for (unsigned i = 0; i < count; ++i) v.push_back(la + i * stride + 0x123);
    return v;
}

void append(std::vector<u64>& a, const std::vector<u64>& b) { a.insert(a.end(), b.begin(), b.end()); }

const u64 kLeafFlags[] = {P | RW | US, P | US, P | RW, P | RW | US | D, P | RW | A | D | PCD, P | US | PWT, P | RW | US | D | PS /*PAT*/};

}  // namespace

TEST_CASE("shadow oracle: 32-bit paging with 4 KiB and 4 MiB pages", "[paging][shadow]")
{
    Domain d(7);
    ShadowMmu mmu;
    REQUIRE(mmu.init(d.fa, &xeno::test::fake_map, d.p2m, 64) == Status::OK);
    GuestTables t(d, PagingMode::BITS32, 0x1000, 0x2000);
    for (unsigned i = 0; i < 28; ++i) t.map(0x0040'0000 + i * 0x1000, 0x10'0000 + i * 0x1000, 1, kLeafFlags[i % 7]);
    t.map(0x0080'0000, 0x0000'0000, 2, P | RW | US);        // 4 MiB over all guest RAM (page tables included)
    t.map(0x00c0'0000, 0x0040'0000, 2, P | RW | US);        // 4 MiB past guest RAM: MMIO
    t.map(0x0100'0000, 0x0000'0000, 2, P | PCD | kPatLarge);  // supervisor read-only, another memory type
    t.map(0x0300'0000, 0x20'0000, 1, P | RW | US, P | US);  // writable leaf under a read-only table
    t.map(0xffc0'0000, 0x21'0000, 1, P | RW | US | D);
    const PagingState g = t.state();
    mmu.set_guest_mode(g);
    Result<Hpa> root = mmu.activate(g);
    REQUIRE(root.ok());
    CHECK(root.value().value() < (u64{1} << 32));

    std::vector<u64> las = pages_of(0x0040'0000, 28);
    append(las, pages_of(0x0080'0000, 12, 0x5'3000));
    append(las, pages_of(0x00c0'0000, 3, 0x10'0000));
    append(las, pages_of(0x0100'0000, 4, 0x9'1000));
    append(las, {0x0300'0123, 0xffc0'0456, 0x0200'0000, 0x0040'0000 + 40 * 0x1000});
    sweep(mmu, d, g, las);
    CHECK(mmu.stats().fills > 0);
    CHECK(mmu.stats().guest_faults > 0);
    CHECK(mmu.stats().pages_in_use <= 64);

    // A and D as the processor sets them: the first write to a clean page.
    CHECK((t.get(0x0040'0000, 1) & (A | D)) == (A | D));
    CHECK((t.get(0x0040'0000, 2) & A) == A);
    CHECK((t.get(0x0080'0000, 2) & (A | D)) == (A | D));

    // The guest's page tables (frames 1..) are shadowed, so never writable:
    // a write to them through the 4 MiB alias is emulated.
    CHECK(mmu.write_protected(1));
    CHECK(mmu.write_protected(2));
    const AccessResult w = cpu_access(mmu, d, g, 0x0080'0000 + 0x2010, AccessType::WRITE, 0);
    CHECK(w.outcome == Outcome::EMULATE_WRITE);
    CHECK(w.gpa == 0x2010);
    mmu.destroy();
    CHECK(d.fa.free_frames() == d.free_before_init);
}

TEST_CASE("shadow oracle: PAE paging with 2 MiB pages, NX and a 32-byte-aligned CR3", "[paging][shadow]")
{
    Domain d(11);
    ShadowMmu mmu;
    REQUIRE(mmu.init(d.fa, &xeno::test::fake_map, d.p2m, 64) == Status::OK);
    GuestTables t(d, PagingMode::PAE, 0x1060, 0x2000);  // PDPT in the 4th 32-byte slot of frame 1
    for (unsigned i = 0; i < 21; ++i)
        t.map(0x0040'0000 + i * 0x1000, 0x10'0000 + i * 0x1000, 1, kLeafFlags[i % 7] | (i % 3 == 0 ? XD : 0));
    t.map(0x0060'0000, 0x0020'0000, 2, P | RW | US);             // 2 MiB
    t.map(0x0080'0000, 0x0000'0000, 2, P | RW | US | XD);        // 2 MiB, no execute, page tables inside
    t.map(0x00a0'0000, 0x0060'0000, 2, P | RW | US);             // past guest RAM: MMIO
    t.map(0x4000'0000, 0x0020'0000, 2, P | US | kPatLarge | D);  // read-only user, PAT
    t.map(0xc000'0000, 0x30'0000, 1, P | RW | US | D, P | RW);   // supervisor-only table
    t.map(0xc000'1000, 0x30'1000, 1, P | RW | US | D | XD, P | RW);
    PagingState g = t.state(true);
    const PdpteLoadResult pd = [&] {
        P2mGuestMemory pm(d.p2m, &xeno::test::fake_map);
        return load_pae_pdptes(g, pm.memory());
    }();
    REQUIRE(pd.outcome == PdpteLoad::OK);
    g.pdptes_loaded = true;
    for (int i = 0; i < 4; ++i) g.pdptes[i] = pd.pdptes[i];
    mmu.set_guest_mode(g);
    REQUIRE(mmu.activate(g).ok());

    std::vector<u64> las = pages_of(0x0040'0000, 22);
    append(las, pages_of(0x0060'0000, 6, 0x5'1000));
    append(las, pages_of(0x0080'0000, 6, 0x4'3000));
    append(las, pages_of(0x00a0'0000, 2, 0x10'0000));
    append(las, pages_of(0x4000'0000, 4, 0x7'0000));
    append(las, {0xc000'0abc, 0xc000'1abc, 0x8000'0000, 0xc020'0000});
    sweep(mmu, d, g, las);
    CHECK(mmu.stats().pages_in_use <= 64);
    CHECK(mmu.write_protected(2));
    CHECK_FALSE(mmu.write_protected(1));  // the PDPT itself: PDPTEs are reloaded at CR3 load only

    // A second PAE address space in another slot of the same frame gets its own root.
    GuestTables t2(d, PagingMode::PAE, 0x1000, t.next_free());
    t2.map(0x0040'0000, 0x31'0000, 1, P | RW | US | D);
    PagingState g2 = t2.state(true);
    REQUIRE(mmu.activate(g2).ok());
    CHECK(mmu.stats().root_misses == 2);
    check_access(mmu, d, g2, 0x0040'0123, AccessType::WRITE, 3);
    check_oracle(mmu, d, g2);
    REQUIRE(mmu.activate(g).ok());
    CHECK(mmu.stats().root_hits == 1);
    check_oracle(mmu, d, g);
    mmu.destroy();
    CHECK(d.fa.free_frames() == d.free_before_init);
}

TEST_CASE("shadow oracle: 4-level paging with 2 MiB and 1 GiB pages", "[paging][shadow]")
{
    Domain d(13);
    ShadowMmu mmu;
    REQUIRE(mmu.init(d.fa, &xeno::test::fake_map, d.p2m, 96) == Status::OK);
    GuestTables t(d, PagingMode::LEVEL4, 0x1000, 0x2000);
    for (unsigned i = 0; i < 21; ++i)
        t.map(0x0040'0000 + i * 0x1000, 0x10'0000 + i * 0x1000, 1, kLeafFlags[i % 7] | (i % 4 == 1 ? XD : 0));
    t.map(0x0060'0000, 0x0020'0000, 2, P | RW | US | D);
    t.map(0x4000'0000, 0x0000'0000, 3, P | RW | US);           // 1 GiB from guest-physical 0: RAM then MMIO
    t.map(0x80'0000'0000, 0x0000'0000, 3, P | US | XD | PWT);  // 1 GiB, user read-only, no execute
    t.map(0xffff'8000'0000'0000, 0x32'0000, 1, P | RW | D);     // kernel half
    t.map(0x7f'ffff'f000, 0x33'0000, 1, P | RW | US, P | RW | US | XD);  // no-execute from the table above
    const PagingState g = t.state(true);
    mmu.set_guest_mode(g);
    REQUIRE(mmu.activate(g).ok());

    std::vector<u64> las = pages_of(0x0040'0000, 22);
    append(las, pages_of(0x0060'0000, 4, 0x7'1000));
    append(las, pages_of(0x4000'0000, 8, 0x3'3000));        // within guest RAM, several 2 MiB ranges
    append(las, pages_of(0x4000'0000, 3, 0x1000'0000));     // past guest RAM
    append(las, pages_of(0x80'0000'0000, 6, 0x9'9000));
    append(las, {0xffff'8000'0000'0abc, 0x7f'ffff'f123, 0x1234'5678'9000});
    sweep(mmu, d, g, las);
    CHECK(mmu.stats().pages_in_use <= 96);
    CHECK((t.get(0x4000'0000, 3) & (A | D)) == (A | D));
    mmu.destroy();
    CHECK(d.fa.free_frames() == d.free_before_init);
}

// A recursive slot (a PDE or PML4E pointing at its own table), as Windows and
// many kernels map their page tables: the same guest frame is then a table
// at two levels at once, and its entries are also data pages. The shadow must
// keep each view right and every table frame read-only through all of them.
TEST_CASE("shadow oracle: a self-referencing page table (recursive PDE / PML4E)", "[paging][shadow]")
{
    const PagingMode mode = GENERATE(PagingMode::BITS32, PagingMode::LEVEL4);
    CAPTURE(int(mode));
    Domain d(7);
    ShadowMmu mmu;
    REQUIRE(mmu.init(d.fa, &xeno::test::fake_map, d.p2m, 64) == Status::OK);
    GuestTables t(d, mode, 0x1000, 0x2000);
    for (unsigned i = 0; i < 8; ++i) t.map(0x0040'0000 + i * 0x1000, 0x10'0000 + i * 0x1000, 1, kLeafFlags[i % 7]);
    const bool bits32 = mode == PagingMode::BITS32;
    const unsigned slot = bits32 ? 0x300 : 0x1fe;
    d.put(t.root() + slot * t.width(), t.width(), t.root() | P | RW | US);
    // Through the slot: the tables under the root appear as pages at
    // `window`, the root itself at `self`.
    const u64 window = bits32 ? 0xc000'0000 : 0xffff'ff00'0000'0000;
    const u64 self = bits32 ? window + u64{slot} * 0x1000 : 0xffff'ff7f'bfdf'e000;
    const PagingState g = t.state();
    mmu.set_guest_mode(g);
    REQUIRE(mmu.activate(g).ok());

    std::vector<u64> las = pages_of(0x0040'0000, 8);
    if (bits32) {
        append(las, {window + 1 * 0x1000 + 0x10, self + 0x10, self + slot * 4});  // PT of 4 MiB..8 MiB; the PD twice
    } else {
        const u64 pdpt_view = 0xffff'ff7f'bfc0'0000;  // the level-3 table for la 0 seen as a page
        append(las, {self + 0x10, self + slot * 8, pdpt_view + 0x20, window + 0x40'0000});
    }
    sweep(mmu, d, g, las);
    // The root is a table: not writable through any view; a write through
    // the recursive slot is emulated, and the emulated write lands in it.
    CHECK(mmu.write_protected(t.root() >> 12));
    const AccessResult w = cpu_access(mmu, d, g, self + 8 * t.width(), AccessType::WRITE, 0);
    REQUIRE(w.outcome == Outcome::EMULATE_WRITE);
    CHECK(w.gpa == t.root() + 8 * t.width());
    // The guest rewrites its own root entry through the slot (the emulator
    // then tells the shadow): the next access sees the new mapping.
    const u64 la = 0x0040'0000;
    const u64 entry = t.entry(la, t.top());
    REQUIRE(d.get(entry, t.width()) & P);
    d.put(entry, t.width(), 0);
    mmu.guest_wrote(Gpa{entry}, t.width());
    const AccessResult after = cpu_access(mmu, d, g, la, AccessType::READ, 0);
    CHECK(after.outcome == Outcome::GUEST_FAULT);
    check_oracle(mmu, d, g);
    mmu.destroy();
    CHECK(d.fa.free_frames() == d.free_before_init);
}

}  // namespace xeno::paging::test
