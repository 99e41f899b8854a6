// The paging figures of xeno-bench (bench/guests/paging_workload.asm): an
// OS-like kernel demand-mapping pages in 32 address spaces, run with EPT and
// with shadow paging.
#pragma once

#include <cstdint>

#include "arch/x86/paging/shadow.hpp"

namespace xeno::bench {

// Runs `rounds` rounds on skylake/ept, skylake/shadow and penryn/shadow (best
// of three alternating runs each) and prints per mode guest #PFs per second,
// VM exits per guest fault and the shadow's counters, then
// paging_wall_ratio_shadow_ept. Exits non-zero when a guest fails, the
// checksums differ or the guest's #PF count differs from shadow.guest_faults.
void paging(std::uint32_t rounds);

// "; shadow: N faults, N fills, ..." (no newline): a run's shadow-paging
// counters, for the detail lines of the paging and linux figures.
void print_shadow_counters(const paging::ShadowStats& stats);

}  // namespace xeno::bench
