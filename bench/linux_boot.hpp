// The Linux figures of xeno-bench: Debian's kernel and the test initramfs
// (ci/fetch-linux.sh puts them in build/linux) booted to /init and ACPI
// power-off, in process, through the harness code behind `xeno run --kernel
// ...` (harness/run_options.hpp, kernel_payload.hpp): as an HVM guest by the
// bzImage's Linux boot protocol entry, and as a Xen PVH guest by the PVH
// entry of the ELF inside it (`--pvh`).
#pragma once

#include <filesystem>

namespace xeno::bench {

// Boots <dir>/vmlinuz with <dir>/initramfs.cpio, 256 MiB: the bzImage with
// "console=ttyS0" on skylake (EPT) with 1 and 2 vcpus and on penryn (shadow
// paging) with 1, and by PVH with "console=hvc0" (Xen's PV console) on
// skylake with 1; alternating, `rounds` times each, the fastest run of each
// counting. The time is host wall time around sim::run_machine, as `xeno
// run`'s wall= (reading the files and decompressing the kernel's ELF for PVH
// are outside it). Prints linux_boot_s (the HVM skylake 1-vcpu boot),
// pvh_boot_s, pvh_vs_hvm_boot_ratio, linux_boot_smp2_s,
// linux_boot_shadow_ratio (n/a with the reason when the penryn run does not
// power off), and for the HVM and the PVH 1-vcpu boots
// {linux,pvh}_uptime_at_init_s, _insns_per_s, _virtual_per_host and
// _exits_<REASON> (pvh_boot_s and the ratio n/a with the reason and those
// four not printed when the PVH boot does not power off); and, when qemu-system-x86_64 is on PATH, linux_vs_qemu_tcg_ratio,
// linux_vs_qemu_icount_ratio (QEMU's bzImage boot) and pvh_vs_qemu_tcg_ratio
// (QEMU's PVH boot of the same vmlinux), QEMU timed as a child process.
// Without the kernel or initramfs in `dir` it prints one line saying the
// figures are skipped. Exits non-zero when an HVM skylake boot fails.
void linux_boot(const std::filesystem::path& dir, int rounds);

}  // namespace xeno::bench
