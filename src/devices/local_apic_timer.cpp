// The local APIC timer (SDM Vol. 3A 11.5.4) on the machine clock.
//
// Xeno's APIC bus clock runs at 1 GHz (as KVM's): before the divider the
// counter ticks once per ns, so with divide value d the current count drops
// by one every d ns, and a count of N loaded at time t reaches 0 at exactly
// t + N * d. The count is not stored as it runs: it is computed from when
// it was loaded (anchor_ns_, anchor_count_), and the DeviceTimer is armed
// only for the expiry.
//
// Modes (LVT timer bits 18:17): 00 one-shot, 01 periodic, 10 TSC-deadline.
// 11 is reserved (11.5.4.1, Table 11-2); Xeno runs it as one-shot, so a
// guest writing it still gets its interrupt instead of a silent timer.
//
// Mode changes: 11.5.4.1 says a write of the LVT timer that changes the
// mode disarms the timer; KVM's engineers observed on bare metal that a
// one-shot <-> periodic change does not stop the count, the new mode only
// deciding what happens when it reaches 0. Xeno does that: entering or
// leaving TSC-deadline mode disarms (initial count and IA32_TSC_DEADLINE
// become 0), one-shot <-> periodic keeps counting.
//
// Periodic mode reloads at each expiry, and each next expiry is computed
// from the previous one (not from when the callback ran), so the period
// does not drift; if the queue ran late by whole periods they are skipped
// (IRR holds one timer interrupt anyway). A periodic period shorter than
// kMinPeriodicNs (200 us) is stretched to it, and the current count then
// runs proportionally slower so it still spans the period: a guest asking
// for 1 GHz interrupts would otherwise keep the host doing nothing else.
// 200 us (5 kHz, KVM's default min_timer_period_us) is five times the
// fastest tick any common OS programs (HZ=1000) and, at a few us per
// injected interrupt, bounds the cost to a few percent of a CPU. It also
// leaves the guest time between two ticks where the hypervisor is slow: in
// Bochs, at 100 M emulated instructions per second, a tick's three exits
// (the host timer, the EOI, the interrupt window) took about 110 us, and at
// 100 us a periodic storm then never let the guest run anything but its
// handler. One-shot and TSC-deadline timers need a guest
// write (a VM exit) per interrupt, so they pace themselves.
//
// A divide configuration change while counting continues from the current
// count at the new rate (the fraction of the count in progress restarts).
//
// All arithmetic stays in 64 bits (no 128-bit division, which would need
// libgcc in the hw build): an unstretched period is N * d, so the rate is
// one count per d ns; a stretched one has N * d < kMinPeriodicNs, so its
// products stay below 10^10.
#include "devices/local_apic.hpp"

