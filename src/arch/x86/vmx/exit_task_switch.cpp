// VM exits for task switches (exit reason 9). VMX never switches tasks in
// non-root operation (SDM Vol. 3C 25.4.2): a far CALL or JMP to a TSS or task
// gate, an IRET with EFLAGS.NT, or an event through a task gate in the IDT
// exits once the processor's own checks on the gate and the TSS descriptor
// passed, with the new TSS selector and the source in the qualification
// (Table 28-2). The hypervisor completes the switch on the guest's state
// (the emulator's task_switch, SDM Vol. 3A 7.3), as Xen's hvm_task_switch
// and KVM's emulator do.
#include "arch/x86/vmx/exit_handlers.hpp"

#include "arch/x86/vmx/guest_state.hpp"
#include "arch/x86/vmx/realmode_emulate.hpp"
#include "arch/x86/vmx/shadow_paging.hpp"
#include "arch/x86/vmx/vmcs.hpp"
#include "lib/bits.hpp"

namespace xeno::vmx {

namespace {

// A fault raised by the switch itself. Through a task gate it interrupted
// the delivery of `event` (IDT-vectoring information): SDM Vol. 3A 6.15,
// Table 6-5 decides between delivering it and a double fault.
void deliver_switch_fault(Vcpu& v, const TaskSwitchOutcome& f, const ExitInfo& exit, bool through_gate)
{
    if (through_gate && !f.switched) {
        const u32 info = exit.idt_vectoring_info;
        const auto type = static_cast<InterruptionType>((info & intr_info::TYPE_MASK) >> intr_info::TYPE_SHIFT);
        const u8 first = static_cast<u8>(info & intr_info::VECTOR_MASK);
        if (type == InterruptionType::HARDWARE_EXCEPTION) {
            if (first == vector::DF) {
                v.end_guest_fault("a fault in the task switch for a double fault (the guest would triple fault)");
                return;
            }
            const bool second_contributory = exception_is_contributory(f.vector);
            const bool second_serious = second_contributory || f.vector == vector::PF;
            if ((exception_is_contributory(first) && second_contributory) || (first == vector::PF && second_serious)) {
                inject_exception(v, vector::DF, 0);
                return;
            }
        }
    }
    if (f.vector == vector::PF)
        inject_page_fault(v, f.cr2, f.error_code);
    else
        inject_exception(v, f.vector, f.error_code);
}

}  // namespace

void handle_task_switch(Vcpu& v, const ExitInfo& exit)
{
    emu::TaskSwitchRequest r;
    r.selector = static_cast<u16>(exit.qualification & 0xffff);
    r.source = static_cast<emu::TaskSwitchSource>(bits(exit.qualification, 31, 30));
    const bool through_gate = r.source == emu::TaskSwitchSource::IDT_GATE;
    r.return_rip = exit.rip + exit.instruction_length;  // CALL, JMP, IRET: the next instruction
    if (through_gate) {
        // The event that reached the gate is consumed by the switch: the
        // dispatcher queued it again for entry, which must not happen.
        (void)vmcs_write(field::VM_ENTRY_INTR_INFO_FIELD, 0);
        const u32 info = exit.idt_vectoring_info;
        const auto type = static_cast<InterruptionType>((info & intr_info::TYPE_MASK) >> intr_info::TYPE_SHIFT);
        const bool software = type == InterruptionType::SOFTWARE_INTERRUPT ||
                              type == InterruptionType::SOFTWARE_EXCEPTION ||
                              type == InterruptionType::PRIVILEGED_SOFTWARE_EXCEPTION;
        // Faults save the faulting instruction; interrupts and traps the next one.
        r.return_rip = software ? exit.rip + exit.instruction_length : exit.rip;
        r.has_error_code = (info & intr_info::ERROR_CODE_VALID) != 0;
        r.error_code = exit.idt_vectoring_error_code;
    } else {
        ++v.emulated_instructions;
        hal::instruction_emulated();
    }
    const TaskSwitchOutcome out = emulate_task_switch(v, r);
    if (out.kind == TaskSwitchOutcome::Kind::FAULT) deliver_switch_fault(v, out, exit, through_gate);
}

}  // namespace xeno::vmx
