// The dual 8259A: expectations from the 8259A data sheet (Intel 231468) and
// the PIIX/ICH ELCR description, not from the model's output.
#include "devices/pic8259.hpp"

#include <catch2/catch.hpp>
#include <vector>

using namespace xeno;
using namespace xeno::devices;

namespace {

struct Pics {
    std::vector<bool> changes;  // every INT change the PIC reported
    DualPic pic{[](void* c, bool level) { static_cast<Pics*>(c)->changes.push_back(level); }, this};

    void out(u16 port, u8 value) { pic.pio_write(port, 1, value); }
    u8 in(u16 port) { return static_cast<u8>(pic.pio_read(port, 1)); }

    // The PC's usual programming: cascade, edge, ICW4, 8086 mode; master
    // vectors at master_base, slave (ID 2, on IR2) at slave_base.
    void init(u8 master_base = 0x20, u8 slave_base = 0x28, u8 master_icw4 = 0x01, u8 slave_icw4 = 0x01,
              u8 master_icw1 = 0x11, u8 slave_icw1 = 0x11)
    {
        out(0x20, master_icw1);
        out(0x21, master_base);
        out(0x21, 0x04);  // slave on IR2
        out(0x21, master_icw4);
        out(0xa0, slave_icw1);
        out(0xa1, slave_base);
        out(0xa1, 0x02);  // slave ID 2
        out(0xa1, slave_icw4);
    }
    u8 master_irr() { out(0x20, 0x0a); return in(0x20); }
    u8 master_isr() { out(0x20, 0x0b); return in(0x20); }
    u8 slave_irr() { out(0xa0, 0x0a); return in(0xa0); }
    u8 slave_isr() { out(0xa0, 0x0b); return in(0xa0); }
    void master_eoi() { out(0x20, 0x20); }
    void slave_eoi() { out(0xa0, 0x20); }
    void pulse(u32 irq) { pic.set_irq(irq, true); pic.set_irq(irq, false); }
};

}  // namespace

TEST_CASE("pic: power-on state is uninitialised and never interrupts", "[devices][pic]")
{
    Pics p;
    CHECK_FALSE(p.pic.initialised(DualPic::kMaster));
    CHECK_FALSE(p.pic.initialised(DualPic::kSlave));
    p.pic.set_irq(1, true);
    p.pic.set_irq(9, true);
    CHECK_FALSE(p.pic.output());
    CHECK_FALSE(p.pic.has_interrupt());
    CHECK(p.changes.empty());
    CHECK(p.in(0x21) == 0x00);  // IMR zero
    // An INTA nobody asked for: the master answers its default IR7 with no
    // vector base programmed.
    CHECK(p.pic.acknowledge() == 7);
    CHECK(p.master_isr() == 0);
}

TEST_CASE("pic: ICW1..ICW4 programs the vectors of every IRQ on both chips", "[devices][pic]")
{
    Pics p;
    p.init(0x20, 0x28);
    CHECK(p.pic.initialised(DualPic::kMaster));
    CHECK(p.pic.initialised(DualPic::kSlave));
    CHECK(p.pic.vector_base(DualPic::kMaster) == 0x20);
    CHECK(p.pic.vector_base(DualPic::kSlave) == 0x28);
    CHECK(p.in(0x21) == 0x00);  // ICW1 cleared the IMR
    for (u32 irq = 0; irq < 16; ++irq) {
        if (irq == 2) continue;
        INFO("irq " << irq);
        p.pulse(irq);
        REQUIRE(p.pic.output());
        const u8 expected = static_cast<u8>(irq < 8 ? 0x20 + irq : 0x28 + (irq - 8));
        CHECK(p.pic.acknowledge() == expected);
        CHECK_FALSE(p.pic.output());
        if (irq < 8) {
            CHECK(p.master_isr() == (1u << irq));
        } else {
            CHECK(p.master_isr() == 0x04);  // the cascade input is in service too
            CHECK(p.slave_isr() == (1u << (irq - 8)));
            p.slave_eoi();
        }
        p.master_eoi();
        CHECK(p.master_isr() == 0);
        CHECK(p.slave_isr() == 0);
    }
}

