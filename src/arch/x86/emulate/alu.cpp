// Integer arithmetic and flags; see alu.hpp for the undefined-flag choices.
#include "arch/x86/emulate/alu.hpp"

namespace xeno::emu::alu {

namespace {

constexpr u64 kArith = flag::ARITH;

bool msb(u64 v, unsigned size) { return (v & sign_bit(size)) != 0; }

// SF, ZF, PF from a result; the caller supplies CF, OF and AF.
u64 szp(u64 result, unsigned size)
{
    u64 f = 0;
    result &= size_mask(size);
    if (result == 0) f |= flag::ZF;
    if (msb(result, size)) f |= flag::SF;
    if (parity_even(result)) f |= flag::PF;
    return f;
}

u64 with_flags(u64 rflags, u64 mask, u64 values) { return (rflags & ~mask) | (values & mask); }

}  // namespace

bool parity_even(u64 v)
{
    // PF looks at the low byte only (SDM Vol. 1 3.4.3.1). Folded by hand:
    // __builtin_popcount may become a libgcc call the hw build does not link.
    unsigned b = static_cast<unsigned>(v & 0xff);
    b ^= b >> 4;
    b ^= b >> 2;
    b ^= b >> 1;
    return (b & 1) == 0;
}

u64 binary(Op op, u64 a, u64 b, unsigned size, u64& rflags)
{
    const u64 m = size_mask(size);
    a &= m;
    b &= m;
    u64 r = 0;
    u64 f = 0;
    switch (op) {
    case Op::ADD:
    case Op::ADC: {
        const u64 carry_in = (op == Op::ADC && (rflags & flag::CF)) ? 1 : 0;
        r = (a + b + carry_in) & m;
        // Carry out of the top bit: unsigned overflow of the size-wide sum.
        const bool cf = carry_in ? (r <= a) : (r < a);
        if (cf) f |= flag::CF;
        if (msb(~(a ^ b) & (a ^ r), size)) f |= flag::OF;
        if ((a ^ b ^ r) & 0x10) f |= flag::AF;
        break;
    }
    case Op::SUB:
    case Op::SBB:
    case Op::CMP: {
        const u64 borrow_in = (op == Op::SBB && (rflags & flag::CF)) ? 1 : 0;
        r = (a - b - borrow_in) & m;
        const bool cf = borrow_in ? (a <= b) : (a < b);
        if (cf) f |= flag::CF;
        if (msb((a ^ b) & (a ^ r), size)) f |= flag::OF;
        if ((a ^ b ^ r) & 0x10) f |= flag::AF;
        break;
    }
    case Op::OR: r = a | b; break;
    case Op::AND: r = a & b; break;
    case Op::XOR: r = a ^ b; break;
    }
    f |= szp(r, size);
    rflags = with_flags(rflags, kArith, f);
    return r;
}

void logic_flags(u64 result, unsigned size, u64& rflags) { rflags = with_flags(rflags, kArith, szp(result, size)); }

u64 inc(u64 a, unsigned size, u64& rflags)
{
    const u64 cf = rflags & flag::CF;  // INC leaves CF alone
    const u64 r = binary(Op::ADD, a, 1, size, rflags);
    rflags = (rflags & ~flag::CF) | cf;
    return r;
}

u64 dec(u64 a, unsigned size, u64& rflags)
{
    const u64 cf = rflags & flag::CF;
    const u64 r = binary(Op::SUB, a, 1, size, rflags);
    rflags = (rflags & ~flag::CF) | cf;
    return r;
}

u64 neg(u64 a, unsigned size, u64& rflags)
{
    // NEG is 0 - a, with CF = (a != 0) which is exactly SUB's borrow.
    return binary(Op::SUB, 0, a, size, rflags);
}

u64 shift(unsigned kind, u64 a, u64 count, unsigned size, u64& rflags)
{
    const unsigned bits = size * 8;
    const u64 m = size_mask(size);
    a &= m;
    // SDM SAL/SAR/SHL/SHR and RCL/RCR/ROL/ROR: count masked to 5 bits, 6 with REX.W.
    const unsigned masked = static_cast<unsigned>(count & (size == 8 ? 0x3f : 0x1f));
    if (masked == 0) return a;  // flags unaffected
    u64 r = a;
    bool cf = false, of = false;
    switch (kind & 7) {
    case 0: {  // ROL
        const unsigned n = masked % bits;
        r = n ? ((a << n) | (a >> (bits - n))) & m : a;
        cf = r & 1;
        of = msb(r, size) != cf;
        rflags = with_flags(rflags, flag::CF | flag::OF, (cf ? flag::CF : 0) | (of ? flag::OF : 0));
        return r;
    }
    case 1: {  // ROR
        const unsigned n = masked % bits;
        r = n ? ((a >> n) | (a << (bits - n))) & m : a;
        cf = msb(r, size);
        of = msb(r, size) != msb(r << 1, size);
        rflags = with_flags(rflags, flag::CF | flag::OF, (cf ? flag::CF : 0) | (of ? flag::OF : 0));
        return r;
    }
    case 2:    // RCL
    case 3: {  // RCR
        // The rotate goes through CF: a (bits+1)-bit rotation.
        const unsigned n = masked % (bits + 1);
        bool c = rflags & flag::CF;
        r = a;
        const bool orig_msb = msb(a, size);
        const bool orig_cf = c;
        for (unsigned i = 0; i < n; ++i) {
            if ((kind & 7) == 2) {
                const bool out = msb(r, size);
                r = ((r << 1) | (c ? 1 : 0)) & m;
                c = out;
            } else {
                const bool out = r & 1;
                r = (r >> 1) | (c ? sign_bit(size) : 0);
                c = out;
            }
        }
        cf = c;
        if ((kind & 7) == 2)
            of = msb(r, size) != cf;
        else
            of = n == 1 ? (orig_msb != orig_cf) : (msb(r, size) != msb(r << 1, size));
        rflags = with_flags(rflags, flag::CF | flag::OF, (cf ? flag::CF : 0) | (of ? flag::OF : 0));
        return r;
    }
    case 4:
    case 6:  // SHL/SAL
        r = masked >= bits ? 0 : (a << masked) & m;
        cf = masked <= bits ? ((a >> (bits - masked)) & 1) : false;
        of = msb(r, size) != cf;
        break;
    case 5:  // SHR
        r = masked >= bits ? 0 : a >> masked;
        cf = masked <= bits ? ((a >> (masked - 1)) & 1) : false;
        of = msb(masked == 1 ? a : (a >> (masked - 1)), size);
        break;
    case 7: {  // SAR
        const i64 sa = static_cast<i64>(sign_extend(a, size));
        const unsigned n = masked >= bits ? bits - 1 : masked;
        r = static_cast<u64>(sa >> n) & m;
        cf = masked >= bits ? msb(a, size) : ((static_cast<u64>(sa) >> (masked - 1)) & 1);
        of = false;
        break;
    }
    }
    u64 f = szp(r, size);
    if (cf) f |= flag::CF;
    if (of) f |= flag::OF;
    rflags = with_flags(rflags, kArith, f);
    return r;
}

u64 double_shift(bool right, u64 dst, u64 src, u64 count, unsigned size, u64& rflags)
{
    const unsigned bits = size * 8;
    const u64 m = size_mask(size);
    dst &= m;
    src &= m;
    const unsigned n = static_cast<unsigned>(count & (size == 8 ? 0x3f : 0x1f));
    if (n == 0) return dst;  // no operation, flags unaffected (SDM SHLD/SHRD)
    u64 r = 0;
    bool cf = false;
    if (size == 2) {
        // 16-bit counts reach 31: shift the 48-bit dest:src:dest (bits 47..0),
        // which gives the SDM's result for counts up to 16 and a documented
        // choice (alu.hpp) for the undefined 17..31.
        const u64 wide = (dst << 32) | (src << 16) | dst;
        if (right) {
            r = (wide >> n) & m;
            cf = (wide >> (n - 1)) & 1;
        } else {
            r = ((wide << n) >> 32) & m;
            cf = (wide >> (48 - n)) & 1;
        }
    } else if (right) {  // 1 <= n < bits
        r = ((dst >> n) | (src << (bits - n))) & m;
        cf = (dst >> (n - 1)) & 1;
    } else {
        r = ((dst << n) | (src >> (bits - n))) & m;
        cf = (dst >> (bits - n)) & 1;
    }
    u64 f = szp(r, size);
    if (cf) f |= flag::CF;
    if (msb(r, size) != msb(dst, size)) f |= flag::OF;  // defined for n == 1 only; see alu.hpp
    rflags = with_flags(rflags, kArith, f);
    return r;
}

bool bit_scan(bool reverse, u64 src, unsigned size, u64& index, u64& rflags)
{
    src &= size_mask(size);
    if (src == 0) {
        rflags |= flag::ZF;
        return false;
    }
    // Inline BSF/BSR on x86 targets: no libgcc call in the freestanding build.
    index = reverse ? static_cast<u64>(63 - __builtin_clzll(src)) : static_cast<u64>(__builtin_ctzll(src));
    rflags &= ~flag::ZF;
    return true;
}

void mul(u64 a, u64 b, unsigned size, bool is_signed, u64& lo, u64& hi, u64& rflags)
{
    const u64 m = size_mask(size);
    bool overflow = false;
    if (size == 8) {
        if (is_signed) {
            const __int128 p = static_cast<__int128>(static_cast<i64>(a)) * static_cast<i64>(b);
            lo = static_cast<u64>(p);
            hi = static_cast<u64>(static_cast<unsigned __int128>(p) >> 64);
            overflow = static_cast<__int128>(static_cast<i64>(lo)) != p;
        } else {
            const unsigned __int128 p = static_cast<unsigned __int128>(a) * b;
            lo = static_cast<u64>(p);
            hi = static_cast<u64>(p >> 64);
            overflow = hi != 0;
        }
    } else {
        const unsigned bits = size * 8;
        if (is_signed) {
            const i64 p = static_cast<i64>(sign_extend(a & m, size)) * static_cast<i64>(sign_extend(b & m, size));
            lo = static_cast<u64>(p) & m;
            hi = (static_cast<u64>(p) >> bits) & m;
            overflow = static_cast<i64>(sign_extend(lo, size)) != p;
        } else {
            const u64 p = (a & m) * (b & m);
            lo = p & m;
            hi = (p >> bits) & m;
            overflow = hi != 0;
        }
    }
    u64 f = szp(lo, size);
    if (overflow) f |= flag::CF | flag::OF;
    rflags = with_flags(rflags, kArith, f);
}

u64 imul_trunc(u64 a, u64 b, unsigned size, u64& rflags)
{
    u64 lo = 0, hi = 0;
    mul(a, b, size, true, lo, hi, rflags);
    return lo;
}

namespace {

// 128-by-64 unsigned division by shift and subtract: no libgcc helpers in
// the freestanding build. Returns false when the quotient needs > 64 bits.
bool udiv128(u64 hi, u64 lo, u64 d, u64& q, u64& r)
{
    if (hi >= d) return false;
    u64 rem = hi;
    u64 quo = 0;
    for (int i = 63; i >= 0; --i) {
        const bool top = rem >> 63;
        rem = (rem << 1) | ((lo >> i) & 1);
        quo <<= 1;
        if (top || rem >= d) {
            rem -= d;
            quo |= 1;
        }
    }
    q = quo;
    r = rem;
    return true;
}

}  // namespace

bool div(u64 lo, u64 hi, u64 d, unsigned size, bool is_signed, u64& quotient, u64& remainder)
{
    const u64 m = size_mask(size);
    d &= m;
    if (d == 0) return false;
    const unsigned bits = size * 8;
    if (!is_signed) {
        if (size == 8) return udiv128(hi, lo, d, quotient, remainder);
        const u64 n = ((hi & m) << bits) | (lo & m);
        const u64 q = n / d;
        if (q > m) return false;
        quotient = q;
        remainder = n % d;
        return true;
    }
    if (size == 8) {
        const bool neg_n = hi >> 63;
        const bool neg_d = d >> 63;
        u64 nlo = lo, nhi = hi;
        if (neg_n) {  // two's complement of the 128-bit dividend
            nlo = ~lo + 1;
            nhi = ~hi + (nlo == 0 ? 1 : 0);
        }
        const u64 ad = neg_d ? ~d + 1 : d;
        u64 q = 0, r = 0;
        if (!udiv128(nhi, nlo, ad, q, r)) return false;
        const bool neg_q = neg_n != neg_d;
        if (neg_q ? q > (u64{1} << 63) : q > (u64{1} << 63) - 1) return false;
        quotient = neg_q ? ~q + 1 : q;
        remainder = neg_n ? ~r + 1 : r;
        return true;
    }
    // Sizes 1, 2, 4: the dividend fits a signed 64-bit value.
    const i64 n = static_cast<i64>(sign_extend(((hi & m) << bits) | (lo & m), size * 2));
    const i64 sd = static_cast<i64>(sign_extend(d, size));
    if (sd == -1 && n == static_cast<i64>(u64{1} << 63)) return false;  // host division would trap
    const i64 q = n / sd;
    const i64 lim = static_cast<i64>(u64{1} << (bits - 1));
    if (q >= lim || q < -lim) return false;
    quotient = static_cast<u64>(q) & m;
    remainder = static_cast<u64>(n % sd) & m;
    return true;
}

bool condition(unsigned cc, u64 rf)
{
    const bool cf = rf & flag::CF, zf = rf & flag::ZF, sf = rf & flag::SF, of = rf & flag::OF, pf = rf & flag::PF;
    bool r = false;
    switch ((cc >> 1) & 7) {
    case 0: r = of; break;
    case 1: r = cf; break;
    case 2: r = zf; break;
    case 3: r = cf || zf; break;
    case 4: r = sf; break;
    case 5: r = pf; break;
    case 6: r = sf != of; break;
    case 7: r = zf || (sf != of); break;
    }
    return (cc & 1) ? !r : r;
}

}  // namespace xeno::emu::alu
