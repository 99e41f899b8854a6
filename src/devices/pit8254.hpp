// The Intel 8254 Programmable Interval Timer (the PC's PIT at ports 0x40-0x43),
// after the Intel 8254 data sheet (order number 231164):
//   0x40-0x42  counters 0-2 (count register writes, output latch / status reads)
//   0x43       control word (write only; reads float: 0xff)
// The input clock is the PC's 1.193182 MHz (exactly 1193182 Hz). Counter 0's
// OUT drives IRQ0; counters 0 and 1 have GATE tied high; counter 2's GATE is
// port 0x61 bit 0 and its OUT is read back at port 0x61 bit 5 (SystemControlB).
//
// Modelled: all six modes (6 and 7 alias 2 and 3), binary and BCD counting,
// the four access modes with a write and a read flip-flop per counter, the
// counter latch command, the read-back command (count and/or status of
// several counters, status first), NULL COUNT, count 0 = 65536 (10000 BCD),
// GATE levels and edges (set_gate), OUT as a pin (output).
//
// Time: a counter is a function of the clock's tick number (tick k is the
// k-th CLK falling edge, at ceil(k * 10^9 / 1193182) ns of machine time).
// Nothing is ticked: each counter remembers the tick its counting element
// (CE) was loaded and computes count and OUT from it. A count written during
// tick w is loaded into CE at the next CLK pulse, w+1 (data sheet, "Mode
// Definitions"), so e.g. mode 0 with count N raises OUT N+1 clocks after the
// write.
//
// IRQ0: the model arms one DeviceTimer for the next change of OUT0 only, so
// the interrupt controllers see each rising edge at its exact virtual time.
// Periodic modes re-arm on the grid of the loading tick (no drift). The
// one-clock low strobes of modes 2, 4 and 5 are delivered as a low-high pulse
// at the strobe's rising end (the 8259A and the I/O APIC pin see IRQ0 as an
// edge), which halves the events; mode 3's square wave and mode 0/1's levels
// follow OUT0 at both edges. A timer that fires late (the host lagged)
// delivers one edge for all the rising edges it missed (an edge-triggered
// request register holds one anyway) and re-arms for the next edge after
// now, so a lagging host never replays a backlog.
//
// Defined behaviour where the data sheet has none:
//  - Modes 2 and 3 with an initial count of 1 (illegal: the data sheet's
//    minimum initial count is 2 for both) count as 2. So the shortest period
//    the model arms for is 2 clocks (1676 ns) in mode 2 and a 1-clock half
//    period in mode 3 with a legal count of 2 or 3.
//  - A BCD count with a digit above 9 takes that digit as 9.
//  - Reset state (the data sheet leaves it undefined): every counter in mode
//    0, LSB-then-MSB, binary, no count written (CE reads 0, OUT low, NULL
//    COUNT set). Counter 2's GATE starts low, as port 0x61 resets to 0.
//  - The CE keeps its last value when a control word is written (undefined
//    on the part) and does not count until a count is loaded.
#pragma once

#include "devices/irq.hpp"
#include "devices/timer_queue.hpp"
#include "lib/types.hpp"

namespace xeno::devices {

class Pit8254 {
public:
    static constexpr u16 kFirstPort = 0x40;  // counter 0; counters 1 and 2 follow
    static constexpr u16 kControlPort = 0x43;
    static constexpr u16 kLastPort = 0x43;
    static constexpr unsigned kCounters = 3;
    static constexpr u64 kClockHz = 1193182;
    static constexpr u64 kNsPerSecond = 1000000000;

    // Control word fields (data sheet, Figure 7 "Control Word Format").
    static constexpr u8 kAccessLatch = 0;  // RW = 00: counter latch command
    static constexpr u8 kAccessLsb = 1;
    static constexpr u8 kAccessMsb = 2;
    static constexpr u8 kAccessLsbMsb = 3;
    static constexpr u8 kReadBack = 3;  // SC = 11
    // Read-back command bits (Figure 10); the bits are active low.
    static constexpr u8 kReadBackNoCount = 1u << 5;
    static constexpr u8 kReadBackNoStatus = 1u << 4;
    // Status byte (Figure 11).
    static constexpr u8 kStatusOutput = 1u << 7;
    static constexpr u8 kStatusNullCount = 1u << 6;

    Pit8254(TimerQueue& timers, IrqLine irq0);
    Pit8254(const Pit8254&) = delete;
    Pit8254& operator=(const Pit8254&) = delete;

