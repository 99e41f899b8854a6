// Architectural VMX constants: capability MSRs, control bits, exit reasons,
// VM-instruction errors, event-injection formats.
// Source: Intel SDM Vol. 3C (rev. 084), chapters 25-28 and 31, and Vol. 3D
// Appendix A ("VMX Capability Reporting Facility") and C ("VMX Basic Exit Reasons").
#pragma once

#include "lib/bits.hpp"
#include "lib/types.hpp"

namespace xeno::vmx {

// MSRs (SDM Vol. 4 and Vol. 3D Appendix A).
namespace msr {
inline constexpr u32 IA32_FEATURE_CONTROL = 0x03A;
inline constexpr u32 IA32_SYSENTER_CS = 0x174;
inline constexpr u32 IA32_SYSENTER_ESP = 0x175;
inline constexpr u32 IA32_SYSENTER_EIP = 0x176;
inline constexpr u32 IA32_DEBUGCTL = 0x1D9;
inline constexpr u32 IA32_PAT = 0x277;
inline constexpr u32 IA32_VMX_BASIC = 0x480;
inline constexpr u32 IA32_VMX_PINBASED_CTLS = 0x481;
inline constexpr u32 IA32_VMX_PROCBASED_CTLS = 0x482;
inline constexpr u32 IA32_VMX_EXIT_CTLS = 0x483;
inline constexpr u32 IA32_VMX_ENTRY_CTLS = 0x484;
inline constexpr u32 IA32_VMX_MISC = 0x485;
inline constexpr u32 IA32_VMX_CR0_FIXED0 = 0x486;
inline constexpr u32 IA32_VMX_CR0_FIXED1 = 0x487;
inline constexpr u32 IA32_VMX_CR4_FIXED0 = 0x488;
inline constexpr u32 IA32_VMX_CR4_FIXED1 = 0x489;
inline constexpr u32 IA32_VMX_VMCS_ENUM = 0x48A;
inline constexpr u32 IA32_VMX_PROCBASED_CTLS2 = 0x48B;
inline constexpr u32 IA32_VMX_EPT_VPID_CAP = 0x48C;
inline constexpr u32 IA32_VMX_TRUE_PINBASED_CTLS = 0x48D;
inline constexpr u32 IA32_VMX_TRUE_PROCBASED_CTLS = 0x48E;
inline constexpr u32 IA32_VMX_TRUE_EXIT_CTLS = 0x48F;
inline constexpr u32 IA32_VMX_TRUE_ENTRY_CTLS = 0x490;
inline constexpr u32 IA32_VMX_VMFUNC = 0x491;
inline constexpr u32 IA32_EFER = 0xC0000080;
inline constexpr u32 IA32_STAR = 0xC0000081;
inline constexpr u32 IA32_LSTAR = 0xC0000082;
inline constexpr u32 IA32_CSTAR = 0xC0000083;
inline constexpr u32 IA32_FMASK = 0xC0000084;
inline constexpr u32 IA32_FS_BASE = 0xC0000100;
inline constexpr u32 IA32_GS_BASE = 0xC0000101;
inline constexpr u32 IA32_KERNEL_GS_BASE = 0xC0000102;
inline constexpr u32 IA32_TSC = 0x010;
inline constexpr u32 IA32_APIC_BASE = 0x01B;
}  // namespace msr

// IA32_FEATURE_CONTROL bits.
inline constexpr u64 kFeatureControlLock = bit(0);
inline constexpr u64 kFeatureControlVmxOutsideSmx = bit(2);

// IA32_VMX_BASIC (Appendix A.1).
inline constexpr u64 kBasicRevisionMask = 0x7fffffff;
constexpr u32 basic_vmcs_size(u64 basic) { return static_cast<u32>(bits(basic, 44, 32)); }
inline constexpr u64 kBasicTrueControls = bit(55);   // TRUE_* capability MSRs exist
inline constexpr u64 kBasicInsOutsInfo = bit(54);    // INS/OUTS report instruction info

// Pin-based VM-execution controls (25.6.1, Table 25-5).
namespace pin {
inline constexpr u32 EXTERNAL_INTERRUPT_EXITING = 1u << 0;
inline constexpr u32 NMI_EXITING = 1u << 3;
inline constexpr u32 VIRTUAL_NMIS = 1u << 5;
inline constexpr u32 PREEMPTION_TIMER = 1u << 6;
inline constexpr u32 POSTED_INTERRUPTS = 1u << 7;
}  // namespace pin

// Primary processor-based VM-execution controls (25.6.2, Table 25-6).
namespace proc {
inline constexpr u32 INTERRUPT_WINDOW_EXITING = 1u << 2;
inline constexpr u32 USE_TSC_OFFSETTING = 1u << 3;
inline constexpr u32 HLT_EXITING = 1u << 7;
inline constexpr u32 INVLPG_EXITING = 1u << 9;
inline constexpr u32 MWAIT_EXITING = 1u << 10;
inline constexpr u32 RDPMC_EXITING = 1u << 11;
inline constexpr u32 RDTSC_EXITING = 1u << 12;
inline constexpr u32 CR3_LOAD_EXITING = 1u << 15;
inline constexpr u32 CR3_STORE_EXITING = 1u << 16;
inline constexpr u32 CR8_LOAD_EXITING = 1u << 19;
inline constexpr u32 CR8_STORE_EXITING = 1u << 20;
inline constexpr u32 USE_TPR_SHADOW = 1u << 21;
inline constexpr u32 NMI_WINDOW_EXITING = 1u << 22;
inline constexpr u32 MOV_DR_EXITING = 1u << 23;
inline constexpr u32 UNCONDITIONAL_IO_EXITING = 1u << 24;
inline constexpr u32 USE_IO_BITMAPS = 1u << 25;
inline constexpr u32 MONITOR_TRAP_FLAG = 1u << 27;
inline constexpr u32 USE_MSR_BITMAPS = 1u << 28;
inline constexpr u32 MONITOR_EXITING = 1u << 29;
inline constexpr u32 PAUSE_EXITING = 1u << 30;
inline constexpr u32 ACTIVATE_SECONDARY_CONTROLS = 1u << 31;
}  // namespace proc

// Secondary processor-based VM-execution controls (25.6.2, Table 25-7).
namespace proc2 {
inline constexpr u32 VIRTUALIZE_APIC_ACCESSES = 1u << 0;
inline constexpr u32 ENABLE_EPT = 1u << 1;
inline constexpr u32 DESCRIPTOR_TABLE_EXITING = 1u << 2;
inline constexpr u32 ENABLE_RDTSCP = 1u << 3;
inline constexpr u32 VIRTUALIZE_X2APIC = 1u << 4;
inline constexpr u32 ENABLE_VPID = 1u << 5;
inline constexpr u32 WBINVD_EXITING = 1u << 6;
inline constexpr u32 UNRESTRICTED_GUEST = 1u << 7;
inline constexpr u32 APIC_REGISTER_VIRTUALIZATION = 1u << 8;
inline constexpr u32 VIRTUAL_INTERRUPT_DELIVERY = 1u << 9;
inline constexpr u32 PAUSE_LOOP_EXITING = 1u << 10;
inline constexpr u32 RDRAND_EXITING = 1u << 11;
inline constexpr u32 ENABLE_INVPCID = 1u << 12;
inline constexpr u32 ENABLE_VMFUNC = 1u << 13;
inline constexpr u32 VMCS_SHADOWING = 1u << 14;
inline constexpr u32 RDSEED_EXITING = 1u << 16;
inline constexpr u32 ENABLE_PML = 1u << 17;
inline constexpr u32 EPT_VIOLATION_VE = 1u << 18;
inline constexpr u32 ENABLE_XSAVES = 1u << 20;
inline constexpr u32 TSC_SCALING = 1u << 25;
}  // namespace proc2

// VM-exit controls (25.7.1, Table 25-13).
namespace exit_ctl {
inline constexpr u32 SAVE_DEBUG_CONTROLS = 1u << 2;
inline constexpr u32 HOST_ADDRESS_SPACE_SIZE = 1u << 9;
inline constexpr u32 LOAD_PERF_GLOBAL_CTRL = 1u << 12;
inline constexpr u32 ACK_INTERRUPT_ON_EXIT = 1u << 15;
inline constexpr u32 SAVE_PAT = 1u << 18;
inline constexpr u32 LOAD_PAT = 1u << 19;
inline constexpr u32 SAVE_EFER = 1u << 20;
inline constexpr u32 LOAD_EFER = 1u << 21;
inline constexpr u32 SAVE_PREEMPTION_TIMER = 1u << 22;
inline constexpr u32 CLEAR_BNDCFGS = 1u << 23;
}  // namespace exit_ctl

// VM-entry controls (25.8.1, Table 25-15).
namespace entry_ctl {
inline constexpr u32 LOAD_DEBUG_CONTROLS = 1u << 2;
inline constexpr u32 IA32E_MODE_GUEST = 1u << 9;
inline constexpr u32 ENTRY_TO_SMM = 1u << 10;
inline constexpr u32 DEACTIVATE_DUAL_MONITOR = 1u << 11;
inline constexpr u32 LOAD_PERF_GLOBAL_CTRL = 1u << 13;
inline constexpr u32 LOAD_PAT = 1u << 14;
inline constexpr u32 LOAD_EFER = 1u << 15;
inline constexpr u32 LOAD_BNDCFGS = 1u << 16;
}  // namespace entry_ctl

// Basic exit reasons (Appendix C, Table C-1).
enum class ExitReason : u16 {
    EXCEPTION_NMI = 0,
    EXTERNAL_INTERRUPT = 1,
    TRIPLE_FAULT = 2,
    INIT_SIGNAL = 3,
    SIPI = 4,
    IO_SMI = 5,
    OTHER_SMI = 6,
    INTERRUPT_WINDOW = 7,
    NMI_WINDOW = 8,
    TASK_SWITCH = 9,
    CPUID = 10,
    GETSEC = 11,
    HLT = 12,
    INVD = 13,
    INVLPG = 14,
    RDPMC = 15,
    RDTSC = 16,
    RSM = 17,
    VMCALL = 18,
    VMCLEAR = 19,
    VMLAUNCH = 20,
    VMPTRLD = 21,
    VMPTRST = 22,
    VMREAD = 23,
    VMRESUME = 24,
    VMWRITE = 25,
    VMXOFF = 26,
    VMXON = 27,
    CR_ACCESS = 28,
    DR_ACCESS = 29,
    IO_INSTRUCTION = 30,
    MSR_READ = 31,
    MSR_WRITE = 32,
    INVALID_GUEST_STATE = 33,
    MSR_LOADING = 34,
    MWAIT_INSTRUCTION = 36,
    MONITOR_TRAP_FLAG = 37,
    MONITOR_INSTRUCTION = 39,
    PAUSE_INSTRUCTION = 40,
    MCE_DURING_VMENTRY = 41,
    TPR_BELOW_THRESHOLD = 43,
    APIC_ACCESS = 44,
    EOI_INDUCED = 45,
    GDTR_IDTR = 46,
    LDTR_TR = 47,
    EPT_VIOLATION = 48,
    EPT_MISCONFIG = 49,
    INVEPT = 50,
    RDTSCP = 51,
    PREEMPTION_TIMER = 52,
    INVVPID = 53,
    WBINVD = 54,
    XSETBV = 55,
    APIC_WRITE = 56,
    RDRAND = 57,
    INVPCID = 58,
    VMFUNC = 59,
    ENCLS = 60,
    RDSEED = 61,
    PML_FULL = 62,
    XSAVES = 63,
    XRSTORS = 64,
};

// Canonical upper-case name of a basic exit reason ("IO_INSTRUCTION"), or "UNKNOWN".
const char* exit_reason_name(u32 basic_reason);

// Exit reason field bits (25.9.1, Table 25-17).
inline constexpr u32 kExitReasonEntryFailure = 1u << 31;
constexpr u16 exit_basic_reason(u32 reason_field) { return static_cast<u16>(reason_field & 0xffff); }

// VM-instruction error numbers (31.4, Table 31-1).
enum class VmInstructionError : u32 {
    VMCALL_IN_ROOT = 1,
    VMCLEAR_INVALID_ADDRESS = 2,
    VMCLEAR_VMXON_POINTER = 3,
    VMLAUNCH_NONCLEAR_VMCS = 4,
    VMRESUME_NONLAUNCHED_VMCS = 5,
    VMRESUME_AFTER_VMXOFF = 6,
    ENTRY_INVALID_CONTROL_FIELD = 7,
    ENTRY_INVALID_HOST_STATE = 8,
    VMPTRLD_INVALID_ADDRESS = 9,
    VMPTRLD_VMXON_POINTER = 10,
    VMPTRLD_INCORRECT_REVISION = 11,
    UNSUPPORTED_VMCS_COMPONENT = 12,
    VMWRITE_READ_ONLY_COMPONENT = 13,
    VMXON_IN_ROOT = 15,
    ENTRY_INVALID_EXECUTIVE_VMCS = 16,
    ENTRY_NONLAUNCHED_EXECUTIVE_VMCS = 17,
    ENTRY_EXECUTIVE_NOT_VMXON = 18,
    VMCALL_NONCLEAR_VMCS = 19,
    VMCALL_INVALID_EXIT_CONTROLS = 20,
    VMCALL_INCORRECT_MSEG_REVISION = 22,
    VMXOFF_DUAL_MONITOR = 23,
    VMCALL_INVALID_SMM_FEATURES = 24,
    ENTRY_INVALID_EXECUTIVE_CONTROLS = 25,
    ENTRY_EVENTS_BLOCKED_BY_MOV_SS = 26,
    INVALID_INVEPT_INVVPID_OPERAND = 28,
};

// Exit qualification of VM-entry failures for invalid guest state (27.8).
inline constexpr u64 kEntryFailQualDefault = 0;
inline constexpr u64 kEntryFailQualPdpte = 2;
inline constexpr u64 kEntryFailQualNmiInjection = 3;
inline constexpr u64 kEntryFailQualVmcsLink = 4;

// Interruption-information format, shared by VM-entry injection, VM-exit
// interruption info and IDT-vectoring info (25.8.3, 25.9.2).
namespace intr_info {
inline constexpr u32 VECTOR_MASK = 0xff;
inline constexpr u32 TYPE_SHIFT = 8;
inline constexpr u32 TYPE_MASK = 7u << 8;
inline constexpr u32 ERROR_CODE_VALID = 1u << 11;
inline constexpr u32 NMI_UNBLOCKING = 1u << 12;   // exit/vectoring info only
inline constexpr u32 VALID = 1u << 31;
}  // namespace intr_info

enum class InterruptionType : u8 {
    EXTERNAL_INTERRUPT = 0,
    NMI = 2,
    HARDWARE_EXCEPTION = 3,
    SOFTWARE_INTERRUPT = 4,
    PRIVILEGED_SOFTWARE_EXCEPTION = 5,
    SOFTWARE_EXCEPTION = 6,
    OTHER_EVENT = 7,
};

constexpr u32 make_intr_info(u8 vector, InterruptionType type, bool error_code)
{
    return intr_info::VALID | (static_cast<u32>(type) << intr_info::TYPE_SHIFT) | vector |
           (error_code ? intr_info::ERROR_CODE_VALID : 0);
}

// Guest interruptibility state (25.4.2, Table 25-3).
namespace interruptibility {
inline constexpr u32 BLOCKING_BY_STI = 1u << 0;
inline constexpr u32 BLOCKING_BY_MOV_SS = 1u << 1;
inline constexpr u32 BLOCKING_BY_SMI = 1u << 2;
inline constexpr u32 BLOCKING_BY_NMI = 1u << 3;
inline constexpr u32 ENCLAVE_INTERRUPTION = 1u << 4;
}  // namespace interruptibility

// Guest activity state (25.4.2).
enum class ActivityState : u32 { ACTIVE = 0, HLT = 1, SHUTDOWN = 2, WAIT_FOR_SIPI = 3 };

// Segment access rights as VMCS AR fields hold them (25.4.1, Table 25-2).
namespace ar {
inline constexpr u32 TYPE_MASK = 0xf;
inline constexpr u32 S = 1u << 4;          // descriptor type: 1 code/data, 0 system
inline constexpr u32 DPL_SHIFT = 5;
inline constexpr u32 DPL_MASK = 3u << 5;
inline constexpr u32 P = 1u << 7;
inline constexpr u32 AVL = 1u << 12;
inline constexpr u32 L = 1u << 13;         // 64-bit code segment
inline constexpr u32 DB = 1u << 14;        // default operation size
inline constexpr u32 G = 1u << 15;         // granularity
inline constexpr u32 UNUSABLE = 1u << 16;
inline constexpr u32 RESERVED_MASK = 0xfffe0f00;  // bits 11:8 and 31:17
}  // namespace ar

// Exception vectors.
namespace vector {
inline constexpr u8 DE = 0, DB = 1, NMI = 2, BP = 3, OF = 4, BR = 5, UD = 6, NM = 7, DF = 8, TS = 10,
                    NP = 11, SS = 12, GP = 13, PF = 14, MF = 16, AC = 17, MC = 18, XM = 19, VE = 20;
}  // namespace vector

// Contributory exceptions (SDM Vol. 3A 6.15, Table 6-4): #DE, #TS, #NP,
// #SS, #GP and #CP (21). Two in a row, or one after a #PF, make a #DF.
constexpr bool exception_is_contributory(u8 v)
{
    return v == vector::DE || v == vector::TS || v == vector::NP || v == vector::SS || v == vector::GP || v == 21;
}

// Exceptions that push an error code in protected mode.
constexpr bool exception_has_error_code(u8 v)
{
    return v == vector::DF || v == vector::TS || v == vector::NP || v == vector::SS || v == vector::GP ||
           v == vector::PF || v == vector::AC;
}

}  // namespace xeno::vmx
