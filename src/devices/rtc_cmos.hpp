// The PC's real-time clock and CMOS RAM: a Motorola MC146818A (the
// Dallas DS12887 of later boards is register compatible) behind ports 0x70
// (index, write-only; bit 7 masks NMI on the PC) and 0x71 (data). 128
// bytes: 0x00-0x09 time, calendar and alarm, 0x0A-0x0D status registers A-D,
// 0x0E-0x7F battery-backed RAM that the BIOS conventions give meaning to.
//
// What is modelled:
// - The clock runs from the domain's machine clock: wall time is
//   epoch_seconds + now_ns / 1e9 (Unix time, UTC) at construction, and from
//   then on the registers count one update per second of machine time.
//   Nothing is polled: the registers are brought up to date from the time
//   elapsed whenever the guest looks (any port 0x71 access), closed-form for
//   any elapsed time when they hold a valid date, one step at a time while a
//   field holds a value out of range.
// - The 15-stage divider chain as a count of 32.768 kHz ticks since its
//   reset: an update every 32768 ticks, the periodic flag on each edge of the
//   selected tap (RS: 32768 >> (RS-1) Hz, 1 and 2 alias to 256 and 128 Hz),
//   UIP during the 8 ticks (244.140625 us; datasheet tBUC = 244 us) before
//   each update. Register A DV = 010 runs the chain; 11x holds it in reset
//   and the first update comes 500 ms after leaving reset; every other
//   pattern (000 and 001 select 4.194304 and 1.048576 MHz time bases the
//   PC's 32.768 kHz crystal cannot drive, 011 and 10x are factory tests)
//   stops it where it is, as the DS12887 stops its oscillator, and 010
//   resumes it from there. The datasheet's 1984 us update cycle is
//   collapsed to the instant UIP falls: the new time is readable as soon as
//   UIP reads 0.
// - Register B: SET inhibits updates (the ones that fall while it is set are
//   lost, so the time resumes from what the guest wrote) and clears UIP;
//   SET going high clears UIE (DS12887 data sheet). DM (binary/BCD) and
//   24/12 choose how the counters count and compare; changing them does not
//   convert the stored values (the program re-initialises the time, as on
//   the chip). DSE is stored, daylight saving is never applied: the clock
//   keeps UTC.
// - Register C: PF, AF and UF are set by the chain whatever the enable bits
//   (a guest may poll C), IRQF = PF&PIE | AF&AIE | UF&UIE; reading C returns
//   and clears them. Register D reads VRT (0x80). Writes to C and D are
//   ignored, as is bit 7 (UIP) of A.
// - IRQ8: the chip drives its IRQ pin while IRQF is set. The PC routes it to
//   the slave 8259A as an edge (ISA IRQ8), so the line is raised when IRQF
//   goes 0 -> 1 and lowered when it clears (a read of C, or the enable bit
//   cleared); a guest that never reads C gets no further interrupts, as on a
//   PC. A DeviceTimer is armed only for the next moment IRQF would go
//   0 -> 1: the next periodic edge (PIE), update (UIE) or alarm match (AIE),
//   each at its exact machine-clock time computed from the chain position,
//   so a 122 us rate costs one timer per period and never drifts.
// - The century at 0x32 (the ACPI FADT/IBM PS/2 convention) counts with the
//   year, and with it the calendar is the proleptic Gregorian one (2000 is a
//   leap year, 2100 is not). The MC146818 alone knows only two-digit years
//   (every fourth is leap); with a century byte that does not decode, that
//   is the rule used.
// - Values out of range (invalid BCD digits, hour 0 or 13 in 12-hour mode,
//   day 31 in a 30-day month) are stored as written and read back. The chip
//   documents nothing for them; this model counts them its own fixed way: a
//   counter below its range (date 0, 12-hour hour 0) counts up into it; a
//   counter at or beyond its last value (or not decodable) wraps to its
//   first value and carries, so April 31 rolls over to May 1 and seconds
//   0x5A to 0x00 with a minute carried.
// - NVRAM: plain bytes; set_memory_size fills the BIOS memory-size bytes and
//   the AT checksum. Power-on state: A = 0x26 (32.768 kHz, 1024 Hz rate, the
//   PC BIOS setting), B = 0x02 (BCD, 24-hour), alarm bytes 00:00:00, NMI
//   not masked. No reset pin (the domain has no reset), no SQW output.
#pragma once

