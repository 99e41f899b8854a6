// The 8254 PIT and port 0x61 against the Intel 8254 data sheet (231164):
// mode waveforms at exact CLK ticks, latches, read-back, BCD, gates, IRQ0.
//
// Times: tick k of the 1193182 Hz clock happens at ceil(k * 10^9 / 1193182)
// ns; a count written during tick w is loaded at tick w+1 ("the next CLK
// pulse"), so expectations below are written as w+1+... .
#include "devices/pit8254.hpp"

#include <catch2/catch.hpp>
#include <vector>

#include "devices/system_control_b.hpp"

using namespace xeno;
using namespace xeno::devices;

namespace {

constexpr u64 kHz = 1193182;
constexpr u64 tick_ns(u64 k) { return (k * 1000000000ull + kHz - 1) / kHz; }

struct Clock {
    u64 now = 0;
    static u64 read(void* c) { return static_cast<Clock*>(c)->now; }
};

struct IrqLog {
    const Clock* clock = nullptr;
    bool level = false;
    std::vector<u64> rises;  // ns of every low->high change
    std::vector<u64> falls;
    static void set(void* c, u32, bool level)
    {
        auto* self = static_cast<IrqLog*>(c);
        if (level && !self->level) self->rises.push_back(self->clock->now);
        if (!level && self->level) self->falls.push_back(self->clock->now);
        self->level = level;
    }
};

struct Rig {
    Clock clock;
    TimerQueue timers{&Clock::read, &clock};
    IrqLog log{&clock, false, {}, {}};
    Pit8254 pit{timers, IrqLine{&IrqLog::set, &log, 0}};
    u64 fires = 0;

    // Advance the clock, firing every deadline on the way at its own time.
    void run_to(u64 ns)
    {
        while (timers.earliest() <= ns) {
            clock.now = timers.earliest();
            fires += timers.run_expired(clock.now);
        }
        clock.now = ns;
    }
    void at_tick(u64 k) { run_to(tick_ns(k)); }
    void out(u16 port, u8 v) { pit.pio_write(port, 1, v); }
    u8 in(u16 port) { return static_cast<u8>(pit.pio_read(port, 1)); }
    void write16(unsigned counter, u16 count)
    {
        out(static_cast<u16>(0x40 + counter), static_cast<u8>(count));
        out(static_cast<u16>(0x40 + counter), static_cast<u8>(count >> 8));
    }
    // Counter latch command, then LSB and MSB (LSB-then-MSB access).
    u16 latch_read(unsigned counter)
    {
        out(0x43, static_cast<u8>(counter << 6));
        const u8 lsb = in(static_cast<u16>(0x40 + counter));
        return static_cast<u16>(lsb | (in(static_cast<u16>(0x40 + counter)) << 8));
    }
    u8 status(unsigned counter)
    {
        out(0x43, static_cast<u8>(0xe0 | (2u << counter)));  // read-back: status only
        return in(static_cast<u16>(0x40 + counter));
    }
};

}  // namespace

TEST_CASE("pit: clock conversions at 1193182 Hz", "[devices][pit]")
{
    CHECK(Pit8254::ticks_at(1000000000) == 1193182);
    CHECK(Pit8254::ns_of_tick(1193182) == 1000000000);
    CHECK(Pit8254::ticks_at(837) == 0);  // one period is 838.095 ns
    CHECK(Pit8254::ticks_at(838) == 0);
    CHECK(Pit8254::ticks_at(839) == 1);
    for (u64 k : {u64{0}, u64{1}, u64{2}, u64{11932}, u64{65536}, u64{1193181}, u64{123456789}}) {
        CHECK(Pit8254::ns_of_tick(k) == tick_ns(k));
        CHECK(Pit8254::ticks_at(tick_ns(k)) == k);
        if (k) CHECK(Pit8254::ticks_at(tick_ns(k) - 1) == k - 1);
    }
}

TEST_CASE("pit: reset state and nonsense ports", "[devices][pit]")
{
    Rig r;
    CHECK_FALSE(r.pit.output(0));
    CHECK(r.pit.gate(0));
    CHECK(r.pit.gate(1));
    CHECK_FALSE(r.pit.gate(2));  // port 0x61 resets to 0
    CHECK(r.in(0x40) == 0);      // CE reads 0 before any count
    CHECK(r.status(1) == 0x70);  // OUT 0, NULL COUNT, LSB-then-MSB, mode 0, binary
    CHECK(r.in(0x43) == 0xff);   // the control word register is write-only
    CHECK(r.pit.pio_read(0x44, 1) == 0xff);
    r.pit.pio_write(0x3f, 1, 0x12);
    r.pit.set_gate(3, true);
    CHECK_FALSE(r.pit.output(3));
    CHECK_FALSE(r.pit.gate(7));
    CHECK(r.timers.armed_count() == 0);
    CHECK(r.log.rises.empty());
}

