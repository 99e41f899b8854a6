// The x86 instruction emulator: decode and execute ONE guest instruction.
//
// Used where the processor cannot run the guest itself: on CPU profiles without
// unrestricted guest (real mode in vm86 cannot express LGDT/LIDT, MOV CR0, the
// switch to protected mode, big real mode), and for MMIO, string I/O and
// shadow page-table writes.
//
// Contract (for the hypervisor core):
//   1. Fill a CpuState from the vcpu (GPRs) and the VMCS (RIP, RFLAGS, CRs,
//      EFER, segment selectors/bases/limits/access rights, GDTR/IDTR, LDTR, TR).
//      Segment limits are byte-granular (as the VMCS holds them), access rights
//      are in the VMCS format (SDM Vol. 3C 25.4.1, Table 25-2).
//   2. Fill an EmulateOps with callbacks that translate a guest-linear address
//      to memory and read/write it (and report #PF), and that do port I/O.
//   3. Call emulate_one(state, ops). On OK the state holds the new register
//      state (RIP advanced, CRs, segments...); write it back. On EXCEPTION the
//      state is exactly as before the instruction (with the one documented
//      exception of REP string instructions, which keep completed iterations,
//      as the processor does) and the caller injects result.vector with
//      result.error_code (if has_error_code) and CR2 = result.cr2 for #PF.
//      On UNHANDLED the caller logs result.bytes[0..length) and injects #UD.
//      On IO_NEEDED a port callback declined: nothing changed; the caller
//      completes the access another way and calls emulate_one again.
//   4. Memory writes are buffered and performed after the instruction
//      succeeded, in program order (so a faulting instruction writes nothing,
//      except when a write callback itself faults at commit time; then the
//      writes before it stay, documented limitation).
//
//   5. Give the emulator the GUEST's architectural view, not the container the
//      hypervisor runs it in: for a real-mode guest executed in vm86 on penryn,
//      pass CR0 as the guest sees it (PE=0, from the read shadow), RFLAGS
//      without the VM bit and IOPL the hypervisor forced, and the real-mode
//      segment caches (base = selector << 4, the guest's limits and AR, which
//      may be 4 GiB in big real mode). On OK, re-derive from the new state
//      whether the guest can go back to vm86/native execution (effects tell
//      what changed).
//
// Behaviour worth knowing:
//   - Undefined flags get fixed values, documented in alu.hpp.
//   - REP string instructions run at most 4096 iterations per call; RIP then
//     stays on the instruction (OK outcome) and the next call continues.
//   - RFLAGS.TF single-step traps and data breakpoints are not raised; RF is
//     cleared after each instruction.
//   - PUSH Sreg with a 32/64-bit operand writes the zero-extended selector.
//   - Far JMP/CALL to a 32-bit TSS or a task gate and IRET with NT switch
//     tasks (task_switch.cpp, as task_switch() below). Not emulated
//     (UNHANDLED): 16-bit TSSs, call gates,
//     VME/PVI virtual interrupt flags, x87/SSE, CPUID/RDMSR/WRMSR/RDTSC (the
//     caller has VM exits for those), TZCNT/LZCNT (F3 0F BC/BD: BSF/BSR or
//     not depends on the guest's CPUID), BSWAP with a 16-bit operand
//     (undefined result), ARPL, RDRAND/RDSEED.
//   - BCD adjusts (DAA DAS AAA AAS AAM AAD), SHLD/SHRD, BSF/BSR and
//     CMPXCHG8B/16B are emulated; their undefined results and flags are
//     listed in alu.hpp.
//   - Stack use: one call keeps a copy of CpuState and a 40-entry write buffer
//     (about 2 KiB) on the stack.
//
// All machine access goes through EmulateOps: the same code runs inside the
// hypervisor and in the host unit tests. Freestanding, no heap.
#pragma once

#include "lib/types.hpp"

