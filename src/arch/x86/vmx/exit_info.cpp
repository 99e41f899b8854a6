#include "arch/x86/vmx/exit_info.hpp"

#include "arch/x86/vmx/vmcs.hpp"

namespace xeno::vmx {

ExitInfo read_exit_info(bool ept)
{
    ExitInfo e;
    e.reason_field = vmcs_read(field::VM_EXIT_REASON);
    e.reason = exit_basic_reason(e.reason_field);
    e.entry_failure = (e.reason_field & kExitReasonEntryFailure) != 0;
    e.qualification = vmcs_read(field::EXIT_QUALIFICATION);
    e.rip = vmcs_read(field::GUEST_RIP);
    e.instruction_length = vmcs_read(field::VM_EXIT_INSTRUCTION_LEN);
    e.instruction_info = vmcs_read(field::VMX_INSTRUCTION_INFO);
    e.intr_info = vmcs_read(field::VM_EXIT_INTR_INFO);
    if (e.intr_info_valid() && (e.intr_info & intr_info::ERROR_CODE_VALID))
        e.intr_error_code = vmcs_read(field::VM_EXIT_INTR_ERROR_CODE);
    e.idt_vectoring_info = vmcs_read(field::IDT_VECTORING_INFO_FIELD);
    if ((e.idt_vectoring_info & intr_info::VALID) && (e.idt_vectoring_info & intr_info::ERROR_CODE_VALID))
        e.idt_vectoring_error_code = vmcs_read(field::IDT_VECTORING_ERROR_CODE);
    if (ept && exit_has_guest_physical(e.reason)) {
        e.guest_physical = vmcs_read(field::GUEST_PHYSICAL_ADDRESS);
        e.guest_physical_valid = true;
    }
    if (exit_has_guest_linear(e.reason, e.qualification)) {
        e.guest_linear = vmcs_read(field::GUEST_LINEAR_ADDRESS);
        e.guest_linear_valid = true;
    }
    return e;
}

}  // namespace xeno::vmx
