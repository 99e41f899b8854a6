// The parts of the simulated machine that is running now. The hal functions
// the hypervisor calls are free functions (no virtual calls across the seam),
// so the sim build's definitions of them reach the machine through here.
#pragma once

#include <cstdint>
#include <vector>

namespace xeno::sim {

class MachineMemory;
class HostCpu;       // sim/vmx-model/host_cpu.hpp: the simulated host CPU (CPUID, MSRs, CRs)
class VmxCpu;        // sim/vmx-model/vmx_cpu.hpp: VMX operation, current VMCS, VMX instructions
class Engine;        // sim/vmx-model/engine/engine.hpp: guest execution on Unicorn
struct CpuProfile;   // sim/vmx-model/cpu_profile.hpp
struct MachineOutput;
class MachineDebugger;  // sim/debug/machine_debugger.hpp

struct SimContext {
    MachineMemory* memory = nullptr;
    const CpuProfile* profile = nullptr;
    HostCpu* host = nullptr;
    VmxCpu* vmx = nullptr;
    Engine* engine = nullptr;
    const MachineOutput* output = nullptr;
    // The VMCS addresses hal::run has entered, in the order of first use:
    // an exit observer's vcpu number (exit_event.hpp).
    std::vector<std::uint64_t> vmcs_order;
    MachineDebugger* debugger = nullptr;  // MachineOutput::debugger
};

// The running machine's parts. Panics when no machine is running.
SimContext& sim_context();

// Install ctx as the running machine (nullptr: none). For run_machine and
// for unit tests that assemble a partial machine.
void set_sim_context(SimContext* ctx);

}  // namespace xeno::sim
