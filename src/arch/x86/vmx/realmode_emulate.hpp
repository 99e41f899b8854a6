// The x86 emulator (src/arch/x86/emulate/) behind the vm86 real-mode path on
// CPUs without unrestricted guest: KVM's "emulate invalid guest state". The
// guest's instructions are emulated one by one, starting at its current RIP,
// until its state can be entered with VMX again: real mode whose segment
// caches are the vm86 form (base = selector << 4, 64 KiB, 16-bit), or
// protected mode whose segment state passes the VM-entry guest-state checks.
#pragma once

#include "arch/x86/emulate/emulate.hpp"
#include "core/vcpu.hpp"

namespace xeno::vmx {

// Emulate from the guest's current state until it is enterable again (at
// most a bounded number of instructions), then write it back to the VMCS.
// Ends the domain (with the reason logged) when that does not happen.
void emulate_until_enterable(Vcpu& vcpu);

// Emulate the one instruction at the guest's RIP while it runs natively in
// protected or long mode (shadow paging: a write to a guest page table, an
// access outside guest RAM). Faults are injected for the processor to
// deliver; an instruction that leaves the state unenterable continues as
// emulate_until_enterable does.
void emulate_guest_instruction(Vcpu& vcpu);

// Complete a hardware task switch the processor exited for (VMX does not
// switch tasks in non-root operation) on the guest's state, through the
// emulator's task_switch. The result for the caller: OK (the new task runs,
// possibly after emulation), FAULT (`fault` to be delivered: in the new task
// when `switched`, else in the old one, nothing changed), or the domain ended
// (a 16-bit TSS; the reason logged).
struct TaskSwitchOutcome {
    enum class Kind : u8 { OK, FAULT, ENDED } kind = Kind::OK;
    bool switched = false;
    u8 vector = 0;
    u32 error_code = 0;
    u64 cr2 = 0;
};
TaskSwitchOutcome emulate_task_switch(Vcpu& vcpu, const emu::TaskSwitchRequest& request);

// Deliver interrupt/exception `vector` to the real-mode guest as the CPU
// does in real mode (SDM Vol. 3A 20.1.4: FLAGS, CS, IP=return_ip pushed, IF/TF/AC
// cleared, CS:IP from the IVT the guest's IDTR describes), through the
// emulator's delivery. Ends the domain when delivery itself faults (a real
// CPU would shut down: triple fault).
void reflect_realmode_interrupt(Vcpu& vcpu, u8 vector, u64 return_ip);

// INIT reset the vcpu (TR back to its reset value): the guest TR kept while
// it ran real mode in vm86 is forgotten (shadow mode only).
void forget_stashed_tr(Vcpu& vcpu);

// Give the vcpu (its VMCS current) the state `s`, written in the form VMX
// can enter: as is with unrestricted guest, else real mode in vm86 form or
// protected mode under the physical-mode or shadow tables. `s` must be
// enterable (a boot protocol's entry state: flat 32-bit protected mode, or
// 64-bit mode with paging on).
void set_guest_cpu_state(Vcpu& vcpu, const emu::CpuState& s);

// Real mode that vm86 can run: every segment cache in the vm86 form. Pure.
bool realmode_vm86_representable(const emu::CpuState& s);

// Protected-mode segment state that passes the VM-entry checks for a guest
// without unrestricted guest, not in IA-32e mode (SDM Vol. 3C 26.3.1.2,
// "Checks on Guest Segment Registers", the subset that applies). Pure.
bool protected_mode_segments_enterable(const emu::CpuState& s);

}  // namespace xeno::vmx
