// Virtual time of the sim build (DESIGN.md "Determinism"): a 1 GHz virtual
// clock that advances one nanosecond per guest instruction and a fixed cost
// per VM exit. TSC = vtime in ns. Nothing here reads host time.
#pragma once

#include "lib/types.hpp"

namespace xeno::sim {

inline constexpr u64 kNsPerInstruction = 1;
inline constexpr u64 kExitCostNs = 1000;  // a VM exit + entry on a 2010s Intel core is ~1 us
inline constexpr u64 kTscPerNs = 1;       // 1 GHz TSC

constexpr u64 virtual_time_ns(u64 instructions, u64 exits)
{
    return instructions * kNsPerInstruction + exits * kExitCostNs;
}

}  // namespace xeno::sim
