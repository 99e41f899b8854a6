#include "arch/x86/vmx/interrupt_injection.hpp"

#include "arch/x86/vmx/guest_state.hpp"
#include "arch/x86/vmx/realmode_emulate.hpp"
#include "arch/x86/vmx/vmcs_setup.hpp"
#include "core/domain.hpp"
#include "core/log.hpp"

namespace xeno::vmx {

namespace {

constexpr u32 kBlockingStiOrMovSs = interruptibility::BLOCKING_BY_STI | interruptibility::BLOCKING_BY_MOV_SS;

// An ExtINT for this vcpu: the 8259A's INT on the BSP's LINT0 in
// virtual-wire mode (or its INTR pin with the APIC disabled), or an ExtINT
// message (an I/O APIC entry in ExtINT mode). The vector comes from the
// 8259A's interrupt acknowledge, a spurious one when it has no request.
bool pic_request(Vcpu& v)
{
    return v.lapic().extint_pending();
}

// Xen's event upcall as HVM_PARAM_CALLBACK_IRQ's vector: pending while the
// vcpu's vcpu_info says evtchn_upcall_pending, taken without the local
// APIC (no ISR bit, no EOI), ahead of it as in Xen.
int xen_callback(Vcpu& v)
{
    return v.domain().xen().ready() ? v.domain().xen().callback_vector(v.id()) : -1;
}

bool maskable_pending(Vcpu& v)
{
    return xen_callback(v) >= 0 || v.lapic().highest_pending() >= 0 || pic_request(v);
}

void set_proc_bit(Vcpu& v, u32 bit, bool on, bool& cached)
{
    if (cached == on) return;
    cached = on;
    v.ctl.proc = on ? v.ctl.proc | bit : v.ctl.proc & ~bit;
    (void)vmcs_write(field::CPU_BASED_VM_EXEC_CONTROL, v.ctl.proc);
}

bool nmi_window_supported(Vcpu& v)
{
    return (v.ctl.pin & pin::VIRTUAL_NMIS) != 0;
}

// Take the highest-priority maskable interrupt: the local APIC's (IRR ->
// ISR) or, below it, the 8259A's (its INTA cycle). -1 when the request went
// away (the PIC then answers a spurious vector itself).
int take_maskable(Vcpu& v)
{
    if (const int xen = xen_callback(v); xen >= 0) return xen;
    const int apic = v.lapic().highest_pending();
    if (apic >= 0) {
        v.lapic().acknowledge(static_cast<u8>(apic));
        return apic;
    }
    if (pic_request(v)) {
        (void)v.lapic().take_extint();
        return v.domain().pic().acknowledge();
    }
    return -1;
}

void deliver(Vcpu& v, u8 vector, InterruptionType type)
{
    if (guest_in_vm86(v)) {
        // Real mode through vm86: the guest's IVT, returning to the
        // interrupted instruction.
        reflect_realmode_interrupt(v, vector, vmcs_read(field::GUEST_RIP));
        return;
    }
    (void)vmcs_write(field::VM_ENTRY_INTR_INFO_FIELD, make_intr_info(vector, type, false));
}

}  // namespace

bool has_wakeup_event(Vcpu& v, bool interrupts_enabled)
{
    devices::LocalApic& a = v.lapic();
    if (a.nmi_pending() || a.init_pending()) return true;
    if (v.run_state == VcpuRunState::WAIT_FOR_SIPI) return a.sipi_pending();
    // SCHEDOP_block and SCHEDOP_poll sleep until their event; a vcpu taken
    // down by VCPUOP_down until VCPUOP_up.
    if (v.domain().xen().ready() && v.id() < 32) {
        if (v.domain().xen().vcpu(v.id()).down) return false;
        if (v.domain().xen().wakeup_pending(v.id())) return true;
    }
    return interrupts_enabled && maskable_pending(v);
}

void inject_pending_events(Vcpu& v)
{
    if (v.run_state != VcpuRunState::RUNNABLE) return;
    if (v.id() == 0 && v.domain().xen().ready()) v.domain().xen().sync_gsi_callback();
    devices::LocalApic& a = v.lapic();
    const bool nmi = a.nmi_pending();
    const bool maskable = maskable_pending(v);
    if (!nmi && !maskable) {
        set_proc_bit(v, proc::INTERRUPT_WINDOW_EXITING, false, v.window_exiting);
        set_proc_bit(v, proc::NMI_WINDOW_EXITING, false, v.nmi_window_exiting);
        return;
    }
    const bool queued = (vmcs_read(field::VM_ENTRY_INTR_INFO_FIELD) & intr_info::VALID) != 0;
    const u32 blocking = static_cast<u32>(vmcs_read(field::GUEST_INTERRUPTIBILITY_INFO));
    bool want_window = false, want_nmi_window = false;

    if (nmi) {
        // NMI: blocked by an NMI being handled, and (for injection at entry)
        // by STI/MOV-SS blocking (26.3.1.5).
        if (!queued && !(blocking & (interruptibility::BLOCKING_BY_NMI | kBlockingStiOrMovSs)) && !guest_in_vm86(v)) {
            (void)a.take_nmi();
            deliver(v, vector::NMI, InterruptionType::NMI);
            want_window = maskable;
        } else if (nmi_window_supported(v) && !guest_in_vm86(v)) {
            want_nmi_window = true;
        } else {
            // No NMI-window exiting without virtual NMIs (or in vm86): the
            // next exit with the window open delivers it; the interrupt
            // window is one such exit when IF is set.
            want_window = true;
            if (guest_in_vm86(v) && !queued) {
                (void)a.take_nmi();
                reflect_realmode_interrupt(v, vector::NMI, vmcs_read(field::GUEST_RIP));
            }
        }
    } else {
        const bool if_set = (vmcs_read(field::GUEST_RFLAGS) & kRflagsIF) != 0;
        if (!queued && if_set && !(blocking & kBlockingStiOrMovSs)) {
            const int vector = take_maskable(v);
            if (vector >= 0) deliver(v, static_cast<u8>(vector), InterruptionType::EXTERNAL_INTERRUPT);
            want_window = maskable_pending(v);
        } else {
            want_window = true;
        }
    }
    set_proc_bit(v, proc::INTERRUPT_WINDOW_EXITING, want_window, v.window_exiting);
    set_proc_bit(v, proc::NMI_WINDOW_EXITING, want_nmi_window, v.nmi_window_exiting);
}

bool apply_init_sipi(Vcpu& v)
{
    devices::LocalApic& a = v.lapic();
    bool changed = false;
    if (a.take_init()) {
        if (v.is_bsp()) {
            // INIT to the BSP restarts the machine's firmware at the reset
            // vector; a domain has no reset (yet): it ends, saying so.
            v.domain().reset("INIT to the BSP (a reset)");
            return true;
        }
        // SDM Vol. 3A 9.4: INIT resets the processor (its local APIC reset
        // itself when the INIT arrived, and waits for a SIPI since); the
        // vcpu's state is reset when the SIPI starts it.
        v.run_state = VcpuRunState::WAIT_FOR_SIPI;
        changed = true;
    }
    if (v.run_state == VcpuRunState::WAIT_FOR_SIPI) {
        const int sipi = a.take_sipi();
        if (sipi >= 0) {
            // SDM Vol. 3A 9.4.4: the AP starts in real mode at CS = vector << 8,
            // IP = 0 (CS base vector << 12).
            if (reset_to_real_mode(v, static_cast<u16>(sipi << 8), 0) != Status::OK) {
                v.end_guest_fault("resetting the vcpu's state for a SIPI failed");
                return true;
            }
            v.run_state = VcpuRunState::RUNNABLE;
            changed = true;
            LogLine{}.str("domain: vcpu ").dec(v.id()).str(": SIPI vector ").hex(static_cast<u64>(sipi)).str(", starting at ")
                .hex(static_cast<u64>(sipi) << 12);
        }
    }
    return changed;
}

}  // namespace xeno::vmx
