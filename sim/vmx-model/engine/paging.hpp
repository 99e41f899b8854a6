// The model's address translation: guest paging (SDM Vol. 3A, chapter 4:
// 32-bit with PSE, PAE, 4-level with 2 MiB/1 GiB pages, A/D bits, U/S, R/W,
// NX, CR0.WP) and, with "enable EPT", the EPT walk of every guest-physical
// address including those of guest paging structures (Vol. 3C, 29.3).
// Pure functions over machine memory: the engine's TLB-fill hook calls them.
#pragma once

#include "lib/types.hpp"
#include "sim/platform/machine_memory.hpp"

namespace xeno::sim {

enum class Access : u8 { READ, WRITE, FETCH };

struct TranslationContext {
    u64 cr0 = 0, cr3 = 0, cr4 = 0, efer = 0;
    unsigned maxphys = 52;  // the profile's MAXPHYADDR: paging-entry bits from it up are reserved
    bool user = false;   // CPL 3
    bool ept = false;    // "enable EPT"
    u64 eptp = 0;
    // PAE paging with EPT uses the processor's PDPTE registers (loaded at VM
    // entry from the VMCS, or by MOV to CR3/CR0/CR4; SDM Vol. 3A 4.4.1,
    // Vol. 3C 26.3.2.4), not the PDPT in memory. Without them: memory.
    bool pdptes_valid = false;
    u64 pdptes[4] = {};
};

enum class WalkStatus : u8 { OK, PAGE_FAULT, EPT_VIOLATION, EPT_MISCONFIG, NO_MEMORY };

struct WalkResult {
    WalkStatus status = WalkStatus::OK;
    u64 machine_page = 0;     // OK: machine address of the 4 KiB page holding the address
    bool writable = false;    // OK: a write may use this translation without another walk
    bool executable = false;
    u32 pf_error = 0;         // PAGE_FAULT: error code (SDM 4.7)
    u64 gpa = 0;              // EPT_*/NO_MEMORY: guest-physical address that failed
    u64 qualification = 0;    // EPT_VIOLATION: exit qualification (Table 28-7)
};

// #PF error-code bits (SDM Vol. 3A, 4.7).
namespace pfec {
inline constexpr u32 P = 1u << 0;
inline constexpr u32 W = 1u << 1;
inline constexpr u32 U = 1u << 2;
inline constexpr u32 RSVD = 1u << 3;
inline constexpr u32 I = 1u << 4;
}  // namespace pfec

// EPT-violation qualification bits (Table 28-7).
namespace eptq {
inline constexpr u64 READ = 1u << 0;
inline constexpr u64 WRITE = 1u << 1;
inline constexpr u64 FETCH = 1u << 2;
inline constexpr u64 READABLE = 1u << 3;
inline constexpr u64 WRITABLE = 1u << 4;
inline constexpr u64 EXECUTABLE = 1u << 5;
inline constexpr u64 GLA_VALID = 1u << 7;
inline constexpr u64 GLA_TRANSLATION = 1u << 8;  // the access was to the final translation
}  // namespace eptq

// A present PAE PDPTE with a reserved bit set (bits 2:1, 8:5, 63:52; SDM
// Vol. 3A 4.4.1): #PF with RSVD in a walk, #GP(0) when loaded by MOV to CR3.
constexpr bool pae_pdpte_reserved(u64 pdpte)
{
    return (pdpte & 1) && ((pdpte & 0x1e6) || (pdpte >> 52));
}

// Translate linear address va for an access of kind acc. Updates guest A/D bits.
WalkResult translate_linear(MachineMemory& memory, const TranslationContext& ctx, u64 va, Access acc);

// Translate a guest-physical address through EPT (or identity when EPT is
// off). gla_valid/gla_final fill bits 7/8 of a violation's qualification.
WalkResult translate_guest_physical(MachineMemory& memory, const TranslationContext& ctx, u64 gpa, Access acc,
                                    bool gla_valid, bool gla_final);

}  // namespace xeno::sim