TEST_CASE("pit: mode 0 interrupt on terminal count", "[devices][pit]")
{
    Rig r;
    r.at_tick(1000);
    r.out(0x43, 0x30);  // counter 0, LSB then MSB, mode 0, binary
    CHECK_FALSE(r.pit.output(0));
    r.write16(0, 100);  // written during tick 1000, loaded at 1001
    CHECK(r.status(0) == (0x40 | 0x30));  // NULL COUNT until the load
    r.at_tick(1001);
    CHECK(r.status(0) == 0x30);
    CHECK(r.latch_read(0) == 100);  // the load pulse does not decrement
    r.at_tick(1050);
    CHECK(r.latch_read(0) == 51);
    r.at_tick(1100);
    CHECK(r.latch_read(0) == 1);
    CHECK_FALSE(r.pit.output(0));
    CHECK(r.log.rises.empty());
    r.at_tick(1101);  // N + 1 CLK pulses after the write
    CHECK(r.pit.output(0));
    CHECK(r.latch_read(0) == 0);
    REQUIRE(r.log.rises.size() == 1);
    CHECK(r.log.rises[0] == tick_ns(1101));
    r.at_tick(1102);
    CHECK(r.latch_read(0) == 0xffff);  // the counter wraps and keeps counting
    r.at_tick(1101 + 70000);
    CHECK(r.pit.output(0));  // high until a new count or control word
    CHECK(r.log.rises.size() == 1);
    CHECK(r.latch_read(0) == static_cast<u16>(0 - 70000));
    CHECK(r.timers.armed_count() == 0);  // nothing more will happen

    // A new count drops OUT at once and counts again.
    r.write16(0, 3);
    CHECK_FALSE(r.pit.output(0));
    CHECK(r.log.falls.back() == tick_ns(71101));
    r.at_tick(71101 + 3);
    CHECK_FALSE(r.pit.output(0));
    r.at_tick(71101 + 4);
    CHECK(r.pit.output(0));
    CHECK(r.log.rises.size() == 2);
    CHECK(r.log.rises[1] == tick_ns(71105));
}

TEST_CASE("pit: mode 0 two-byte rewrite stops counting at the first byte", "[devices][pit]")
{
    Rig r;
    r.at_tick(10);
    r.out(0x43, 0x30);
    r.write16(0, 1000);  // loaded at 11
    r.at_tick(111);
    CHECK(r.latch_read(0) == 900);
    r.out(0x40, 50);  // first byte: counting disabled
    r.at_tick(150);
    CHECK(r.latch_read(0) == 900);
    CHECK_FALSE(r.pit.output(0));
    r.at_tick(200);
    r.out(0x40, 0);  // second byte: count 50 loaded at 201
    r.at_tick(201);
    CHECK(r.latch_read(0) == 50);
    r.at_tick(250);
    CHECK_FALSE(r.pit.output(0));
    r.at_tick(251);
    CHECK(r.pit.output(0));
    REQUIRE(r.log.rises.size() == 1);
    CHECK(r.log.rises[0] == tick_ns(251));
}

TEST_CASE("pit: mode 0 with GATE: counting waits for the gate; low gate suspends", "[devices][pit]")
{
    Rig r;
    r.at_tick(100);
    r.out(0x43, 0xb0);  // counter 2, LSB then MSB, mode 0
    r.write16(2, 500);  // GATE is low: loaded at 101, not counting
    r.at_tick(400);
    CHECK(r.latch_read(2) == 500);
    CHECK(r.status(2) == 0x30);  // loaded: NULL COUNT clear
    r.pit.set_gate(2, true);     // "OUT will go high N CLK pulses later"
    r.at_tick(430);
    CHECK(r.latch_read(2) == 470);
    r.pit.set_gate(2, false);
    r.at_tick(600);
    CHECK(r.latch_read(2) == 470);
    CHECK_FALSE(r.pit.output(2));
    r.pit.set_gate(2, true);  // resumes: 470 clocks to go
    r.at_tick(600 + 469);
    CHECK_FALSE(r.pit.output(2));
    r.at_tick(600 + 470);
    CHECK(r.pit.output(2));
    // GATE has no effect on OUT in mode 0.
    r.pit.set_gate(2, false);
    CHECK(r.pit.output(2));
    CHECK(r.log.rises.empty());  // counter 2 is not IRQ0
}

