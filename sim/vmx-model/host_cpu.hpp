// The simulated host CPU the hypervisor runs on: CPUID and the VMX capability
// MSRs from the CPU profile, IA32_FEATURE_CONTROL with its lock, a few plain
// MSRs, CR0/CR3/CR4 and the host's descriptor-table state.
//
// The host is already in 64-bit mode when the hypervisor starts (as the hw
// build's boot code leaves it), so that is its reset state here.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "hal/cpu.hpp"
#include "lib/types.hpp"
#include "sim/vmx-model/cpu_profile.hpp"

namespace xeno::sim {

class HostCpu {
public:
    explicit HostCpu(const CpuProfile& profile);

    const CpuProfile& profile() const { return profile_; }

    hal::CpuidResult cpuid(u32 leaf, u32 subleaf) const;

    // RDMSR/WRMSR. The try_ forms return nullopt/false where the CPU raises
    // #GP (unknown MSR, read-only MSR, locked IA32_FEATURE_CONTROL, reserved
    // bits); rdmsr/wrmsr panic there, since the hal has no fault channel.
    std::optional<u64> try_rdmsr(u32 msr) const;
    bool try_wrmsr(u32 msr, u64 value);
    u64 rdmsr(u32 msr) const;
    void wrmsr(u32 msr, u64 value);

    u64 cr0() const { return cr0_; }
    u64 cr3() const { return cr3_; }
    u64 cr4() const { return cr4_; }
    // MOV to CR0/CR4. In VMX operation a value that violates the VMX fixed
    // bits raises #GP (SDM Vol. 3C, 24.8): try_ returns false, write_ panics.
    bool try_write_cr0(u64 value);
    bool try_write_cr4(u64 value);
    void write_cr0(u64 value);
    void write_cr3(u64 value) { cr3_ = value; }
    void write_cr4(u64 value);

    u64 efer() const { return efer_; }

    const hal::HostSegments& segments() const { return segments_; }
    void set_segments(const hal::HostSegments& segments) { segments_ = segments; }

    // IA32_TSC reads from the TSC source (the sim's virtual time, DESIGN.md
    // "Determinism"); without one it reads as 0 plus what WRMSR added. WRMSR
    // to IA32_TSC moves this host's TSC relative to the source.
    void set_tsc_source(std::function<u64()> source) { tsc_source_ = std::move(source); }
    bool has_tsc_source() const { return static_cast<bool>(tsc_source_); }
    u64 tsc() const { return (tsc_source_ ? tsc_source_() : 0) + tsc_adjust_; }

    // VmxCpu tells the host CPU when it enters/leaves VMX operation.
    bool in_vmx_operation() const { return in_vmx_operation_; }
    void set_in_vmx_operation(bool on) { in_vmx_operation_ = on; }

    // The reason of the last refused access (for panics and tests).
    const std::string& last_fault() const { return last_fault_; }

private:
    bool fault(std::string why) const;

    const CpuProfile& profile_;
    u64 cr0_, cr3_, cr4_, efer_;
    u64 feature_control_;
    u64 apic_base_;
    std::map<u32, u64> plain_msrs_;  // PAT, SYSENTER, FS/GS base, STAR...
    hal::HostSegments segments_;
    bool in_vmx_operation_ = false;
    std::function<u64()> tsc_source_;
    u64 tsc_adjust_ = 0;
    mutable std::string last_fault_;
};

}  // namespace xeno::sim
