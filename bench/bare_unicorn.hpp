// The same guest bytes on a bare Unicorn engine: no VMX model, no
// hypervisor, no instruction counting. The reference busy_loop_ratio divides by.
#pragma once

#include <cstdint>

#include "bench_guest.hpp"

namespace xeno::bench {

struct BareRun {
    double seconds = 0;         // host time of uc_emu_start alone
    std::uint32_t eax = 0;      // the kernel's result
    std::uint32_t edx = 0;      // (real-mode kernels keep a 32-bit result in DX:AX)
    std::uint64_t instructions = 0;  // counted with a code hook (count_instructions), else 0
};

// Runs guest.kernel .. guest.kernel_end in 32-bit code on a UC_MODE_64 engine
// (the engine kind the VMX model uses): the engine starts in long mode, and a
// far return into a 32-bit code segment puts it in compatibility mode, which
// executes the kernel's bytes exactly as 32-bit protected mode does.
// count_instructions adds a per-instruction hook (slow: for checking counts).
BareRun run_bare_unicorn(const BenchGuest& guest, bool count_instructions);

// Runs guest.kernel .. guest.kernel_end as real-mode code on a UC_MODE_16
// engine, CS=SS=0 and SP=0x7000; the kernel loads its other segment registers.
// Only kernels without INT n: a bare engine delivers no interrupts.
BareRun run_bare_unicorn_real16(const BenchGuest& guest, bool count_instructions);

}  // namespace xeno::bench
