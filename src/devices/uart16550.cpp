#include "devices/uart16550.hpp"

namespace xeno::devices {

void Uart16550::receive(u8 byte)
{
    if (fifo_count_ == kFifo) {
        lsr_errors_ |= LSR_OE;
        return;
    }
    fifo_[(fifo_head_ + fifo_count_) % kFifo] = byte;
    ++fifo_count_;
}

u8 Uart16550::iir() const
{
    const u8 fifo = (fcr_ & 1) ? IIR_FIFO : 0;
    if ((ier_ & IER_RDA) && fifo_count_) return fifo | IIR_RDA;
    if ((ier_ & IER_THRE) && thre_pending_) return fifo | IIR_THRE;
    return fifo | IIR_NONE;
}

bool Uart16550::irq_pending() const { return (iir() & IIR_NONE) == 0; }

u32 Uart16550::pio_read(u16 port, u8 /*size*/)
{
    switch (port - base_) {
    case 0:
        if (lcr_ & LCR_DLAB) return dll_;
        if (fifo_count_) {
            const u8 b = fifo_[fifo_head_];
            fifo_head_ = (fifo_head_ + 1) % kFifo;
            --fifo_count_;
            return b;
        }
        return 0;
    case 1: return (lcr_ & LCR_DLAB) ? dlm_ : ier_;
    case 2: {
        const u8 v = iir();
        // Reading IIR while it reports THR empty acknowledges that interrupt.
        if ((v & 0x0f) == IIR_THRE) thre_pending_ = false;
        return v;
    }
    case 3: return lcr_;
    case 4: return mcr_;
    case 5: {
        const u8 v = static_cast<u8>(LSR_THRE | LSR_TEMT | (fifo_count_ ? LSR_DR : 0) | lsr_errors_);
        lsr_errors_ = 0;  // error bits clear on read
        return v;
    }
    case 6:
        if (mcr_ & MCR_LOOP) {
            // Loopback: CTS=RTS, DSR=DTR, RI=OUT1, DCD=OUT2.
            return static_cast<u32>(((mcr_ & 0x02) << 3) | ((mcr_ & 0x01) << 5) | ((mcr_ & 0x04) << 4) |
                                    ((mcr_ & 0x08) << 4));
        }
        return 0xb0;  // DCD, DSR, CTS: a terminal is attached and ready
    case 7: return scr_;
    default: return 0xff;
    }
}

void Uart16550::pio_write(u16 port, u8 /*size*/, u32 value)
{
    const u8 v = static_cast<u8>(value);
    switch (port - base_) {
    case 0:
        if (lcr_ & LCR_DLAB) {
            dll_ = v;
        } else if (mcr_ & MCR_LOOP) {
            receive(v);
            thre_pending_ = true;
        } else {
            const char c = static_cast<char>(v);
            if (sink_) sink_(sink_context_, &c, 1);
            thre_pending_ = true;
        }
        break;
    case 1:
        if (lcr_ & LCR_DLAB) {
            dlm_ = v;
        } else {
            // Enabling the THR-empty interrupt while THR is empty raises it.
            if ((v & IER_THRE) && !(ier_ & IER_THRE)) thre_pending_ = true;
            ier_ = v & 0x0f;
        }
        break;
    case 2:
        fcr_ = v & 0xc9;
        if (v & 0x02) {  // clear the receive FIFO
            fifo_head_ = 0;
            fifo_count_ = 0;
        }
        break;
    case 3: lcr_ = v; break;
    case 4: mcr_ = v & 0x1f; break;
    case 7: scr_ = v; break;
    default: break;  // LSR and MSR are read-only
    }
}

}  // namespace xeno::devices
