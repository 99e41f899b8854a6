// Checks on the VMX controls (SDM Vol. 3C, 27.2.1): failure is VMfailValid
// with error 7 ("VM entry with invalid control field(s)").
#include "arch/x86/vmx/vmcs_field.hpp"
#include "sim/platform/machine_memory.hpp"
#include "sim/vmx-model/entry_checks.hpp"
#include "sim/vmx-model/vmcs_store.hpp"

namespace xeno::sim {

namespace {

using namespace xeno::vmx;
using R = EntryCheckResult;

bool page_address_ok(u64 address, const CpuProfile& p) { return (address & 0xfff) == 0 && p.phys_addr_valid(address); }

// An MSR-load/store area: 16-byte aligned, first and last byte within width.
bool msr_area_ok(u64 address, u32 count, const CpuProfile& p)
{
    if (count == 0) return true;
    if (address & 0xf) return false;
    const u64 last = address + u64{count} * 16 - 1;
    return p.phys_addr_valid(address) && p.phys_addr_valid(last);
}

R check_execution_controls(const VmcsStore& v, const CpuProfile& p, const EntryEnvironment& env)
{
    const u32 pinc = v.get(field::PIN_BASED_VM_EXEC_CONTROL);
    const u32 procc = v.get(field::CPU_BASED_VM_EXEC_CONTROL);
    if (!controls_allowed(pinc, p.pin_ctls())) return R::bad_control("pin-based controls vs capability MSR");
    if (!controls_allowed(procc, p.proc_ctls())) return R::bad_control("processor-based controls vs capability MSR");
    u32 proc2c = 0;
    if (procc & proc::ACTIVATE_SECONDARY_CONTROLS) {
        proc2c = v.get(field::SECONDARY_VM_EXEC_CONTROL);
        if (!controls_allowed(proc2c, p.vmx.procbased_ctls2))
            return R::bad_control("secondary controls vs IA32_VMX_PROCBASED_CTLS2");
    }
    if (v.get(field::CR3_TARGET_COUNT) > p.cr3_target_count_max()) return R::bad_control("CR3-target count");
    if (procc & proc::USE_IO_BITMAPS) {
        if (!page_address_ok(v.get(field::IO_BITMAP_A), p)) return R::bad_control("I/O bitmap A address");
        if (!page_address_ok(v.get(field::IO_BITMAP_B), p)) return R::bad_control("I/O bitmap B address");
    }
    if ((procc & proc::USE_MSR_BITMAPS) && !page_address_ok(v.get(field::MSR_BITMAP), p))
        return R::bad_control("MSR bitmap address");

    const bool tpr_shadow = procc & proc::USE_TPR_SHADOW;
    const bool vid = proc2c & proc2::VIRTUAL_INTERRUPT_DELIVERY;
    if (tpr_shadow) {
        const u64 vapic = v.get(field::VIRTUAL_APIC_PAGE_ADDR);
        if (!page_address_ok(vapic, p)) return R::bad_control("virtual-APIC address");
        const u32 threshold = v.get(field::TPR_THRESHOLD);
        if (!vid && (threshold >> 4) != 0) return R::bad_control("TPR threshold bits 31:4");
        if (!vid && !(proc2c & proc2::VIRTUALIZE_APIC_ACCESSES) && env.memory &&
            env.memory->contains(vapic + 0x80, 1)) {
            const u8 vtpr = env.memory->load<u8>(vapic + 0x80);
            if ((threshold & 0xf) > (vtpr >> 4)) return R::bad_control("TPR threshold above VTPR[7:4]");
        }
    } else if (proc2c & (proc2::VIRTUALIZE_X2APIC | proc2::APIC_REGISTER_VIRTUALIZATION | proc2::VIRTUAL_INTERRUPT_DELIVERY)) {
        return R::bad_control("x2APIC/APIC-register virtualization/virtual-interrupt delivery need TPR shadow");
    }
    if (!(pinc & pin::NMI_EXITING) && (pinc & pin::VIRTUAL_NMIS)) return R::bad_control("virtual NMIs need NMI exiting");
    if (!(pinc & pin::VIRTUAL_NMIS) && (procc & proc::NMI_WINDOW_EXITING))
        return R::bad_control("NMI-window exiting needs virtual NMIs");
    if ((proc2c & proc2::VIRTUALIZE_APIC_ACCESSES) && !page_address_ok(v.get(field::APIC_ACCESS_ADDR), p))
        return R::bad_control("APIC-access address");
    if ((proc2c & proc2::VIRTUALIZE_X2APIC) && (proc2c & proc2::VIRTUALIZE_APIC_ACCESSES))
        return R::bad_control("virtualize x2APIC mode with virtualize APIC accesses");
    if (vid && !(pinc & pin::EXTERNAL_INTERRUPT_EXITING))
        return R::bad_control("virtual-interrupt delivery needs external-interrupt exiting");
    if (pinc & pin::POSTED_INTERRUPTS) {
        const u32 exitc = v.get(field::VM_EXIT_CONTROLS);
        if (!vid || !(exitc & exit_ctl::ACK_INTERRUPT_ON_EXIT)) return R::bad_control("posted interrupts prerequisites");
        if (v.get(field::POSTED_INTR_NOTIFICATION_VECTOR) >> 8) return R::bad_control("posted-interrupt vector");
        const u64 desc = v.get(field::POSTED_INTR_DESC_ADDR);
        if ((desc & 0x3f) || !p.phys_addr_valid(desc)) return R::bad_control("posted-interrupt descriptor address");
    }
    if ((proc2c & proc2::ENABLE_VPID) && v.get(field::VIRTUAL_PROCESSOR_ID) == 0) return R::bad_control("VPID 0");
    const bool ept = proc2c & proc2::ENABLE_EPT;
    if (ept && !eptp_valid(v.get(field::EPT_POINTER), p)) return R::bad_control("EPT pointer");
    if (proc2c & proc2::ENABLE_PML) {
        if (!ept) return R::bad_control("PML needs EPT");
        if (!page_address_ok(v.get(field::PML_ADDRESS), p)) return R::bad_control("PML address");
    }
    if ((proc2c & proc2::UNRESTRICTED_GUEST) && !ept) return R::bad_control("unrestricted guest needs EPT");
    if (proc2c & proc2::ENABLE_VMFUNC) {
        const u64 functions = v.get(field::VM_FUNCTION_CONTROL);
        if (functions & ~p.vmx.vmfunc) return R::bad_control("VM-function controls vs IA32_VMX_VMFUNC");
        if (functions & 1) {
            if (!ept) return R::bad_control("EPTP switching needs EPT");
            if (!page_address_ok(v.get(field::EPTP_LIST_ADDRESS), p)) return R::bad_control("EPTP-list address");
        }
    }
    if (proc2c & proc2::VMCS_SHADOWING) {
        if (!page_address_ok(v.get(field::VMREAD_BITMAP), p)) return R::bad_control("VMREAD-bitmap address");
        if (!page_address_ok(v.get(field::VMWRITE_BITMAP), p)) return R::bad_control("VMWRITE-bitmap address");
    }
    if ((proc2c & proc2::EPT_VIOLATION_VE) && !page_address_ok(v.get(field::VE_INFORMATION_ADDRESS), p))
        return R::bad_control("#VE information address");
    return R::pass();
}

R check_exit_controls(const VmcsStore& v, const CpuProfile& p)
{
    const u32 exitc = v.get(field::VM_EXIT_CONTROLS);
    if (!controls_allowed(exitc, p.exit_ctls())) return R::bad_control("VM-exit controls vs capability MSR");
    const u32 pinc = v.get(field::PIN_BASED_VM_EXEC_CONTROL);
    if (!(pinc & pin::PREEMPTION_TIMER) && (exitc & exit_ctl::SAVE_PREEMPTION_TIMER))
        return R::bad_control("save preemption timer without activating it");
    if (!msr_area_ok(v.get(field::VM_EXIT_MSR_STORE_ADDR), v.get(field::VM_EXIT_MSR_STORE_COUNT), p))
        return R::bad_control("VM-exit MSR-store area");
    if (!msr_area_ok(v.get(field::VM_EXIT_MSR_LOAD_ADDR), v.get(field::VM_EXIT_MSR_LOAD_COUNT), p))
        return R::bad_control("VM-exit MSR-load area");
    return R::pass();
}

// Event injection (27.2.1.3).
R check_injection(const VmcsStore& v, const CpuProfile& p)
{
    const u32 info = v.get(field::VM_ENTRY_INTR_INFO_FIELD);
    if (!(info & intr_info::VALID)) return R::pass();
    const u32 type = (info & intr_info::TYPE_MASK) >> intr_info::TYPE_SHIFT;
    const u32 vec = info & intr_info::VECTOR_MASK;
    if (type == 1) return R::bad_control("injection: reserved interruption type 1");
    if (type == 7 && !p.proc_allows(proc::MONITOR_TRAP_FLAG))
        return R::bad_control("injection: type 7 without monitor trap flag support");
    if (type == static_cast<u32>(InterruptionType::NMI) && vec != vector::NMI)
        return R::bad_control("injection: NMI with vector other than 2");
    if (type == static_cast<u32>(InterruptionType::HARDWARE_EXCEPTION) && vec > 31)
        return R::bad_control("injection: hardware exception vector above 31");
    if (type == 7 && vec != 0) return R::bad_control("injection: other event with vector other than 0");

    const u32 proc2c = (v.get(field::CPU_BASED_VM_EXEC_CONTROL) & proc::ACTIVATE_SECONDARY_CONTROLS)
                           ? v.get(field::SECONDARY_VM_EXEC_CONTROL) : 0;
    const bool protected_mode = !(proc2c & proc2::UNRESTRICTED_GUEST) || (v.get(field::GUEST_CR0) & 1);
    const bool hw_exception = type == static_cast<u32>(InterruptionType::HARDWARE_EXCEPTION);
    const bool any_exception_error = (p.vmx.basic >> 56) & 1;
    const bool error_code = info & intr_info::ERROR_CODE_VALID;
    const bool error_code_allowed =
        protected_mode && hw_exception && (any_exception_error || exception_has_error_code(static_cast<u8>(vec)));
    const bool error_code_required =
        protected_mode && hw_exception && !any_exception_error && exception_has_error_code(static_cast<u8>(vec));
    if (error_code && !error_code_allowed) return R::bad_control("injection: deliver-error-code not allowed");
    if (!error_code && error_code_required) return R::bad_control("injection: deliver-error-code required");
    if (info & 0x7ffff000) return R::bad_control("injection: reserved bits 30:12");
    if (error_code && (v.get(field::VM_ENTRY_EXCEPTION_ERROR_CODE) >> 16))
        return R::bad_control("injection: error code bits 31:16");
    if (type == 4 || type == 5 || type == 6) {
        const u32 len = v.get(field::VM_ENTRY_INSTRUCTION_LEN);
        const bool zero_ok = p.vmx.misc & misc_cap::INJECT_ILEN_0;
        if (len > 15 || (len == 0 && !zero_ok)) return R::bad_control("injection: instruction length");
    }
    return R::pass();
}

R check_entry_controls_only(const VmcsStore& v, const CpuProfile& p, const EntryEnvironment& env)
{
    const u32 entryc = v.get(field::VM_ENTRY_CONTROLS);
    if (!controls_allowed(entryc, p.entry_ctls())) return R::bad_control("VM-entry controls vs capability MSR");
    if (R r = check_injection(v, p); !r.ok()) return r;
    if (!msr_area_ok(v.get(field::VM_ENTRY_MSR_LOAD_ADDR), v.get(field::VM_ENTRY_MSR_LOAD_COUNT), p))
        return R::bad_control("VM-entry MSR-load area");
    if (!env.in_smm && (entryc & (entry_ctl::ENTRY_TO_SMM | entry_ctl::DEACTIVATE_DUAL_MONITOR)))
        return R::bad_control("entry to SMM / deactivate dual-monitor outside SMM");
    return R::pass();
}

}  // namespace

EntryCheckResult check_entry_controls(const VmcsStore& vmcs, const CpuProfile& profile, const EntryEnvironment& env)
{
    if (R r = check_execution_controls(vmcs, profile, env); !r.ok()) return r;
    if (R r = check_exit_controls(vmcs, profile); !r.ok()) return r;
    return check_entry_controls_only(vmcs, profile, env);
}

}  // namespace xeno::sim
