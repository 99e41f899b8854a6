// Local APIC timer (SDM Vol. 3A 11.5.4): one-shot, periodic, TSC-deadline,
// at exact ns times on a fake clock. Xeno's bus clock is 1 GHz: with
// divide value d a count of N expires N * d ns after it was loaded.
#include "devices/local_apic.hpp"

#include <catch2/catch.hpp>

#include "local_apic_rig.hpp"

using namespace xeno;
using namespace xeno::devices;
using xeno::devices::lapic_test::Rig;
using L = LocalApic;

namespace {

constexpr u32 kOneShot = 0x00000;
constexpr u32 kPeriodic = 0x20000;
constexpr u32 kTscDeadline = 0x40000;
constexpr u8 kVector = 0x40;

// Deliver and end the timer interrupt if it is pending; true if it was.
bool took_timer(Rig& r)
{
    if (!r.apic.irr_has(kVector)) return false;
    CHECK(r.inject() == kVector);
    r.eoi();
    return true;
}

}  // namespace

TEST_CASE("lapic timer: one-shot at exact times with every divider (Figure 11-10)", "[devices][lapic][lapic-timer]")
{
    // Divide configuration bits 3,1,0 -> divide value.
    const struct {
        u32 config;
        u64 divide;
    } dividers[] = {{0x0, 2}, {0x1, 4}, {0x2, 8}, {0x3, 16}, {0x8, 32}, {0x9, 64}, {0xa, 128}, {0xb, 1}};
    for (const auto& d : dividers) {
        CAPTURE(d.config);
        Rig r;
        r.enable();
        r.advance_to(5000);
        r.wr(L::REG_TIMER_DIVIDE, d.config);
        r.wr(L::REG_LVT_TIMER, kOneShot | kVector);
        r.wr(L::REG_TIMER_INITIAL, 1000);
        CHECK(r.rd(L::REG_TIMER_CURRENT) == 1000);
        r.advance_to(5000 + d.divide - 1);
        CHECK(r.rd(L::REG_TIMER_CURRENT) == 1000);
        r.advance_to(5000 + d.divide);
        CHECK(r.rd(L::REG_TIMER_CURRENT) == 999);
        r.advance_to(5000 + 500 * d.divide + d.divide / 2);
        CHECK(r.rd(L::REG_TIMER_CURRENT) == 500);
        r.advance_to(5000 + 1000 * d.divide - 1);
        CHECK(r.rd(L::REG_TIMER_CURRENT) == 1);
        CHECK_FALSE(r.apic.irr_has(kVector));
        r.advance_to(5000 + 1000 * d.divide);
        CHECK(r.apic.irr_has(kVector));
        CHECK(r.rd(L::REG_TIMER_CURRENT) == 0);
        CHECK(r.rd(L::REG_TIMER_INITIAL) == 1000);  // the timer does not change it
        CHECK(took_timer(r));
        r.advance_to(5000 + 10000 * d.divide);
        CHECK_FALSE(r.apic.irr_has(kVector));  // one-shot: once
        CHECK(r.timers.armed_count() == 0);
    }
}

TEST_CASE("lapic timer: periodic reloads from the previous expiry, no drift", "[devices][lapic][lapic-timer]")
{
    Rig r;
    r.enable();
    r.wr(L::REG_TIMER_DIVIDE, 0xb);  // divide by 1
    r.wr(L::REG_LVT_TIMER, kPeriodic | kVector);
    r.wr(L::REG_TIMER_INITIAL, 200000);  // 200 us
    for (u64 k = 1; k <= 3; ++k) {
        r.advance_to(k * 200000 - 1);
        CHECK_FALSE(r.apic.irr_has(kVector));
        r.advance_to(k * 200000);
        CHECK(took_timer(r));
        CHECK(r.rd(L::REG_TIMER_CURRENT) == 200000);  // reloaded
    }
    r.advance_to(600000 + 150000);
    CHECK(r.rd(L::REG_TIMER_CURRENT) == 50000);

    // The queue runs late by several periods: one interrupt (IRR holds
    // one), and the next expiry stays on the original grid.
    r.advance_to(1'450'000);
    CHECK(took_timer(r));
    CHECK(r.timers.earliest() == 1'600'000);
    CHECK(r.rd(L::REG_TIMER_CURRENT) == 150000);
    r.advance_to(1'600'000);
    CHECK(took_timer(r));

    // The current count is right even before a late callback has run.
    r.clock.now = 1'800'000 + 30000;  // expiry at 1.8 ms not yet processed
    CHECK(r.rd(L::REG_TIMER_CURRENT) == 170000);
    r.advance_to(r.clock.now);
    CHECK(took_timer(r));
}

