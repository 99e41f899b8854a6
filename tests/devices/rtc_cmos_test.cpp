#include "devices/rtc_cmos.hpp"

#include <catch2/catch.hpp>
#include <cstdio>
#include <vector>

using namespace xeno;
using namespace xeno::devices;

namespace {

constexpr u64 kSecond = 1'000'000'000;
constexpr u64 kMs = 1'000'000;
constexpr u64 kMiB = u64{1} << 20;
constexpr u64 kGiB = u64{1} << 30;

struct RtcClock {
    u64 now = 0;
    static u64 read(void* c) { return static_cast<RtcClock*>(c)->now; }
};

struct RtcLine {
    bool level = false;
    int raises = 0;
    int lowers = 0;
    static void set(void* c, u32 line, bool level)
    {
        auto& self = *static_cast<RtcLine*>(c);
        CHECK(line == 8);
        if (level) ++self.raises;
        else ++self.lowers;
        self.level = level;
    }
};

struct Rig {
    RtcClock clock;
    TimerQueue timers{&RtcClock::read, &clock};
    RtcLine line;
    RtcCmos rtc;

    explicit Rig(u64 epoch_seconds, u64 start_ns = 0)
        : clock{start_ns}, rtc(timers, IrqLine{&RtcLine::set, &line, 8}, epoch_seconds)
    {
    }

    u8 read(u8 reg)
    {
        rtc.pio_write(RtcCmos::kIndexPort, 1, reg);
        return static_cast<u8>(rtc.pio_read(RtcCmos::kDataPort, 1));
    }
    void write(u8 reg, u8 value)
    {
        rtc.pio_write(RtcCmos::kIndexPort, 1, reg);
        rtc.pio_write(RtcCmos::kDataPort, 1, value);
    }
    // Moves the clock to t, firing every timer due on the way at its deadline.
    void run_to(u64 t)
    {
        while (timers.earliest() <= t) {
            clock.now = timers.earliest();
            timers.run_expired(clock.now);
        }
        clock.now = t;
    }
    // Runs to `end`; at each rising edge of IRQ8, records the time and
    // acknowledges it by reading register C, as an interrupt handler does.
    std::vector<u64> edges_until(u64 end, std::vector<u8>* c_values = nullptr)
    {
        std::vector<u64> edges;
        while (timers.earliest() <= end) {
            clock.now = timers.earliest();
            const bool before = line.level;
            timers.run_expired(clock.now);
            if (!before && line.level) {
                edges.push_back(clock.now);
                const u8 c = read(RtcCmos::kRegC);
                if (c_values) c_values->push_back(c);
            }
        }
        clock.now = end;
        return edges;
    }

    struct Time {
        u8 sec, min, hour, dow, day, month, year, century;
        bool operator==(const Time& o) const
        {
            return sec == o.sec && min == o.min && hour == o.hour && dow == o.dow && day == o.day &&
                   month == o.month && year == o.year && century == o.century;
        }
    };
    Time time()
    {
        return {read(RtcCmos::kSeconds), read(RtcCmos::kMinutes),    read(RtcCmos::kHours),
                read(RtcCmos::kDayOfWeek), read(RtcCmos::kDayOfMonth), read(RtcCmos::kMonth),
                read(RtcCmos::kYear),      read(RtcCmos::kCentury)};
    }
    // Writes the clock with SET held, as an OS does; B keeps `mode` (DM, 24/12).
    void set_time(u8 mode, const Time& t)
    {
        write(RtcCmos::kRegB, static_cast<u8>(RtcCmos::kBSet | mode));
        write(RtcCmos::kSeconds, t.sec);
        write(RtcCmos::kMinutes, t.min);
        write(RtcCmos::kHours, t.hour);
        write(RtcCmos::kDayOfWeek, t.dow);
        write(RtcCmos::kDayOfMonth, t.day);
        write(RtcCmos::kMonth, t.month);
        write(RtcCmos::kYear, t.year);
        write(RtcCmos::kCentury, t.century);
        write(RtcCmos::kRegB, mode);
    }
};

std::ostream& operator<<(std::ostream& os, const Rig::Time& t)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, "%02x%02x-%02x-%02x %02x:%02x:%02x dow %x", t.century, t.year, t.month, t.day,
                  t.hour, t.min, t.sec, t.dow);
    return os << buf;
}

constexpr u8 kBcd24 = RtcCmos::kB24Hour;
constexpr u8 kBin24 = RtcCmos::kB24Hour | RtcCmos::kBBinary;
constexpr u8 kBcd12 = 0;
constexpr u8 kBin12 = RtcCmos::kBBinary;

}  // namespace

