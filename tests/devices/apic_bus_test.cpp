// APIC bus routing (SDM Vol. 3A 11.6.2, 11.12.10): shorthands, physical
// and logical destinations in xAPIC and x2APIC modes, broadcasts, lowest
// priority, disabled APICs, and IPIs issued through real ICR writes.
#include "devices/apic_bus.hpp"

#include <catch2/catch.hpp>
#include <memory>
#include <vector>

#include "local_apic_rig.hpp"

using namespace xeno;
using namespace xeno::devices;
using xeno::devices::lapic_test::FakeClock;
using xeno::devices::lapic_test::FakeTsc;
using L = LocalApic;

namespace {

// Four vcpus (APIC IDs given), software-enabled, IPIs through the bus.
struct Machine {
    FakeClock clock;
    TimerQueue timers{&FakeClock::read, &clock};
    ApicBus bus;
    std::vector<std::unique_ptr<LocalApic>> apics;

    explicit Machine(std::vector<u32> ids = {0, 1, 2, 3})
    {
        LocalApic::Hooks hooks;
        hooks.send = &ApicBus::send_from_apic;
        hooks.send_context = &bus;
        for (u32 i = 0; i < ids.size(); ++i) {
            apics.push_back(std::make_unique<LocalApic>(i, ids[i], i == 0, timers, FakeTsc::make(), hooks));
            REQUIRE(bus.attach(*apics.back()) == Status::OK);
            wr(i, L::REG_SVR, 0x1ff);
        }
    }
    LocalApic& operator[](usize i) { return *apics[i]; }
    void wr(u32 vcpu, u32 offset, u32 value) { bus.mmio_write(vcpu, offset, 4, value); }
    u32 rd(u32 vcpu, u32 offset) { return static_cast<u32>(bus.mmio_read(vcpu, offset, 4)); }
    void ipi(u32 from, u32 destination, u32 icr_low)
    {
        wr(from, L::REG_ICR_HIGH, destination << 24);
        wr(from, L::REG_ICR_LOW, icr_low);
    }
    void x2apic_all()
    {
        for (auto& a : apics) REQUIRE(a->write_apic_base(a->apic_base() | L::BASE_EXTD));
    }
    // Which vcpus have `vector` in IRR (and clear it for the next check).
    std::vector<u32> got(u8 vector)
    {
        std::vector<u32> who;
        for (u32 i = 0; i < apics.size(); ++i) {
            if (apics[i]->irr_has(vector)) {
                who.push_back(i);
                apics[i]->acknowledge(vector);
                wr(i, L::REG_EOI, 0);
                if (apics[i]->x2apic_mode()) REQUIRE(apics[i]->msr_write(0x80b, 0));
            }
        }
        return who;
    }
    using V = std::vector<u32>;
};

ApicMessage fixed(u8 vector, u32 destination, bool logical = false)
{
    ApicMessage m;
    m.vector = vector;
    m.destination = destination;
    m.logical = logical;
    return m;
}

}  // namespace

TEST_CASE("apic bus: attach", "[devices][apic-bus]")
{
    FakeClock clock;
    TimerQueue timers(&FakeClock::read, &clock);
    ApicBus bus;
    LocalApic a(0, 0, true, timers, FakeTsc::make(), {});
    LocalApic twin(0, 7, false, timers, FakeTsc::make(), {});
    LocalApic far(64, 64, false, timers, FakeTsc::make(), {});
    CHECK(bus.attach(a) == Status::OK);
    CHECK(bus.attach(twin) == Status::BAD_STATE);
    CHECK(bus.attach(far) == Status::BAD_ARGUMENT);
    CHECK(bus.apic(0) == &a);
    CHECK(bus.apic(1) == nullptr);
    CHECK(bus.apic(1000) == nullptr);
    // The xAPIC page reaches the accessing vcpu's APIC; no APIC: all ones.
    CHECK(bus.mmio_read(0, L::REG_VERSION, 4) == 0x01060014);
    CHECK(bus.mmio_read(1, L::REG_VERSION, 4) == 0xffffffff);
    bus.mmio_write(1, L::REG_TPR, 4, 0x20);  // dropped
}

TEST_CASE("apic bus: physical destinations and the xAPIC broadcast (11.6.2.1)", "[devices][apic-bus]")
{
    Machine m;
    using V = Machine::V;
    m.ipi(0, 2, 0x4050);
    CHECK(m.got(0x50) == V{2});
    m.ipi(3, 0, 0x4051);
    CHECK(m.got(0x51) == V{0});
    m.ipi(1, 0xff, 0x4052);  // broadcast, sender included
    CHECK(m.got(0x52) == V{0, 1, 2, 3});
    m.ipi(1, 9, 0x4053);  // nobody: nothing, and no send-accept error
    CHECK(m.got(0x53).empty());
    m.wr(1, L::REG_ESR, 0);
    CHECK(m.rd(1, L::REG_ESR) == 0);

    // The xAPIC ID is writable: physical destinations follow it.
    m.wr(3, L::REG_ID, 0x20000000);
    m.ipi(0, 0x20, 0x4054);
    CHECK(m.got(0x54) == V{3});
    m.ipi(0, 3, 0x4055);
    CHECK(m.got(0x55).empty());
}

