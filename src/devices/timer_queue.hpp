// Device timers: one-shot deadlines on the machine's clock, for the device
// models (PIT, RTC, LAPIC timers, the UART's input pacing) and the scheduler.
//
// Time is the machine's clock in nanoseconds (hal::time_ns in the
// hypervisor: virtual time in the sim build, the TSC on hardware); device
// models read it through the queue (now()), so a unit test drives them with
// a clock of its own. Models keep their counters as functions of time (a
// PIT count is computed from when it was loaded), and arm a timer only for
// the moments something must happen (an interrupt edge).
//
// Timers fire in deadline order; timers with equal deadlines fire in the
// order they were armed, so a run is deterministic. A callback may re-arm
// its own timer or arm and cancel others. The queue is an intrusive sorted
// list: a domain has a few dozen timers at most (one per LAPIC, PIT, RTC,
// UART), and arming is rarer than the guest instructions in between.
#pragma once

#include "lib/types.hpp"

namespace xeno::devices {

inline constexpr u64 kNever = ~u64{0};

class TimerQueue;

class DeviceTimer {
public:
    using Fire = void (*)(void* context, u64 now);

    DeviceTimer() = default;
    DeviceTimer(Fire fire, void* context) : fire_(fire), context_(context) {}
    DeviceTimer(const DeviceTimer&) = delete;
    DeviceTimer& operator=(const DeviceTimer&) = delete;

    void bind(Fire fire, void* context)
    {
        fire_ = fire;
        context_ = context;
    }
    bool armed() const { return armed_; }
    u64 deadline() const { return armed_ ? deadline_ : kNever; }

private:
    friend class TimerQueue;
    Fire fire_ = nullptr;
    void* context_ = nullptr;
    u64 deadline_ = kNever;
    u64 order_ = 0;  // arming sequence: breaks ties between equal deadlines
    DeviceTimer* next_ = nullptr;
    bool armed_ = false;
};

class TimerQueue {
public:
    using Now = u64 (*)(void* context);
    // Told when the earliest deadline changes (the owner re-arms the host
    // timer); may be null.
    using Changed = void (*)(void* context, u64 earliest);

    TimerQueue(Now clock, void* clock_context) : now_(clock), now_context_(clock_context) {}
    TimerQueue(const TimerQueue&) = delete;
    TimerQueue& operator=(const TimerQueue&) = delete;

    u64 now() const { return now_(now_context_); }

    // Fire `timer` at `deadline` (ns on the machine's clock). Re-arming an
    // armed timer moves it. A deadline in the past fires at the next
    // run_expired. kNever cancels.
    void arm(DeviceTimer& timer, u64 deadline);
    void cancel(DeviceTimer& timer);

    // The earliest deadline, kNever when nothing is armed.
    u64 earliest() const { return head_ ? head_->deadline_ : kNever; }

    // Fire every timer whose deadline is <= `now`, earliest first (a timer
    // re-armed for a deadline <= now fires again in the same call, after
    // the others due before it). Returns how many fired; at most
    // kMaxFiresPerRun, so a device re-arming itself at `now` forever cannot
    // hold the caller (the rest fire at the next call).
    static constexpr usize kMaxFiresPerRun = 4096;
    usize run_expired(u64 now);

    void set_changed(Changed changed, void* context)
    {
        changed_ = changed;
        changed_context_ = context;
    }
    usize armed_count() const;

private:
    void unlink(DeviceTimer& timer);
    void notify(u64 old_earliest);

    Now now_;
    void* now_context_;
    Changed changed_ = nullptr;
    void* changed_context_ = nullptr;
    DeviceTimer* head_ = nullptr;
    u64 next_order_ = 0;
};

}  // namespace xeno::devices
