// Local APIC: priorities, acceptance, IRR/ISR/EOI, errors, LINT pins,
// IPIs through the ICR, INIT and SIPI.
// Expected values come from SDM Vol. 3A chapter 11 (section cited per test).
#include "devices/local_apic.hpp"

#include <catch2/catch.hpp>

#include "local_apic_rig.hpp"

using namespace xeno;
using namespace xeno::devices;
using xeno::devices::lapic_test::Rig;
using L = LocalApic;

TEST_CASE("lapic: PPR (11.8.3.1) and which IRR vector is deliverable", "[devices][lapic]")
{
    Rig r;
    r.enable();
    r.apic.set_tpr(0x50);
    CHECK(r.apic.ppr() == 0x50);  // nothing in service: PPR = TPR
    r.fixed(0x61);
    CHECK(r.apic.highest_pending() == 0x61);  // class 6 > 5
    r.apic.set_tpr(0x60);
    CHECK(r.apic.highest_pending() == -1);  // class 6 is not above 6
    r.apic.set_tpr(0x5f);
    CHECK(r.inject() == 0x61);
    CHECK(r.apic.ppr() == 0x60);  // ISRV class 6 > TPR class 5: PPR = 60H
    CHECK(r.rd(L::REG_PPR) == 0x60);
    r.apic.set_tpr(0x65);
    CHECK(r.apic.ppr() == 0x65);  // TPR class 6 >= ISRV class 6: PPR = TPR
    r.apic.set_tpr(0x75);
    CHECK(r.apic.ppr() == 0x75);
    r.fixed(0x7f);
    CHECK(r.apic.highest_pending() == -1);
    r.fixed(0x80);
    CHECK(r.apic.highest_pending() == 0x80);
    // Lowering the TPR notifies (a held interrupt may now go in).
    const int before = r.rec.notifies;
    r.apic.set_tpr(0x10);
    CHECK(r.rec.notifies > before);
}

TEST_CASE("lapic: APR (11.6.2.4)", "[devices][lapic]")
{
    Rig r;
    r.enable();
    r.apic.set_tpr(0x45);
    CHECK(r.apic.apr() == 0x45);  // TPR >= IRRV and > ISRV (both 0)
    r.fixed(0x30);
    CHECK(r.apic.apr() == 0x45);  // IRR class 3 <= TPR class 4
    r.fixed(0x52);
    CHECK(r.apic.apr() == 0x50);  // IRRV class 5 above TPR: max class, low nibble 0
    r.apic.set_tpr(0x00);
    r.inject();  // 0x52 in service
    CHECK(r.apic.apr() == 0x50);
    r.apic.set_tpr(0x58);
    CHECK(r.apic.apr() == 0x50);  // TPR class 5 is not above ISRV class 5
    CHECK(r.rd(L::REG_APR) == 0x50);
}

TEST_CASE("lapic: IRR -> ISR -> EOI order and nesting (11.8.4, 11.8.5)", "[devices][lapic]")
{
    Rig r;
    r.enable();
    r.fixed(0x40);
    r.fixed(0x80);
    CHECK(r.rd(L::REG_IRR + 0x20) == 1u);         // vector 0x40: word 2 bit 0
    CHECK(r.rd(L::REG_IRR + 0x40) == 1u);         // vector 0x80: word 4 bit 0
    CHECK(r.inject() == 0x80);                    // highest first
    CHECK(r.rd(L::REG_ISR + 0x40) == 1u);
    CHECK(r.apic.highest_pending() == -1);        // 0x40 is below the in-service class
    r.fixed(0x90);
    CHECK(r.inject() == 0x90);                    // a higher class nests
    r.fixed(0x85);
    CHECK(r.apic.highest_pending() == -1);        // same class as 0x80? below 0x90's class
    r.eoi();                                      // ends 0x90, the highest in service
    CHECK_FALSE(r.apic.isr_has(0x90));
    CHECK(r.apic.isr_has(0x80));
    CHECK(r.apic.highest_pending() == -1);        // 0x85: class 8 is not above 0x80's
    r.eoi();
    CHECK_FALSE(r.apic.isr_has(0x80));
    CHECK(r.inject() == 0x85);
    r.eoi();
    CHECK(r.inject() == 0x40);
    r.eoi();
    CHECK(r.rd(L::REG_ISR + 0x20) == 0);
    const int notifies = r.rec.notifies;
    r.eoi();  // nothing in service: no effect
    CHECK(r.rec.notifies == notifies);
    CHECK(r.rec.eois.empty());  // all edge-triggered
    r.apic.acknowledge(0x99);   // not requested: ignored
    CHECK_FALSE(r.apic.isr_has(0x99));
}

