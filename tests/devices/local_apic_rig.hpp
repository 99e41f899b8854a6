// A local APIC on a fake clock with recording hooks, shared by the local
// APIC tests.
#pragma once

#include <catch2/catch.hpp>
#include <vector>

#include "devices/local_apic.hpp"
#include "devices/timer_queue.hpp"

namespace xeno::devices::lapic_test {

struct FakeClock {
    u64 now = 0;
    static u64 read(void* c) { return static_cast<FakeClock*>(c)->now; }
};

// Guest TSC = 3 * ns + 1000 (a 3 GHz TSC with an offset): to_ns is the
// first ns at which the TSC reads at least `tsc`.
struct FakeTsc {
    static u64 to_ns(void*, u64 tsc) { return tsc <= 1000 ? 0 : (tsc - 1000 + 2) / 3; }
    static u64 from_ns(void*, u64 ns) { return 3 * ns + 1000; }
    static GuestTsc make()
    {
        GuestTsc t;
        t.to_ns = &FakeTsc::to_ns;
        t.from_ns = &FakeTsc::from_ns;
        return t;
    }
};

struct Recorder {
    std::vector<ApicMessage> sent;
    std::vector<u8> eois;
    int notifies = 0;

    static void send(void* c, u32, const ApicMessage& m) { static_cast<Recorder*>(c)->sent.push_back(m); }
    static void notify(void* c, u32) { ++static_cast<Recorder*>(c)->notifies; }
    static void eoi(void* c, u8 v) { static_cast<Recorder*>(c)->eois.push_back(v); }

    LocalApic::Hooks hooks()
    {
        LocalApic::Hooks h;
        h.send = &Recorder::send;
        h.send_context = this;
        h.notify = &Recorder::notify;
        h.notify_context = this;
        h.eoi = &Recorder::eoi;
        h.eoi_context = this;
        return h;
    }
};

struct Rig {
    FakeClock clock;
    TimerQueue timers{&FakeClock::read, &clock};
    Recorder rec;
    LocalApic apic;

    explicit Rig(u32 vcpu = 0, bool bsp = true, u32 apic_id = ~0u)
        : apic(vcpu, apic_id == ~0u ? vcpu : apic_id, bsp, timers, FakeTsc::make(), rec.hooks())
    {
    }

    u32 rd(u32 offset) { return static_cast<u32>(apic.mmio_read(apic.vcpu(), offset, 4)); }
    void wr(u32 offset, u32 value) { apic.mmio_write(apic.vcpu(), offset, 4, value); }
    // Software-enable with spurious vector 0xff.
    void enable() { wr(LocalApic::REG_SVR, 0x1ff); }
    // ESR as software reads it: write, then read (11.5.3).
    u32 esr()
    {
        if (apic.x2apic_mode()) {
            u64 v = 0;
            apic.msr_write(LocalApic::msr_of(LocalApic::REG_ESR), 0);
            apic.msr_read(LocalApic::msr_of(LocalApic::REG_ESR), &v);
            return static_cast<u32>(v);
        }
        wr(LocalApic::REG_ESR, 0);
        return rd(LocalApic::REG_ESR);
    }
    void advance_to(u64 t)
    {
        clock.now = t;
        timers.run_expired(t);
    }
    void fixed(u8 vector, bool level = false)
    {
        ApicMessage m;
        m.vector = vector;
        m.level_triggered = level;
        apic.accept(m);
    }
    void message(DeliveryMode mode, u8 vector = 0)
    {
        ApicMessage m;
        m.mode = mode;
        m.vector = vector;
        apic.accept(m);
    }
    // Deliver the highest pending vector the way the hypervisor does.
    int inject()
    {
        const int v = apic.highest_pending();
        if (v >= 0) apic.acknowledge(static_cast<u8>(v));
        return v;
    }
    void eoi() { wr(LocalApic::REG_EOI, 0); }
    bool x2apic() { return apic.write_apic_base(apic.apic_base() | LocalApic::BASE_EXTD); }
    u64 msr(u32 offset)
    {
        u64 v = 0xdead;
        REQUIRE(apic.msr_read(LocalApic::msr_of(offset), &v));
        return v;
    }
};

}  // namespace xeno::devices::lapic_test