TEST_CASE("apic bus: shorthands (11.6.2.3)", "[devices][apic-bus]")
{
    Machine m;
    using V = Machine::V;
    m.ipi(2, 0, 0x44060);  // self (destination ignored)
    CHECK(m.got(0x60) == V{2});
    m.ipi(2, 1, 0x84061);  // all including self
    CHECK(m.got(0x61) == V{0, 1, 2, 3});
    m.ipi(2, 2, 0xc4062);  // all excluding self
    CHECK(m.got(0x62) == V{0, 1, 3});

    // From the I/O APIC there is no self.
    ApicMessage s = fixed(0x63, 0);
    s.shorthand = Shorthand::SELF;
    m.bus.deliver(-1, s);
    CHECK(m.got(0x63).empty());
    s.shorthand = Shorthand::ALL_EXCLUDING_SELF;
    m.bus.deliver(-1, s);
    CHECK(m.got(0x63) == V{0, 1, 2, 3});
}

TEST_CASE("apic bus: logical flat and cluster models (11.6.2.2)", "[devices][apic-bus]")
{
    Machine m;
    using V = Machine::V;
    SECTION("flat: LDR[31:24] AND destination")
    {
        for (u32 i = 0; i < 4; ++i) m.wr(i, L::REG_LDR, (1u << i) << 24);
        m.ipi(0, 0x05, 0x4870);
        CHECK(m.got(0x70) == V{0, 2});
        m.ipi(0, 0x08, 0x4871);
        CHECK(m.got(0x71) == V{3});
        m.ipi(0, 0xf0, 0x4872);
        CHECK(m.got(0x72).empty());
        m.ipi(0, 0xff, 0x4873);  // all ones: everyone
        CHECK(m.got(0x73) == V{0, 1, 2, 3});
        // A 32-bit (x2APIC-format) logical destination means nothing to an
        // xAPIC-mode receiver, whatever its low byte.
        ApicMessage wide = fixed(0x7a, 0x00010001, true);
        wide.x2apic_destination = true;
        m.bus.deliver(-1, wide);
        CHECK(m.got(0x7a).empty());
    }
    SECTION("cluster: high nibble equal, low nibbles intersect")
    {
        const u32 ldr[] = {0x11, 0x12, 0x21, 0x22};
        for (u32 i = 0; i < 4; ++i) {
            m.wr(i, L::REG_DFR, 0x0fffffff);
            m.wr(i, L::REG_LDR, ldr[i] << 24);
        }
        m.ipi(0, 0x13, 0x4874);
        CHECK(m.got(0x74) == V{0, 1});
        m.ipi(0, 0x22, 0x4875);
        CHECK(m.got(0x75) == V{3});
        m.ipi(0, 0x31, 0x4876);
        CHECK(m.got(0x76).empty());
        m.ipi(0, 0x03, 0x4877);  // cluster 0: nobody is in it
        CHECK(m.got(0x77).empty());
        m.ipi(0, 0xff, 0x4878);
        CHECK(m.got(0x78) == V{0, 1, 2, 3});
    }
    SECTION("a zero LDR matches no logical destination but the broadcast")
    {
        m.ipi(0, 0x01, 0x4879);
        CHECK(m.got(0x79).empty());
    }
}

TEST_CASE("apic bus: x2APIC physical and logical destinations (11.12.10)", "[devices][apic-bus]")
{
    Machine m({0x00, 0x01, 0x10, 0x11});  // clusters 0 and 1, members 0 and 1
    using V = Machine::V;
    m.x2apic_all();
    for (u32 i = 0; i < 4; ++i) REQUIRE(m[i].msr_write(0x80f, 0x1ff));
    CHECK(m[2].logical_id() == 0x00010001);
    CHECK(m[3].logical_id() == 0x00010002);

    auto ipi = [&](u32 from, u32 destination, u32 low) {
        REQUIRE(m[from].msr_write(0x830, (u64{destination} << 32) | low));
    };
    ipi(0, 0x11, 0x4080);  // physical 32-bit ID
    CHECK(m.got(0x80) == V{3});
    ipi(0, 0xffffffff, 0x4081);  // x2APIC broadcast
    CHECK(m.got(0x81) == V{0, 1, 2, 3});
    ipi(0, 0xff, 0x4082);  // 0xff is an ordinary ID in x2APIC format
    CHECK(m.got(0x82).empty());
    ipi(0, 0x00010002, 0x4883);  // logical: cluster 1, member bit 1
    CHECK(m.got(0x83) == V{3});
    ipi(1, 0x00000003, 0x4884);  // cluster 0, both members
    CHECK(m.got(0x84) == V{0, 1});
    ipi(1, 0x00020003, 0x4885);  // cluster 2: empty
    CHECK(m.got(0x85).empty());

    // An xAPIC-format message (the I/O APIC) with 0xff still broadcasts.
    m.bus.deliver(-1, fixed(0x86, 0xff));
    CHECK(m.got(0x86) == V{0, 1, 2, 3});
    m.bus.deliver(-1, fixed(0x87, 0x10));
    CHECK(m.got(0x87) == V{2});
}

