// Extended page tables (SDM Vol. 3C, 29.3 "The Extended Page Table
// Mechanism"): 4-level tables in machine frames, built from a domain's p2m.
#pragma once

#include "lib/bits.hpp"
#include "lib/status.hpp"
#include "mm/frame_allocator.hpp"
#include "mm/p2m.hpp"

namespace xeno::paging {

// EPT paging-structure entry bits (Tables 29-1..29-6).
namespace ept {
inline constexpr u64 READ = bit(0);
inline constexpr u64 WRITE = bit(1);
inline constexpr u64 EXECUTE = bit(2);
inline constexpr u64 RWX = READ | WRITE | EXECUTE;
inline constexpr unsigned MEMTYPE_SHIFT = 3;  // leaf entries: bits 5:3
inline constexpr u64 MEMTYPE_WB = 6;
inline constexpr u64 LARGE = bit(7);          // PDE/PDPTE maps a page
inline constexpr u64 ADDRESS_MASK = 0x000ffffffffff000ull;
}  // namespace ept

// EPTP (SDM 25.6.11): memory type bits 2:0, page-walk length minus 1 in bits 5:3.
constexpr u64 make_eptp(Hpa pml4) { return pml4.value() | ept::MEMTYPE_WB | (u64{3} << 3); }

// Index of `gpa` in the level-`level` table (4 = PML4 ... 1 = PT).
constexpr unsigned ept_index(u64 gpa, unsigned level) { return static_cast<unsigned>(bits(gpa, 12 + 9 * level - 1, 12 + 9 * (level - 1))); }

class EptBuilder {
public:
    EptBuilder(mm::FrameAllocator& frames, mm::MapFn map) : frames_(frames), map_(map) {}

    Status create_root();
    // Go on with the tables under an existing root (a domain's EPT).
    void use_root(Hpa root) { root_ = root; }
    // Map one 4 KiB guest frame, RWX, write-back.
    Status map_page(Gpa gpa, Hpa hpa);
    // Unmap one 4 KiB guest frame (its tables stay). NOT_FOUND when it was
    // not mapped. The caller invalidates (INVEPT) before the frame is reused.
    Status unmap_page(Gpa gpa);
    // Map every frame the p2m backs.
    Status map_p2m(const mm::P2m& p2m);
    // Machine address of the entry that maps gpa at level 1, or NOT_FOUND (for tests and dumps).
    Result<u64> lookup(Gpa gpa) const;

    Hpa root() const { return root_; }
    u64 table_frames() const { return tables_; }

private:
    u64* table(Hpa h) const { return static_cast<u64*>(map_(h)); }

    mm::FrameAllocator& frames_;
    mm::MapFn map_;
    Hpa root_{};
    u64 tables_ = 0;
};

}  // namespace xeno::paging
