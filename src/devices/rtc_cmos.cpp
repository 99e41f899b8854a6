#include "devices/rtc_cmos.hpp"

#include "lib/bits.hpp"

namespace xeno::devices {

namespace {

constexpr u32 kSecondsPerDay = 86400;
constexpr u64 kKiB = 1024;
constexpr u64 kMiB = 1024 * kKiB;
constexpr u64 kGiB = 1024 * kMiB;
// The chain position on leaving divider reset: half a second before the
// first update (MC146818A: "the first update cycle begins one-half second
// later").
constexpr u64 kResetReleasePosition = RtcCmos::kTicksPerSecond / 2;

constexpr u64 muldiv64_ceil(u64 a, u64 b, u64 c)
{
    const unsigned __int128 product = static_cast<unsigned __int128>(a) * b;
    return static_cast<u64>((product + c - 1) / c);
}

constexpr u64 min_u64(u64 a, u64 b) { return a < b ? a : b; }

// --- The proleptic Gregorian calendar ---------------------------------------
// Days are counted from 1970-01-01. Years are counted from March so that the
// leap day is the last day of a year; 400 Gregorian years are exactly
// 146097 days, which brings every date into one 400-year era.

constexpr bool gregorian_leap(u64 year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

constexpr i64 kDaysPerEra = 146097;
constexpr i64 kDaysFromYear0March1To1970 = 719468;

constexpr i64 floor_div(i64 a, i64 b) { return (a >= 0 ? a : a - (b - 1)) / b; }

constexpr i64 days_from_civil(i64 year, u32 month, u32 day)
{
    const i64 march_year = month <= 2 ? year - 1 : year;
    const i64 era = floor_div(march_year, 400);
    const i64 year_of_era = march_year - era * 400;                  // 0..399
    const i64 month_from_march = month >= 3 ? month - 3 : month + 9;  // 0..11
    // Month lengths from March run 31 30 31 30 31 | 31 30 31 30 31 | 31 28:
    // (153 * m + 2) / 5 is the number of days before month m of that run.
    const i64 day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    const i64 day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * kDaysPerEra + day_of_era - kDaysFromYear0March1To1970;
}

struct CivilDate {
    i64 year;
    u32 month;
    u32 day;
};

constexpr CivilDate civil_from_days(i64 days)
{
    const i64 from_year0 = days + kDaysFromYear0March1To1970;
    const i64 era = floor_div(from_year0, kDaysPerEra);
    const i64 day_of_era = from_year0 - era * kDaysPerEra;  // 0..146096
    // Remove the leap days before this one (one every 4 years, except the
    // 100th, except the 400th) to get whole 365-day years.
    const i64 year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    const i64 day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    const i64 month_from_march = (5 * day_of_year + 2) / 153;
    const u32 day = static_cast<u32>(day_of_year - (153 * month_from_march + 2) / 5 + 1);
    const u32 month = static_cast<u32>(month_from_march < 10 ? month_from_march + 3 : month_from_march - 9);
    const i64 year = era * 400 + year_of_era + (month <= 2 ? 1 : 0);
    return {year, month, day};
}

static_assert(days_from_civil(1970, 1, 1) == 0);
static_assert(days_from_civil(2000, 3, 1) == 11017);
static_assert(civil_from_days(11016).month == 2 && civil_from_days(11016).day == 29);
static_assert(civil_from_days(days_from_civil(2100, 3, 1) - 1).day == 28);

constexpr u8 kDaysInMonth[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

constexpr bool alarm_accepts(u8 alarm, u8 value)
{
    return (alarm & RtcCmos::kAlarmDontCare) == RtcCmos::kAlarmDontCare || alarm == value;
}

}  // namespace

RtcCmos::RtcCmos(TimerQueue& timers, IrqLine irq8, u64 epoch_seconds)
    : timers_(timers), irq_(irq8), timer_(&RtcCmos::on_timer, this)
{
    // The chain has been running since machine time 0 (its position 0), so
    // updates fall on whole seconds of machine time and the clock reads
    // epoch_seconds + now / 1e9.
    const u64 now = timers_.now();
    synced_position_ = position_at(now);
    set_clock(epoch_seconds + now / kNsPerSecond);
    ram_[kShutdownStatus] = 0;
    ram_[kFloppyTypes] = 0;
    ram_[kEquipment] = kEquipmentDefault;
    store_checksum();
}

// --- Ports ------------------------------------------------------------------

u32 RtcCmos::pio_read(u16 port, u8 /*size*/)
{
    if (port != kDataPort) return 0xff;  // the index register is write-only
    const u64 now = timers_.now();
    sync(now);
    u8 value = 0;
    switch (index_) {
    case kRegA: value = static_cast<u8>(reg_a_ | (update_in_progress(now) ? kAUpdateInProgress : 0)); break;
    case kRegB: value = reg_b_; break;
    case kRegC:
        value = static_cast<u8>(flags_ | (irq_level_ ? kCIrq : 0));
        flags_ = 0;  // reading C clears every flag and so IRQF
        update_irq();
        break;
    case kRegD: value = kDValidRamAndTime; break;
    default: value = ram_[index_]; break;
    }
    rearm();
    return value;
}

void RtcCmos::pio_write(u16 port, u8 /*size*/, u32 value)
{
    const u8 byte = static_cast<u8>(value);
    if (port != kDataPort) {
        // Only 7 index bits reach the chip: 0x80-0xFF alias 0x00-0x7F.
        index_ = byte & 0x7f;
        nmi_masked_ = (byte & 0x80) != 0;
        return;
    }
    const u64 now = timers_.now();
    sync(now);
    switch (index_) {
    case kRegA: write_register_a(byte, now); break;
    case kRegB: write_register_b(byte); break;
    case kRegC:
    case kRegD: break;  // read-only
    default: ram_[index_] = byte; break;
    }
    update_irq();
    rearm();
}

void RtcCmos::write_register_a(u8 value, u64 now)
{
    const bool was_running = running();
    reg_a_ = value & static_cast<u8>(~kAUpdateInProgress);  // UIP is read-only
    if (divider_in_reset()) {
        // Held in reset: the chain restarts half a second before an update.
        chain_ticks_ = kResetReleasePosition;
        synced_position_ = kResetReleasePosition;
    } else if (was_running && !running()) {
        chain_ticks_ = synced_position_;  // stopped where it is
    }
    if (!was_running && running()) chain_ns_ = now;
}

void RtcCmos::write_register_b(u8 value)
{
    // SET going high aborts the update (UIP reads 0 from now: computed) and
    // clears UIE (DS12887 data sheet, register B).
    const bool set_rising = (value & kBSet) && !(reg_b_ & kBSet);
    reg_b_ = value;
    if (set_rising) reg_b_ &= static_cast<u8>(~kBUpdateEnable);
}

// --- The divider chain --------------------------------------------------------

u64 RtcCmos::periodic_ticks() const
{
    // RS = n selects 32768 >> (n-1) Hz, a period of 2^(n-1) ticks; RS 1 and
    // 2 select the same taps as 8 and 9 with a 32.768 kHz time base.
    u32 rate = reg_a_ & kARateMask;
    if (rate == 0) return 0;
    if (rate <= 2) rate += 7;
    return u64{1} << (rate - 1);
}

u64 RtcCmos::position_at(u64 now) const
{
    if (!running()) return chain_ticks_;
    const u64 elapsed = now > chain_ns_ ? now - chain_ns_ : 0;
    return chain_ticks_ + muldiv64(elapsed, kTicksPerSecond, kNsPerSecond);
}

u64 RtcCmos::time_of_position(u64 position) const
{
    // The first nanosecond at which the chain has reached `position`.
    return chain_ns_ + muldiv64_ceil(position - chain_ticks_, kNsPerSecond, kTicksPerSecond);
}

bool RtcCmos::update_in_progress(u64 now) const
{
    if (!running() || (reg_b_ & kBSet)) return false;
    return position_at(now) % kTicksPerSecond >= kTicksPerSecond - kUipTicks;
}

// Brings the registers and flags from synced_position_ up to `now`.
void RtcCmos::sync(u64 now)
{
    const u64 position = position_at(now);
    if (position <= synced_position_) return;
    const u64 period = periodic_ticks();
    if (period && position / period != synced_position_ / period) flags_ |= kCPeriodic;
    const u64 updates = position / kTicksPerSecond - synced_position_ / kTicksPerSecond;
    synced_position_ = position;
    if (updates && !(reg_b_ & kBSet)) {  // with SET, the updates are lost
        if (advance_clock(updates)) flags_ |= kCAlarm;
        flags_ |= kCUpdate;
    }
    update_irq();
}

void RtcCmos::update_irq()
{
    const bool level = ((flags_ & kCPeriodic) && (reg_b_ & kBPeriodicEnable)) ||
                       ((flags_ & kCAlarm) && (reg_b_ & kBAlarmEnable)) ||
                       ((flags_ & kCUpdate) && (reg_b_ & kBUpdateEnable));
    if (level == irq_level_) return;
    irq_level_ = level;
    irq_.set_level(level);
}

// Arms the timer for the next moment IRQF would go 0 -> 1, if any. Must
// follow a sync to the present.
void RtcCmos::rearm()
{
    u64 next = kNever;  // a chain position
    if (running() && !irq_level_) {
        const u64 period = periodic_ticks();
        if ((reg_b_ & kBPeriodicEnable) && period) next = (synced_position_ / period + 1) * period;
        if (!(reg_b_ & kBSet)) {
            const u64 update = synced_position_ / kTicksPerSecond;
            if (reg_b_ & kBUpdateEnable) next = min_u64(next, (update + 1) * kTicksPerSecond);
            if (reg_b_ & kBAlarmEnable) {
                // Out-of-range time: wake at each update until it counts back
                // into range (at most an hour of updates).
                const u32 until = time_of_day_valid() ? updates_until_alarm() : 1;
                if (until != kNoMatch) next = min_u64(next, (update + until) * kTicksPerSecond);
            }
        }
    }
    if (next == kNever) {
        timers_.cancel(timer_);
        return;
    }
    const u64 deadline = time_of_position(next);
    if (!timer_.armed() || timer_.deadline() != deadline) timers_.arm(timer_, deadline);
}

void RtcCmos::on_timer(void* context, u64 now)
{
    auto& rtc = *static_cast<RtcCmos*>(context);
    rtc.sync(now);
    rtc.rearm();
}

// --- Counters -------------------------------------------------------------------

RtcCmos::Field RtcCmos::decode(u8 byte, u8 lo, u8 hi) const
{
    u32 value = byte;
    if (!binary()) {
        const u32 tens = byte >> 4, units = byte & 0x0f;
        if (tens > 9 || units > 9) return {};
        value = tens * 10 + units;
    }
    if (value > hi) return {};
    return {static_cast<u8>(value), value < lo ? Range::kBelow : Range::kInside};
}

u8 RtcCmos::encode(u32 value) const
{
    if (binary()) return static_cast<u8>(value);
    return static_cast<u8>((value / 10) << 4 | (value % 10));
}

RtcCmos::Field RtcCmos::decode_hour(u8 byte) const
{
    if (hours_24()) return decode(byte, 0, 23);
    Field field = decode(byte & static_cast<u8>(~kHourPm), 1, 12);
    if (field.range == Range::kInside) {
        // 12 AM, 1 AM .. 11 AM, 12 PM, 1 PM .. 11 PM.
        field.value = static_cast<u8>(field.value % 12 + ((byte & kHourPm) ? 12 : 0));
    }
    return field;
}

u8 RtcCmos::encode_hour(u32 hour) const
{
    if (hours_24()) return encode(hour);
    const u32 hour_12 = hour % 12 == 0 ? 12 : hour % 12;
    return static_cast<u8>(encode(hour_12) | (hour >= 12 ? kHourPm : 0));
}

// One increment of a counter; true when it wrapped (a carry to the next).
bool RtcCmos::step_field(u8 reg, u8 lo, u8 hi)
{
    const Field field = decode(ram_[reg], lo, hi);
    if (field.range == Range::kBelow || (field.range == Range::kInside && field.value < hi)) {
        ram_[reg] = encode(field.value + 1u);
        return false;
    }
    ram_[reg] = encode(lo);
    return true;
}

bool RtcCmos::step_hour()
{
    const Field field = decode_hour(ram_[kHours]);
    if (field.range == Range::kBelow) {
        // Hour 0 in 12-hour mode counts on to 1, AM or PM as it was.
        ram_[kHours] = static_cast<u8>((ram_[kHours] & kHourPm) | encode(1));
        return false;
    }
    if (field.range == Range::kInside && field.value < 23) {
        ram_[kHours] = encode_hour(field.value + 1u);
        return false;
    }
    ram_[kHours] = encode_hour(0);
    return true;
}

bool RtcCmos::step_time_of_day()
{
    return step_field(kSeconds, 0, 59) && step_field(kMinutes, 0, 59) && step_hour();
}

u8 RtcCmos::days_in_month_of_registers() const
{
    const Field month = decode(ram_[kMonth], 1, 12);
    if (month.range != Range::kInside) return 31;
    if (month.value != 2) return kDaysInMonth[month.value - 1];
    const Field year = decode(ram_[kYear], 0, 99);
    const Field century = decode(ram_[kCentury], 0, 99);
    bool leap = false;
    if (year.range == Range::kInside) {
        leap = century.range == Range::kInside ? gregorian_leap(century.value * 100u + year.value)
                                               : year.value % 4 == 0;
    }
    return leap ? 29 : 28;
}

void RtcCmos::step_date()
{
    if (!step_field(kDayOfMonth, 1, days_in_month_of_registers())) return;
    if (!step_field(kMonth, 1, 12)) return;
    if (!step_field(kYear, 0, 99)) return;
    step_field(kCentury, 0, 99);
}

bool RtcCmos::time_of_day_valid() const
{
    return decode(ram_[kSeconds], 0, 59).range == Range::kInside &&
           decode(ram_[kMinutes], 0, 59).range == Range::kInside && decode_hour(ram_[kHours]).range == Range::kInside;
}

bool RtcCmos::date_valid() const
{
    return decode(ram_[kMonth], 1, 12).range == Range::kInside &&
           decode(ram_[kYear], 0, 99).range == Range::kInside &&
           decode(ram_[kCentury], 0, 99).range == Range::kInside &&
           decode(ram_[kDayOfMonth], 1, days_in_month_of_registers()).range == Range::kInside;
}

u32 RtcCmos::time_of_day_seconds() const
{
    return decode_hour(ram_[kHours]).value * 3600u + decode(ram_[kMinutes], 0, 59).value * 60u +
           decode(ram_[kSeconds], 0, 59).value;
}

void RtcCmos::set_time_of_day(u32 seconds)
{
    ram_[kSeconds] = encode(seconds % 60);
    ram_[kMinutes] = encode(seconds / 60 % 60);
    ram_[kHours] = encode_hour(seconds / 3600);
}

void RtcCmos::set_clock(u64 unix_seconds)
{
    const u64 days = unix_seconds / kSecondsPerDay;
    set_time_of_day(static_cast<u32>(unix_seconds % kSecondsPerDay));
    ram_[kDayOfWeek] = encode(static_cast<u32>((days + 4) % 7 + 1));  // 1970-01-01 was a Thursday
    const CivilDate date = civil_from_days(static_cast<i64>(days));
    const u32 year = static_cast<u32>(date.year % 10000);  // what two BCD bytes hold
    ram_[kDayOfMonth] = encode(date.day);
    ram_[kMonth] = encode(date.month);
    ram_[kYear] = encode(year % 100);
    ram_[kCentury] = encode(year / 100);
}

bool RtcCmos::advance_clock(u64 updates)
{
    bool alarm = false;
    u64 days = 0;
    // A time of day out of range counts one update at a time until every
    // field is back in range: the seconds at the first update, the minutes
    // within 60, the hours within 3600.
    while (updates && !time_of_day_valid()) {
        if (step_time_of_day()) ++days;
        alarm = alarm || alarm_matches();
        --updates;
    }
    if (updates) {
        const u32 until = updates_until_alarm();
        alarm = alarm || (until != kNoMatch && until <= updates);
        const u64 total = time_of_day_seconds() + updates;
        set_time_of_day(static_cast<u32>(total % kSecondsPerDay));
        days += total / kSecondsPerDay;
    }
    advance_days(days);
    return alarm;
}

void RtcCmos::advance_days(u64 days)
{
    if (days == 0) return;
    // The day of the week counts on its own (the chip never derives it from
    // the date); out of range, it restarts at 1 (Sunday).
    const Field weekday = decode(ram_[kDayOfWeek], 1, 7);
    const u64 from = weekday.range == Range::kInside ? weekday.value - 1u + days : days - 1;
    ram_[kDayOfWeek] = encode(static_cast<u32>(from % 7 + 1));
    // A date out of range counts a day at a time until it is in range again.
    while (days && !date_valid()) {
        step_date();
        --days;
    }
    if (days == 0) return;
    const i64 year = decode(ram_[kCentury], 0, 99).value * 100 + decode(ram_[kYear], 0, 99).value;
    const i64 today = days_from_civil(year, decode(ram_[kMonth], 1, 12).value, decode(ram_[kDayOfMonth], 1, 31).value);
    const CivilDate date = civil_from_days(today + static_cast<i64>(days));
    const u32 new_year = static_cast<u32>(date.year % 10000);  // 10000 years is 25 whole 400-year eras
    ram_[kDayOfMonth] = encode(date.day);
    ram_[kMonth] = encode(date.month);
    ram_[kYear] = encode(new_year % 100);
    ram_[kCentury] = encode(new_year / 100);
}

// --- Alarm ------------------------------------------------------------------------

bool RtcCmos::alarm_matches() const
{
    return alarm_accepts(ram_[kSecondsAlarm], ram_[kSeconds]) && alarm_accepts(ram_[kMinutesAlarm], ram_[kMinutes]) &&
           alarm_accepts(ram_[kHoursAlarm], ram_[kHours]);
}

// The first minute or second value >= from that an alarm byte accepts.
u32 RtcCmos::first_accepted(u8 alarm, u32 from) const
{
    if (from > 59) return kNoMatch;
    if ((alarm & kAlarmDontCare) == kAlarmDontCare) return from;
    const Field field = decode(alarm, 0, 59);
    return field.range == Range::kInside && field.value >= from ? field.value : kNoMatch;
}

// How many updates from now until the one after which the time of day
// matches the alarm (1..86400), kNoMatch when no time of day does. The time
// of day must be in range (then every update adds one second).
u32 RtcCmos::updates_until_alarm() const
{
    const u32 now = time_of_day_seconds();
    const u32 start = now + 1;  // the time after the next update, on a linear scale
    // Hour by hour from start's hour until the same hour a day later.
    for (u32 i = 0; i <= 24; ++i) {
        const u32 hour = start / 3600 + i;
        if (!alarm_accepts(ram_[kHoursAlarm], encode_hour(hour % 24))) continue;
        const u32 from = i == 0 ? start % 3600 : 0;
        u32 minute = first_accepted(ram_[kMinutesAlarm], from / 60);
        if (minute == kNoMatch) continue;
        u32 second = first_accepted(ram_[kSecondsAlarm], minute == from / 60 ? from % 60 : 0);
        if (second == kNoMatch) {
            // Too late in that minute: the next accepted minute, from its start.
            minute = first_accepted(ram_[kMinutesAlarm], minute + 1);
            if (minute == kNoMatch) continue;
            second = first_accepted(ram_[kSecondsAlarm], 0);
            if (second == kNoMatch) continue;
        }
        return hour * 3600 + minute * 60 + second - now;
    }
    return kNoMatch;
}

// --- NVRAM --------------------------------------------------------------------------

void RtcCmos::set_memory_size(u64 bytes, u64 below_4g_limit)
{
    const u64 low = min_u64(bytes, min_u64(below_4g_limit, 4 * kGiB));
    const u64 high = bytes - low;
    const u64 base_kib = min_u64(low, 640 * kKiB) / kKiB;
    // Extended memory in KiB above 1 MiB: 16 bits, so at most 64 MiB - 1 KiB.
    const u64 extended_kib = low > kMiB ? min_u64((low - kMiB) / kKiB, 0xffff) : 0;
    const u64 above_16m = low > 16 * kMiB ? min_u64((low - 16 * kMiB) / (64 * kKiB), 0xffff) : 0;
    const u64 above_4g = min_u64(high / (64 * kKiB), 0xffffff);
    auto store = [this](u8 reg, u64 value, unsigned count) {
        for (unsigned i = 0; i < count; ++i) ram_[reg + i] = static_cast<u8>(value >> (8 * i));
    };
    store(kBaseMemoryLow, base_kib, 2);
    store(kExtendedMemoryLow, extended_kib, 2);
    store(kExtendedMemory2Low, extended_kib, 2);
    store(kMemoryAbove16mLow, above_16m, 2);
    store(kMemoryAbove4gLow, above_4g, 3);
    store_checksum();
}

void RtcCmos::store_checksum()
{
    // IBM AT: the 16-bit sum of bytes 0x10-0x2D, high byte first.
    u32 sum = 0;
    for (u32 i = 0x10; i <= 0x2d; ++i) sum += ram_[i];
    ram_[kChecksumHigh] = static_cast<u8>(sum >> 8);
    ram_[kChecksumLow] = static_cast<u8>(sum);
}

Result<u64> RtcCmos::unix_time()
{
    sync(timers_.now());
    rearm();
    if (!time_of_day_valid() || !date_valid()) return Status::BAD_STATE;
    const i64 year = decode(ram_[kCentury], 0, 99).value * 100 + decode(ram_[kYear], 0, 99).value;
    const i64 days = days_from_civil(year, decode(ram_[kMonth], 1, 12).value, decode(ram_[kDayOfMonth], 1, 31).value);
    if (days < 0) return Status::BAD_STATE;
    return static_cast<u64>(days) * kSecondsPerDay + time_of_day_seconds();
}

}  // namespace xeno::devices