#include "devices/irq.hpp"
#include "devices/timer_queue.hpp"
#include "lib/status.hpp"
#include "lib/types.hpp"

namespace xeno::devices {

class RtcCmos {
public:
    static constexpr u16 kIndexPort = 0x70;
    static constexpr u16 kDataPort = 0x71;
    static constexpr usize kBytes = 128;

    // Register indices (MC146818A register map; 0x32 by the PC convention).
    static constexpr u8 kSeconds = 0x00;
    static constexpr u8 kSecondsAlarm = 0x01;
    static constexpr u8 kMinutes = 0x02;
    static constexpr u8 kMinutesAlarm = 0x03;
    static constexpr u8 kHours = 0x04;
    static constexpr u8 kHoursAlarm = 0x05;
    static constexpr u8 kDayOfWeek = 0x06;  // 1 = Sunday
    static constexpr u8 kDayOfMonth = 0x07;
    static constexpr u8 kMonth = 0x08;
    static constexpr u8 kYear = 0x09;
    static constexpr u8 kRegA = 0x0a;
    static constexpr u8 kRegB = 0x0b;
    static constexpr u8 kRegC = 0x0c;
    static constexpr u8 kRegD = 0x0d;
    static constexpr u8 kShutdownStatus = 0x0f;
    static constexpr u8 kFloppyTypes = 0x10;
    static constexpr u8 kEquipment = 0x14;
    static constexpr u8 kBaseMemoryLow = 0x15;       // KiB, 0x15/0x16
    static constexpr u8 kExtendedMemoryLow = 0x17;   // KiB above 1 MiB, 0x17/0x18
    static constexpr u8 kChecksumHigh = 0x2e;        // sum of 0x10-0x2d, 0x2e/0x2f
    static constexpr u8 kChecksumLow = 0x2f;
    static constexpr u8 kExtendedMemory2Low = 0x30;  // the same again, 0x30/0x31
    static constexpr u8 kCentury = 0x32;
    static constexpr u8 kMemoryAbove16mLow = 0x34;   // 64 KiB blocks, 0x34/0x35
    static constexpr u8 kMemoryAbove4gLow = 0x5b;    // 64 KiB blocks, 0x5b-0x5d

    static constexpr u8 kAUpdateInProgress = 0x80;
    static constexpr u8 kADividerMask = 0x70;
    static constexpr u8 kADividerNormal = 0x20;  // 010: 32.768 kHz time base
    static constexpr u8 kARateMask = 0x0f;
    static constexpr u8 kBSet = 0x80;
    static constexpr u8 kBPeriodicEnable = 0x40;
    static constexpr u8 kBAlarmEnable = 0x20;
    static constexpr u8 kBUpdateEnable = 0x10;
    static constexpr u8 kBSquareWave = 0x08;
    static constexpr u8 kBBinary = 0x04;
    static constexpr u8 kB24Hour = 0x02;
    static constexpr u8 kBDaylightSaving = 0x01;
    static constexpr u8 kCIrq = 0x80;
    static constexpr u8 kCPeriodic = 0x40;
    static constexpr u8 kCAlarm = 0x20;
    static constexpr u8 kCUpdate = 0x10;
    static constexpr u8 kDValidRamAndTime = 0x80;
    static constexpr u8 kHourPm = 0x80;         // 12-hour mode
    static constexpr u8 kAlarmDontCare = 0xc0;  // alarm bytes 0xC0-0xFF match anything
    // Equipment byte: math coprocessor (bit 1) and keyboard (bit 2) present,
    // primary display "has its own BIOS" (bits 5:4 = 00: EGA/VGA), no floppy
    // (bit 0 clear) -- the IBM AT byte as later BIOSes define it.
    static constexpr u8 kEquipmentDefault = 0x06;

