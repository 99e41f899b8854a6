// Where a domain's RAM sits in guest-physical space (DESIGN.md "The domain
// builder"), as a PC's: RAM from 0 up to kLowRamLimit, then the hole below
// 4 GiB that devices (the I/O APIC at 0xfec00000, the local APICs at
// 0xfee00000, a future PCI window) and the firmware's flash claim, then the
// rest of the RAM from 4 GiB. The hypervisor's own guest-physical pages
// (the vm86 TSS on CPUs without unrestricted guest) sit at the start of the
// hole, where no RAM and no device is.
#pragma once

#include "boot/e820.hpp"
#include "lib/types.hpp"

namespace xeno::boot {

inline constexpr u64 kLowRamLimit = 0xc000'0000;  // 3 GiB, QEMU's choice for large PCs
inline constexpr u64 k4GiB = u64{1} << 32;

struct GuestLayout {
    u64 ram_bytes = 0;
    u64 low_end = 0;     // RAM [0, low_end)
    u64 high_end = 0;    // RAM [4 GiB, high_end); 0: no RAM above 4 GiB

    // Guest frames a p2m must describe: up to the end of the highest RAM.
    u64 frame_span() const { return (high_end ? high_end : low_end) >> kPageShift; }
    // The first guest frame past the low RAM: hypervisor-owned pages go here.
    u64 hole_frame() const { return low_end >> kPageShift; }
    bool is_ram(u64 gpa) const { return gpa < low_end || (high_end && gpa >= k4GiB && gpa < high_end); }
};

// The layout of `ram_bytes` (a multiple of 4 KiB) of guest RAM.
GuestLayout guest_layout(u64 ram_bytes);

// The low megabyte, as a PC firmware leaves it: conventional memory up to
// the EBDA, then the EBDA, the VGA and option-ROM window and the BIOS area,
// which the domain builder uses for the firmware tables (ACPI, MP).
inline constexpr u64 kEbdaStart = 0x9fc00;
inline constexpr u64 kBiosAreaStart = 0xe0000;
inline constexpr u64 kBiosAreaEnd = 0x100000;
inline constexpr usize kGuestE820Max = 8;

// The memory map the guest is told (E820): RAM below the EBDA, the EBDA and
// the BIOS area reserved, RAM from 1 MiB to the hole, RAM above 4 GiB.
// Returns the number of entries written to out[0..kGuestE820Max).
usize guest_e820(const GuestLayout& layout, E820Entry* out);

}  // namespace xeno::boot
