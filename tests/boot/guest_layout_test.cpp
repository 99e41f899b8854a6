// The guest-physical layout of RAM (boot/guest_layout.hpp).
#include <catch2/catch.hpp>

#include "boot/guest_layout.hpp"

using namespace xeno;
using namespace xeno::boot;

TEST_CASE("guest layout: RAM below 3 GiB stays in one piece", "[boot][layout]")
{
    const GuestLayout l = guest_layout(256ull << 20);
    CHECK(l.low_end == 256ull << 20);
    CHECK(l.high_end == 0);
    CHECK(l.frame_span() == (256ull << 20) >> 12);
    CHECK(l.hole_frame() == (256ull << 20) >> 12);
    CHECK(l.is_ram(0));
    CHECK(l.is_ram((256ull << 20) - 1));
    CHECK_FALSE(l.is_ram(256ull << 20));
    CHECK_FALSE(l.is_ram(k4GiB));
}

TEST_CASE("guest layout: RAM past 3 GiB continues at 4 GiB, the hole in between", "[boot][layout]")
{
    const GuestLayout l = guest_layout(8ull << 30);
    CHECK(l.low_end == kLowRamLimit);
    CHECK(l.high_end == k4GiB + (8ull << 30) - kLowRamLimit);
    CHECK(l.frame_span() == l.high_end >> 12);
    CHECK(l.hole_frame() == kLowRamLimit >> 12);
    CHECK(l.is_ram(kLowRamLimit - 1));
    CHECK_FALSE(l.is_ram(kLowRamLimit));
    CHECK_FALSE(l.is_ram(0xfee00000));  // the local APIC
    CHECK(l.is_ram(k4GiB));
    CHECK(l.is_ram(l.high_end - 1));
    CHECK_FALSE(l.is_ram(l.high_end));

    const GuestLayout exact = guest_layout(kLowRamLimit);  // exactly 3 GiB: nothing above 4 GiB
    CHECK(exact.high_end == 0);
    CHECK(exact.low_end == kLowRamLimit);
}