TEST_CASE("rtc: Unix time to calendar at several epochs, one update later", "[devices][rtc]")
{
    struct Case {
        u64 epoch;
        Rig::Time before, after;  // BCD, 24-hour: the PC BIOS setting
    };
    const Case cases[] = {
        // 1970-01-01 00:00:00 was a Thursday (5).
        {0, {0x00, 0x00, 0x00, 5, 0x01, 0x01, 0x70, 0x19}, {0x01, 0x00, 0x00, 5, 0x01, 0x01, 0x70, 0x19}},
        // 2000 is a leap year (divisible by 400): Monday 02-28 -> Tuesday 02-29.
        {951782399, {0x59, 0x59, 0x23, 2, 0x28, 0x02, 0x00, 0x20}, {0x00, 0x00, 0x00, 3, 0x29, 0x02, 0x00, 0x20}},
        // 2100 is not (divisible by 100): Sunday 02-28 -> Monday 03-01.
        {4107542399, {0x59, 0x59, 0x23, 1, 0x28, 0x02, 0x00, 0x21}, {0x00, 0x00, 0x00, 2, 0x01, 0x03, 0x00, 0x21}},
        // 2400 is again.
        {13574563199, {0x59, 0x59, 0x23, 2, 0x28, 0x02, 0x00, 0x24}, {0x00, 0x00, 0x00, 3, 0x29, 0x02, 0x00, 0x24}},
        // The century byte counts with the year: Friday 1999-12-31 -> Saturday 2000-01-01.
        {946684799, {0x59, 0x59, 0x23, 6, 0x31, 0x12, 0x99, 0x19}, {0x00, 0x00, 0x00, 7, 0x01, 0x01, 0x00, 0x20}},
        {4102444799, {0x59, 0x59, 0x23, 5, 0x31, 0x12, 0x99, 0x20}, {0x00, 0x00, 0x00, 6, 0x01, 0x01, 0x00, 0x21}},
        // Past the 32-bit time_t: Tuesday 2038-01-19 03:14:07.
        {2147483647, {0x07, 0x14, 0x03, 3, 0x19, 0x01, 0x38, 0x20}, {0x08, 0x14, 0x03, 3, 0x19, 0x01, 0x38, 0x20}},
        // 2024-02-29 12:00:00, a Thursday.
        {1709208000, {0x00, 0x00, 0x12, 5, 0x29, 0x02, 0x24, 0x20}, {0x01, 0x00, 0x12, 5, 0x29, 0x02, 0x24, 0x20}},
    };
    for (const Case& c : cases) {
        Rig r(c.epoch);
        CHECK(r.time() == c.before);
        CHECK(r.rtc.unix_time().value() == c.epoch);
        r.run_to(kSecond - 1);
        CHECK(r.time() == c.before);
        r.run_to(kSecond);
        CHECK(r.time() == c.after);
        CHECK(r.rtc.unix_time().value() == c.epoch + 1);
    }
}

