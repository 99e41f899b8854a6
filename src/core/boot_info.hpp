// What the boot loader (hw: multiboot2; sim: the harness) hands the
// hypervisor: the machine memory map, the modules (guest images) and the
// command line. Everything the hypervisor then does starts from here, the
// same way in both builds.
#pragma once

#include <utility>  // lib/types.hpp uses <=> without including <compare>

#include "lib/types.hpp"

namespace xeno {

struct MemoryRegion {
    enum class Type : u8 { USABLE, RESERVED };
    u64 base;
    u64 length;
    Type type;
};

struct BootModule {
    Hpa start;            // machine address of the first byte
    u64 size;             // in bytes
    const char* cmdline;  // the module's own string ("" when none)
};

struct BootInfo {
    static constexpr usize kMaxRegions = 32;
    static constexpr usize kMaxModules = 8;

    MemoryRegion regions[kMaxRegions];
    usize region_count;
    BootModule modules[kMaxModules];
    usize module_count;
    const char* cmdline;  // the hypervisor's command line ("" when none)
    // Machine memory the hypervisor image itself occupies (hw); the frame
    // allocator never hands it out. Empty in the sim build.
    Hpa image_start;
    Hpa image_end;
    // Every usable byte reads zero at boot (sim: fresh anonymous memory; a
    // firmware makes no such promise): frames never used need no zeroing.
    bool memory_zeroed;
};

// The hypervisor's start routine, the same in both builds: set up machine
// memory, bring up VMX, build the domain the command line describes, run it
// to completion and return its exit status (>= 0), or a negative value when
// the hypervisor itself could not run it (the reason is on the LOG channel).
int start(const BootInfo& boot);

}  // namespace xeno