TEST_CASE("pic: ICW2 ignores its low three bits; vectors follow any base", "[devices][pic]")
{
    Pics p;
    p.init(0x77, 0xf5);
    CHECK(p.pic.vector_base(DualPic::kMaster) == 0x70);
    CHECK(p.pic.vector_base(DualPic::kSlave) == 0xf0);
    p.pulse(6);
    CHECK(p.pic.acknowledge() == 0x76);
    p.master_eoi();
    p.pulse(15);
    CHECK(p.pic.acknowledge() == 0xf7);
}

TEST_CASE("pic: single mode skips ICW3, no ICW4 skips ICW4", "[devices][pic]")
{
    Pics p;
    // SNGL + IC4: ICW2 then ICW4; the next data byte is OCW1.
    p.out(0x20, 0x13);
    p.out(0x21, 0x40);
    CHECK_FALSE(p.pic.initialised(DualPic::kMaster));
    p.out(0x21, 0x01);
    CHECK(p.pic.initialised(DualPic::kMaster));
    p.out(0x21, 0xf0);
    CHECK(p.in(0x21) == 0xf0);

    // Cascade without IC4: ICW2, ICW3, then OCW1.
    p.out(0xa0, 0x10);
    p.out(0xa1, 0x48);
    p.out(0xa1, 0x02);
    CHECK(p.pic.initialised(DualPic::kSlave));
    p.out(0xa1, 0x3c);
    CHECK(p.in(0xa1) == 0x3c);

    // SNGL without IC4: ICW2 alone completes it.
    Pics q;
    q.out(0x20, 0x12);
    q.out(0x21, 0x08);
    CHECK(q.pic.initialised(DualPic::kMaster));
    q.pulse(0);
    CHECK(q.pic.acknowledge() == 0x08);
}

TEST_CASE("pic: a master in single mode answers IR2 itself, not through the slave", "[devices][pic]")
{
    Pics p;
    p.init(0x20, 0x28, 0x01, 0x01, 0x13, 0x11);  // master SNGL: ICW3 skipped
    // init() wrote ICW3 (0x04) to the master anyway: with SNGL that byte is
    // ICW4 and the following 0x01 is OCW1.
    CHECK(p.in(0x21) == 0x01);
    p.out(0x21, 0x00);
    p.pulse(9);
    REQUIRE(p.pic.output());
    CHECK(p.pic.acknowledge() == 0x22);
    CHECK(p.slave_isr() == 0);  // the slave was never asked
}

TEST_CASE("pic: ICW1 in the middle of a sequence restarts it", "[devices][pic]")
{
    Pics p;
    p.out(0x20, 0x11);
    p.out(0x21, 0x30);  // ICW2
    p.out(0x20, 0x11);  // restart before ICW3
    p.out(0x21, 0x50);
    p.out(0x21, 0x04);
    p.out(0x21, 0x01);
    CHECK(p.pic.initialised(DualPic::kMaster));
    CHECK(p.pic.vector_base(DualPic::kMaster) == 0x50);
    p.out(0x21, 0xaa);  // now OCW1
    CHECK(p.in(0x21) == 0xaa);
    // During the sequence the chip does not interrupt.
    p.out(0x20, 0x11);
    p.out(0x21, 0x50);
    p.pulse(1);
    CHECK_FALSE(p.pic.output());
    CHECK(p.master_irr() == 0x02);  // the edge is latched all the same
    p.out(0x21, 0x04);
    p.out(0x21, 0x01);
    CHECK(p.pic.output());
    CHECK(p.pic.acknowledge() == 0x51);
}

