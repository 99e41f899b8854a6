// Entering and leaving VMX operation on this CPU (SDM Vol. 3C, 24.7 "Enabling
// and Entering VMX Operation", 24.8 "Restrictions on VMX Operation").
#pragma once

#include "arch/x86/vmx/vmx_caps.hpp"
#include "lib/status.hpp"
#include "mm/frame_allocator.hpp"

namespace xeno::vmx {

// CPUID.1:ECX.VMX, IA32_FEATURE_CONTROL, CR0/CR4 fixed bits + CR4.VMXE, the
// VMXON region, VMXON. Reads the capability MSRs into `caps` and, with
// CapsLog::ALL, logs each once ("vmx-msr 0x480 0x...") and the VMXON line
// (the other physical CPUs enter quietly). Every failure is logged with its
// reason.
enum class CapsLog : u8 { ALL, QUIET };
Status vmx_cpu_enable(mm::FrameAllocator& frames, VmxCaps& caps, CapsLog log = CapsLog::ALL);

// VMXOFF (logs a failure; nothing else to do about it).
void vmx_cpu_disable();

// A VMCS region for this CPU: one zeroed frame stamped with the revision id.
Result<Hpa> allocate_vmcs_region(mm::FrameAllocator& frames, const VmxCaps& caps);

}  // namespace xeno::vmx