TEST_CASE("apic bus: I/O APIC messages, level trigger and the EOI hook", "[devices][apic-bus]")
{
    Machine m;
    std::vector<u8> eois;
    LocalApic::Hooks hooks;
    hooks.eoi = [](void* c, u8 v) { static_cast<std::vector<u8>*>(c)->push_back(v); };
    hooks.eoi_context = &eois;
    LocalApic extra(4, 4, false, m.timers, FakeTsc::make(), hooks);
    REQUIRE(m.bus.attach(extra) == Status::OK);
    m.wr(4, L::REG_SVR, 0x1ff);

    ApicMessage msg = fixed(0x91, 4);
    msg.level_triggered = true;
    m.bus.deliver(-1, msg);
    CHECK(extra.irr_has(0x91));
    CHECK(extra.tmr_has(0x91));
    CHECK(extra.highest_pending() == 0x91);
    extra.acknowledge(0x91);
    m.wr(4, L::REG_EOI, 0);
    CHECK(eois == std::vector<u8>{0x91});
}

TEST_CASE("apic bus: lowest priority goes to the lowest APR, ties round robin (11.6.2.4)", "[devices][apic-bus]")
{
    Machine m;
    using V = Machine::V;
    for (u32 i = 0; i < 4; ++i) m.wr(i, L::REG_LDR, 0x01000000u << i);
    const u8 tpr[] = {0x20, 0x10, 0x10, 0x30};
    for (u32 i = 0; i < 4; ++i) m[i].set_tpr(tpr[i]);

    ApicMessage lp = fixed(0xa0, 0x0f, true);
    lp.mode = DeliveryMode::LOWEST_PRIORITY;
    m.bus.deliver(-1, lp);
    CHECK(m.got(0xa0) == V{1});
    m.bus.deliver(-1, lp);
    CHECK(m.got(0xa0) == V{2});  // tie between 1 and 2: the other one now
    m.bus.deliver(-1, lp);
    CHECK(m.got(0xa0) == V{1});

    lp.destination = 0x09;  // only 0 and 3 named: 0 has the lower APR
    m.bus.deliver(-1, lp);
    CHECK(m.got(0xa0) == V{0});

    // A pending higher-class interrupt raises APR (1's APR becomes 0xb0).
    m[1].accept(fixed(0xb5, 0));
    lp.destination = 0x06;
    m.bus.deliver(-1, lp);
    CHECK(m.got(0xa0) == V{2});
    m.got(0xb5);

    // Software-disabled APICs take no part.
    m.wr(1, L::REG_SVR, 0xff);
    m.wr(2, L::REG_SVR, 0xff);
    lp.destination = 0x0f;
    m.bus.deliver(-1, lp);
    CHECK(m.got(0xa0) == V{0});
    lp.destination = 0x06;  // only disabled ones named: dropped
    m.bus.deliver(-1, lp);
    CHECK(m.got(0xa0).empty());

    // Through the ICR as well, with a physical broadcast.
    m.ipi(3, 0xff, 0x41a1);
    CHECK(m.got(0xa1) == V{0});
}

TEST_CASE("apic bus: disabled APICs; NMI/INIT/SIPI to a software-disabled APIC", "[devices][apic-bus]")
{
    Machine m;
    using V = Machine::V;
    m.wr(1, L::REG_SVR, 0xff);  // software disabled
    REQUIRE(m[2].write_apic_base(0xfee00000));  // globally disabled: off the bus
    m.ipi(0, 0xff, 0x40b0);
    CHECK(m.got(0xb0) == V{0, 3});
    m.ipi(0, 0, 0xc4400);  // NMI to all others
    CHECK(m[1].take_nmi());
    CHECK_FALSE(m[2].nmi_pending());
    CHECK(m[3].take_nmi());
    CHECK_FALSE(m[0].nmi_pending());
}

TEST_CASE("apic bus: AP start-up, INIT - INIT de-assert - SIPI - SIPI (as an OS sends it)", "[devices][apic-bus]")
{
    Machine m;
    REQUIRE(m[2].waiting_for_sipi());
    m.ipi(0, 2, 0xc500);  // INIT assert, level
    m.ipi(0, 2, 0x8500);  // INIT de-assert: ignored by the receiver
    CHECK(m[2].take_init());
    CHECK_FALSE(m[2].init_pending());
    m[2].init_reset();
    CHECK(m[2].waiting_for_sipi());
    m.ipi(0, 2, 0x4609);  // SIPI, vector 09H: start at 0x9000
    m.ipi(0, 2, 0x4609);  // the customary second SIPI
    CHECK(m[2].take_sipi() == 0x09);
    CHECK(m[2].take_sipi() == -1);
    m.ipi(0, 2, 0x4610);  // running now: ignored
    CHECK_FALSE(m[2].sipi_pending());
    CHECK_FALSE(m[1].sipi_pending());
    CHECK_FALSE(m[0].sipi_pending());  // the BSP never waits for SIPI
}
