#include "devices/acpi_pm.hpp"

#include "lib/bits.hpp"

namespace xeno::devices {

namespace {

// A port access covers 1, 2 or 4 byte lanes; anything else is taken as its
// nearest legal width so a malformed access still touches defined lanes.
unsigned lanes_of(u8 size) { return size == 0 ? 1 : (size > 4 ? 4 : size); }

}  // namespace

u64 AcpiPm::ticks_at(u64 ns) { return muldiv64(ns, kTimerHz, kNsPerSecond); }

u64 AcpiPm::ns_of_tick(u64 tick)
{
    const unsigned __int128 product = static_cast<unsigned __int128>(tick) * kNsPerSecond;
    const unsigned __int128 ns = (product + kTimerHz - 1) / kTimerHz;
    return ns >= kNever ? kNever : static_cast<u64>(ns);
}

AcpiPm::AcpiPm(TimerQueue& timers, IrqLine sci, u16 base)
    : timers_(timers), sci_(sci), base_(base), timer_(&AcpiPm::on_timer, this)
{
    // The timer has run since machine clock 0; toggles before the block
    // existed set nothing.
    toggles_seen_ = ticks_at(timers_.now()) >> kTimerMsb;
}

// TMR_STS: "set when the most significant bit of the timer (bit 23 with
// TMR_VAL_EXT = 0) toggles" (ACPI 6.4, 4.8.3, Power Management Timer). The count of
// toggles so far is ticks >> 23; any new one since the last look sets it.
void AcpiPm::sync(u64 now)
{
    const u64 toggles = ticks_at(now) >> kTimerMsb;
    if (toggles > toggles_seen_) {
        status_ |= kTmrSts;
        toggles_seen_ = toggles;
    }
}

// The SCI is level: asserted while any status bit has its enable set
// (SCI_EN is always 1). Each enable sits at its status bit's position.
void AcpiPm::update_sci()
{
    const bool level = (status_ & enable_ & kEnableBits) != 0;
    if (level == sci_level_) return;
    sci_level_ = level;
    sci_.set_level(level);
}

void AcpiPm::rearm()
{
    const u64 deadline = (enable_ & kTmrEn) ? ns_of_tick((toggles_seen_ + 1) << kTimerMsb) : kNever;
    if (timer_.deadline() != deadline) timers_.arm(timer_, deadline);  // kNever cancels
}

void AcpiPm::on_timer(void* context, u64 now)
{
    auto* self = static_cast<AcpiPm*>(context);
    self->sync(now);
    self->update_sci();
    self->rearm();
}

void AcpiPm::raise_status(u16 bits)
{
    sync(timers_.now());
    status_ = static_cast<u16>(status_ | (bits & kStatusBits));
    update_sci();
    rearm();
}

u8 AcpiPm::read_lane(u16 offset, u32 timer) const
{
    const u16 control = static_cast<u16>(control_ | kSciEn);  // SLP_EN and GBL_RLS read 0
    switch (offset) {
    case kPm1Status: return static_cast<u8>(status_);
    case kPm1Status + 1: return static_cast<u8>(status_ >> 8);
    case kPm1Enable: return static_cast<u8>(enable_);
    case kPm1Enable + 1: return static_cast<u8>(enable_ >> 8);
    case kPm1Control: return static_cast<u8>(control);
    case kPm1Control + 1: return static_cast<u8>(control >> 8);
    case kPmTimer:
    case kPmTimer + 1:
    case kPmTimer + 2:
    case kPmTimer + 3: return static_cast<u8>(timer >> (8 * (offset - kPmTimer)));
    default: return 0xff;  // +6, +7 and beyond the block: no register
    }
}

u32 AcpiPm::pio_read(u16 port, u8 size)
{
    const u64 now = timers_.now();
    sync(now);
    update_sci();
    rearm();
    // One sample of the timer for the whole access, so a 4-byte read is
    // coherent.
    const u32 timer = static_cast<u32>(ticks_at(now) & kTimerMask);
    const u16 offset = static_cast<u16>(port - base_);
    u32 value = 0;
    for (unsigned i = 0; i < lanes_of(size); ++i)
        value |= u32{read_lane(static_cast<u16>(offset + i), timer)} << (8 * i);
    return value;
}

void AcpiPm::pio_write(u16 port, u8 size, u32 value)
{
    // A toggle that happened before this write sets TMR_STS first, so a
    // write-1-to-clear of it clears it.
    sync(timers_.now());
    const u16 offset = static_cast<u16>(port - base_);
    u16 status_clear = 0;
    u16 enable_value = 0, enable_mask = 0;
    u16 control_value = 0, control_mask = 0;
    for (unsigned i = 0; i < lanes_of(size); ++i) {
        const u16 lane = static_cast<u16>(offset + i);
        const u16 byte = static_cast<u16>((value >> (8 * i)) & 0xff);
        const unsigned shift = (lane & 1) * 8;
        switch (lane) {
        case kPm1Status:
        case kPm1Status + 1: status_clear = static_cast<u16>(status_clear | (byte << shift)); break;
        case kPm1Enable:
        case kPm1Enable + 1:
            enable_value = static_cast<u16>(enable_value | (byte << shift));
            enable_mask = static_cast<u16>(enable_mask | (0xff << shift));
            break;
        case kPm1Control:
        case kPm1Control + 1:
            control_value = static_cast<u16>(control_value | (byte << shift));
            control_mask = static_cast<u16>(control_mask | (0xff << shift));
            break;
        default: break;  // PM_TMR is read-only; other lanes hold no register
        }
    }
    status_ = static_cast<u16>(status_ & ~(status_clear & kStatusBits));
    enable_ = static_cast<u16>(((enable_ & ~enable_mask) | (enable_value & enable_mask)) & kEnableBits);
    if (control_mask) write_control(control_value, control_mask);
    update_sci();
    rearm();
}

void AcpiPm::write_control(u16 value, u16 written_mask)
{
    const u16 stored = kBmRld | kSlpTypMask;
    const u16 mask = written_mask & stored;
    control_ = static_cast<u16>((control_ & ~mask) | (value & mask));
    if (!(written_mask & kSlpEn) || !(value & kSlpEn)) return;
    // SLP_EN: enter the sleep state SLP_TYP names (ACPI 6.4, 4.8.3, PM1
    // Control Grouping; 16.1); the owner powers the domain off for \_S5.
    const u8 slp_typ = static_cast<u8>((control_ & kSlpTypMask) >> kSlpTypShift);
    if (on_sleep_) on_sleep_(sleep_context_, slp_typ);
    if (slp_typ != kSlpTypS5) status_ = static_cast<u16>(status_ | kWakSts);  // slept for no time
}

}  // namespace xeno::devices
