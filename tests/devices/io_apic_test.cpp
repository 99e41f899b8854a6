#include "devices/io_apic.hpp"

#include <catch2/catch.hpp>
#include <vector>

using namespace xeno;
using namespace xeno::devices;

namespace {

// Redirection entry fields (82093AA 3.2.4), spelled out independently of the
// model's constants.
constexpr u32 kFixed = 0u << 8, kLowest = 1u << 8, kSmi = 2u << 8, kNmi = 4u << 8, kInit = 5u << 8,
              kExtInt = 7u << 8;
constexpr u32 kLogicalDest = 1u << 11;
constexpr u32 kDeliveryStatusBit = 1u << 12;
constexpr u32 kActiveLowBit = 1u << 13;
constexpr u32 kRemoteIrrBit = 1u << 14;
constexpr u32 kLevelBit = 1u << 15;
constexpr u32 kMaskBit = 1u << 16;

struct Fixture {
    std::vector<ApicMessage> sent;
    IoApic io{2, &Fixture::record, this};

    static void record(void* c, const ApicMessage& m) { static_cast<Fixture*>(c)->sent.push_back(m); }

    void select(u8 reg) { io.mmio_write(0, 0x00, 4, reg); }
    u32 rd(u8 reg)
    {
        select(reg);
        return static_cast<u32>(io.mmio_read(0, 0x10, 4));
    }
    void wr(u8 reg, u32 value)
    {
        select(reg);
        io.mmio_write(0, 0x10, 4, value);
    }
    u32 low(u32 pin) { return rd(static_cast<u8>(0x10 + 2 * pin)); }
    u32 high(u32 pin) { return rd(static_cast<u8>(0x11 + 2 * pin)); }
    // Destination first, then the low dword (which unmasks), as guests do.
    void program(u32 pin, u32 low_dword, u8 destination = 0)
    {
        wr(static_cast<u8>(0x11 + 2 * pin), u32{destination} << 24);
        wr(static_cast<u8>(0x10 + 2 * pin), low_dword);
    }
};

}  // namespace

TEST_CASE("I/O APIC: ID, version, arbitration registers", "[devices][ioapic]")
{
    Fixture f;
    CHECK(f.rd(0x00) == 0x02000000);  // ID 2 in bits 27:24
    CHECK(f.rd(0x01) == 0x00170020);  // 24 entries (max index 23), version 0x20
    CHECK(f.rd(0x02) == 0x02000000);  // arbitration ID starts as the ID

    f.wr(0x00, 0xffffffff);  // only the 4-bit ID field is writable
    CHECK(f.rd(0x00) == 0x0f000000);
    CHECK(f.rd(0x02) == 0x0f000000);  // "same data is loaded into both"
    CHECK(f.io.id() == 0x0f);
    f.wr(0x00, 0x05000000);
    CHECK(f.rd(0x00) == 0x05000000);
    CHECK(f.rd(0x02) == 0x05000000);

    f.wr(0x01, 0);  // version: read-only
    CHECK(f.rd(0x01) == 0x00170020);
    f.wr(0x02, 0x0a000000);  // arbitration: read-only
    CHECK(f.rd(0x02) == 0x05000000);

    // Constructor IDs wider than 4 bits keep the 4 bits the register has.
    IoApic wide(0x1f, nullptr, nullptr);
    CHECK(wide.read_register(0x00) == 0x0f000000);
}

