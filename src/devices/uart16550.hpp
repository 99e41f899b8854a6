// A 16550A UART (the PC's COM1 at 0x3f8 for the guest console).
// Register map after the National Semiconductor PC16550D data sheet:
//   +0 RBR (read) / THR (write), DLL when LCR.DLAB
//   +1 IER, DLM when LCR.DLAB
//   +2 IIR (read) / FCR (write)
//   +3 LCR   +4 MCR   +5 LSR   +6 MSR   +7 SCR
// Transmission is instantaneous: every byte written to THR goes to the sink
// at once, so LSR always reports THRE|TEMT. Received bytes (receive()) wait
// in a 16-byte FIFO and set LSR.DR. MCR loopback routes THR to the FIFO.
// The interrupt line is computed (irq_pending) but not wired to a PIC yet.
#pragma once

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
    static constexpr u8 MCR_LOOP = 1u << 4;
    static constexpr u8 IER_RDA = 1u << 0;
    static constexpr u8 IER_THRE = 1u << 1;
    static constexpr u8 IIR_NONE = 0x01;
    static constexpr u8 IIR_THRE = 0x02;
    static constexpr u8 IIR_RDA = 0x04;
    static constexpr u8 IIR_FIFO = 0xc0;  // FIFOs enabled (FCR bit 0)

    Uart16550(u16 base, Sink sink, void* sink_context) : base_(base), sink_(sink), sink_context_(sink_context) {}

    u32 pio_read(u16 port, u8 size);
    void pio_write(u16 port, u8 size, u32 value);

    // A byte from the outside world (the console input). Dropped, with LSR.OE
    // set, when the FIFO is full.
    void receive(u8 byte);

    bool irq_pending() const;
    u16 divisor() const { return static_cast<u16>(dll_ | (dlm_ << 8)); }
    u16 base() const { return base_; }

private:
    static constexpr usize kFifo = 16;

    u8 iir() const;

    u16 base_;
    Sink sink_;
    void* sink_context_;
    u8 ier_ = 0, lcr_ = 0, mcr_ = 0, scr_ = 0, fcr_ = 0;
    u8 dll_ = 0x0c, dlm_ = 0;  // 9600 baud, the BIOS default
    u8 lsr_errors_ = 0;
    bool thre_pending_ = false;  // THR-empty interrupt not yet acknowledged
    u8 fifo_[kFifo] = {};
    usize fifo_head_ = 0, fifo_count_ = 0;
};

}  // namespace xeno::devices
