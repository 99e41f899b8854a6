// A simulated machine's parts without run_machine: memory, the host CPU, its
// VMX operation and the Unicorn engine, installed as the running machine
// (sim_context.hpp) for as long as the object lives, so that the hal calls
// of the code under test (the clock, the host timer, VMX instructions)
// reach them. No output sinks: the hypervisor's log goes nowhere.
#pragma once

#include "sim/platform/machine_memory.hpp"
#include "sim/platform/sim_context.hpp"
#include "sim/vmx-model/cpu_profile.hpp"
#include "sim/vmx-model/engine/engine.hpp"
#include "sim/vmx-model/host_cpu.hpp"
#include "sim/vmx-model/vmx_cpu.hpp"

namespace xeno::test {

struct SimParts {
    const sim::CpuProfile& profile;
    sim::MachineMemory memory;
    sim::HostCpu host{profile};
    sim::VmxCpu vmx{memory, host, profile};
    sim::Engine engine{memory, profile};
    sim::SimContext ctx;

    explicit SimParts(const char* profile_name = "skylake", u64 memory_bytes = 16u << 20)
        : profile(*sim::find_cpu_profile(profile_name)), memory(memory_bytes)
    {
        ctx.memory = &memory;
        ctx.profile = &profile;
        ctx.host = &host;
        ctx.vmx = &vmx;
        ctx.engine = &engine;
        sim::set_sim_context(&ctx);
    }
    ~SimParts() { sim::set_sim_context(nullptr); }
    SimParts(const SimParts&) = delete;
    SimParts& operator=(const SimParts&) = delete;
};

}  // namespace xeno::test
