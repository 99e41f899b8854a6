// Local APIC: reset state, IA32_APIC_BASE and its mode transitions, the
// xAPIC and x2APIC register windows (access rules, reserved bits, errors).
// Expected values come from SDM Vol. 3A chapter 11 (section cited per test).
#include "devices/local_apic.hpp"

#include <catch2/catch.hpp>

#include "local_apic_rig.hpp"

using namespace xeno;
using namespace xeno::devices;
using xeno::devices::lapic_test::Rig;
using L = LocalApic;

TEST_CASE("lapic: power-up state (11.4.7.1) and the BSP's LINT0 deviation", "[devices][lapic]")
{
    Rig bsp(0, true);
    Rig ap(3, false);
    CHECK(bsp.apic.apic_base() == 0xfee00900);  // EN | BSP
    CHECK(ap.apic.apic_base() == 0xfee00800);
    CHECK(bsp.apic.xapic_mode());
    CHECK_FALSE(bsp.apic.x2apic_mode());
    CHECK(ap.rd(L::REG_ID) == 0x03000000);
    CHECK(ap.rd(L::REG_VERSION) == 0x01060014);
    CHECK(ap.rd(L::REG_SVR) == 0xff);
    CHECK(ap.rd(L::REG_DFR) == 0xffffffff);
    CHECK(ap.rd(L::REG_LDR) == 0);
    CHECK(ap.rd(L::REG_TPR) == 0);
    CHECK(ap.rd(L::REG_PPR) == 0);
    CHECK(ap.rd(L::REG_TIMER_DIVIDE) == 0);
    for (u32 lvt : {L::REG_LVT_CMCI, L::REG_LVT_TIMER, L::REG_LVT_THERMAL, L::REG_LVT_PERF, L::REG_LVT_LINT0,
                    L::REG_LVT_LINT1, L::REG_LVT_ERROR}) {
        CHECK(ap.rd(lvt) == 0x00010000);
    }
    // No BIOS: the BSP's LINT0 is virtual-wire ExtINT, unmasked.
    CHECK(bsp.rd(L::REG_LVT_LINT0) == 0x700);
    CHECK(bsp.rd(L::REG_LVT_LINT1) == 0x00010000);
    CHECK(bsp.apic.accepts_pic_interrupts());
    CHECK_FALSE(ap.apic.accepts_pic_interrupts());
    CHECK(ap.apic.waiting_for_sipi());
    CHECK_FALSE(bsp.apic.waiting_for_sipi());
    CHECK(bsp.apic.highest_pending() == -1);
    CHECK_FALSE(bsp.apic.any_pending());
}

