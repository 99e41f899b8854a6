// The 8042 keyboard controller and its PS/2 keyboard: expectations from the
// IBM PC AT Technical Reference (controller commands, status, output port)
// and the PS/2 keyboard command set, not from the model's output.
#include "devices/i8042.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using namespace xeno;
using namespace xeno::devices;

namespace {

struct Kbc {
    std::vector<std::string> lines;  // "1+", "1-", "12+", "12-" in order
    int resets = 0;
    std::vector<bool> a20_changes;
    I8042 kbc{IrqLine{&Kbc::line, this, 1}, IrqLine{&Kbc::line, this, 12}, &Kbc::reset, this};

    Kbc()
    {
        kbc.set_a20_callback([](void* c, bool on) { static_cast<Kbc*>(c)->a20_changes.push_back(on); }, this);
    }
    static void line(void* c, u32 n, bool level)
    {
        static_cast<Kbc*>(c)->lines.push_back(std::to_string(n) + (level ? "+" : "-"));
    }
    static void reset(void* c) { ++static_cast<Kbc*>(c)->resets; }

    u8 status() { return static_cast<u8>(kbc.pio_read(0x64, 1)); }
    u8 data() { return static_cast<u8>(kbc.pio_read(0x60, 1)); }
    void command(u8 c) { kbc.pio_write(0x64, 1, c); }
    void write(u8 d) { kbc.pio_write(0x60, 1, d); }
    // Every byte waiting for the guest, in order.
    std::vector<u8> drain()
    {
        std::vector<u8> out;
        while (status() & I8042::kStatusOutputFull) out.push_back(data());
        return out;
    }
    u8 command_byte()
    {
        command(0x20);
        return data();
    }
    void set_command_byte(u8 value)
    {
        command(0x60);
        write(value);
    }
};

using Bytes = std::vector<u8>;

}  // namespace

TEST_CASE("i8042: power-on status and command byte", "[devices][i8042]")
{
    Kbc k;
    // Only INH (not inhibited): no data, no input pending, SYS clear (no POST).
    CHECK(k.status() == 0x10);
    CHECK((k.status() & I8042::kStatusInputFull) == 0);
    CHECK(k.kbc.a20());
    CHECK(k.command_byte() == 0x40);
    // A2: the last write (0x20) went to the command port.
    CHECK((k.status() & I8042::kStatusCommand) != 0);
    CHECK(k.lines.empty());  // interrupts off at power-on
}

TEST_CASE("i8042: self-test answers 0x55 and sets SYS", "[devices][i8042]")
{
    Kbc k;
    k.kbc.key_input(0x1c);  // pending output is lost by the controller's restart
    k.command(0xaa);
    const u8 s = k.status();
    CHECK((s & I8042::kStatusOutputFull) != 0);
    CHECK((s & I8042::kStatusSystem) != 0);
    CHECK((s & I8042::kStatusCommand) != 0);
    CHECK((s & I8042::kStatusAuxData) == 0);
    CHECK(k.drain() == Bytes{0x55});
    CHECK(k.command_byte() == I8042::kCommandByteAfterSelfTest);
    CHECK((I8042::kCommandByteAfterSelfTest & I8042::kCmdSystem) != 0);
    // Interface tests report 0x00 (no error).
    k.command(0xab);
    k.command(0xa9);
    CHECK(k.drain() == Bytes{0x00, 0x00});
}

TEST_CASE("i8042: command byte and internal RAM round trip", "[devices][i8042]")
{
    Kbc k;
    k.set_command_byte(0x47);
    CHECK((k.status() & I8042::kStatusCommand) == 0);  // the last write was data
    CHECK((k.status() & I8042::kStatusSystem) != 0);   // SYS follows bit 2
    CHECK(k.command_byte() == 0x47);
    CHECK(k.kbc.command_byte() == 0x47);
    k.set_command_byte(0x40);
    CHECK((k.status() & I8042::kStatusSystem) == 0);
    // RAM byte 5: write with 0x65, read with 0x25; byte 0 is the command byte.
    k.command(0x65);
    k.write(0x9c);
    k.command(0x25);
    CHECK(k.drain() == Bytes{0x9c});
    k.command(0x7f);
    k.write(0x11);
    k.command(0x3f);
    CHECK(k.drain() == Bytes{0x11});
    CHECK(k.command_byte() == 0x40);
    // Interface enable/disable commands flip bits 4 and 5.
    k.command(0xad);
    k.command(0xa7);
    CHECK(k.command_byte() == 0x70);
    k.command(0xae);
    CHECK(k.command_byte() == 0x60);
    k.command(0xa8);
    CHECK(k.command_byte() == 0x40);
}

