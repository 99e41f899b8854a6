#include "devices/uart16550.hpp"

#include "lib/bits.hpp"

namespace xeno::devices {

namespace {

constexpr u64 kNsPerSecond = 1'000'000'000;
// LSR bits that raise the receiver line status interrupt: OE, PE, FE, BI.
constexpr u8 kLineStatusErrors = 0x1e;

}  // namespace

Uart16550::Uart16550(u16 base, Sink sink, void* sink_context) : base_(base), sink_(sink), sink_context_(sink_context)
{
    timeout_timer_.bind(&Uart16550::timeout_due, this);
    input_timer_.bind(&Uart16550::input_due, this);
}

Uart16550::~Uart16550()
{
    if (timers_) {
        timers_->cancel(timeout_timer_);
        timers_->cancel(input_timer_);
    }
}

void Uart16550::set_irq(IrqLine line)
{
    irq_ = line;
    irq_level_ = irq_pending() && (mcr_ & MCR_OUT2) && !(mcr_ & MCR_LOOP);
    irq_.set_level(irq_level_);
}

void Uart16550::set_timers(TimerQueue& timers)
{
    if (timers_ == &timers) return;
    const bool input_armed = input_timer_.armed();
    if (timers_) {
        timers_->cancel(timeout_timer_);
        timers_->cancel(input_timer_);
    }
    timers_ = &timers;
    rearm_timeout();
    if (input_armed) timers_->arm(input_timer_, input_deadline_);
}

u64 Uart16550::character_time_ns(u64 characters) const
{
    // In half bits, so 1.5 stop bits (5-bit words with LCR bit 2) stay
    // exact: start bit, 5-8 data bits, optional parity, 1/1.5/2 stop bits
    // (PC16550D LCR description).
    const u64 word = 5 + (lcr_ & 0x03);
    const u64 parity = (lcr_ >> 3) & 1;
    const u64 stop_half_bits = (lcr_ & 0x04) ? (word == 5 ? 3 : 4) : 2;
    const u64 half_bits = 2 * (1 + word + parity) + stop_half_bits;
    // The baud generator divides by the latch; a latch of 0 counts 65536.
    const u64 latch = divisor() ? divisor() : 65536;
    return muldiv64(characters * half_bits, latch * kNsPerSecond, 2 * u64{kBaseClockBaud});
}

usize Uart16550::trigger_level() const
{
    if (!fifo_mode()) return 1;  // 16450 mode: RBR full
    static constexpr usize kLevels[4] = {1, 4, 8, 14};
    return kLevels[(fcr_ >> 6) & 3];
}

u8 Uart16550::modem_inputs() const
{
    if (mcr_ & MCR_LOOP) {
        // Loopback: CTS=RTS, DSR=DTR, RI=OUT1, DCD=OUT2.
        return static_cast<u8>(((mcr_ & MCR_RTS) ? MSR_CTS : 0) | ((mcr_ & MCR_DTR) ? MSR_DSR : 0) |
                               ((mcr_ & MCR_OUT1) ? MSR_RI : 0) | ((mcr_ & MCR_OUT2) ? MSR_DCD : 0));
    }
    return MSR_DCD | MSR_DSR | MSR_CTS;  // a terminal is attached and ready
}

u8 Uart16550::iir() const
{
    const u8 fifo = fifo_mode() ? IIR_FIFO : 0;
    if ((ier_ & IER_RLS) && (lsr_errors_ & kLineStatusErrors)) return fifo | IIR_RLS;
    if ((ier_ & IER_RDA) && fifo_count_ >= trigger_level()) return fifo | IIR_RDA;
    if ((ier_ & IER_RDA) && timeout_pending_) return fifo | IIR_TIMEOUT;
    if ((ier_ & IER_THRE) && thre_pending_) return fifo | IIR_THRE;
    if ((ier_ & IER_MSI) && msr_deltas_) return fifo | IIR_MSI;
    return fifo | IIR_NONE;
}

bool Uart16550::irq_pending() const { return (iir() & IIR_NONE) == 0; }

void Uart16550::update_irq()
{
    const bool level = irq_pending() && (mcr_ & MCR_OUT2) && !(mcr_ & MCR_LOOP);
    if (level == irq_level_) return;
    irq_level_ = level;
    irq_.set_level(level);
}

// --- receive path ---------------------------------------------------------

void Uart16550::rx_push(u8 byte, u64 at)
{
    if (fifo_count_ < rx_capacity()) {
        fifo_[(fifo_head_ + fifo_count_) % kFifo] = byte;
        ++fifo_count_;
    } else {
        lsr_errors_ |= LSR_OE;
        // 16450 mode: the new character overwrites RBR. FIFO mode: it stays
        // in the shift register and is lost.
        if (!fifo_mode()) fifo_[fifo_head_] = byte;
    }
    // A character came in: the timeout restarts, unless a timeout is already
    // indicated (only a read clears that: data sheet, FIFO interrupt mode).
    if (!timeout_pending_) {
        rx_activity_ns_ = at;
        rearm_timeout();
    }
}

u8 Uart16550::rx_pop()
{
    if (fifo_count_ == 0) return rbr_;
    rbr_ = fifo_[fifo_head_];
    fifo_head_ = (fifo_head_ + 1) % kFifo;
    --fifo_count_;
    if (fifo_count_ == 0) fifo_head_ = 0;
    // A read clears a timeout indication and restarts the timer.
    timeout_pending_ = false;
    rx_activity_ns_ = now();
    rearm_timeout();
    resume_input();
    return rbr_;
}

void Uart16550::rx_clear()
{
    fifo_head_ = 0;
    fifo_count_ = 0;
    timeout_pending_ = false;
    rearm_timeout();
    resume_input();
}

void Uart16550::receive(u8 byte)
{
    if (mcr_ & MCR_LOOP) return;  // serial input disconnected in loopback
    rx_push(byte, now());
    update_irq();
}

// --- character timeout ----------------------------------------------------

void Uart16550::rearm_timeout()
{
    if (!timers_) return;
    if (fifo_mode() && fifo_count_ > 0 && !timeout_pending_) {
        timers_->arm(timeout_timer_, rx_activity_ns_ + character_time_ns(4));
    } else {
        timers_->cancel(timeout_timer_);
    }
}

void Uart16550::timeout_due(void* context, u64)
{
    auto& u = *static_cast<Uart16550*>(context);
    if (!u.fifo_mode() || u.fifo_count_ == 0) return;
    u.timeout_pending_ = true;
    u.update_irq();
}

// --- timed input ----------------------------------------------------------

void Uart16550::set_input(const u8* bytes, usize length, TimerQueue& timers)
{
    set_timers(timers);
    timers_->cancel(input_timer_);
    input_ = bytes;
    input_length_ = bytes ? length : 0;
    input_next_ = 0;
    input_blocked_ = false;
    if (input_length_ == 0) return;
    input_epoch_ns_ = now();
    input_sent_ = 0;
    arm_input(input_epoch_ns_ + character_time_ns(1));
}

void Uart16550::arm_input(u64 deadline)
{
    input_deadline_ = deadline;
    timers_->arm(input_timer_, deadline);
}

void Uart16550::resume_input()
{
    if (!input_blocked_ || !timers_ || !rx_room()) return;
    // The sender sees room and starts the waiting byte now.
    input_blocked_ = false;
    input_epoch_ns_ = now();
    input_sent_ = 0;
    arm_input(input_epoch_ns_ + character_time_ns(1));
}

void Uart16550::input_due(void* context, u64)
{
    auto& u = *static_cast<Uart16550*>(context);
    if (u.input_next_ >= u.input_length_) return;
    if (!u.rx_room()) {
        u.input_blocked_ = true;  // flow control: wait for the guest
        return;
    }
    // The deadline, not the time the queue ran: arrival times are exact
    // whenever the owner gets round to running the queue.
    u.rx_push(u.input_[u.input_next_++], u.input_deadline_);
    ++u.input_sent_;
    if (u.input_next_ < u.input_length_) {
        // From the epoch, not from the previous arrival: no rounding drift.
        u.arm_input(u.input_epoch_ns_ + u.character_time_ns(u.input_sent_ + 1));
    }
    u.update_irq();
}

void Uart16550::timing_changed()
{
    if (!timers_) return;
    rearm_timeout();
    if (input_timer_.armed()) {
        // The character in flight starts over at the new rate.
        input_epoch_ns_ = now();
        input_sent_ = 0;
        arm_input(input_epoch_ns_ + character_time_ns(1));
    }
}

// --- registers --------------------------------------------------------------

void Uart16550::write_mcr(u8 value)
{
    const u8 before = modem_inputs();
    const bool was_loop = (mcr_ & MCR_LOOP) != 0;
    mcr_ = value & 0x1f;
    const u8 after = modem_inputs();
    const u8 changed = before ^ after;
    if (changed & MSR_CTS) msr_deltas_ |= MSR_DCTS;
    if (changed & MSR_DSR) msr_deltas_ |= MSR_DDSR;
    if (changed & MSR_DCD) msr_deltas_ |= MSR_DDCD;
    if ((before & MSR_RI) && !(after & MSR_RI)) msr_deltas_ |= MSR_TERI;  // trailing edge of RI
    if (was_loop && !(mcr_ & MCR_LOOP)) resume_input();
}

void Uart16550::write_fcr(u8 value)
{
    const bool enable = (value & FCR_ENABLE) != 0;
    const bool mode_change = enable != fifo_mode();
    // FCR0 must be 1 for the other bits to be programmed (PC16550D FCR).
    fcr_ = enable ? static_cast<u8>(value & 0xc9) : static_cast<u8>(fcr_ & ~FCR_ENABLE);
    // Changing mode clears the FIFOs; FCR1 clears the receive FIFO (FCR2
    // the transmit FIFO, always empty here).
    if (mode_change || (enable && (value & FCR_CLEAR_RX))) {
        rx_clear();
    } else {
        rearm_timeout();
        resume_input();
    }
}

u32 Uart16550::pio_read(u16 port, u8 /*size*/)
{
    u32 value = 0xff;
    switch (static_cast<u16>(port - base_)) {
    case 0: value = (lcr_ & LCR_DLAB) ? dll_ : rx_pop(); break;
    case 1: value = (lcr_ & LCR_DLAB) ? dlm_ : ier_; break;
    case 2:
        value = iir();
        // Reading IIR while it reports THR empty acknowledges that interrupt.
        if ((value & 0x0f) == IIR_THRE) thre_pending_ = false;
        break;
    case 3: value = lcr_; break;
    case 4: value = mcr_; break;
    case 5:
        value = static_cast<u8>(LSR_THRE | LSR_TEMT | (fifo_count_ ? LSR_DR : 0) | lsr_errors_);
        lsr_errors_ = 0;  // error bits clear on read
        break;
    case 6:
        value = static_cast<u8>(modem_inputs() | msr_deltas_);
        msr_deltas_ = 0;  // delta bits clear on read
        break;
    case 7: value = scr_; break;
    default: break;
    }
    update_irq();
    return value;
}

void Uart16550::pio_write(u16 port, u8 /*size*/, u32 value)
{
    const u8 v = static_cast<u8>(value);
    const u64 character_before = character_time_ns(1);
    switch (static_cast<u16>(port - base_)) {
    case 0:
        if (lcr_ & LCR_DLAB) {
            dll_ = v;
            break;
        }
        // Writing THR clears the THR-empty interrupt; the byte leaves at once
        // and THR is empty again, which sets it: the line drops and rises.
        thre_pending_ = false;
        update_irq();
        if (mcr_ & MCR_LOOP) {
            rx_push(v, now());
        } else if (sink_) {
            const char c = static_cast<char>(v);
            sink_(sink_context_, &c, 1);
        }
        thre_pending_ = true;
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
    case 2: write_fcr(v); break;
    case 3: lcr_ = v; break;
    case 4: write_mcr(v); break;
    case 7: scr_ = v; break;
    default: break;  // LSR and MSR: writes are for factory test only
    }
    if (character_time_ns(1) != character_before) timing_changed();
    update_irq();
}

}  // namespace xeno::devices