TEST_CASE("lapic: IA32_APIC_BASE mode transitions (11.12.5, Figure 11-27)", "[devices][lapic]")
{
    Rig r(1, false);
    const u64 xapic = 0xfee00800, x2apic = 0xfee00c00, disabled = 0xfee00000;

    SECTION("xAPIC -> x2APIC -> (xAPIC refused) -> disabled -> (x2APIC refused) -> xAPIC")
    {
        CHECK(r.apic.write_apic_base(x2apic));
        CHECK(r.apic.x2apic_mode());
        CHECK(r.apic.apic_base() == x2apic);
        CHECK_FALSE(r.apic.write_apic_base(xapic));
        CHECK(r.apic.x2apic_mode());
        CHECK(r.apic.write_apic_base(disabled));
        CHECK_FALSE(r.apic.hw_enabled());
        CHECK_FALSE(r.apic.xapic_mode());
        CHECK_FALSE(r.apic.x2apic_mode());
        CHECK_FALSE(r.apic.write_apic_base(x2apic));
        CHECK_FALSE(r.apic.hw_enabled());
        CHECK(r.apic.write_apic_base(xapic));
        CHECK(r.apic.xapic_mode());
        CHECK(r.apic.write_apic_base(xapic));  // no change is fine
    }
    SECTION("EXTD without EN is the invalid state, from every state")
    {
        CHECK_FALSE(r.apic.write_apic_base(0xfee00400));
        CHECK(r.apic.write_apic_base(x2apic));
        CHECK_FALSE(r.apic.write_apic_base(0xfee00400));
        CHECK(r.apic.write_apic_base(disabled));
        CHECK_FALSE(r.apic.write_apic_base(0xfee00400));
    }
    SECTION("reserved bits, relocation, the BSP flag")
    {
        CHECK_FALSE(r.apic.write_apic_base(xapic | 1));
        CHECK_FALSE(r.apic.write_apic_base(xapic | 0x200));            // bit 9
        CHECK_FALSE(r.apic.write_apic_base(xapic | (u64{1} << 36)));   // above MAXPHYADDR
        CHECK_FALSE(r.apic.write_apic_base(0xfed00800));               // relocation refused
        CHECK_FALSE(r.apic.write_apic_base(0xfee01800));
        CHECK(r.apic.write_apic_base(xapic | L::BASE_BSP));             // BSP: read-only, ignored
        CHECK(r.apic.apic_base() == xapic);
    }
    SECTION("global disable returns to the power-up state, ID included (11.4.3)")
    {
        r.enable();
        r.wr(L::REG_ID, 0x2a000000);
        r.wr(L::REG_TPR, 0x40);
        r.wr(L::REG_LDR, 0x80000000);
        r.fixed(0x50);
        CHECK(r.apic.write_apic_base(disabled));
        CHECK(r.apic.highest_pending() == -1);
        CHECK(r.apic.write_apic_base(xapic));
        CHECK(r.rd(L::REG_ID) == 0x01000000);
        CHECK(r.rd(L::REG_TPR) == 0);
        CHECK(r.rd(L::REG_LDR) == 0);
        CHECK(r.rd(L::REG_SVR) == 0xff);
        CHECK_FALSE(r.apic.irr_has(0x50));
    }
    SECTION("each window works only in its mode")
    {
        u64 v = 0;
        CHECK_FALSE(r.apic.msr_read(0x802, &v));  // xAPIC: every x2APIC MSR is #GP
        CHECK_FALSE(r.apic.msr_write(0x808, 0));
        CHECK(r.x2apic());
        CHECK(r.apic.mmio_read(1, L::REG_ID, 4) == 0xffffffff);  // page not decoded
        CHECK(r.apic.mmio_read(1, L::REG_ID, 8) == ~u64{0});
        r.apic.mmio_write(1, L::REG_TPR, 4, 0x30);
        CHECK(r.apic.tpr() == 0);
        CHECK(r.apic.write_apic_base(disabled));
        CHECK(r.apic.mmio_read(1, L::REG_ID, 2) == 0xffff);
        CHECK_FALSE(r.apic.msr_read(0x802, &v));
    }
}

TEST_CASE("lapic: xAPIC registers, writable bits and read-only registers (Table 11-1)", "[devices][lapic]")
{
    Rig r(2, false);
    r.enable();
    r.wr(L::REG_TPR, 0xffffffab);
    CHECK(r.rd(L::REG_TPR) == 0xab);
    CHECK(r.apic.tpr() == 0xab);
    r.wr(L::REG_LDR, 0x12345678);
    CHECK(r.rd(L::REG_LDR) == 0x12000000);
    r.wr(L::REG_DFR, 0);
    CHECK(r.rd(L::REG_DFR) == 0x0fffffff);  // cluster model; bits 27:0 read as ones
    CHECK(r.apic.cluster_model());
    r.wr(L::REG_DFR, 0xffffffff);
    CHECK_FALSE(r.apic.cluster_model());
    r.wr(L::REG_SVR, 0xffffffff);
    CHECK(r.rd(L::REG_SVR) == 0x13ff);  // bits 10, 11, 31:13 reserved
    r.wr(L::REG_ID, 0x05ffffff);
    CHECK(r.rd(L::REG_ID) == 0x05000000);
    CHECK(r.apic.xapic_id() == 5);
    r.wr(L::REG_ICR_HIGH, 0xffffffff);
    CHECK(r.rd(L::REG_ICR_HIGH) == 0xff000000);
    r.wr(L::REG_TIMER_DIVIDE, 0xffffffff);
    CHECK(r.rd(L::REG_TIMER_DIVIDE) == 0xb);

    // LVT writable fields (Figure 11-8); delivery status and remote IRR are read-only.
    r.wr(L::REG_LVT_TIMER, 0xffffffff);
    CHECK(r.rd(L::REG_LVT_TIMER) == 0x000700ff);
    r.wr(L::REG_LVT_LINT0, 0xffffffff);
    CHECK(r.rd(L::REG_LVT_LINT0) == 0x0001a7ff);
    r.wr(L::REG_LVT_LINT1, 0xffffffff);
    CHECK(r.rd(L::REG_LVT_LINT1) == 0x0001a7ff);
    r.wr(L::REG_LVT_ERROR, 0xffffffff);
    CHECK(r.rd(L::REG_LVT_ERROR) == 0x000100ff);
    for (u32 lvt : {L::REG_LVT_THERMAL, L::REG_LVT_PERF, L::REG_LVT_CMCI}) {
        r.wr(lvt, 0xffffffff);
        CHECK(r.rd(lvt) == 0x000107ff);
    }

    // Read-only registers ignore writes; write-only EOI and RRD read 0.
    r.wr(L::REG_VERSION, 0);
    CHECK(r.rd(L::REG_VERSION) == 0x01060014);
    r.wr(L::REG_PPR, 0xff);
    CHECK(r.rd(L::REG_PPR) == 0xab);
    r.wr(L::REG_IRR + 0x10, 0xffffffff);
    r.wr(L::REG_ISR + 0x10, 0xffffffff);
    r.wr(L::REG_TMR + 0x10, 0xffffffff);
    CHECK(r.rd(L::REG_IRR + 0x10) == 0);
    CHECK(r.rd(L::REG_ISR + 0x10) == 0);
    CHECK(r.rd(L::REG_TMR + 0x10) == 0);
    CHECK(r.rd(L::REG_EOI) == 0);
    CHECK(r.rd(L::REG_RRD) == 0);
    r.wr(L::REG_TIMER_CURRENT, 1234);
    CHECK(r.rd(L::REG_TIMER_CURRENT) == 0);
    CHECK(r.esr() == 0);  // none of this is an illegal register address
}

