#include "arch/x86/vmx/exit_dispatch.hpp"

#include "arch/x86/vmx/guest_state.hpp"
#include "core/domain.hpp"
#include "core/hv_lock.hpp"
#include "core/scheduler.hpp"
#include "core/trace.hpp"

namespace xeno::vmx {

namespace {

struct ReasonHandler {
    ExitReason reason;
    ExitHandlerFn handler;
};

constexpr ReasonHandler kHandlers[] = {
    {ExitReason::EXCEPTION_NMI, &handle_exception_nmi},
    {ExitReason::EXTERNAL_INTERRUPT, &handle_external_interrupt},
    {ExitReason::INTERRUPT_WINDOW, &handle_event_window},
    {ExitReason::NMI_WINDOW, &handle_event_window},
    {ExitReason::TRIPLE_FAULT, &handle_triple_fault},
    {ExitReason::TASK_SWITCH, &handle_task_switch},
    {ExitReason::CPUID, &handle_cpuid},
    {ExitReason::GETSEC, &handle_getsec},
    {ExitReason::HLT, &handle_hlt},
    {ExitReason::INVD, &handle_invd},
    {ExitReason::INVLPG, &handle_invlpg},
    {ExitReason::RDTSC, &handle_rdtsc},
    {ExitReason::RDTSCP, &handle_rdtsc},
    {ExitReason::VMCALL, &handle_vmcall},
    {ExitReason::VMCLEAR, &handle_vmx_instruction},
    {ExitReason::VMLAUNCH, &handle_vmx_instruction},
    {ExitReason::VMPTRLD, &handle_vmx_instruction},
    {ExitReason::VMPTRST, &handle_vmx_instruction},
    {ExitReason::VMREAD, &handle_vmx_instruction},
    {ExitReason::VMRESUME, &handle_vmx_instruction},
    {ExitReason::VMWRITE, &handle_vmx_instruction},
    {ExitReason::VMXOFF, &handle_vmx_instruction},
    {ExitReason::VMXON, &handle_vmx_instruction},
    {ExitReason::INVEPT, &handle_vmx_instruction},
    {ExitReason::INVVPID, &handle_vmx_instruction},
    {ExitReason::CR_ACCESS, &handle_cr_access},
    {ExitReason::IO_INSTRUCTION, &handle_io},
    {ExitReason::MSR_READ, &handle_msr_read},
    {ExitReason::MSR_WRITE, &handle_msr_write},
    {ExitReason::EPT_VIOLATION, &handle_ept_violation},
    {ExitReason::EPT_MISCONFIG, &handle_ept_violation},
    {ExitReason::XSETBV, &handle_xsetbv}, {ExitReason::WBINVD, &handle_wbinvd}, {ExitReason::DR_ACCESS, &handle_dr_access},
    {ExitReason::PAUSE_INSTRUCTION, &handle_pause},
    {ExitReason::MWAIT_INSTRUCTION, &handle_monitor_mwait}, {ExitReason::MONITOR_INSTRUCTION, &handle_monitor_mwait}, {ExitReason::RDPMC, &handle_rdpmc},
};

// An exit that interrupted the delivery of an event (IDT-vectoring
// information valid, SDM Vol. 3C 28.2.4) loses that event unless the
// hypervisor re-injects it (27.6.1 / 28.2.4; Xen's vmx_idtv_reinject). In the
// hypervisor's vm86 mode the CPU's delivery was the IVT redirection of INT n,
// which simply re-executes; there VMX injection (through the IDT) would be
// wrong, so nothing is queued.
void reinject_idt_vectoring(Vcpu& v, const ExitInfo& exit)
{
    if (!(exit.idt_vectoring_info & intr_info::VALID) || exit.entry_failure || guest_in_vm86(v)) return;
    const u32 info = exit.idt_vectoring_info & ~intr_info::NMI_UNBLOCKING;
    (void)vmcs_write(field::VM_ENTRY_INTR_INFO_FIELD, info);
    if (info & intr_info::ERROR_CODE_VALID)
        (void)vmcs_write(field::VM_ENTRY_EXCEPTION_ERROR_CODE, exit.idt_vectoring_error_code);
    const auto type = static_cast<InterruptionType>((info & intr_info::TYPE_MASK) >> intr_info::TYPE_SHIFT);
    if (type == InterruptionType::SOFTWARE_INTERRUPT || type == InterruptionType::SOFTWARE_EXCEPTION ||
        type == InterruptionType::PRIVILEGED_SOFTWARE_EXCEPTION)
        (void)vmcs_write(field::VM_ENTRY_INSTRUCTION_LEN, exit.instruction_length);
}

// An event whose delivery exits the same way again and again (its handler
// re-injects it, the delivery faults the same way, and so on) makes no
// progress: the guest would spin in VM exits forever. A processor has no
// such loop (it escalates to #DF and shutdown); the hypervisor ends the
// domain after kMaxVectoringRepeats identical exits in a row.
constexpr u32 kMaxVectoringRepeats = 64;

bool stuck_in_delivery(Vcpu& v, const ExitInfo& exit)
{
    if (!(exit.idt_vectoring_info & intr_info::VALID)) {
        v.vectoring_repeats = 0;
        return false;
    }
    const u64 now[5] = {exit.reason_field, exit.qualification, exit.rip,
                        u64{exit.idt_vectoring_info} << 32 | exit.idt_vectoring_error_code,
                        exit.guest_physical ^ (exit.guest_linear << 1)};
    bool same = v.vectoring_repeats > 0;
    for (unsigned i = 0; i < 5; ++i) {
        same = same && v.vectoring_last[i] == now[i];
        v.vectoring_last[i] = now[i];
    }
    v.vectoring_repeats = same ? v.vectoring_repeats + 1 : 1;
    return v.vectoring_repeats >= kMaxVectoringRepeats;
}

}  // namespace

ExitHandlerFn exit_handler_for(u32 reason_field)
{
    if (reason_field & kExitReasonEntryFailure) return &handle_entry_failure;
    const u16 reason = exit_basic_reason(reason_field);
    for (const ReasonHandler& h : kHandlers)
        if (static_cast<u16>(h.reason) == reason) return h.handler;
    return &handle_unexpected;
}

hal::ExitAction dispatch_exit(Vcpu& v, const ExitInfo& exit)
{
    if (v.trace) trace_exit(v.exit_seq, exit, v.domain().vcpu_count() > 1 ? static_cast<i32>(v.id()) : kNoVcpuField);
    ++v.exit_seq;
    if (exit.reason < Vcpu::kExitReasons) ++v.exit_counts[exit.reason];
    if (exit.entry_failure) ++v.entry_failures;
    if (stuck_in_delivery(v, exit)) {
        FixedWriter<128> why;
        why.str("event ").hex(exit.idt_vectoring_info).str(" undeliverable: the same exit (reason ").dec(exit.reason)
            .str(") ").dec(kMaxVectoringRepeats).str(" times in a row at rip=").hex(exit.rip);
        v.end_guest_fault(why.c_str());
        return hal::ExitAction::YIELD;
    }
    reinject_idt_vectoring(v, exit);
    exit_handler_for(exit.reason_field)(v, exit);
    if (v.domain().ended()) return hal::ExitAction::YIELD;
    if (v.scheduler && !v.scheduler->before_entry(v)) return hal::ExitAction::YIELD;
    return hal::ExitAction::RESUME;
}

hal::ExitAction on_vm_exit(void* context, hal::GuestRegs& regs)
{
    Vcpu& v = *static_cast<Vcpu*>(context);
    // hal::run passes the vcpu's own register block: keep using it.
    (void)regs;
    // The whole exit, up to the decision to re-enter, under the big lock:
    // the handlers touch devices and other vcpus' local APICs.
    const LockGuard guard(hv_lock());
    v.in_guest = false;
    const ExitInfo exit = read_exit_info((v.ctl.proc2 & proc2::ENABLE_EPT) != 0);
    return dispatch_exit(v, exit);
}

}  // namespace xeno::vmx
