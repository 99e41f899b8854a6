// Shadow MMU test fixture: a domain (frame allocator, scrambled p2m, guest
// page tables in guest RAM), a simulated CPU that runs accesses on the
// SHADOW tables and hands its #PFs to the shadow MMU, and the shadow oracle:
// every present shadow leaf is checked against a walk of the guest tables.
#pragma once

#include <catch2/catch.hpp>

#include <cstring>
#include <random>
#include <vector>

#include "arch/x86/paging/guest_walk_p2m.hpp"
#include "arch/x86/paging/shadow.hpp"
#include "mm/frame_allocator.hpp"
#include "mm/p2m.hpp"
#include "tests/core/fake_memory.hpp"
#include "tests/paging/walk_fixture.hpp"

namespace xeno::paging::test {

// Machine memory read directly (the shadow tables), for walks of the shadow.
inline GuestMemory machine_memory()
{
    return GuestMemory{
        nullptr,
        [](void*, Gpa a, unsigned width) -> Result<u64> {
            if (a.value() + width > xeno::test::kFakeMemoryBytes) return Status::NOT_FOUND;
            u64 v = 0;
            std::memcpy(&v, xeno::test::fake_map(Hpa{a.value()}), width);
            return v;
        },
        [](void*, Gpa, unsigned, u64, u64) -> Result<bool> { return Status::UNSUPPORTED; },
    };
}

struct Domain {
    static constexpr u64 kGuestFrames = 1024;  // 4 MiB of guest RAM

    mm::FrameAllocator fa;
    mm::P2m p2m;
    u64 free_before_init = 0;

    explicit Domain(u32 seed = 1)
    {
        xeno::test::fake_memory_reset();
        const MemoryRegion regions[] = {{0, xeno::test::kFakeMemoryBytes, MemoryRegion::Type::USABLE}};
        REQUIRE(fa.init(regions, 1, nullptr, 0, &xeno::test::fake_map) == Status::OK);
        REQUIRE(p2m.init(fa, kGuestFrames, &xeno::test::fake_map) == Status::OK);
        REQUIRE(p2m.populate(fa) == Status::OK);
        // Scramble guest -> machine order so identity bugs show.
        std::mt19937 rng(seed);
        for (u64 g = 0; g < kGuestFrames; ++g) {
            const u64 o = rng() % kGuestFrames;
            const u64 a = p2m.mfn(g), b = p2m.mfn(o);
            REQUIRE(p2m.set(g, b) == Status::OK);
            REQUIRE(p2m.set(o, a) == Status::OK);
        }
        free_before_init = fa.free_frames();
    }

    u64 get(u64 gpa, unsigned width) const
    {
        u64 v = 0;
        REQUIRE(p2m.copy_from_guest(&v, Gpa{gpa}, width) == Status::OK);
        return v;
    }
    void put(u64 gpa, unsigned width, u64 v) { REQUIRE(p2m.copy_to_guest(Gpa{gpa}, &v, width, nullptr) == Status::OK); }
};

// Guest page tables of one mode in a Domain's RAM; tables from `next` up.
class GuestTables {
public:
    GuestTables(Domain& d, PagingMode mode, u64 root, u64 next) : d_(d), mode_(mode), root_(root), next_(next) {}

    unsigned width() const { return mode_ == PagingMode::BITS32 ? 4 : 8; }
    unsigned top() const { return mode_ == PagingMode::LEVEL4 ? 4 : mode_ == PagingMode::PAE ? 3 : 2; }
    u64 root() const { return root_; }
    u64 next_free() const { return next_; }
    u64 addr_mask() const { return mode_ == PagingMode::BITS32 ? 0xfffff000ull : 0x000ffffffffff000ull; }

    u64 index(u64 la, unsigned level) const
    {
        if (mode_ == PagingMode::BITS32) return (la >> (12 + 10 * (level - 1))) & 0x3ff;
        if (mode_ == PagingMode::PAE && level == 3) return (la >> 30) & 3;
        return (la >> (12 + 9 * (level - 1))) & 0x1ff;
    }

    // Address of the entry for `la` at `level` (tables above must exist).
    u64 entry(u64 la, unsigned level) const
    {
        u64 table = root_;
        for (unsigned l = top();; --l) {
            const u64 a = table + width() * index(la, l);
            if (l == level) return a;
            table = d_.get(a, width()) & addr_mask();
        }
    }

    // Map la -> pa with a leaf at `leaf_level`; new upper entries get `upper`.
    void map(u64 la, u64 pa, unsigned leaf_level, u64 leaf_flags, u64 upper = P | RW | US)
    {
        u64 table = root_;
        for (unsigned l = top(); l > leaf_level; --l) {
            const u64 a = table + width() * index(la, l);
            u64 e = d_.get(a, width());
            if (!(e & P)) {
                e = next_ | (mode_ == PagingMode::PAE && l == 3 ? P : upper);
                next_ += 0x1000;
                d_.put(a, width(), e);
            }
            table = e & addr_mask();
        }
        d_.put(table + width() * index(la, leaf_level), width(), pa | leaf_flags | (leaf_level > 1 ? PS : 0));
    }

