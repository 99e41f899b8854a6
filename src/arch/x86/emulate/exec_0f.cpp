// Two-byte opcodes 0F xx (SDM Vol. 2 Table A-3).
#include "arch/x86/emulate/emulator.hpp"

#include "arch/x86/vmx/vmx_arch.hpp"

namespace xeno::emu {

bool Emulator::execute_bt(unsigned kind, bool imm_form)
{
    // kind: 0 BT, 1 BTS, 2 BTR, 3 BTC.
    const unsigned size = opsize;
    const unsigned bits = size * 8;
    u64 offset = 0;
    if (imm_form) {
        if (!fetch(1, offset)) return false;
        offset &= bits - 1;
    } else {
        offset = get_gpr(reg, size);
    }
    u64 v = 0;
    if (mem_op && !imm_form) {
        // A register bit offset addresses the whole bit string: the operand
        // moves by the signed offset / operand width (SDM BT "Operation").
        const i64 so = static_cast<i64>(alu::sign_extend(offset, size));
        const i64 unit = so >= 0 ? so / static_cast<i64>(bits)
                                 : -((-(so + 1)) / static_cast<i64>(bits)) - 1;  // floor division
        resolve_ea();
        ea = (ea + static_cast<u64>(unit * static_cast<i64>(size))) & addr_mask();
        offset = static_cast<u64>(so - unit * static_cast<i64>(bits));
    } else {
        offset &= bits - 1;
    }
    if (!read_rm(size, v)) return false;
    const bool old = (v >> offset) & 1;
    s.rflags = (s.rflags & ~flag::CF) | (old ? flag::CF : 0);
    switch (kind) {
    case 0: return true;
    case 1: v |= u64{1} << offset; break;
    case 2: v &= ~(u64{1} << offset); break;
    default: v ^= u64{1} << offset; break;
    }
    return write_rm(size, v);
}

bool Emulator::cmpxchg8b_16b()
{
    // 0F C7 /1: CMPXCHG8B m64, or CMPXCHG16B m128 with REX.W (SDM CMPXCHG8B/CMPXCHG16B).
    if ((reg & 7) != 1) return unhandled();  // RDRAND, RDSEED, VMPTRLD, ...
    if (!mem_op) return ud();
    resolve_ea();
    const bool wide = rex & 8;
    u64 lo = 0, hi = 0;
    if (wide) {
        u64 la = 0;
        if (!linear(ea_seg, ea, 16, AccessKind::WRITE, la)) return false;
        if (la & 15) return gp0();  // CMPXCHG16B needs a 16-byte aligned operand
        if (!read(ea_seg, ea, 8, lo) || !read(ea_seg, (ea + 8) & addr_mask(), 8, hi)) return false;
    } else {
        u64 v = 0;
        if (!read(ea_seg, ea, 8, v)) return false;
        lo = v & 0xffffffff;
        hi = v >> 32;
    }
    const unsigned half = wide ? 8 : 4;
    const bool equal = lo == get_gpr(RAX, half) && hi == get_gpr(RDX, half);
    // The destination gets a write cycle either way: the old value when the
    // comparison fails (SDM: "written back if the comparison fails").
    const u64 new_lo = equal ? get_gpr(RBX, half) : lo, new_hi = equal ? get_gpr(RCX, half) : hi;
    if (wide) {
        if (!write(ea_seg, ea, 8, new_lo) || !write(ea_seg, (ea + 8) & addr_mask(), 8, new_hi)) return false;
    } else if (!write(ea_seg, ea, 8, new_lo | (new_hi << 32))) {
        return false;
    }
    if (equal) {
        s.rflags |= flag::ZF;
    } else {
        s.rflags &= ~flag::ZF;
        set_gpr(RAX, half, lo);  // a 32-bit write: zero-extends in 64-bit mode
        set_gpr(RDX, half, hi);
    }
    return true;
}

bool Emulator::write_cr0(u64 v)
{
    // SDM Vol. 3A 2.5 and MOV CR "Protected Mode Exceptions".
    if (v >> 32) return gp0();
    if ((v & cr0::PG) && !(v & cr0::PE)) return gp0();
    if ((v & cr0::NW) && !(v & cr0::CD)) return gp0();
    v |= cr0::ET;  // hardwired to 1 since the P6
    const u64 old = s.cr0;
    if (!(old & cr0::PG) && (v & cr0::PG) && (s.efer & efer::LME)) {
        // Activating IA-32e mode (SDM 3A 10.8.5).
        if (!(s.cr4 & (1u << 5)) || (s.sreg(Seg::CS).ar & vmx::ar::L)) return gp0();
        s.efer |= efer::LMA;
    }
    if ((old & cr0::PG) && !(v & cr0::PG) && (s.efer & efer::LMA)) {
        if (long64()) return gp0();
        s.efer &= ~efer::LMA;
    }
    if (ops().control_write && !ops().control_write(ops().ctx, 0, v)) return gp0();
    if (v != old) result.effects |= effect::MODE_CHANGE;
    s.cr0 = v;
    return true;
}

bool Emulator::write_cr(unsigned n, u64 v)
{
    if (!long64()) v &= 0xffffffff;
    switch (n) {
    case 0: return write_cr0(v);
    case 2:
        if (ops().control_write && !ops().control_write(ops().ctx, 2, v)) return gp0();
        s.cr2 = v;
        return true;
    case 3:
        if (ops().control_write && !ops().control_write(ops().ctx, 3, v)) return gp0();
        s.cr3 = v;
        result.effects |= effect::CR3_WRITE;
        return true;
    case 4:
        if (v >> 32) return gp0();
        if ((s.efer & efer::LMA) && !(v & (1u << 5))) return gp0();  // PAE cannot be cleared in IA-32e mode
        if (ops().control_write && !ops().control_write(ops().ctx, 4, v)) return gp0();
        if (v != s.cr4) result.effects |= effect::MODE_CHANGE;
        s.cr4 = v;
        return true;
    case 8:
        if (v >> 4) return gp0();
        if (ops().control_write && !ops().control_write(ops().ctx, 8, v)) return gp0();
        s.cr8 = v;
        return true;
    default: return ud();
    }
}

bool Emulator::mov_cr(bool to_cr)
{
    // MOV CR: the mod field is ignored, operands are always registers (SDM MOV CR).
    u64 b = 0;
    if (!fetch(1, b)) return false;
    const unsigned n = static_cast<unsigned>(((b >> 3) & 7) | ((rex & 4) << 1));
    const unsigned r = static_cast<unsigned>((b & 7) | ((rex & 1) << 3));
    if (n != 0 && n != 2 && n != 3 && n != 4 && n != 8) return ud();
    if (cpl(s) != 0) return gp0();
    const unsigned size = long64() ? 8 : 4;
    if (to_cr) return write_cr(n, get_gpr(r, size));
    const u64 v = n == 0 ? s.cr0 : n == 2 ? s.cr2 : n == 3 ? s.cr3 : n == 4 ? s.cr4 : s.cr8;
    set_gpr(r, size, v);
    return true;
}

bool Emulator::mov_dr(bool to_dr)
{
    u64 b = 0;
    if (!fetch(1, b)) return false;
    unsigned n = static_cast<unsigned>((b >> 3) & 7);
    const unsigned r = static_cast<unsigned>((b & 7) | ((rex & 1) << 3));
    if (rex & 4) return ud();  // DR8-15 do not exist
    if (n == 4 || n == 5) {
        if (s.cr4 & (1u << 3)) return ud();  // CR4.DE: DR4/DR5 are reserved
        n += 2;
    }
    if (cpl(s) != 0) return gp0();
    const unsigned size = long64() ? 8 : 4;
    if (!to_dr) {
        set_gpr(r, size, s.dr[n]);
        return true;
    }
    const u64 v = get_gpr(r, size);
    if ((n == 6 || n == 7) && (v >> 32)) return gp0();
    s.dr[n] = v;
    return true;
}

bool Emulator::execute_system_0f01()
{
    if (!decode_modrm()) return false;
    const unsigned kind = reg & 7;
    if (!mem_op && kind != 4 && kind != 6) return unhandled();  // VMCALL, XGETBV, SWAPGS, ...
    switch (kind) {
    case 0:
    case 1: {  // SGDT/SIDT: 16-bit limit, then a 32-bit (64-bit in 64-bit mode) base
        const DescriptorTable& t = kind == 0 ? s.gdtr : s.idtr;
        resolve_ea();
        if (!write(ea_seg, ea, 2, t.limit)) return false;
        return write(ea_seg, (ea + 2) & addr_mask(), long64() ? 8 : 4, long64() ? t.base : t.base & 0xffffffff);
    }
    case 2:
    case 3: {  // LGDT/LIDT: with a 16-bit operand only 24 bits of base (SDM LGDT)
        if (cpl(s) != 0) return gp0();
        u64 limit = 0, base = 0;
        resolve_ea();
        if (!read(ea_seg, ea, 2, limit)) return false;
        if (!read(ea_seg, (ea + 2) & addr_mask(), long64() ? 8 : 4, base)) return false;
        if (!long64() && opsize == 2) base &= 0xffffff;
        if (long64() && static_cast<u64>(static_cast<i64>(base << 16) >> 16) != base) return gp0();
        DescriptorTable& t = kind == 2 ? s.gdtr : s.idtr;
        t.base = base;
        t.limit = static_cast<u32>(limit);
        result.effects |= effect::DESC_TABLE;
        return true;
    }
    case 4:  // SMSW: 16 bits to memory, the operand size to a register
        if (mem_op) return write_rm(2, s.cr0 & 0xffff);
        set_gpr(rm, opsize, s.cr0 & alu::size_mask(opsize));
        return true;
    case 6: {  // LMSW: loads PE, MP, EM, TS; cannot clear PE (SDM LMSW)
        if (cpl(s) != 0) return gp0();
        u64 v = 0;
        if (!read_rm(2, v)) return false;
        const u64 nv = (s.cr0 & ~u64{0xe}) | (v & 0xf) | (s.cr0 & cr0::PE);
        return write_cr0(nv);
    }
    default: return unhandled();
    }
}

bool Emulator::execute_system_0f00()
{
    // SLDT, STR, LLDT, LTR: #UD outside protected mode (SDM LLDT/LTR).
    if (mode == CpuMode::REAL || mode == CpuMode::VM86) return ud();
    if (!decode_modrm()) return false;
    const unsigned kind = reg & 7;
    switch (kind) {
    case 0:
    case 1: {
        const u16 sel = kind == 0 ? s.ldtr.selector : s.tr.selector;
        if (mem_op) return write_rm(2, sel);
        set_gpr(rm, opsize, sel);
        return true;
    }
    case 2:
    case 3: {
        if (cpl(s) != 0) return gp0();
        u64 sel = 0;
        if (!read_rm(2, sel)) return false;
        return load_system_segment(kind == 3, static_cast<u16>(sel));
    }
    default: return unhandled();  // VERR, VERW
    }
}

bool Emulator::execute_0f(u8 op)
{
    opcode_ = op;
    two_byte_ = true;
    if (lock && !lock_possible(true, op)) return ud();
    const unsigned osz = opsize;
    if (op >= 0x40 && op <= 0x4f) {  // CMOVcc: the source is read either way
        u64 v = 0;
        if (!decode_modrm() || !read_rm(osz, v)) return false;
        set_gpr(reg, osz, alu::condition(op & 0xf, s.rflags) ? v : get_gpr(reg, osz));
        return true;
    }
    if (op >= 0x80 && op <= 0x8f) {  // Jcc rel16/32
        const unsigned sz = long64() ? 8 : osz;
        u64 rel = 0;
        if (!fetch(sz == 2 ? 2 : 4, rel)) return false;
        opsize = sz;
        if (alu::condition(op & 0xf, s.rflags)) return jump_near(next_ip() + alu::sign_extend(rel, sz == 2 ? 2 : 4));
        return true;
    }
    if (op >= 0x90 && op <= 0x9f) {  // SETcc
        if (!decode_modrm()) return false;
        return write_rm(1, alu::condition(op & 0xf, s.rflags) ? 1 : 0);
    }
    if (op >= 0xc8) {  // BSWAP
        const unsigned r = (op & 7) | ((rex & 1) << 3);
        const u64 v = get_gpr(r, osz);
        if (osz == 2) return unhandled();  // undefined result
        set_gpr(r, osz, osz == 8 ? __builtin_bswap64(v) : __builtin_bswap32(static_cast<u32>(v)));
        return true;
    }
    switch (op) {
    case 0x00: return execute_system_0f00();
    case 0x01: return execute_system_0f01();
    case 0x06:  // CLTS
        if (cpl(s) != 0) return gp0();
        return write_cr0(s.cr0 & ~cr0::TS);
    case 0x08: case 0x09:  // INVD, WBINVD: no effect a guest can observe (exit_misc.cpp)
        return cpl(s) != 0 ? gp0() : true;
    case 0x33:  // RDPMC: no counters exist (the guest's CPUID leaf 0AH), #GP(0) for any (exit_misc.cpp)
        return gp0();
    case 0x20: return mov_cr(false);
    case 0x22: return mov_cr(true);
    case 0x21: return mov_dr(false);
    case 0x23: return mov_dr(true);
    case 0xa0: case 0xa8:  // PUSH FS/GS
        return push(s.sreg(op == 0xa0 ? Seg::FS : Seg::GS).selector, stack_opsize());
    case 0xa1: case 0xa9: {  // POP FS/GS
        u64 v = 0;
        return pop(v, stack_opsize()) && load_sreg(op == 0xa1 ? Seg::FS : Seg::GS, static_cast<u16>(v));
    }
    case 0xa3: return decode_modrm() && execute_bt(0, false);
    case 0xab: return decode_modrm() && execute_bt(1, false);
    case 0xb3: return decode_modrm() && execute_bt(2, false);
    case 0xbb: return decode_modrm() && execute_bt(3, false);
    case 0xba:
        if (!decode_modrm()) return false;
        if ((reg & 7) < 4) return ud();
        return execute_bt((reg & 7) - 4, true);
    case 0xa4: case 0xa5: case 0xac: case 0xad: {  // SHLD/SHRD r/m, reg, imm8/CL
        if (!decode_modrm()) return false;
        u64 count = 0;
        if (!(op & 1)) {
            if (!fetch(1, count)) return false;
        } else {
            count = s.gpr[RCX] & 0xff;
        }
        u64 dst = 0;
        if (!read_rm(osz, dst)) return false;
        // Written back even for a count of 0, as for the group 2 shifts (a
        // 32-bit register destination is zero-extended either way).
        return write_rm(osz, alu::double_shift(op >= 0xac, dst, get_gpr(reg, osz), count, osz, s.rflags));
    }
    case 0xbc: case 0xbd: {  // BSF, BSR
        // F3 0F BC/BD are TZCNT/LZCNT on BMI/ABM processors and BSF/BSR on
        // older ones: which one the guest expects depends on its CPUID.
        if (rep) return unhandled();
        u64 src = 0;
        if (!decode_modrm() || !read_rm(osz, src)) return false;
        u64 index = get_gpr(reg, osz);  // kept when the source is 0 (see alu.hpp)
        alu::bit_scan(op == 0xbd, src, osz, index, s.rflags);
        set_gpr(reg, osz, index);
        return true;
    }
    case 0xc7: return decode_modrm() && cmpxchg8b_16b();
    case 0xaf: {
        u64 v = 0;
        if (!decode_modrm() || !read_rm(osz, v)) return false;
        set_gpr(reg, osz, alu::imul_trunc(get_gpr(reg, osz), v, osz, s.rflags));
        return true;
    }
    case 0xb0:
    case 0xb1: {  // CMPXCHG: compare the accumulator with the destination
        const unsigned size = op == 0xb0 ? 1 : osz;
        u64 dst = 0;
        if (!decode_modrm() || !read_rm(size, dst)) return false;
        const u64 acc = get_gpr(RAX, size);
        alu::binary(alu::Op::CMP, acc, dst, size, s.rflags);
        if (acc == dst) return write_rm(size, get_reg(reg, size));
        // The processor writes the destination back even when unequal (SDM
        // CMPXCHG), which zero-extends a 32-bit register destination.
        if (!write_rm(size, dst)) return false;
        set_gpr(RAX, size, dst);
        return true;
    }
    case 0xb2: case 0xb4: case 0xb5: {  // LSS, LFS, LGS
        if (!decode_modrm()) return false;
        if (!mem_op) return ud();
        resolve_ea();
        u64 off = 0, sel = 0;
        if (!read(ea_seg, ea, osz, off) || !read(ea_seg, (ea + osz) & addr_mask(), 2, sel)) return false;
        const Seg target = op == 0xb2 ? Seg::SS : op == 0xb4 ? Seg::FS : Seg::GS;
        if (!load_sreg(target, static_cast<u16>(sel))) return false;
        set_gpr(reg, osz, off);
        if (target == Seg::SS) result.effects |= effect::MOV_SS_SHADOW;
        return true;
    }
    case 0xb6: case 0xb7: case 0xbe: case 0xbf: {  // MOVZX, MOVSX
        const unsigned src = (op & 1) ? 2 : 1;
        u64 v = 0;
        if (!decode_modrm() || !read_rm(src, v)) return false;
        set_gpr(reg, osz, op >= 0xbe ? alu::sign_extend(v, src) : v);
        return true;
    }
    case 0xc0:
    case 0xc1: {  // XADD
        const unsigned size = op == 0xc0 ? 1 : osz;
        u64 dst = 0;
        if (!decode_modrm() || !read_rm(size, dst)) return false;
        const u64 src = get_reg(reg, size);
        const u64 sum = alu::binary(alu::Op::ADD, dst, src, size, s.rflags);
        set_reg(reg, size, dst);
        return write_rm(size, sum);
    }
    default: return unhandled();
    }
}

}  // namespace xeno::emu
