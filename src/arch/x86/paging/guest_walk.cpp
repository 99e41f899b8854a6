// Guest page-table walker (see guest_walk.hpp). Entry formats: SDM Vol. 3A
// Tables 4-4..4-6 (32-bit), 4-8..4-11 (PAE), 4-14..4-20 (4-level).
#include "arch/x86/paging/guest_walk.hpp"

#include "lib/bits.hpp"

namespace xeno::paging {
namespace {

// Control-register bits the walker reads (2.5, 2.2.1).
constexpr u64 kCr0Wp = bit(16), kCr0Pg = bit(31);
constexpr u64 kCr4Pse = bit(4), kCr4Pae = bit(5), kCr4Pge = bit(7), kCr4Smep = bit(20), kCr4Smap = bit(21);
constexpr u64 kEferLme = bit(8), kEferLma = bit(10), kEferNxe = bit(11);

// Paging-structure entry bits common to every format.
constexpr u64 kP = bit(0), kRw = bit(1), kUs = bit(2), kPwt = bit(3), kPcd = bit(4), kA = bit(5), kD = bit(6),
              kPs = bit(7), kG = bit(8), kXd = bit(63);
constexpr unsigned kPatSmall = 7, kPatLarge = 12;  // PAT bit: 4 KiB PTE / large-page entry

// A/D updates whose compare-exchange lost to a concurrent change restart the
// walk; a guest that rewrites its tables this fast gets RETRY.
constexpr unsigned kMaxAttempts = 8;

// Mask of bits hi..lo (empty when lo > hi).
constexpr u64 bit_range(unsigned hi, unsigned lo)
{
    if (lo > hi) return 0;
    const u64 upper = hi >= 63 ? ~u64{0} : (bit(hi + 1) - 1);
    return upper & ~(bit(lo) - 1);
}

struct Walker {
    const PagingState& s;
    Access access;
    const GuestMemory& mem;
    PagingMode mode;
    unsigned maxphy;  // clamped to 32..52
    bool nxe;         // XD is usable (NXE with PAE or 4-level paging)
    WalkResult r;

    bool user_access() const { return s.cpl == 3 && !access.implicit_supervisor; }

    u32 fault_code(u32 kind) const
    {
        u32 e = kind;
        if (access.type == AccessType::WRITE) e |= pfec::W;
        if (user_access()) e |= pfec::U;
        // I/D: fetches, when SMEP is on or XD is usable (4.7).
        if (access.type == AccessType::FETCH && ((s.cr4 & kCr4Smep) || ((s.cr4 & kCr4Pae) && (s.efer & kEferNxe))))
            e |= pfec::I;
        return e;
    }

    // Ends the walk (true: nothing to redo).
    bool fault(u32 kind)
    {
        r.outcome = WalkOutcome::PAGE_FAULT;
        r.error_code = fault_code(kind);
        return true;
    }

    void memory_error(Gpa gpa)
    {
        r.outcome = WalkOutcome::MEMORY_ERROR;
        r.bad_gpa = gpa;
    }

    u64 address_mask() const { return bit_range(maxphy - 1, 12); }

    // Reserved bits of a present PAE/4-level entry at `level` (4.4.2, 4.5.4).
    u64 reserved64(unsigned level, u64 e) const
    {
        // PAE: bits 62:M; 4-level: bits 51:M (62:52 are ignored). XD without NXE.
        u64 rsvd = bit_range(mode == PagingMode::PAE ? 62 : 51, maxphy);
        if (!(s.efer & kEferNxe)) rsvd |= kXd;
        if (e & kPs) {
            if (level == 4) rsvd |= kPs;
            if (level == 3) rsvd |= s.page_1gb ? bit_range(29, 13) : kPs;
            if (level == 2) rsvd |= bit_range(20, 13);
        }
        return e & rsvd;
    }

    // Reserved bits of a present 32-bit PDE (Table 4-4): with PSE-36, bits
    // (M-20):13 of a 4 MiB PDE hold address bits (M-1):32, M = min(40,
    // MAXPHYADDR); bits 21:(M-19) are reserved.
    u64 reserved32_pde(u64 e) const
    {
        if (!(s.cr4 & kCr4Pse) || !(e & kPs)) return 0;
        const unsigned m = maxphy < 40 ? maxphy : 40;
        return e & bit_range(21, m - 19);
    }

