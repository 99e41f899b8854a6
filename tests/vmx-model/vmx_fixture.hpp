// A partial machine for VMX-model tests: machine memory, the host CPU and the
// VMX CPU of one profile, installed as the running machine so the hal
// functions reach them. VMX faults are recorded instead of panicking.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "arch/x86/vmx/vmcs_field.hpp"
#include "arch/x86/vmx/vmx_arch.hpp"
#include "sim/platform/machine_memory.hpp"
#include "sim/platform/sim_context.hpp"
#include "sim/vmx-model/cpu_profile.hpp"
#include "sim/vmx-model/host_cpu.hpp"
#include "sim/vmx-model/vmcs_store.hpp"
#include "sim/vmx-model/vmx_cpu.hpp"

namespace xeno::sim::test {

inline const CpuProfile& profile_named(const char* name)
{
    const CpuProfile* p = find_cpu_profile(name);
    if (!p) throw std::runtime_error(std::string("no profile ") + name);
    return *p;
}

struct VmxFixture {
    static constexpr Hpa kVmxon{0x10000};
    static constexpr Hpa kVmcs{0x11000};
    static constexpr Hpa kVmcs2{0x12000};
    static constexpr u64 kMemorySize = 16 << 20;

    const CpuProfile& profile;
    MachineMemory memory{kMemorySize};
    HostCpu host;
    VmxCpu vmx;
    SimContext ctx;
    std::vector<VmxFault> faults;

    explicit VmxFixture(const char* name = "skylake")
        : profile(profile_named(name)), host(profile), vmx(memory, host, profile)
    {
        ctx.memory = &memory;
        ctx.profile = &profile;
        ctx.host = &host;
        ctx.vmx = &vmx;
        set_sim_context(&ctx);
        vmx.set_fault_handler([this](VmxFault f, const std::string&) { faults.push_back(f); });
        host.write_cr4(host.cr4() | (u64{1} << 13));
        write_revision(kVmxon);
        write_revision(kVmcs);
        write_revision(kVmcs2);
    }
    ~VmxFixture() { set_sim_context(nullptr); }
    VmxFixture(const VmxFixture&) = delete;
    VmxFixture& operator=(const VmxFixture&) = delete;

    void write_revision(Hpa region, u32 extra = 0) { memory.store<u32>(region.value(), profile.vmcs_revision() | extra); }

    // VMXON and VMPTRLD kVmcs.
    bool enter()
    {
        return vmx.vmxon(kVmxon) == VmxResult::SUCCEED && vmx.vmptrld(kVmcs) == VmxResult::SUCCEED;
    }
    u32 error() const { return vmx.current_vmcs()->get(vmx::field::VM_INSTRUCTION_ERROR); }
};

inline u32 err(vmx::VmInstructionError e) { return static_cast<u32>(e); }

}  // namespace xeno::sim::test
