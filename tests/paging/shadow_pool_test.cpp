// Shadow pool: many address spaces through a small pool (LRU eviction,
// the root limit, shared subtrees), exhaustion with only the active address
// space left (flush and refill), and every frame returned by destroy().
#include "tests/paging/shadow_fixture.hpp"

namespace xeno::paging::test {

namespace {

// `count` 4-level address spaces: each has its own PML4/PDPT/PD/PT for user
// pages at 0x40'0000, and all share one kernel PT (the same guest frame,
// so the same shadow subtree, reference-counted).
struct AddressSpaces {
    std::vector<PagingState> states;
    std::vector<u64> roots;

    AddressSpaces(Domain& d, unsigned count, PagingMode mode)
    {
        u64 next = 0x2000;
        const u64 shared_pt = next;
        next += 0x1000;
        for (unsigned i = 0; i < count; ++i) {
            const u64 root = next;
            next += 0x1000;
            GuestTables t(d, mode, root, next);
            t.map(0x40'0000, 0x20'0000 + (i % 64) * 0x1000, 1, P | RW | US | D);
            t.map(0x40'1000, 0x28'0000 + (i % 64) * 0x1000, 1, P | US);
            // The kernel range uses the shared page table.
            const u64 kernel_la = 0x80'0000;
            t.map(kernel_la, 0x30'0000, 1, P | RW | D);  // builds the path, then the PDE is replaced
            d.put(t.entry(kernel_la, 2), t.width(), shared_pt | P | RW | US);
            next = t.next_free();
            states.push_back(t.state());
            roots.push_back(root);
        }
        // The shared kernel page table: 8 pages.
        for (unsigned j = 0; j < 8; ++j)
            d.put(shared_pt + (mode == PagingMode::BITS32 ? 4 : 8) * j, mode == PagingMode::BITS32 ? 4 : 8,
                  (0x30'0000 + j * 0x1000) | P | RW | D);
    }
};

void run_address_spaces(PagingMode mode, unsigned count, u32 max_pages)
{
    Domain d(5);
    AddressSpaces as(d, count, mode);
    ShadowMmu mmu;
    REQUIRE(mmu.init(d.fa, &xeno::test::fake_map, d.p2m, max_pages) == Status::OK);
    mmu.set_guest_mode(as.states[0]);
    for (int round = 0; round < 3; ++round) {
        for (unsigned i = 0; i < count; ++i) {
            const PagingState& g = as.states[i];
            REQUIRE(mmu.activate(g).ok());
            check_access(mmu, d, g, 0x40'0000 + 8 * i, AccessType::WRITE, 3);
            check_access(mmu, d, g, 0x40'1000, AccessType::READ, 3);
            check_access(mmu, d, g, 0x40'1000, AccessType::WRITE, 3);
            check_access(mmu, d, g, 0x80'0000 + 0x1000 * (i % 8), AccessType::WRITE, 0);
            check_access(mmu, d, g, 0x80'0000, AccessType::READ, 3);
            check_oracle(mmu, d, g);
            REQUIRE(mmu.stats().pages_in_use <= max_pages);
            REQUIRE(mmu.stats().roots_cached <= max_pages / 4);
            // The active root is always cached.
            if (mode != PagingMode::PAE) CHECK(mmu.write_protected(as.roots[i] >> 12));
        }
    }
    CHECK(mmu.stats().evicted_roots > 0);
    CHECK(mmu.stats().root_misses > count);
    CHECK(mmu.stats().pages_peak <= max_pages);
    CHECK(mmu.stats().pages_peak >= max_pages / 2);
    mmu.destroy();
    CHECK(d.fa.free_frames() == d.free_before_init);
}

}  // namespace

TEST_CASE("shadow pool: 70 4-level address spaces in 40 pages", "[paging][shadow]")
{
    run_address_spaces(PagingMode::LEVEL4, 70, 40);
}

TEST_CASE("shadow pool: 66 32-bit address spaces in 24 pages", "[paging][shadow]")
{
    run_address_spaces(PagingMode::BITS32, 66, 24);
}

TEST_CASE("shadow pool: 64 PAE address spaces in 32 pages", "[paging][shadow]")
{
    run_address_spaces(PagingMode::PAE, 64, 32);
}

TEST_CASE("shadow pool: cached address spaces hit without refaults", "[paging][shadow]")
{
    Domain d(5);
    AddressSpaces as(d, 6, PagingMode::LEVEL4);
    ShadowMmu mmu;
    REQUIRE(mmu.init(d.fa, &xeno::test::fake_map, d.p2m, 128) == Status::OK);
    for (const PagingState& g : as.states) {
        REQUIRE(mmu.activate(g).ok());
        check_access(mmu, d, g, 0x40'0000, AccessType::WRITE, 3);
    }
    const u64 faults = mmu.stats().faults;
    for (const PagingState& g : as.states) {
        REQUIRE(mmu.activate(g).ok());
        check_access(mmu, d, g, 0x40'0000, AccessType::WRITE, 3);
    }
    CHECK(mmu.stats().faults == faults);
    CHECK(mmu.stats().root_hits == 6);
    CHECK(mmu.stats().roots_cached == 6);
    mmu.destroy();
    CHECK(d.fa.free_frames() == d.free_before_init);
}

TEST_CASE("shadow pool: one address space larger than the pool flushes and refills", "[paging][shadow]")
{
    Domain d(9);
    GuestTables t(d, PagingMode::LEVEL4, 0x1000, 0x2000);
    // 12 page tables (12 different 2 MiB ranges): 15 shadow pages, pool of 8.
    for (unsigned i = 0; i < 12; ++i) t.map(u64{i} << 21, 0x10'0000 + i * 0x1000, 1, P | RW | US | D);
    const PagingState g = t.state();
    ShadowMmu mmu;
    REQUIRE(mmu.init(d.fa, &xeno::test::fake_map, d.p2m, 8) == Status::OK);
    REQUIRE(mmu.activate(g).ok());
    for (int round = 0; round < 2; ++round)
        for (unsigned i = 0; i < 12; ++i) {
            check_access(mmu, d, g, (u64{i} << 21) | 0x10, AccessType::WRITE, 3);
            REQUIRE(mmu.stats().pages_in_use <= 8);
            check_oracle(mmu, d, g);
        }
    CHECK(mmu.stats().full_flushes > 0);
    CHECK(mmu.stats().pages_peak == 8);
    mmu.destroy();
    CHECK(d.fa.free_frames() == d.free_before_init);
}

TEST_CASE("shadow pool: init fails cleanly without memory; destroy is idempotent", "[paging][shadow]")
{
    Domain d(1);
    ShadowMmu mmu;
    CHECK(mmu.init(d.fa, &xeno::test::fake_map, d.p2m, 4) == Status::BAD_ARGUMENT);
    CHECK(mmu.init(d.fa, &xeno::test::fake_map, d.p2m, 1u << 24) == Status::NO_MEMORY);
    CHECK(d.fa.free_frames() == d.free_before_init);
    REQUIRE(mmu.init(d.fa, &xeno::test::fake_map, d.p2m, 16) == Status::OK);
    CHECK(mmu.init(d.fa, &xeno::test::fake_map, d.p2m, 16) == Status::BAD_STATE);
    mmu.destroy();
    mmu.destroy();
    CHECK(d.fa.free_frames() == d.free_before_init);
}

}  // namespace xeno::paging::test
