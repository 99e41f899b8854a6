// What the domain builder hands a boot-information writer (multiboot 1 and 2,
// PVH): the kernel's command line, the modules it has already placed in guest
// memory, the guest's memory map and where the ACPI tables are. The writers
// copy the strings; the modules stay where the caller put them.
#pragma once

#include "boot/e820.hpp"
#include "lib/types.hpp"

namespace xeno::boot {

struct BootModule {
    u64 gpa;              // where the module's bytes are in guest-physical memory
    u64 size;             // in bytes
    const char* cmdline;  // its string (multiboot: usually its name); nullptr: empty
};

struct GuestBootInputs {
    const char* cmdline = nullptr;  // the kernel's command line; nullptr: none
    const BootModule* modules = nullptr;
    usize module_count = 0;
    const E820Entry* memory_map = nullptr;
    usize memory_map_count = 0;
    // Multiboot 2 copies the RSDP itself into its information: its bytes, 20
    // (ACPI 1.0) or 36 (ACPI 2.0+, then also given as the 1.0 prefix).
    const u8* rsdp = nullptr;
    usize rsdp_size = 0;
    u64 rsdp_gpa = 0;  // PVH passes the RSDP by address; 0: none
    // Multiboot 2 only: the image load base physical address (tag 21), for a
    // kernel with a relocatable header tag or one that asks for the tag: the
    // lowest address the image was loaded at (below 4 GiB).
    bool has_load_base = false;
    u64 load_base = 0;
};

// Where a writer put the structure the kernel is handed (EBX at entry) and how
// much of the caller's buffer it used.
struct BootInfoPlacement {
    u64 info_gpa;
    usize bytes_used;
};

}  // namespace xeno::boot