TEST_CASE("I/O APIC: redirection entries reset masked, round trip, read-only bits", "[devices][ioapic]")
{
    Fixture f;
    for (u32 pin = 0; pin < 24; ++pin) {
        CHECK(f.low(pin) == kMaskBit);  // masked on reset, everything else 0
        CHECK(f.high(pin) == 0);
    }
    // Every writable bit of the low dword; delivery status, remote IRR and
    // 31:17 are not writable.
    f.wr(0x10 + 2 * 5, 0xffffffff);
    CHECK(f.low(5) == 0x0001afff);
    f.wr(0x10 + 2 * 5, 0x0000a9f3 | kMaskBit);  // level, active low, logical, lowest priority (mode 1), vector 0xf3
    CHECK(f.low(5) == (0x0000a9f3 | kMaskBit));
    // High dword: destination 63:56 and the ICH9 extended destination 55:48
    // are writable; 47:32 is reserved.
    f.wr(0x11 + 2 * 5, 0xffffffff);
    CHECK(f.high(5) == 0xffff0000);
    f.wr(0x11 + 2 * 5, 0x12345678);
    CHECK(f.high(5) == 0x12340000);
    CHECK(f.io.entry(5) == ((u64{0x12340000} << 32) | 0x0000a9f3 | kMaskBit));
    // The last entry is 23 (registers 0x3e/0x3f); other entries untouched.
    f.wr(0x3e, 0x40);
    f.wr(0x3f, 0x07000000);
    CHECK(f.low(23) == 0x40);
    CHECK(f.high(23) == 0x07000000);
    CHECK(f.low(4) == kMaskBit);
    CHECK(f.low(6) == kMaskBit);
}

TEST_CASE("I/O APIC: IOREGSEL beyond the table and holes read 0, ignore writes", "[devices][ioapic]")
{
    Fixture f;
    for (u32 reg : {0x03u, 0x0fu, 0x40u, 0x41u, 0x80u, 0xffu}) {
        f.wr(static_cast<u8>(reg), 0xffffffff);
        CHECK(f.rd(static_cast<u8>(reg)) == 0);
    }
    // Nothing else changed.
    CHECK(f.rd(0x00) == 0x02000000);
    for (u32 pin = 0; pin < 24; ++pin) CHECK(f.low(pin) == kMaskBit);
    CHECK(f.sent.empty());
}

