// Exception/NMI exits (exception bitmap, SDM Vol. 3C 26.2 / 28.2.2 exit
// interruption information) and external-interrupt exits.
#include "arch/x86/vmx/exit_handlers.hpp"
#include "arch/x86/vmx/guest_state.hpp"
#include "arch/x86/vmx/realmode.hpp"
#include "arch/x86/vmx/realmode_emulate.hpp"
#include "arch/x86/vmx/shadow_paging.hpp"
#include "core/domain.hpp"
#include "core/log.hpp"
#include "core/scheduler.hpp"
#include "hal/timer.hpp"

namespace xeno::vmx {

void handle_exception_nmi(Vcpu& v, const ExitInfo& exit)
{
    const u8 vec = static_cast<u8>(exit.intr_info & intr_info::VECTOR_MASK);
    const auto type = static_cast<InterruptionType>((exit.intr_info & intr_info::TYPE_MASK) >> intr_info::TYPE_SHIFT);
    if (type == InterruptionType::NMI) {
        // A host NMI that arrived while the guest ran (NMI exiting): nothing
        // in Xeno raises NMIs yet; note it and carry on.
        LogLine{}.str("vmx: NMI exit at guest rip=").hex(exit.rip);
        return;
    }
    if (guest_in_vm86(v)) {
        if (vec == vector::GP && type == InterruptionType::HARDWARE_EXCEPTION) {
            handle_realmode_gp(v, exit);
            return;
        }
        if (vec == vector::PF) {
            v.end_guest_fault("real-mode access outside guest RAM (page fault on the physical-mode tables)");
            return;
        }
        // Everything else the real-mode guest raised goes to its IVT. Traps
        // (INT3, INTO: software exceptions) return after the instruction.
        const bool trap = type == InterruptionType::SOFTWARE_EXCEPTION;
        const u64 ret = trap ? exit.rip + exit.instruction_length : exit.rip;
        reflect_realmode_interrupt(v, vec, ret);
        return;
    }
    if (vec == vector::PF && type == InterruptionType::HARDWARE_EXCEPTION && v.paging == GuestPaging::SHADOW) {
        handle_shadow_page_fault(v, exit);
        return;
    }
    if (type == InterruptionType::HARDWARE_EXCEPTION) {
        // Not intercepted on purpose (the bitmap is minimal): give it back.
        inject_exception(v, vec, exit.intr_error_code);
        return;
    }
    handle_unexpected(v, exit);
}

void handle_external_interrupt(Vcpu& v, const ExitInfo& exit)
{
    // A host interrupt (acknowledged on exit: its vector is in the exit
    // interruption information). The host timer's: whatever is due now
    // happens before the next entry (Scheduler::before_entry fires the
    // device timers, injects, re-arms).
    const u8 vec = static_cast<u8>(exit.intr_info & intr_info::VECTOR_MASK);
    hal::host_interrupt_done(vec);
    (void)v;
}

void handle_pause(Vcpu& v, const ExitInfo& exit)
{
    // PAUSE exiting, on in domains with several vcpus (vmcs_setup.cpp): the
    // guest spins waiting for another vcpu (a lock holder, an IPI answer)
    // that shares the physical CPU with it, so it gives the CPU up at once
    // instead of spinning out its time slice (KVM and Xen do the same with
    // PAUSE-loop exiting).
    advance_rip(v, exit);
    v.yield_requested = true;
}

void handle_event_window(Vcpu&, const ExitInfo&)
{
    // Interrupt- or NMI-window exiting: the guest can take the event now;
    // the injection before the re-entry delivers it.
}

}  // namespace xeno::vmx
