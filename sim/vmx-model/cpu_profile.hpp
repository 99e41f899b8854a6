// CPU profiles: the identity of the simulated host CPU. Each profile mirrors a
// Bochs CPU model (the hw build's test rig), so the hypervisor takes the same
// path in both builds: the same CPUID, and the same VMX capability MSRs
// (SDM Vol. 3D, Appendix A), which decide which controls and VMCS fields
// exist and what VM entry accepts.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "arch/x86/vmx/vmcs_field.hpp"
#include "lib/types.hpp"

namespace xeno::sim {

// One CPUID leaf (subleaf only matters where indexed is true).
struct CpuidLeaf {
    u32 leaf;
    u32 subleaf;
    bool indexed;
    u32 eax, ebx, ecx, edx;
};

// The VMX capability MSRs, IA32_VMX_BASIC (0x480) .. IA32_VMX_VMFUNC (0x491).
struct VmxCapabilities {
    u64 basic;
    u64 pinbased_ctls;
    u64 procbased_ctls;
    u64 exit_ctls;
    u64 entry_ctls;
    u64 misc;
    u64 cr0_fixed0;
    u64 cr0_fixed1;
    u64 cr4_fixed0;
    u64 cr4_fixed1;
    u64 vmcs_enum;
    u64 procbased_ctls2;  // present only with "activate secondary controls" allowed-1
    u64 ept_vpid_cap;     // present only with EPT or VPID allowed-1
    u64 true_pinbased_ctls;  // TRUE_* present only with BASIC bit 55
    u64 true_procbased_ctls;
    u64 true_exit_ctls;
    u64 true_entry_ctls;
    u64 vmfunc;  // present only with "enable VM functions" allowed-1
};

// Allowed-0 settings are the low 32 bits of a control capability MSR (a 1
// there means the control must be 1), allowed-1 settings the high 32 bits
// (a 0 there means the control must be 0). SDM Vol. 3D, A.3-A.5.
constexpr u32 allowed0(u64 ctls_msr) { return static_cast<u32>(ctls_msr); }
constexpr u32 allowed1(u64 ctls_msr) { return static_cast<u32>(ctls_msr >> 32); }
// A control word satisfies a capability MSR.
constexpr bool controls_allowed(u32 value, u64 ctls_msr)
{
    return (value & allowed0(ctls_msr)) == allowed0(ctls_msr) && (value & ~allowed1(ctls_msr)) == 0;
}

// EPT/VPID capability bits (Vol. 3D, A.10).
namespace ept_cap {
inline constexpr u64 EXECUTE_ONLY = u64{1} << 0;
inline constexpr u64 WALK_LENGTH_4 = u64{1} << 6;
inline constexpr u64 MEMTYPE_UC = u64{1} << 8;
inline constexpr u64 MEMTYPE_WB = u64{1} << 14;
inline constexpr u64 PDE_2MB = u64{1} << 16;
inline constexpr u64 PDPTE_1GB = u64{1} << 17;
inline constexpr u64 INVEPT = u64{1} << 20;
inline constexpr u64 ACCESSED_DIRTY = u64{1} << 21;
inline constexpr u64 ADVANCED_EXIT_INFO = u64{1} << 22;
inline constexpr u64 INVEPT_SINGLE_CONTEXT = u64{1} << 25;
inline constexpr u64 INVEPT_ALL_CONTEXT = u64{1} << 26;
inline constexpr u64 INVVPID = u64{1} << 32;
inline constexpr u64 INVVPID_INDIVIDUAL_ADDRESS = u64{1} << 40;
inline constexpr u64 INVVPID_SINGLE_CONTEXT = u64{1} << 41;
inline constexpr u64 INVVPID_ALL_CONTEXT = u64{1} << 42;
inline constexpr u64 INVVPID_SINGLE_CONTEXT_RETAINING_GLOBALS = u64{1} << 43;
}  // namespace ept_cap

// IA32_VMX_MISC bits (Vol. 3D, A.6).
namespace misc_cap {
inline constexpr u64 STORE_LMA_ON_EXIT = u64{1} << 5;
inline constexpr u64 ACTIVITY_HLT = u64{1} << 6;
inline constexpr u64 ACTIVITY_SHUTDOWN = u64{1} << 7;
inline constexpr u64 ACTIVITY_WAIT_FOR_SIPI = u64{1} << 8;
inline constexpr u64 VMWRITE_ANY_FIELD = u64{1} << 29;
inline constexpr u64 INJECT_ILEN_0 = u64{1} << 30;
}  // namespace misc_cap

// The allowed-1 VM-execution, VM-exit and VM-entry controls that the
// software model implements (model_controls.cpp). The capability MSRs say
// what the processor (Bochs) offers; a VM entry with a control the model
// does not implement fails (VMfailValid 7) instead of running the guest
// without the control's effect.
struct ModelControls {
    u32 pin, proc, proc2, exit, entry;
};

struct CpuProfile {
    const char* name;         // "penryn", "skylake"
    const char* bochs_model;  // the Bochs 2.7 cpu model it mirrors
    // Unicorn's CPU model for guest execution (uc_cpu_x86): which instruction
    // set extensions the engine decodes. Its CPUID leaves (below) report
    // only what that model executes.
    int unicorn_cpu_model;
    VmxCapabilities vmx;
    ModelControls implemented;  // of the allowed-1 controls in vmx, those the model implements
    // The TSC frequency, as the profile's CPUID states it (leaf 16H base
    // frequency where there is one, else the brand string): the virtual TSC
    // counts at this rate on virtual time (engine/vtime.hpp).
    u64 tsc_hz;
    u64 feature_control_reset;  // IA32_FEATURE_CONTROL at reset
    u8 phys_addr_width;         // MAXPHYADDR
    u8 linear_addr_width;
    std::vector<CpuidLeaf> cpuid_leaves;

