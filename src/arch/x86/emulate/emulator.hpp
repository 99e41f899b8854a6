// Internal: the state of one emulate_one call. Not part of the public API
// (emulate.hpp is). Every step returns bool: false means the instruction
// stopped (fault, unhandled, I/O needed) and the reason is in `result`.
#pragma once

#include "arch/x86/emulate/alu.hpp"
#include "arch/x86/emulate/emulate.hpp"
#include "arch/x86/vmx/vmx_arch.hpp"

namespace xeno::emu {

class Emulator {
public:
    Emulator(CpuState& state, const EmulateOps& ops) : s(state), saved(state), ops_(ops) {}

    EmulateResult run();
    bool deliver(u8 vector, bool has_error_code, u32 error_code, u64 return_rip, bool software);
    bool commit_writes();

    CpuState& s;       // working state (the caller's, restored from `saved` on failure)
    CpuState saved;    // state before the instruction (or after the last completed REP iteration)
    EmulateResult result;

    // ---- decode state ----
    CpuMode mode = CpuMode::REAL;
    u64 ip_start = 0;
    unsigned opsize = 2, addrsize = 2;  // bytes
    int seg_override = -1;
    bool rep = false, repne = false, lock = false;
    u8 opcode_ = 0;          // the opcode being executed (second byte for 0F xx)
    bool two_byte_ = false;  // opcode_ follows 0F
    static bool lock_possible(bool two_byte, u8 op);
    u8 rex = 0;
    bool has_modrm = false;
    u8 mod = 0, reg = 0, rm = 0;  // reg and rm include REX.R / REX.B
    bool mem_op = false;
    Seg ea_seg = Seg::DS;
    u64 ea = 0;  // offset within ea_seg, truncated to the address size (see rip_relative)
    bool rip_relative = false;
    bool ea_uses_rsp = false;   // for POP r/m: the address is computed after the pop  // ea still lacks the address of the next instruction
    bool branched = false;      // the instruction set RIP itself
    bool rep_partial = false;   // a REP instruction completed some iterations before stopping
    u64 next_ip() const { return ip_start + fetched_; }
    void resolve_ea();

    // ---- helpers: faults ----
    bool fault(u8 vector, u32 error_code);
    bool fault_no_ec(u8 vector);
    bool gp0() { return fault(13, 0); }
    bool ud() { return fault_no_ec(6); }
    bool unhandled();

    // ---- fetch and decode ----
    bool fetch(unsigned size, u64& value);
    bool decode_modrm();
    bool fetch_imm(unsigned size, u64& value);  // sign-extends 4-byte immediates for 8-byte operands
    Seg data_seg(Seg dflt) const { return seg_override >= 0 ? static_cast<Seg>(seg_override) : dflt; }
    bool long64() const { return mode == CpuMode::LONG64; }
    bool protected_mode() const { return mode == CpuMode::PROTECTED || mode == CpuMode::COMPAT || long64(); }

    // ---- registers ----
    u64 get_reg(unsigned n, unsigned size) const;  // size 1 honours AH..BH without REX
    void set_reg(unsigned n, unsigned size, u64 value);
    u64 get_gpr(unsigned n, unsigned size) const { return s.gpr[n] & alu::size_mask(size); }
    void set_gpr(unsigned n, unsigned size, u64 value);  // 4-byte writes zero-extend
    u64 addr_mask() const { return alu::size_mask(addrsize); }
    bool jump_near(u64 target);  // truncated to the operand size, checked against CS (near branches)
    unsigned stack_opsize() const { return long64() ? (opsize == 2 ? 2 : 8) : opsize; }

    // ---- memory ----
    bool linear(Seg seg, u64 offset, unsigned size, AccessKind kind, u64& la);
    bool read_linear(u64 la, void* dst, unsigned size, AccessKind kind, bool implicit);
    bool write_linear(u64 la, const void* src, unsigned size, bool implicit);
    bool read(Seg seg, u64 offset, unsigned size, u64& value);
    bool write(Seg seg, u64 offset, unsigned size, u64 value);
    bool read_rm(unsigned size, u64& value);
    bool write_rm(unsigned size, u64 value);

    // ---- stack ----
    unsigned stack_size() const;  // 2, 4 or 8: SS.B or 64-bit mode
    bool push(u64 value, unsigned size);
    bool pop(u64& value, unsigned size);
    bool stack_read(unsigned offset_from_sp, unsigned size, u64& value);  // read without popping