TEST_CASE("lapic: level-triggered vectors set TMR and EOI reaches the I/O APIC", "[devices][lapic]")
{
    Rig r;
    r.enable();
    r.fixed(0x55, true);
    CHECK(r.apic.tmr_has(0x55));
    CHECK(r.rd(L::REG_TMR + 0x20) == (1u << 0x15));
    r.inject();
    r.eoi();
    CHECK(r.rec.eois == std::vector<u8>{0x55});

    r.fixed(0x55, false);  // the same vector edge-triggered clears TMR
    CHECK_FALSE(r.apic.tmr_has(0x55));
    r.inject();
    r.eoi();
    CHECK(r.rec.eois.size() == 1);

    // EOI-broadcast suppression (SVR bit 12): the guest uses the I/O
    // APIC's EOI register instead.
    r.wr(L::REG_SVR, 0x11ff);
    r.fixed(0x66, true);
    r.inject();
    r.eoi();
    CHECK(r.rec.eois.size() == 1);
    CHECK_FALSE(r.apic.isr_has(0x66));
}

TEST_CASE("lapic: illegal vectors (11.5.2) and the error interrupt", "[devices][lapic]")
{
    Rig r;
    r.enable();
    for (u8 v : {u8{0}, u8{1}, u8{15}}) {
        r.fixed(v);
        CHECK_FALSE(r.apic.irr_has(v));
    }
    CHECK(r.esr() == L::ESR_RECEIVE_ILLEGAL_VECTOR);
    CHECK(r.apic.highest_pending() == -1);  // error LVT masked: no interrupt
    r.fixed(16);
    CHECK(r.apic.irr_has(16));  // 16 is the first legal vector

    r.wr(L::REG_LVT_ERROR, 0xe3);
    r.fixed(3);
    CHECK(r.apic.irr_has(0xe3));
    CHECK(r.esr() == L::ESR_RECEIVE_ILLEGAL_VECTOR);

    // An error LVT with an illegal vector records the error once, no loop.
    r.wr(L::REG_LVT_ERROR, 0x07);
    r.fixed(2);
    CHECK(r.esr() == L::ESR_RECEIVE_ILLEGAL_VECTOR);
    CHECK(r.esr() == 0);

    // A local source with an illegal vector: receive illegal vector too.
    r.wr(L::REG_LVT_LINT1, 0x0009);  // fixed, edge, vector 9
    r.apic.set_lint(1, true);
    CHECK(r.esr() == L::ESR_RECEIVE_ILLEGAL_VECTOR);
}

