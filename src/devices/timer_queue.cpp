#include "devices/timer_queue.hpp"

namespace xeno::devices {

void TimerQueue::unlink(DeviceTimer& t)
{
    if (!t.armed_) return;
    DeviceTimer** p = &head_;
    while (*p && *p != &t) p = &(*p)->next_;
    if (*p) *p = t.next_;
    t.next_ = nullptr;
    t.armed_ = false;
}

void TimerQueue::notify(u64 old_earliest)
{
    const u64 e = earliest();
    if (e != old_earliest && changed_) changed_(changed_context_, e);
}

void TimerQueue::arm(DeviceTimer& t, u64 deadline)
{
    const u64 old = earliest();
    unlink(t);
    if (deadline != kNever) {
        t.deadline_ = deadline;
        t.order_ = next_order_++;
        t.armed_ = true;
        DeviceTimer** p = &head_;
        while (*p && (*p)->deadline_ <= deadline) p = &(*p)->next_;  // after equal deadlines: arming order
        t.next_ = *p;
        *p = &t;
    }
    notify(old);
}

void TimerQueue::cancel(DeviceTimer& t)
{
    const u64 old = earliest();
    unlink(t);
    notify(old);
}

usize TimerQueue::run_expired(u64 now)
{
    usize fired = 0;
    while (head_ && head_->deadline_ <= now && fired < kMaxFiresPerRun) {
        DeviceTimer& t = *head_;
        const u64 old = earliest();
        unlink(t);
        notify(old);
        ++fired;
        if (t.fire_) t.fire_(t.context_, now);
    }
    return fired;
}

usize TimerQueue::armed_count() const
{
    usize n = 0;
    for (const DeviceTimer* t = head_; t; t = t->next_) ++n;
    return n;
}

}  // namespace xeno::devices