    // ---- segments (segments.cpp) ----
    bool read_descriptor(u16 selector, u64& desc, u8 fault_vector);
    bool load_sreg(Seg seg, u16 selector);  // MOV/POP Sreg, LxS: mode-dependent rules
    bool load_cs_far(u16 selector, u64 offset, bool is_call, unsigned size);  // far JMP/CALL
    bool far_return(unsigned size, u16 pop_bytes);                            // RETF
    bool iret(unsigned size);
    bool io_permitted(u16 port, unsigned size);
    bool load_system_segment(bool task_register, u16 selector);  // LLDT, LTR
    bool mark_accessed(u16 selector, u64 descriptor);  // sets the accessed bit in memory, as a load does
    // A task switch caused by this instruction (task_switch.cpp): the old
    // task resumes at next_ip(). Far JMP/CALL to a TSS or task gate, IRET with NT.
    bool switch_task(u16 tss_selector, TaskSwitchSource source);
    bool far_to_system(u16 selector, u64 descriptor, bool is_call);  // from load_cs_far

    // ---- execution (exec_*.cpp) ----
    bool execute(u8 opcode);
    bool execute_0f(u8 opcode);
    bool execute_string(u8 opcode);
    bool execute_system_0f01();
    bool execute_system_0f00();
    bool execute_group1(u8 opcode);
    bool execute_group3(unsigned size);
    bool execute_group5(unsigned size);
    bool execute_bt(unsigned kind, bool imm_form);
    bool cmpxchg8b_16b();
    bool mov_cr(bool to_cr);
    bool mov_dr(bool to_dr);
    bool write_cr0(u64 value);
    bool write_cr(unsigned n, u64 value);
    bool port_in(u16 port, unsigned size, u64& value);
    bool port_out(u16 port, unsigned size, u64 value);

    // Buffered writes, committed when the instruction (or REP iteration) completes.
    struct PendingWrite {
        u64 la;
        u8 size;
        bool implicit;
        u8 data[16];
    };
    static constexpr unsigned kMaxWrites = 40;  // ENTER with nesting level 31 needs 33
    PendingWrite writes_[kMaxWrites] = {};
    unsigned nwrites_ = 0;
    unsigned fetched_ = 0;

private:
    const EmulateOps& ops_;

public:
    const EmulateOps& ops() const { return ops_; }
};

// Descriptor helpers (SDM Vol. 3A 3.4.5, Figure 3-8).
constexpr u64 desc_base(u64 d) { return ((d >> 16) & 0xffffff) | (((d >> 56) & 0xff) << 24); }
constexpr u32 desc_limit(u64 d)
{
    const u32 raw = static_cast<u32>((d & 0xffff) | (((d >> 48) & 0xf) << 16));
    return (d & (u64{1} << 55)) ? (raw << 12) | 0xfff : raw;
}
// The VMCS access-rights image of a descriptor: bits 47:40 and 55:52.
constexpr u32 desc_ar(u64 d) { return static_cast<u32>((d >> 40) & 0xf0ff); }

// Access-rights and selector helpers (SDM Vol. 3A 3.4.2, 3.4.5, 6.13).
constexpr bool is_code(u32 ar) { return (ar & vmx::ar::S) && (ar & 8); }
constexpr bool is_data(u32 ar) { return (ar & vmx::ar::S) && !(ar & 8); }
constexpr unsigned dpl_of(u32 ar) { return (ar >> vmx::ar::DPL_SHIFT) & 3; }
constexpr u16 ec_of(u16 selector) { return selector & 0xfffc; }  // a selector as an error code
// System descriptor types of a TSS: 16-bit (1 available, 3 busy), 32-bit (9, 11).
constexpr bool is_tss_type(u32 type) { return type == 1 || type == 3 || type == 9 || type == 11; }

// The segment register image of a loaded descriptor (accessed, as a load leaves it).
constexpr Segment from_descriptor(u16 selector, u64 d)
{
    return Segment{selector, desc_base(d), desc_limit(d), desc_ar(d) | 1};
}
// A segment register in virtual-8086 mode: base selector << 4, 64 KiB, DPL 3,
// read/write data accessed (0xF3) for every register, CS included: what a VM
// entry into virtual-8086 mode requires of each of them (SDM Vol. 3C
// 26.3.1.2), so the state the emulator leaves can be entered as it is.
constexpr Segment vm86_segment(u16 selector)
{
    return Segment{selector, u64{selector} << 4, 0xffff, 0xf3u};
}

}  // namespace xeno::emu