    u64 get(u64 la, unsigned level) const { return d_.get(entry(la, level), width()); }

    PagingState state(bool nxe = false) const
    {
        PagingState s;
        s.cr0 = kCr0Pe | kCr0Pg | kCr0Wp;
        s.cr3 = root_;
        s.maxphyaddr = 36;
        if (mode_ == PagingMode::BITS32) s.cr4 = kCr4Pse;
        if (mode_ == PagingMode::PAE) s.cr4 = kCr4Pae;
        if (mode_ == PagingMode::LEVEL4) {
            s.cr4 = kCr4Pae;
            s.efer = kEferLme | kEferLma;
        }
        if (nxe) s.efer |= kEferNxe;
        return s;
    }

private:
    Domain& d_;
    PagingMode mode_;
    u64 root_;
    u64 next_;
};

// The real paging state the processor runs with on the shadow tables.
inline PagingState shadow_state(const PagingState& guest, Hpa root, u8 cpl)
{
    PagingState s;
    s.cr0 = kCr0Pe | kCr0Pg | kCr0Wp;  // the real CR0.WP is always 1
    s.cr3 = root.value();
    s.cpl = cpl;
    s.maxphyaddr = 36;
    const PagingMode m = paging_mode(guest);
    if (m != PagingMode::BITS32) s.cr4 = kCr4Pae;  // no PSE: shadows have no large pages
    if (m == PagingMode::LEVEL4) s.efer = kEferLme | kEferLma;
    if (m != PagingMode::BITS32 && (guest.efer & kEferNxe)) s.efer |= kEferNxe;
    s.cr4 |= guest.cr4 & (kCr4Smep | kCr4Smap);  // the real CR4 mirrors the guest's SMEP/SMAP
    return s;
}

enum class Outcome { OK, GUEST_FAULT, EMULATE_WRITE, MMIO, ERROR, STUCK };

struct AccessResult {
    Outcome outcome = Outcome::ERROR;
    u64 mfn = 0;         // OK: machine frame reached
    u32 error_code = 0;  // GUEST_FAULT
    u64 gpa = 0;         // EMULATE_WRITE / MMIO
};

// A simulated CPU access on the shadow: walk the shadow tables; on a fault,
// hand the hardware error code to the shadow MMU as the #PF exit would, and
// retry after FIXED.
inline AccessResult cpu_access(ShadowMmu& mmu, Domain& d, const PagingState& guest, u64 la, AccessType type, u8 cpl)
{
    P2mGuestMemory pm(d.p2m, &xeno::test::fake_map);
    PagingState g = guest;
    g.cpl = cpl;
    for (int attempt = 0; attempt < 6; ++attempt) {
        const PagingState s = shadow_state(guest, mmu.active_root(), cpl);
        const WalkResult sw = guest_walk(s, Access{type, false, false}, Gla{la}, machine_memory());
        if (sw.outcome == WalkOutcome::OK) return {Outcome::OK, sw.gpa.frame(), 0, 0};
        REQUIRE(sw.outcome == WalkOutcome::PAGE_FAULT);
        const FaultResult f = mmu.handle_fault(g, Gla{la}, sw.error_code, pm.memory());
        switch (f.action) {
        case FaultAction::FIXED: continue;
        case FaultAction::GUEST_FAULT: return {Outcome::GUEST_FAULT, 0, f.error_code, 0};
        case FaultAction::EMULATE_WRITE: return {Outcome::EMULATE_WRITE, 0, 0, f.gpa.value()};
        case FaultAction::MMIO: return {Outcome::MMIO, 0, 0, f.gpa.value()};
        case FaultAction::RETRY: continue;
        case FaultAction::ERROR: return {Outcome::ERROR, 0, 0, 0};
        }
    }
    return {Outcome::STUCK, 0, 0, 0};
}

// The guest's own view of the access (no A/D side effects).
inline WalkResult guest_view(Domain& d, const PagingState& guest, u64 la, AccessType type, u8 cpl)
{
    P2mGuestMemory pm(d.p2m, &xeno::test::fake_map);
    PagingState g = guest;
    g.cpl = cpl;
    return guest_walk(g, Access{type, false, false}, Gla{la}, pm.memory());
}

struct ShadowLeaf {
    u64 la = 0;
    u64 entry = 0;
};

// Every present leaf of the shadow tree at `root` (format from the guest mode).
inline std::vector<ShadowLeaf> shadow_leaves(const PagingState& guest, Hpa root)
{
    const PagingMode m = paging_mode(guest);
    const unsigned width = m == PagingMode::BITS32 ? 4 : 8;
    const unsigned ibits = m == PagingMode::BITS32 ? 10 : 9;
    const u64 amask = m == PagingMode::BITS32 ? 0xfffff000ull : 0x000ffffffffff000ull;
    std::vector<ShadowLeaf> out;
    auto read = [&](u64 a) {
        u64 v = 0;
        std::memcpy(&v, xeno::test::fake_map(Hpa{a}), width);
        return v;
    };
    auto rec = [&](auto& self, u64 table, unsigned level, u64 la_base) -> void {
        const unsigned n = 1u << ibits;
        for (unsigned i = 0; i < n; ++i) {
            const u64 e = read(table + width * i);
            if (!(e & P)) continue;
            const u64 la = la_base | (u64{i} << (12 + ibits * (level - 1)));
            if (level == 1) out.push_back({la, e});
            else self(self, e & amask, level - 1, la);
        }
    };
    if (m == PagingMode::PAE) {
        for (unsigned i = 0; i < 4; ++i) {
            const u64 e = read(root.value() + 8 * i);
            if (e & P) rec(rec, e & amask, 2, u64{i} << 30);
        }
    } else {
        rec(rec, root.value(), m == PagingMode::LEVEL4 ? 4 : 2, 0);
    }
    return out;
}

// The shadow oracle: every shadow leaf maps p2m[guest gpa] with no more
// rights than the guest gives, and no guest page-table frame is writable.
inline void check_oracle(ShadowMmu& mmu, Domain& d, const PagingState& guest)
{
    const bool nxe = paging_mode(guest) != PagingMode::BITS32 && (guest.efer & kEferNxe);
    const bool wp = guest.cr0 & kCr0Wp;
    for (const ShadowLeaf& l : shadow_leaves(guest, mmu.active_root())) {
        INFO("la " << std::hex << l.la << " shadow entry " << l.entry);
        const WalkResult g = guest_view(d, guest, l.la, AccessType::READ, 0);
        REQUIRE(g.outcome == WalkOutcome::OK);
        const u64 gfn = g.gpa.frame();
        REQUIRE(gfn < Domain::kGuestFrames);
        CHECK(((l.entry & 0x000ffffffffff000ull) >> 12) == d.p2m.mfn(gfn));
        if (l.entry & RW) {
            CHECK((g.writable || (!wp && !(l.entry & US))));
            CHECK(g.dirty);
            CHECK_FALSE(mmu.write_protected(gfn));
        }
        if (l.entry & US) CHECK(g.user);
        if (nxe && !(l.entry & XD)) CHECK(g.executable);
        const u8 pat = static_cast<u8>(((l.entry >> 7) & 1) << 2 | ((l.entry >> 4) & 1) << 1 | ((l.entry >> 3) & 1));
        CHECK(pat == g.pat_index);
        CHECK_FALSE((l.entry & G));
    }
}

// Same access through the shadow and on the guest's own tables agree.
inline void check_access(ShadowMmu& mmu, Domain& d, const PagingState& guest, u64 la, AccessType type, u8 cpl)
{
    INFO("la " << std::hex << la << " type " << int(type) << " cpl " << int(cpl));
    const WalkResult before = guest_view(d, guest, la, type, cpl);
    const AccessResult a = cpu_access(mmu, d, guest, la, type, cpl);
    if (before.outcome == WalkOutcome::PAGE_FAULT) {
        REQUIRE(a.outcome == Outcome::GUEST_FAULT);
        CHECK(a.error_code == before.error_code);
        return;
    }
    if (before.outcome == WalkOutcome::MEMORY_ERROR) {
        // A guest page table outside RAM reads as all ones: the guest's #PF
        // with P and RSVD (plus W/U/I as the access was).
        REQUIRE(a.outcome == Outcome::GUEST_FAULT);
        CHECK((a.error_code & (pfec::P | pfec::RSVD)) == (pfec::P | pfec::RSVD));
        CHECK(((a.error_code & pfec::W) != 0) == (type == AccessType::WRITE));
        CHECK(((a.error_code & pfec::U) != 0) == (cpl == 3));
        return;
    }
    REQUIRE(before.outcome == WalkOutcome::OK);
    const u64 gfn = before.gpa.frame();
    if (gfn >= Domain::kGuestFrames) {
        REQUIRE(a.outcome == Outcome::MMIO);
        CHECK(a.gpa == before.gpa.value());
        return;
    }
    if (type == AccessType::WRITE && mmu.write_protected(gfn)) {
        REQUIRE(a.outcome == Outcome::EMULATE_WRITE);
        CHECK(a.gpa == before.gpa.value());
        return;
    }
    REQUIRE(a.outcome == Outcome::OK);
    CHECK(a.mfn == d.p2m.mfn(gfn));
}

}  // namespace xeno::paging::test
