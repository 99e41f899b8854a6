// VM-exit handlers, one family per file (exit_io.cpp, exit_cpuid.cpp, ...).
//
// Contract of every handler: it is called once per exit of its reason with
// the exit information read once (exit_info.hpp) and the vcpu's VMCS current.
// It either completes the exit (advances RIP past an emulated instruction,
// queues an event, updates state) and returns, or ends the domain through
// Vcpu::end_guest_fault / Domain::end. Nothing a guest does makes a handler
// panic the hypervisor; the worst outcome is the end of its own domain.
#pragma once

#include "arch/x86/vmx/exit_info.hpp"
#include "core/vcpu.hpp"

namespace xeno::vmx {

using ExitHandlerFn = void (*)(Vcpu& vcpu, const ExitInfo& exit);

void handle_exception_nmi(Vcpu& vcpu, const ExitInfo& exit);
void handle_external_interrupt(Vcpu& vcpu, const ExitInfo& exit);
void handle_event_window(Vcpu& vcpu, const ExitInfo& exit);
void handle_pause(Vcpu& vcpu, const ExitInfo& exit);
void handle_triple_fault(Vcpu& vcpu, const ExitInfo& exit);
void handle_cpuid(Vcpu& vcpu, const ExitInfo& exit);
void handle_hlt(Vcpu& vcpu, const ExitInfo& exit);
void handle_invlpg(Vcpu& vcpu, const ExitInfo& exit);
void handle_rdtsc(Vcpu& vcpu, const ExitInfo& exit);
void handle_vmcall(Vcpu& vcpu, const ExitInfo& exit);  // xen/hypercall.cpp: Xen hypercalls
void handle_vmx_instruction(Vcpu& vcpu, const ExitInfo& exit);
void handle_invd(Vcpu& vcpu, const ExitInfo& exit);
void handle_getsec(Vcpu& vcpu, const ExitInfo& exit);
void handle_wbinvd(Vcpu& vcpu, const ExitInfo& exit);
void handle_monitor_mwait(Vcpu& vcpu, const ExitInfo& exit);
void handle_rdpmc(Vcpu& vcpu, const ExitInfo& exit);
void handle_dr_access(Vcpu& vcpu, const ExitInfo& exit);
void handle_xsetbv(Vcpu& vcpu, const ExitInfo& exit);
void handle_cr_access(Vcpu& vcpu, const ExitInfo& exit);
void handle_io(Vcpu& vcpu, const ExitInfo& exit);
void handle_msr_read(Vcpu& vcpu, const ExitInfo& exit);
void handle_msr_write(Vcpu& vcpu, const ExitInfo& exit);
void handle_entry_failure(Vcpu& vcpu, const ExitInfo& exit);
void handle_ept_violation(Vcpu& vcpu, const ExitInfo& exit);
void handle_task_switch(Vcpu& vcpu, const ExitInfo& exit);
void handle_unexpected(Vcpu& vcpu, const ExitInfo& exit);

// RAX after IN of `size` bytes read `value` (exit_io.cpp). IN AL and IN AX
// write only AL/AX and keep the rest of RAX; IN EAX writes a 32-bit
// register, which zero-extends into RAX[63:32] (SDM Vol. 1 3.4.1.1; in
// 32-bit modes those bits are undefined, so zero is right there too).
constexpr u64 io_in_rax(u64 rax, u32 value, unsigned size)
{
    if (size == 4) return value;
    const u64 mask = size == 1 ? 0xff : 0xffff;
    return (rax & ~mask) | (value & mask);
}

// CPUID as the guest sees it (exit_cpuid.cpp): pure given the host's answer.
struct CpuidRegs {
    u32 eax, ebx, ecx, edx;
};
CpuidRegs guest_cpuid(u32 leaf, u32 subleaf, CpuidRegs host);
// What CPUID returns to this vcpu: guest_cpuid over the host's answer, with
// the bits that follow the vcpu's own state (OSXSAVE, XSAVE size, APIC ID).
CpuidRegs vcpu_cpuid(Vcpu& vcpu, u32 leaf, u32 subleaf);
// RDMSR/WRMSR of `msr` by the guest (exit_msr.cpp). False: #GP(0).
bool guest_msr_read(Vcpu& vcpu, u32 msr, u64* value);
bool guest_msr_write(Vcpu& vcpu, u32 msr, u64 value);
// WRMSR of `value` to IA32_EFER holding `old`, paging on or off: the value
// EFER takes (SCE, LME, NXE writable; LMA the processor's; LME fixed while
// paging is on), or false for #GP(0).
bool efer_after_write(u64 old, u64 value, bool paging, u64* next);

}  // namespace xeno::vmx
