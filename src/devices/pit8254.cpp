#include "devices/pit8254.hpp"

#include "lib/bits.hpp"

namespace xeno::devices {

namespace {

bool is_one_shot(u8 mode) { return mode == 0 || mode == 1 || mode == 4 || mode == 5; }
bool is_strobe(u8 mode) { return mode == 4 || mode == 5; }

}  // namespace

// ---- clock ----------------------------------------------------------------

u64 Pit8254::ticks_at(u64 ns) { return muldiv64(ns, kClockHz, kNsPerSecond); }

u64 Pit8254::ns_of_tick(u64 tick)
{
    const unsigned __int128 product = static_cast<unsigned __int128>(tick) * kNsPerSecond;
    const unsigned __int128 ns = (product + kClockHz - 1) / kClockHz;
    return ns >= kNever ? kNever : static_cast<u64>(ns);
}

// ---- one counter as a function of the tick --------------------------------

u32 Pit8254::Counter::ce(u64 tick) const
{
    if (!running) return frozen_ce;
    const u32 m = modulus();
    const u64 elapsed = tick > base ? tick - base : 0;
    switch (mode) {
    case 2: {
        // Loaded with N, counts down to 1 (OUT low for that clock), reloads.
        const u32 o = static_cast<u32>((elapsed + phase) % value);
        return (value - o) % m;
    }
    case 3: {
        // Each half-cycle starts from N (even N) or N-1 (odd N) and counts
        // down by two (data sheet, Mode 3 "Even counts"/"Odd counts").
        const u32 o = static_cast<u32>((elapsed + phase) % value);
        const u32 high = (value + 1) / 2;
        const u32 into_half = o < high ? o : o - high;
        const u32 top = (value & 1) ? value - 1 : value;
        return (top - 2 * into_half) % m;
    }
    default: {
        // One-shot modes: after terminal count the CE wraps to FFFF (9999 in
        // BCD) and keeps counting ("Counter does not stop when it reaches zero").
        const u32 d = static_cast<u32>(elapsed % m);
        return (value % m + m - d) % m;
    }
    }
}

bool Pit8254::Counter::out(u64 tick) const
{
    if (!running) return frozen_out;
    const u64 elapsed = tick > base ? tick - base : 0;
    switch (mode) {
    case 0:
    case 1: return expired || elapsed >= value;       // high from terminal count on
    case 2: return (elapsed + phase) % value != value - 1;  // low while the CE holds 1
    case 3: return (elapsed + phase) % value < (value + 1) / 2;
    default: return expired || elapsed != value;      // 4, 5: low for the clock at terminal count
    }
}

// Rising edges of OUT in (after, upto] while running.
u64 Pit8254::Counter::rising_edges(u64 after, u64 upto) const
{
    if (!running || upto <= after) return 0;
    if (is_one_shot(mode)) {
        if (expired) return 0;
        const u64 edge = base + value + (is_strobe(mode) ? 1 : 0);
        return (after < edge && edge <= upto) ? 1 : 0;
    }
    // Periodic: OUT rises where a cycle starts, at base - phase + k * value, k >= 1.
    const auto cycles = [this](u64 tick) -> u64 { return tick < base ? 0 : (tick - base + phase) / value; };
    return cycles(upto) - cycles(after);
}

// The next tick after `tick` at which OUT changes (mode 2, 4 and 5 strobes:
// their rising end only) or CR is loaded; kNoTick when nothing will happen.
u64 Pit8254::Counter::next_change(u64 tick) const
{
    u64 next = pending > tick ? pending : kNoTick;
    if (!running) return next;
    const u64 elapsed = tick > base ? tick - base : 0;
    u64 edge = kNoTick;
    if (is_one_shot(mode)) {
        const u64 end = u64{value} + (is_strobe(mode) ? 1 : 0);
        if (!expired && elapsed < end) edge = base + end;
    } else {
        const u32 o = static_cast<u32>((elapsed + phase) % value);
        const u32 high = (value + 1) / 2;
        edge = (mode == 3 && o < high) ? tick + (high - o) : tick + (value - o);
    }
    return edge < next ? edge : next;
}

// Modes 2 and 3 load a count written while counting at the end of the
// current cycle (mode 2) or half-cycle (mode 3).
u64 Pit8254::Counter::half_cycle_end(u64 tick) const
{
    const u32 o = static_cast<u32>((tick - base + phase) % value);
    const u32 high = (value + 1) / 2;
    if (mode == 3 && o < high) return tick + (high - o);
    return tick + (value - o);
}

void Pit8254::Counter::stop(u64 tick, bool out_level)
{
    if (running) {
        frozen_ce = ce(tick);
        if (is_one_shot(mode) && tick - base >= value) expired = true;
    }
    frozen_out = out_level;
    running = false;
}

void Pit8254::Counter::apply_pending()
{
    const u64 at = pending;
    const bool low_half = pending_low_half;
    pending = kNoTick;
    pending_low_half = false;
    null_count = false;
    expired = false;
    phase = 0;
    switch (mode) {
    case 0:
    case 4:
        // Loaded even with GATE low (Mode 0: "it will still be loaded on the
        // next CLK pulse"); counting then waits for GATE.
        if (gate) {
            running = true;
            base = at;
            value = count;
        } else {
            running = false;
            frozen_ce = count % modulus();
            frozen_out = mode == 4;
            resumable = true;
        }
        break;
    case 1:
    case 5:  // loaded by a trigger: counts whatever GATE does next
        running = true;
        base = at;
        value = count;
        break;
    default:
        if (gate) {
            running = true;
            base = at;
            value = count;
            if (mode == 3 && low_half) phase = (count + 1) / 2;  // the new count starts with a low half
        } else {
            running = false;
            frozen_ce = count % modulus();
            frozen_out = true;
        }
        break;
    }
}

// ---- encodings ------------------------------------------------------------

u16 Pit8254::to_bcd(u32 value)
{
    u32 bcd = 0;
    for (unsigned shift = 0; shift < 16; shift += 4) {
        bcd |= (value % 10) << shift;
        value /= 10;
    }
    return static_cast<u16>(bcd);
}

u32 Pit8254::from_bcd(u16 raw)
{
    u32 value = 0;
    for (int shift = 12; shift >= 0; shift -= 4) {
        u32 digit = (raw >> shift) & 0xf;
        if (digit > 9) digit = 9;  // not a BCD digit: defined as 9 (see the header)
        value = value * 10 + digit;
    }
    return value;
}

u32 Pit8254::count_of(const Counter& c, u16 raw) const
{
    const u32 n = c.bcd ? from_bcd(raw) : raw;
    return n == 0 ? c.modulus() : n;  // 0 is 2^16 (binary) or 10^4 (BCD)
}

u16 Pit8254::read_value(const Counter& c, u64 tick) const
{
    const u32 n = c.ce(tick);
    return c.bcd ? to_bcd(n) : static_cast<u16>(n);
}

u8 Pit8254::status_of(const Counter& c, u64 tick) const
{
    return static_cast<u8>((c.out(tick) ? kStatusOutput : 0) | (c.null_count ? kStatusNullCount : 0) | c.control);
}

// ---- IRQ0 and time --------------------------------------------------------

Pit8254::Pit8254(TimerQueue& timers, IrqLine irq0) : timers_(timers), irq0_(irq0), timer_(&Pit8254::on_timer, this)
{
    counters_[2].gate = false;  // port 0x61 bit 0 resets to 0
    irq0_tick_ = now_tick();
}

// Bring every counter to `tick`, delivering OUT0's edges on the way (split
// at a pending CR load, which changes how OUT0 evolves).
void Pit8254::sync(u64 tick)
{
    Counter& c0 = counters_[0];
    if (c0.pending <= tick) {
        deliver_irq0(c0.pending);
        c0.apply_pending();
    }
    deliver_irq0(tick);
    counters_[1].advance(tick);
    counters_[2].advance(tick);
}

void Pit8254::deliver_irq0(u64 upto)
{
    const Counter& c0 = counters_[0];
    const u64 edges = upto > irq0_tick_ ? c0.rising_edges(irq0_tick_, upto) : 0;
    if (edges) {
        // One edge stands for all that passed since the last delivery.
        if (irq0_level_) irq0_.lower();
        irq0_.raise();
        irq0_level_ = true;
        ++irq0_edges_;
        irq0_coalesced_ += edges - 1;
    }
    const bool level = c0.out(upto);
    if (level != irq0_level_) {
        irq0_level_ = level;
        irq0_.set_level(level);
        if (level) ++irq0_edges_;
    }
    if (upto > irq0_tick_) irq0_tick_ = upto;
}

// After the guest changed a counter: OUT0 may have changed at once (a
// control word, a count write, a gate edge), and its next change moved.
void Pit8254::after_change(u64 tick)
{
    deliver_irq0(tick);
    const u64 next = counters_[0].next_change(tick);
    const u64 deadline = next == kNoTick ? kNever : ns_of_tick(next);
    if (timer_.deadline() != deadline) timers_.arm(timer_, deadline);  // kNever cancels
}

void Pit8254::on_timer(void* context, u64 now)
{
    auto* self = static_cast<Pit8254*>(context);
    u64 tick = ticks_at(now);
    if (tick < self->irq0_tick_) tick = self->irq0_tick_;
    self->sync(tick);
    self->after_change(tick);
}

// ---- guest interface --------------------------------------------------------

u32 Pit8254::pio_read(u16 port, u8 /*size*/)
{
    if (port < kFirstPort || port >= kFirstPort + kCounters) return 0xff;  // 0x43 is write-only
    u64 tick = now_tick();
    if (tick < irq0_tick_) tick = irq0_tick_;
    sync(tick);
    const u8 value = read_counter(counters_[port - kFirstPort], tick);
    after_change(tick);
    return value;
}

void Pit8254::pio_write(u16 port, u8 /*size*/, u32 value)
{
    if (port < kFirstPort || port > kControlPort) return;
    u64 tick = now_tick();
    if (tick < irq0_tick_) tick = irq0_tick_;
    sync(tick);
    const u8 byte = static_cast<u8>(value);
    if (port == kControlPort)
        write_control(tick, byte);
    else
        write_counter(counters_[port - kFirstPort], tick, byte);
    after_change(tick);
}

void Pit8254::set_gate(unsigned counter, bool level)
{
    if (counter >= kCounters) return;
    u64 tick = now_tick();
    if (tick < irq0_tick_) tick = irq0_tick_;
    sync(tick);
    Counter& c = counters_[counter];
    if (c.gate == level) return;
    c.gate = level;
    switch (c.mode) {
    case 0:
    case 4:
        // GATE enables counting; it has no effect on OUT (mode 4's strobe
        // cut by GATE low ends high).
        if (level && c.resumable) {
            c.running = true;
            c.base = tick;
            c.value = c.frozen_ce == 0 ? c.modulus() : c.frozen_ce;
            c.phase = 0;
            c.resumable = false;
        } else if (!level && c.running) {
            c.stop(tick, c.mode == 0 ? c.out(tick) : true);
            c.resumable = true;
        }
        break;
    case 1:
    case 5:
        // A rising edge triggers: CR is loaded on the next clock.
        if (level && c.count_written) c.pending = tick + 1;
        break;
    default:
        // Modes 2 and 3: GATE low stops counting and forces OUT high; a
        // rising edge reloads CR on the next clock.
        if (level) {
            if (c.count_written) {
                c.pending = tick + 1;
                c.pending_low_half = false;
            }
        } else {
            c.stop(tick, true);
            c.pending = kNoTick;
        }
        break;
    }
    after_change(tick);
}

bool Pit8254::output(unsigned counter) const
{
    if (counter >= kCounters) return false;
    Counter c = counters_[counter];
    u64 tick = now_tick();
    if (counter == 0 && tick < irq0_tick_) tick = irq0_tick_;
    c.advance(tick);
    return c.out(tick);
}

// ---- registers --------------------------------------------------------------

u8 Pit8254::read_counter(Counter& c, u64 tick)
{
    // Latched status is read first, then a latched count, then the CE "on
    // the fly" (data sheet, "Read-Back Command").
    if (c.status_latched) {
        c.status_latched = false;
        return c.latched_status;
    }
    const u16 value = c.count_latched ? c.latched_count : read_value(c, tick);
    const u8 lsb = static_cast<u8>(value);
    const u8 msb = static_cast<u8>(value >> 8);
    switch (c.access) {
    case kAccessLsb: c.count_latched = false; return lsb;
    case kAccessMsb: c.count_latched = false; return msb;
    default:
        if (!c.read_msb_next) {
            c.read_msb_next = true;
            return lsb;
        }
        c.read_msb_next = false;
        c.count_latched = false;  // both bytes read: the output latch follows the CE again
        return msb;
    }
}

void Pit8254::write_counter(Counter& c, u64 tick, u8 byte)
{
    switch (c.access) {
    case kAccessLsb: load_count(c, tick, byte); break;
    case kAccessMsb: load_count(c, tick, static_cast<u16>(byte << 8)); break;
    default:
        if (!c.write_msb_next) {
            c.write_lsb = byte;
            c.write_msb_next = true;
            if (c.mode == 0) {
                // Mode 0: "Writing the first byte disables counting. OUT is
                // set low immediately (no clock pulse required)."
                c.stop(tick, false);
                c.resumable = false;
                c.pending = kNoTick;
            }
        } else {
            c.write_msb_next = false;
            load_count(c, tick, static_cast<u16>(c.write_lsb | (byte << 8)));
        }
        break;
    }
}

void Pit8254::load_count(Counter& c, u64 tick, u16 raw)
{
    u32 n = count_of(c, raw);
    if ((c.mode == 2 || c.mode == 3) && n == 1) n = 2;  // illegal count: see the header
    c.count = n;
    c.count_written = true;
    c.null_count = true;
    switch (c.mode) {
    case 0:
        // OUT goes low with a new count and the CE is loaded on the next clock.
        c.stop(tick, false);
        c.resumable = false;
        c.pending = tick + 1;
        break;
    case 4: c.pending = tick + 1; break;  // counting goes on until the load
    case 1:
    case 5: break;  // loaded by the next trigger
    default:
        // Modes 2 and 3: a count written while counting waits for the end of
        // the (half-)cycle; a first count is loaded on the next clock.
        if (c.running) {
            if (c.pending == kNoTick) {
                c.pending = c.half_cycle_end(tick);
                c.pending_low_half = c.mode == 3 && c.out(tick);
            }
        } else if (c.pending == kNoTick) {
            c.pending = tick + 1;
        }
        break;
    }
}

void Pit8254::write_control(u64 tick, u8 value)
{
    const u8 select = value >> 6;
    if (select == kReadBack) {
        read_back(tick, value);
        return;
    }
    Counter& c = counters_[select];
    const u8 access = (value >> 4) & 3;
    if (access == kAccessLatch) {
        // A second latch before the count is read is ignored.
        if (!c.count_latched) {
            c.count_latched = true;
            c.latched_count = read_value(c, tick);
        }
        return;
    }
    u8 mode = (value >> 1) & 7;
    if (mode > 5) mode = static_cast<u8>(mode - 4);  // 6, 7 are 2, 3
    // "When a Control Word is written to a Counter, all Control Logic is
    // immediately reset and OUT goes to a known initial state": low in mode 0,
    // high in the others.
    c.stop(tick, mode != 0);
    c.control = value & 0x3f;
    c.mode = mode;
    c.access = access;
    c.bcd = (value & 1) != 0;
    c.frozen_ce %= c.modulus();
    c.count_written = false;
    c.null_count = true;
    c.write_msb_next = false;
    c.read_msb_next = false;
    c.count_latched = false;
    c.status_latched = false;
    c.resumable = false;
    c.expired = false;
    c.pending = kNoTick;
    c.pending_low_half = false;
}

void Pit8254::read_back(u64 tick, u8 value)
{
    for (unsigned i = 0; i < kCounters; ++i) {
        if (!(value & (2u << i))) continue;
        Counter& c = counters_[i];
        // Only the first latch of each kind counts until it is read.
        if (!(value & kReadBackNoStatus) && !c.status_latched) {
            c.status_latched = true;
            c.latched_status = status_of(c, tick);
        }
        if (!(value & kReadBackNoCount) && !c.count_latched) {
            c.count_latched = true;
            c.latched_count = read_value(c, tick);
        }
    }
}

}  // namespace xeno::devices