TEST_CASE("pic: ICW1 resets IMR, ISR, IRR, priority, special mask and read select", "[devices][pic]")
{
    Pics p;
    p.init();
    p.pulse(4);
    CHECK(p.pic.acknowledge() == 0x24);  // ISR 4 left set, no EOI
    p.pulse(6);                          // IRR 6 latched
    p.out(0x21, 0xff);
    p.out(0x20, 0x68);  // special mask mode on
    p.out(0x20, 0xc3);  // IR3 lowest priority
    p.out(0x20, 0x0b);  // read ISR
    CHECK(p.in(0x20) == 0x10);
    p.init();
    CHECK(p.in(0x21) == 0x00);
    CHECK(p.in(0x20) == 0x00);  // reads IRR again, and the latched edge is gone
    CHECK(p.master_isr() == 0x00);
    // Priority back to IR0 highest, IR7 lowest: IR3 beats IR5 (with IR3
    // still lowest, IR4 would be highest and IR5 would win).
    p.pulse(3);
    p.pulse(5);
    CHECK(p.pic.acknowledge() == 0x23);
    // Special mask mode is off: with ISR 3 set and IR3 masked, IR5 stays out.
    p.out(0x21, 0x08);
    CHECK_FALSE(p.pic.output());
}

TEST_CASE("pic: OCWs before any ICW are stored but the chip stays silent", "[devices][pic]")
{
    Pics p;
    // Linux's probe: write the IMR and read it back.
    p.out(0xa1, 0xff);
    p.out(0x21, 0xfb);
    CHECK(p.in(0x21) == 0xfb);
    CHECK(p.in(0xa1) == 0xff);
    p.out(0x20, 0x20);  // EOI with nothing in service: nothing happens
    p.out(0x20, 0x0b);  // read ISR
    CHECK(p.in(0x20) == 0x00);
    p.out(0x21, 0x00);
    p.pic.set_irq(0, true);
    CHECK_FALSE(p.pic.output());
    p.pic.set_irq(0, false);
    p.init();
    CHECK(p.in(0x21) == 0x00);
    CHECK_FALSE(p.pic.output());  // the edge before ICW1 is forgotten
}

TEST_CASE("pic: IMR masks a level without losing the latched edge", "[devices][pic]")
{
    Pics p;
    p.init();
    p.out(0x21, 0x08);
    p.pulse(3);
    CHECK_FALSE(p.pic.output());
    CHECK(p.master_irr() == 0x08);
    p.out(0x21, 0x00);
    CHECK(p.pic.output());
    CHECK(p.pic.acknowledge() == 0x23);
    p.master_eoi();
    // Masking the cascade input masks the whole slave.
    p.out(0x21, 0x04);
    p.pulse(12);
    CHECK_FALSE(p.pic.output());
    CHECK(p.slave_irr() == 0x10);
    p.out(0x21, 0x00);
    CHECK(p.pic.acknowledge() == 0x2c);
    p.slave_eoi();
    p.master_eoi();
    // A slave IMR bit masks its own input only.
    p.out(0xa1, 0x01);
    p.pulse(8);
    CHECK_FALSE(p.pic.output());
    p.pulse(9);
    CHECK(p.pic.acknowledge() == 0x29);
}

TEST_CASE("pic: fixed priority and the fully nested in-service structure", "[devices][pic]")
{
    Pics p;
    p.init();
    p.pulse(5);
    p.pulse(3);
    p.pulse(10);  // a slave request ranks as IR2 on the master: above IR3
    CHECK(p.master_irr() == 0x2c);
    CHECK(p.pic.acknowledge() == 0x2a);
    CHECK_FALSE(p.pic.output());  // IR3 and IR5 rank below the in-service IR2
    p.pulse(1);                   // IR1 outranks IR2: nests
    CHECK(p.pic.output());
    CHECK(p.pic.acknowledge() == 0x21);
    CHECK(p.master_isr() == 0x06);
    p.master_eoi();  // non-specific: the highest in service, IR1
    CHECK(p.master_isr() == 0x04);
    CHECK_FALSE(p.pic.output());
    p.slave_eoi();
    p.master_eoi();
    CHECK(p.pic.acknowledge() == 0x23);
    p.master_eoi();
    CHECK(p.pic.acknowledge() == 0x25);
    p.master_eoi();
    // Within the slave: IR1 (IRQ 9) outranks IR5 (IRQ 13).
    p.pulse(13);
    p.pulse(9);
    CHECK(p.pic.acknowledge() == 0x29);
}