TEST_CASE("pit: mode 1 hardware-retriggerable one-shot", "[devices][pit]")
{
    Rig r;
    r.at_tick(50);
    r.out(0x43, 0xb2);  // counter 2, mode 1
    CHECK(r.pit.output(2));
    r.write16(2, 20);
    r.at_tick(500);
    CHECK(r.pit.output(2));  // armed, not triggered
    CHECK((r.status(2) & Pit8254::kStatusNullCount) != 0);  // not loaded before a trigger
    r.pit.set_gate(2, true);  // trigger during tick 500
    CHECK(r.pit.output(2));
    r.at_tick(501);  // OUT low on the CLK pulse after the trigger
    CHECK_FALSE(r.pit.output(2));
    CHECK((r.status(2) & Pit8254::kStatusNullCount) == 0);
    CHECK(r.latch_read(2) == 20);
    r.at_tick(510);
    r.pit.set_gate(2, false);  // falling GATE: no effect
    CHECK_FALSE(r.pit.output(2));
    r.write16(2, 5);  // a new count does not affect the current one-shot
    r.at_tick(520);
    CHECK_FALSE(r.pit.output(2));
    r.at_tick(521);  // 20 clocks after 501
    CHECK(r.pit.output(2));
    // Retrigger while low extends the pulse with the current count.
    r.at_tick(600);
    r.pit.set_gate(2, true);  // loads 5 at 601
    r.at_tick(601);
    CHECK_FALSE(r.pit.output(2));
    r.at_tick(603);
    r.pit.set_gate(2, false);
    r.pit.set_gate(2, true);  // retrigger at 603: 5 more clocks from 604
    r.at_tick(608);
    CHECK_FALSE(r.pit.output(2));
    r.at_tick(609);
    CHECK(r.pit.output(2));
}

TEST_CASE("pit: mode 1 on counter 0 (gate tied high) never fires", "[devices][pit]")
{
    Rig r;
    r.out(0x43, 0x32);  // OUT goes high with the control word: IRQ0 sees that edge
    REQUIRE(r.log.rises.size() == 1);
    r.write16(0, 10);
    r.run_to(1000000000);
    CHECK(r.pit.output(0));
    CHECK(r.log.rises.size() == 1);
    CHECK(r.timers.armed_count() == 0);
}

TEST_CASE("pit: mode 2 rate generator: waveform, exact IRQ0 edges, no drift", "[devices][pit]")
{
    Rig r;
    r.at_tick(500);
    r.out(0x43, 0x34);  // counter 0, mode 2: OUT high
    r.write16(0, 11932);
    const u64 load = 501;
    r.log.rises.clear();
    r.at_tick(load);
    CHECK(r.latch_read(0) == 11932);
    r.at_tick(load + 11930);
    CHECK(r.latch_read(0) == 2);
    CHECK(r.pit.output(0));
    r.at_tick(load + 11931);  // CE = 1: OUT low for one clock
    CHECK(r.latch_read(0) == 1);
    CHECK_FALSE(r.pit.output(0));
    r.at_tick(load + 11932);  // reload, OUT high
    CHECK(r.latch_read(0) == 11932);
    CHECK(r.pit.output(0));
    REQUIRE(r.log.rises.size() == 1);
    CHECK(r.log.rises[0] == tick_ns(load + 11932));

    // One second of machine time from the write: 1193182 / 11932 = 99.998 periods.
    const u64 fires_before = r.fires;
    r.run_to(tick_ns(500) + 1000000000);
    CHECK(r.log.rises.size() >= 99);
    CHECK(r.log.rises.size() <= 100);
    for (usize k = 0; k < r.log.rises.size(); ++k) CHECK(r.log.rises[k] == tick_ns(load + (k + 1) * 11932));
    CHECK(r.fires - fires_before <= r.log.rises.size());  // one timer event per period, no polling
    CHECK(r.timers.armed_count() == 1);
    // After 1000 periods the edge is still on the grid of the load tick.
    r.at_tick(load + 1000 * 11932);
    CHECK(r.log.rises.back() == tick_ns(load + 1000 * 11932));
    CHECK(r.log.rises.size() == 1000);
    CHECK(r.pit.irq0_edges() == 1001);  // and the control word's
    CHECK(r.pit.irq0_coalesced_edges() == 0);
}

