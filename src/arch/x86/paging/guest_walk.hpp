// The guest page-table walker: translates a guest-linear address through the
// guest's own paging structures exactly as the processor would (SDM Vol. 3A,
// chapter 4): paging off, 32-bit paging (4 KiB, 4 MiB with CR4.PSE, PSE-36),
// PAE paging (PDPTEs, 2 MiB pages, XD) and 4-level paging (2 MiB, 1 GiB).
// Access rights (4.6) with CR0.WP, CR4.SMEP/SMAP, EFLAGS.AC and implicit
// supervisor-mode accesses; the #PF error code (4.7); accessed and dirty
// flags (4.8). Protection keys, shadow stacks, LA57 and HLAT are not modelled.
//
// Pure component: the caller supplies the control state and a GuestMemory
// (the hypervisor's goes through the p2m; tests use a buffer). Shadow paging
// uses the effective permissions and the walked entries (to write-protect
// them); the instruction emulator uses the guest-physical address.
#pragma once

#include "lib/status.hpp"
#include "lib/types.hpp"

namespace xeno::paging {

// Guest-physical memory as the walker sees it. Entries are 4 or 8 bytes,
// naturally aligned, little-endian.
struct GuestMemory {
    void* context = nullptr;
    // Read `width` bytes at gpa. Any non-OK status: not guest memory.
    Result<u64> (*read)(void* context, Gpa gpa, unsigned width) = nullptr;
    // Atomically: if the entry still holds `expected`, store `desired` and
    // return true; return false if it changed (the walk is then redone, as
    // the processor's locked A/D update would see the new entry).
    Result<bool> (*compare_exchange)(void* context, Gpa gpa, unsigned width, u64 expected, u64 desired) = nullptr;
};

// The guest's paging control state: raw register values as the guest sees
// them (not the hypervisor's real CR0/CR4 under shadow paging).
struct PagingState {
    u64 cr0 = 0;
    u64 cr3 = 0;
    u64 cr4 = 0;
    u64 efer = 0;
    u8 cpl = 0;
    bool rflags_ac = false;   // EFLAGS.AC, for SMAP (4.6.1)
    u8 maxphyaddr = 36;       // CPUID.80000008H:EAX[7:0], bounds the reserved bits (4.1.4)
    bool page_1gb = true;     // CPUID.80000001H:EDX[26]; without it PS in a PDPTE is reserved
    // PAE paging: the PDPTE registers as loaded at the last CR3 load
    // (4.4.1; the VMCS GUEST_PDPTEn fields under EPT). When false the walker
    // reads them from the PDPT at CR3 instead.
    bool pdptes_loaded = false;
    u64 pdptes[4] = {};
};

enum class PagingMode : u8 { NONE, BITS32, PAE, LEVEL4 };

// Which paging mode the state selects (4.1.1, Table 4-1). EFER.LME with
// CR0.PG set means EFER.LMA, so either selects 4-level paging.
PagingMode paging_mode(const PagingState& state);

enum class AccessType : u8 { READ, WRITE, FETCH };

struct Access {
    AccessType type = AccessType::READ;
    // An access to a system structure (GDT, IDT, TSS, ...): supervisor-mode
    // regardless of CPL, and never allowed to user pages under SMAP (4.6.1).
    bool implicit_supervisor = false;
    // Set accessed/dirty flags on success. Off for look-ups that the guest
    // must not observe (a debugger peek, a shadow prefetch).
    bool update_ad = true;
};

// #PF error-code bits (4.7).
namespace pfec {
inline constexpr u32 P = 1u << 0;
inline constexpr u32 W = 1u << 1;
inline constexpr u32 U = 1u << 2;
inline constexpr u32 RSVD = 1u << 3;
inline constexpr u32 I = 1u << 4;
}  // namespace pfec

enum class WalkOutcome : u8 {
    OK,
    PAGE_FAULT,    // error_code and linear are the guest's #PF and CR2
    MEMORY_ERROR,  // a paging-structure entry is not in guest memory (bad_gpa)
    RETRY,         // entries kept changing under the A/D updates; re-execute the instruction
};

// One paging-structure entry the walk read. Levels: 4 = PML4E, 3 = PDPTE,
// 2 = PDE, 1 = PTE, in every mode (a 32-bit PDE is level 2). In PAE mode
// the level-3 entry is the PDPTE (from the PDPTE registers when loaded);
// it has no accessed flag and changes to it take effect at the next CR3 load.
struct WalkEntry {
    Gpa gpa{};
    u64 value = 0;  // after this walk's A/D update
    u8 level = 0;
    u8 width = 0;   // bytes: 4 (32-bit paging) or 8
};

inline constexpr unsigned kMaxWalkEntries = 4;

struct WalkResult {
    WalkOutcome outcome = WalkOutcome::OK;
    Gla linear{};          // the address walked (bits 31:0 only outside 4-level paging)
    // OK:
    Gpa gpa{};
    u64 page_size = 0;     // 4 KiB, 2 MiB, 4 MiB or 1 GiB (4 KiB with paging off)
    bool writable = false;     // R/W = 1 in every entry used
    bool user = false;         // U/S = 1 in every entry used (a user-mode address)
    bool executable = false;   // XD = 0 in every entry used (always true without NXE or outside PAE/4-level)
    bool global = false;       // G in the leaf and CR4.PGE
    bool dirty = false;        // D in the leaf after the walk
    u8 pat_index = 0;          // leaf PAT<<2 | PCD<<1 | PWT (Vol. 3A, "Selecting a Memory Type from the PAT")
    // PAGE_FAULT:
    u32 error_code = 0;
    // MEMORY_ERROR:
    Gpa bad_gpa{};
    // All outcomes: the entries read, root first (up to the faulting one).
    u8 entry_count = 0;
    WalkEntry entries[kMaxWalkEntries] = {};
};

// Translate `linear` for `access` under `state`.
WalkResult guest_walk(const PagingState& state, Access access, Gla linear, const GuestMemory& memory);

// PAE: load the four PDPTEs from the PDPT at CR3 bits 31:5 as a MOV to CR3
// (or to CR0/CR4 entering PAE paging) does (4.4.1). RESERVED: a present
// PDPTE has a reserved bit set, and the load must raise #GP(0) instead.
enum class PdpteLoad : u8 { OK, RESERVED, MEMORY_ERROR };
struct PdpteLoadResult {
    PdpteLoad outcome = PdpteLoad::OK;
    u64 pdptes[4] = {};
};
PdpteLoadResult load_pae_pdptes(const PagingState& state, const GuestMemory& memory);

}  // namespace xeno::paging
