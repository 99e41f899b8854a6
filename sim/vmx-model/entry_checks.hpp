// The checks VMLAUNCH/VMRESUME make on the VMCS before entering the guest
// (SDM Vol. 3C, chapter 27): VM-execution, VM-exit and VM-entry controls
// (27.2.1: VMfailValid 7), host state (27.2.2-27.2.4: VMfailValid 8) and
// guest state (27.3: VM-entry failure, exit reason 33 with the qualification
// of 27.8). MSR loading (reason 34) is done by the engine while it loads MSRs;
// check_msr_load_entry gives it the per-entry rule.
//
// Each failed check reports which rule it was (EntryCheckResult::check), so a
// failed entry in a trace says why.
#pragma once

#include "arch/x86/vmx/vmx_arch.hpp"
#include "lib/types.hpp"
#include "sim/vmx-model/cpu_profile.hpp"

namespace xeno::sim {

class MachineMemory;
class VmcsStore;

enum class EntryCheckStatus : u8 {
    OK,
    VMFAIL_VALID,   // error: ENTRY_INVALID_CONTROL_FIELD (7) or ENTRY_INVALID_HOST_STATE (8)
    ENTRY_FAILURE,  // exit_reason: INVALID_GUEST_STATE (33) or MSR_LOADING (34), with qualification
};

struct EntryCheckResult {
    EntryCheckStatus status = EntryCheckStatus::OK;
    vmx::VmInstructionError error{};
    vmx::ExitReason exit_reason{};
    u64 qualification = 0;
    const char* check = "";  // the rule that failed (for logs and tests)

    bool ok() const { return status == EntryCheckStatus::OK; }
    // The VM-exit reason field value for an ENTRY_FAILURE (bit 31 set).
    u32 exit_reason_field() const { return vmx::kExitReasonEntryFailure | static_cast<u32>(exit_reason); }

    static EntryCheckResult pass() { return {}; }
    static EntryCheckResult bad_control(const char* why)
    {
        return {EntryCheckStatus::VMFAIL_VALID, vmx::VmInstructionError::ENTRY_INVALID_CONTROL_FIELD, {}, 0, why};
    }
    static EntryCheckResult bad_host(const char* why)
    {
        return {EntryCheckStatus::VMFAIL_VALID, vmx::VmInstructionError::ENTRY_INVALID_HOST_STATE, {}, 0, why};
    }
    static EntryCheckResult bad_guest(const char* why, u64 qualification = vmx::kEntryFailQualDefault)
    {
        return {EntryCheckStatus::ENTRY_FAILURE, {}, vmx::ExitReason::INVALID_GUEST_STATE, qualification, why};
    }
    static EntryCheckResult bad_msr_load(const char* why, u64 entry_index)
    {
        // Qualification: the 1-based index of the failing MSR-load entry (27.8).
        return {EntryCheckStatus::ENTRY_FAILURE, {}, vmx::ExitReason::MSR_LOADING, entry_index + 1, why};
    }
};

// What the checks need besides the VMCS and the CPU's capabilities.
struct EntryEnvironment {
    u64 current_efer = 0xd01;               // the logical processor's IA32_EFER (LMA decides 27.2.4)
    const MachineMemory* memory = nullptr;  // for PDPTEs, VMCS link pointer, virtual-APIC TPR; nullptr: skipped
    bool in_smm = false;
};

// All checks in the SDM's order: controls, host state, guest state.
EntryCheckResult check_vm_entry(const VmcsStore& vmcs, const CpuProfile& profile, const EntryEnvironment& env);

EntryCheckResult check_entry_controls(const VmcsStore& vmcs, const CpuProfile& profile, const EntryEnvironment& env);
EntryCheckResult check_host_state(const VmcsStore& vmcs, const CpuProfile& profile, const EntryEnvironment& env);
EntryCheckResult check_guest_state(const VmcsStore& vmcs, const CpuProfile& profile, const EntryEnvironment& env);

// One entry of the VM-entry MSR-load area (27.4: reason 34 on failure):
// reserved bits 63:32 of the first quadword, MSRs that may not be loaded
// this way (FS/GS base, IA32_SMM_MONITOR_CTL, x2APIC range with LMA...).
// index is 0-based; the result's qualification is index + 1.
EntryCheckResult check_msr_load_entry(u32 msr, u64 reserved_high, u64 index);

// EPTP validity (27.2.1.1; also INVEPT single-context): memory type allowed
// by EPT_VPID_CAP, page-walk length 4 (value 3), A/D enable only when
// supported, reserved bits 11:7 and beyond MAXPHYADDR zero.
bool eptp_valid(u64 eptp, const CpuProfile& profile);

// Each byte of a PAT value is a valid memory type (0, 1, 4, 5, 6, 7).
bool pat_valid(u64 pat);
// No IA32_EFER bits set beyond SCE, LME, LMA, NXE.
bool efer_reserved_clear(u64 efer);

// Bits 63:width-1 of address all equal.
constexpr bool is_canonical(u64 address, unsigned width = 48)
{
    const u64 top = address >> (width - 1);
    return top == 0 || top == (~u64{0} >> (width - 1));
}

}  // namespace xeno::sim