TEST_CASE("pit: mode 2 new count waits for the end of the cycle; gate synchronises", "[devices][pit]")
{
    Rig r;
    r.at_tick(0);
    r.out(0x43, 0x34);
    r.write16(0, 1000);  // load at 1
    r.log.rises.clear();
    r.at_tick(301);
    r.write16(0, 500);  // "does not affect the current counting sequence"
    CHECK((r.status(0) & Pit8254::kStatusNullCount) != 0);
    r.at_tick(1001 + 500);
    REQUIRE(r.log.rises.size() == 2);
    CHECK(r.log.rises[0] == tick_ns(1001));
    CHECK(r.log.rises[1] == tick_ns(1501));
    CHECK((r.status(0) & Pit8254::kStatusNullCount) == 0);

    // Counter 2: GATE low during the low pulse sets OUT high at once; a
    // rising GATE reloads: OUT goes low N clocks after the trigger.
    r.pit.set_gate(2, true);
    r.at_tick(5000);
    r.out(0x43, 0xb4);
    r.write16(2, 10);  // load at 5001
    r.at_tick(5010);
    CHECK_FALSE(r.pit.output(2));
    r.pit.set_gate(2, false);
    CHECK(r.pit.output(2));
    r.at_tick(5100);
    CHECK(r.latch_read(2) == 1);  // counting stopped
    CHECK(r.pit.output(2));
    r.pit.set_gate(2, true);  // trigger at 5100: reload at 5101
    r.at_tick(5101);
    CHECK(r.latch_read(2) == 10);
    r.at_tick(5109);
    CHECK(r.pit.output(2));
    r.at_tick(5110);
    CHECK_FALSE(r.pit.output(2));
    r.at_tick(5111);
    CHECK(r.pit.output(2));
}

TEST_CASE("pit: mode 3 square wave, even and odd counts", "[devices][pit]")
{
    Rig r;
    r.at_tick(2000);
    r.out(0x43, 0x36);  // counter 0, mode 3
    r.write16(0, 10);
    r.log.rises.clear();
    u64 l = 2001;
    const u16 even_ce[] = {10, 8, 6, 4, 2, 10, 8, 6, 4, 2, 10};
    for (u64 i = 0; i <= 10; ++i) {
        r.at_tick(l + i);
        CHECK(r.latch_read(0) == even_ce[i]);
        CHECK(r.pit.output(0) == (i < 5 || i == 10));
    }
    REQUIRE(r.log.falls.size() == 1);
    CHECK(r.log.falls[0] == tick_ns(l + 5));
    REQUIRE(r.log.rises.size() == 1);
    CHECK(r.log.rises[0] == tick_ns(l + 10));

    // Odd: high (N+1)/2 clocks counting N-1 down by two to 0, low (N-1)/2.
    r.at_tick(3000);
    r.out(0x43, 0x36);
    r.write16(0, 11);
    l = 3001;
    const u16 odd_ce[] = {10, 8, 6, 4, 2, 0, 10, 8, 6, 4, 2, 10};
    for (u64 i = 0; i <= 11; ++i) {
        r.at_tick(l + i);
        CHECK(r.latch_read(0) == odd_ce[i]);
        CHECK(r.pit.output(0) == (i < 6 || i == 11));
    }
    CHECK(r.log.falls.back() == tick_ns(l + 6));
    CHECK(r.log.rises.back() == tick_ns(l + 11));
}

TEST_CASE("pit: mode 3 count 0 is the BIOS's 18.2 Hz tick", "[devices][pit]")
{
    Rig r;
    r.out(0x43, 0x36);
    r.write16(0, 0);  // 65536
    r.log.rises.clear();
    r.run_to(10000000000ull);  // 10 s: 11931820 / 65536 = 182.07 periods
    CHECK(r.log.rises.size() == 182);
    CHECK(r.log.falls.size() == 182);  // the first fall is at 1 + 32768
    CHECK(r.log.falls[0] == tick_ns(1 + 32768));
    CHECK(r.log.rises[181] == tick_ns(1 + 182 * 65536ull));
}

TEST_CASE("pit: mode 3 new count loads at the end of the half-cycle; gate low forces OUT high", "[devices][pit]")
{
    Rig r;
    r.at_tick(0);
    r.out(0x43, 0x36);
    r.write16(0, 100);  // load at 1: high [1,51), low [51,101)
    r.at_tick(21);
    r.write16(0, 40);  // loaded at 51, starting the low half: 20 low, 20 high
    r.at_tick(51);
    CHECK_FALSE(r.pit.output(0));
    CHECK(r.latch_read(0) == 40);
    r.at_tick(70);
    CHECK_FALSE(r.pit.output(0));
    r.at_tick(71);
    CHECK(r.pit.output(0));
    r.at_tick(131);  // low [51,71), high [71,91), low [91,111), high [111,131), low again
    REQUIRE(r.log.rises.size() >= 3);
    CHECK(r.log.rises[r.log.rises.size() - 2] == tick_ns(71));
    CHECK(r.log.rises.back() == tick_ns(111));
    CHECK(r.log.falls.back() == tick_ns(131));

    r.pit.set_gate(2, true);
    r.at_tick(1000);
    r.out(0x43, 0xb6);
    r.write16(2, 8);  // load 1001: high [1001,1005), low [1005,1009)
    r.at_tick(1006);
    CHECK_FALSE(r.pit.output(2));
    r.pit.set_gate(2, false);
    CHECK(r.pit.output(2));  // "OUT is set high immediately"
    r.at_tick(1200);
    CHECK(r.pit.output(2));
    r.pit.set_gate(2, true);  // reload at 1201
    r.at_tick(1204);
    CHECK(r.pit.output(2));
    r.at_tick(1205);
    CHECK_FALSE(r.pit.output(2));
}

