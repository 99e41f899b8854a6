#include "arch/x86/vmx/guest_mtrr.hpp"

namespace xeno::vmx {

namespace {

// The fixed-range registers in the order of GuestMtrrs::fixed: FIX64K_00000,
// FIX16K_80000, FIX16K_A0000, FIX4K_C0000 .. FIX4K_F8000.
constexpr u32 kFixedMsrs[kMtrrFixedRegisters] = {0x250, 0x258, 0x259, 0x268, 0x269, 0x26a,
                                                 0x26b, 0x26c, 0x26d, 0x26e, 0x26f};

int fixed_index(u32 msr)
{
    for (unsigned i = 0; i < kMtrrFixedRegisters; ++i)
        if (kFixedMsrs[i] == msr) return static_cast<int>(i);
    return -1;
}

bool is_variable(u32 msr) { return msr >= kMsrMtrrPhysBase0 && msr < kMsrMtrrPhysBase0 + 2 * kMtrrVariableRanges; }

// UC, WC, WT, WP, WB; 2, 3 and 7 and up are reserved (Table 12-8).
constexpr bool valid_type(u64 type) { return type == 0 || type == 1 || type == 4 || type == 5 || type == 6; }

}  // namespace

bool is_mtrr_msr(u32 msr) { return msr == kMsrMtrrDefType || is_variable(msr) || fixed_index(msr) >= 0; }

u64 mtrr_read(const GuestMtrrs& m, u32 msr)
{
    if (msr == kMsrMtrrDefType) return m.def_type;
    if (is_variable(msr)) return m.variable[msr - kMsrMtrrPhysBase0];
    const int fixed = fixed_index(msr);
    return fixed >= 0 ? m.fixed[fixed] : 0;
}

bool mtrr_write(GuestMtrrs& m, u32 msr, u64 value, unsigned maxphyaddr)
{
    if (msr == kMsrMtrrDefType) {
        // Type 7:0, FE 10, E 11; the rest reserved.
        if ((value & ~u64{0xcff}) || !valid_type(value & 0xff)) return false;
        m.def_type = value;
        return true;
    }
    if (is_variable(msr)) {
        const u64 above_maxphyaddr = maxphyaddr >= 64 ? 0 : ~u64{0} << maxphyaddr;
        const bool base = ((msr - kMsrMtrrPhysBase0) & 1) == 0;
        // PHYSBASE: type 7:0, bits 11:8 reserved. PHYSMASK: bits 10:0
        // reserved, V is bit 11. Both: the address bits end below MAXPHYADDR.
        if (value & above_maxphyaddr) return false;
        if (base ? ((value & 0xf00) || !valid_type(value & 0xff)) : (value & 0x7ff) != 0) return false;
        m.variable[msr - kMsrMtrrPhysBase0] = value;
        return true;
    }
    const int fixed = fixed_index(msr);
    if (fixed < 0) return false;
    // Eight ranges, a memory type in each byte.
    for (unsigned i = 0; i < 8; ++i)
        if (!valid_type((value >> (8 * i)) & 0xff)) return false;
    m.fixed[fixed] = value;
    return true;
}

}  // namespace xeno::vmx