TEST_CASE("lapic: acceptance by message type; software-disabled APIC (11.4.7.2)", "[devices][lapic]")
{
    Rig r(1, false);
    SECTION("software disabled: fixed refused, NMI/INIT/SIPI taken, held IRR kept")
    {
        r.fixed(0x40);
        CHECK_FALSE(r.apic.irr_has(0x40));
        ApicMessage lp;
        lp.mode = DeliveryMode::LOWEST_PRIORITY;
        lp.vector = 0x41;
        r.apic.accept(lp);
        CHECK_FALSE(r.apic.irr_has(0x41));
        r.message(DeliveryMode::NMI);
        CHECK(r.apic.nmi_pending());
        r.message(DeliveryMode::INIT);
        CHECK(r.apic.init_pending());
        r.message(DeliveryMode::STARTUP, 0x9a);
        CHECK(r.apic.sipi_pending());

        r.enable();
        r.fixed(0x40);
        r.wr(L::REG_SVR, 0xff);
        CHECK(r.apic.highest_pending() == 0x40);  // held, still deliverable
    }
    SECTION("NMI, ExtINT and SMI messages")
    {
        r.enable();
        const int n = r.rec.notifies;
        r.message(DeliveryMode::NMI);
        CHECK(r.rec.notifies == n + 1);
        CHECK(r.apic.any_pending());
        CHECK(r.apic.take_nmi());
        CHECK_FALSE(r.apic.take_nmi());
        r.message(DeliveryMode::EXTINT);
        CHECK(r.apic.extint_pending());
        CHECK(r.apic.take_extint());
        CHECK_FALSE(r.apic.extint_pending());
        r.message(DeliveryMode::SMI);  // no SMM: nothing
        CHECK_FALSE(r.apic.any_pending());
    }
    SECTION("a globally disabled APIC accepts nothing")
    {
        r.enable();
        REQUIRE(r.apic.write_apic_base(0xfee00000));
        r.fixed(0x40);
        r.message(DeliveryMode::NMI);
        r.message(DeliveryMode::INIT);
        CHECK_FALSE(r.apic.nmi_pending());
        CHECK_FALSE(r.apic.init_pending());
        CHECK(r.apic.highest_pending() == -1);
    }
}

TEST_CASE("lapic: INIT, INIT de-assert, SIPI only in wait-for-SIPI", "[devices][lapic]")
{
    Rig r(2, false);
    REQUIRE(r.apic.waiting_for_sipi());
    ApicMessage deassert;
    deassert.mode = DeliveryMode::INIT;
    deassert.level_triggered = true;
    deassert.assert_level = false;
    r.apic.accept(deassert);  // 11.4.7.4: no effect after the P6
    CHECK_FALSE(r.apic.init_pending());

    r.message(DeliveryMode::STARTUP, 0x9a);
    r.message(DeliveryMode::STARTUP, 0x77);  // a second SIPI before the first is taken: ignored
    CHECK(r.apic.take_sipi() == 0x9a);
    CHECK(r.apic.take_sipi() == -1);
    CHECK_FALSE(r.apic.waiting_for_sipi());
    r.message(DeliveryMode::STARTUP, 0x55);  // running: ignored
    CHECK_FALSE(r.apic.sipi_pending());

    r.message(DeliveryMode::INIT);
    CHECK(r.apic.take_init());
    CHECK_FALSE(r.apic.take_init());
    r.apic.set_wait_for_sipi(true);
    r.message(DeliveryMode::STARTUP, 0x10);
    CHECK(r.apic.take_sipi() == 0x10);
}

