// Shadow page-table entry formats (SDM Vol. 3A 4.3, 4.4, 4.5): the bits the
// shadow MMU writes and the geometry of each shadow format.
#pragma once

#include "arch/x86/paging/shadow.hpp"
#include "lib/bits.hpp"

namespace xeno::paging::shadow {

inline constexpr u64 kP = bit(0), kRw = bit(1), kUs = bit(2), kPwt = bit(3), kPcd = bit(4), kA = bit(5),
                     kD = bit(6), kPat4k = bit(7), kXd = bit(63);
inline constexpr u64 kAddr32 = 0xfffff000ull;
inline constexpr u64 kAddr64 = 0x000ffffffffff000ull;
inline constexpr u64 kNoGfn = ~u64{0};

// Non-leaf shadow entries grant everything: the rights live in the leaf and
// in the child's key. PAE PDPTEs allow only P and the address (bits 2:1 and
// 8:5 are reserved there).
inline constexpr u64 kNonLeafFlags = kP | kRw | kUs | kA;
inline constexpr u64 kPdpteFlags = kP;

inline unsigned entry_width(ShadowFormat f) { return f == ShadowFormat::BITS32 ? 4 : 8; }
inline u64 address_mask(ShadowFormat f) { return f == ShadowFormat::BITS32 ? kAddr32 : kAddr64; }
inline unsigned top_level(ShadowFormat f)
{
    return f == ShadowFormat::LEVEL4 ? 4 : f == ShadowFormat::PAE ? 3 : 2;
}

// Index of `linear` in a table at `level` (a PAE level-3 table is the root's 4 PDPTEs).
inline unsigned table_index(ShadowFormat f, u64 linear, unsigned level)
{
    if (f == ShadowFormat::BITS32) return static_cast<unsigned>(bits(linear, 12 + 10 * level - 1, 12 + 10 * (level - 1)));
    if (f == ShadowFormat::PAE && level == 3) return static_cast<unsigned>(bits(linear, 31, 30));
    return static_cast<unsigned>(bits(linear, 12 + 9 * level - 1, 12 + 9 * (level - 1)));
}

// Bytes of linear space one direct shadow page at `level` covers.
inline u64 direct_coverage(ShadowFormat f, unsigned level)
{
    if (level == 1) return f == ShadowFormat::BITS32 ? (u64{4} << 20) : (u64{2} << 20);
    return u64{1} << 30;
}

// The leaf PWT/PCD/PAT bits for a PAT index (PAT<<2 | PCD<<1 | PWT), 4 KiB form.
inline u64 pat_bits(u8 pat_index)
{
    return ((pat_index & 1) ? kPwt : 0) | ((pat_index & 2) ? kPcd : 0) | ((pat_index & 4) ? kPat4k : 0);
}

}  // namespace xeno::paging::shadow
