// A debugger attached to a simulated machine's run (MachineOutput::debugger):
// the machine tells it when the engine exists and which vcpu the engine runs,
// and it does the rest through the engine's own interface (Unicorn hooks of
// its own, Engine::peek_translate). The GDB stub (harness/gdb_target.hpp) is
// the one implementation. A run without one pays nothing.
#pragma once

#include <cstdint>

#include "hal/vmx.hpp"

namespace xeno::sim {

class Engine;
class MachineMemory;
class VmcsStore;
class VmxCpu;

class MachineDebugger {
public:
    virtual ~MachineDebugger() = default;
    // The machine is assembled, nothing of the hypervisor has run yet.
    virtual void machine_started(Engine& engine, MachineMemory& memory, VmxCpu& vmx) = 0;
    // hal::run is about to run `vcpu` (exit_event.hpp's numbering) on the
    // engine / has run it: its VMCS then holds the guest state and regs the
    // general registers.
    virtual void vcpu_entering(std::uint32_t vcpu, VmcsStore& vmcs) = 0;
    virtual void vcpu_left(std::uint32_t vcpu, VmcsStore& vmcs, const hal::GuestRegs& regs) = 0;
    // run_machine is about to tear the machine down (the engine goes away).
    virtual void machine_ending() = 0;
};

}  // namespace xeno::sim
