// Counters of the last start() run, for whoever runs the hypervisor (the sim
// harness fills MachineResult::emulated_instructions from here; the hw build
// logs them). Reset at the beginning of each start().
#pragma once

#include "arch/x86/paging/shadow.hpp"
#include "core/domain.hpp"
#include "lib/types.hpp"

namespace xeno {

struct RunStats {
    DomainEnd end = DomainEnd::RUNNING;  // how the domain ended (RUNNING: it did not run)
    char end_reason[160] = {};      // and why, in one line (NUL-terminated)
    u64 exits = 0;                  // VM exits handled, all vcpus
    u64 vcpu_switches = 0;          // the scheduler switched from one vcpu to another
    u64 emulated_instructions = 0;  // guest instructions the x86 emulator executed
    bool shadow_paging = false;     // the vcpu ran on shadow page tables
    paging::ShadowStats shadow;     // their counters at the end of the run
    // The running domain's guest-physical-to-machine map (mm/p2m.hpp): the
    // machine address of its table and its length in guest frames (0: no
    // domain yet). A host-side tool reads guest RAM as the guest sees it
    // through it (the sim's recordings hash guest RAM at checkpoints).
    u64 p2m_table = 0;
    u64 p2m_frames = 0;
};

const RunStats& last_run_stats();

}  // namespace xeno
