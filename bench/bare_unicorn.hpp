// The same guest bytes on a bare Unicorn engine: no VMX model, no
// hypervisor, no instruction counting. The reference busy_loop_ratio divides by.
#pragma once

#include <cstdint>

#include "bench_guest.hpp"

namespace xeno::bench {

struct BareRun {
    double seconds = 0;         // host time of uc_emu_start alone
    std::uint32_t eax = 0;      // the kernel's result
    std::uint64_t instructions = 0;  // counted with a code hook (count_instructions), else 0
};

// Runs guest.kernel .. guest.kernel_end in 32-bit code on a UC_MODE_64 engine
// (the engine kind the VMX model uses): the engine starts in long mode, and a
// far return into a 32-bit code segment puts it in compatibility mode, which
// executes the kernel's bytes exactly as 32-bit protected mode does.
// count_instructions adds a per-instruction hook (slow: for checking counts).
BareRun run_bare_unicorn(const BenchGuest& guest, bool count_instructions);

}  // namespace xeno::bench
