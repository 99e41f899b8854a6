// Randomized shadow test: a guest that keeps rewriting its page tables
// (through the emulator, so guest_wrote hears of it), switching address
// spaces, flushing its TLB and toggling CR0.WP, with the shadow oracle
// checked after every step. Seeded; the seed and step are printed on failure.
#include "tests/paging/shadow_fixture.hpp"

namespace xeno::paging::test {

namespace {

class RandomGuest {
public:
    RandomGuest(PagingMode mode, u32 seed, u32 max_pages) : mode_(mode), d_(seed), rng_(seed)
    {
        REQUIRE(mmu_.init(d_.fa, &xeno::test::fake_map, d_.p2m, max_pages) == Status::OK);
        max_pages_ = max_pages;
        nxe_ = mode != PagingMode::BITS32;
        // Three address spaces, roots in frames 1, 2, 3, tables after them.
        u64 next = 0x4000;
        for (unsigned a = 0; a < 3; ++a) {
            GuestTables t(d_, mode, 0x1000 * (a + 1), next);
            for (u64 base : bases()) {
                for (unsigned p = 0; p < 4; ++p)
                    t.map(base + p * 0x1000, 0x10'0000 + ((rng_() % 96) << 12), 1, leaf_flags(1));
            }
            next = t.next_free();
            states_.push_back(t.state(nxe_));
        }
        // PAE PDPTs stay out of the pool: a PDPTE change needs a CR3 load
        // (and a reserved bit there a #GP), which this guest does not model.
        for (u64 f = mode == PagingMode::PAE ? 0x4000 : 0x1000; f < next; f += 0x1000) table_frames_.push_back(f);
        current_ = 0;
        mmu_.set_guest_mode(states_[0]);
        activate(0);
    }

    ~RandomGuest()
    {
        mmu_.destroy();
        CHECK(d_.fa.free_frames() == d_.free_before_init);
    }

    void step()
    {
        const unsigned r = rng_() % 100;
        if (r < 45) {
            random_access();
        } else if (r < 80) {
            mutate();
        } else if (r < 88) {
            mmu_.invlpg(g(), Gla{random_la()});
        } else if (r < 97) {
            activate(static_cast<unsigned>(rng_() % states_.size()));
        } else if (r < 98) {
            paging_off_episode();
        } else {
            for (PagingState& s : states_) s.cr0 ^= kCr0Wp;
            mmu_.set_guest_mode(g());
            activate(current_);
        }
        check_oracle(mmu_, d_, g());
        REQUIRE(mmu_.stats().pages_in_use <= max_pages_);
    }

    const ShadowStats& stats() const { return mmu_.stats(); }

private:
    std::vector<u64> bases() const
    {
        if (mode_ == PagingMode::LEVEL4) return {0x40'0000, 0x60'0000, 0xc000'0000, 0x80'0000'0000, 0xffff'8000'0000'0000};
        return {0x40'0000, 0x60'0000, 0xc000'0000, 0xc080'0000};
    }
    unsigned width() const { return mode_ == PagingMode::BITS32 ? 4 : 8; }
    unsigned top() const { return mode_ == PagingMode::LEVEL4 ? 4 : mode_ == PagingMode::PAE ? 3 : 2; }
    PagingState& g() { return states_[current_]; }

    u64 random_la()
    {
        const std::vector<u64> b = bases();
        return b[rng_() % b.size()] + (rng_() % 6) * 0x1000 + (rng_() % 0x1000 & ~u64{7});
    }

    u64 bit_if(u64 b, unsigned percent) { return rng_() % 100 < percent ? b : 0; }

    u64 leaf_flags(unsigned level)
    {
        u64 f = P | bit_if(RW, 60) | bit_if(US, 60) | bit_if(A, 50) | bit_if(D, 40) | bit_if(PWT, 15) | bit_if(PCD, 15);
        if (level == 1) f |= bit_if(PS, 10);            // the PAT bit of a 4 KiB leaf
        else f |= bit_if(u64{1} << 12, 10);               // the PAT bit of a large leaf
        if (nxe_) f |= bit_if(XD, 30);
        return f;
    }

    void activate(unsigned a)
    {
        current_ = a;
        if (mode_ == PagingMode::PAE) {
            P2mGuestMemory pm(d_.p2m, &xeno::test::fake_map);
            const PdpteLoadResult pd = load_pae_pdptes(g(), pm.memory());
            REQUIRE(pd.outcome == PdpteLoad::OK);
            g().pdptes_loaded = true;
            for (int i = 0; i < 4; ++i) g().pdptes[i] = pd.pdptes[i];
        }
        REQUIRE(mmu_.activate(g()).ok());
    }

    void random_access()
    {
        const u64 la = random_la();
        const AccessType t = static_cast<AccessType>(rng_() % 3);
        const u8 cpl = rng_() % 2 ? 3 : 0;
        check_access(mmu_, d_, g(), la, t, cpl);
        const WalkResult w = guest_view(d_, g(), la, t, cpl);
        if (t == AccessType::WRITE && w.outcome == WalkOutcome::OK && mmu_.write_protected(w.gpa.frame())) {
            // The emulator carries the write out: an entry-sized store.
            const u64 gpa = w.gpa.value() & ~u64{width() - 1};
            write(gpa, width(), rng_() % 4 ? d_.get(gpa, width()) : random_entry(1 + rng_() % top()));
        }
    }

    u64 random_entry(unsigned level)
    {
        if (rng_() % 100 < 15) return 0;
        const bool large_ok = (level == 2) || (level == 3 && mode_ == PagingMode::LEVEL4);
        if (level == 1 || (large_ok && rng_() % 100 < 30)) {
            if (level == 1) {
                u64 frame;
                const unsigned pick = rng_() % 100;
                if (pick < 10) frame = table_frames_[rng_() % table_frames_.size()];  // a page table as data
                else if (pick < 15) frame = 0x50'0000 + ((rng_() % 16) << 12);      // past RAM
                else frame = 0x10'0000 + ((rng_() % 96) << 12);
                return frame | leaf_flags(1);
            }
            const u64 size = level == 3 ? (u64{1} << 30) : mode_ == PagingMode::BITS32 ? (u64{4} << 20) : (u64{2} << 20);
            return (size * (rng_() % 3)) | PS | leaf_flags(level);
        }
        // A table: any existing table frame (levels may mix) or a data frame.
        const u64 frame = rng_() % 100 < 85 ? table_frames_[rng_() % table_frames_.size()]
                                            : 0x10'0000 + ((rng_() % 96) << 12);
        return frame | P | bit_if(RW, 80) | bit_if(US, 80) | bit_if(A, 50) | (nxe_ ? bit_if(XD, 10) : 0);
    }

    // The guest rewrites one entry on the path of a random address
    // (`notify`: through the emulator, which tells the shadow).
    void mutate(bool notify = true)
    {
        const u64 la = random_la();
        const unsigned lowest = 1;
        const unsigned highest = mode_ == PagingMode::PAE ? 2 : top();  // PDPTEs change only at CR3 load
        const unsigned level = lowest + static_cast<unsigned>(rng_() % (highest - lowest + 1));
        // Find the entry by walking the current tables (stop at a hole or a large page).
        const GuestTables t(d_, mode_, g().cr3 & ~u64{0x1f}, 0);
        u64 table = mode_ == PagingMode::PAE ? 0 : (g().cr3 & t.addr_mask());
        for (unsigned l = top();; --l) {
            u64 e;
            if (mode_ == PagingMode::PAE && l == 3) e = g().pdptes[t.index(la, 3)];
            else e = d_.get(table + width() * t.index(la, l), width());
            if (l == level) break;
            if (!(e & P) || (l > 1 && (e & PS))) return;
            table = e & t.addr_mask();
            if (table >= Domain::kGuestFrames << 12) return;
        }
        const u64 gpa = table + width() * t.index(la, level);
        const u64 value = random_entry(level);
        const unsigned w = width() == 8 && rng_() % 5 == 0 ? 4 : width();  // sometimes a half-entry store
        if (notify) write(gpa, w, value);
        else d_.put(gpa, w, value);
    }

    // CR0.PG=0: the guest rewrites entries natively (no guest_wrote: the
    // physical-mode tables do not write-protect anything), then turns
    // paging back on with the same CR3.
    void paging_off_episode()
    {
        mmu_.guest_paging_off();
        const unsigned writes = 1 + static_cast<unsigned>(rng_() % 4);
        for (unsigned n = 0; n < writes; ++n) mutate(false);
        mmu_.set_guest_mode(g());
        activate(current_);
    }

    void write(u64 gpa, unsigned w, u64 value)
    {
        d_.put(gpa, w, value);
        mmu_.guest_wrote(Gpa{gpa}, w);
    }

    PagingMode mode_;
    Domain d_;
    ShadowMmu mmu_;
    std::mt19937_64 rng_;
    u32 max_pages_ = 0;
    bool nxe_ = false;
    std::vector<PagingState> states_;
    std::vector<u64> table_frames_;
    unsigned current_ = 0;
};

void run_random(PagingMode mode, u32 max_pages, unsigned seeds, unsigned steps)
{
    ShadowStats total;
    for (u32 seed = 1; seed <= seeds; ++seed) {
        RandomGuest rg(mode, seed, max_pages);
        for (unsigned s = 0; s < steps; ++s) {
            INFO("seed " << seed << " step " << s);
            rg.step();
        }
        total.fills += rg.stats().fills;
        total.zapped_entries += rg.stats().zapped_entries;
        total.emulated_writes += rg.stats().emulated_writes;
        total.unshadowed += rg.stats().unshadowed;
        total.write_protections += rg.stats().write_protections;
        total.evicted_roots += rg.stats().evicted_roots;
        total.full_flushes += rg.stats().full_flushes;
    }
    // The run exercised what it is meant to.
    CHECK(total.fills > 100);
    CHECK(total.zapped_entries > 10);
    CHECK(total.emulated_writes > 10);
    CHECK(total.full_flushes > 0);
}

}  // namespace

TEST_CASE("shadow random: 32-bit paging", "[paging][shadow][random]") { run_random(PagingMode::BITS32, 24, 12, 400); }
TEST_CASE("shadow random: PAE paging", "[paging][shadow][random]") { run_random(PagingMode::PAE, 24, 12, 400); }
TEST_CASE("shadow random: 4-level paging", "[paging][shadow][random]") { run_random(PagingMode::LEVEL4, 32, 12, 400); }

}  // namespace xeno::paging::test