TEST_CASE("pit: mode 4 software-triggered strobe", "[devices][pit]")
{
    Rig r;
    r.at_tick(700);
    r.out(0x43, 0x38);  // counter 0, mode 4: OUT high (an IRQ0 edge from reset's low)
    r.log.rises.clear();
    r.write16(0, 5);  // load 701; strobe at 701+5 for one clock
    r.at_tick(705);
    CHECK(r.pit.output(0));
    CHECK(r.latch_read(0) == 1);
    r.at_tick(706);
    CHECK_FALSE(r.pit.output(0));
    r.at_tick(707);
    CHECK(r.pit.output(0));
    REQUIRE(r.log.rises.size() == 1);
    CHECK(r.log.rises[0] == tick_ns(707));  // the strobe reaches IRQ0 as an edge at its rising end
    r.run_to(tick_ns(707) + 1000000000);
    CHECK(r.log.rises.size() == 1);  // one strobe per count written
    CHECK(r.timers.armed_count() == 0);

    // A new count retriggers: strobe N+1 clocks after it; the first byte of
    // a two-byte write does nothing.
    r.at_tick(2000000);
    r.out(0x40, 3);
    r.at_tick(2000010);
    r.out(0x40, 0);  // count 3 written at 2000010: strobe at 2000014
    r.at_tick(2000013);
    CHECK(r.pit.output(0));
    r.at_tick(2000014);
    CHECK_FALSE(r.pit.output(0));
    r.at_tick(2000015);
    CHECK(r.log.rises.back() == tick_ns(2000015));

    // Counter 2: GATE low inhibits counting.
    r.at_tick(3000000);
    r.out(0x43, 0xb8);
    r.write16(2, 10);  // GATE low: loaded, waiting
    r.at_tick(3000100);
    CHECK(r.latch_read(2) == 10);
    r.pit.set_gate(2, true);
    r.at_tick(3000109);
    CHECK(r.pit.output(2));
    r.at_tick(3000110);
    CHECK_FALSE(r.pit.output(2));
}

TEST_CASE("pit: mode 5 hardware-triggered strobe", "[devices][pit]")
{
    Rig r;
    r.at_tick(10);
    r.out(0x43, 0xba);  // counter 2, mode 5
    r.write16(2, 8);
    r.at_tick(100);
    CHECK(r.pit.output(2));
    r.pit.set_gate(2, true);  // trigger at 100: load at 101, strobe at 109
    r.at_tick(108);
    CHECK(r.pit.output(2));
    r.at_tick(109);
    CHECK_FALSE(r.pit.output(2));
    r.at_tick(110);
    CHECK(r.pit.output(2));
    // Retrigger before expiry: "OUT will not strobe low for N + 1 CLK pulses after any trigger".
    r.pit.set_gate(2, false);
    r.pit.set_gate(2, true);  // at 110: strobe at 119
    r.at_tick(115);
    r.pit.set_gate(2, false);
    r.pit.set_gate(2, true);  // at 115: strobe moves to 124
    r.at_tick(119);
    CHECK(r.pit.output(2));
    r.at_tick(124);
    CHECK_FALSE(r.pit.output(2));
}

