// The bench guests (bench/guests/*.asm, assembled by CMake next to
// xeno-bench) and the header each carries (bench/guests/bench.inc).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sim/platform/machine.hpp"

namespace xeno::bench {

inline constexpr std::uint64_t kLoadAddress = 0x8000;
inline constexpr std::uint64_t kGuestMemoryMb = 32;

struct BenchGuest {
    std::vector<std::uint8_t> image;  // loaded at kLoadAddress
    std::uint32_t kernel = 0;         // address of the measured code
    std::uint32_t kernel_end = 0;     // where it is done
    std::uint32_t body_insns = 0;     // instructions per loop iteration
    std::uint32_t pre_insns = 0;      // instructions before the loop

    void set_param(int index, std::uint32_t value);  // param0 / param1
};

// Loads <dir of xeno-bench>/bench/guests/<name>.bin; exits with a message when it cannot.
BenchGuest load_bench_guest(const std::string& name);

// The machine a bench guest runs on under Xeno: guest loaded and entered at
// kLoadAddress in real mode, the run ended with an error past max_insns.
sim::MachineConfig machine_config(const BenchGuest& guest, const std::string& profile, std::uint64_t max_insns);

// Exits with a message unless the run completed with status 0.
void require_ok(const sim::MachineResult& r, const char* what);

}  // namespace xeno::bench
