// Virtual time of the sim build (DESIGN.md "Determinism"): a 1 GHz virtual
// clock that advances one nanosecond per guest instruction and a fixed cost
// per VM exit. Nothing here reads host time.
//
// The TSC runs on virtual time at the CPU profile's TSC frequency
// (CpuProfile::tsc_hz, what its CPUID states): tsc = ns * hz / 10^9, counted
// from 0 at virtual time 0. RDTSC, RDTSCP, IA32_TSC, the preemption timer
// and hal::tsc_at/time_at_tsc all convert with these two functions.
#pragma once

#include "lib/types.hpp"

namespace xeno::sim {

inline constexpr u64 kNsPerInstruction = 1;
inline constexpr u64 kExitCostNs = 1000;  // a VM exit + entry on a 2010s Intel core is ~1 us
inline constexpr u64 kNsPerSecond = 1'000'000'000;

constexpr u64 virtual_time_ns(u64 instructions, u64 exits)
{
    return instructions * kNsPerInstruction + exits * kExitCostNs;
}

// The TSC at virtual time `ns` (rounded down: the tick in progress).
constexpr u64 tsc_at_ns(u64 ns, u64 tsc_hz)
{
    return static_cast<u64>(static_cast<unsigned __int128>(ns) * tsc_hz / kNsPerSecond);
}

// The first virtual time at which the TSC reads at least `tsc` (rounded up,
// so that a TSC deadline is never reported reached early).
constexpr u64 ns_at_tsc(u64 tsc, u64 tsc_hz)
{
    return static_cast<u64>((static_cast<unsigned __int128>(tsc) * kNsPerSecond + tsc_hz - 1) / tsc_hz);
}

}  // namespace xeno::sim