TEST_CASE("rtc: wall time is epoch + machine time; long idle gaps are exact", "[devices][rtc]")
{
    SECTION("constructed late: the updates stay on whole seconds of machine time")
    {
        Rig r(1000, 2 * kSecond + 500 * kMs);
        CHECK(r.read(RtcCmos::kSeconds) == 0x42);  // 1002 s: 00:16:42
        CHECK(r.read(RtcCmos::kMinutes) == 0x16);
        r.run_to(3 * kSecond - 1);
        CHECK(r.read(RtcCmos::kSeconds) == 0x42);
        r.run_to(3 * kSecond);
        CHECK(r.read(RtcCmos::kSeconds) == 0x43);
    }
    SECTION("10^9 seconds untouched: Sunday 2001-09-09 01:46:40")
    {
        Rig r(0);
        r.run_to(1'000'000'000 * kSecond + 123);
        CHECK(r.time() == Rig::Time{0x40, 0x46, 0x01, 1, 0x09, 0x09, 0x01, 0x20});
        CHECK(r.rtc.unix_time().value() == 1'000'000'000);
        // The alarm bytes power up as 00:00:00, which each midnight matched.
        CHECK(r.read(RtcCmos::kRegC) == (RtcCmos::kCPeriodic | RtcCmos::kCAlarm | RtcCmos::kCUpdate));
    }
}

TEST_CASE("rtc: binary and BCD data modes", "[devices][rtc]")
{
    Rig r(0);
    r.run_to(100 * kMs);
    // Binary, 24-hour: Thursday 2099-12-31 23:59:59 rolls over to Friday 2100-01-01.
    r.set_time(kBin24, {59, 59, 23, 5, 31, 12, 99, 20});
    CHECK(r.read(RtcCmos::kRegB) == kBin24);
    CHECK(r.time() == Rig::Time{59, 59, 23, 5, 31, 12, 99, 20});
    r.run_to(kSecond);
    CHECK(r.time() == Rig::Time{0, 0, 0, 6, 1, 1, 0, 21});
    CHECK(r.rtc.unix_time().value() == 4102444800);
    // Binary 2100-02-28 -> 03-01 (not a leap year).
    r.set_time(kBin24, {59, 59, 23, 1, 28, 2, 0, 21});
    r.run_to(2 * kSecond);
    CHECK(r.time() == Rig::Time{0, 0, 0, 2, 1, 3, 0, 21});
    // BCD: 2023 is not a leap year, 2024 is.
    r.set_time(kBcd24, {0x59, 0x59, 0x23, 3, 0x28, 0x02, 0x23, 0x20});
    r.run_to(3 * kSecond);
    CHECK(r.time() == Rig::Time{0x00, 0x00, 0x00, 4, 0x01, 0x03, 0x23, 0x20});
    r.set_time(kBcd24, {0x59, 0x59, 0x23, 4, 0x28, 0x02, 0x24, 0x20});
    r.run_to(4 * kSecond);
    CHECK(r.time() == Rig::Time{0x00, 0x00, 0x00, 5, 0x29, 0x02, 0x24, 0x20});
    // Changing DM does not convert the stored bytes (the program re-initialises the time).
    r.write(RtcCmos::kRegB, kBin24);
    CHECK(r.read(RtcCmos::kMonth) == 0x02);
    CHECK(r.read(RtcCmos::kDayOfMonth) == 0x29);
}

TEST_CASE("rtc: 12-hour mode: hour bit 7 is PM, 11:59:59 PM -> 12 AM next day", "[devices][rtc]")
{
    Rig r(0);
    SECTION("BCD")
    {
        r.set_time(kBcd12, {0x59, 0x59, 0x91, 3, 0x28, 0x02, 0x23, 0x20});  // 11:59:59 PM
        r.run_to(kSecond);
        CHECK(r.time() == Rig::Time{0x00, 0x00, 0x12, 4, 0x01, 0x03, 0x23, 0x20});  // 12:00:00 AM
        r.set_time(kBcd12, {0x59, 0x59, 0x11, 4, 0x01, 0x03, 0x23, 0x20});          // 11:59:59 AM
        r.run_to(2 * kSecond);
        CHECK(r.read(RtcCmos::kHours) == 0x92);  // 12 PM
        CHECK(r.read(RtcCmos::kDayOfMonth) == 0x01);
        r.set_time(kBcd12, {0x59, 0x59, 0x92, 4, 0x01, 0x03, 0x23, 0x20});  // 12:59:59 PM
        r.run_to(3 * kSecond);
        CHECK(r.read(RtcCmos::kHours) == 0x81);  // 1 PM
        CHECK(r.rtc.unix_time().value() == 1677675600);  // 2023-03-01 13:00:00
    }
    SECTION("binary")
    {
        r.set_time(kBin12, {59, 59, 11, 1, 5, 6, 30, 20});
        r.run_to(kSecond);
        CHECK(r.read(RtcCmos::kHours) == 0x8c);  // 12 PM
        r.set_time(kBin12, {59, 59, 0x8b, 1, 5, 6, 30, 20});  // 11 PM
        r.run_to(2 * kSecond);
        CHECK(r.read(RtcCmos::kHours) == 12);  // 12 AM
        CHECK(r.read(RtcCmos::kDayOfMonth) == 6);
        CHECK(r.read(RtcCmos::kDayOfWeek) == 2);
    }
    SECTION("unix_time reads a 12-hour clock")
    {
        Rig late(1709208000 + 13 * 3600);  // 2024-02-29 (Thursday) 01:00:00 the next day
        late.set_time(kBcd12, {0x00, 0x00, 0x01, 6, 0x01, 0x03, 0x24, 0x20});
        CHECK(late.rtc.unix_time().value() == 1709254800);
    }
}

TEST_CASE("rtc: UIP rises 244 us (8 ticks of 32.768 kHz) before each update", "[devices][rtc]")
{
    Rig r(0);
    const u8 a = RtcCmos::kADividerNormal | 0x06;
    constexpr u64 kLead = 244140;  // floor(8 * 1e9 / 32768): the first ns of the 8th tick before
    CHECK(r.read(RtcCmos::kRegA) == a);
    r.run_to(kSecond - kLead - 1);
    CHECK(r.read(RtcCmos::kRegA) == a);
    r.run_to(kSecond - kLead);
    CHECK(r.read(RtcCmos::kRegA) == (a | RtcCmos::kAUpdateInProgress));
    r.run_to(kSecond - 1);
    CHECK(r.read(RtcCmos::kRegA) == (a | RtcCmos::kAUpdateInProgress));
    CHECK(r.read(RtcCmos::kSeconds) == 0x00);  // UIP = 1: the update has not happened
    r.run_to(kSecond);
    CHECK(r.read(RtcCmos::kRegA) == a);  // fell with the update: the new time is readable
    CHECK(r.read(RtcCmos::kSeconds) == 0x01);
    r.run_to(7 * kSecond - kLead);
    CHECK(r.read(RtcCmos::kRegA) == (a | RtcCmos::kAUpdateInProgress));
    // SET inhibits the update and clears UIP.
    r.write(RtcCmos::kRegB, RtcCmos::kBSet | kBcd24);
    CHECK(r.read(RtcCmos::kRegA) == a);
    // Bit 7 of A is read-only.
    r.write(RtcCmos::kRegB, kBcd24);
    r.write(RtcCmos::kRegA, 0xa6);
    r.run_to(7 * kSecond + kSecond / 2);
    CHECK(r.read(RtcCmos::kRegA) == a);
}

TEST_CASE("rtc: SET halts updates; the time advances from what was written", "[devices][rtc]")
{
    Rig r(1'700'000'000);
    r.run_to(300 * kMs);
    r.write(RtcCmos::kRegB, kBcd24 | RtcCmos::kBUpdateEnable);
    // SET going high clears UIE (DS12887 register B).
    r.write(RtcCmos::kRegB, RtcCmos::kBSet | kBcd24 | RtcCmos::kBUpdateEnable);
    CHECK(r.read(RtcCmos::kRegB) == (RtcCmos::kBSet | kBcd24));
    // Saturday 2024-06-15 12:34:56.
    const Rig::Time written{0x56, 0x34, 0x12, 7, 0x15, 0x06, 0x24, 0x20};
    r.write(RtcCmos::kSeconds, written.sec);
    r.write(RtcCmos::kMinutes, written.min);
    r.write(RtcCmos::kHours, written.hour);
    r.write(RtcCmos::kDayOfWeek, written.dow);
    r.write(RtcCmos::kDayOfMonth, written.day);
    r.write(RtcCmos::kMonth, written.month);
    r.write(RtcCmos::kYear, written.year);
    r.write(RtcCmos::kCentury, written.century);
    r.run_to(2 * kSecond + 500 * kMs);  // two updates fall while SET is held: lost
    CHECK(r.time() == written);
    CHECK(r.read(RtcCmos::kRegC) == RtcCmos::kCPeriodic);  // the chain runs on: PF, but no UF
    r.write(RtcCmos::kRegB, kBcd24);
    r.run_to(3 * kSecond - 1);
    CHECK(r.time() == written);
    r.run_to(3 * kSecond);
    CHECK(r.read(RtcCmos::kSeconds) == 0x57);
    CHECK(r.rtc.unix_time().value() == 1718454897);  // 2024-06-15 12:34:57 UTC
    r.run_to(3 * kSecond + 3600 * kSecond);
    CHECK(r.rtc.unix_time().value() == 1718454897 + 3600);
    CHECK(r.read(RtcCmos::kHours) == 0x13);
}

TEST_CASE("rtc: divider reset holds the clock; the first update comes 500 ms after release", "[devices][rtc]")
{
    constexpr u64 kLead = 244140;
    Rig r(0);
    r.run_to(200 * kMs);
    r.read(RtcCmos::kRegC);         // PF from the first 200 ms
    r.write(RtcCmos::kRegA, 0x66);  // DV = 110: reset, RS = 1024 Hz
    r.run_to(5 * kSecond);
    CHECK(r.read(RtcCmos::kSeconds) == 0x00);
    CHECK(r.read(RtcCmos::kRegA) == 0x66);   // no UIP
    CHECK(r.read(RtcCmos::kRegC) == 0x00);   // no PF, no UF: the chain is held
    r.write(RtcCmos::kRegA, 0x26);
    const u64 release = 5 * kSecond;
    // The periodic tap runs from the release too: first PF one period (32 ticks) later.
    r.run_to(release + 976562);
    CHECK(r.read(RtcCmos::kRegC) == 0x00);
    r.run_to(release + 976563);
    CHECK(r.read(RtcCmos::kRegC) == RtcCmos::kCPeriodic);
    r.run_to(release + 500 * kMs - kLead - 1);
    CHECK(r.read(RtcCmos::kRegA) == 0x26);
    r.run_to(release + 500 * kMs - kLead);
    CHECK(r.read(RtcCmos::kRegA) == 0xa6);
    r.run_to(release + 500 * kMs - 1);
    CHECK(r.read(RtcCmos::kSeconds) == 0x00);
    r.run_to(release + 500 * kMs);
    CHECK(r.read(RtcCmos::kSeconds) == 0x01);
    CHECK((r.read(RtcCmos::kRegC) & RtcCmos::kCUpdate) != 0);
    r.run_to(release + 1500 * kMs - 1);
    CHECK(r.read(RtcCmos::kSeconds) == 0x01);
    r.run_to(release + 1500 * kMs);
    CHECK(r.read(RtcCmos::kSeconds) == 0x02);

    SECTION("UIE across the release: the first update-ended edge 500 ms after")
    {
        r.write(RtcCmos::kRegA, 0x70);
        r.read(RtcCmos::kRegC);  // the flags from before
        r.write(RtcCmos::kRegB, kBcd24 | RtcCmos::kBUpdateEnable);
        r.run_to(10 * kSecond);
        CHECK(r.timers.armed_count() == 0);
        r.write(RtcCmos::kRegA, 0x20);
        const auto edges = r.edges_until(12 * kSecond);
        CHECK(edges == std::vector<u64>{10 * kSecond + 500 * kMs, 11 * kSecond + 500 * kMs});
    }
    SECTION("other divider patterns stop the oscillator; 010 resumes where it stopped")
    {
        r.run_to(10 * kSecond + 250 * kMs);  // 750 ms into the chain's second
        r.read(RtcCmos::kRegC);
        r.write(RtcCmos::kRegA, 0x36);  // 011: factory test
        r.run_to(20 * kSecond);
        CHECK(r.read(RtcCmos::kSeconds) == 0x05);
        CHECK(r.read(RtcCmos::kRegC) == 0x00);
        r.write(RtcCmos::kRegA, 0x26);
        r.run_to(20 * kSecond + 250 * kMs - 1);
        CHECK(r.read(RtcCmos::kSeconds) == 0x05);
        r.run_to(20 * kSecond + 250 * kMs);
        CHECK(r.read(RtcCmos::kSeconds) == 0x06);
    }
}

TEST_CASE("rtc: periodic interrupts: edges per second at RS 3, 6, 15, on exact deadlines", "[devices][rtc]")
{
    struct Rate {
        u8 rs;
        u64 period_ticks;
        usize edges_per_second;
    };
    const Rate rates[] = {{3, 4, 8192}, {6, 32, 1024}, {15, 16384, 2}, {1, 128, 256}, {2, 256, 128}};
    for (const Rate& rate : rates) {
        Rig r(0);
        r.write(RtcCmos::kRegA, static_cast<u8>(RtcCmos::kADividerNormal | rate.rs));
        r.write(RtcCmos::kRegB, kBcd24 | RtcCmos::kBPeriodicEnable);
        std::vector<u8> c_values;
        const auto edges = r.edges_until(kSecond, &c_values);
        REQUIRE(edges.size() == rate.edges_per_second);
        for (usize k = 0; k < edges.size(); ++k) {
            // Edge k+1 of the tap: the first ns at which (k+1) periods of
            // 1/32768 s have passed. No drift over the second.
            const u64 ticks = (k + 1) * rate.period_ticks;
            REQUIRE(edges[k] == (ticks * kSecond + 32767) / 32768);
        }
        CHECK(c_values.front() == (RtcCmos::kCIrq | RtcCmos::kCPeriodic));
        // The last edge coincides with the update: UF is set too (UIE is off).
        CHECK(c_values.back() == (RtcCmos::kCIrq | RtcCmos::kCPeriodic | RtcCmos::kCUpdate));
        CHECK(r.line.raises == static_cast<int>(rate.edges_per_second));
        CHECK(r.line.lowers == static_cast<int>(rate.edges_per_second));
    }
}

TEST_CASE("rtc: periodic flag without PIE is polled; no timer", "[devices][rtc]")
{
    Rig r(0);
    r.write(RtcCmos::kRegA, RtcCmos::kADividerNormal | 3);
    CHECK(r.timers.armed_count() == 0);
    r.run_to(122070);
    CHECK(r.read(RtcCmos::kRegC) == 0x00);
    r.run_to(122071);
    CHECK(r.read(RtcCmos::kRegC) == RtcCmos::kCPeriodic);
    CHECK(r.read(RtcCmos::kRegC) == 0x00);  // read clears
    r.run_to(5 * kSecond);
    CHECK(r.read(RtcCmos::kRegC) == (RtcCmos::kCPeriodic | RtcCmos::kCUpdate));
    CHECK(r.timers.armed_count() == 0);
    CHECK(r.line.raises == 0);
    // Enabling PIE with PF already set asserts IRQ at once (IRQF = PF & PIE);
    // clearing PIE releases it.
    r.run_to(6 * kSecond);
    r.write(RtcCmos::kRegB, kBcd24 | RtcCmos::kBPeriodicEnable);
    CHECK(r.line.level);
    CHECK(r.line.raises == 1);
    r.write(RtcCmos::kRegB, kBcd24);
    CHECK_FALSE(r.line.level);
    // RS = 0: no periodic flag at all.
    r.write(RtcCmos::kRegA, RtcCmos::kADividerNormal);
    r.read(RtcCmos::kRegC);
    r.run_to(6 * kSecond + 900 * kMs);
    CHECK(r.read(RtcCmos::kRegC) == 0x00);
}

TEST_CASE("rtc: update-ended interrupt; register C read clears and lowers IRQ8", "[devices][rtc]")
{
    Rig r(0);
    r.write(RtcCmos::kRegA, RtcCmos::kADividerNormal);  // no periodic flag
    r.write(RtcCmos::kRegB, kBcd24 | RtcCmos::kBUpdateEnable);
    CHECK(r.timers.earliest() == kSecond);
    r.run_to(kSecond);
    CHECK(r.line.level);
    CHECK(r.line.raises == 1);
    // IRQF stays set until C is read: no timer, no second edge.
    CHECK(r.timers.armed_count() == 0);
    r.run_to(2 * kSecond + 500 * kMs);
    CHECK(r.line.raises == 1);
    CHECK(r.read(RtcCmos::kRegC) == (RtcCmos::kCIrq | RtcCmos::kCUpdate));
    CHECK_FALSE(r.line.level);
    CHECK(r.line.lowers == 1);
    CHECK(r.read(RtcCmos::kRegC) == 0x00);
    CHECK(r.timers.earliest() == 3 * kSecond);
    std::vector<u8> c_values;
    const auto edges = r.edges_until(5 * kSecond, &c_values);
    CHECK(edges == std::vector<u64>{3 * kSecond, 4 * kSecond, 5 * kSecond});
    CHECK(c_values == std::vector<u8>(3, RtcCmos::kCIrq | RtcCmos::kCUpdate));
    // Writes to C and D are ignored; D reads VRT.
    r.write(RtcCmos::kRegC, 0xff);
    r.write(RtcCmos::kRegD, 0x00);
    CHECK(r.read(RtcCmos::kRegC) == 0x00);
    CHECK(r.read(RtcCmos::kRegD) == RtcCmos::kDValidRamAndTime);
    CHECK_FALSE(r.line.level);
}

TEST_CASE("rtc: alarm interrupts with don't-care bytes", "[devices][rtc]")
{
    Rig r(1704067200);  // 2024-01-01 00:00:00
    r.write(RtcCmos::kRegA, RtcCmos::kADividerNormal);
    const u8 af = RtcCmos::kCIrq | RtcCmos::kCAlarm | RtcCmos::kCUpdate;

    SECTION("seconds = 30, minutes and hours don't care: once a minute")
    {
        r.write(RtcCmos::kSecondsAlarm, 0x30);
        r.write(RtcCmos::kMinutesAlarm, 0xc0);
        r.write(RtcCmos::kHoursAlarm, 0xff);
        r.write(RtcCmos::kRegB, kBcd24 | RtcCmos::kBAlarmEnable);
        CHECK(r.timers.earliest() == 30 * kSecond);  // one timer, straight to the match
        std::vector<u8> c_values;
        const auto edges = r.edges_until(200 * kSecond, &c_values);
        CHECK(edges == std::vector<u64>{30 * kSecond, 90 * kSecond, 150 * kSecond});
        CHECK(c_values == std::vector<u8>(3, af));
    }
    SECTION("all three don't care: every second")
    {
        r.write(RtcCmos::kSecondsAlarm, 0xc0);
        r.write(RtcCmos::kMinutesAlarm, 0xc0);
        r.write(RtcCmos::kHoursAlarm, 0xc0);
        r.write(RtcCmos::kRegB, kBcd24 | RtcCmos::kBAlarmEnable);
        CHECK(r.edges_until(3 * kSecond) == std::vector<u64>{kSecond, 2 * kSecond, 3 * kSecond});
    }
    SECTION("minutes = 05, seconds and hours don't care: 60 edges in minute 05 of each hour")
    {
        r.write(RtcCmos::kSecondsAlarm, 0xc0);
        r.write(RtcCmos::kMinutesAlarm, 0x05);
        r.write(RtcCmos::kHoursAlarm, 0xc0);
        r.write(RtcCmos::kRegB, kBcd24 | RtcCmos::kBAlarmEnable);
        const auto edges = r.edges_until(2 * 3600 * kSecond);
        REQUIRE(edges.size() == 120);
        CHECK(edges[0] == 5 * 60 * kSecond);
        CHECK(edges[59] == (5 * 60 + 59) * kSecond);
        CHECK(edges[60] == (3600 + 5 * 60) * kSecond);
    }
    SECTION("a full alarm time, 12-hour mode: 6:30:15 PM, the next day when already past")
    {
        r.set_time(kBcd12, {0x00, 0x31, 0x86, 2, 0x01, 0x01, 0x24, 0x20});  // 6:31:00 PM
        r.write(RtcCmos::kSecondsAlarm, 0x15);
        r.write(RtcCmos::kMinutesAlarm, 0x30);
        r.write(RtcCmos::kHoursAlarm, 0x86);
        r.write(RtcCmos::kRegB, kBcd12 | RtcCmos::kBAlarmEnable);
        const u64 expected = (86400 - 60 + 15) * kSecond;
        CHECK(r.timers.earliest() == expected);
        const auto edges = r.edges_until(2 * 86400 * kSecond);
        CHECK(edges == std::vector<u64>{expected, expected + 86400 * kSecond});
        CHECK(r.read(RtcCmos::kDayOfMonth) == 0x03);
    }
    SECTION("polled alarm flag after a long idle gap, no timer")
    {
        r.write(RtcCmos::kSecondsAlarm, 0x00);
        r.write(RtcCmos::kMinutesAlarm, 0x30);
        r.write(RtcCmos::kHoursAlarm, 0x06);
        r.read(RtcCmos::kRegC);
        r.run_to(6 * 3600 * kSecond + 30 * 60 * kSecond - 1);
        CHECK(r.read(RtcCmos::kRegC) == RtcCmos::kCUpdate);
        r.run_to(6 * 3600 * kSecond + 30 * 60 * kSecond);
        CHECK(r.read(RtcCmos::kRegC) == (RtcCmos::kCAlarm | RtcCmos::kCUpdate));
        r.run_to(3 * 86400 * kSecond);
        CHECK(r.read(RtcCmos::kRegC) == (RtcCmos::kCAlarm | RtcCmos::kCUpdate));
        CHECK(r.timers.armed_count() == 0);
        CHECK(r.line.raises == 0);
        // Enabling AIE now asserts IRQ at once: AF is set (and unread).
        r.run_to(3 * 86400 * kSecond + 6 * 3600 * kSecond + 30 * 60 * kSecond + 1);
        r.write(RtcCmos::kRegB, kBcd24 | RtcCmos::kBAlarmEnable);
        CHECK(r.line.level);
    }
    SECTION("an alarm byte that no time matches (invalid BCD) never fires and arms nothing")
    {
        r.write(RtcCmos::kSecondsAlarm, 0x7a);
        r.write(RtcCmos::kMinutesAlarm, 0xc0);
        r.write(RtcCmos::kHoursAlarm, 0xc0);
        r.write(RtcCmos::kRegB, kBcd24 | RtcCmos::kBAlarmEnable);
        CHECK(r.timers.armed_count() == 0);
        r.run_to(2 * 86400 * kSecond);
        CHECK(r.read(RtcCmos::kRegC) == RtcCmos::kCUpdate);
    }
    SECTION("SET: no updates, so no alarm")
    {
        r.write(RtcCmos::kSecondsAlarm, 0xc0);
        r.write(RtcCmos::kMinutesAlarm, 0xc0);
        r.write(RtcCmos::kHoursAlarm, 0xc0);
        r.write(RtcCmos::kRegB, RtcCmos::kBSet | kBcd24 | RtcCmos::kBAlarmEnable);
        CHECK(r.timers.armed_count() == 0);
        r.run_to(10 * kSecond);
        CHECK(r.read(RtcCmos::kRegC) == 0x00);
    }
}

TEST_CASE("rtc: guest nonsense: out-of-range values stored, counted the model's way", "[devices][rtc]")
{
    Rig r(0);
    SECTION("invalid BCD seconds read back, then wrap with a minute carried")
    {
        r.set_time(kBcd24, {0x5a, 0x10, 0x08, 2, 0x15, 0x03, 0x21, 0x20});
        CHECK(r.read(RtcCmos::kSeconds) == 0x5a);
        CHECK(r.rtc.unix_time().status() == Status::BAD_STATE);
        r.run_to(kSecond);
        CHECK(r.read(RtcCmos::kSeconds) == 0x00);
        CHECK(r.read(RtcCmos::kMinutes) == 0x11);
        CHECK(r.rtc.unix_time().ok());
    }
    SECTION("hour 0 and hour 13 in 12-hour mode")
    {
        r.set_time(kBcd12, {0x59, 0x59, 0x00, 2, 0x15, 0x03, 0x21, 0x20});
        CHECK(r.read(RtcCmos::kHours) == 0x00);
        r.run_to(kSecond);
        CHECK(r.read(RtcCmos::kHours) == 0x01);  // counts on into range
        CHECK(r.read(RtcCmos::kDayOfMonth) == 0x15);
        r.set_time(kBcd12, {0x59, 0x59, 0x13, 2, 0x15, 0x03, 0x21, 0x20});
        CHECK(r.read(RtcCmos::kHours) == 0x13);
        r.run_to(2 * kSecond);
        CHECK(r.read(RtcCmos::kHours) == 0x12);  // beyond its range: wraps to 12 AM, a day carried
        CHECK(r.read(RtcCmos::kDayOfMonth) == 0x16);
    }
    SECTION("day 31 in a 30-day month rolls over to the 1st of the next")
    {
        r.set_time(kBcd24, {0x59, 0x59, 0x23, 5, 0x31, 0x04, 0x24, 0x20});
        CHECK(r.read(RtcCmos::kDayOfMonth) == 0x31);
        r.run_to(kSecond);
        CHECK(r.time() == Rig::Time{0x00, 0x00, 0x00, 6, 0x01, 0x05, 0x24, 0x20});
    }
    SECTION("month 13 and weekday 0")
    {
        r.set_time(kBcd24, {0x59, 0x59, 0x23, 0, 0x31, 0x13, 0x24, 0x20});
        r.run_to(kSecond);
        CHECK(r.time() == Rig::Time{0x00, 0x00, 0x00, 1, 0x01, 0x01, 0x25, 0x20});
    }
    SECTION("garbage everywhere: one update brings it into range; then exact over centuries")
    {
        r.set_time(kBin24, {0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, 0x88});
        CHECK(r.time() == Rig::Time{0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, 0x88});
        r.run_to(kSecond);
        // Every counter was beyond its range: each wrapped and carried, down
        // to the century: 0000-01-01 00:00:00, weekday 1.
        CHECK(r.time() == Rig::Time{0, 0, 0, 1, 1, 1, 0, 0});
        r.run_to(kSecond + 366 * 86400 * kSecond);  // year 0 is a leap year (divisible by 400)
        CHECK(r.time() == Rig::Time{0, 0, 0, 3, 1, 1, 1, 0});
        // 400 Gregorian years are 146097 days, a whole number of weeks.
        r.run_to(kSecond + u64{146097} * 86400 * kSecond);
        CHECK(r.time() == Rig::Time{0, 0, 0, 1, 1, 1, 0, 4});
    }
    SECTION("index bits 6:0 only; port 0x70 reads 0xff")
    {
        r.write(0x8e, 0x5a);  // index 0x0E
        CHECK(r.read(0x0e) == 0x5a);
        r.write(0xff, 0xa5);  // index 0x7F
        CHECK(r.read(0x7f) == 0xa5);
        CHECK(r.rtc.pio_read(RtcCmos::kIndexPort, 1) == 0xff);
    }
}

TEST_CASE("rtc: NMI mask is port 0x70 bit 7 as last written", "[devices][rtc]")
{
    Rig r(0);
    CHECK_FALSE(r.rtc.nmi_masked());
    r.rtc.pio_write(RtcCmos::kIndexPort, 1, 0x80 | RtcCmos::kRegD);
    CHECK(r.rtc.nmi_masked());
    CHECK(r.rtc.pio_read(RtcCmos::kDataPort, 1) == RtcCmos::kDValidRamAndTime);  // index 0x0D all the same
    CHECK(r.rtc.nmi_masked());  // data accesses leave it
    r.rtc.pio_write(RtcCmos::kIndexPort, 1, RtcCmos::kSeconds);
    CHECK_FALSE(r.rtc.nmi_masked());
}

TEST_CASE("rtc: NVRAM memory-size bytes and checksum", "[devices][rtc]")
{
    struct Expect {
        u64 bytes;
        u16 extended_kib, above_16m;
        u32 above_4g;
        u16 checksum;
    };
    // Base memory 640 KiB = 0x0280 in every case; equipment byte 0x06.
    const Expect cases[] = {
        {16 * kMiB, 0x3c00, 0x0000, 0, 0x06 + 0x80 + 0x02 + 0x00 + 0x3c},
        {64 * kMiB, 0xfc00, 0x0300, 0, 0x06 + 0x80 + 0x02 + 0x00 + 0xfc},
        {3 * kGiB, 0xffff, 0xbf00, 0, 0x06 + 0x80 + 0x02 + 0xff + 0xff},
        {8 * kGiB, 0xffff, 0xbf00, 0x014000, 0x06 + 0x80 + 0x02 + 0xff + 0xff},
    };
    for (const Expect& e : cases) {
        Rig r(0);
        r.rtc.set_memory_size(e.bytes);
        CHECK(r.read(0x0f) == 0x00);  // shutdown status: normal
        CHECK(r.read(0x10) == 0x00);  // no floppy
        CHECK(r.read(0x14) == 0x06);
        CHECK(r.read(0x15) == 0x80);
        CHECK(r.read(0x16) == 0x02);
        CHECK(r.read(0x17) == (e.extended_kib & 0xff));
        CHECK(r.read(0x18) == e.extended_kib >> 8);
        CHECK(r.read(0x30) == (e.extended_kib & 0xff));
        CHECK(r.read(0x31) == e.extended_kib >> 8);
        CHECK(r.read(0x34) == (e.above_16m & 0xff));
        CHECK(r.read(0x35) == e.above_16m >> 8);
        CHECK(r.read(0x5b) == (e.above_4g & 0xff));
        CHECK(r.read(0x5c) == ((e.above_4g >> 8) & 0xff));
        CHECK(r.read(0x5d) == e.above_4g >> 16);
        CHECK(r.read(0x2e) == e.checksum >> 8);
        CHECK(r.read(0x2f) == (e.checksum & 0xff));
        u32 sum = 0;
        for (u8 i = 0x10; i <= 0x2d; ++i) sum += r.read(i);
        CHECK(sum == e.checksum);
    }
    SECTION("the MMIO hole at a caller's address: 3 GiB guest, RAM below 4 GiB ends at 2 GiB")
    {
        Rig r(0);
        r.rtc.set_memory_size(3 * kGiB, 2 * kGiB);
        CHECK(r.read(0x34) == 0x00);  // (2048 - 16) MiB / 64 KiB = 0x7F00
        CHECK(r.read(0x35) == 0x7f);
        CHECK(r.read(0x5b) == 0x00);  // 1 GiB / 64 KiB = 0x4000
        CHECK(r.read(0x5c) == 0x40);
        CHECK(r.read(0x5d) == 0x00);
    }
    SECTION("a guest write to NVRAM stays; the checksum is the BIOS's business")
    {
        Rig r(0);
        r.rtc.set_memory_size(16 * kMiB);
        r.write(0x2d, 0x42);
        CHECK(r.read(0x2d) == 0x42);
        CHECK(r.read(0x2f) == 0xc4);
    }
}

TEST_CASE("rtc: identical runs give identical register traces", "[devices][rtc]")
{
    auto trace = [] {
        Rig r(1'234'567'890);
        r.write(RtcCmos::kRegA, RtcCmos::kADividerNormal | 3);
        r.write(RtcCmos::kRegB, kBcd24 | RtcCmos::kBPeriodicEnable | RtcCmos::kBUpdateEnable);
        std::vector<u8> c_values;
        std::vector<u64> edges = r.edges_until(3 * kSecond, &c_values);
        edges.push_back(r.rtc.unix_time().value());
        for (u8 v : c_values) edges.push_back(v);
        return edges;
    };
    CHECK(trace() == trace());
}