TEST_CASE("pit: counter latch command and the read flip-flop", "[devices][pit]")
{
    Rig r;
    r.at_tick(0);
    r.out(0x43, 0x34);
    r.write16(0, 1000);  // load at 1
    r.at_tick(101);
    r.out(0x43, 0x00);  // latch counter 0: 900
    r.at_tick(201);
    CHECK(r.in(0x40) == (900 & 0xff));
    r.at_tick(250);
    CHECK(r.in(0x40) == (900 >> 8));
    // Unlatched again: reads follow the CE.
    CHECK(r.latch_read(0) == 1000 - 249);
    // A second latch before the read is ignored.
    r.at_tick(301);
    r.out(0x43, 0x00);
    r.at_tick(401);
    r.out(0x43, 0x00);
    r.at_tick(501);
    CHECK(r.in(0x40) == (700 & 0xff));
    CHECK(r.in(0x40) == (700 >> 8));
    // On the fly, each byte is the CE at that read: 400 (0x190) then 100 (0x064).
    r.at_tick(601);
    const u8 lsb = r.in(0x40);
    r.at_tick(901);
    const u8 msb = r.in(0x40);
    CHECK(lsb == 0x90);
    CHECK(msb == 0x00);
    // The data sheet's valid interleave: read LSB, write LSB, read MSB, write MSB.
    r.at_tick(1101);
    const u16 expect = r.latch_read(0);
    r.out(0x43, 0x00);
    CHECK(r.in(0x40) == (expect & 0xff));
    r.out(0x40, 0x34);
    CHECK(r.in(0x40) == (expect >> 8));
    r.out(0x40, 0x12);  // count 0x1234 becomes the next cycle's
    CHECK((r.status(0) & Pit8254::kStatusNullCount) != 0);

    // LSB-only and MSB-only access modes.
    r.out(0x43, 0x54);  // counter 1, LSB only, mode 2
    r.at_tick(5000);
    r.out(0x41, 200);  // count 200, load at 5001
    r.at_tick(5051);
    CHECK(r.in(0x41) == 150);
    CHECK(r.in(0x41) == 150);
    r.out(0x43, 0x40);  // latch
    r.at_tick(5061);
    CHECK(r.in(0x41) == 150);
    CHECK(r.in(0x41) == 140);
    r.out(0x43, 0x64);  // counter 1, MSB only, mode 2
    r.out(0x41, 0x02);  // count 0x200 = 512 written at 5061
    r.at_tick(5062);
    CHECK(r.in(0x41) == 0x02);
    r.at_tick(5062 + 300);
    CHECK(r.in(0x41) == 0x00);  // 212
}

TEST_CASE("pit: read-back command: status and count, several counters, first latch wins", "[devices][pit]")
{
    Rig r;
    r.pit.set_gate(2, true);
    r.at_tick(0);
    r.out(0x43, 0x34);   // counter 0: mode 2
    r.write16(0, 1000);  // load at 1
    r.out(0x43, 0xb0);   // counter 2: mode 0
    r.write16(2, 300);   // load at 1
    r.at_tick(101);
    r.out(0x43, 0xca);  // read-back: count and status of counters 0 and 2
    r.at_tick(151);
    CHECK(r.in(0x40) == (0x80 | 0x34));  // status first: OUT high, loaded, LSB/MSB mode 2
    CHECK(r.in(0x40) == (900 & 0xff));
    CHECK(r.in(0x40) == (900 >> 8));
    CHECK(r.in(0x42) == 0x30);  // OUT low, mode 0
    CHECK(r.in(0x42) == 200);
    CHECK(r.in(0x42) == 0);
    CHECK(r.latch_read(2) == 150);  // unlatched afterwards

    // Count only, then status only; repeated status latches keep the first.
    r.out(0x43, 0xd2);  // count of counter 0
    r.at_tick(201);
    CHECK(r.in(0x40) == (850 & 0xff));
    CHECK(r.in(0x40) == (850 >> 8));
    r.out(0x43, 0xe8);  // status of counter 2 (OUT low)
    r.at_tick(301);     // terminal count: OUT2 high now
    CHECK(r.pit.output(2));
    r.out(0x43, 0xe8);  // ignored: the first status is still unread
    CHECK(r.in(0x42) == 0x30);
    CHECK(r.in(0x42) == 0x00);  // then the CE on the fly: 0 at terminal count
    CHECK(r.in(0x42) == 0x00);
    CHECK(r.status(2) == (0x80 | 0x30));

    // Count latched first, status latched later: status is still read first.
    r.out(0x43, 0x00);  // latch counter 0 (CE 700 at tick 301)
    r.out(0x43, 0xe2);  // status of counter 0
    CHECK(r.in(0x40) == (0x80 | 0x34));
    CHECK(r.in(0x40) == (700 & 0xff));
    CHECK(r.in(0x40) == (700 >> 8));

    // A read-back selecting no counter latches nothing.
    r.out(0x43, 0xc1);
    r.at_tick(311);
    CHECK(r.latch_read(0) == 690);
}