TEST_CASE("pic: specific EOI clears the named level; OCW2 no-op does nothing", "[devices][pic]")
{
    Pics p;
    p.init();
    p.pulse(3);
    CHECK(p.pic.acknowledge() == 0x23);
    p.pulse(1);
    CHECK(p.pic.acknowledge() == 0x21);
    CHECK(p.master_isr() == 0x0a);
    p.out(0x20, 0x40);  // no operation
    CHECK(p.master_isr() == 0x0a);
    p.out(0x20, 0x65);  // specific EOI for IR5, not in service
    CHECK(p.master_isr() == 0x0a);
    p.out(0x20, 0x63);  // specific EOI for IR3, below the nested IR1
    CHECK(p.master_isr() == 0x02);
    p.master_eoi();
    CHECK(p.master_isr() == 0x00);
    p.master_eoi();  // nothing in service: harmless
    CHECK(p.master_isr() == 0x00);
}

TEST_CASE("pic: rotation on EOI and the set priority command", "[devices][pic]")
{
    Pics p;
    p.init();
    // Rotate on non-specific EOI: the serviced level becomes the lowest.
    p.pulse(0);
    CHECK(p.pic.acknowledge() == 0x20);
    p.out(0x20, 0xa0);
    CHECK(p.master_isr() == 0);
    p.pulse(0);
    p.pulse(7);
    CHECK(p.pic.acknowledge() == 0x27);  // IR1 is now highest, IR0 lowest: IR7 first
    p.out(0x20, 0xa0);                   // IR7 lowest: IR0 highest again
    CHECK(p.pic.acknowledge() == 0x20);
    p.master_eoi();
    // Set priority: IR4 lowest, IR5 highest.
    p.out(0x20, 0xc4);
    p.pulse(3);
    p.pulse(6);
    CHECK(p.pic.acknowledge() == 0x26);
    CHECK_FALSE(p.pic.output());  // IR3 ranks below IR6 now
    // Rotate on specific EOI for IR6: IR6 lowest, IR7 highest, IR3 unblocked.
    p.out(0x20, 0xe6);
    CHECK(p.master_isr() == 0);
    CHECK(p.pic.acknowledge() == 0x23);
    p.master_eoi();
    // A rotating non-specific EOI with nothing in service rotates nothing.
    p.out(0x20, 0xa0);
    p.pulse(0);
    p.pulse(7);
    CHECK(p.pic.acknowledge() == 0x27);
}

TEST_CASE("pic: automatic EOI and rotate in AEOI mode", "[devices][pic]")
{
    Pics p;
    p.init(0x20, 0x28, 0x03, 0x01);  // master: 8086 + AEOI
    p.pulse(3);
    CHECK(p.pic.acknowledge() == 0x23);
    CHECK(p.master_isr() == 0);
    p.pulse(3);  // no EOI needed to take the same level again
    CHECK(p.pic.output());
    CHECK(p.pic.acknowledge() == 0x23);
    // Rotate in AEOI (set): the acknowledged level becomes the lowest.
    p.out(0x20, 0x80);
    p.pulse(1);
    CHECK(p.pic.acknowledge() == 0x21);  // IR1 lowest now
    p.pulse(0);
    p.pulse(3);
    CHECK(p.pic.acknowledge() == 0x23);  // order 2..7, 0, 1: IR3 before IR0; IR3 lowest now
    // Rotate in AEOI (clear): acknowledging no longer rotates.
    p.out(0x20, 0x00);
    CHECK(p.pic.acknowledge() == 0x20);  // IR3 stays lowest (rotating would make IR0 lowest)
    p.pulse(1);
    p.pulse(5);
    CHECK(p.pic.acknowledge() == 0x25);  // order 4..7, 0..3: IR5 before IR1
    CHECK(p.pic.acknowledge() == 0x21);
    CHECK(p.master_isr() == 0);
}

