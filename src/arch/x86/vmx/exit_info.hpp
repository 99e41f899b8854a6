// The exit information of one VM exit, read from the VMCS once (SDM Vol. 3C
// 25.9 "VM-Exit Information Fields") and handed to the trace and the handlers.
#pragma once

#include "arch/x86/vmx/exit_qualification.hpp"
#include "arch/x86/vmx/vmx_arch.hpp"
#include "lib/types.hpp"

namespace xeno::vmx {

struct ExitInfo {
    u32 reason_field = 0;   // VM_EXIT_REASON as read
    u16 reason = 0;         // basic exit reason (bits 15:0)
    bool entry_failure = false;  // bit 31: VM-entry failure (reasons 33, 34, 41)
    u64 qualification = 0;
    u64 rip = 0;            // guest RIP at the exit, before any handler advances it
    u32 instruction_length = 0;
    u32 instruction_info = 0;
    u32 intr_info = 0;      // VM-exit interruption information
    u32 intr_error_code = 0;
    u32 idt_vectoring_info = 0;
    u32 idt_vectoring_error_code = 0;
    u64 guest_physical = 0;
    bool guest_physical_valid = false;  // EPT violation / misconfiguration
    u64 guest_linear = 0;
    bool guest_linear_valid = false;

    bool intr_info_valid() const { return (intr_info & intr_info::VALID) != 0; }
};

// Exits not caused by a guest instruction (external interrupts, timers,
// windows): traces mark them so a comparison across builds can set them aside.
constexpr bool exit_is_async(u16 reason)
{
    switch (static_cast<ExitReason>(reason)) {
    case ExitReason::EXTERNAL_INTERRUPT:
    case ExitReason::PREEMPTION_TIMER:
    case ExitReason::INTERRUPT_WINDOW:
    case ExitReason::NMI_WINDOW: return true;
    default: return false;
    }
}

// Whether GUEST_LINEAR_ADDRESS holds something for this exit (SDM 28.2.1,
// "Guest linear address"): INS/OUTS, LMSW with a memory operand, EPT
// violations with qualification bit 7.
constexpr bool exit_has_guest_linear(u16 reason, u64 qualification)
{
    switch (static_cast<ExitReason>(reason)) {
    case ExitReason::IO_INSTRUCTION: return decode_io_qualification(qualification).string;
    case ExitReason::CR_ACCESS: {
        const CrQualification c = decode_cr_qualification(qualification);
        return c.type == CrAccessType::LMSW && c.lmsw_memory;
    }
    case ExitReason::EPT_VIOLATION: return decode_ept_violation(qualification).gla_valid;
    default: return false;
    }
}

constexpr bool exit_has_guest_physical(u16 reason)
{
    return reason == static_cast<u16>(ExitReason::EPT_VIOLATION) ||
           reason == static_cast<u16>(ExitReason::EPT_MISCONFIG);
}

// Whether VM_EXIT_INSTRUCTION_LEN is defined for this exit (SDM Vol. 3C
// 28.2.5: instruction exits, software exceptions, faults during delivery of
// software interrupts/exceptions, task switches by instruction; undefined in
// all other cases). Processors differ in what they leave in it otherwise
// (Bochs reports the faulting instruction's length for #GP), so the
// canonical trace prints 0 where it is undefined.
constexpr bool software_event_type(u32 info)
{
    const u32 type = (info & intr_info::TYPE_MASK) >> intr_info::TYPE_SHIFT;
    return (info & intr_info::VALID) && (type == 4 || type == 5 || type == 6);
}

constexpr bool exit_length_defined(u16 reason, u64 qualification, u32 intr, u32 idt_vectoring)
{
    switch (static_cast<ExitReason>(reason)) {
    case ExitReason::EXCEPTION_NMI: return software_event_type(intr) || software_event_type(idt_vectoring);
    case ExitReason::TASK_SWITCH: return bits(qualification, 31, 30) != 3 || software_event_type(idt_vectoring);
    case ExitReason::EPT_VIOLATION:
    case ExitReason::EPT_MISCONFIG:
    case ExitReason::APIC_ACCESS: return software_event_type(idt_vectoring);
    case ExitReason::CPUID: case ExitReason::GETSEC: case ExitReason::HLT: case ExitReason::INVD:
    case ExitReason::INVLPG: case ExitReason::RDPMC: case ExitReason::RDTSC: case ExitReason::RSM:
    case ExitReason::VMCALL: case ExitReason::VMCLEAR: case ExitReason::VMLAUNCH: case ExitReason::VMPTRLD:
    case ExitReason::VMPTRST: case ExitReason::VMREAD: case ExitReason::VMRESUME: case ExitReason::VMWRITE:
    case ExitReason::VMXOFF: case ExitReason::VMXON: case ExitReason::CR_ACCESS: case ExitReason::DR_ACCESS:
    case ExitReason::IO_INSTRUCTION: case ExitReason::MSR_READ: case ExitReason::MSR_WRITE:
    case ExitReason::MWAIT_INSTRUCTION: case ExitReason::MONITOR_INSTRUCTION: case ExitReason::PAUSE_INSTRUCTION:
    case ExitReason::GDTR_IDTR: case ExitReason::LDTR_TR: case ExitReason::INVEPT: case ExitReason::RDTSCP:
    case ExitReason::INVVPID: case ExitReason::WBINVD: case ExitReason::XSETBV: case ExitReason::RDRAND:
    case ExitReason::INVPCID: case ExitReason::VMFUNC: case ExitReason::ENCLS: case ExitReason::RDSEED:
    case ExitReason::XSAVES: case ExitReason::XRSTORS: return true;
    default: return false;
    }
}

// Read the exit information fields of the current VMCS. `ept`: the CPU has
// the guest-physical-address field (reading it otherwise fails).
ExitInfo read_exit_info(bool ept);

}  // namespace xeno::vmx
