// One VM exit as the simulated machine saw it, for host-side tools that
// watch a run without being part of it (exit statistics, timelines,
// recordings): MachineOutput::exit_taken is called at every exit before the
// hypervisor handles it, exit_handled when its handler returns, and
// vcpu_entered at every VM entry (so a tool can tell a vcpu's guest time from
// the time it spent halted or waiting for the CPU). Observing
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
    // VM_ENTRY_INTR_INFO_FIELD: the event the next VM entry injects when its
    // valid bit (31) is set. An entry clears that bit (SDM 26.6), so at
    // exit_taken it is clear; at exit_handled it is what the handler armed.
    std::uint32_t entry_interruption = 0;
    // The guest's registers: at exit_taken as the exit left them, at
    // exit_handled as the handler leaves them for the next entry.
    const hal::GuestRegs* regs = nullptr;
    // All of machine memory (the hypervisor's and every guest's), read only.
    const std::uint8_t* memory = nullptr;
    std::uint64_t memory_bytes = 0;
};

// One VM entry of a vcpu (MachineOutput::vcpu_entered): hal::run entering
// the guest, or the hypervisor resuming it after an exit handler. Read like
// ExitEvent, before the entry: nothing is written.
struct EntryEvent {
    std::uint32_t vcpu = 0;               // as ExitEvent::vcpu
    std::uint64_t vtime_ns = 0;           // the machine's virtual time at the entry
    std::uint64_t guest_instructions = 0; // guest instructions executed so far (all vcpus)
    std::uint64_t rip = 0;                // GUEST_RIP the guest starts at
    std::uint32_t entry_interruption = 0; // VM_ENTRY_INTR_INFO_FIELD: the event this entry injects (bit 31: valid)
    bool resumed = false;                 // true: straight after an exit handler; false: hal::run entering
};

}  // namespace xeno::sim