    static constexpr u64 kTicksPerSecond = 32768;
    static constexpr u64 kNsPerSecond = 1'000'000'000;
    static constexpr u64 kUipTicks = 8;  // UIP leads the update by 8 ticks (244.14 us)
    // Where guest RAM below 4 GiB ends when the caller does not say: the
    // last GiB is the MMIO hole (LAPIC, I/O APIC, PCI), the rest of RAM is
    // mapped from 4 GiB up.
    static constexpr u64 kDefaultBelow4gLimit = 0xc000'0000;

    RtcCmos(TimerQueue& timers, IrqLine irq8, u64 epoch_seconds);
    RtcCmos(const RtcCmos&) = delete;
    RtcCmos& operator=(const RtcCmos&) = delete;

    u32 pio_read(u16 port, u8 size);
    void pio_write(u16 port, u8 size, u32 value);

    // The BIOS memory bytes for `bytes` of guest RAM: min(bytes,
    // below_4g_limit) of it from address 0 up, the rest from 4 GiB up. Also
    // recomputes the checksum.
    void set_memory_size(u64 bytes, u64 below_4g_limit = kDefaultBelow4gLimit);

    // Port 0x70 bit 7 as last written (the PC's NMI mask).
    bool nmi_masked() const { return nmi_masked_; }
    bool irq_asserted() const { return irq_level_; }

    // The clock's time as Unix seconds, brought up to now. BAD_STATE when the
    // registers do not hold a valid date and time (the guest may write
    // anything) or a date before 1970.
    Result<u64> unix_time();

private:
    enum class Range : u8 { kInside, kBelow, kOutside };
    struct Field {
        u8 value = 0;
        Range range = Range::kOutside;
    };
    static constexpr u32 kNoMatch = ~u32{0};

    // Divider chain.
    bool running() const { return (reg_a_ & kADividerMask) == kADividerNormal; }
    bool divider_in_reset() const { return (reg_a_ & 0x60) == 0x60; }
    u64 periodic_ticks() const;
    u64 position_at(u64 now) const;
    u64 time_of_position(u64 position) const;
    bool update_in_progress(u64 now) const;

    void sync(u64 now);
    void update_irq();
    void rearm();
    static void on_timer(void* context, u64 now);
    void write_register_a(u8 value, u64 now);
    void write_register_b(u8 value);

    // Counters in the current data mode.
    bool binary() const { return (reg_b_ & kBBinary) != 0; }
    bool hours_24() const { return (reg_b_ & kB24Hour) != 0; }
    Field decode(u8 byte, u8 lo, u8 hi) const;
    u8 encode(u32 value) const;
    Field decode_hour(u8 byte) const;  // value: 0..23 in clock order
    u8 encode_hour(u32 hour) const;
    bool step_field(u8 reg, u8 lo, u8 hi);
    bool step_hour();
    bool step_time_of_day();
    void step_date();
    u8 days_in_month_of_registers() const;
    bool time_of_day_valid() const;
    bool date_valid() const;
    u32 time_of_day_seconds() const;
    void set_time_of_day(u32 seconds);
    void set_clock(u64 unix_seconds);

    // One update per elapsed second; true when the alarm matched at one.
    bool advance_clock(u64 updates);
    void advance_days(u64 days);
    bool alarm_matches() const;
    u32 first_accepted(u8 alarm, u32 from) const;
    u32 updates_until_alarm() const;

    void store_checksum();

    TimerQueue& timers_;
    IrqLine irq_;
    DeviceTimer timer_;
    u8 ram_[kBytes] = {};
    u8 index_ = 0;
    bool nmi_masked_ = false;
    u8 reg_a_ = kADividerNormal | 0x06;  // the PC BIOS setting: 1024 Hz periodic rate
    u8 reg_b_ = kB24Hour;                // BCD, 24-hour
    u8 flags_ = 0;                       // register C's PF, AF, UF
    bool irq_level_ = false;
    // The chain is at position chain_ticks_ at machine time chain_ns_ and,
    // while running, counts 32768 ticks per second from there.
    u64 chain_ns_ = 0;
    u64 chain_ticks_ = 0;
    u64 synced_position_ = 0;  // the registers and flags are up to this position
};

}  // namespace xeno::devices