    bool read_entry(Gpa gpa, unsigned level, unsigned width, u64* out)
    {
        Result<u64> v = mem.read(mem.context, gpa, width);
        if (!v.ok()) {
            memory_error(gpa);
            return false;
        }
        *out = width == 4 ? (v.value() & 0xffffffffull) : v.value();
        r.entries[r.entry_count++] = WalkEntry{gpa, *out, static_cast<u8>(level), static_cast<u8>(width)};
        return true;
    }

    // The PAE PDPTE for `la` (4.4.1): from the registers, or read at CR3.
    bool pae_pdpte(u64 la, u64* out)
    {
        const unsigned i = static_cast<unsigned>(bits(la, 31, 30));
        const Gpa gpa{(s.cr3 & 0xffffffe0ull) + 8 * i};
        if (s.pdptes_loaded) {
            *out = s.pdptes[i];
            r.entries[r.entry_count++] = WalkEntry{gpa, *out, 3, 8};
            return true;
        }
        return read_entry(gpa, 3, 8, out);
    }

    // One walk over the tables; false when the A/D update must be redone.
    bool walk_once(u64 la)
    {
        r = WalkResult{};
        r.linear = Gla{la};
        bool rw = true, us = true, xd = false;
        u64 leaf = 0, page_mask = 0, base = 0;
        const unsigned width = mode == PagingMode::BITS32 ? 4 : 8;
        const unsigned index_bits = mode == PagingMode::BITS32 ? 10 : 9;
        unsigned level;
        u64 table;
        if (mode == PagingMode::BITS32) {
            level = 2;
            table = s.cr3 & 0xfffff000ull;
        } else if (mode == PagingMode::PAE) {
            u64 pdpte;
            if (!pae_pdpte(la, &pdpte)) return true;
            if (!(pdpte & kP)) return fault(0);
            // PDPTE reserved bits (Table 4-8): 2:1, 8:5, 63:M. Normally caught
            // by the #GP of the CR3 load; a PDPT read here reports #PF(RSVD).
            if (pdpte & (bit_range(2, 1) | bit_range(8, 5) | bit_range(63, maxphy)))
                return fault(pfec::P | pfec::RSVD);
            level = 2;
            table = pdpte & address_mask();
        } else {
            level = 4;
            table = s.cr3 & address_mask();
        }

        for (;; --level) {
            const unsigned shift = 12 + index_bits * (level - 1);
            const u64 index = bits(la, shift + index_bits - 1, shift);
            u64 e;
            if (!read_entry(Gpa{table + width * index}, level, width, &e)) return true;
            if (!(e & kP)) return fault(0);
            const u64 rsvd = width == 4 ? (level == 2 ? reserved32_pde(e) : 0) : reserved64(level, e);
            if (rsvd) return fault(pfec::P | pfec::RSVD);
            rw = rw && (e & kRw);
            us = us && (e & kUs);
            xd = xd || (nxe && (e & kXd));
            const bool large = level > 1 && (e & kPs) && (width == 8 || (s.cr4 & kCr4Pse));
            if (large) {
                page_mask = bit(shift) - 1;
                if (width == 4) {
                    // 4 MiB page: bits 31:22, plus PSE-36 bits (M-20):13 -> (M-1):32.
                    const unsigned m = maxphy < 40 ? maxphy : 40;
                    base = (e & 0xffc00000ull) | ((e & bit_range(m - 20, 13)) << 19);
                } else {
                    base = e & address_mask() & ~page_mask;
                }
                leaf = e;
                break;
            }
            if (level == 1) {
                page_mask = 0xfff;
                base = e & (width == 4 ? 0xfffff000ull : address_mask());
                leaf = e;
                break;
            }
            table = e & (width == 4 ? 0xfffff000ull : address_mask());
        }

        if (!permitted(rw, us, xd)) return fault(pfec::P);

        r.gpa = Gpa{base | (la & page_mask)};
        r.page_size = page_mask + 1;
        r.writable = rw;
        r.user = us;
        r.executable = !xd;
        r.global = (leaf & kG) && (s.cr4 & kCr4Pge);
        const bool large_leaf = page_mask != 0xfff;
        r.pat_index = static_cast<u8>((test_bit(leaf, large_leaf ? kPatLarge : kPatSmall) << 2) |
                                      ((leaf & kPcd) ? 2 : 0) | ((leaf & kPwt) ? 1 : 0));
        r.dirty = leaf & kD;
        if (access.update_ad) return update_ad();
        return true;
    }

