// Integer arithmetic with the flags the SDM defines (Vol. 1 3.4.3, Vol. 2
// per-instruction "Flags Affected"). Pure functions: operands are u64 values
// of `size` bytes (1, 2, 4, 8); results are truncated to size.
//
// Flags the SDM leaves undefined get a fixed, documented value here:
//   - AND/OR/XOR/TEST: AF = 0.
//   - SHL/SHR/SAR with masked count > 1: OF computed by the count-1 formula on
//     the final result (SHL: MSB(result) ^ CF; SHR: MSB of the operand shifted
//     by count-1; SAR: 0); AF = 0.
//   - ROL/ROR/RCL/RCR with masked count > 1: OF by the count-1 formula on the
//     final result.
//   - MUL/IMUL: SF, ZF, PF from the low half of the result, AF = 0.
//   - DIV/IDIV: all six arithmetic flags unchanged.
//   - BT/BTS/BTR/BTC: OF, SF, AF, PF unchanged (ZF unchanged as well).
//   - SHLD/SHRD with masked count > 1: OF = MSB(result) ^ MSB(destination),
//     the sign-change rule of the count-1 case; AF = 0. A 16-bit count of
//     17..31 (result undefined): result and CF come from shifting the 48-bit
//     value dest:src:dest, the Intel behaviour as QEMU describes it (not
//     checked on hardware here); SF/ZF/PF from that result.
//   - BSF/BSR: CF, OF, SF, AF, PF unchanged. A zero source sets ZF and keeps
//     the destination (Intel processors and the AMD manual; the SDM leaves it
//     undefined). The caller still performs the register write, so a 32-bit
//     destination in 64-bit mode has its upper half cleared, as Intel
//     processors reportedly do (AMD keeps all 64 bits; Unicorn clears).
//   - DAA/DAS: OF = 0. AAA/AAS: SF, ZF, PF from the final AL, OF = 0.
//     AAM/AAD: OF = AF = CF = 0.
#pragma once

#include "arch/x86/emulate/emulate.hpp"

namespace xeno::emu::alu {

constexpr u64 size_mask(unsigned size) { return size >= 8 ? ~u64{0} : (u64{1} << (size * 8)) - 1; }
constexpr u64 sign_bit(unsigned size) { return u64{1} << (size * 8 - 1); }
constexpr u64 sign_extend(u64 v, unsigned size)
{
    if (size >= 8) return v;
    const unsigned shift = 64 - size * 8;
    return static_cast<u64>(static_cast<i64>(v << shift) >> shift);
}

// Arithmetic-flag results of one operation: the new RFLAGS given the old.
enum class Op : u8 { ADD = 0, OR = 1, ADC = 2, SBB = 3, AND = 4, SUB = 5, XOR = 6, CMP = 7 };

// The eight classic two-operand operations (group 1 order). Returns the
// result; CMP returns the difference but the caller does not store it.
u64 binary(Op op, u64 a, u64 b, unsigned size, u64& rflags);
u64 inc(u64 a, unsigned size, u64& rflags);
u64 dec(u64 a, unsigned size, u64& rflags);
u64 neg(u64 a, unsigned size, u64& rflags);
void logic_flags(u64 result, unsigned size, u64& rflags);

// Group 2 in ModRM.reg order: ROL ROR RCL RCR SHL SHR SAL(=SHL) SAR.
// `count` is the raw count; masking happens here.
u64 shift(unsigned kind, u64 a, u64 count, unsigned size, u64& rflags);

// MUL/IMUL one-operand forms: low and high halves of a*b.
void mul(u64 a, u64 b, unsigned size, bool is_signed, u64& lo, u64& hi, u64& rflags);
// IMUL two- and three-operand forms: truncated product, CF=OF on overflow.
u64 imul_trunc(u64 a, u64 b, unsigned size, u64& rflags);
// DIV/IDIV of hi:lo by d. Returns false for #DE (zero divisor or quotient overflow).
bool div(u64 lo, u64 hi, u64 d, unsigned size, bool is_signed, u64& quotient, u64& remainder);

// SHLD (right = false) / SHRD (right = true): shift `dst` by the count
// (masked to 5 bits, 6 for size 8), filling the vacated bits from `src`.
// A masked count of 0 returns dst with the flags unchanged. Sizes 2, 4, 8.
u64 double_shift(bool right, u64 dst, u64 src, u64 count, unsigned size, u64& rflags);

// BSF (reverse = false) / BSR (reverse = true). Returns false when src is 0
// (ZF = 1, `index` untouched); otherwise sets `index`, ZF = 0.
bool bit_scan(bool reverse, u64 src, unsigned size, u64& index, u64& rflags);

// Decimal adjusts on AX (SDM DAA, DAS, AAA, AAS, AAM, AAD). Each returns the
// new AX; only AL/AH change.
enum class Bcd : u8 { DAA, DAS, AAA, AAS };
u16 bcd_adjust(Bcd kind, u16 ax, u64& rflags);
// AAM: AH = AL / base, AL = AL % base. Returns false for base 0 (#DE), nothing changed.
bool aam(u16 ax, u8 base, u16& result, u64& rflags);
// AAD: AL = AL + AH * base (8 bits), AH = 0.
u16 aad(u16 ax, u8 base, u64& rflags);

// Condition codes 0..15 (SDM Vol. 1 Appendix B).
bool condition(unsigned cc, u64 rflags);
bool parity_even(u64 v);

}  // namespace xeno::emu::alu