TEST_CASE("I/O APIC: MMIO access sizes", "[devices][ioapic]")
{
    Fixture f;
    // IOREGSEL keeps bits 7:0; 31:8 read 0.
    f.io.mmio_write(0, 0x00, 4, 0x12345601);
    CHECK(f.io.mmio_read(0, 0x00, 4) == 0x01);
    // Narrow and wide reads return the covered bytes of the version register.
    CHECK(f.io.mmio_read(0, 0x10, 1) == 0x20);
    CHECK(f.io.mmio_read(0, 0x12, 1) == 0x17);
    CHECK(f.io.mmio_read(0, 0x12, 2) == 0x0017);
    CHECK(f.io.mmio_read(0, 0x10, 2) == 0x0020);
    CHECK(f.io.mmio_read(0, 0x10, 8) == 0x00170020);  // 0x14-0x17: nothing
    // A byte write to IOREGSEL's low byte loads it (the 82093AA's own way);
    // a byte write to its reserved bytes does not.
    f.io.mmio_write(0, 0x00, 1, 0x00);
    CHECK(f.io.mmio_read(0, 0x10, 4) == 0x02000000);
    f.io.mmio_write(0, 0x01, 1, 0x01);
    CHECK(f.io.mmio_read(0, 0x00, 4) == 0x00);
    // IOWIN takes dword writes only: byte, word and misaligned writes are
    // ignored.
    f.select(0x10);
    f.io.mmio_write(0, 0x10, 1, 0x41);
    f.io.mmio_write(0, 0x10, 2, 0x0041);
    f.io.mmio_write(0, 0x11, 4, 0x00004100);
    f.io.mmio_write(0, 0x12, 2, 0x0000);  // would unmask
    CHECK(f.low(0) == kMaskBit);
    f.select(0x10);
    f.io.mmio_write(0, 0x10, 4, kMaskBit | 0x41);
    CHECK(f.low(0) == (kMaskBit | 0x41));
    // A qword write at IOWIN writes its low dword.
    f.select(0x10);
    f.io.mmio_write(0, 0x10, 8, 0xffffffff'00010042ull);
    CHECK(f.low(0) == (kMaskBit | 0x42));
    // Other offsets in the page read 0 and ignore writes; the EOI register
    // is write-only.
    CHECK(f.io.mmio_read(0, 0x20, 4) == 0);
    CHECK(f.io.mmio_read(0, 0x40, 4) == 0);
    CHECK(f.io.mmio_read(0, 0xffc, 4) == 0);
    f.io.mmio_write(0, 0x800, 4, 0xffffffff);
    f.io.mmio_write(0, 0x20, 4, 0xffffffff);
    CHECK(f.io.mmio_read(0, 0x00, 4) == 0x10);
    CHECK(f.low(0) == (kMaskBit | 0x42));
    CHECK(f.sent.empty());
}

TEST_CASE("I/O APIC: edge-triggered entries deliver each rising edge; masked edges are lost", "[devices][ioapic]")
{
    Fixture f;
    f.program(1, kFixed | 0x31, 3);
    CHECK(f.sent.empty());  // unmasking an edge entry is not an edge
    f.io.set_irq(1, true);
    REQUIRE(f.sent.size() == 1);
    const ApicMessage& m = f.sent[0];
    CHECK(m.vector == 0x31);
    CHECK(m.mode == DeliveryMode::FIXED);
    CHECK_FALSE(m.logical);
    CHECK_FALSE(m.level_triggered);
    CHECK(m.assert_level);
    CHECK(m.shorthand == Shorthand::NONE);
    CHECK(m.destination == 3);
    CHECK_FALSE(m.x2apic_destination);
    CHECK((f.low(1) & (kDeliveryStatusBit | kRemoteIrrBit)) == 0);  // idle, no remote IRR for edge

    f.io.set_irq(1, true);  // still high: no edge
    CHECK(f.sent.size() == 1);
    f.io.set_irq(1, false);
    CHECK(f.sent.size() == 1);
    f.io.set_irq(1, true);
    CHECK(f.sent.size() == 2);
    f.io.eoi(0x31);  // EOI means nothing to an edge entry
    CHECK(f.sent.size() == 2);

    // Masked: the edge is lost, and unmasking does not bring it back.
    f.io.set_irq(1, false);
    f.program(1, kMaskBit | kFixed | 0x31, 3);
    f.io.set_irq(1, true);
    CHECK(f.sent.size() == 2);
    f.program(1, kFixed | 0x31, 3);
    CHECK(f.sent.size() == 2);
    f.io.set_irq(1, false);
    f.io.set_irq(1, true);
    CHECK(f.sent.size() == 3);
    CHECK(f.io.messages_sent() == 3);
}

TEST_CASE("I/O APIC: level-triggered entries, remote IRR, EOI and re-delivery", "[devices][ioapic]")
{
    Fixture f;
    f.program(9, kLevelBit | kLogicalDest | kFixed | 0x49, 0x0f);
    CHECK(f.sent.empty());
    f.io.set_irq(9, true);
    REQUIRE(f.sent.size() == 1);
    CHECK(f.sent[0].vector == 0x49);
    CHECK(f.sent[0].level_triggered);
    CHECK(f.sent[0].logical);
    CHECK(f.sent[0].destination == 0x0f);
    CHECK(f.low(9) & kRemoteIrrBit);
    CHECK_FALSE(f.low(9) & kDeliveryStatusBit);

    // Remote IRR holds further messages while the line stays asserted.
    f.io.set_irq(9, true);
    f.io.set_irq(9, false);
    f.io.set_irq(9, true);
    CHECK(f.sent.size() == 1);
    // Remote IRR is read-only: a guest rewriting the entry does not clear it.
    f.wr(0x10 + 2 * 9, kLevelBit | kLogicalDest | kFixed | 0x49);
    CHECK(f.low(9) & kRemoteIrrBit);
    CHECK(f.sent.size() == 1);

    f.io.eoi(0x48);  // another vector
    CHECK(f.sent.size() == 1);
    f.io.eoi(0x49);  // still asserted: delivered again, remote IRR set again
    CHECK(f.sent.size() == 2);
    CHECK(f.low(9) & kRemoteIrrBit);

    // The EOI register does the same (bits 7:0: the vector).
    f.io.mmio_write(0, 0x40, 4, 0x49);
    CHECK(f.sent.size() == 3);
    f.io.set_irq(9, false);
    f.io.mmio_write(0, 0x40, 4, 0x49);
    CHECK(f.sent.size() == 3);
    CHECK_FALSE(f.low(9) & kRemoteIrrBit);
    // Asserted again with remote IRR clear: delivered.
    f.io.set_irq(9, true);
    CHECK(f.sent.size() == 4);
}

TEST_CASE("I/O APIC: an asserted level line the guest never EOIs delivers once", "[devices][ioapic]")
{
    Fixture f;
    f.program(11, kLevelBit | kFixed | 0x5b, 0);
    for (int i = 0; i < 1000; ++i) f.io.set_irq(11, true);
    CHECK(f.sent.size() == 1);
    // One message per EOI, no more.
    for (int i = 0; i < 10; ++i) f.io.eoi(0x5b);
    CHECK(f.sent.size() == 11);
}

TEST_CASE("I/O APIC: one EOI clears every level entry with the vector", "[devices][ioapic]")
{
    Fixture f;
    f.program(3, kLevelBit | kFixed | 0x60, 0);
    f.program(4, kLevelBit | kFixed | 0x60, 1);
    f.program(5, kLevelBit | kFixed | 0x61, 2);
    f.io.set_irq(3, true);
    f.io.set_irq(4, true);
    f.io.set_irq(5, true);
    CHECK(f.sent.size() == 3);
    f.io.set_irq(3, false);
    f.io.set_irq(4, false);
    f.io.mmio_write(0, 0x40, 1, 0x60);  // a byte write of the vector is enough
    CHECK_FALSE(f.low(3) & kRemoteIrrBit);
    CHECK_FALSE(f.low(4) & kRemoteIrrBit);
    CHECK(f.low(5) & kRemoteIrrBit);
    CHECK(f.sent.size() == 3);
}

TEST_CASE("I/O APIC: unmasking an asserted level entry delivers; EOI while masked", "[devices][ioapic]")
{
    Fixture f;
    f.program(7, kMaskBit | kLevelBit | kFixed | 0x37, 0);
    f.io.set_irq(7, true);
    CHECK(f.sent.empty());  // masked
    f.program(7, kLevelBit | kFixed | 0x37, 0);
    REQUIRE(f.sent.size() == 1);  // unmasked with the line asserted
    CHECK(f.low(7) & kRemoteIrrBit);

    // Masked with remote IRR set: the EOI clears it but sends nothing.
    f.program(7, kMaskBit | kLevelBit | kFixed | 0x37, 0);
    f.io.eoi(0x37);
    CHECK_FALSE(f.low(7) & kRemoteIrrBit);
    CHECK(f.sent.size() == 1);
    f.program(7, kLevelBit | kFixed | 0x37, 0);  // unmask: still asserted
    CHECK(f.sent.size() == 2);
    // Unmasked, remote IRR set: rewriting the entry sends nothing.
    f.program(7, kLevelBit | kFixed | 0x37, 0);
    CHECK(f.sent.size() == 2);
    // Deasserted before unmasking: nothing.
    f.program(7, kMaskBit | kLevelBit | kFixed | 0x37, 0);
    f.io.eoi(0x37);
    f.io.set_irq(7, false);
    f.program(7, kLevelBit | kFixed | 0x37, 0);
    CHECK(f.sent.size() == 2);
}

TEST_CASE("I/O APIC: polarity inverts the pin for active-low entries", "[devices][ioapic]")
{
    Fixture f;
    // Active-low level (a PCI INTx line): the pin idles high.
    f.io.set_irq(16, true);
    f.program(16, kActiveLowBit | kLevelBit | kFixed | 0x70, 0);
    CHECK(f.sent.empty());   // high = not asserted
    f.io.set_irq(16, false);  // pulled low: asserted
    REQUIRE(f.sent.size() == 1);
    CHECK(f.sent[0].level_triggered);
    f.io.set_irq(16, true);  // released
    f.io.eoi(0x70);
    CHECK(f.sent.size() == 1);
    f.io.set_irq(16, false);
    CHECK(f.sent.size() == 2);

    // Active-low edge: the falling pin edge is the asserting edge.
    f.io.set_irq(17, true);
    f.program(17, kActiveLowBit | kFixed | 0x71, 0);
    f.io.set_irq(17, false);
    CHECK(f.sent.size() == 3);
    CHECK(f.sent.back().vector == 0x71);
    f.io.set_irq(17, true);  // rising pin edge: deassertion
    CHECK(f.sent.size() == 3);

    // A level entry with a low pin, switched to active low, reads asserted.
    f.io.set_irq(18, false);
    f.program(18, kLevelBit | kFixed | 0x72, 0);
    CHECK(f.sent.size() == 3);
    f.program(18, kActiveLowBit | kLevelBit | kFixed | 0x72, 0);
    CHECK(f.sent.size() == 4);
    CHECK(f.sent.back().vector == 0x72);
    CHECK_FALSE(f.io.pin_level(16));
    CHECK(f.io.pin_level(17));
    CHECK_FALSE(f.io.pin_level(18));
}

TEST_CASE("I/O APIC: destination fields and delivery modes in the message", "[devices][ioapic]")
{
    Fixture f;
    f.program(0, kLogicalDest | kLowest | 0x41, 0x03);
    f.io.set_irq(0, true);
    REQUIRE(f.sent.size() == 1);
    CHECK(f.sent[0].mode == DeliveryMode::LOWEST_PRIORITY);
    CHECK(f.sent[0].logical);
    CHECK(f.sent[0].destination == 0x03);

    f.program(2, kFixed | 0x42, 0xff);  // physical broadcast
    f.io.set_irq(2, true);
    REQUIRE(f.sent.size() == 2);
    CHECK_FALSE(f.sent[1].logical);
    CHECK(f.sent[1].destination == 0xff);

    // The extended destination ID (55:48) is not part of the destination.
    f.wr(0x11 + 2 * 6, 0x01fe0000);
    f.wr(0x10 + 2 * 6, kFixed | 0x43);
    f.io.set_irq(6, true);
    REQUIRE(f.sent.size() == 3);
    CHECK(f.sent[2].destination == 0x01);

    // SMI, INIT, ExtINT: edge messages with their mode.
    f.program(12, kSmi, 0);
    f.program(13, kInit, 1);
    f.program(14, kExtInt, 0);
    f.io.set_irq(12, true);
    f.io.set_irq(13, true);
    f.io.set_irq(14, true);
    REQUIRE(f.sent.size() == 6);
    CHECK(f.sent[3].mode == DeliveryMode::SMI);
    CHECK(f.sent[4].mode == DeliveryMode::INIT);
    CHECK(f.sent[4].destination == 1);
    CHECK(f.sent[5].mode == DeliveryMode::EXTINT);
}

TEST_CASE("I/O APIC: NMI/INIT/ExtINT programmed level act as edge", "[devices][ioapic]")
{
    Fixture f;
    f.program(2, kLevelBit | kNmi, 0);
    f.io.set_irq(2, true);
    REQUIRE(f.sent.size() == 1);
    CHECK(f.sent[0].mode == DeliveryMode::NMI);
    CHECK_FALSE(f.sent[0].level_triggered);
    CHECK_FALSE(f.low(2) & kRemoteIrrBit);
    f.io.set_irq(2, true);  // held: no more
    CHECK(f.sent.size() == 1);
    f.io.set_irq(2, false);
    f.io.set_irq(2, true);  // next edge
    CHECK(f.sent.size() == 2);

    f.program(3, kLevelBit | kExtInt, 0);
    f.io.set_irq(3, true);
    CHECK(f.sent.size() == 3);
    CHECK_FALSE(f.sent[2].level_triggered);
    CHECK_FALSE(f.low(3) & kRemoteIrrBit);
}

TEST_CASE("I/O APIC: guest nonsense", "[devices][ioapic]")
{
    Fixture f;
    // Vectors 0-15 in a fixed entry are still sent (the local APIC flags them).
    f.program(1, kFixed | 0x05, 0);
    f.io.set_irq(1, true);
    REQUIRE(f.sent.size() == 1);
    CHECK(f.sent[0].vector == 0x05);

    // Reserved delivery modes 011 and 110 send nothing, edge or level.
    f.program(2, 3u << 8 | 0x50, 0);
    f.program(3, 6u << 8 | 0x51, 0);
    f.program(4, kLevelBit | 3u << 8 | 0x52, 0);
    f.io.set_irq(2, true);
    f.io.set_irq(3, true);
    f.io.set_irq(4, true);
    CHECK(f.sent.size() == 1);
    CHECK_FALSE(f.low(4) & kRemoteIrrBit);
    // Fixing the level entry's mode while its line is asserted sends.
    f.program(4, kLevelBit | kFixed | 0x52, 0);
    CHECK(f.sent.size() == 2);
    CHECK(f.sent[1].vector == 0x52);

    // Switching a level entry with remote IRR set to edge clears remote IRR.
    CHECK(f.low(4) & kRemoteIrrBit);
    f.program(4, kFixed | 0x52, 0);
    CHECK_FALSE(f.low(4) & kRemoteIrrBit);
    // ... and back to level with the line asserted delivers again.
    f.program(4, kLevelBit | kFixed | 0x52, 0);
    CHECK(f.sent.size() == 3);

    // Pins beyond 23 are ignored.
    f.io.set_irq(24, true);
    f.io.set_irq(0xffffffff, true);
    CHECK(f.sent.size() == 3);
    CHECK_FALSE(f.io.pin_level(24));
    // EOI of a vector no entry has.
    f.io.eoi(0xff);
    f.io.eoi(0x00);
    CHECK(f.sent.size() == 3);
}

TEST_CASE("I/O APIC: reset masks every entry and keeps the pins", "[devices][ioapic]")
{
    Fixture f;
    f.wr(0x00, 0x09000000);
    f.program(5, kLevelBit | kFixed | 0x45, 4);
    f.io.set_irq(5, true);
    CHECK(f.sent.size() == 1);
    f.select(0x11);
    f.io.reset();
    CHECK(f.io.mmio_read(0, 0x00, 4) == 0);  // IOREGSEL back to 0
    CHECK(f.rd(0x00) == 0x02000000);         // the ID given at construction
    CHECK(f.low(5) == kMaskBit);
    CHECK(f.high(5) == 0);
    CHECK(f.io.pin_level(5));
    // Reprogrammed: the still-asserted pin delivers.
    f.program(5, kLevelBit | kFixed | 0x45, 4);
    CHECK(f.sent.size() == 2);
}

TEST_CASE("I/O APIC: no callback, no crash", "[devices][ioapic]")
{
    IoApic io(0, nullptr, nullptr);
    io.write_register(0x10, kLevelBit | 0x40);
    io.set_irq(0, true);
    CHECK(io.messages_sent() == 1);
    CHECK(io.read_register(0x10) == (kLevelBit | kRemoteIrrBit | 0x40));
    io.eoi(0x40);
    CHECK(io.messages_sent() == 2);
}
