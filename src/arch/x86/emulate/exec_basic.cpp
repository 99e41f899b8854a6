// One-byte opcodes (SDM Vol. 2 Table A-2).
#include "arch/x86/emulate/emulator.hpp"

#include "arch/x86/vmx/vmx_arch.hpp"

namespace xeno::emu {

namespace {
constexpr u64 kModifiableFlags = flag::CF | flag::PF | flag::AF | flag::ZF | flag::SF | flag::TF | flag::DF |
                                 flag::OF | flag::NT | flag::AC | flag::ID;
}

bool Emulator::execute(u8 op)
{
    opcode_ = op;
    two_byte_ = false;
    if (lock && op != 0x0f && !lock_possible(false, op)) return ud();  // 0F xx: checked in execute_0f
    const unsigned osz = opsize;

    // ALU block 00-3F: ADD OR ADC SBB AND SUB XOR CMP in six forms each.
    if (op < 0x40 && (op & 7) < 6) {
        const auto aop = static_cast<alu::Op>(op >> 3);
        const unsigned size = (op & 1) ? osz : 1;
        u64 a = 0, b = 0;
        switch (op & 7) {
        case 0:
        case 1: {
            if (!decode_modrm() || !read_rm(size, a)) return false;
            const u64 r = alu::binary(aop, a, get_reg(reg, size), size, s.rflags);
            return aop == alu::Op::CMP || write_rm(size, r);
        }
        case 2:
        case 3: {
            if (!decode_modrm() || !read_rm(size, b)) return false;
            const u64 r = alu::binary(aop, get_reg(reg, size), b, size, s.rflags);
            if (aop != alu::Op::CMP) set_reg(reg, size, r);
            return true;
        }
        default: {
            if (!fetch_imm(size, b)) return false;
            const u64 r = alu::binary(aop, get_gpr(RAX, size), b, size, s.rflags);
            if (aop != alu::Op::CMP) set_gpr(RAX, size, r);
            return true;
        }
        }
    }
    if ((op >= 0x70 && op <= 0x7f) || op == 0xeb) {  // Jcc rel8, JMP rel8
        u64 rel = 0;
        if (!fetch(1, rel)) return false;
        if (long64()) opsize = 8;
        if (op == 0xeb || alu::condition(op & 0xf, s.rflags))
            return jump_near(next_ip() + alu::sign_extend(rel, 1));
        return true;
    }
    if (op >= 0x40 && op <= 0x4f) {  // INC/DEC r (REX in 64-bit mode, handled in run())
        const unsigned r = op & 7;
        const u64 v = get_gpr(r, osz);
        set_gpr(r, osz, op < 0x48 ? alu::inc(v, osz, s.rflags) : alu::dec(v, osz, s.rflags));
        return true;
    }
    if (op >= 0x50 && op <= 0x57) return push(get_gpr((op & 7) | ((rex & 1) << 3), stack_opsize()), stack_opsize());
    if (op >= 0x58 && op <= 0x5f) {
        u64 v = 0;
        if (!pop(v, stack_opsize())) return false;
        set_gpr((op & 7) | ((rex & 1) << 3), stack_opsize(), v);
        return true;
    }
    if (op >= 0x91 && op <= 0x97) {
        const unsigned r = (op & 7) | ((rex & 1) << 3);
        const u64 a = get_gpr(RAX, osz), b = get_gpr(r, osz);
        set_gpr(RAX, osz, b);
        set_gpr(r, osz, a);
        return true;
    }
    if (op >= 0xb0 && op <= 0xbf) {  // MOV r, imm
        const unsigned r = (op & 7) | ((rex & 1) << 3);
        const unsigned size = op < 0xb8 ? 1 : osz;
        u64 imm = 0;
        if (!fetch(size, imm)) return false;  // the only 8-byte immediate (MOV r64, imm64)
        set_reg(r, size, imm);
        return true;
    }

    const bool invalid64 = long64();
    switch (op) {
    case 0x06: case 0x0e: case 0x16: case 0x1e:  // PUSH ES/CS/SS/DS
        if (invalid64) return ud();
        return push(s.sreg(static_cast<Seg>(op >> 3)).selector, osz);
    case 0x07: case 0x17: case 0x1f: {  // POP ES/SS/DS
        if (invalid64) return ud();
        u64 v = 0;
        if (!pop(v, osz) || !load_sreg(static_cast<Seg>(op >> 3), static_cast<u16>(v))) return false;
        if (op == 0x17) result.effects |= effect::MOV_SS_SHADOW;
        return true;
    }
    case 0x0f: {
        u64 op2 = 0;
        if (!fetch(1, op2)) return false;
        return execute_0f(static_cast<u8>(op2));
    }
    case 0x27: case 0x2f: case 0x37: case 0x3f: {  // DAA DAS AAA AAS: #UD in 64-bit mode
        if (invalid64) return ud();
        static constexpr alu::Bcd kinds[4] = {alu::Bcd::DAA, alu::Bcd::DAS, alu::Bcd::AAA, alu::Bcd::AAS};
        set_gpr(RAX, 2, alu::bcd_adjust(kinds[(op >> 3) & 3], static_cast<u16>(s.gpr[RAX]), s.rflags));
        return true;
    }
    case 0x60: {  // PUSHA
        if (invalid64) return ud();
        const u64 sp = get_gpr(RSP, osz);
        for (unsigned r = 0; r < 8; ++r)
            if (!push(r == RSP ? sp : get_gpr(r, osz), osz)) return false;
        return true;
    }
    case 0x61: {  // POPA: the stored SP is skipped
        if (invalid64) return ud();
        for (int r = 7; r >= 0; --r) {
            u64 v = 0;
            if (!pop(v, osz)) return false;
            if (r != RSP) set_gpr(static_cast<unsigned>(r), osz, v);
        }
        return true;
    }
    case 0x63: {  // MOVSXD in 64-bit mode; ARPL elsewhere is not emulated
        if (!invalid64) return unhandled();
        u64 v = 0;
        if (!decode_modrm() || !read_rm(4, v)) return false;
        set_gpr(reg, osz, osz == 8 ? alu::sign_extend(v, 4) : v);
        return true;
    }
    case 0x68:
    case 0x6a: {
        u64 imm = 0;
        const unsigned sz = stack_opsize();
        if (op == 0x68) {
            if (!fetch_imm(sz, imm)) return false;
        } else {
            if (!fetch(1, imm)) return false;
            imm = alu::sign_extend(imm, 1);
        }
        return push(imm, sz);
    }
    case 0x69:
    case 0x6b: {  // IMUL r, r/m, imm
        if (!decode_modrm()) return false;
        u64 imm = 0;
        if (op == 0x69) {
            if (!fetch_imm(osz, imm)) return false;
        } else {
            if (!fetch(1, imm)) return false;
            imm = alu::sign_extend(imm, 1);
        }
        u64 v = 0;
        if (!read_rm(osz, v)) return false;
        set_gpr(reg, osz, alu::imul_trunc(v, imm, osz, s.rflags));
        return true;
    }
    case 0x6c: case 0x6d: case 0x6e: case 0x6f:
    case 0xa4: case 0xa5: case 0xa6: case 0xa7:
    case 0xaa: case 0xab: case 0xac: case 0xad: case 0xae: case 0xaf:
        return execute_string(op);
    case 0x80: case 0x81: case 0x83: return execute_group1(op);
    case 0x82:
        if (invalid64) return ud();
        return execute_group1(op);
    case 0x84:
    case 0x85: {
        const unsigned size = op == 0x84 ? 1 : osz;
        u64 a = 0;
        if (!decode_modrm() || !read_rm(size, a)) return false;
        alu::logic_flags(a & get_reg(reg, size), size, s.rflags);
        return true;
    }
    case 0x86:
    case 0x87: {
        const unsigned size = op == 0x86 ? 1 : osz;
        u64 a = 0;
        if (!decode_modrm() || !read_rm(size, a)) return false;
        const u64 b = get_reg(reg, size);
        if (!write_rm(size, b)) return false;
        set_reg(reg, size, a);
        return true;
    }
    case 0x88: case 0x89: {
        const unsigned size = op == 0x88 ? 1 : osz;
        if (!decode_modrm()) return false;
        return write_rm(size, get_reg(reg, size));
    }
    case 0x8a: case 0x8b: {
        const unsigned size = op == 0x8a ? 1 : osz;
        u64 v = 0;
        if (!decode_modrm() || !read_rm(size, v)) return false;
        set_reg(reg, size, v);
        return true;
    }
    case 0x8c: {  // MOV r/m, Sreg: 16 bits to memory, zero-extended to a register
        if (!decode_modrm()) return false;
        if ((reg & 7) > 5) return ud();
        const u16 sel = s.sreg(static_cast<Seg>(reg & 7)).selector;
        if (mem_op) return write_rm(2, sel);
        set_gpr(rm, osz, sel);
        return true;
    }
    case 0x8d:
        if (!decode_modrm()) return false;
        if (!mem_op) return ud();
        resolve_ea();
        set_gpr(reg, osz, ea);
        return true;
    case 0x8e: {  // MOV Sreg, r/m
        if (!decode_modrm()) return false;
        const unsigned sr = reg & 7;
        if (sr > 5 || sr == static_cast<unsigned>(Seg::CS)) return ud();
        u64 v = 0;
        if (!read_rm(2, v) || !load_sreg(static_cast<Seg>(sr), static_cast<u16>(v))) return false;
        if (sr == static_cast<unsigned>(Seg::SS)) result.effects |= effect::MOV_SS_SHADOW;
        return true;
    }
    case 0x8f: {  // POP r/m: an RSP-based address is computed after the pop
        if (!decode_modrm()) return false;
        if ((reg & 7) != 0) return unhandled();  // XOP
        const unsigned sz = stack_opsize();
        u64 v = 0;
        if (!pop(v, sz)) return false;
        if (mem_op && ea_uses_rsp) ea = (ea + sz) & addr_mask();
        return write_rm(sz, v);
    }
    case 0x90:
        if (rex & 1) {  // XCHG r8, rAX
            const u64 a = get_gpr(RAX, osz), b = get_gpr(R8, osz);
            set_gpr(RAX, osz, b);
            set_gpr(R8, osz, a);
        }
        return true;  // NOP, PAUSE
    case 0x98:  // CBW/CWDE/CDQE
        set_gpr(RAX, osz, alu::sign_extend(get_gpr(RAX, osz / 2), osz / 2));
        return true;
    case 0x99:  // CWD/CDQ/CQO
        set_gpr(RDX, osz, (get_gpr(RAX, osz) & alu::sign_bit(osz)) ? ~u64{0} : 0);
        return true;
    case 0x9a: {  // CALL ptr16:16/32
        if (invalid64) return ud();
        u64 off = 0, sel = 0;
        if (!fetch(osz, off) || !fetch(2, sel)) return false;
        return load_cs_far(static_cast<u16>(sel), off, true, osz);
    }
    case 0x9c: {  // PUSHF: VM and RF read as 0 in the image (SDM PUSHF)
        if (mode == CpuMode::VM86 && ((s.rflags & flag::IOPL) >> 12) < 3) return gp0();
        const unsigned sz = stack_opsize();
        return push(s.rflags & ~(flag::VM | flag::RF), sz);
    }
    case 0x9d: {  // POPF (SDM POPF "Operation")
        if (mode == CpuMode::VM86 && ((s.rflags & flag::IOPL) >> 12) < 3) return gp0();
        const unsigned sz = stack_opsize();
        u64 v = 0;
        if (!pop(v, sz)) return false;
        u64 mask = kModifiableFlags;
        const unsigned iopl = static_cast<unsigned>((s.rflags & flag::IOPL) >> 12);
        const unsigned c = cpl(s);
        if (mode == CpuMode::VM86) {
            mask |= flag::IF;  // IOPL 3 here; IOPL itself stays
        } else {
            if (c == 0) mask |= flag::IOPL;
            if (c <= iopl) mask |= flag::IF;
        }
        if (sz == 2) mask &= 0xffff;
        s.rflags = (s.rflags & ~mask) | (v & mask);
        s.rflags &= ~flag::RF;
        return true;
    }
    case 0x9e: {  // SAHF
        const u64 m = flag::SF | flag::ZF | flag::AF | flag::PF | flag::CF;
        s.rflags = (s.rflags & ~m) | ((s.gpr[RAX] >> 8) & m);
        return true;
    }
    case 0x9f:  // LAHF
        s.gpr[RAX] = (s.gpr[RAX] & ~u64{0xff00}) | (((s.rflags & 0xd5) | 2) << 8);
        return true;
    case 0xa0: case 0xa1: case 0xa2: case 0xa3: {  // MOV moffs
        const unsigned size = (op & 1) ? osz : 1;
        u64 off = 0;
        if (!fetch(addrsize, off)) return false;
        const Seg sg = data_seg(Seg::DS);
        if (op <= 0xa1) {
            u64 v = 0;
            if (!read(sg, off, size, v)) return false;
            set_gpr(RAX, size, v);
            return true;
        }
        return write(sg, off, size, get_gpr(RAX, size));
    }
    case 0xa8:
    case 0xa9: {
        const unsigned size = op == 0xa8 ? 1 : osz;
        u64 imm = 0;
        if (!fetch_imm(size, imm)) return false;
        alu::logic_flags(get_gpr(RAX, size) & imm, size, s.rflags);
        return true;
    }
    case 0xc0: case 0xc1: case 0xd0: case 0xd1: case 0xd2: case 0xd3: {  // group 2
        const unsigned size = (op & 1) ? osz : 1;
        if (!decode_modrm()) return false;
        u64 count = 1;
        if (op <= 0xc1 && !fetch(1, count)) return false;
        if (op >= 0xd2) count = s.gpr[RCX] & 0xff;
        u64 v = 0;
        if (!read_rm(size, v)) return false;
        const u64 r = alu::shift(reg & 7, v, count, size, s.rflags);
        return write_rm(size, r);
    }
    case 0xc2:
    case 0xc3: {  // RET near [imm16]
        u64 imm = 0;
        if (op == 0xc2 && !fetch(2, imm)) return false;
        const unsigned sz = long64() ? 8 : osz;
        u64 target = 0;
        if (!pop(target, sz)) return false;
        opsize = sz;
        if (!jump_near(target)) return false;
        const u64 m = alu::size_mask(stack_size());
        s.gpr[RSP] = (s.gpr[RSP] & ~m) | ((s.gpr[RSP] + imm) & m);
        return true;
    }
    case 0xc4:
    case 0xc5: {  // LES, LDS (VEX in 64-bit mode)
        if (invalid64) return unhandled();
        if (!decode_modrm()) return false;
        if (!mem_op) return unhandled();
        u64 off = 0, sel = 0;
        if (!read(ea_seg, ea, osz, off) || !read(ea_seg, (ea + osz) & addr_mask(), 2, sel)) return false;
        if (!load_sreg(op == 0xc4 ? Seg::ES : Seg::DS, static_cast<u16>(sel))) return false;
        set_gpr(reg, osz, off);
        return true;
    }
    case 0xc6:
    case 0xc7: {
        const unsigned size = op == 0xc6 ? 1 : osz;
        if (!decode_modrm()) return false;
        if ((reg & 7) != 0) return unhandled();
        u64 imm = 0;
        if (!fetch_imm(size, imm)) return false;
        return write_rm(size, imm);
    }
    case 0xc8: {  // ENTER imm16, imm8 (SDM ENTER "Operation")
        u64 alloc = 0, level = 0;
        if (!fetch(2, alloc) || !fetch(1, level)) return false;
        level &= 31;
        const unsigned sz = stack_opsize();
        const u64 m = alu::size_mask(stack_size());
        if (!push(get_gpr(RBP, sz), sz)) return false;
        const u64 frame = s.gpr[RSP] & m;
        u64 bp = s.gpr[RBP] & m;
        if (level > 0) {
            for (u64 i = 1; i < level; ++i) {
                bp = (bp - sz) & m;
                u64 v = 0;
                if (!read(Seg::SS, bp, sz, v) || !push(v, sz)) return false;
            }
            if (!push(frame, sz)) return false;
        }
        set_gpr(RBP, sz, frame);
        s.gpr[RSP] = (s.gpr[RSP] & ~m) | ((s.gpr[RSP] - alloc) & m);
        return true;
    }
    case 0xc9: {  // LEAVE
        const u64 m = alu::size_mask(stack_size());
        const u64 old_sp = s.gpr[RSP];
        s.gpr[RSP] = (s.gpr[RSP] & ~m) | (s.gpr[RBP] & m);
        u64 v = 0;
        if (!pop(v, stack_opsize())) {
            s.gpr[RSP] = old_sp;
            return false;
        }
        set_gpr(RBP, stack_opsize(), v);
        return true;
    }
    case 0xca:
    case 0xcb: {
        u64 imm = 0;
        if (op == 0xca && !fetch(2, imm)) return false;
        return far_return(osz, static_cast<u16>(imm));
    }
    case 0xcc: return deliver(vmx::vector::BP, false, 0, next_ip(), true);
    case 0xcd: {
        u64 n = 0;
        if (!fetch(1, n)) return false;
        // vm86 with IOPL < 3: #GP(0) to the monitor (SDM 3A 20.2.7; no VME here).
        if (mode == CpuMode::VM86 && ((s.rflags & flag::IOPL) >> 12) < 3) return gp0();
        return deliver(static_cast<u8>(n), false, 0, next_ip(), true);
    }
    case 0xce:
        if (invalid64) return ud();
        if (!(s.rflags & flag::OF)) return true;
        return deliver(vmx::vector::OF, false, 0, next_ip(), true);
    case 0xcf: return iret(osz);
    case 0xd4:
    case 0xd5: {  // AAM imm8, AAD imm8 (any base, not only 10): #UD in 64-bit mode
        if (invalid64) return ud();
        u64 base = 0;
        if (!fetch(1, base)) return false;
        const u16 ax = static_cast<u16>(s.gpr[RAX]);
        u16 out = 0;
        if (op == 0xd5) {
            out = alu::aad(ax, static_cast<u8>(base), s.rflags);
        } else if (!alu::aam(ax, static_cast<u8>(base), out, s.rflags)) {
            return fault_no_ec(vmx::vector::DE);
        }
        set_gpr(RAX, 2, out);
        return true;
    }
    case 0xd7: {  // XLAT
        u64 v = 0;
        if (!read(data_seg(Seg::DS), (s.gpr[RBX] + (s.gpr[RAX] & 0xff)) & addr_mask(), 1, v)) return false;
        set_gpr(RAX, 1, v);
        return true;
    }
    case 0xe0: case 0xe1: case 0xe2: case 0xe3: {  // LOOPNE LOOPE LOOP JrCXZ: count width = address size
        u64 rel = 0;
        if (!fetch(1, rel)) return false;
        u64 count = get_gpr(RCX, addrsize);
        bool take = false;
        if (op == 0xe3) {
            take = count == 0;
        } else {
            count = (count - 1) & addr_mask();
            set_gpr(RCX, addrsize, count);
            take = count != 0;
            if (op == 0xe0) take = take && !(s.rflags & flag::ZF);
            if (op == 0xe1) take = take && (s.rflags & flag::ZF);
        }
        if (long64()) opsize = 8;
        return take ? jump_near(next_ip() + alu::sign_extend(rel, 1)) : true;
    }
    case 0xe4: case 0xe5: case 0xec: case 0xed: {  // IN
        u64 port = 0;
        if (op <= 0xe5) {
            if (!fetch(1, port)) return false;
        } else {
            port = s.gpr[RDX] & 0xffff;
        }
        const unsigned size = (op & 1) ? (osz == 2 ? 2 : 4) : 1;
        u64 v = 0;
        if (!port_in(static_cast<u16>(port), size, v)) return false;
        set_gpr(RAX, size, v);
        return true;
    }
    case 0xe6: case 0xe7: case 0xee: case 0xef: {  // OUT
        u64 port = 0;
        if (op <= 0xe7) {
            if (!fetch(1, port)) return false;
        } else {
            port = s.gpr[RDX] & 0xffff;
        }
        const unsigned size = (op & 1) ? (osz == 2 ? 2 : 4) : 1;
        return port_out(static_cast<u16>(port), size, get_gpr(RAX, size));
    }
    case 0xe8:
    case 0xe9: {  // CALL/JMP rel16/32
        const unsigned sz = long64() ? 8 : osz;
        u64 rel = 0;
        if (!fetch(sz == 2 ? 2 : 4, rel)) return false;
        rel = alu::sign_extend(rel, sz == 2 ? 2 : 4);
        const u64 ret = next_ip();
        opsize = sz;
        if (!jump_near(ret + rel)) return false;
        return op == 0xe9 || push(ret, sz);
    }
    case 0xea: {  // JMP ptr16:16/32
        if (invalid64) return ud();
        u64 off = 0, sel = 0;
        if (!fetch(osz, off) || !fetch(2, sel)) return false;
        return load_cs_far(static_cast<u16>(sel), off, false, osz);
    }
    case 0xf4:
        if (cpl(s) != 0) return gp0();
        result.effects |= effect::HALT;
        return true;
    case 0xf5: s.rflags ^= flag::CF; return true;
    case 0xf6: return execute_group3(1);
    case 0xf7: return execute_group3(osz);
    case 0xf8: s.rflags &= ~flag::CF; return true;
    case 0xf9: s.rflags |= flag::CF; return true;
    case 0xfa:
    case 0xfb: {  // CLI/STI: CPL <= IOPL outside real mode (SDM CLI/STI; VME/PVI not emulated)
        const unsigned iopl = static_cast<unsigned>((s.rflags & flag::IOPL) >> 12);
        if (mode != CpuMode::REAL && cpl(s) > iopl) return gp0();
        if (op == 0xfa) {
            s.rflags &= ~flag::IF;
        } else {
            if (!(s.rflags & flag::IF)) result.effects |= effect::STI_SHADOW;
            s.rflags |= flag::IF;
        }
        return true;
    }
    case 0xfc: s.rflags &= ~flag::DF; return true;
    case 0xfd: s.rflags |= flag::DF; return true;
    case 0xfe: {
        if (!decode_modrm()) return false;
        if ((reg & 7) > 1) return ud();
        u64 v = 0;
        if (!read_rm(1, v)) return false;
        return write_rm(1, (reg & 7) == 0 ? alu::inc(v, 1, s.rflags) : alu::dec(v, 1, s.rflags));
    }
    case 0xff: return execute_group5(osz);
    default: return unhandled();
    }
}

}  // namespace xeno::emu