TEST_CASE("pic: a slave request still pending after INTA reaches the master again", "[devices][pic]")
{
    SECTION("slave in AEOI, master EOI'd by software")
    {
        Pics p;
        p.init(0x20, 0x28, 0x01, 0x03);
        p.pulse(9);
        p.pulse(10);
        CHECK(p.pic.acknowledge() == 0x29);
        CHECK(p.slave_isr() == 0);
        CHECK_FALSE(p.pic.output());  // the master's IR2 is in service
        p.master_eoi();
        CHECK(p.pic.output());
        CHECK(p.pic.acknowledge() == 0x2a);
    }
    SECTION("both in AEOI: back to back")
    {
        Pics p;
        p.init(0x20, 0x28, 0x03, 0x03);
        p.pulse(9);
        p.pulse(10);
        CHECK(p.pic.acknowledge() == 0x29);
        CHECK(p.pic.output());
        CHECK(p.pic.acknowledge() == 0x2a);
        CHECK_FALSE(p.pic.output());
    }
    SECTION("normal EOI: the slave, then the master")
    {
        Pics p;
        p.init();
        p.pulse(9);
        p.pulse(10);
        CHECK(p.pic.acknowledge() == 0x29);
        p.slave_eoi();
        CHECK_FALSE(p.pic.output());
        p.master_eoi();
        CHECK(p.pic.acknowledge() == 0x2a);
    }
}

TEST_CASE("pic: spurious IRQ 7 when the request goes away before INTA", "[devices][pic]")
{
    SECTION("a level-triggered line (ELCR) drops")
    {
        Pics p;
        p.init();
        p.out(0x4d0, 0x20);  // IRQ 5 level
        p.pic.set_irq(5, true);
        CHECK(p.pic.output());
        p.pic.set_irq(5, false);
        CHECK_FALSE(p.pic.output());
        CHECK(p.changes == std::vector<bool>{true, false});
        CHECK(p.pic.acknowledge() == 0x27);
        CHECK(p.master_isr() == 0);  // no ISR bit for the default IR7
        CHECK(p.master_irr() == 0);
    }
    SECTION("an edge-triggered request masked before INTA")
    {
        Pics p;
        p.init();
        p.pulse(4);
        CHECK(p.pic.output());
        p.out(0x21, 0x10);
        CHECK_FALSE(p.pic.output());
        CHECK(p.pic.acknowledge() == 0x27);
        CHECK(p.master_isr() == 0);
        CHECK(p.master_irr() == 0x10);  // still latched, still masked
    }
    SECTION("a real IR7 does set ISR 7")
    {
        Pics p;
        p.init();
        p.pulse(7);
        CHECK(p.pic.acknowledge() == 0x27);
        CHECK(p.master_isr() == 0x80);
    }
}

TEST_CASE("pic: spurious IRQ 15 sets the master's ISR bit 2 only", "[devices][pic]")
{
    SECTION("a level-triggered slave line (ELCR) drops")
    {
        Pics p;
        p.init();
        p.out(0x4d1, 0x04);  // IRQ 10 level
        p.pic.set_irq(10, true);
        CHECK(p.pic.output());
        p.pic.set_irq(10, false);
        CHECK(p.slave_irr() == 0);
        // The master latched the slave's INT edge on IR2: INT stays up.
        CHECK(p.pic.output());
        CHECK(p.pic.acknowledge() == 0x2f);
        CHECK(p.master_isr() == 0x04);
        CHECK(p.slave_isr() == 0x00);
        p.master_eoi();
        CHECK(p.master_isr() == 0x00);
        CHECK_FALSE(p.pic.output());
    }
    SECTION("an edge-triggered slave request masked in the slave before INTA")
    {
        Pics p;
        p.init();
        p.pulse(12);
        p.out(0xa1, 0x10);
        CHECK(p.pic.acknowledge() == 0x2f);
        CHECK(p.master_isr() == 0x04);
        CHECK(p.slave_isr() == 0x00);
    }
}

