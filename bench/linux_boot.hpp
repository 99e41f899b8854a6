// The Linux figures of xeno-bench: Debian's kernel and the test initramfs
// (ci/fetch-linux.sh puts them in build/linux) booted by their PVH entry to
// /init and ACPI power-off, in process, through the harness code behind
// `xeno run --kernel ... --pvh` (harness/run_options.hpp, kernel_payload.hpp).
#pragma once

#include <filesystem>

namespace xeno::bench {

// Boots <dir>/vmlinuz with <dir>/initramfs.cpio, "console=ttyS0", 256 MiB:
// skylake (EPT) with 1 and 2 vcpus and penryn (shadow paging) with 1,
// alternating, `rounds` times each, the fastest run of each counting. The
// time is host wall time around sim::run_machine, as `xeno run`'s wall=
// (reading the files and decompressing the kernel are outside it). Prints
// linux_boot_s, linux_boot_smp2_s, linux_boot_shadow_ratio (n/a with the
// reason when the penryn run does not power off), linux_uptime_at_init_s,
// linux_insns_per_s, linux_virtual_per_host and linux_exits_<REASON>; and,
// when qemu-system-x86_64 is on PATH, linux_vs_qemu_tcg_ratio and
// linux_vs_qemu_icount_ratio (QEMU timed as a child process). Without the
// kernel or initramfs in `dir` it prints one line saying the figures are
// skipped. Exits non-zero when a skylake boot fails.
void linux_boot(const std::filesystem::path& dir, int rounds);

}  // namespace xeno::bench