TEST_CASE("i8042: output port, A20 and CPU reset", "[devices][i8042]")
{
    Kbc k;
    k.command(0xd0);
    CHECK(k.drain() == Bytes{0xcf});  // reset line high, A20 on, lines idle high
    // D1: the next data byte is the output port. A20 off.
    k.command(0xd1);
    k.write(0xcd);
    CHECK_FALSE(k.kbc.a20());
    CHECK(k.a20_changes == std::vector<bool>{false});
    CHECK(k.resets == 0);
    k.command(0xd0);
    CHECK(k.drain() == Bytes{0xcd});
    // Same value again: no change to report.
    k.command(0xd1);
    k.write(0xcd);
    CHECK(k.a20_changes.size() == 1);
    // 0xdf / 0xdd: A20 on / off.
    k.command(0xdf);
    CHECK(k.kbc.a20());
    k.command(0xdd);
    CHECK_FALSE(k.kbc.a20());
    CHECK(k.a20_changes == std::vector<bool>{false, true, false});
    // Bit 0 written 0 resets the processor; it reads back high afterwards.
    k.command(0xd1);
    k.write(0xce);
    CHECK(k.resets == 1);
    CHECK(k.kbc.reset_requests() == 1);
    CHECK(k.kbc.a20());
    k.command(0xd0);
    CHECK((k.drain().at(0) & 0x03) == 0x03);
}

TEST_CASE("i8042: pulse commands; 0xfe resets the processor", "[devices][i8042]")
{
    Kbc k;
    k.command(0xff);  // pulses nothing
    CHECK(k.resets == 0);
    k.command(0xf1);  // bit 0 set: the reset line is not pulsed
    CHECK(k.resets == 0);
    k.command(0xfe);
    CHECK(k.resets == 1);
    k.command(0xf0);  // all four lines, reset among them
    CHECK(k.resets == 2);
    k.command(0xfd);  // A20 pulsed: comes back, no reset
    CHECK(k.resets == 2);
    CHECK(k.kbc.a20());
    CHECK(k.a20_changes.empty());
    CHECK((k.status() & I8042::kStatusOutputFull) == 0);  // pulses answer nothing
}

TEST_CASE("i8042: keyboard command responses, in order", "[devices][i8042]")
{
    Kbc k;
    k.write(0xf2);
    CHECK(k.drain() == Bytes{0xfa, 0xab, 0x83});
    k.write(0xee);
    CHECK(k.drain() == Bytes{0xee});
    k.write(0xed);
    CHECK(k.drain() == Bytes{0xfa});
    k.write(0x07);
    CHECK(k.drain() == Bytes{0xfa});
    CHECK(k.kbc.leds() == 7);
    // Scan code set: report (default 2), select 3, report again.
    k.write(0xf0);
    k.write(0x00);
    CHECK(k.drain() == Bytes{0xfa, 0xfa, 0x02});
    k.write(0xf0);
    k.write(0x03);
    k.write(0xf0);
    k.write(0x00);
    CHECK(k.drain() == Bytes{0xfa, 0xfa, 0xfa, 0xfa, 0x03});
    k.write(0xf0);
    k.write(0x04);  // no set 4
    CHECK(k.drain() == Bytes{0xfa, 0xfe});
    CHECK(k.kbc.scancode_set() == 3);
    // Typematic: argument bit 7 is not part of the rate.
    k.write(0xf3);
    k.write(0xa5);
    CHECK(k.drain() == Bytes{0xfa, 0xfa});
    CHECK(k.kbc.typematic() == 0x25);
    // Defaults: set 2, 10.9 cps after 500 ms; LEDs untouched.
    k.write(0xf6);
    CHECK(k.drain() == Bytes{0xfa});
    CHECK(k.kbc.scancode_set() == 2);
    CHECK(k.kbc.typematic() == 0x2b);
    CHECK(k.kbc.leds() == 7);
    // Disable / enable scanning.
    k.write(0xf5);
    CHECK_FALSE(k.kbc.scanning());
    k.write(0xf4);
    CHECK(k.kbc.scanning());
    CHECK(k.drain() == Bytes{0xfa, 0xfa});
    // Reset: acknowledge, then the self-test result; LEDs off.
    k.write(0xff);
    CHECK(k.drain() == Bytes{0xfa, 0xaa});
    CHECK(k.kbc.leds() == 0);
    // Unknown command: resend request.
    k.write(0x12);
    k.write(0xe0);
    CHECK(k.drain() == Bytes{0xfe, 0xfe});
    // Resend: the last byte other than a resend request.
    k.write(0xee);
    k.write(0x77);
    k.write(0xfe);
    CHECK(k.drain() == Bytes{0xee, 0xfe, 0xee});
}

