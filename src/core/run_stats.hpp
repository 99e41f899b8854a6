// Counters of the last start() run, for whoever runs the hypervisor (the sim
// harness fills MachineResult::emulated_instructions from here; the hw build
// logs them). Reset at the beginning of each start().
#pragma once

#include "arch/x86/paging/shadow.hpp"
#include "lib/types.hpp"

namespace xeno {

struct RunStats {
    u64 exits = 0;                  // VM exits handled
    u64 emulated_instructions = 0;  // guest instructions the x86 emulator executed
    bool shadow_paging = false;     // the vcpu ran on shadow page tables
    paging::ShadowStats shadow;     // their counters at the end of the run
};

const RunStats& last_run_stats();

}  // namespace xeno
