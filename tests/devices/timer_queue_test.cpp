#include "devices/timer_queue.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "devices/mmio_bus.hpp"

using namespace xeno;
using namespace xeno::devices;

namespace {

struct Clock {
    u64 now = 0;
    static u64 read(void* c) { return static_cast<Clock*>(c)->now; }
};

struct Recorder {
    std::vector<std::string> fired;
};

struct Named {
    Recorder* r;
    const char* name;
    DeviceTimer timer;
    Named(Recorder* rec, const char* n) : r(rec), name(n), timer(&Named::fire, this) {}
    static void fire(void* c, u64) { auto* self = static_cast<Named*>(c); self->r->fired.push_back(self->name); }
};

}  // namespace

TEST_CASE("timer queue: deadline order, ties in arming order, re-arm and cancel", "[devices][timers]")
{
    Clock clock;
    TimerQueue q(&Clock::read, &clock);
    Recorder rec;
    Named a(&rec, "a"), b(&rec, "b"), c(&rec, "c"), d(&rec, "d");
    std::vector<u64> changes;
    q.set_changed([](void* ctx, u64 e) { static_cast<std::vector<u64>*>(ctx)->push_back(e); }, &changes);

    q.arm(a.timer, 300);
    q.arm(b.timer, 100);
    q.arm(c.timer, 300);
    q.arm(d.timer, 200);
    CHECK(q.earliest() == 100);
    CHECK(q.armed_count() == 4);
    CHECK(changes == std::vector<u64>{300, 100});
    q.arm(d.timer, 300);  // moved: now after a and c
    q.cancel(b.timer);
    CHECK_FALSE(b.timer.armed());
    CHECK(q.earliest() == 300);
    CHECK(q.run_expired(299) == 0);
    CHECK(q.run_expired(300) == 3);
    CHECK(rec.fired == std::vector<std::string>{"a", "c", "d"});
    CHECK(q.earliest() == kNever);
    CHECK(changes.back() == kNever);
}

TEST_CASE("timer queue: a callback may re-arm itself; a storm is bounded per run", "[devices][timers]")
{
    Clock clock;
    TimerQueue q(&Clock::read, &clock);
    struct Self {
        TimerQueue* q;
        DeviceTimer t;
        u64 count = 0;
        u64 period;
    } s{&q, {}, 0, 10};
    s.t.bind([](void* c, u64 now) {
        auto* self = static_cast<Self*>(c);
        ++self->count;
        self->q->arm(self->t, now + self->period);
    }, &s);
    q.arm(s.t, 10);
    CHECK(q.run_expired(35) == 1);  // re-armed for 45, not due
    CHECK(s.count == 1);
    s.period = 0;  // re-arms at now forever
    CHECK(q.run_expired(45) == TimerQueue::kMaxFiresPerRun);
    CHECK(s.t.armed());
}

namespace {

struct Regs {
    u64 last_offset = 0;
    u8 last_size = 0;
    u32 last_vcpu = 0;
    u64 value = 0x1122334455667788;
    u64 mmio_read(u32 vcpu, u64 offset, u8 size)
    {
        last_vcpu = vcpu;
        last_offset = offset;
        last_size = size;
        return value;
    }
    void mmio_write(u32 vcpu, u64 offset, u8 size, u64 v)
    {
        last_vcpu = vcpu;
        last_offset = offset;
        last_size = size;
        value = v;
    }
};

}  // namespace

TEST_CASE("MMIO bus: ranges, offsets, sizes, open bus", "[devices][mmio]")
{
    MmioBus bus;
    Regs r;
    REQUIRE(bus.attach(0xfee00000, 0x1000, mmio_device(r)) == Status::OK);
    CHECK(bus.attach(0xfee00800, 0x1000, mmio_device(r)) == Status::BAD_ARGUMENT);
    CHECK(bus.attach(0xffffffffffff0000, 0x20000, mmio_device(r)) == Status::BAD_ARGUMENT);
    CHECK(bus.claims(0xfee00fff));
    CHECK_FALSE(bus.claims(0xfee01000));
    CHECK(bus.read(3, 0xfee00030, 4) == 0x55667788);
    CHECK(r.last_offset == 0x30);
    CHECK(r.last_vcpu == 3);
    CHECK(r.last_size == 4);
    bus.write(1, 0xfee000b0, 2, 0xabcdef);
    CHECK(r.value == 0xcdef);
    CHECK(bus.read(0, 0xfee00ffe, 4) == 0xffffffff);  // runs past the range
    CHECK(bus.read(0, 0xfec00000, 1) == 0xff);
    CHECK(bus.read(0, 0xfec00000, 8) == ~u64{0});
    CHECK(bus.unclaimed_accesses() == 3);
}
