// Random translations cross-checked against an independent walker: the sim
// model's (sim/vmx-model/engine/paging.hpp, EPT off). Outcome, #PF error
// code, page and the A/D flags left in the tables must all agree.
//
// Known differences of the model's walker, kept out of the random space and
// covered by the unit tests instead: it has no SMAP, no implicit accesses,
// no PSE-36 (so 32-bit runs use MAXPHYADDR 32), treats bits 62:52 of 4-level
// entries as reserved (they are ignored, SDM Table 4-19) and sets I/D for
// fetches under 32-bit paging with EFER.NXE=1 (SDM 4.7 requires CR4.PAE).
#include <cstring>
#include <random>

#include "arch/x86/paging/guest_walk.hpp"
#include "sim/platform/machine_memory.hpp"
#include "sim/vmx-model/engine/paging.hpp"
#include "tests/paging/walk_fixture.hpp"

namespace xeno::paging::test {

namespace {

constexpr u64 kMemory = 4 << 20;
constexpr u64 kTables = 0x100000, kTablesEnd = 0x110000;

class RandomTables {
public:
    RandomTables(std::mt19937_64& rng, FakeMemory& m, PagingMode mode, const PagingState& s)
        : rng_(rng), m_(m), mode_(mode), s_(s)
    {
    }

    bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
    u64 below(u64 n) { return std::uniform_int_distribution<u64>(0, n - 1)(rng_); }

