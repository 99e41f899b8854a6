// VMX control adjustment against the capability MSRs (SDM Vol. 3D, A.3-A.5):
// bits 31:0 of a control capability MSR are the allowed-0 settings (a 1 there
// means the control must be 1), bits 63:32 the allowed-1 settings (a 0 there
// means the control must be 0). Pure functions, unit tested.
#pragma once

#include "lib/types.hpp"

namespace xeno::vmx {

struct AdjustedControls {
    u32 value;    // the control word to write
    u32 missing;  // required controls the CPU does not allow (0: fine)
    bool ok() const { return missing == 0; }
};

// `required` controls must be 1, `optional` ones are set when allowed; the
// allowed-0 bits are forced to 1 and everything not allowed-1 cleared.
constexpr AdjustedControls adjust_controls(u32 required, u32 optional, u64 msr)
{
    const u32 allowed0 = static_cast<u32>(msr);        // must-be-one bits
    const u32 allowed1 = static_cast<u32>(msr >> 32);  // may-be-one bits
    const u32 wanted = required | optional;
    return AdjustedControls{(wanted & allowed1) | allowed0, required & ~allowed1};
}

// Whether a control may be 1 on this CPU.
constexpr bool control_allowed(u32 control, u64 msr) { return (static_cast<u32>(msr >> 32) & control) == control; }

}  // namespace xeno::vmx
