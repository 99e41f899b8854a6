// Shadow paging: hypervisor-built page tables that map guest-linear addresses
// straight to machine frames, for CPUs without EPT (the penryn profile) and
// for `paging=shadow` on CPUs with it. What Xen did for HVM guests before EPT.
//
// Shape: same-level shadows. Every guest paging-structure page the processor
// walks gets one shadow page of the same level and format (2-on-2 for 32-bit
// paging, 3-on-3 for PAE, 4-on-4 for 4-level paging). A guest large page
// (4 MiB, 2 MiB, 1 GiB) is splintered into "direct" shadow tables of 4 KiB
// entries, because the machine frames behind it need not be contiguous. A
// shadow page is identified by its key: the guest frame it shadows (for a
// direct one, the first guest frame of the range), its level, whether it is
// direct, and the access (W, U, NX) accumulated from the guest entries above
// it: the same guest table reached with different rights gets different
// shadows, so each shadow leaf can carry the full effective permission.
//
// Coherence: write protection, not out-of-sync. Every guest frame that is
// shadowed as a paging structure is mapped read-only in every shadow, so a
// guest write to its own page tables faults, the hypervisor emulates the
// write (the instruction emulator), and guest_wrote() zaps the shadow entries
// the write covered. The shadow is therefore never stale, which is what lets
// the cache keep address spaces across CR3 switches: switching back to a
// cached address space costs one hash look-up, whatever the guest changed in
// between. (The out-of-sync alternative saves the write faults but must
// resynchronise or drop every cached address space at each CR3 load, which
// defeats the cache for guests that switch among many address spaces.)
// INVLPG therefore only has to drop the one leaf (cheap, and what lets a
// guest-visible TLB flush also reset the entry's write-tracking state).
//
// Accessed and dirty flags are the guest walker's (guest_walk): a fault is
// filled by walking the guest tables for that access, which sets A on every
// entry used and D on the leaf for a write. A shadow leaf is writable only
// when the guest leaf is already dirty, so the first write to a clean page
// faults and sets D, as the processor would.
//
// Memory: shadow pages come from the frame allocator, below 4 GiB (a 32-bit
// shadow holds 32-bit addresses and a PAE CR3 is 32 bits), at most
// `max_pages` of them. Root shadows (one per guest address space) are pinned
// in an LRU list; every other shadow page is reference-counted by the shadow
// entries pointing to it and freed when the last one goes. When the pool is
// full the least recently used inactive root is evicted (its subtree goes with
// it); when only the active address space is left, the whole cache is
// flushed and the fault refilled. destroy() returns every frame.
//
// Control bits that change what a shadow entry means (CR0.WP, CR4.PSE/
// PAE/SMEP/SMAP, EFER.NXE/LMA, the paging mode) flush the whole cache when
// they change (set_guest_mode): rare in practice.
//
// Global pages are not marked global in the shadow (the shadow is never
// stale, so there is nothing a global hint would save), and the real CR4.PGE
// is the hypervisor's (off). With guest CR0.WP=0 a supervisor write to a
// read-only page is allowed: the shadow leaf is then made writable and
// supervisor-only (real CR0.WP stays 1), and a later user access refaults
// and gets the user, read-only form.
//
// Pure component: the caller supplies the guest paging state, the walker's
// GuestMemory, the p2m (guest frame -> machine frame) and a MapFn for
// machine memory; unit tests use a host buffer.
#pragma once

#include "arch/x86/paging/guest_walk.hpp"
#include "lib/status.hpp"
#include "lib/types.hpp"
#include "mm/frame_allocator.hpp"
#include "mm/p2m.hpp"

namespace xeno::paging {

// The hardware paging format of the shadow tables for a guest mode.
// NONE: guest paging off (the caller uses its own physical-mode tables).
enum class ShadowFormat : u8 { NONE, BITS32, PAE, LEVEL4 };
ShadowFormat shadow_format(PagingMode guest_mode);

struct ShadowStats {
    u64 pages_in_use = 0;       // shadow frames currently allocated
    u64 pages_peak = 0;
    u64 roots_cached = 0;       // pinned root shadows (address spaces)
    u64 faults = 0;             // handle_fault calls
    u64 fills = 0;              // faults fixed by filling shadow entries
    u64 guest_faults = 0;       // faults reflected to the guest as its own #PF
    u64 emulated_writes = 0;    // guest_wrote calls that touched a shadowed frame
    u64 zapped_entries = 0;     // shadow entries dropped by writes / INVLPG
    u64 write_protections = 0;  // writable shadow leaves made read-only when their frame became a page table
    u64 root_hits = 0;          // activate() switched to an address space found cached
    u64 root_misses = 0;
    u64 evicted_roots = 0;      // LRU evictions
    u64 full_flushes = 0;       // cache dropped entirely (mode change or pool exhausted)
    u64 unshadowed = 0;         // shadows dropped because their frame was being reused as data (write flood)
};

enum class FaultAction : u8 {
    FIXED,          // the shadow now maps the address: re-execute the instruction
    GUEST_FAULT,    // the guest's own tables fault: inject #PF(error_code), CR2 = the address
    EMULATE_WRITE,  // a write to a guest paging structure: emulate the instruction, report writes via guest_wrote
    MMIO,           // the guest maps a guest-physical address outside RAM: emulate against the device models
    RETRY,          // the guest's entries changed under the walk: re-execute the instruction
    ERROR,          // the hypervisor cannot continue this guest (no shadow memory even after a flush...)
};

struct FaultResult {
    FaultAction action = FaultAction::ERROR;
    u32 error_code = 0;  // GUEST_FAULT: the guest's #PF error code
    Gpa gpa{};           // EMULATE_WRITE / MMIO: the guest-physical address the access reached
};

class ShadowMmu {
public:
    ShadowMmu() = default;
    ShadowMmu(const ShadowMmu&) = delete;
    ShadowMmu& operator=(const ShadowMmu&) = delete;

