// One VM exit as the simulated machine saw it, for host-side tools that
// watch a run without being part of it (exit statistics, timelines,
// recordings): MachineOutput::exit_taken is called at every exit before the
// hypervisor handles it, exit_handled when its handler returns. Observing
// changes nothing in the run: the event is read from the VMCS and the
// guest's registers, nothing is written.
#pragma once

#include <cstdint>

#include "hal/vmx.hpp"

namespace xeno::sim {

struct ExitEvent {
    std::uint64_t number = 0;             // the machine's exit count, this one included (1 is the first)
    std::uint32_t vcpu = 0;               // which vcpu: its VMCS's place in the order of first use (the BSP's is 0)
    std::uint32_t reason = 0;             // VM_EXIT_REASON as the VMCS has it (bits 15:0 the basic reason)
    std::uint64_t qualification = 0;      // EXIT_QUALIFICATION
    std::uint64_t vtime_ns = 0;           // the machine's virtual time at the exit
    std::uint64_t guest_instructions = 0; // guest instructions executed so far (all vcpus)
    std::uint64_t rip = 0, rsp = 0, rflags = 0;
    std::uint64_t cr0 = 0, cr3 = 0, cr4 = 0;
    std::uint64_t vmcs = 0;               // the VMCS's machine address
    // The guest's registers: at exit_taken as the exit left them, at
    // exit_handled as the handler leaves them for the next entry.
    const hal::GuestRegs* regs = nullptr;
    // All of machine memory (the hypervisor's and every guest's), read only.
    const std::uint8_t* memory = nullptr;
    std::uint64_t memory_bytes = 0;
};

}  // namespace xeno::sim
