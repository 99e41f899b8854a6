// The guest's MTRRs (SDM Vol. 3A 12.11): what MTRRcap offers -- 8 variable
// ranges, the 11 fixed-range registers, write-combining -- exists, keeps
// what the guest writes and checks it as the processor does (#GP for a
// reserved memory type, reserved bits, bits at or above MAXPHYADDR). The
// values change nothing: guest memory is write-back under EPT and shadow
// paging alike, as under KVM without assigned devices. Linux reads every
// range MTRRcap announces with RDMSR that expects no fault.
#pragma once

#include "lib/types.hpp"

namespace xeno::vmx {

inline constexpr u32 kMsrMtrrCap = 0xfe;
inline constexpr u32 kMsrMtrrPhysBase0 = 0x200;  // PHYSBASEn = 0x200 + 2n, PHYSMASKn = 0x201 + 2n
inline constexpr u32 kMsrMtrrDefType = 0x2ff;
inline constexpr unsigned kMtrrVariableRanges = 8;
inline constexpr unsigned kMtrrFixedRegisters = 11;
// MTRRcap: VCNT = 8, FIX (bit 8), WC (bit 10); no SMRR.
inline constexpr u64 kMtrrCapValue = kMtrrVariableRanges | (u64{1} << 8) | (u64{1} << 10);

// MTRRdefType as firmware leaves it for a kernel (a PC's BIOS; Xen's
// domain builder for PVH): enabled (E, bit 11), default type write-back,
// no ranges. At reset (a guest that is its own firmware) all is 0: disabled.
inline constexpr u64 kMtrrDefTypeFirmware = 0x6 | (u64{1} << 11);

struct GuestMtrrs {
    u64 def_type = 0;  // MTRRs disabled at reset (firmware enables them)
    u64 variable[2 * kMtrrVariableRanges] = {};  // PHYSBASE0, PHYSMASK0, PHYSBASE1, ...
    u64 fixed[kMtrrFixedRegisters] = {};
};

// Whether `msr` is one of the MTRR registers above (not MTRRcap, which is
// read-only: a write #GPs like any other unknown one).
bool is_mtrr_msr(u32 msr);
// Read / write one of them. Write: false for a value the processor refuses
// (#GP(0)); maxphyaddr bounds PHYSBASE and PHYSMASK.
u64 mtrr_read(const GuestMtrrs& m, u32 msr);
bool mtrr_write(GuestMtrrs& m, u32 msr, u64 value, unsigned maxphyaddr);

}  // namespace xeno::vmx