TEST_CASE("i8042: a command in place of an argument aborts and runs", "[devices][i8042]")
{
    Kbc k;
    k.write(0xed);
    k.write(0xf2);  // not an LED mask: identify runs instead
    CHECK(k.drain() == Bytes{0xfa, 0xfa, 0xab, 0x83});
    CHECK(k.kbc.leds() == 0);
    k.write(0x05);  // no argument awaited any more: an unknown command
    CHECK(k.drain() == Bytes{0xfe});
    CHECK(k.kbc.leds() == 0);
}

TEST_CASE("i8042: responses queue and reach the output buffer one per read", "[devices][i8042]")
{
    Kbc k;
    k.write(0xf2);
    CHECK((k.status() & I8042::kStatusOutputFull) != 0);
    CHECK(k.data() == 0xfa);
    CHECK((k.status() & I8042::kStatusOutputFull) != 0);
    CHECK(k.data() == 0xab);
    CHECK(k.data() == 0x83);
    CHECK((k.status() & I8042::kStatusOutputFull) == 0);
    CHECK(k.data() == 0x83);  // an empty buffer reads its last byte again
    // Overrun: the buffer plus 16 queued bytes; the rest are lost.
    for (unsigned i = 0; i < 20; ++i) k.kbc.key_input(static_cast<u8>(i));
    const Bytes got = k.drain();
    REQUIRE(got.size() == 1 + I8042::kQueueDepth);
    for (unsigned i = 0; i < got.size(); ++i) CHECK(got[i] == i);
}

TEST_CASE("i8042: IRQ 1 follows keyboard data and command byte bit 0", "[devices][i8042]")
{
    Kbc k;
    k.kbc.key_input(0x1e);
    CHECK(k.lines.empty());  // bit 0 clear: no interrupt
    k.set_command_byte(0x41);  // enabling with data waiting raises the line
    CHECK(k.lines == std::vector<std::string>{"1+"});
    CHECK(k.data() == 0x1e);
    CHECK(k.lines == std::vector<std::string>{"1+", "1-"});
    // Two bytes: the read of the first drops the line, the second raises it.
    k.lines.clear();
    k.kbc.key_input(0x9e);
    k.kbc.key_input(0x30);
    CHECK(k.lines == std::vector<std::string>{"1+"});
    CHECK(k.data() == 0x9e);
    CHECK(k.lines == std::vector<std::string>{"1+", "1-", "1+"});
    CHECK(k.data() == 0x30);
    CHECK(k.lines == std::vector<std::string>{"1+", "1-", "1+", "1-"});
    // Controller results interrupt through IRQ 1 too.
    k.lines.clear();
    k.command(0xd2);  // echo as keyboard data
    k.write(0x5a);
    CHECK(k.lines == std::vector<std::string>{"1+"});
    CHECK((k.status() & I8042::kStatusAuxData) == 0);
    CHECK(k.data() == 0x5a);
    // Disabling the interrupt with data waiting lowers the line.
    k.lines.clear();
    k.kbc.key_input(0x01);
    k.command(0x60);
    k.write(0x40);
    CHECK(k.lines == std::vector<std::string>{"1+", "1-"});
    CHECK(k.data() == 0x01);
}