TEST_CASE("pic: ELCR selects level per IRQ; timer, keyboard, cascade, RTC, FPU stay edge", "[devices][pic]")
{
    Pics p;
    p.init();
    CHECK(p.in(0x4d0) == 0x00);
    CHECK(p.in(0x4d1) == 0x00);
    p.out(0x4d0, 0xff);
    p.out(0x4d1, 0xff);
    CHECK(p.in(0x4d0) == 0xf8);  // IRQ 0, 1, 2 edge only
    CHECK(p.in(0x4d1) == 0xde);  // IRQ 8, 13 edge only
    p.out(0x4d0, 0x00);
    p.out(0x4d1, 0x00);
    p.pic.pio_write(0x4d0, 2, 0x0880);  // a word write reaches both
    CHECK(p.in(0x4d0) == 0x80);
    CHECK(p.in(0x4d1) == 0x08);
    CHECK(p.pic.pio_read(0x4d0, 2) == 0x0880);

    // IRQ 11 level: while held high it interrupts again after each EOI.
    p.pic.set_irq(11, true);
    CHECK(p.pic.acknowledge() == 0x2b);
    p.slave_eoi();
    p.master_eoi();
    CHECK(p.pic.output());
    CHECK(p.pic.acknowledge() == 0x2b);
    p.pic.set_irq(11, false);
    p.slave_eoi();
    p.master_eoi();
    CHECK_FALSE(p.pic.output());

    // IRQ 0 stays edge whatever ELCR says: held high, it interrupts once.
    p.out(0x4d0, 0x01);
    p.pic.set_irq(0, true);
    CHECK(p.pic.acknowledge() == 0x20);
    p.master_eoi();
    CHECK_FALSE(p.pic.output());
    CHECK(p.master_irr() == 0);
    p.pic.set_irq(0, false);
    p.pic.set_irq(0, true);  // a new rising edge
    CHECK(p.pic.output());

    // Turning a high line to level mode makes its request visible.
    p.out(0x4d0, 0x00);
    p.pic.set_irq(6, true);
    CHECK(p.pic.acknowledge() == 0x20);  // IR0 first
    p.master_eoi();
    CHECK(p.pic.acknowledge() == 0x26);
    p.master_eoi();
    CHECK_FALSE(p.pic.output());  // edge: held high, no repeat
    p.out(0x4d0, 0x40);           // IRQ 6 level: the held line requests
    CHECK(p.pic.output());
    CHECK(p.pic.acknowledge() == 0x26);
}

TEST_CASE("pic: ICW1.LTIM makes every input of the chip level-triggered", "[devices][pic]")
{
    Pics p;
    p.init(0x20, 0x28, 0x01, 0x01, 0x19, 0x11);  // master LTIM
    p.pic.set_irq(0, true);  // even IRQ 0, which ELCR cannot make level
    CHECK(p.pic.acknowledge() == 0x20);
    p.master_eoi();
    CHECK(p.pic.output());  // still high: requests again
    CHECK(p.pic.acknowledge() == 0x20);
    p.master_eoi();
    p.pic.set_irq(0, false);
    CHECK_FALSE(p.pic.output());
    CHECK(p.master_irr() == 0);
    // Withdrawn before INTA: default IR7.
    p.pic.set_irq(3, true);
    p.pic.set_irq(3, false);
    CHECK(p.pic.acknowledge() == 0x27);
    // The slave stays edge: a held line interrupts once.
    p.pic.set_irq(9, true);
    CHECK(p.pic.acknowledge() == 0x29);
    p.slave_eoi();
    p.master_eoi();
    CHECK_FALSE(p.pic.output());
}