namespace xeno::devices {

void LocalApic::timer_fired(void* context, u64 now) { static_cast<LocalApic*>(context)->on_timer(now); }

LocalApic::TimerMode LocalApic::timer_mode() const
{
    switch ((lvt_[TIMER] >> 17) & 3) {
    case 1: return TimerMode::PERIODIC;
    case 2: return TimerMode::TSC_DEADLINE;
    default: return TimerMode::ONE_SHOT;  // 0, and the reserved 3
    }
}

// Figure 11-10: bits 3,1,0 = 000 -> 2, 001 -> 4, ..., 110 -> 128, 111 -> 1.
u32 LocalApic::divide_value() const
{
    const u32 code = ((divide_config_ >> 1) & 4) | (divide_config_ & 3);
    return code == 7 ? 1 : 2u << code;
}

// The time initial_count_ counts take in the current mode.
u64 LocalApic::full_period_ns() const
{
    u64 period = u64{initial_count_} * divide_value();
    if (timer_mode() == TimerMode::PERIODIC && period < kMinPeriodicNs) period = kMinPeriodicNs;
    return period;
}

// Whole counts that elapse in `ns` at the current rate (initial_count_
// counts per period_ns_). A stretched period is only ever asked about
// times within one period.
u64 LocalApic::counts_in(u64 ns) const
{
    const u64 divide = divide_value();
    if (period_ns_ == u64{initial_count_} * divide) return ns / divide;
    return ns * initial_count_ / period_ns_;
}

// The time `count` counts take at the current rate, rounded up.
u64 LocalApic::ns_for_counts(u32 count) const
{
    const u64 divide = divide_value();
    if (period_ns_ == u64{initial_count_} * divide) return u64{count} * divide;
    return (u64{count} * period_ns_ + initial_count_ - 1) / initial_count_;
}

// Count down from `count` starting at `now` (0: stop).
void LocalApic::start_countdown(u64 now, u32 count)
{
    if (count == 0 || initial_count_ == 0) {
        stop_timer();
        return;
    }
    anchor_ns_ = now;
    anchor_count_ = count;
    period_ns_ = full_period_ns();
    expiry_ns_ = now + ns_for_counts(count);
    timers_.arm(timer_, expiry_ns_);
}

void LocalApic::stop_timer()
{
    timers_.cancel(timer_);
    anchor_count_ = 0;
    expiry_ns_ = kNever;
}

// An expiry that is due but whose callback has not run yet happens before
// a write changes the timer, so the write cannot lose it.
void LocalApic::catch_up_timer(u64 now)
{
    if (timer_.armed() && timer_.deadline() <= now) {
        timers_.cancel(timer_);
        on_timer(now);
    }
}

void LocalApic::on_timer(u64 now)
{
    if (timer_mode() == TimerMode::TSC_DEADLINE) {
        // 11.5.4.1: the timer disarms itself and clears IA32_TSC_DEADLINE.
        tsc_deadline_ = 0;
        expiry_ns_ = kNever;
    } else if (anchor_count_ == 0) {
        return;  // stopped meanwhile
    } else if (timer_mode() == TimerMode::PERIODIC) {
        // Reload from the expiry itself; skip whole periods the queue missed.
        const u64 expired = expiry_ns_;
        period_ns_ = full_period_ns();
        anchor_ns_ = now - expired >= period_ns_ ? expired + (now - expired) / period_ns_ * period_ns_ : expired;
        anchor_count_ = initial_count_;
        expiry_ns_ = anchor_ns_ + period_ns_;
        timers_.arm(timer_, expiry_ns_);
    } else {
        anchor_count_ = 0;  // one-shot: the count stays at 0
        expiry_ns_ = kNever;
    }
    // A masked timer still counts; it only delivers nothing (signal_local).
    signal_local(TIMER);
}

u32 LocalApic::current_count(u64 now) const
{
    // TSC-deadline mode: the current count always reads 0 (11.5.4.1).
    if (timer_mode() == TimerMode::TSC_DEADLINE || anchor_count_ == 0 || initial_count_ == 0) return 0;
    if (now < expiry_ns_) {
        const u64 elapsed = now > anchor_ns_ ? now - anchor_ns_ : 0;
        return anchor_count_ - static_cast<u32>(counts_in(elapsed));
    }
    if (timer_mode() != TimerMode::PERIODIC) return 0;
    // Periodic, expired, callback not run yet: already counting the next
    // period (write_lvt_timer catches up before a mode change, so
    // period_ns_ is the periodic one).
    return initial_count_ - static_cast<u32>(counts_in((now - expiry_ns_) % period_ns_));
}

void LocalApic::write_initial_count(u32 value)
{
    // 11.5.4.1: in TSC-deadline mode writes to the initial count are ignored.
    if (timer_mode() == TimerMode::TSC_DEADLINE) return;
    const u64 now = timers_.now();
    catch_up_timer(now);
    initial_count_ = value;
    start_countdown(now, value);  // 0 stops the timer (11.5.4)
}

void LocalApic::write_divide(u32 value)
{
    const u64 now = timers_.now();
    catch_up_timer(now);
    const u32 count = current_count(now);
    divide_config_ = value;
    if (anchor_count_ != 0 && timer_mode() != TimerMode::TSC_DEADLINE) start_countdown(now, count);
}

void LocalApic::write_lvt_timer(u32 value)
{
    const u64 now = timers_.now();
    catch_up_timer(now);
    const TimerMode old_mode = timer_mode();
    const u32 count = current_count(now);
    lvt_[TIMER] = value;
    const TimerMode new_mode = timer_mode();
    if (old_mode == new_mode) return;
    if (old_mode == TimerMode::TSC_DEADLINE || new_mode == TimerMode::TSC_DEADLINE) {
        stop_timer();
        initial_count_ = 0;
        tsc_deadline_ = 0;
        return;
    }
    // One-shot <-> periodic: the count goes on; the minimum period may
    // apply or stop applying, so the rate is recomputed from here.
    if (anchor_count_ != 0) start_countdown(now, count);
}

u64 LocalApic::tsc_deadline() const { return timer_mode() == TimerMode::TSC_DEADLINE ? tsc_deadline_ : 0; }

void LocalApic::write_tsc_deadline(u64 guest_tsc)
{
    // 11.5.4.1: outside TSC-deadline mode writes are ignored (and reads 0).
    if (!enabled_ || timer_mode() != TimerMode::TSC_DEADLINE) return;
    const u64 now = timers_.now();
    catch_up_timer(now);
    tsc_deadline_ = guest_tsc;
    if (guest_tsc == 0) {  // disarms
        stop_timer();
        return;
    }
    // Without a conversion (a unit test's bare APIC) guest TSC = ns.
    const u64 deadline = tsc_.to_ns ? tsc_.ns_of(guest_tsc) : guest_tsc;
    if (deadline <= now) {
        stop_timer();
        on_timer(now);  // a deadline already passed fires at once
        return;
    }
    expiry_ns_ = deadline;
    timers_.arm(timer_, deadline);
}

}  // namespace xeno::devices
