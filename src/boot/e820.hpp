// The guest's memory map, as the BIOS's INT 15h E820 call reports it: the one
// vocabulary every boot-protocol writer here translates (multiboot 1 and 2
// mmap, hvm_start_info's memmap, boot_params' e820_table), so the domain
// builder lays out guest memory once.
#pragma once

#include "lib/types.hpp"

namespace xeno::boot {

// ACPI 6.x, table 15.312 "Address Range Types"; multiboot, PVH and Linux use
// the same numbers.
inline constexpr u32 kE820Ram = 1;
inline constexpr u32 kE820Reserved = 2;
inline constexpr u32 kE820Acpi = 3;  // ACPI tables, reclaimable once read
inline constexpr u32 kE820Nvs = 4;   // ACPI NVS, must be preserved
inline constexpr u32 kE820Unusable = 5;

struct E820Entry {
    u64 addr;
    u64 size;
    u32 type;
};

}  // namespace xeno::boot