TEST_CASE("lapic: xAPIC access sizes and alignment", "[devices][lapic]")
{
    Rig r(0x12, false);
    r.enable();
    CHECK(r.apic.mmio_read(0, L::REG_ID + 3, 1) == 0x12);
    CHECK(r.apic.mmio_read(0, L::REG_ID + 2, 2) == 0x1200);
    CHECK(r.apic.mmio_read(0, L::REG_ID, 8) == 0x12000000);  // bytes 4-7 of the slot read 0
    CHECK(r.apic.mmio_read(0, L::REG_ID + 4, 4) == 0);
    CHECK(r.apic.mmio_read(0, L::REG_VERSION + 2, 4) == 0x0106);  // bytes 2,3 then two reserved bytes
    // An 8-byte read spanning two slots: DFR's reserved bytes 12-15, then SVR.
    CHECK(r.apic.mmio_read(0, L::REG_SVR - 4, 8) == u64{0x1ff} << 32);

    r.wr(L::REG_TPR, 0x20);
    r.apic.mmio_write(0, L::REG_TPR, 1, 0x90);  // narrower than 32 bits: ignored
    r.apic.mmio_write(0, L::REG_TPR, 2, 0x90);
    r.apic.mmio_write(0, L::REG_TPR + 1, 4, 0x90);  // misaligned: ignored
    CHECK(r.apic.tpr() == 0x20);
    r.apic.mmio_write(0, L::REG_TPR, 8, 0xffffffff00000070);  // 8 bytes: the low 32 bits
    CHECK(r.apic.tpr() == 0x70);
    r.apic.mmio_write(0, L::REG_TPR + 0x1000, 4, 0x10);  // offsets wrap within the page
    CHECK(r.apic.tpr() == 0x10);
    CHECK(r.esr() == 0);
}

TEST_CASE("lapic: reserved xAPIC offsets set ESR bit 7 and signal the error LVT (11.5.3)", "[devices][lapic]")
{
    Rig r(0, true);
    r.enable();
    r.wr(L::REG_LVT_ERROR, 0xfe);
    CHECK(r.esr() == 0);
    for (u32 offset : {0x00u, 0x10u, 0x40u, 0x70u, 0x290u, 0x2e0u, 0x3a0u, 0x3f0u, 0x400u, 0xff0u}) {
        CAPTURE(offset);
        CHECK(r.rd(offset) == 0);
        CHECK(r.esr() == L::ESR_ILLEGAL_REGISTER);
        r.wr(offset, 0x12345678);
        CHECK(r.esr() == L::ESR_ILLEGAL_REGISTER);
        CHECK(r.esr() == 0);  // the next write latches nothing new
    }
    CHECK(r.apic.irr_has(0xfe));  // the error interrupt

    // ESR reads what the previous write latched, not errors since then.
    r.rd(0x10);
    CHECK(r.rd(L::REG_ESR) == 0);
    r.wr(L::REG_ESR, 0);
    CHECK(r.rd(L::REG_ESR) == 0x80);
}

