// The pvclock scale Xeno gives guests: the guest's ns from a TSC delta must
// match the hypervisor's clock to within the scale's rounding.
#include <catch2/catch.hpp>

#include "xen/pvclock.hpp"

using xeno::u64;
using xeno::xen::pvclock_delta_ns;
using xeno::xen::pvclock_scale_for_hz;

TEST_CASE("pvclock scale turns TSC ticks into ns within 1 ppm", "[xen][pvclock]")
{
    for (const u64 hz : {u64{1'000'000}, u64{999'999'999}, u64{1'000'000'000}, u64{1'000'000'001},
                         u64{2'400'000'000}, u64{3'000'000'000}, u64{3'700'123'456}, u64{10'000'000'000}}) {
        const auto s = pvclock_scale_for_hz(hz);
        INFO("hz " << hz << " mul " << s.mul << " shift " << int{s.shift});
        CHECK(s.mul >= (u64{1} << 31));  // normalised: the most precision a 32-bit mul has
        // One second of ticks is one second, to within 1 ns per 10^6 ns.
        const u64 ns = pvclock_delta_ns(hz, s);
        CHECK(ns <= 1'000'000'000);
        CHECK(ns >= 1'000'000'000 - 1000);
        // An hour of ticks does not overflow and stays within 1 ppm.
        const u64 hour = pvclock_delta_ns(hz * 3600, s);
        CHECK(hour <= u64{3600} * 1'000'000'000);
        CHECK(hour >= u64{3600} * 1'000'000'000 - 3'600'000);
    }
}

TEST_CASE("pvclock scale of a 2 GHz TSC halves the ticks exactly", "[xen][pvclock]")
{
    const auto s = pvclock_scale_for_hz(2'000'000'000);
    CHECK(pvclock_delta_ns(2'000'000'000, s) == 1'000'000'000);
    CHECK(pvclock_delta_ns(2, s) == 1);
}
