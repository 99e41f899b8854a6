// The ACPI PM register block against ACPI 6.4, 4.8.3 (Fixed Hardware
// Registers): the 24-bit 3.579545 MHz PM timer, TMR_STS on bit 23 toggles,
// SCI, write-1-to-clear status, PM1_CNT and SLP_EN, byte lanes.
#include "devices/acpi_pm.hpp"

#include <catch2/catch.hpp>
#include <vector>

using namespace xeno;
using namespace xeno::devices;

namespace {

constexpr u64 kHz = 3579545;
// Tick k of the PM timer happens at ceil(k * 10^9 / 3579545) ns.
constexpr u64 pm_ns(u64 k) { return (k * 1000000000ull + kHz - 1) / kHz; }
constexpr u64 kToggle = u64{1} << 23;  // ticks between bit-23 toggles

struct Clock {
    u64 now = 0;
    static u64 read(void* c) { return static_cast<Clock*>(c)->now; }
};

struct SciLog {
    const Clock* clock = nullptr;
    bool level = false;
    std::vector<u64> rises;
    std::vector<u64> falls;
    static void set(void* c, u32, bool level)
    {
        auto* self = static_cast<SciLog*>(c);
        if (level && !self->level) self->rises.push_back(self->clock->now);
        if (!level && self->level) self->falls.push_back(self->clock->now);
        self->level = level;
    }
};

struct Sleeps {
    std::vector<u8> types;
    static void on_sleep(void* c, u8 slp_typ) { static_cast<Sleeps*>(c)->types.push_back(slp_typ); }
};

constexpr u16 kBase = 0x600;

struct Rig {
    Clock clock;
    TimerQueue timers{&Clock::read, &clock};
    SciLog sci{&clock, false, {}, {}};
    AcpiPm pm{timers, IrqLine{&SciLog::set, &sci, 9}, kBase};

    void run_to(u64 ns)
    {
        while (timers.earliest() <= ns) {
            clock.now = timers.earliest();
            timers.run_expired(clock.now);
        }
        clock.now = ns;
    }
    u32 in(u16 offset, u8 size) { return pm.pio_read(static_cast<u16>(kBase + offset), size); }
    void out(u16 offset, u8 size, u32 value) { pm.pio_write(static_cast<u16>(kBase + offset), size, value); }
    u16 status() { return static_cast<u16>(in(0, 2)); }
};

}  // namespace

TEST_CASE("acpi pm: timer values at exact times, 24 bits, wrap at 2^24", "[devices][acpi_pm]")
{
    Rig r;
    CHECK(r.pm.base() == 0x600);
    CHECK(r.in(8, 4) == 0);
    r.clock.now = 1000000000;
    CHECK(r.in(8, 4) == 3579545);
    r.clock.now = pm_ns(12345);
    CHECK(r.in(8, 4) == 12345);
    r.clock.now = pm_ns(12345) - 1;
    CHECK(r.in(8, 4) == 12344);
    r.clock.now = pm_ns((u64{1} << 24) - 1);
    CHECK(r.in(8, 4) == 0xffffff);
    r.clock.now = pm_ns(u64{1} << 24);
    CHECK(r.in(8, 4) == 0);  // 24 bits: the top byte reads 0
    r.clock.now = pm_ns((u64{1} << 24) + 5);
    CHECK(r.in(8, 4) == 5);
    r.clock.now = pm_ns(7 * (u64{1} << 24) + 0x123456);  // ~32.8 s in
    CHECK(r.in(8, 4) == 0x123456);
    CHECK(r.pm.timer_value() == 0x123456);

    // Byte lanes of the timer, one sample per access.
    CHECK(r.in(8, 1) == 0x56);
    CHECK(r.in(9, 1) == 0x34);
    CHECK(r.in(10, 1) == 0x12);
    CHECK(r.in(11, 1) == 0x00);
    CHECK(r.in(9, 2) == 0x1234);
    CHECK(r.in(10, 4) == 0xffff0012);  // lanes past the block float
    // Read-only.
    r.out(8, 4, 0);
    CHECK(r.in(8, 4) == 0x123456);
    // A day of machine time still counts on the same grid.
    r.clock.now = 86400ull * 1000000000;
    CHECK(r.in(8, 4) == ((86400ull * kHz) & 0xffffff));
}

