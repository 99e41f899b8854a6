// XCR0, the XSAVE feature-enabled mask (SDM Vol. 1 13.3 "Enabling the XSAVE
// Feature Set and XSAVE-Enabled Features", Vol. 2B XSETBV): which values a
// guest may load and how large its XSAVE area then is. Pure, unit tested.
#pragma once

#include "lib/bits.hpp"
#include "lib/types.hpp"

namespace xeno::vmx {

namespace xcr0 {
inline constexpr u64 X87 = bit(0);
inline constexpr u64 SSE = bit(1);
inline constexpr u64 AVX = bit(2);
inline constexpr u64 BNDREGS = bit(3);
inline constexpr u64 BNDCSR = bit(4);
inline constexpr u64 AVX512 = bit(5) | bit(6) | bit(7);  // opmask, ZMM_Hi256, Hi16_ZMM
inline constexpr u64 TILECFG = bit(17);
inline constexpr u64 TILEDATA = bit(18);
}  // namespace xcr0

// Whether XSETBV may load `value` into XCR0 on a processor whose CPUID leaf
// 0DH subleaf 0 reports `supported` (EDX:EAX). The #GP(0) conditions of
// XSETBV: a bit the processor does not support, x87 (bit 0) clear, AVX
// without SSE, one MPX component without the other, AVX-512 state other
// than all three components together with AVX, one AMX component without
// the other.
constexpr bool xcr0_valid(u64 value, u64 supported)
{
    if (value & ~supported) return false;
    if (!(value & xcr0::X87)) return false;
    if ((value & xcr0::AVX) && !(value & xcr0::SSE)) return false;
    if (((value & xcr0::BNDREGS) != 0) != ((value & xcr0::BNDCSR) != 0)) return false;
    if ((value & xcr0::AVX512) && ((value & xcr0::AVX512) != xcr0::AVX512 || !(value & xcr0::AVX))) return false;
    if (((value & xcr0::TILECFG) != 0) != ((value & xcr0::TILEDATA) != 0)) return false;
    return true;
}

// The legacy region (512 bytes) and the XSAVE header (64): the XSAVE area
// of x87 and SSE state alone (SDM Vol. 1 13.4).
inline constexpr u32 kXsaveLegacyAndHeader = 576;

}  // namespace xeno::vmx
