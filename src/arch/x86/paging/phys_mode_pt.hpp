// "Physical mode" page tables for guests without unrestricted guest (Penryn-
// class CPUs): VMX requires CR0.PG=1 in the guest, so while the guest thinks
// paging is off (CR0 read shadow PG=0) it runs on these hypervisor-built
// 32-bit non-PAE tables (SDM Vol. 3A, 4.3) mapping guest-physical addresses
// 1:1 to their machine frames through the p2m, user-accessible (the real-mode
// code runs in virtual-8086 mode at CPL 3). 32-bit entries: every table and
// every mapped frame must be below 4 GiB.
#pragma once

#include "lib/bits.hpp"
#include "lib/status.hpp"
#include "mm/frame_allocator.hpp"
#include "mm/p2m.hpp"

namespace xeno::paging {

namespace pt32 {
inline constexpr u32 P = 1u << 0;
inline constexpr u32 RW = 1u << 1;
inline constexpr u32 US = 1u << 2;
inline constexpr u32 ADDRESS_MASK = 0xfffff000u;
}  // namespace pt32

class PhysModeTables {
public:
    PhysModeTables(mm::FrameAllocator& frames, mm::MapFn map) : frames_(frames), map_(map) {}

    Status create_root();
    // Go on with the tables under an existing root (a vcpu's).
    void use_root(Hpa root) { root_ = root; }
    // Map guest-physical frame gfn to machine frame mfn (UNSUPPORTED above 4 GiB).
    Status map_page(u64 gfn, u64 mfn);
    Status map_p2m(const mm::P2m& p2m);
    // Unmap guest-physical frame gfn (nothing when it is not mapped). The
    // caller makes sure no TLB keeps the translation (under shadow paging
    // every VM entry flushes: no VPID).
    void unmap_page(u64 gfn);
    Hpa root() const { return root_; }  // the guest's real CR3
    Result<u32> lookup(u64 gfn) const;

private:
    u32* table(Hpa h) const { return static_cast<u32*>(map_(h)); }

    mm::FrameAllocator& frames_;
    mm::MapFn map_;
    Hpa root_{};
};

}  // namespace xeno::paging