TEST_CASE("lapic timer: periodic minimum period; one-shot is not stretched", "[devices][lapic][lapic-timer]")
{
    Rig r;
    r.enable();
    r.wr(L::REG_TIMER_DIVIDE, 0xb);
    r.wr(L::REG_LVT_TIMER, kPeriodic | kVector);
    r.wr(L::REG_TIMER_INITIAL, 1000);  // 1 us asked; stretched to 200 us
    r.advance_to(L::kMinPeriodicNs / 2);
    CHECK(r.rd(L::REG_TIMER_CURRENT) == 500);  // the count spans the stretched period
    r.advance_to(L::kMinPeriodicNs - 1);
    CHECK_FALSE(r.apic.irr_has(kVector));
    r.advance_to(L::kMinPeriodicNs);
    CHECK(took_timer(r));
    r.advance_to(2 * L::kMinPeriodicNs);
    CHECK(took_timer(r));

    r.wr(L::REG_TIMER_INITIAL, 1);  // the extreme: 1 GHz asked
    const u64 t0 = r.clock.now;
    r.advance_to(t0 + 50);
    CHECK_FALSE(r.apic.irr_has(kVector));
    r.advance_to(t0 + L::kMinPeriodicNs);
    CHECK(took_timer(r));

    Rig o;
    o.enable();
    o.wr(L::REG_TIMER_DIVIDE, 0xb);
    o.wr(L::REG_LVT_TIMER, kOneShot | kVector);
    o.wr(L::REG_TIMER_INITIAL, 1);
    o.advance_to(1);
    CHECK(o.apic.irr_has(kVector));
}

TEST_CASE("lapic timer: initial count writes restart or stop; masked timer counts", "[devices][lapic][lapic-timer]")
{
    Rig r;
    r.enable();
    r.wr(L::REG_LVT_TIMER, kOneShot | kVector);
    r.wr(L::REG_TIMER_INITIAL, 1000);  // divide by 2: 2000 ns
    r.advance_to(1500);
    CHECK(r.rd(L::REG_TIMER_CURRENT) == 250);
    r.wr(L::REG_TIMER_INITIAL, 1000);  // restart from 1000 at 1500
    r.advance_to(3499);
    CHECK_FALSE(r.apic.irr_has(kVector));
    r.advance_to(3500);
    CHECK(took_timer(r));

    r.wr(L::REG_TIMER_INITIAL, 1000);
    r.advance_to(4000);
    r.wr(L::REG_TIMER_INITIAL, 0);  // 0 stops the timer (11.5.4)
    CHECK(r.rd(L::REG_TIMER_CURRENT) == 0);
    CHECK(r.timers.armed_count() == 0);
    r.advance_to(100000);
    CHECK_FALSE(r.apic.irr_has(kVector));

    // Masked: the count runs, the expiry delivers nothing, periodic goes on.
    r.wr(L::REG_TIMER_DIVIDE, 0xb);
    r.wr(L::REG_LVT_TIMER, L::LVT_MASKED | kPeriodic | kVector);
    r.wr(L::REG_TIMER_INITIAL, 200000);
    r.advance_to(150000);
    CHECK(r.rd(L::REG_TIMER_CURRENT) == 150000);
    r.advance_to(300000);
    CHECK_FALSE(r.apic.irr_has(kVector));
    CHECK(r.rd(L::REG_TIMER_CURRENT) == 200000);
    r.wr(L::REG_LVT_TIMER, kPeriodic | kVector);  // unmask: the next expiry delivers
    r.advance_to(500000);
    CHECK(took_timer(r));
}