TEST_CASE("pic: poll command", "[devices][pic]")
{
    Pics p;
    p.init();
    p.pulse(5);
    p.out(0x20, 0x0c);
    CHECK(p.in(0x20) == 0x85);
    CHECK(p.in(0x20) == 0x00);  // one read only: IRR again (the edge was taken)
    CHECK(p.master_isr() == 0x20);  // the poll acted as INTA
    CHECK_FALSE(p.pic.output());
    p.master_eoi();
    // No request: 0.
    p.out(0x20, 0x0c);
    CHECK(p.in(0x20) == 0x00);
    // The next read of either port returns the poll word.
    p.out(0x20, 0x0c);
    p.pulse(1);
    CHECK(p.in(0x21) == 0x81);
    CHECK(p.in(0x21) == 0x00);  // IMR again
    p.master_eoi();
    // Poll takes precedence over a read select in the same OCW3.
    p.pulse(6);
    p.out(0x20, 0x0f);  // poll + read ISR
    CHECK(p.in(0x20) == 0x86);
    CHECK(p.in(0x20) == 0x40);  // then ISR, as selected
    p.master_eoi();
    // Cascade under polling: the master reports IR2, the slave its level.
    p.pulse(13);
    p.out(0x20, 0x0c);
    CHECK(p.in(0x20) == 0x82);
    p.out(0xa0, 0x0c);
    CHECK(p.in(0xa0) == 0x85);
    CHECK(p.slave_isr() == 0x20);
    CHECK(p.master_isr() == 0x04);
}

TEST_CASE("pic: special mask mode", "[devices][pic]")
{
    Pics p;
    p.init();
    p.pulse(3);
    CHECK(p.pic.acknowledge() == 0x23);
    p.pulse(5);
    p.pulse(7);
    CHECK_FALSE(p.pic.output());
    p.out(0x20, 0x68);  // set special mask mode
    CHECK_FALSE(p.pic.output());  // IR3 in service and not masked: still blocks
    p.out(0x21, 0x08);  // mask the level in service
    CHECK(p.pic.output());
    CHECK(p.pic.acknowledge() == 0x25);
    CHECK(p.master_isr() == 0x28);
    // A non-specific EOI skips the masked in-service IR3.
    p.master_eoi();
    CHECK(p.master_isr() == 0x08);
    CHECK(p.pic.acknowledge() == 0x27);
    p.master_eoi();
    p.master_eoi();  // only the masked IR3 left: untouched
    CHECK(p.master_isr() == 0x08);
    // SMM without ESMM changes nothing.
    p.out(0x20, 0x28);
    p.pulse(6);
    CHECK(p.pic.output());
    // Reset special mask mode: IR3 blocks again.
    p.out(0x20, 0x48);
    CHECK_FALSE(p.pic.output());
    p.out(0x20, 0x63);
    CHECK(p.pic.acknowledge() == 0x26);
}

TEST_CASE("pic: special fully nested mode lets a higher slave request through", "[devices][pic]")
{
    SECTION("SFNM on the master")
    {
        Pics p;
        p.init(0x20, 0x28, 0x11, 0x01);
        p.pulse(10);
        CHECK(p.pic.acknowledge() == 0x2a);
        p.pulse(9);  // higher than IRQ 10 within the slave
        CHECK(p.pic.output());
        CHECK(p.pic.acknowledge() == 0x29);
        CHECK(p.slave_isr() == 0x06);
        CHECK(p.master_isr() == 0x04);
        p.pulse(11);  // lower than what the slave serves: the slave holds it
        CHECK_FALSE(p.pic.output());
        p.pulse(4);  // lower than IR2 on the master: still blocked
        CHECK_FALSE(p.pic.output());
    }
    SECTION("fully nested mode: the master's IR2 in service blocks the slave")
    {
        Pics p;
        p.init();
        p.pulse(10);
        CHECK(p.pic.acknowledge() == 0x2a);
        p.pulse(9);
        CHECK_FALSE(p.pic.output());
        CHECK(p.slave_irr() == 0x02);
        p.master_eoi();
        CHECK(p.pic.acknowledge() == 0x29);
    }
}

