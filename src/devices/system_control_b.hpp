// System Control Port B (port 0x61, "NMI Status and Control" in the Intel
// ICH data sheets; PC/AT port B):
//   bit 0  timer counter 2 GATE (R/W; drives Pit8254 counter 2's GATE)
//   bit 1  speaker data enable (R/W)
//   bit 2  PCI SERR# (parity) NMI enable, active low (R/W, stored)
//   bit 3  IOCHK# NMI enable, active low (R/W, stored)
//   bit 4  refresh cycle toggle (RO): flips with every DRAM refresh request,
//          every 15.085 us (counter 1's historic period: 18 PIT clocks);
//          BIOS and Linux delay loops poll it
//   bit 5  timer counter 2 OUT (RO)
//   bit 6  IOCHK# NMI source status (RO)
//   bit 7  SERR# NMI source status (RO)
// The register resets to 0. Writes to the read-only bits are ignored.
//
// Modelled: the gate, the stored enables, the refresh toggle as a function
// of the machine clock (bit 4 = (now / 15085 ns) & 1, nothing is armed) and
// OUT2. Nothing raises SERR# or IOCHK#, so bits 6-7 read 0 and no NMI comes
// from here. The speaker itself (OUT2 AND bit 1) makes no sound.
#pragma once

#include "devices/pit8254.hpp"
#include "devices/timer_queue.hpp"
#include "lib/types.hpp"

namespace xeno::devices {

class SystemControlB {
public:
    static constexpr u16 kPort = 0x61;
    static constexpr u8 kTimer2Gate = 1u << 0;
    static constexpr u8 kSpeakerData = 1u << 1;
    static constexpr u8 kSerrNmiDisable = 1u << 2;
    static constexpr u8 kIochkNmiDisable = 1u << 3;
    static constexpr u8 kRefreshToggle = 1u << 4;
    static constexpr u8 kTimer2Out = 1u << 5;
    static constexpr u8 kIochkNmiStatus = 1u << 6;
    static constexpr u8 kSerrNmiStatus = 1u << 7;
    static constexpr u8 kWritable = kTimer2Gate | kSpeakerData | kSerrNmiDisable | kIochkNmiDisable;
    static constexpr u64 kRefreshPeriodNs = 15085;

    SystemControlB(Pit8254& pit, TimerQueue& timers) : pit_(pit), timers_(timers)
    {
        pit_.set_gate(2, false);  // the PIT's counter 2 GATE follows bit 0 from reset on
    }
    SystemControlB(const SystemControlB&) = delete;
    SystemControlB& operator=(const SystemControlB&) = delete;

    // A byte-wide port: attach with byte_wide = true.
    u32 pio_read(u16, u8)
    {
        const bool refresh = ((timers_.now() / kRefreshPeriodNs) & 1) != 0;
        return static_cast<u32>(control_ | (refresh ? kRefreshToggle : 0) | (pit_.output(2) ? kTimer2Out : 0));
    }

    void pio_write(u16, u8, u32 value)
    {
        control_ = static_cast<u8>(value & kWritable);
        pit_.set_gate(2, (control_ & kTimer2Gate) != 0);
    }

    bool speaker_enabled() const { return (control_ & kSpeakerData) != 0; }
    // What the speaker's amplifier sees: OUT2 gated by the speaker data bit.
    bool speaker_level() const { return speaker_enabled() && pit_.output(2); }

private:
    Pit8254& pit_;
    TimerQueue& timers_;
    u8 control_ = 0;  // the writable bits
};

}  // namespace xeno::devices
