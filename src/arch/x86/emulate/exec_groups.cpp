// Opcode groups 1, 3 and 5 (ModRM.reg selects the operation; SDM Vol. 2
// Table A-6).
#include "arch/x86/emulate/emulator.hpp"

#include "arch/x86/vmx/vmx_arch.hpp"

namespace xeno::emu {

bool Emulator::execute_group1(u8 op)
{
    if (!decode_modrm()) return false;
    const unsigned size = op == 0x80 || op == 0x82 ? 1 : opsize;
    u64 imm = 0;
    if (op == 0x81) {
        if (!fetch_imm(size, imm)) return false;
    } else {
        if (!fetch(1, imm)) return false;
        imm = alu::sign_extend(imm, 1);
    }
    u64 a = 0;
    if (!read_rm(size, a)) return false;
    const auto aop = static_cast<alu::Op>(reg & 7);
    const u64 r = alu::binary(aop, a, imm, size, s.rflags);
    return aop == alu::Op::CMP || write_rm(size, r);
}

bool Emulator::execute_group3(unsigned size)
{
    if (!decode_modrm()) return false;
    const unsigned kind = reg & 7;
    u64 imm = 0;
    if (kind <= 1 && !fetch_imm(size, imm)) return false;
    u64 v = 0;
    if (!read_rm(size, v)) return false;
    switch (kind) {
    case 0:
    case 1: alu::logic_flags(v & imm, size, s.rflags); return true;  // TEST
    case 2: return write_rm(size, ~v);                                // NOT
    case 3: return write_rm(size, alu::neg(v, size, s.rflags));       // NEG
    case 4:
    case 5: {  // MUL, IMUL: rDX:rAX (AX for bytes) = rAX * r/m
        u64 lo = 0, hi = 0;
        alu::mul(get_gpr(RAX, size), v, size, kind == 5, lo, hi, s.rflags);
        if (size == 1) {
            set_gpr(RAX, 2, (hi << 8) | lo);
        } else {
            set_gpr(RAX, size, lo);
            set_gpr(RDX, size, hi);
        }
        return true;
    }
    default: {  // DIV, IDIV; #DE on a zero divisor or an overflowing quotient
        u64 lo = 0, hi = 0, q = 0, r = 0;
        if (size == 1) {
            lo = s.gpr[RAX] & 0xff;
            hi = (s.gpr[RAX] >> 8) & 0xff;
        } else {
            lo = get_gpr(RAX, size);
            hi = get_gpr(RDX, size);
        }
        if (!alu::div(lo, hi, v, size, kind == 7, q, r)) return fault_no_ec(vmx::vector::DE);
        if (size == 1) {
            set_gpr(RAX, 2, (r << 8) | q);
        } else {
            set_gpr(RAX, size, q);
            set_gpr(RDX, size, r);
        }
        return true;
    }
    }
}

bool Emulator::execute_group5(unsigned size)
{
    if (!decode_modrm()) return false;
    switch (reg & 7) {
    case 0:
    case 1: {
        u64 v = 0;
        if (!read_rm(size, v)) return false;
        return write_rm(size, (reg & 7) == 0 ? alu::inc(v, size, s.rflags) : alu::dec(v, size, s.rflags));
    }
    case 2:
    case 4: {  // CALL/JMP near indirect
        const unsigned sz = long64() ? 8 : opsize;
        u64 target = 0;
        if (!read_rm(sz, target)) return false;
        if ((reg & 7) == 2 && !push(next_ip(), sz)) return false;
        const unsigned saved_opsize = opsize;
        opsize = sz;
        const bool ok = jump_near(target);
        opsize = saved_opsize;
        return ok;
    }
    case 3:
    case 5: {  // CALL/JMP far indirect: m16:16, m16:32, m16:64
        if (!mem_op) return ud();
        u64 off = 0, sel = 0;
        resolve_ea();
        if (!read(ea_seg, ea, opsize, off)) return false;
        if (!read(ea_seg, (ea + opsize) & addr_mask(), 2, sel)) return false;
        return load_cs_far(static_cast<u16>(sel), off, (reg & 7) == 3, opsize);
    }
    case 6: {
        const unsigned sz = stack_opsize();
        u64 v = 0;
        return read_rm(sz, v) && push(v, sz);
    }
    default: return ud();
    }
}

}  // namespace xeno::emu