    // The value of a VMX capability MSR, or nullopt when this CPU does not
    // have it (RDMSR would #GP).
    std::optional<u64> capability_msr(u32 msr) const;

    // CPUID as the profile defines it (leaves beyond the maximum answer as the
    // highest basic leaf does, like Intel CPUs). Dynamic bits (OSXSAVE, APIC
    // id) are the host CPU's business, see HostCpu::cpuid.
    CpuidLeaf cpuid(u32 leaf, u32 subleaf) const;

    // Capability queries derived from the MSRs.
    bool has_true_controls() const { return (vmx.basic >> 55) & 1; }
    u64 pin_ctls() const { return has_true_controls() ? vmx.true_pinbased_ctls : vmx.pinbased_ctls; }
    u64 proc_ctls() const { return has_true_controls() ? vmx.true_procbased_ctls : vmx.procbased_ctls; }
    u64 exit_ctls() const { return has_true_controls() ? vmx.true_exit_ctls : vmx.exit_ctls; }
    u64 entry_ctls() const { return has_true_controls() ? vmx.true_entry_ctls : vmx.entry_ctls; }
    bool has_secondary_controls() const;
    u32 proc2_allowed1() const { return has_secondary_controls() ? allowed1(vmx.procbased_ctls2) : 0; }
    bool pin_allows(u32 control) const { return (allowed1(vmx.pinbased_ctls) & control) == control; }
    bool proc_allows(u32 control) const { return (allowed1(vmx.procbased_ctls) & control) == control; }
    bool proc2_allows(u32 control) const { return (proc2_allowed1() & control) == control; }
    bool exit_allows(u32 control) const { return (allowed1(vmx.exit_ctls) & control) == control; }
    bool entry_allows(u32 control) const { return (allowed1(vmx.entry_ctls) & control) == control; }
    bool has_ept() const;
    bool has_vpid() const;
    bool has_unrestricted_guest() const;
    bool has_preemption_timer() const;
    bool has_vmfunc() const;
    bool has_ept_vpid_cap() const { return has_ept() || has_vpid(); }
    // The preemption timer counts down by 1 every 2^rate TSC ticks.
    unsigned preemption_timer_rate() const { return static_cast<unsigned>(vmx.misc & 0x1f); }
    unsigned cr3_target_count_max() const { return static_cast<unsigned>((vmx.misc >> 16) & 0x1ff); }
    bool vmwrite_any_field() const { return (vmx.misc & misc_cap::VMWRITE_ANY_FIELD) != 0; }
    u32 vmcs_revision() const { return static_cast<u32>(vmx.basic & 0x7fffffff); }
    // IA32_VMX_BASIC bit 48: addresses for VMX are limited to 32 bits.
    bool vmx_addresses_32bit() const { return (vmx.basic >> 48) & 1; }
    u64 phys_addr_mask() const { return (u64{1} << phys_addr_width) - 1; }
    // A physical address fits the CPU's physical-address width (and 32 bits
    // when BASIC bit 48 says so).
    bool phys_addr_valid(u64 address) const;

    // Whether the CPU supports a VMCS component (a full or high encoding).
    bool supports_feature(vmx::VmcsFeature feature) const;
    bool supports_field(u64 encoding) const;
};

// The profile named name, or nullptr.
const CpuProfile* find_cpu_profile(std::string_view name);
// Names of all profiles, in a fixed order.
const std::vector<std::string_view>& cpu_profile_names();

}  // namespace xeno::sim
