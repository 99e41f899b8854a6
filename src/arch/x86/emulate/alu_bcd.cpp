// Decimal (BCD) adjust instructions on AL/AH (SDM Vol. 2 DAA, DAS, AAA, AAS,
// AAM, AAD "Operation"); the undefined-flag choices are listed in alu.hpp.
#include "arch/x86/emulate/alu.hpp"

namespace xeno::emu::alu {

namespace {

// SF, ZF, PF of an 8-bit result.
u64 szp8(u64 al)
{
    al &= 0xff;
    u64 f = 0;
    if (al == 0) f |= flag::ZF;
    if (al & 0x80) f |= flag::SF;
    if (parity_even(al)) f |= flag::PF;
    return f;
}

u16 make_ax(u64 al, u64 ah) { return static_cast<u16>(((ah & 0xff) << 8) | (al & 0xff)); }

}  // namespace

u16 bcd_adjust(Bcd kind, u16 ax, u64& rflags)
{
    const u64 al = ax & 0xff, ah = ax >> 8;
    const bool old_cf = rflags & flag::CF, old_af = rflags & flag::AF;
    const bool low_adjust = (al & 0x0f) > 9 || old_af;
    u64 f = 0;
    u16 out = ax;
    switch (kind) {
    case Bcd::DAA: {
        u64 r = al;
        if (low_adjust) {
            r += 6;
            f |= flag::AF;
        }
        // A carry out of AL + 6 needs AL >= 0xfa, which takes the high adjust
        // anyway, so CF is exactly the high-adjust condition.
        if (al > 0x99 || old_cf) {
            r += 0x60;
            f |= flag::CF;
        }
        out = make_ax(r, ah);
        f |= szp8(r);
        break;
    }
    case Bcd::DAS: {
        u64 r = al;
        if (low_adjust) {
            if (al < 6) f |= flag::CF;  // borrow out of AL - 6
            r -= 6;
            f |= flag::AF;
        }
        if (al > 0x99 || old_cf) {
            r -= 0x60;
            f |= flag::CF;
        }
        out = make_ax(r, ah);
        f |= szp8(r);
        break;
    }
    case Bcd::AAA:
    case Bcd::AAS: {
        // AX +/- 6 lets a carry/borrow out of AL reach AH, then AH +/- 1
        // (the SDM's "AX <- AX + 106H" for AAA, "AX <- AX - 6; AH <- AH - 1" for AAS).
        u64 r = ax;
        if (low_adjust) {
            r = kind == Bcd::AAA ? r + 0x106 : r - 6 - 0x100;
            f |= flag::AF | flag::CF;
        }
        out = make_ax(r & 0x0f, r >> 8);
        f |= szp8(r & 0x0f);
        break;
    }
    }
    rflags = (rflags & ~flag::ARITH) | f;
    return out;
}

bool aam(u16 ax, u8 base, u16& result, u64& rflags)
{
    if (base == 0) return false;
    const u64 al = ax & 0xff;
    result = make_ax(al % base, al / base);
    rflags = (rflags & ~flag::ARITH) | szp8(al % base);
    return true;
}

u16 aad(u16 ax, u8 base, u64& rflags)
{
    const u64 al = ((ax & 0xff) + (ax >> 8) * base) & 0xff;
    rflags = (rflags & ~flag::ARITH) | szp8(al);
    return make_ax(al, 0);
}

}  // namespace xeno::emu::alu
