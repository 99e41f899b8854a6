// A small x86 instruction decoder: lengths (to count instructions in a
// translated block and to report VM_EXIT_INSTRUCTION_LEN) and recognition
// of the instructions that can cause VM exits or that the model must
// emulate (SDM Vol. 3C, 26.1 and 26.2). Not a general disassembler.
#pragma once

#include "lib/types.hpp"

namespace xeno::sim {

enum class InsnKind : u8 {
    OTHER,
    IO,            // IN/OUT with imm8 or DX port
    IO_STRING,     // INS/OUTS
    HLT,
    CPUID,
    RDTSC,
    RDTSCP,
    RDMSR,
    WRMSR,
    MOV_TO_CR,
    MOV_FROM_CR,
    CLTS,
    LMSW,
    MOV_DR,
    INVLPG,
    VMX,           // VMCALL, VMLAUNCH, ... (unconditional exits in non-root)
    VMFUNC,        // #UD without "enable VM functions", else EPTP switching or an exit
    INT3,
    INTO,
    INT_N,
    INT1,          // ICEBP
    XSETBV,
    XGETBV,        // emulated: the model holds the guest's XCR0 (Unicorn's CPU has no XSAVE)
    DESC_TABLE,    // LGDT/LIDT/SGDT/SIDT (0F 01 /0-3), SLDT/STR/LLDT/LTR (0F 00 /0-3)
    RDRAND,
    RDSEED,
    INVPCID,
    INVD,
    WBINVD,
    PAUSE,
    MWAIT,
    MONITOR,
    RDPMC,
    GETSEC,
    FAR_JMP_CALL,  // JMP/CALL ptr16:16/32, JMP/CALL m16:16/32/64: a TSS or task gate switches tasks
    IRET,          // with EFLAGS.NT in protected mode: a task switch
    STI,           // blocks interrupts for one instruction when it sets IF (SDM Vol. 3C 25.4.2 Table 25-3)
    MOV_SS,        // MOV SS / POP SS: block interrupts and debug traps for one instruction
    POPF,          // may set IF: an interrupt window may open right after it
    SYSCALL,       // emulated: Unicorn's SYSCALL only calls hooks (engine_fast_system_calls.cpp)
    SYSENTER,      // the same for SYSENTER
    CMPXCHG8B16B,  // emulated: Unicorn's computes the flags it keeps from stale state (engine_cmpxchg.cpp)
};

struct DecodedInsn {
    u8 length = 0;       // 0: could not decode (treat as OTHER, length unknown)
    InsnKind kind = InsnKind::OTHER;
    u8 opcode = 0;       // primary opcode byte (after 0F if two_byte)
    bool two_byte = false;
    bool opsize = false;     // 66 prefix
    bool addrsize = false;   // 67 prefix
    bool rep = false;        // F3 or F2
    u8 segment = 0xff;       // segment override (0..5 ES CS SS DS FS GS), 0xff: none
    u8 rex = 0;
    u8 modrm = 0;
    bool has_modrm = false;
    u8 imm8 = 0;             // first immediate byte (port of IN/OUT imm8, vector of INT n)
    u8 vmx_exit = 0;         // exit reason for InsnKind::VMX
    u8 mode = 0;             // 16/32/64: the code size it was decoded with
    u8 modrm_pos = 0;        // offset of the ModRM byte
};

// Decode the instruction in bytes[0..available). mode_bits: 16, 32 or 64
// (the default operand/address size of the code segment).
DecodedInsn decode_insn(const u8* bytes, usize available, unsigned mode_bits);

}  // namespace xeno::sim