TEST_CASE("lapic timer: divide change mid-count continues at the new rate", "[devices][lapic][lapic-timer]")
{
    Rig r;
    r.enable();
    r.wr(L::REG_LVT_TIMER, kOneShot | kVector);
    r.wr(L::REG_TIMER_INITIAL, 1000);  // divide by 2
    r.advance_to(500);
    CHECK(r.rd(L::REG_TIMER_CURRENT) == 750);
    r.wr(L::REG_TIMER_DIVIDE, 0xb);  // divide by 1 from here: 750 ns left
    CHECK(r.rd(L::REG_TIMER_CURRENT) == 750);
    r.advance_to(1249);
    CHECK(r.rd(L::REG_TIMER_CURRENT) == 1);
    CHECK_FALSE(r.apic.irr_has(kVector));
    r.advance_to(1250);
    CHECK(took_timer(r));
}

TEST_CASE("lapic timer: one-shot <-> periodic keeps counting; the reserved mode is one-shot",
          "[devices][lapic][lapic-timer]")
{
    Rig r;
    r.enable();
    r.wr(L::REG_TIMER_DIVIDE, 0xb);
    r.wr(L::REG_LVT_TIMER, kOneShot | kVector);
    r.wr(L::REG_TIMER_INITIAL, 300000);
    r.advance_to(100000);
    r.wr(L::REG_LVT_TIMER, kPeriodic | kVector);
    CHECK(r.rd(L::REG_TIMER_CURRENT) == 200000);
    r.advance_to(300000);
    CHECK(took_timer(r));
    r.advance_to(600000);
    CHECK(took_timer(r));  // periodic now
    r.wr(L::REG_LVT_TIMER, kOneShot | kVector);
    r.advance_to(900000);
    CHECK(took_timer(r));  // the count in progress still expires...
    r.advance_to(2'000'000);
    CHECK_FALSE(r.apic.irr_has(kVector));  // ...once

    Rig q;
    q.enable();
    q.wr(L::REG_TIMER_DIVIDE, 0xb);
    q.wr(L::REG_LVT_TIMER, 0x60000 | kVector);  // mode 11b: reserved
    CHECK(q.rd(L::REG_LVT_TIMER) == (0x60000u | kVector));
    q.wr(L::REG_TIMER_INITIAL, 1000);
    q.advance_to(1000);
    CHECK(took_timer(q));
    q.advance_to(10000);
    CHECK_FALSE(q.apic.irr_has(kVector));
}

