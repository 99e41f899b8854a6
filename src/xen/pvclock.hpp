// Xen's pvclock scale (vcpu_time_info.tsc_to_system_mul and tsc_shift): the
// guest turns a TSC delta into ns as ((delta << shift) * mul) >> 32 (a
// negative shift shifts right). Xeno's guest TSC runs at a fixed frequency
// derived from the machine's clock, so one scale serves every vcpu for the
// whole run, and the guest's reading matches the hypervisor's clock to
// within the scale's rounding (under 1 ns per second).
#pragma once

#include "devices/guest_tsc.hpp"
#include "lib/types.hpp"

namespace xeno::xen {

struct PvclockScale {
    u32 mul = 0;
    i8 shift = 0;
};

// The scale for a TSC of `hz` ticks per second (hz > 0). The shift brings
// hz into (1e9, 2e9], so that mul = 1e9 * 2^32 / (scaled hz) lies in
// [2^31, 2^32): 32 bits with the most precision.
constexpr PvclockScale pvclock_scale_for_hz(u64 hz)
{
    constexpr u64 kNsPerS = 1'000'000'000;
    PvclockScale s;
    u64 scaled = hz;
    while (scaled > 2 * kNsPerS) {
        scaled >>= 1;
        --s.shift;
    }
    while (scaled <= kNsPerS) {
        scaled <<= 1;
        ++s.shift;
    }
    s.mul = static_cast<u32>((kNsPerS << 32) / scaled);
    return s;
}

// The scale for the guest TSC a domain presents.
inline PvclockScale pvclock_scale(const devices::GuestTsc& tsc)
{
    const u64 hz = tsc.tsc_at(1'000'000'000) - tsc.tsc_at(0);
    return pvclock_scale_for_hz(hz ? hz : 1'000'000'000);
}

// What the guest computes from a scale: ns for a TSC delta.
constexpr u64 pvclock_delta_ns(u64 delta, PvclockScale s)
{
    delta = s.shift >= 0 ? delta << s.shift : delta >> -s.shift;
    return static_cast<u64>((static_cast<unsigned __int128>(delta) * s.mul) >> 32);
}

}  // namespace xeno::xen
