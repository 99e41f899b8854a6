// x86 instruction lengths from the opcode maps (SDM Vol. 2D, Appendix A).
#include "sim/vmx-model/engine/decode.hpp"

#include "arch/x86/vmx/vmx_arch.hpp"

namespace xeno::sim {
namespace {

// One-byte opcodes that take a ModRM byte (Table A-2).
bool modrm_1(u8 op, unsigned mode)
{
    if (op < 0x40) return (op & 7) < 4;
    if (op == 0x62 || op == 0x63 || op == 0x69 || op == 0x6b) return true;
    if (op >= 0x80 && op <= 0x8f) return true;
    if (op == 0xc0 || op == 0xc1 || op == 0xc6 || op == 0xc7) return true;
    if ((op == 0xc4 || op == 0xc5) && mode != 64) return true;
    if (op >= 0xd0 && op <= 0xd3) return true;
    if (op >= 0xd8 && op <= 0xdf) return true;
    if (op == 0xf6 || op == 0xf7 || op == 0xfe || op == 0xff) return true;
    return false;
}

// Two-byte (0F xx) opcodes WITHOUT a ModRM byte (Table A-3).
bool no_modrm_2(u8 op)
{
    switch (op) {
    case 0x05: case 0x06: case 0x07: case 0x08: case 0x09: case 0x0b: case 0x0e:
    case 0x30: case 0x31: case 0x32: case 0x33: case 0x34: case 0x35: case 0x37:
    case 0x77: case 0xa0: case 0xa1: case 0xa2: case 0xa8: case 0xa9: case 0xaa:
        return true;
    default:
        break;
    }
    if (op >= 0x80 && op <= 0x8f) return true;
    if (op >= 0xc8 && op <= 0xcf) return true;
    return false;
}

}  // namespace

DecodedInsn decode_insn(const u8* b, usize avail, unsigned mode)
{
    DecodedInsn d;
    d.mode = static_cast<u8>(mode);
    usize i = 0;
    bool opsize = false, addrsize = false;
    auto need = [&](usize n) { return i + n <= avail && i + n <= 15; };
    for (;;) {
        if (!need(1)) return d;
        u8 p = b[i];
        if (p == 0x66) opsize = true;
        else if (p == 0x67) addrsize = true;
        else if (p == 0xf2 || p == 0xf3) { d.rep = true; }
        else if (p == 0xf0) {}
        else if (p == 0x26) d.segment = 0;
        else if (p == 0x2e) d.segment = 1;
        else if (p == 0x36) d.segment = 2;
        else if (p == 0x3e) d.segment = 3;
        else if (p == 0x64) d.segment = 4;
        else if (p == 0x65) d.segment = 5;
        else break;
        ++i;
    }
    const bool f3 = i > 0 && [&] { for (usize k = 0; k < i; ++k) if (b[k] == 0xf3) return true; return false; }();
    if (mode == 64 && need(1) && (b[i] & 0xf0) == 0x40) d.rex = b[i++];
    d.opsize = opsize;
    d.addrsize = addrsize;
    const bool rex_w = d.rex & 8;
    const unsigned osz = mode == 64 ? (rex_w ? 8 : (opsize ? 2 : 4)) : ((mode == 32) != opsize ? 4 : 2);
    const unsigned asz = mode == 64 ? (addrsize ? 4 : 8) : ((mode == 32) != addrsize ? 4 : 2);
    const unsigned immz = osz == 2 ? 2 : 4;

    if (!need(1)) return d;
    u8 op = b[i++];
    bool has_modrm = false;
    unsigned imm = 0;
    u8 map = 1;
    if (op == 0x0f) {
        if (!need(1)) return d;
        op = b[i++];
        d.two_byte = true;
        map = 2;
        if (op == 0x38 || op == 0x3a) {
            if (!need(1)) return d;
            map = op == 0x38 ? 3 : 4;
            op = b[i++];
            has_modrm = true;
            if (map == 4) imm = 1;
        } else {
            has_modrm = !no_modrm_2(op);
            if ((op >= 0x70 && op <= 0x73) || op == 0xa4 || op == 0xac || op == 0xba || op == 0xc2 ||
                (op >= 0xc4 && op <= 0xc6) || op == 0x0f)
                imm = 1;
            if (op >= 0x80 && op <= 0x8f) imm = immz;
        }
    } else {
        has_modrm = modrm_1(op, mode);
        switch (op) {
        case 0x04: case 0x0c: case 0x14: case 0x1c: case 0x24: case 0x2c: case 0x34: case 0x3c:
        case 0x6a: case 0x6b: case 0x80: case 0x82: case 0x83: case 0xa8: case 0xc0: case 0xc1:
        case 0xc6: case 0xcd: case 0xd4: case 0xd5: case 0xeb:
            imm = 1;
            break;
        case 0x05: case 0x0d: case 0x15: case 0x1d: case 0x25: case 0x2d: case 0x35: case 0x3d:
        case 0x68: case 0x69: case 0x81: case 0xa9: case 0xc7: case 0xe8: case 0xe9:
            imm = immz;
            break;
        case 0xc2: case 0xca: imm = 2; break;
        case 0xc8: imm = 3; break;
        case 0x9a: case 0xea: imm = immz + 2; break;
        case 0xa0: case 0xa1: case 0xa2: case 0xa3: imm = asz; break;
        default:
            if ((op >= 0x70 && op <= 0x7f) || (op >= 0xb0 && op <= 0xb7) || (op >= 0xe0 && op <= 0xe7)) imm = 1;
            if (op >= 0xb8 && op <= 0xbf) imm = osz == 8 ? 8 : immz;
            break;
        }
    }
    d.opcode = op;
    if (has_modrm) {
        if (!need(1)) return d;
        d.modrm_pos = static_cast<u8>(i);
        u8 modrm = b[i++];
        d.modrm = modrm;
        d.has_modrm = true;
        unsigned mod = modrm >> 6, rm = modrm & 7, reg = (modrm >> 3) & 7;
        if (map == 1 && (op == 0xf6 || op == 0xf7) && reg < 2) imm = op == 0xf6 ? 1 : immz;
        if (mod != 3) {
            if (asz == 2) {
                if (mod == 1) i += 1;
                else if (mod == 2 || (mod == 0 && rm == 6)) i += 2;
            } else {
                if (rm == 4) {
                    if (!need(1)) return d;
                    u8 sib = b[i++];
                    if (mod == 0 && (sib & 7) == 5) i += 4;
                }
                if (mod == 1) i += 1;
                else if (mod == 2 || (mod == 0 && rm == 5)) i += 4;
            }
        }
    }
    if (imm && i < avail) d.imm8 = b[i];
    i += imm;
    if (i > avail || i > 15) return d;
    d.length = static_cast<u8>(i);

    using vmx::ExitReason;
    auto vmx_kind = [&](ExitReason r) { d.kind = InsnKind::VMX; d.vmx_exit = static_cast<u8>(r); };
    const unsigned reg = (d.modrm >> 3) & 7, mod = d.modrm >> 6, rm = d.modrm & 7;
    if (map == 1) {
        switch (op) {
        case 0xe4: case 0xe5: case 0xe6: case 0xe7: case 0xec: case 0xed: case 0xee: case 0xef:
            d.kind = InsnKind::IO; break;
        case 0x6c: case 0x6d: case 0x6e: case 0x6f: d.kind = InsnKind::IO_STRING; break;
        case 0xf4: d.kind = InsnKind::HLT; break;
        case 0xcc: d.kind = InsnKind::INT3; break;
        case 0xcd: d.kind = InsnKind::INT_N; break;
        case 0xce: if (mode != 64) d.kind = InsnKind::INTO; break;
        case 0xf1: d.kind = InsnKind::INT1; break;
        case 0x90: if (f3) d.kind = InsnKind::PAUSE; break;
        case 0xcf: d.kind = InsnKind::IRET; break;
        case 0xfb: d.kind = InsnKind::STI; break;
        case 0x9d: d.kind = InsnKind::POPF; break;
        case 0x17: if (mode != 64) d.kind = InsnKind::MOV_SS; break;  // POP SS
        case 0x8e: if (reg == 2) d.kind = InsnKind::MOV_SS; break;
        case 0xea: case 0x9a: if (mode != 64) d.kind = InsnKind::FAR_JMP_CALL; break;
        case 0xff: if (mod != 3 && (reg == 3 || reg == 5)) d.kind = InsnKind::FAR_JMP_CALL; break;
        default: break;
        }
    } else if (map == 2) {
        switch (op) {
        case 0xa2: d.kind = InsnKind::CPUID; break;
        case 0x05: d.kind = InsnKind::SYSCALL; break;
        case 0x34: d.kind = InsnKind::SYSENTER; break;
        case 0x31: d.kind = InsnKind::RDTSC; break;
        case 0x32: d.kind = InsnKind::RDMSR; break;
        case 0x30: d.kind = InsnKind::WRMSR; break;
        case 0x33: d.kind = InsnKind::RDPMC; break;
        case 0x37: d.kind = InsnKind::GETSEC; break;
        case 0x08: d.kind = InsnKind::INVD; break;
        case 0x09: d.kind = InsnKind::WBINVD; break;
        case 0x06: d.kind = InsnKind::CLTS; break;
        case 0x20: d.kind = InsnKind::MOV_FROM_CR; break;
        case 0x22: d.kind = InsnKind::MOV_TO_CR; break;
        case 0x21: case 0x23: d.kind = InsnKind::MOV_DR; break;
        case 0x00: if (reg < 4) d.kind = InsnKind::DESC_TABLE; break;
        case 0x78: if (!opsize) vmx_kind(ExitReason::VMREAD); break;
        case 0x79: if (!opsize) vmx_kind(ExitReason::VMWRITE); break;
        case 0xc7:
            if (mod != 3 && reg == 6) vmx_kind(f3 ? ExitReason::VMXON : opsize ? ExitReason::VMCLEAR : ExitReason::VMPTRLD);
            else if (mod != 3 && reg == 7 && !f3 && !opsize) vmx_kind(ExitReason::VMPTRST);
            else if (mod != 3 && reg == 1) d.kind = InsnKind::CMPXCHG8B16B;
            else if (mod == 3 && reg == 6 && !f3) d.kind = InsnKind::RDRAND;
            else if (mod == 3 && reg == 7 && !f3) d.kind = InsnKind::RDSEED;  // F3: RDPID
            break;
        case 0x01:
            if (mod == 3) {
                switch (d.modrm) {
                case 0xc1: vmx_kind(ExitReason::VMCALL); break;
                case 0xc2: vmx_kind(ExitReason::VMLAUNCH); break;
                case 0xc3: vmx_kind(ExitReason::VMRESUME); break;
                case 0xc4: vmx_kind(ExitReason::VMXOFF); break;
                case 0xd4: d.kind = InsnKind::VMFUNC; break;
                case 0xd0: d.kind = InsnKind::XGETBV; break;
                case 0xc8: d.kind = InsnKind::MONITOR; break;
                case 0xc9: d.kind = InsnKind::MWAIT; break;
                case 0xd1: d.kind = InsnKind::XSETBV; break;
                case 0xf9: d.kind = InsnKind::RDTSCP; break;
                default: if (reg == 6) d.kind = InsnKind::LMSW; break;
                }
            } else if (reg == 7) {
                d.kind = InsnKind::INVLPG;
            } else if (reg == 6) {
                d.kind = InsnKind::LMSW;
            } else if (reg < 4) {
                d.kind = InsnKind::DESC_TABLE;
            }
            break;
        default: break;
        }
    } else if (map == 3 && opsize && (op == 0x80 || op == 0x81)) {
        vmx_kind(op == 0x80 ? ExitReason::INVEPT : ExitReason::INVVPID);
    } else if (map == 3 && opsize && op == 0x82 && mod != 3) {
        d.kind = InsnKind::INVPCID;
    }
    (void)rm;
    return d;
}

}  // namespace xeno::sim
