// The ACPI fixed-hardware register block (ACPI 6.x, 4.8 "ACPI Hardware
// Features", 4.8.3 "Fixed Hardware Registers"), at a port base the FADT names
// (default 0x600, QEMU's PIIX4/ICH9 PM base):
//   base+0  PM1a_EVT_BLK: PM1_STS (16 bits) at +0, PM1_EN (16 bits) at +2
//   base+4  PM1a_CNT_BLK: PM1_CNT (16 bits); +6 and +7 belong to no register
//   base+8  PM_TMR_BLK:   PM_TMR, 24-bit counter read as 32 bits (TMR_VAL_EXT = 0)
// The FADT must describe PM1_EVT_LEN = 4, PM1_CNT_LEN = 2, PM_TMR_LEN = 4.
//
// Modelled:
//  - PM_TMR: 3.579545 MHz (3579545 Hz), free running from machine clock 0,
//    24 bits; the top byte reads 0. TMR_STS is set each time bit 23 toggles
//    (computed from the clock when the guest looks; a timer is armed for the
//    next toggle only while TMR_EN is set, to raise the SCI on time).
//  - PM1_STS, write 1 to clear: TMR_STS 0, BM_STS 4, GBL_STS 5, PWRBTN_STS 8,
//    SLPBTN_STS 9, RTC_STS 10, WAK_STS 15. PM1_EN: TMR_EN 0, GBL_EN 5,
//    PWRBTN_EN 8, SLPBTN_EN 9, RTC_EN 10. Reserved bits read 0.
//  - SCI (level): asserted while a status bit and its enable are both set.
//  - PM1_CNT: SCI_EN reads 1 always (the platform is in ACPI mode from
//    reset: there is no SMM and no SMI_CMD port, so the FADT's SMI_CMD,
//    ACPI_ENABLE and ACPI_DISABLE must be 0); BM_RLD is stored; GBL_RLS is
//    write-only (there is no BIOS to release the global lock to) and reads 0;
//    SLP_TYP (12:10) is stored; SLP_EN (13) reads 0 and writing it 1 calls
//    the sleep handler with SLP_TYP.
//  - Sleep types: the DSDT's \_S5 package must give SLP_TYP = kSlpTypS5 (0);
//    the owner powers the domain off for it. Any other sleep type is not
//    declared in the DSDT (nonsense): after the handler returns the model
//    sets WAK_STS, as if the system had slept for no time and woken, so an
//    OS waiting for WAK_STS goes on.
//  - Accesses of 1, 2 or 4 bytes at any offset are byte lanes of the
//    registers above (attach with byte_wide = false). Lanes outside a
//    register read 0xff and ignore writes, as unclaimed ISA ports do.
// Not modelled: bus-master activity (BM_STS stays 0), the global lock
// handshake (GBL_STS stays 0), GPE blocks, PM1b, PM2.
#pragma once

#include "devices/irq.hpp"
#include "devices/timer_queue.hpp"
#include "lib/types.hpp"

namespace xeno::devices {

class AcpiPm {
public:
    static constexpr u16 kDefaultBase = 0x600;
    static constexpr u16 kBlockLength = 12;
    static constexpr u16 kPm1Status = 0;  // offsets in the block
    static constexpr u16 kPm1Enable = 2;
    static constexpr u16 kPm1Control = 4;
    static constexpr u16 kPmTimer = 8;

    static constexpr u64 kTimerHz = 3579545;
    static constexpr u64 kNsPerSecond = 1000000000;
    static constexpr u32 kTimerMask = 0xffffff;  // 24 bits
    static constexpr unsigned kTimerMsb = 23;

    // PM1_STS (ACPI 6.4 Table 4.11) and PM1_EN (Table 4.12).
    static constexpr u16 kTmrSts = 1u << 0;
    static constexpr u16 kBmSts = 1u << 4;
    static constexpr u16 kGblSts = 1u << 5;
    static constexpr u16 kPwrBtnSts = 1u << 8;
    static constexpr u16 kSlpBtnSts = 1u << 9;
    static constexpr u16 kRtcSts = 1u << 10;
    static constexpr u16 kWakSts = 1u << 15;
    static constexpr u16 kStatusBits = kTmrSts | kBmSts | kGblSts | kPwrBtnSts | kSlpBtnSts | kRtcSts | kWakSts;
    static constexpr u16 kTmrEn = 1u << 0;
    static constexpr u16 kGblEn = 1u << 5;
    static constexpr u16 kPwrBtnEn = 1u << 8;
    static constexpr u16 kSlpBtnEn = 1u << 9;
    static constexpr u16 kRtcEn = 1u << 10;
    static constexpr u16 kEnableBits = kTmrEn | kGblEn | kPwrBtnEn | kSlpBtnEn | kRtcEn;

    // PM1_CNT (Table 4.13).
    static constexpr u16 kSciEn = 1u << 0;
    static constexpr u16 kBmRld = 1u << 1;
    static constexpr u16 kGblRls = 1u << 2;
    static constexpr unsigned kSlpTypShift = 10;
    static constexpr u16 kSlpTypMask = 7u << kSlpTypShift;
    static constexpr u16 kSlpEn = 1u << 13;

    // SLP_TYP of \_S5 (soft off). The ACPI table generator must put this
    // value in the DSDT's \_S5 package.
    static constexpr u8 kSlpTypS5 = 0;

    using OnSleep = void (*)(void* context, u8 slp_typ);

    AcpiPm(TimerQueue& timers, IrqLine sci, u16 base = kDefaultBase);
    AcpiPm(const AcpiPm&) = delete;
    AcpiPm& operator=(const AcpiPm&) = delete;

    void set_sleep_handler(OnSleep on_sleep, void* context)
    {
        on_sleep_ = on_sleep;
        sleep_context_ = context;
    }
    u16 base() const { return base_; }

    // Ports base .. base + kBlockLength - 1, sizes 1, 2 and 4.
    u32 pio_read(u16 port, u8 size);
    void pio_write(u16 port, u8 size, u32 value);

    // Fixed events from the platform: each sets its status bit (and the
    // SCI, when enabled).
    void press_power_button() { raise_status(kPwrBtnSts); }
    void press_sleep_button() { raise_status(kSlpBtnSts); }
    void rtc_alarm() { raise_status(kRtcSts); }

    // The PM timer now (24 bits).
    u32 timer_value() const { return static_cast<u32>(ticks_at(timers_.now()) & kTimerMask); }
    bool sci_asserted() const { return sci_level_; }

    static u64 ticks_at(u64 ns);
    static u64 ns_of_tick(u64 tick);  // first ns at which tick `tick` has happened

private:
    void sync(u64 now);
    void update_sci();
    void rearm();
    void raise_status(u16 bits);
    void write_control(u16 value, u16 written_mask);
    u8 read_lane(u16 offset, u32 timer) const;
    static void on_timer(void* context, u64 now);

    TimerQueue& timers_;
    IrqLine sci_;
    u16 base_;
    DeviceTimer timer_;
    OnSleep on_sleep_ = nullptr;
    void* sleep_context_ = nullptr;
    u16 status_ = 0;
    u16 enable_ = 0;
    u16 control_ = 0;          // BM_RLD and SLP_TYP (SCI_EN is reported, not stored)
    u64 toggles_seen_ = 0;     // bit-23 toggles of the PM timer accounted in TMR_STS
    bool sci_level_ = false;
};

}  // namespace xeno::devices