TEST_CASE("lapic: software disable masks every LVT and keeps them masked (11.4.7.2)", "[devices][lapic]")
{
    Rig r(0, true);
    r.enable();
    r.wr(L::REG_LVT_LINT1, 0x400);
    r.wr(L::REG_LVT_TIMER, 0x20030);
    CHECK(r.rd(L::REG_LVT_LINT1) == 0x400);
    r.wr(L::REG_SVR, 0xff);
    CHECK(r.rd(L::REG_LVT_LINT1) == 0x10400);
    CHECK(r.rd(L::REG_LVT_TIMER) == 0x30030);
    CHECK(r.rd(L::REG_LVT_LINT0) == 0x10700);
    CHECK_FALSE(r.apic.accepts_pic_interrupts());
    r.wr(L::REG_LVT_LINT1, 0x400);  // cannot unmask while disabled
    CHECK(r.rd(L::REG_LVT_LINT1) == 0x10400);
    r.enable();
    CHECK(r.rd(L::REG_LVT_LINT1) == 0x10400);  // re-enabling does not unmask
    r.wr(L::REG_LVT_LINT1, 0x400);
    CHECK(r.rd(L::REG_LVT_LINT1) == 0x400);
}

TEST_CASE("lapic: x2APIC MSRs (11.12.1, Table 11-6)", "[devices][lapic]")
{
    Rig r(5, false, 0x25);
    REQUIRE(r.x2apic());
    r.enable();  // MMIO is gone: enable through the MSR
    CHECK(r.rd(L::REG_SVR) == 0xffffffff);
    REQUIRE(r.apic.msr_write(0x80f, 0x1ff));
    CHECK(r.msr(L::REG_SVR) == 0x1ff);

    CHECK(r.msr(L::REG_ID) == 0x25);
    CHECK(r.msr(L::REG_VERSION) == 0x01060014);
    // LDR = cluster (ID >> 4) in 31:16, 1 << (ID & 15) in 15:0 (11.12.10.2).
    CHECK(r.msr(L::REG_LDR) == 0x00020020);
    CHECK(r.apic.logical_id() == 0x00020020);

    u64 v = 0;
    SECTION("read-only, write-only and absent registers #GP")
    {
        CHECK_FALSE(r.apic.msr_write(0x802, 0x25));  // ID
        CHECK_FALSE(r.apic.msr_write(0x803, 0));     // version
        CHECK_FALSE(r.apic.msr_write(0x80a, 0));     // PPR
        CHECK_FALSE(r.apic.msr_write(0x80d, 0));     // LDR
        CHECK_FALSE(r.apic.msr_write(0x810, 0));     // ISR
        CHECK_FALSE(r.apic.msr_write(0x820, 0));     // IRR
        CHECK_FALSE(r.apic.msr_write(0x839, 0));     // current count
        CHECK_FALSE(r.apic.msr_read(0x80b, &v));     // EOI is write-only
        CHECK_FALSE(r.apic.msr_read(0x83f, &v));     // SELF IPI is write-only
        for (u32 msr : {0x800u, 0x801u, 0x804u, 0x809u, 0x80cu, 0x80eu, 0x829u, 0x82eu, 0x831u, 0x83au, 0x83du,
                        0x840u, 0x8ffu}) {
            CAPTURE(msr);
            CHECK_FALSE(r.apic.msr_read(msr, &v));
            CHECK_FALSE(r.apic.msr_write(msr, 0));
        }
        CHECK_FALSE(r.apic.msr_read(0x7ff, &v));
        CHECK_FALSE(r.apic.msr_read(0x900, &v));
    }
    SECTION("reserved bits #GP (11.12.1.3)")
    {
        CHECK_FALSE(r.apic.msr_write(0x808, 0x100));           // TPR 31:8
        CHECK_FALSE(r.apic.msr_write(0x808, u64{1} << 32));    // 63:32 of a 32-bit register
        CHECK(r.apic.msr_write(0x808, 0x20));
        CHECK(r.apic.tpr() == 0x20);
        CHECK_FALSE(r.apic.msr_write(0x80b, 1));  // EOI: only 0
        CHECK(r.apic.msr_write(0x80b, 0));
        CHECK_FALSE(r.apic.msr_write(0x828, 1));  // ESR: only 0
        CHECK(r.apic.msr_write(0x828, 0));
        CHECK_FALSE(r.apic.msr_write(0x80f, 0x400));  // SVR bit 10
        CHECK(r.apic.msr_write(0x80f, 0x11ff));       // EOI-broadcast suppression is advertised
        CHECK_FALSE(r.apic.msr_write(0x832, 0x100));  // LVT timer has no delivery mode
        CHECK(r.apic.msr_write(0x832, 0x1000 | 0x40));  // delivery status: read-only, not reserved
        CHECK(r.msr(L::REG_LVT_TIMER) == 0x40);
        CHECK_FALSE(r.apic.msr_write(0x837, 0x400));    // error LVT likewise
        CHECK_FALSE(r.apic.msr_write(0x835, 0x20000));  // LINT0 bit 17
        CHECK(r.apic.msr_write(0x835, 0x4000 | 0x8000 | 0x31));  // remote IRR: read-only
        CHECK(r.msr(L::REG_LVT_LINT0) == 0x8031);
        CHECK_FALSE(r.apic.msr_write(0x83e, 0x4));  // divide bit 2
        CHECK(r.apic.msr_write(0x83e, 0xb));
        CHECK_FALSE(r.apic.msr_write(0x83f, 0x100));           // SELF IPI 31:8
        CHECK_FALSE(r.apic.msr_write(0x830, 0x1000 | 0x40));   // ICR delivery status is gone (11.12.9)
        CHECK_FALSE(r.apic.msr_write(0x830, 0x2000 | 0x40));   // ICR bit 13
        CHECK_FALSE(r.apic.msr_write(0x830, 0x100000 | 0x40)); // ICR bit 20
        CHECK(r.rec.sent.empty());
        CHECK(r.esr() == 0);  // x2APIC reports these as #GP, not in ESR
    }
    SECTION("ICR is one 64-bit register; the destination is 63:32")
    {
        REQUIRE(r.apic.msr_write(0x830, (u64{0x12345678} << 32) | 0x40f0));
        CHECK(r.msr(L::REG_ICR_LOW) == ((u64{0x12345678} << 32) | 0x40f0));
        REQUIRE(r.rec.sent.size() == 1);
        const ApicMessage& m = r.rec.sent[0];
        CHECK(m.vector == 0xf0);
        CHECK(m.mode == DeliveryMode::FIXED);
        CHECK(m.destination == 0x12345678);
        CHECK(m.x2apic_destination);
        CHECK_FALSE(m.logical);
        CHECK(m.shorthand == Shorthand::NONE);
    }
    SECTION("SELF IPI (11.12.11): a fixed edge IPI to self")
    {
        REQUIRE(r.apic.msr_write(0x83f, 0x41));
        REQUIRE(r.rec.sent.size() == 1);
        CHECK(r.rec.sent[0].vector == 0x41);
        CHECK(r.rec.sent[0].mode == DeliveryMode::FIXED);
        CHECK(r.rec.sent[0].shorthand == Shorthand::SELF);
        CHECK_FALSE(r.rec.sent[0].level_triggered);
        REQUIRE(r.apic.msr_write(0x83f, 0x05));  // illegal vector: ESR bit 5, nothing sent
        CHECK(r.rec.sent.size() == 1);
        CHECK(r.esr() == L::ESR_SEND_ILLEGAL_VECTOR);
    }
    SECTION("ISR/IRR/TMR words and INIT keeps x2APIC mode and ID")
    {
        r.fixed(0x45, true);
        CHECK(r.msr(L::REG_IRR + 0x20) == (1u << 5));
        CHECK(r.msr(L::REG_TMR + 0x20) == (1u << 5));
        r.inject();
        CHECK(r.msr(L::REG_ISR + 0x20) == (1u << 5));
        CHECK(r.msr(L::REG_IRR + 0x20) == 0);
        r.apic.init_reset();
        CHECK(r.apic.x2apic_mode());
        CHECK(r.msr(L::REG_ID) == 0x25);
        CHECK(r.msr(L::REG_LDR) == 0x00020020);
        CHECK(r.msr(L::REG_ISR + 0x20) == 0);
        CHECK(r.msr(L::REG_SVR) == 0xff);
    }
}