    // Byte-wide ISA device: only the low byte of a write is used, reads
    // return one byte (attach with byte_wide = true).
    u32 pio_read(u16 port, u8 size);
    void pio_write(u16 port, u8 size, u32 value);

    // GATE input of a counter (only counter 2's is wired: port 0x61 bit 0).
    // A rising edge triggers modes 1 and 5 and restarts modes 2 and 3; a low
    // level stops counting in modes 0, 2, 3 and 4 (Table 3 "Gate Pin
    // Operations Summary"). Out-of-range counters are ignored.
    void set_gate(unsigned counter, bool level);
    bool gate(unsigned counter) const { return counter < kCounters && counters_[counter].gate; }

    // The OUT pin of a counter now.
    bool output(unsigned counter) const;

    // Rising edges of OUT0 delivered on IRQ0, and those merged into a later
    // one because the timer fired late.
    u64 irq0_edges() const { return irq0_edges_; }
    u64 irq0_coalesced_edges() const { return irq0_coalesced_; }

    // Clock conversions: the number of CLK edges at or before `ns`, and the
    // first ns at which tick `tick` has happened (ticks_at(ns_of_tick(k)) == k).
    static u64 ticks_at(u64 ns);
    static u64 ns_of_tick(u64 tick);

private:
    static constexpr u64 kNoTick = ~u64{0};

    // One counter: its programming, its flip-flops and latches, and the
    // counting element as a function of the tick number.
    struct Counter {
        u8 control = kAccessLsbMsb << 4;  // bits 5:0 of the control word, as the status byte reports them
        u8 mode = 0;                      // 0-5 (6 and 7 folded into 2 and 3)
        u8 access = kAccessLsbMsb;
        bool bcd = false;
        bool gate = true;

        u32 count = 0;  // the last complete count written, in clocks (1..65536 or 1..10000)
        bool count_written = false;  // since the last control word
        bool null_count = true;      // written to CR, not yet loaded into CE
        bool write_msb_next = false;
        u8 write_lsb = 0;
        bool read_msb_next = false;
        bool count_latched = false;
        u16 latched_count = 0;  // as read (BCD-encoded in BCD mode)
        bool status_latched = false;
        u8 latched_status = 0;

        // Counting element. Running: one-shot modes hold `value` clocks to
        // terminal count at `base`; periodic modes count with period `value`,
        // `phase` clocks into the cycle at `base`. Stopped: frozen values.
        bool running = false;
        u64 base = 0;
        u32 value = 0;
        u32 phase = 0;
        bool expired = false;   // one-shot: terminal count passed before `base`
        u32 frozen_ce = 0;      // stopped: CE as a number (0..modulus-1)
        bool frozen_out = false;
        bool resumable = false;  // stopped by GATE low in mode 0/4 with a count loaded
        u64 pending = kNoTick;   // tick at which CR is loaded into CE
        bool pending_low_half = false;  // mode 3: the load starts a low half-cycle

        u32 modulus() const { return bcd ? 10000 : 65536; }
        u32 ce(u64 tick) const;
        bool out(u64 tick) const;
        u64 rising_edges(u64 after, u64 upto) const;
        u64 next_change(u64 tick) const;
        u64 half_cycle_end(u64 tick) const;
        void stop(u64 tick, bool out_level);
        void apply_pending();
        void advance(u64 tick)
        {
            if (pending <= tick) apply_pending();
        }
    };

    static u16 to_bcd(u32 value);
    static u32 from_bcd(u16 raw);
    u32 count_of(const Counter& c, u16 raw) const;
    u16 read_value(const Counter& c, u64 tick) const;
    u8 status_of(const Counter& c, u64 tick) const;

    u64 now_tick() const { return ticks_at(timers_.now()); }
    void sync(u64 tick);
    void deliver_irq0(u64 upto);
    void after_change(u64 tick);
    static void on_timer(void* context, u64 now);

    u8 read_counter(Counter& c, u64 tick);
    void write_counter(Counter& c, u64 tick, u8 byte);
    void load_count(Counter& c, u64 tick, u16 raw);
    void write_control(u64 tick, u8 value);
    void read_back(u64 tick, u8 value);

    TimerQueue& timers_;
    IrqLine irq0_;
    DeviceTimer timer_;
    Counter counters_[kCounters] = {};
    bool irq0_level_ = false;  // what IRQ0 was last driven to (OUT0 at reset: low)
    u64 irq0_tick_ = 0;        // OUT0's edges up to this tick have been delivered
    u64 irq0_edges_ = 0;
    u64 irq0_coalesced_ = 0;
};

}  // namespace xeno::devices
