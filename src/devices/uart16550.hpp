// A 16550A UART (the PC's COM1 at 0x3f8, IRQ4, for the guest console).
// Register map after the National Semiconductor PC16550D data sheet:
//   +0 RBR (read) / THR (write), DLL when LCR.DLAB
//   +1 IER, DLM when LCR.DLAB
//   +2 IIR (read) / FCR (write)
//   +3 LCR   +4 MCR   +5 LSR   +6 MSR   +7 SCR
//
// Transmit: instantaneous. A byte written to THR goes to the sink at once, so
// the guest sees an infinitely fast line: LSR always reports THRE|TEMT, and
// the THR-empty interrupt, cleared by the THR write, is set again right
// after it (the IRQ line drops and rises: a fresh edge for the PIC, as the
// real part gives one character time later).
//
// Receive: a 16-byte FIFO in FIFO mode (FCR bit 0), the one-byte receiver
// buffer register in 16450 mode. A byte arriving with no room is an overrun
// (LSR.OE): in 16450 mode it overwrites RBR, in FIFO mode it is lost (the
// data sheet's FIFO overrun: the shift register's character never enters
// the FIFO). Changing the FIFO mode clears the FIFO (FCR0 description).
// Bytes arrive two ways:
// - receive(byte): at once (tests, loopback);
// - set_input(bytes, length, timers): on the wire at the programmed rate,
//   one character time apiece (start bit, LCR word length, parity, stop
//   bits at 115200 / divisor baud; 86805 ns for 8N1 at divisor 1), from
//   the moment set_input is called. The sender is flow controlled: a byte
//   due while the FIFO (or RBR) is full waits, and arrives one character
//   time after the guest makes room, so no input is lost and the timing is
//   deterministic. In loopback mode the modem outputs are forced inactive
//   (RTS off: the sender holds) and the serial input is disconnected, so
//   input waits until loopback ends. RTS itself is not honoured outside
//   loopback (guests that never set it would get no input). A change of
//   divisor or LCR restarts the character in flight at the new rate.
//
// Interrupts (data sheet Table IV, "Interrupt Control Functions"), in
// priority order, each enabled by its IER bit:
//   0x06 receiver line status (IER bit 2): LSR.OE (PE, FE, BI never happen:
//        the input has no line errors); cleared by reading LSR
//   0x04 received data available (IER bit 0): RBR full (16450 mode), or the
//        FIFO at or above its trigger level (FCR bits 7:6: 1, 4, 8, 14
//        bytes); cleared by reading the FIFO below the trigger level
//   0x0C character timeout (IER bit 0, FIFO mode): data in the FIFO, no
//        character received and no RBR read for 4 character times; cleared
//        (and the timer restarted) by reading RBR
//   0x02 THR empty (IER bit 1): set when THR empties and when IER bit 1 goes
//        from 0 to 1 with THR empty; cleared by reading IIR while it is the
//        reported source, or by writing THR
//   0x00 modem status (IER bit 3): MSR delta bits (in loopback, from MCR
//        changes; outside loopback the modem inputs never change: DCD, DSR,
//        CTS on, RI off); cleared by reading MSR
// IIR bits 7:6 read 11 in FIFO mode (16550A).
// The PC gates the INTRPT pin with /OUT2 (MCR bit 3): the IrqLine is high
// when an interrupt is pending and OUT2 is set. In loopback mode the part
// forces its modem control outputs, /OUT2 included, inactive, so the IRQ
// line is low whatever MCR says (the interrupt sources still work and show
// in IIR). The line is driven (set_level) whenever that level changes.
//
// Timing needs a TimerQueue (set_timers, or the one given to set_input):
// without one, set_input cannot run and the character timeout never fires.
// The queue must outlive the UART (the destructor cancels its timers).
//
// Not modelled: line errors (parity, framing, break; LCR bit 6 break), DMA
// (FCR bit 3 is stored, no effect), the transmit FIFO and line timing,
// modem inputs from outside.
#pragma once

#include "devices/irq.hpp"
#include "devices/timer_queue.hpp"
#include "lib/types.hpp"

namespace xeno::devices {

class Uart16550 {
public:
    using Sink = void (*)(void* context, const char* bytes, usize length);