    // Build one path for `la` (which may be adjusted for large pages so the
    // final address stays inside memory); returns the address to walk.
    u64 build(u64 la)
    {
        const unsigned width = mode_ == PagingMode::BITS32 ? 4 : 8;
        const unsigned ib = mode_ == PagingMode::BITS32 ? 10 : 9;
        u64 table = s_.cr3 & (mode_ == PagingMode::PAE ? 0xffffffe0ull : ~u64{0xfff});
        unsigned level = mode_ == PagingMode::LEVEL4 ? 4 : 2;
        u64 next = kTables + 0x1000;
        if (mode_ == PagingMode::PAE) {
            u64 pdpte = next | (chance(0.95) ? P : 0);
            if (chance(0.05)) pdpte |= u64{1} << (chance(0.5) ? 1 : 55);
            m_.put(table + 8 * ((la >> 30) & 3), 8, pdpte);
            table = next;
            next += 0x1000;
        }
        for (;; --level) {
            const unsigned shift = 12 + ib * (level - 1);
            const u64 at = table + width * ((la >> shift) & ((u64{1} << ib) - 1));
            u64 e = (chance(0.93) ? P : 0) | (chance(0.75) ? RW : 0) | (chance(0.75) ? US : 0) |
                    (chance(0.5) ? A : 0) | (chance(0.5) ? D : 0) | (chance(0.2) ? G : 0) | (chance(0.2) ? PWT : 0);
            if (width == 8 && chance(0.2)) e |= XD;
            const bool large_ok = level == 3 || level == 2;
            const bool leaf = level == 1 || (large_ok && chance(0.35));
            if (leaf && level > 1) {
                e |= PS;
                const u64 size = u64{1} << shift;
                const u64 base = size >= kMemory ? 0 : below(kMemory / size) * size;
                e |= base;
                la &= ~(size - 1) | (kMemory - 1);  // the offset stays inside memory
                if (chance(0.05)) e |= u64{1} << 13;  // reserved in every large-page format
            } else if (leaf) {
                e |= below(kMemory >> 12) << 12;
            } else {
                e |= next;
                next += 0x1000;
                if (level == 4 && chance(0.03)) e |= PS;  // reserved in a PML4E
            }
            if (mode_ == PagingMode::PAE && chance(0.04)) e |= u64{1} << 58;  // reserved in PAE
            m_.put(at, width, e);
            // A 4 MiB PDE without CR4.PSE is walked as a table (of zeros here).
            if (leaf) break;
            table = e & (width == 4 ? 0xfffff000ull : 0x000ffffffffff000ull);
        }
        return la;
    }

private:
    std::mt19937_64& rng_;
    FakeMemory& m_;
    PagingMode mode_;
    const PagingState& s_;
};

}  // namespace

TEST_CASE("random translations agree with the sim model's walker", "[paging]")
{
    std::mt19937_64 rng(0x5eed'0001);
    sim::MachineMemory oracle_memory(kMemory);
    int compared = 0, oks = 0, faults = 0, rsvd = 0, skipped = 0;
    const PagingMode modes[] = {PagingMode::BITS32, PagingMode::PAE, PagingMode::LEVEL4};
    for (int iter = 0; iter < 900; ++iter) {
        const PagingMode mode = modes[iter % 3];
        FakeMemory m(kMemory);
        auto coin = [&] { return (rng() & 1) != 0; };
        PagingState s;
        s.cr0 = kCr0Pe | kCr0Pg | (coin() ? kCr0Wp : 0);
        s.cr4 = (coin() ? kCr4Smep : 0) | (coin() ? kCr4Pge : 0);
        s.cr3 = kTables;
        s.cpl = coin() ? 3 : 0;
        u64 la = rng();
        if (mode == PagingMode::BITS32) {
            s.cr4 |= coin() ? kCr4Pse : 0;
            s.maxphyaddr = 32;
            la &= 0xffffffff;
        } else {
            s.cr4 |= kCr4Pae;
            s.efer = coin() ? kEferNxe : 0;
            s.maxphyaddr = 52;
            if (mode == PagingMode::PAE) {
                s.cr3 |= (rng() & 0x7f) << 5;
                la &= 0xffffffff;
            } else {
                s.efer |= kEferLme | kEferLma;
                la &= 0x0000'ffff'ffff'ffffull;
            }
        }
        RandomTables gen(rng, m, mode, s);
        la = gen.build(la);
        const u64 kinds = rng() % 3;
        const AccessType type = kinds == 0 ? AccessType::READ : kinds == 1 ? AccessType::WRITE : AccessType::FETCH;

        std::memset(oracle_memory.data() + kTables, 0, kTablesEnd - kTables);
        std::memcpy(oracle_memory.data() + kTables, m.bytes().data() + kTables, kTablesEnd - kTables);
        sim::TranslationContext ctx;
        ctx.cr0 = s.cr0;
        ctx.cr3 = s.cr3;
        ctx.cr4 = s.cr4;
        ctx.efer = s.efer;
        ctx.user = s.cpl == 3;
        const sim::Access oacc = type == AccessType::READ    ? sim::Access::READ
                                 : type == AccessType::WRITE ? sim::Access::WRITE
                                                             : sim::Access::FETCH;
        const sim::WalkResult o = sim::translate_linear(oracle_memory, ctx, la, oacc);
        const WalkResult r = walk(s, Access{type, false, true}, la, m);
        if (o.status == sim::WalkStatus::NO_MEMORY) {
            ++skipped;
            continue;
        }
        INFO("iter " << iter << " mode " << int(mode) << " la " << std::hex << la << " cr4 " << s.cr4 << " efer "
                     << s.efer << " cr0 " << s.cr0 << " cpl " << int(s.cpl) << " type " << int(type));
        ++compared;
        if (o.status == sim::WalkStatus::OK) {
            ++oks;
            REQUIRE(r.outcome == WalkOutcome::OK);
            CHECK((r.gpa.value() & ~u64{0xfff}) == o.machine_page);
        } else {
            REQUIRE(o.status == sim::WalkStatus::PAGE_FAULT);
            ++faults;
            if (o.pf_error & pfec::RSVD) ++rsvd;
            REQUIRE(r.outcome == WalkOutcome::PAGE_FAULT);
            CHECK(r.error_code == o.pf_error);
        }
        CHECK(std::memcmp(oracle_memory.data() + kTables, m.bytes().data() + kTables, kTablesEnd - kTables) == 0);
    }
    INFO("compared " << compared << " ok " << oks << " faults " << faults << " rsvd " << rsvd << " skipped "
                     << skipped);
    CHECK(compared > 800);
    CHECK(oks > 150);
    CHECK(faults > 150);
    CHECK(rsvd > 20);
}

}  // namespace xeno::paging::test