TEST_CASE("acpi pm: TMR_STS is set each time bit 23 toggles, even with TMR_EN clear", "[devices][acpi_pm]")
{
    Rig r;
    r.clock.now = pm_ns(kToggle) - 1;
    CHECK((r.status() & AcpiPm::kTmrSts) == 0);
    r.clock.now = pm_ns(kToggle);  // bit 23: 0 -> 1
    CHECK((r.status() & AcpiPm::kTmrSts) != 0);
    r.out(0, 2, 0x0000);  // writing 0 clears nothing
    CHECK((r.status() & AcpiPm::kTmrSts) != 0);
    r.out(0, 2, AcpiPm::kTmrSts);
    CHECK((r.status() & AcpiPm::kTmrSts) == 0);
    r.clock.now = pm_ns(2 * kToggle) - 1;
    CHECK((r.status() & AcpiPm::kTmrSts) == 0);
    r.clock.now = pm_ns(2 * kToggle);  // bit 23: 1 -> 0 (the wrap) toggles too
    CHECK((r.status() & AcpiPm::kTmrSts) != 0);
    CHECK(r.timers.armed_count() == 0);  // no timer without TMR_EN
    CHECK(r.sci.rises.empty());
}

TEST_CASE("acpi pm: TMR_EN raises the SCI at the toggle; clearing the status lowers it", "[devices][acpi_pm]")
{
    Rig r;
    r.clock.now = 1000;
    r.out(2, 2, AcpiPm::kTmrEn);
    CHECK(r.in(2, 2) == AcpiPm::kTmrEn);
    CHECK(r.timers.armed_count() == 1);
    CHECK(r.timers.earliest() == pm_ns(kToggle));
    r.run_to(pm_ns(kToggle) - 1);
    CHECK_FALSE(r.pm.sci_asserted());
    r.run_to(pm_ns(3 * kToggle));
    REQUIRE(r.sci.rises.size() == 1);
    CHECK(r.sci.rises[0] == pm_ns(kToggle));  // at the exact toggle
    CHECK(r.pm.sci_asserted());               // level: held until the status is cleared
    r.out(0, 2, AcpiPm::kTmrSts);
    CHECK_FALSE(r.pm.sci_asserted());
    CHECK(r.sci.falls.back() == pm_ns(3 * kToggle));
    r.run_to(pm_ns(4 * kToggle));
    REQUIRE(r.sci.rises.size() == 2);
    CHECK(r.sci.rises[1] == pm_ns(4 * kToggle));
    // Disabling TMR_EN drops the SCI (the status stays) and the timer.
    r.out(2, 2, 0);
    CHECK_FALSE(r.pm.sci_asserted());
    CHECK((r.status() & AcpiPm::kTmrSts) != 0);
    CHECK(r.timers.armed_count() == 0);
    // Enabling it with the status already set raises the SCI at once.
    r.out(2, 2, AcpiPm::kTmrEn);
    CHECK(r.pm.sci_asserted());
}

TEST_CASE("acpi pm: PM1_STS write-1-to-clear, PM1_EN reserved bits, fixed events", "[devices][acpi_pm]")
{
    Rig r;
    r.out(2, 2, 0xffff);
    CHECK(r.in(2, 2) == 0x0721);  // TMR_EN, GBL_EN, PWRBTN_EN, SLPBTN_EN, RTC_EN
    r.out(2, 2, 0);
    r.pm.press_power_button();
    CHECK(r.status() == AcpiPm::kPwrBtnSts);
    CHECK_FALSE(r.pm.sci_asserted());  // not enabled
    r.out(2, 2, AcpiPm::kPwrBtnEn);
    CHECK(r.pm.sci_asserted());
    r.out(0, 2, AcpiPm::kSlpBtnSts);  // another bit: nothing cleared
    CHECK(r.status() == AcpiPm::kPwrBtnSts);
    r.out(0, 2, AcpiPm::kPwrBtnSts);
    CHECK(r.status() == 0);
    CHECK_FALSE(r.pm.sci_asserted());

    r.pm.press_sleep_button();
    r.pm.rtc_alarm();
    CHECK(r.status() == (AcpiPm::kSlpBtnSts | AcpiPm::kRtcSts));
    CHECK_FALSE(r.pm.sci_asserted());
    // A 4-byte write at +0 is PM1_STS (low half) and PM1_EN (high half).
    r.out(0, 4, (u32{AcpiPm::kRtcEn} << 16) | AcpiPm::kSlpBtnSts);
    CHECK(r.status() == AcpiPm::kRtcSts);
    CHECK(r.in(2, 2) == AcpiPm::kRtcEn);
    CHECK(r.pm.sci_asserted());
    CHECK(r.in(0, 4) == ((u32{AcpiPm::kRtcEn} << 16) | AcpiPm::kRtcSts));
    // A 2-byte write at +1: PM1_STS's high byte and PM1_EN's low byte.
    r.pm.press_power_button();
    r.out(1, 2, 0x2105);  // clear bits 8 and 10; PM1_EN low byte = TMR_EN | GBL_EN
    CHECK(r.status() == 0);
    CHECK(r.in(2, 2) == (AcpiPm::kRtcEn | AcpiPm::kGblEn | AcpiPm::kTmrEn));
    CHECK(r.in(2, 1) == 0x21);
    CHECK(r.in(3, 1) == 0x04);
    CHECK_FALSE(r.pm.sci_asserted());
    // All ones clears everything; reserved status bits never read set.
    r.pm.press_power_button();
    r.out(0, 2, 0xffff);
    CHECK(r.status() == 0);
}