TEST_CASE("lapic: INIT reset state (11.4.7.3)", "[devices][lapic]")
{
    Rig r(3, false);
    r.enable();
    r.wr(L::REG_ID, 0x07000000);
    r.wr(L::REG_TPR, 0x30);
    r.wr(L::REG_LDR, 0x04000000);
    r.wr(L::REG_DFR, 0x0fffffff);
    r.wr(L::REG_LVT_LINT1, 0x400);
    r.wr(L::REG_TIMER_DIVIDE, 0xb);
    r.wr(L::REG_LVT_TIMER, 0x40);
    r.wr(L::REG_TIMER_INITIAL, 1000);
    r.wr(L::REG_ICR_HIGH, 0x01000000);
    r.fixed(0x50, true);
    r.fixed(0x60);
    r.inject();
    r.message(DeliveryMode::NMI);
    r.apic.set_wait_for_sipi(false);

    r.apic.init_reset();
    CHECK(r.rd(L::REG_ID) == 0x07000000);  // kept
    CHECK(r.apic.apic_base() == 0xfee00800);
    CHECK(r.rd(L::REG_TPR) == 0);
    CHECK(r.rd(L::REG_LDR) == 0);
    CHECK(r.rd(L::REG_DFR) == 0xffffffff);
    CHECK(r.rd(L::REG_SVR) == 0xff);
    CHECK(r.rd(L::REG_LVT_LINT1) == 0x10000);
    CHECK(r.rd(L::REG_LVT_TIMER) == 0x10000);
    CHECK(r.rd(L::REG_TIMER_INITIAL) == 0);
    CHECK(r.rd(L::REG_TIMER_CURRENT) == 0);
    CHECK(r.rd(L::REG_TIMER_DIVIDE) == 0);
    CHECK(r.rd(L::REG_ICR_HIGH) == 0);
    CHECK(r.timers.armed_count() == 0);
    CHECK_FALSE(r.apic.irr_has(0x50));
    CHECK_FALSE(r.apic.isr_has(0x60));
    CHECK_FALSE(r.apic.tmr_has(0x50));
    CHECK_FALSE(r.apic.nmi_pending());
    CHECK(r.apic.waiting_for_sipi());  // an AP

    Rig bsp(0, true);
    bsp.enable();
    bsp.wr(L::REG_LVT_LINT0, 0x10000);
    bsp.apic.init_reset();
    CHECK(bsp.rd(L::REG_LVT_LINT0) == 0x700);  // the BSP's ExtINT deviation again
    CHECK_FALSE(bsp.apic.waiting_for_sipi());
}

TEST_CASE("lapic: LINT0 ExtINT (virtual wire) and the globally disabled APIC", "[devices][lapic]")
{
    Rig r(0, true);
    const int n = r.rec.notifies;
    CHECK_FALSE(r.apic.extint_pending());
    r.apic.set_lint(0, true);  // the 8259A raises INTR
    CHECK(r.apic.extint_pending());
    CHECK(r.rec.notifies == n + 1);
    CHECK(r.apic.take_extint());
    CHECK(r.apic.extint_pending());  // level: pending while INTR is held
    r.apic.set_lint(0, false);
    CHECK_FALSE(r.apic.extint_pending());
    CHECK(r.apic.highest_pending() == -1);  // never through IRR

    r.enable();
    r.wr(L::REG_LVT_LINT0, 0x10700);  // masked (the OS moved to the I/O APIC)
    CHECK_FALSE(r.apic.accepts_pic_interrupts());
    r.apic.set_lint(0, true);
    CHECK_FALSE(r.apic.extint_pending());
    r.wr(L::REG_LVT_LINT0, 0x700);
    CHECK(r.apic.extint_pending());

    // Globally disabled: INTR goes straight to the processor, LINT1 is NMI.
    REQUIRE(r.apic.write_apic_base(0xfee00100));
    CHECK(r.apic.accepts_pic_interrupts());
    CHECK(r.apic.extint_pending());
    r.apic.set_lint(0, false);
    CHECK_FALSE(r.apic.extint_pending());
    r.apic.set_lint(1, true);
    CHECK(r.apic.take_nmi());
    r.apic.set_lint(1, true);
    CHECK_FALSE(r.apic.nmi_pending());

    // An AP's LINT0 is masked, but globally disabled the pin is INTR anyway.
    Rig ap(1, false);
    ap.apic.set_lint(0, true);
    CHECK_FALSE(ap.apic.extint_pending());
    REQUIRE(ap.apic.write_apic_base(0xfee00000));
    CHECK(ap.apic.extint_pending());
    CHECK(ap.apic.accepts_pic_interrupts());
}