TEST_CASE("pit: a control word resets the counter: OUT, NULL COUNT, latches, flip-flops", "[devices][pit]")
{
    Rig r;
    r.at_tick(0);
    r.out(0x43, 0x34);
    r.write16(0, 100);
    r.at_tick(11);
    r.out(0x43, 0x00);  // latched, never read
    r.out(0x40, 0x55);  // write flip-flop now expects the MSB
    r.out(0x43, 0x30);  // reprogram: mode 0: OUT low, counting stops
    CHECK_FALSE(r.pit.output(0));
    CHECK(r.status(0) == 0x70);
    CHECK(r.timers.armed_count() == 0);
    r.at_tick(50);
    r.write16(0, 10);  // LSB first again: count 10, high at 61
    r.at_tick(60);
    CHECK_FALSE(r.pit.output(0));
    r.at_tick(61);
    CHECK(r.pit.output(0));
    // Modes 6 and 7 are modes 2 and 3; the status byte reports the bits as written.
    r.out(0x43, 0x3c);  // mode 6 = 2
    CHECK(r.status(0) == (0x80 | 0x40 | 0x3c));
    r.write16(0, 4);  // load at 62; low at 65, high at 66
    r.at_tick(65);
    CHECK_FALSE(r.pit.output(0));
    r.at_tick(66);
    CHECK(r.pit.output(0));
}

TEST_CASE("pit: BCD counting", "[devices][pit]")
{
    Rig r;
    r.at_tick(0);
    r.out(0x43, 0x35);   // counter 0, mode 2, BCD
    r.write16(0, 0x0100);  // 100 decimal, load at 1
    r.log.rises.clear();
    r.at_tick(2);
    CHECK(r.latch_read(0) == 0x0099);
    r.at_tick(1 + 37);
    CHECK(r.latch_read(0) == 0x0063);
    r.at_tick(101);
    CHECK(r.latch_read(0) == 0x0100);
    REQUIRE(r.log.rises.size() == 1);
    CHECK(r.log.rises[0] == tick_ns(101));

    // Count 0 is 10^4 in BCD; the counter wraps to 9999.
    r.out(0x43, 0x31);  // mode 0, BCD
    r.write16(0, 0);    // load at 102
    r.at_tick(102);
    CHECK(r.latch_read(0) == 0x0000);
    r.at_tick(103);
    CHECK(r.latch_read(0) == 0x9999);
    r.at_tick(102 + 9999);
    CHECK_FALSE(r.pit.output(0));
    r.at_tick(102 + 10000);
    CHECK(r.pit.output(0));
    r.at_tick(102 + 10001);
    CHECK(r.latch_read(0) == 0x9999);

    // Not BCD digits (nonsense): each is taken as 9.
    r.out(0x43, 0x31);
    r.write16(0, 0x001a);  // 19, written at 10103: load at 10104
    r.at_tick(10105);
    CHECK(r.latch_read(0) == 0x0018);
    r.at_tick(10104 + 18);
    CHECK_FALSE(r.pit.output(0));
    r.at_tick(10104 + 19);
    CHECK(r.pit.output(0));
}

TEST_CASE("pit: illegal counts 1 in modes 2 and 3 count as 2; count 1 elsewhere is legal", "[devices][pit]")
{
    Rig r;
    r.at_tick(0);
    r.out(0x43, 0x34);
    r.write16(0, 1);  // mode 2 count 1 (illegal): period 2
    r.log.rises.clear();
    const u64 fires_before = r.fires;
    r.at_tick(1 + 1000);
    CHECK(r.log.rises.size() == 500);
    CHECK(r.log.rises[0] == tick_ns(3));
    CHECK(r.fires - fires_before == 1 + 500);  // the load, then one event per 2-clock period, never per clock

    r.out(0x43, 0x36);
    r.write16(0, 1);  // mode 3 count 1: a 2-clock square wave
    r.log.rises.clear();
    r.at_tick(1001 + 1 + 100);
    CHECK(r.log.rises.size() == 50);

    r.out(0x43, 0x30);
    r.write16(0, 1);  // mode 0 count 1: high 2 clocks after the write
    r.at_tick(1102 + 1);
    CHECK_FALSE(r.pit.output(0));
    r.at_tick(1102 + 2);
    CHECK(r.pit.output(0));
}

TEST_CASE("pit: a late timer delivers one edge for the missed ones and stays on the grid", "[devices][pit]")
{
    Rig r;
    r.at_tick(0);
    r.out(0x43, 0x34);
    r.write16(0, 100);  // edges at 101, 201, ...
    r.log.rises.clear();
    r.clock.now = tick_ns(1050);  // the host was away for ten periods
    CHECK(r.timers.run_expired(r.clock.now) == 1);
    CHECK(r.log.rises.size() == 1);
    CHECK(r.pit.irq0_coalesced_edges() == 9);
    CHECK(r.timers.earliest() == tick_ns(1101));
    r.at_tick(1201);
    CHECK(r.log.rises.size() == 3);
    CHECK(r.log.rises[2] == tick_ns(1201));
}

