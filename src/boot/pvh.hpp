// PVH boot: the start-of-day structure a kernel entered at its
// XEN_ELFNOTE_PHYS32_ENTRY finds through EBX (32-bit protected mode, paging
// off, flat CS/DS; that CPU state is the domain builder's). The layouts are
// Xen's public ABI, arch-x86/hvm/start_info.h, version 1 (with the memory map).
#pragma once

#include <cstddef>

#include "boot/guest_boot_inputs.hpp"
#include "lib/status.hpp"
#include "lib/types.hpp"

namespace xeno::boot {

inline constexpr u32 kHvmStartMagic = 0x336ec578;  // XEN_HVM_START_MAGIC_VALUE, "xEn3" with bit 7 of 'E' set
inline constexpr u32 kHvmStartInfoVersion = 1;

// XEN_HVM_MEMMAP_TYPE_*: the E820 numbers, plus DISABLED 6 and PMEM 7.
inline constexpr u32 kHvmMemmapRam = 1;

struct HvmStartInfo {
    u32 magic;
    u32 version;
    u32 flags;  // SIF_*; 0 for an unprivileged domain
    u32 nr_modules;
    u64 modlist_paddr;  // an array of HvmModlistEntry
    u64 cmdline_paddr;  // NUL-terminated; 0 when there is none
    u64 rsdp_paddr;     // 0 when there is none
    u64 memmap_paddr;   // version 1: an array of HvmMemmapTableEntry
    u32 memmap_entries;
    u32 reserved;
};

struct HvmModlistEntry {
    u64 paddr;
    u64 size;
    u64 cmdline_paddr;
    u64 reserved;
};

struct HvmMemmapTableEntry {
    u64 addr;
    u64 size;
    u32 type;
    u32 reserved;
};

// The offsets start_info.h draws in its comment, and the sizes that follow.
static_assert(sizeof(HvmStartInfo) == 56);
static_assert(offsetof(HvmStartInfo, flags) == 8 && offsetof(HvmStartInfo, nr_modules) == 12);
static_assert(offsetof(HvmStartInfo, modlist_paddr) == 16 && offsetof(HvmStartInfo, cmdline_paddr) == 24);
static_assert(offsetof(HvmStartInfo, rsdp_paddr) == 32 && offsetof(HvmStartInfo, memmap_paddr) == 40);
static_assert(offsetof(HvmStartInfo, memmap_entries) == 48 && offsetof(HvmStartInfo, reserved) == 52);
static_assert(sizeof(HvmModlistEntry) == 32);
static_assert(offsetof(HvmModlistEntry, size) == 8 && offsetof(HvmModlistEntry, cmdline_paddr) == 16);
static_assert(sizeof(HvmMemmapTableEntry) == 24);
static_assert(offsetof(HvmMemmapTableEntry, type) == 16 && offsetof(HvmMemmapTableEntry, reserved) == 20);

// Writes, in this order and each 8-aligned: the hvm_start_info (version 1),
// the module list, the memory map, the command line and the modules' command
// lines. Addresses Xen's ABI allows to be absent are 0 when the input has none
// (no command line, no modules, a module without a string, no RSDP). The
// structure must end below 4 GiB (EBX is 32 bits) and may not start at 0,
// which the ABI reserves for "absent"; modules may be anywhere.
Status write_pvh_start_info(const GuestBootInputs& in, u8* out, usize capacity, u64 base_gpa,
                            BootInfoPlacement* where, const char** why);

}  // namespace xeno::boot