TEST_CASE("lapic timer: TSC-deadline mode (11.5.4.1)", "[devices][lapic][lapic-timer]")
{
    // The rig's guest TSC reads 3 * ns + 1000.
    Rig r;
    r.enable();
    SECTION("writes outside TSC-deadline mode are ignored")
    {
        r.apic.write_tsc_deadline(5000);
        CHECK(r.apic.tsc_deadline() == 0);
        CHECK(r.timers.armed_count() == 0);
    }
    SECTION("arm, fire at the deadline, reads 0 afterwards")
    {
        r.wr(L::REG_LVT_TIMER, kTscDeadline | kVector);
        r.wr(L::REG_TIMER_INITIAL, 1000);  // ignored in this mode
        CHECK(r.rd(L::REG_TIMER_INITIAL) == 0);
        CHECK(r.rd(L::REG_TIMER_CURRENT) == 0);
        CHECK(r.timers.armed_count() == 0);
        r.apic.write_tsc_deadline(1000 + 3 * 5000);  // TSC at 5000 ns
        CHECK(r.apic.tsc_deadline() == 16000);
        r.advance_to(4999);
        CHECK_FALSE(r.apic.irr_has(kVector));
        r.advance_to(5000);
        CHECK(took_timer(r));
        CHECK(r.apic.tsc_deadline() == 0);
        r.advance_to(50000);
        CHECK_FALSE(r.apic.irr_has(kVector));
    }
    SECTION("moving, disarming, a deadline in the past")
    {
        r.wr(L::REG_LVT_TIMER, kTscDeadline | kVector);
        r.apic.write_tsc_deadline(1000 + 3 * 5000);
        r.apic.write_tsc_deadline(1000 + 3 * 8000);  // postponed
        r.advance_to(7999);
        CHECK_FALSE(r.apic.irr_has(kVector));
        r.advance_to(8000);
        CHECK(took_timer(r));
        r.apic.write_tsc_deadline(1000 + 3 * 9000);
        r.apic.write_tsc_deadline(0);  // disarm
        CHECK(r.timers.armed_count() == 0);
        r.advance_to(20000);
        CHECK_FALSE(r.apic.irr_has(kVector));
        r.apic.write_tsc_deadline(1000 + 3 * 100);  // long past: fires at once
        CHECK(r.apic.irr_has(kVector));
        CHECK(r.apic.tsc_deadline() == 0);
        CHECK(took_timer(r));
    }
    SECTION("masked: disarms at the deadline, no interrupt")
    {
        r.wr(L::REG_LVT_TIMER, L::LVT_MASKED | kTscDeadline | kVector);
        r.apic.write_tsc_deadline(1000 + 3 * 5000);
        r.advance_to(6000);
        CHECK_FALSE(r.apic.irr_has(kVector));
        CHECK(r.apic.tsc_deadline() == 0);
    }
    SECTION("leaving TSC-deadline mode disarms")
    {
        r.wr(L::REG_LVT_TIMER, kTscDeadline | kVector);
        r.apic.write_tsc_deadline(1000 + 3 * 5000);
        r.wr(L::REG_LVT_TIMER, kOneShot | kVector);
        CHECK(r.timers.armed_count() == 0);
        r.advance_to(10000);
        CHECK_FALSE(r.apic.irr_has(kVector));
        r.wr(L::REG_LVT_TIMER, kTscDeadline | kVector);
        CHECK(r.apic.tsc_deadline() == 0);  // cleared, not remembered
    }
    SECTION("entering TSC-deadline mode stops a count-down")
    {
        r.wr(L::REG_LVT_TIMER, kOneShot | kVector);
        r.wr(L::REG_TIMER_INITIAL, 1000);
        r.wr(L::REG_LVT_TIMER, kTscDeadline | kVector);
        CHECK(r.rd(L::REG_TIMER_INITIAL) == 0);
        CHECK(r.rd(L::REG_TIMER_CURRENT) == 0);
        r.advance_to(10000);
        CHECK_FALSE(r.apic.irr_has(kVector));
    }
    SECTION("a due expiry is not lost to a write that comes before its callback")
    {
        r.wr(L::REG_LVT_TIMER, kTscDeadline | kVector);
        r.apic.write_tsc_deadline(1000 + 3 * 5000);
        r.clock.now = 6000;  // the queue has not run yet
        r.apic.write_tsc_deadline(1000 + 3 * 9000);
        CHECK(took_timer(r));
        r.advance_to(9000);
        CHECK(took_timer(r));
    }
}

TEST_CASE("lapic timer: illegal timer vector, global disable, INIT", "[devices][lapic][lapic-timer]")
{
    Rig r;
    r.enable();
    r.wr(L::REG_LVT_TIMER, kOneShot | 0x0e);  // vector 14: illegal
    r.wr(L::REG_TIMER_INITIAL, 10);
    r.advance_to(20);
    CHECK(r.apic.highest_pending() == -1);
    CHECK(r.esr() == L::ESR_RECEIVE_ILLEGAL_VECTOR);

    r.wr(L::REG_LVT_TIMER, kPeriodic | kVector);
    r.wr(L::REG_TIMER_INITIAL, 200000);
    CHECK(r.timers.armed_count() == 1);
    REQUIRE(r.apic.write_apic_base(0xfee00100));  // global disable: power-up state
    CHECK(r.timers.armed_count() == 0);
    r.apic.write_tsc_deadline(100);  // disabled: ignored
    CHECK(r.timers.armed_count() == 0);
    REQUIRE(r.apic.write_apic_base(0xfee00900));
    CHECK(r.rd(L::REG_LVT_TIMER) == 0x10000);
    CHECK(r.rd(L::REG_TIMER_INITIAL) == 0);
}