    // Access rights (4.6.1): rw/us/xd combined over every entry used.
    bool permitted(bool rw, bool us, bool xd) const
    {
        const bool write = access.type == AccessType::WRITE;
        if (access.type == AccessType::FETCH) {
            if (xd) return false;
            if (user_access()) return us;
            return !(us && (s.cr4 & kCr4Smep));
        }
        if (user_access()) return us && (rw || !write);
        // Supervisor data access. SMAP: user pages only for explicit
        // accesses (CPL < 3) with EFLAGS.AC = 1.
        if (us && (s.cr4 & kCr4Smap) && (access.implicit_supervisor || !s.rflags_ac)) return false;
        return rw || !write || !(s.cr0 & kCr0Wp);
    }

    // A on every entry used, D on the leaf for a write (4.8), only once the
    // translation has succeeded. PAE PDPTEs have no accessed flag.
    bool update_ad()
    {
        const unsigned last = r.entry_count - 1u;
        for (unsigned i = 0; i < r.entry_count; ++i) {
            WalkEntry& we = r.entries[i];
            if (mode == PagingMode::PAE && we.level == 3) continue;
            u64 want = we.value | kA;
            if (i == last && access.type == AccessType::WRITE) want |= kD;
            if (want == we.value) continue;
            Result<bool> swapped = mem.compare_exchange(mem.context, we.gpa, we.width, we.value, want);
            if (!swapped.ok()) {
                memory_error(we.gpa);
                return true;
            }
            if (!swapped.value()) return false;
            // A table that maps itself shows the same entry at several levels.
            for (unsigned j = 0; j < r.entry_count; ++j)
                if (r.entries[j].gpa == we.gpa) r.entries[j].value = want;
        }
        r.dirty = r.entries[last].value & kD;
        return true;
    }
};

}  // namespace

PagingMode paging_mode(const PagingState& s)
{
    if (!(s.cr0 & kCr0Pg)) return PagingMode::NONE;
    if (!(s.cr4 & kCr4Pae)) return PagingMode::BITS32;
    if (s.efer & (kEferLma | kEferLme)) return PagingMode::LEVEL4;
    return PagingMode::PAE;
}

WalkResult guest_walk(const PagingState& state, Access access, Gla linear, const GuestMemory& memory)
{
    const PagingMode mode = paging_mode(state);
    if (mode == PagingMode::NONE) {
        // Linear = physical; outside long mode linear addresses are 32 bits.
        WalkResult r;
        r.linear = Gla{linear.value() & 0xffffffffull};
        r.gpa = Gpa{r.linear.value()};
        r.page_size = kPageSize;
        r.writable = r.user = r.executable = true;
        return r;
    }
    const unsigned maxphy = state.maxphyaddr < 32 ? 32 : state.maxphyaddr > 52 ? 52 : state.maxphyaddr;
    Walker w{state, access, memory, mode, maxphy, mode != PagingMode::BITS32 && (state.efer & kEferNxe), {}};
    const u64 la = mode == PagingMode::LEVEL4 ? linear.value() : linear.value() & 0xffffffffull;
    for (unsigned attempt = 0; attempt < kMaxAttempts; ++attempt)
        if (w.walk_once(la)) return w.r;
    WalkResult r;
    r.outcome = WalkOutcome::RETRY;
    r.linear = Gla{la};
    return r;
}

PdpteLoadResult load_pae_pdptes(const PagingState& state, const GuestMemory& memory)
{
    PdpteLoadResult out;
    const unsigned maxphy = state.maxphyaddr < 32 ? 32 : state.maxphyaddr > 52 ? 52 : state.maxphyaddr;
    const u64 rsvd = bit_range(2, 1) | bit_range(8, 5) | bit_range(63, maxphy);
    for (unsigned i = 0; i < 4; ++i) {
        Result<u64> v = memory.read(memory.context, Gpa{(state.cr3 & 0xffffffe0ull) + 8 * i}, 8);
        if (!v.ok()) {
            out.outcome = PdpteLoad::MEMORY_ERROR;
            return out;
        }
        out.pdptes[i] = v.value();
        if ((v.value() & kP) && (v.value() & rsvd)) out.outcome = PdpteLoad::RESERVED;
    }
    return out;
}

}  // namespace xeno::paging