TEST_CASE("pit: reprogramming counter 0 mid-count from mode 2 to mode 0", "[devices][pit]")
{
    Rig r;
    r.at_tick(0);
    r.out(0x43, 0x34);
    r.write16(0, 1000);
    r.at_tick(1500);
    const usize rises = r.log.rises.size();
    r.out(0x43, 0x30);  // OUT low at once; the periodic edges stop
    CHECK_FALSE(r.log.level);
    CHECK(r.log.falls.back() == tick_ns(1500));
    r.at_tick(5000);
    CHECK(r.log.rises.size() == rises);
    r.write16(0, 10);
    r.at_tick(5011);
    CHECK(r.log.rises.size() == rises + 1);
    CHECK(r.log.rises.back() == tick_ns(5011));
}

TEST_CASE("port 0x61: bits, gate forwarding, refresh toggle", "[devices][pit][port61]")
{
    Rig r;
    SystemControlB port_b(r.pit, r.timers);
    CHECK(r.pit.pio_read(0x43, 1) == 0xff);
    r.clock.now = 0;
    CHECK(port_b.pio_read(0x61, 1) == 0x00);
    port_b.pio_write(0x61, 1, 0xff);  // the read-only bits 4-7 ignore writes
    CHECK(r.pit.gate(2));
    CHECK(port_b.speaker_enabled());
    CHECK((port_b.pio_read(0x61, 1) & 0xcf) == 0x0f);
    port_b.pio_write(0x61, 1, 0x0c);
    CHECK_FALSE(r.pit.gate(2));
    CHECK((port_b.pio_read(0x61, 1) & 0x0f) == 0x0c);
    CHECK((port_b.pio_read(0x61, 1) & 0xc0) == 0);  // no NMI source

    // Refresh toggle: flips every 15.085 us.
    r.clock.now = 15084;
    CHECK((port_b.pio_read(0x61, 1) & 0x10) == 0);
    r.clock.now = 15085;
    CHECK((port_b.pio_read(0x61, 1) & 0x10) == 0x10);
    r.clock.now = 30169;
    CHECK((port_b.pio_read(0x61, 1) & 0x10) == 0x10);
    r.clock.now = 30170;
    CHECK((port_b.pio_read(0x61, 1) & 0x10) == 0);
    // Counting the toggles over 1 ms: 1000000 / 15085 = 66.3.
    unsigned toggles = 0;
    bool last = false;
    for (u64 t = 0; t <= 1000000; t += 1000) {
        r.clock.now = t;
        const bool bit = (port_b.pio_read(0x61, 1) & 0x10) != 0;
        if (t && bit != last) ++toggles;
        last = bit;
    }
    CHECK(toggles == 66);
}

TEST_CASE("port 0x61: OUT2 after a mode-0 countdown (the TSC calibration loop)", "[devices][pit][port61]")
{
    // BIOS style: gate low, program mode 0 count N, gate high, poll bit 5.
    Rig r;
    SystemControlB port_b(r.pit, r.timers);
    constexpr u16 kLatch = 11932;  // 10 ms
    r.at_tick(1000);
    port_b.pio_write(0x61, 1, port_b.pio_read(0x61, 1) & ~0x03u);
    r.out(0x43, 0xb0);
    r.write16(2, kLatch);
    r.at_tick(2000);
    CHECK((port_b.pio_read(0x61, 1) & 0x20) == 0);
    port_b.pio_write(0x61, 1, (port_b.pio_read(0x61, 1) & ~0x02u) | 0x01);  // gate high at tick 2000
    u64 t = r.clock.now;
    while ((port_b.pio_read(0x61, 1) & 0x20) == 0 && t < 20000000) r.clock.now = t += 100;
    // OUT2 rises N clocks after the gate: the first poll at or after that time sees it.
    CHECK(t >= tick_ns(2000 + kLatch));
    CHECK(t < tick_ns(2000 + kLatch) + 100);

    // Linux style: gate high first, then program: N+1 clocks after the write.
    r.at_tick(100000);
    port_b.pio_write(0x61, 1, (port_b.pio_read(0x61, 1) & ~0x02u) | 0x01);
    r.out(0x43, 0xb0);
    r.write16(2, kLatch);
    t = r.clock.now;
    while ((port_b.pio_read(0x61, 1) & 0x20) == 0 && t < 200000000) r.clock.now = t += 100;
    CHECK(t >= tick_ns(100000 + 1 + kLatch));
    CHECK(t < tick_ns(100000 + 1 + kLatch) + 100);
    CHECK(port_b.speaker_level() == false);  // speaker data bit is off
    CHECK(r.log.rises.empty());              // counter 2 never touches IRQ0
}
