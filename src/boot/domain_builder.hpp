// The domain builder for kernels (DESIGN.md "The domain builder"): like
// Xen's, it runs inside the hypervisor in both builds, on a kernel (and an
// initrd and a command line) handed over as boot modules.
//
// It recognises the kernel's boot protocol, in this order: a Linux bzImage
// (the x86 boot protocol, entered at its 32-bit entry), a multiboot 1 header,
// a multiboot 2 header (both: loaded as ELF, or by the header's addresses),
// an ELF with Xen's PVH entry note. It lays the kernel and the initrd into
// guest RAM, writes the firmware tables a PC has (ACPI at 0xe0000, MP at
// 0xf0000, both in the reserved BIOS area of the memory map), the boot
// information the protocol promises (multiboot information, hvm_start_info
// or boot_params, with the E820 map and the RSDP), a GDT with the flat
// selectors 0x10 and 0x18 at 0x1000, and fills QEMU's fw_cfg (RAM size, CPU
// counts, the kernel, initrd and command-line items, etc/e820 and the ACPI
// table files with their loader script), so that software written for
// QEMU's -kernel finds what it expects.
//
// Guest memory low to high: 0x1000 the GDT, 0x2000.. the boot information
// (below 0x80000), the kernel where its headers say (at 1 MiB or above),
// then (multiboot, PVH) the initrd after it, or (Linux) the initrd at the top
// of RAM below the kernel's initrd limit, as boot loaders do.
//
// The image is untrusted: an image no protocol accepts, a segment outside
// guest RAM or over the low megabyte, an initrd or command line that does not
// fit is refused with one log line ("domain: kernel refused: ..."); nothing
// is written outside the guest's memory.
#pragma once

#include "arch/x86/vmx/vmcs_setup.hpp"
#include "core/domain.hpp"
#include "lib/status.hpp"

namespace xeno::boot {

struct KernelInputs {
    const u8* kernel = nullptr;
    usize kernel_size = 0;
    const u8* initrd = nullptr;  // nullptr: none
    usize initrd_size = 0;
    const char* cmdline = nullptr;  // NUL-terminated; nullptr: none
};

// Which protocol the builder used (for the log and the tests).
enum class KernelProtocol : u8 { LINUX, MULTIBOOT1, MULTIBOOT2, PVH };
const char* kernel_protocol_name(KernelProtocol protocol);

struct KernelBoot {
    KernelProtocol protocol;
    vmx::GuestStart start;  // how vcpu 0 enters the kernel
    u64 rsdp_gpa;
};

// Build the domain's memory (its RAM must exist: Domain::build_memory) for
// the kernel. BAD_ARGUMENT (logged) for an unusable image or inputs that do
// not fit.
Result<KernelBoot> build_kernel_domain(Domain& domain, const KernelInputs& in);

}  // namespace xeno::boot
