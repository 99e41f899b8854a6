// Which VMX controls the software model implements, and the VM-entry gate
// that refuses the others.
//
// A CPU profile's capability MSRs are what the processor the profile mirrors
// (a Bochs CPU model) reports, and must stay equal to it (profile_test.cpp).
// The model implements most of those controls, not all: a control it
// accepted but ignored would let a hypervisor relying on it run silently
// wrong. So a VM entry whose controls set an allowed-1 bit outside
// CpuProfile::implemented fails as an invalid control does (VMfailValid,
// VM-instruction error 7, SDM Vol. 3C 27.2.1.1), and the check names the
// control, for the log line hal::run writes.
#pragma once

#include "sim/vmx-model/cpu_profile.hpp"
#include "sim/vmx-model/entry_checks.hpp"

namespace xeno::sim {

class VmcsStore;

// The controls the model implements, restricted to those `vmx` allows.
ModelControls model_controls(const VmxCapabilities& vmx);

// VMfailValid 7 naming the first control the VMCS sets that the model does
// not implement; pass otherwise.
EntryCheckResult check_model_controls(const VmcsStore& vmcs, const CpuProfile& profile);

// The VM-entry checks as the model runs them: the SDM's control checks,
// then the model's own (above), then host and guest state.
EntryCheckResult check_vm_entry_on_model(const VmcsStore& vmcs, const CpuProfile& profile, const EntryEnvironment& env);

// The name of a control ("use TPR shadow"), by capability MSR and bit, for
// messages and tests: msr is IA32_VMX_PINBASED_CTLS, _PROCBASED_CTLS,
// _PROCBASED_CTLS2, _EXIT_CTLS or _ENTRY_CTLS (0x481..0x484, 0x48b).
const char* control_name(u32 msr, unsigned bit);

}  // namespace xeno::sim