TEST_CASE("i8042: aux data, IRQ 12 and the absent mouse", "[devices][i8042]")
{
    Kbc k;
    k.set_command_byte(0x43);
    k.lines.clear();
    k.command(0xd3);
    k.write(0x5a);
    CHECK((k.status() & (I8042::kStatusOutputFull | I8042::kStatusAuxData)) ==
          (I8042::kStatusOutputFull | I8042::kStatusAuxData));
    CHECK(k.lines == std::vector<std::string>{"12+"});
    k.command(0xd0);  // output port bit 5: aux buffer full; the answer queues behind
    CHECK(k.data() == 0x5a);
    CHECK(k.lines == std::vector<std::string>{"12+", "12-", "1+"});
    CHECK((k.data() & 0x30) == 0x20);
    // No mouse: a byte for the aux device is answered 0xfe from the aux side.
    k.lines.clear();
    k.command(0xd4);
    k.write(0xf2);
    CHECK((k.status() & I8042::kStatusAuxData) != 0);
    CHECK(k.data() == 0xfe);
    CHECK(k.lines == std::vector<std::string>{"12+", "12-"});
    // Aux interrupt disabled: aux data raises nothing.
    k.set_command_byte(0x41);
    k.lines.clear();
    k.command(0xd3);
    k.write(0x01);
    CHECK(k.lines.empty());
    CHECK(k.data() == 0x01);
}

TEST_CASE("i8042: keyboard bytes are dropped while disabled or not scanning", "[devices][i8042]")
{
    Kbc k;
    k.command(0xad);
    k.kbc.key_input(0x1e);
    CHECK((k.status() & I8042::kStatusOutputFull) == 0);
    k.command(0xae);
    k.write(0xf5);
    CHECK(k.drain() == Bytes{0xfa});  // commands are still answered
    k.kbc.key_input(0x1e);
    CHECK((k.status() & I8042::kStatusOutputFull) == 0);
    k.write(0xf4);
    k.kbc.key_input(0x1e);
    CHECK(k.drain() == Bytes{0xfa, 0x1e});
}

TEST_CASE("i8042: status bits and nonsense", "[devices][i8042]")
{
    Kbc k;
    k.command(0x12);  // no such controller command: ignored
    CHECK(k.status() == (I8042::kStatusNotInhibited | I8042::kStatusCommand));
    k.write(0xee);
    CHECK(k.status() == (I8042::kStatusNotInhibited | I8042::kStatusOutputFull));
    CHECK(k.data() == 0xee);
    // Never: input buffer full, timeout, parity error.
    CHECK((k.status() & (I8042::kStatusInputFull | I8042::kStatusTimeout | I8042::kStatusParity)) == 0);
    // A command waiting for its data byte is replaced by the next command:
    // the data byte then goes to the keyboard.
    k.command(0x60);
    k.command(0xc0);
    CHECK(k.drain() == Bytes{0xa0});  // input port: not inhibited
    k.write(0xee);
    CHECK(k.drain() == Bytes{0xee});
    CHECK(k.command_byte() == 0x40);
    // Other ports are not the controller's.
    CHECK(k.kbc.pio_read(0x61, 1) == 0xff);
    k.kbc.pio_write(0x65, 1, 0xfe);
    CHECK(k.resets == 0);
}

TEST_CASE("i8042: reset returns to power-on", "[devices][i8042]")
{
    Kbc k;
    k.set_command_byte(0x47);
    k.command(0xdd);
    k.write(0xed);
    k.write(0x02);
    k.kbc.key_input(0x1e);
    k.lines.clear();
    k.a20_changes.clear();
    k.kbc.reset();
    CHECK(k.lines == std::vector<std::string>{"1-"});
    CHECK(k.a20_changes == std::vector<bool>{true});
    CHECK(k.status() == 0x10);
    CHECK(k.kbc.leds() == 0);
    CHECK(k.command_byte() == 0x40);
}