TEST_CASE("lapic: LINT1 NMI is edge sensitive; polarity", "[devices][lapic]")
{
    Rig r(0, true);
    r.enable();
    r.wr(L::REG_LVT_LINT1, 0x400);  // NMI
    r.apic.set_lint(1, true);
    CHECK(r.apic.take_nmi());
    r.apic.set_lint(1, true);  // still high: no new edge
    CHECK_FALSE(r.apic.nmi_pending());
    r.apic.set_lint(1, false);
    CHECK_FALSE(r.apic.nmi_pending());
    r.apic.set_lint(1, true);
    CHECK(r.apic.take_nmi());
    r.wr(L::REG_LVT_LINT1, 0x10400);  // masked: nothing
    r.apic.set_lint(1, false);
    r.apic.set_lint(1, true);
    CHECK_FALSE(r.apic.nmi_pending());

    // Active low, fixed edge: the falling electrical edge is the assertion.
    r.wr(L::REG_LVT_LINT1, 0x2000 | 0x44);
    r.apic.set_lint(1, false);
    CHECK(r.apic.irr_has(0x44));
    CHECK_FALSE(r.apic.tmr_has(0x44));

    // INIT through LINT0.
    r.wr(L::REG_LVT_LINT0, 0x500);
    r.apic.set_lint(0, false);
    r.apic.set_lint(0, true);
    CHECK(r.apic.take_init());
}

TEST_CASE("lapic: level-triggered fixed LINT and remote IRR", "[devices][lapic]")
{
    Rig r(0, true);
    r.enable();
    r.wr(L::REG_LVT_LINT0, 0x8000 | 0x31);  // fixed, level, vector 0x31
    r.apic.set_lint(0, true);
    CHECK(r.apic.irr_has(0x31));
    CHECK(r.apic.tmr_has(0x31));
    CHECK(r.rd(L::REG_LVT_LINT0) == (0x8000 | 0x4000 | 0x31));  // remote IRR set
    CHECK(r.inject() == 0x31);
    r.apic.set_lint(0, false);
    r.apic.set_lint(0, true);  // remote IRR still set (no EOI yet): not delivered again
    CHECK_FALSE(r.apic.irr_has(0x31));
    CHECK(r.apic.highest_pending() == -1);
    r.eoi();  // line still high: remote IRR clears and it delivers again
    CHECK(r.apic.irr_has(0x31));
    CHECK(r.rd(L::REG_LVT_LINT0) & 0x4000);
    CHECK(r.rec.eois == std::vector<u8>{0x31});  // TMR set: the EOI is broadcast too
    r.apic.set_lint(0, false);
    CHECK(r.inject() == 0x31);
    r.eoi();
    CHECK_FALSE(r.apic.irr_has(0x31));
    CHECK((r.rd(L::REG_LVT_LINT0) & 0x4000) == 0);

    // Unmasking a level entry whose pin is active delivers.
    r.wr(L::REG_LVT_LINT0, 0x18000 | 0x32);
    r.apic.set_lint(0, true);
    CHECK_FALSE(r.apic.irr_has(0x32));
    r.wr(L::REG_LVT_LINT0, 0x8000 | 0x32);
    CHECK(r.apic.irr_has(0x32));
}