TEST_CASE("acpi pm: PM1_CNT: SCI_EN reads 1, SLP_TYP stored, SLP_EN calls the handler", "[devices][acpi_pm]")
{
    Rig r;
    Sleeps sleeps;
    CHECK(r.in(4, 2) == AcpiPm::kSciEn);
    r.out(4, 2, 0);  // ACPI mode cannot be left: there is no SMM
    CHECK(r.in(4, 2) == AcpiPm::kSciEn);
    // SLP_EN without a handler: nothing breaks.
    r.out(4, 2, AcpiPm::kSlpEn);
    r.pm.set_sleep_handler(&Sleeps::on_sleep, &sleeps);

    r.out(4, 2, AcpiPm::kBmRld | AcpiPm::kGblRls | (3u << 10));
    CHECK(r.in(4, 2) == (AcpiPm::kSciEn | AcpiPm::kBmRld | (3u << 10)));  // GBL_RLS is write-only
    CHECK(sleeps.types.empty());
    r.out(4, 2, 0xc3fa);  // BM_RLD kept; reserved bits 3-9, 14, 15 ignored; SLP_TYP cleared
    CHECK(r.in(4, 2) == (AcpiPm::kSciEn | AcpiPm::kBmRld));
    CHECK(r.in(4, 4) == (0xffff0000u | AcpiPm::kSciEn | AcpiPm::kBmRld));  // +6, +7 hold no register

    // Soft off: SLP_TYP = kSlpTypS5 with SLP_EN.
    r.out(4, 2, (r.in(4, 2) & ~AcpiPm::kSlpTypMask) | (AcpiPm::kSlpTypS5 << 10) | AcpiPm::kSlpEn);  // OSPM's read-modify-write
    REQUIRE(sleeps.types.size() == 1);
    CHECK(sleeps.types[0] == AcpiPm::kSlpTypS5);
    CHECK((r.in(4, 2) & AcpiPm::kSlpEn) == 0);  // write-only
    CHECK((r.status() & AcpiPm::kWakSts) == 0);

    // An undeclared sleep type, byte-wide on the high lane (SLP_TYP 5 | SLP_EN):
    // the model wakes at once and reports WAK_STS.
    r.out(5, 1, 0x20 | (5u << 2));
    REQUIRE(sleeps.types.size() == 2);
    CHECK(sleeps.types[1] == 5);
    CHECK(r.in(4, 2) == (AcpiPm::kSciEn | AcpiPm::kBmRld | (5u << 10)));
    CHECK((r.status() & AcpiPm::kWakSts) != 0);
    r.out(0, 2, AcpiPm::kWakSts);
    CHECK(r.status() == 0);
    // Writing the low byte alone never sleeps.
    r.out(4, 1, 0xff);
    CHECK(sleeps.types.size() == 2);
}

TEST_CASE("acpi pm: accesses outside the registers", "[devices][acpi_pm]")
{
    Rig r;
    CHECK(r.in(6, 2) == 0xffff);
    r.out(6, 2, 0xffff);
    CHECK(r.in(4, 2) == AcpiPm::kSciEn);
    CHECK(r.pm.pio_read(kBase - 1, 1) == 0xff);  // not in the block (a misrouted access)
    CHECK(r.pm.pio_read(kBase + 12, 4) == 0xffffffff);
    r.pm.pio_write(kBase + 12, 4, 0xffffffff);
    CHECK(r.in(0, 4) == 0);
    // A constructor at a later time does not report toggles from before it.
    Clock clock{pm_ns(5 * kToggle + 1)};
    TimerQueue timers(&Clock::read, &clock);
    AcpiPm late(timers, IrqLine{}, 0xb000);
    CHECK(late.pio_read(0xb000, 2) == 0);
    CHECK(late.pio_read(0xb008, 4) == ((5 * kToggle + 1) & 0xffffff));
}