TEST_CASE("pic: IRR, ISR and IMR reads", "[devices][pic]")
{
    Pics p;
    p.init();
    p.out(0x21, 0x50);
    p.out(0xa1, 0x81);
    p.pulse(4);
    p.pulse(6);
    p.pulse(8);
    CHECK(p.in(0x20) == 0x50);  // IRR by default after ICW1
    CHECK(p.in(0xa0) == 0x01);
    CHECK(p.in(0x21) == 0x50);
    CHECK(p.in(0xa1) == 0x81);
    p.out(0x20, 0x0b);
    CHECK(p.in(0x20) == 0x00);  // ISR
    p.out(0x20, 0x08);          // RR = 0: selection unchanged
    CHECK(p.in(0x20) == 0x00);
    p.out(0x20, 0x8b);  // reserved bit 7 set: ignored
    CHECK(p.in(0x20) == 0x00);
    p.out(0x20, 0x0a);
    CHECK(p.in(0x20) == 0x50);
    CHECK(p.pic.pio_read(0x20, 2) == 0x5050);  // wide access: IRR then IMR
}

TEST_CASE("pic: nonsense inputs and wiring", "[devices][pic]")
{
    Pics p;
    p.init();
    p.pic.set_irq(2, true);  // not a PC input
    p.pic.set_irq(16, true);
    p.pic.set_irq(0xffffffffu, true);
    CHECK_FALSE(p.pic.output());
    CHECK(p.master_irr() == 0);
    CHECK(p.in(0x22) == 0xff);  // not a PIC port
    p.out(0x22, 0x11);
    CHECK(p.pic.initialised(DualPic::kMaster));
    // A slave programmed with an ID other than the master's cascade input
    // never answers: the vector bus floats.
    Pics q;
    q.out(0x20, 0x11);
    q.out(0x21, 0x20);
    q.out(0x21, 0x04);
    q.out(0x21, 0x01);
    q.out(0xa0, 0x11);
    q.out(0xa1, 0x28);
    q.out(0xa1, 0x03);
    q.out(0xa1, 0x01);
    q.pulse(8);
    CHECK(q.pic.acknowledge() == 0xff);
    CHECK(q.master_isr() == 0x04);
    CHECK(q.slave_isr() == 0x00);
    // A master whose ICW3 names no slave answers IR2 with its own vector.
    Pics r;
    r.out(0x20, 0x11);
    r.out(0x21, 0x20);
    r.out(0x21, 0x00);
    r.out(0x21, 0x01);
    r.out(0xa0, 0x11);
    r.out(0xa1, 0x28);
    r.out(0xa1, 0x02);
    r.out(0xa1, 0x01);
    r.pulse(8);
    CHECK(r.pic.acknowledge() == 0x22);
}

TEST_CASE("pic: the output callback reports changes only; reset", "[devices][pic]")
{
    Pics p;
    p.init();
    p.pulse(3);
    p.pulse(4);
    CHECK(p.changes == std::vector<bool>{true});
    CHECK(p.pic.acknowledge() == 0x23);
    CHECK(p.changes == std::vector<bool>{true, false});
    p.master_eoi();
    CHECK(p.changes == std::vector<bool>{true, false, true});
    p.out(0x4d1, 0x08);
    p.pic.set_irq(11, true);
    p.pic.reset();
    CHECK(p.changes == std::vector<bool>{true, false, true, false});
    CHECK_FALSE(p.pic.initialised(DualPic::kMaster));
    CHECK_FALSE(p.pic.initialised(DualPic::kSlave));
    CHECK(p.in(0x4d1) == 0x00);
    CHECK(p.in(0x21) == 0x00);
    p.init();
    CHECK_FALSE(p.pic.output());  // IRQ 11 is edge again and still high: no edge
    p.pic.set_irq(11, false);
    p.pic.set_irq(11, true);
    CHECK(p.pic.acknowledge() == 0x2b);
}