namespace xeno::emu {

// Segment register numbers in the encoding the ModRM reg field and
// prefixes use (SDM Vol. 2, 3.4.1 "Sreg").
enum class Seg : u8 { ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5 };
inline constexpr unsigned kSegCount = 6;

// A segment register with its hidden part (the descriptor cache).
struct Segment {
    u16 selector = 0;
    u64 base = 0;
    u32 limit = 0;  // byte-granular effective limit
    u32 ar = 0;     // VMCS access-rights format (type, S, DPL, P, AVL, L, D/B, G, unusable)
};

struct DescriptorTable {
    u64 base = 0;
    u32 limit = 0;
};

// GPR numbers as ModRM/REX encode them.
enum Gpr : u8 { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };

// RFLAGS bits (SDM Vol. 1, 3.4.3).
namespace flag {
inline constexpr u64 CF = 1u << 0, FIXED1 = 1u << 1, PF = 1u << 2, AF = 1u << 4, ZF = 1u << 6, SF = 1u << 7,
                     TF = 1u << 8, IF = 1u << 9, DF = 1u << 10, OF = 1u << 11, IOPL = 3u << 12, NT = 1u << 14,
                     RF = 1u << 16, VM = 1u << 17, AC = 1u << 18, VIF = 1u << 19, VIP = 1u << 20, ID = 1u << 21;
inline constexpr u64 ARITH = CF | PF | AF | ZF | SF | OF;
}  // namespace flag

// Control-register bits the emulator interprets (SDM Vol. 3A, 2.5).
namespace cr0 {
inline constexpr u64 PE = 1u << 0, MP = 1u << 1, EM = 1u << 2, TS = 1u << 3, ET = 1u << 4, NE = 1u << 5,
                     WP = 1u << 16, AM = 1u << 18, NW = 1u << 29, CD = 1u << 30, PG = 1u << 31;
}
namespace efer {
inline constexpr u64 SCE = 1u << 0, LME = 1u << 8, LMA = 1u << 10, NXE = 1u << 11;
}

// The architectural state the emulator reads and changes.
struct CpuState {
    u64 gpr[16] = {};
    u64 rip = 0;
    u64 rflags = flag::FIXED1;
    Segment seg[kSegCount] = {};
    Segment ldtr = {};
    Segment tr = {};
    DescriptorTable gdtr = {};
    DescriptorTable idtr = {};
    u64 cr0 = 0, cr2 = 0, cr3 = 0, cr4 = 0, cr8 = 0;
    u64 efer = 0;
    u64 dr[8] = {};