    // Set up for a domain whose memory is `p2m` (its guest_frames() bounds the
    // per-frame tracking arrays, which come from `frames`). max_pages >= 8.
    Status init(mm::FrameAllocator& frames, mm::MapFn map, const mm::P2m& p2m, u32 max_pages);
    bool ready() const { return impl_ != nullptr; }
    // Free every shadow page and tracking array (nothing stays allocated).
    void destroy();

    // The guest's paging controls changed (or may have): CR0.PG/WP, CR4.PAE/
    // PSE/SMEP/SMAP, EFER.LMA/NXE. Flushes the cache when the combination
    // differs from the one the shadows were built for. Cheap when unchanged.
    void set_guest_mode(const PagingState& guest);

    // The guest turned paging off. It now runs on the physical-mode tables,
    // which map all of its RAM writable: writes to its page tables are no
    // longer seen, so every shadow would go stale. Drops them all (once: a
    // no-op until paging is on again).
    void guest_paging_off();

    // The guest's CR3 (and, for PAE, its PDPTE registers: guest.pdptes with
    // pdptes_loaded, already validated by the caller) is now `guest.cr3`:
    // returns the machine address to load as the real CR3 (the shadow root).
    // guest paging must be on. NO_MEMORY when not even a root fits.
    Result<Hpa> activate(const PagingState& guest);
    // The real CR3 last returned by activate (0 when none).
    Hpa active_root() const { return active_root_; }

    // A #PF exit at guest-linear `linear` with the hardware error code
    // `hw_error_code` (which says write / user / fetch) while the guest ran
    // with `guest` (must be the state activate() last saw). Walks the guest
    // tables (A/D updates included) through `memory`. When the pool runs
    // out the cache is flushed and the active address space rebuilt, so its
    // root moves: reload the real CR3 from active_root() after every call.
    FaultResult handle_fault(const PagingState& guest, Gla linear, u32 hw_error_code, const GuestMemory& memory);

    // INVLPG `linear` in the active address space: drop its shadow leaf.
    void invlpg(const PagingState& guest, Gla linear);

    // The guest (through the emulator) wrote `length` bytes at `gpa`: zap the
    // shadow entries that shadow the entries written. Counts writes per
    // shadow page; a page written again and again with no fault through it in
    // between is taken to be reused as data and is unshadowed (unless it is
    // the active root), so later writes to it run natively.
    void guest_wrote(Gpa gpa, u32 length);

    // The processor itself must write guest frame `gfn` (an event delivery
    // pushing its frame onto a page that is still shadowed as a page table,
    // typically a freed page-table page reused as a stack): drop the shadows
    // of that frame, so it is no longer write-protected, unless one of them
    // is the active root. False: it stays protected (the active root).
    bool unprotect(u64 gfn);

    // Whether guest frame `gfn` is currently shadowed as a paging structure
    // (and so mapped read-only in every shadow).
    bool write_protected(u64 gfn) const;

    // Drop every shadow (all roots included); the next activate() rebuilds.
    void flush_all();
    // Guest frames were added to or removed from the p2m (the balloon):
    // every shadow may map a frame that is gone, and the machine-to-guest
    // index is stale. Drops all shadows and rebuilds the index.
    void p2m_changed();

    const ShadowStats& stats() const { return stats_; }

private:
    struct Page;  // shadow page metadata (shadow.cpp)
    struct Impl;
    // The bookkeeping (pointers into the metadata) lives here, with the
    // hypervisor's own data: machine memory holds only the shadow pages and
    // the index-linked metadata, so no host address ever lands in it (the
    // sim's final memory hash must not depend on where the host put things).
    static constexpr usize kImplStorage = 256;
    alignas(8) unsigned char impl_storage_[kImplStorage] = {};
    Impl* impl_ = nullptr;
    Hpa active_root_{};
    ShadowStats stats_;
};

}  // namespace xeno::paging
