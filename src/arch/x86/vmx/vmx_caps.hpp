// The VMX capability MSRs of this CPU, read once at bring-up (SDM Vol. 3D,
// Appendix A). Everything the hypervisor decides about controls, fixed CR
// bits and EPT comes from here, so one code path serves every CPU profile.
#pragma once

#include "arch/x86/vmx/vmx_arch.hpp"
#include "lib/types.hpp"

namespace xeno::vmx {

struct VmxCaps {
    u64 basic = 0;
    u64 pinbased = 0, procbased = 0, exit = 0, entry = 0;  // TRUE_* when basic bit 55, else the legacy MSRs
    u64 misc = 0;
    u64 cr0_fixed0 = 0, cr0_fixed1 = 0, cr4_fixed0 = 0, cr4_fixed1 = 0;
    u64 vmcs_enum = 0;
    u64 procbased2 = 0;  // 0 when secondary controls cannot be activated
    u64 ept_vpid = 0;    // 0 unless EPT or VPID may be enabled

    bool true_controls() const { return (basic & kBasicTrueControls) != 0; }
    u32 revision() const { return static_cast<u32>(basic & kBasicRevisionMask); }
    u32 vmcs_size() const { return basic_vmcs_size(basic); }
    bool secondary() const { return (static_cast<u32>(procbased >> 32) & proc::ACTIVATE_SECONDARY_CONTROLS) != 0; }
    bool allows2(u32 control) const { return secondary() && (static_cast<u32>(procbased2 >> 32) & control) == control; }
    bool ept() const { return allows2(proc2::ENABLE_EPT); }
    bool unrestricted_guest() const { return allows2(proc2::UNRESTRICTED_GUEST); }
    bool vpid() const { return allows2(proc2::ENABLE_VPID); }
    // EPT with a 4-level walk and write-back paging structures (EPT_VPID_CAP bits 6, 14).
    bool ept_usable() const { return ept() && (ept_vpid & bit(6)) && (ept_vpid & bit(14)); }
};

}  // namespace xeno::vmx