    Segment& sreg(Seg s) { return seg[static_cast<u8>(s)]; }
    const Segment& sreg(Seg s) const { return seg[static_cast<u8>(s)]; }
};

// Execution mode, derived from CR0.PE, RFLAGS.VM, EFER.LMA and CS.L.
enum class CpuMode : u8 { REAL, VM86, PROTECTED, COMPAT, LONG64 };
CpuMode cpu_mode(const CpuState& s);
// Current privilege level: 0 in real mode, 3 in vm86, else SS.DPL (SDM 3A 5.5).
unsigned cpl(const CpuState& s);

// Outcome of one memory or port callback.
enum class AccessStatus : u8 {
    OK,
    PAGE_FAULT,  // the caller sets *pf_error_code; the emulator reports #PF with CR2 = the linear address
    DECLINED,    // port I/O only: the caller cannot complete it now -> IO_NEEDED
};

enum class AccessKind : u8 { READ, WRITE, EXECUTE };

// Machine access. Every pointer may be called with ctx. `implicit` marks
// supervisor accesses the processor makes on its own (descriptor tables, TSS,
// IDT) so the translation can ignore U/S as the SDM says (4.6).
struct EmulateOps {
    void* ctx = nullptr;
    AccessStatus (*read_linear)(void* ctx, u64 linear, void* dst, u32 size, AccessKind kind, bool implicit,
                                u32* pf_error_code) = nullptr;
    AccessStatus (*write_linear)(void* ctx, u64 linear, const void* src, u32 size, bool implicit,
                                 u32* pf_error_code) = nullptr;
    AccessStatus (*io_in)(void* ctx, u16 port, u32 size, u32* value) = nullptr;
    AccessStatus (*io_out)(void* ctx, u16 port, u32 size, u32 value) = nullptr;
    // Optional: told about each CR/EFER write after the emulator's own checks,
    // before the state is committed. Returning false turns the write into #GP(0)
    // (e.g. a CR0 value the hypervisor refuses). May be null.
    bool (*control_write)(void* ctx, unsigned reg, u64 value) = nullptr;  // reg 0,2,3,4,8; kEferReg for EFER
};
inline constexpr unsigned kEferReg = 0x100;

enum class EmulateOutcome : u8 {
    OK,          // executed; state updated, RIP advanced
    EXCEPTION,   // vector/error_code/cr2 to inject; state as before the instruction
    UNHANDLED,   // unknown or unsupported instruction: bytes[0..length) for the log, inject #UD
    IO_NEEDED,   // a port callback declined: io_port/io_size/io_write describe it; state unchanged
};

// Side effects the caller must apply to interruptibility and activity state.
namespace effect {
inline constexpr u32 STI_SHADOW = 1u << 0;     // STI set IF: block interrupts for one instruction
inline constexpr u32 MOV_SS_SHADOW = 1u << 1;  // MOV SS / POP SS: block interrupts and #DB for one instruction
inline constexpr u32 HALT = 1u << 2;           // HLT executed: enter the HLT activity state
inline constexpr u32 MODE_CHANGE = 1u << 3;    // CR0/CR4/EFER changed (re-derive VMCS controls, shadow tables)
inline constexpr u32 CR3_WRITE = 1u << 4;      // CR3 was written (flush or rebuild shadow tables)
inline constexpr u32 DESC_TABLE = 1u << 5;     // GDTR/IDTR/LDTR changed
inline constexpr u32 SEG_LOAD = 1u << 6;       // a segment register was loaded
inline constexpr u32 SOFT_INT = 1u << 7;       // INT n/INT3/INTO/IRET went through the IVT/IDT
inline constexpr u32 TASK_SWITCHED = 1u << 8;  // task_switch: the new task's state is loaded (even on EXCEPTION)
}  // namespace effect

struct EmulateResult {
    EmulateOutcome outcome = EmulateOutcome::OK;
    u8 vector = 0;
    bool has_error_code = false;
    u32 error_code = 0;
    u64 cr2 = 0;            // for #PF
    u32 effects = 0;        // effect:: bits, on OK
    u8 length = 0;          // bytes consumed (decoded so far for UNHANDLED)
    u8 bytes[15] = {};      // the instruction bytes
    u16 io_port = 0;        // IO_NEEDED
    u8 io_size = 0;
    bool io_write = false;
};

// Decode and execute one instruction at CS:RIP.
EmulateResult emulate_one(CpuState& state, const EmulateOps& ops);

// Deliver an interrupt or exception through the IVT (real mode) or the IDT
// (protected mode, same privilege or to ring 0 through the TSS; long mode gates
// without IST), as the processor does (SDM 3A 6.12). `return_rip` is the RIP
// pushed on the stack. On failure the returned result describes the fault that
// delivery itself raised (the caller escalates to #DF as it sees fit).
EmulateResult deliver_event(CpuState& state, const EmulateOps& ops, u8 vector, bool has_error_code,
                            u32 error_code, u64 return_rip, bool software);

// A hardware task switch (SDM Vol. 3A 7.3) to the 32-bit TSS `selector`, as
// the hypervisor completes it after a VM exit for a task switch. Source as
// the exit qualification encodes it (SDM Vol. 3C Table 28-2).
enum class TaskSwitchSource : u8 { CALL = 0, IRET = 1, JMP = 2, IDT_GATE = 3 };
struct TaskSwitchRequest {
    u16 selector = 0;  // the new task's TSS (through a task gate: the gate's TSS selector)
    TaskSwitchSource source = TaskSwitchSource::JMP;
    u64 return_rip = 0;           // the EIP saved in the old task's TSS
    bool has_error_code = false;  // an exception through a task gate: pushed on the new task's stack
    u32 error_code = 0;
};
// OK: `state` is the new task's. EXCEPTION: a fault to deliver; with
// effect::TASK_SWITCHED in result.effects it belongs to the new task (state
// is the new task's, as far as it was loaded), else nothing changed.
// UNHANDLED: a 16-bit TSS (old or new), which this does not switch.
// The T (debug trap) bit of the new TSS is not acted on.
EmulateResult task_switch(CpuState& state, const EmulateOps& ops, const TaskSwitchRequest& request);

}  // namespace xeno::emu
