// The host page tables after boot (boot.S built them; layout.h has the map).
// The boot tables map machine memory [0, 4 GiB) at DIRECT_MAP_BASE with
// 2 MiB pages; memory above that gets 1 GiB pages when the CPU has them
// (CPUID.80000001H:EDX.Page1GB[26]) and otherwise 2 MiB pages from a static
// pool of page directories, enough for 32 GiB (SDM Vol. 3A, 5.5 "4-Level
// Paging" for the entry formats).
#include "hal/cpu.hpp"
#include "hal/hw/hw.hpp"
#include "hal/hw/layout.h"
#include "hal/memory.hpp"
#include "lib/format.hpp"

namespace xeno::hw {
namespace {

constexpr u64 kPresent = 1, kWrite = 2, kLarge = 0x80;
constexpr u64 kAddrMask = 0x000ffffffffff000ull;
constexpr u64 kGiB = 1ull << 30;
constexpr usize kExtraDirectories = 28;

alignas(4096) u64 g_pd_pool[kExtraDirectories][512];
usize g_pd_used = 0;

u64* table_at(u64 machine) { return static_cast<u64*>(hal::machine_to_virt(Hpa{machine & kAddrMask})); }

void flush_tlb() { hal::write_cr4(hal::read_cr4()); asm volatile("mov %%cr3, %%rax\n\tmov %%rax, %%cr3" : : : "rax", "memory"); }

}  // namespace

void paging_drop_identity_map()
{
    u64* pml4 = table_at(hal::read_cr3());
    pml4[0] = 0;
    flush_tlb();
}

void paging_extend_direct_map(u64 limit)
{
    if (limit <= u64{BOOT_DIRECT_MAP_GIB} * kGiB) return;
    const u64* pml4 = table_at(hal::read_cr3());
    u64* pdpt = table_at(pml4[256]);
    const bool gib_pages = (hal::cpuid(0x80000001, 0).edx & (1u << 26)) != 0;
    const u64 gib_count = (limit + kGiB - 1) / kGiB;
    for (u64 gib = BOOT_DIRECT_MAP_GIB; gib < gib_count && gib < 512; ++gib) {
        if (gib_pages) {
            pdpt[gib] = (gib * kGiB) | kPresent | kWrite | kLarge;
            continue;
        }
        if (g_pd_used == kExtraDirectories) {
            FixedWriter<96> w;
            w.str("hw: direct map stops at ").dec(gib).str(" GiB (no 1 GiB pages, page-directory pool full)\n");
            log_str(w.c_str());
            break;
        }
        u64* pd = g_pd_pool[g_pd_used++];
        for (u64 i = 0; i < 512; ++i) pd[i] = (gib * kGiB + (i << 21)) | kPresent | kWrite | kLarge;
        pdpt[gib] = (reinterpret_cast<u64>(pd) - KERNEL_VMA) | kPresent | kWrite;
    }
    flush_tlb();
}

}  // namespace xeno::hw