TEST_CASE("lapic: ICR sends decoded messages (11.6.1, Table 11-3)", "[devices][lapic]")
{
    Rig r(1, false);
    r.enable();
    auto send = [&](u32 high, u32 low) {
        r.rec.sent.clear();
        r.wr(L::REG_ICR_HIGH, high);
        r.wr(L::REG_ICR_LOW, low);
        return r.rec.sent;
    };

    auto s = send(0x03000000, 0x000040fd);  // fixed, physical, edge, dest 3
    REQUIRE(s.size() == 1);
    CHECK(s[0].vector == 0xfd);
    CHECK(s[0].mode == DeliveryMode::FIXED);
    CHECK_FALSE(s[0].logical);
    CHECK_FALSE(s[0].level_triggered);
    CHECK(s[0].assert_level);
    CHECK(s[0].shorthand == Shorthand::NONE);
    CHECK(s[0].destination == 3);
    CHECK_FALSE(s[0].x2apic_destination);
    CHECK(r.rd(L::REG_ICR_LOW) == 0x40fd);  // delivery status 0: sent at once

    s = send(0x0f000000, 0x000000ec);  // level bit 0 with an edge IPI (as Linux sends): still sent
    REQUIRE(s.size() == 1);
    CHECK(s[0].assert_level);

    s = send(0x0c000000, 0x00000931);  // lowest priority, logical
    REQUIRE(s.size() == 1);
    CHECK(s[0].mode == DeliveryMode::LOWEST_PRIORITY);
    CHECK(s[0].logical);
    CHECK(s[0].destination == 0x0c);

    s = send(0, 0x000c0400);  // NMI to all excluding self
    REQUIRE(s.size() == 1);
    CHECK(s[0].mode == DeliveryMode::NMI);
    CHECK(s[0].shorthand == Shorthand::ALL_EXCLUDING_SELF);

    s = send(0x02000000, 0x0000c500);  // INIT level assert
    REQUIRE(s.size() == 1);
    CHECK(s[0].mode == DeliveryMode::INIT);
    CHECK(s[0].level_triggered);
    CHECK(s[0].assert_level);
    s = send(0x02000000, 0x00008500);  // INIT level de-assert: valid, sent
    REQUIRE(s.size() == 1);
    CHECK(s[0].level_triggered);
    CHECK_FALSE(s[0].assert_level);

    s = send(0x02000000, 0x0000069a);  // STARTUP, vector 9AH
    REQUIRE(s.size() == 1);
    CHECK(s[0].mode == DeliveryMode::STARTUP);
    CHECK(s[0].vector == 0x9a);

    s = send(0, 0x000440f0);  // fixed to self
    REQUIRE(s.size() == 1);
    CHECK(s[0].shorthand == Shorthand::SELF);
    s = send(0, 0x000840f0);  // fixed to all including self
    REQUIRE(s.size() == 1);
    CHECK(s[0].shorthand == Shorthand::ALL_INCLUDING_SELF);

    // Level-triggered fixed: treated as edge with level 1, ignored with level 0.
    s = send(0x03000000, 0x0000c0f1);
    REQUIRE(s.size() == 1);
    CHECK_FALSE(s[0].level_triggered);
    CHECK(send(0x03000000, 0x000080f1).empty());

    // Invalid combinations and reserved modes: nothing sent.
    CHECK(send(0, 0x00044400).empty());  // NMI to self
    CHECK(send(0, 0x00084500).empty());  // INIT to all including self
    CHECK(send(0, 0x00044140).empty());  // lowest priority to self
    CHECK(send(0, 0x0008c600).empty());  // STARTUP to all including self
    CHECK(send(0x01000000, 0x00004300).empty());  // mode 011
    CHECK(send(0x01000000, 0x00004700).empty());  // mode 111
    CHECK(r.esr() == 0);

    // Fixed/lowest priority with vector 0-15: ESR "send illegal vector", not sent.
    CHECK(send(0x01000000, 0x0000400f).empty());
    CHECK(send(0x01000000, 0x00004105).empty());
    CHECK(r.esr() == L::ESR_SEND_ILLEGAL_VECTOR);
    // NMI/INIT ignore their vector field.
    CHECK(send(0x01000000, 0x00004403).size() == 1);

    // Reserved ICR bits are dropped; delivery status reads 0.
    r.wr(L::REG_ICR_LOW, 0xfff3f0f0);
    // (bit 12 delivery status, 13, 16-17 and 20-31 are not ICR fields).
    CHECK(r.rd(L::REG_ICR_LOW) == 0x0000c0f0);
}