    static constexpr u8 LSR_DR = 1u << 0;
    static constexpr u8 LSR_OE = 1u << 1;
    static constexpr u8 LSR_THRE = 1u << 5;
    static constexpr u8 LSR_TEMT = 1u << 6;
    static constexpr u8 LCR_DLAB = 1u << 7;
    static constexpr u8 MCR_DTR = 1u << 0;
    static constexpr u8 MCR_RTS = 1u << 1;
    static constexpr u8 MCR_OUT1 = 1u << 2;
    static constexpr u8 MCR_OUT2 = 1u << 3;
    static constexpr u8 MCR_LOOP = 1u << 4;
    static constexpr u8 MSR_DCTS = 1u << 0;
    static constexpr u8 MSR_DDSR = 1u << 1;
    static constexpr u8 MSR_TERI = 1u << 2;
    static constexpr u8 MSR_DDCD = 1u << 3;
    static constexpr u8 MSR_CTS = 1u << 4;
    static constexpr u8 MSR_DSR = 1u << 5;
    static constexpr u8 MSR_RI = 1u << 6;
    static constexpr u8 MSR_DCD = 1u << 7;
    static constexpr u8 IER_RDA = 1u << 0;
    static constexpr u8 IER_THRE = 1u << 1;
    static constexpr u8 IER_RLS = 1u << 2;
    static constexpr u8 IER_MSI = 1u << 3;
    static constexpr u8 FCR_ENABLE = 1u << 0;
    static constexpr u8 FCR_CLEAR_RX = 1u << 1;
    static constexpr u8 FCR_CLEAR_TX = 1u << 2;
    static constexpr u8 IIR_NONE = 0x01;
    static constexpr u8 IIR_MSI = 0x00;
    static constexpr u8 IIR_THRE = 0x02;
    static constexpr u8 IIR_RDA = 0x04;
    static constexpr u8 IIR_RLS = 0x06;
    static constexpr u8 IIR_TIMEOUT = 0x0c;
    static constexpr u8 IIR_FIFO = 0xc0;  // FIFOs enabled (FCR bit 0)

    static constexpr u32 kBaseClockBaud = 115200;  // 1.8432 MHz / 16
    static constexpr usize kFifo = 16;

    Uart16550(u16 base, Sink sink, void* sink_context);
    ~Uart16550();
    Uart16550(const Uart16550&) = delete;
    Uart16550& operator=(const Uart16550&) = delete;

    u32 pio_read(u16 port, u8 size);
    void pio_write(u16 port, u8 size, u32 value);

    // The interrupt line (COM1: ISA IRQ4). Driven to the current level at once.
    void set_irq(IrqLine line);
    // The clock for the character timeout and timed input.
    void set_timers(TimerQueue& timers);

    // A byte from the outside world, at once. With no room it is an overrun
    // (LSR.OE). Lost in loopback mode (the serial input is disconnected).
    void receive(u8 byte);

    // Bytes arriving on the wire, one per character time from now, flow
    // controlled (see above). Replaces input not yet delivered. `bytes` is
    // the caller's and must outlive the UART (or the input).
    void set_input(const u8* bytes, usize length, TimerQueue& timers);
    usize input_remaining() const { return input_length_ - input_next_; }

    // An interrupt is pending (IIR bit 0 clear), before OUT2 gating.
    bool irq_pending() const;
    // The level the IrqLine is driven to.
    bool irq_level() const { return irq_level_; }
    u16 divisor() const { return static_cast<u16>(dll_ | (dlm_ << 8)); }
    u16 base() const { return base_; }
    // Duration of `characters` characters at the current divisor and LCR.
    u64 character_time_ns(u64 characters) const;

private:
    u8 iir() const;
    u8 modem_inputs() const;  // MSR bits 7:4
    bool fifo_mode() const { return (fcr_ & FCR_ENABLE) != 0; }
    usize rx_capacity() const { return fifo_mode() ? kFifo : 1; }
    bool rx_room() const { return !(mcr_ & MCR_LOOP) && fifo_count_ < rx_capacity(); }
    usize trigger_level() const;
    u64 now() const { return timers_ ? timers_->now() : 0; }

    void rx_push(u8 byte, u64 at);
    u8 rx_pop();
    void rx_clear();
    void write_mcr(u8 value);
    void write_fcr(u8 value);
    void timing_changed();

    // The timeout timer: armed while FIFO data waits and no timeout is
    // pending, for 4 character times after the last receive or read.
    void rearm_timeout();
    // Timed input: arm the next arrival, or resume after flow control.
    void arm_input(u64 deadline);
    void resume_input();
    static void input_due(void* context, u64 now);
    static void timeout_due(void* context, u64 now);

    // Recompute the IRQ line; drive it when it changes.
    void update_irq();

    u16 base_;
    Sink sink_;
    void* sink_context_;
    IrqLine irq_{};
    bool irq_level_ = false;
    TimerQueue* timers_ = nullptr;

    u8 ier_ = 0, lcr_ = 0, mcr_ = 0, scr_ = 0, fcr_ = 0;
    u8 dll_ = 0x0c, dlm_ = 0;  // 9600 baud, the BIOS default
    u8 lsr_errors_ = 0;
    u8 msr_deltas_ = 0;          // MSR bits 3:0
    bool thre_pending_ = false;  // THR-empty interrupt not yet acknowledged
    u8 rbr_ = 0;                 // the last byte read: what an empty RBR reads
    u8 fifo_[kFifo] = {};
    usize fifo_head_ = 0, fifo_count_ = 0;

    // Character timeout.
    DeviceTimer timeout_timer_{};
    u64 rx_activity_ns_ = 0;  // last character received or RBR read
    bool timeout_pending_ = false;

    // Timed input: byte input_next_ arrives at input_epoch_ns_ plus
    // (input_sent_ + 1) character times.
    DeviceTimer input_timer_{};
    const u8* input_ = nullptr;
    usize input_length_ = 0, input_next_ = 0;
    u64 input_epoch_ns_ = 0;
    u64 input_sent_ = 0;       // characters since the epoch
    u64 input_deadline_ = 0;   // when the armed arrival is due
    bool input_blocked_ = false;  // the due byte waits for room
};

}  // namespace xeno::devices
