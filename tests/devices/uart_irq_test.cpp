#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "devices/uart16550.hpp"

using namespace xeno;
using namespace xeno::devices;

namespace {

// Register offsets from COM1 (PC16550D Table II).
constexpr u16 RBR = 0, THR = 0, IER = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6;

// Interrupt identification values (PC16550D Table IV), FIFO bits apart.
constexpr u8 kNone = 0x01, kLineStatus = 0x06, kDataAvailable = 0x04, kTimeout = 0x0c, kThrEmpty = 0x02,
             kModemStatus = 0x00, kFifoBits = 0xc0;

constexpr u8 kOut2 = 0x08, kLoop = 0x10;

// n character times of `bits` bits at 115200/divisor baud, in ns, rounded
// down: the data sheet's baud rate arithmetic done independently.
u64 char_ns(u64 n, u64 bits, u64 divisor) { return n * bits * divisor * 1'000'000'000ull / 115200; }

struct Rig {
    u64 now = 0;
    TimerQueue q{&Rig::clock, this};
    std::string out;
    std::vector<bool> levels;  // every set_level the UART drove
    Uart16550 u{0x3f8, &Rig::sink, this};

    Rig()
    {
        u.set_irq(IrqLine{&Rig::irq, this, 4});
        levels.clear();
        u.set_timers(q);
    }
    static u64 clock(void* c) { return static_cast<Rig*>(c)->now; }
    static void sink(void* c, const char* b, usize n) { static_cast<Rig*>(c)->out.append(b, n); }
    static void irq(void* c, u32 line, bool level)
    {
        CHECK(line == 4);
        static_cast<Rig*>(c)->levels.push_back(level);
    }

    void at(u64 t)
    {
        now = t;
        q.run_expired(t);
    }
    u8 rd(u16 reg) { return static_cast<u8>(u.pio_read(static_cast<u16>(0x3f8 + reg), 1)); }
    void wr(u16 reg, u8 v) { u.pio_write(static_cast<u16>(0x3f8 + reg), 1, v); }
    void divisor(u16 d, u8 lcr = 0x03)
    {
        wr(LCR, static_cast<u8>(0x80 | lcr));
        wr(0, static_cast<u8>(d));
        wr(1, static_cast<u8>(d >> 8));
        wr(LCR, lcr);
    }
    std::string drain()
    {
        std::string s;
        while (rd(LSR) & 0x01) s.push_back(static_cast<char>(rd(RBR)));
        return s;
    }
};

}  // namespace

TEST_CASE("UART IRQ: IIR priorities, line status > RDA > THRE > modem status", "[devices][uart-irq]")
{
    Rig r;
    r.wr(FCR, 0x01);  // FIFO, trigger 1
    // Modem status deltas: into loopback with every output off (CTS, DSR,
    // DCD drop), and out again.
    r.wr(MCR, kLoop);
    r.wr(MCR, kOut2);
    r.wr(IER, 0x0f);
    for (int i = 0; i < 17; ++i) r.u.receive(static_cast<u8>('A' + i));  // the 17th overruns
    CHECK(r.rd(IIR) == (kFifoBits | kLineStatus));
    CHECK(r.rd(IIR) == (kFifoBits | kLineStatus));  // reading IIR does not clear it
    CHECK(r.rd(LSR) == (0x60 | 0x02 | 0x01));       // THRE, TEMT, OE, DR
    CHECK(r.rd(IIR) == (kFifoBits | kDataAvailable));
    CHECK(r.drain() == "ABCDEFGHIJKLMNOP");
    CHECK(r.rd(IIR) == (kFifoBits | kThrEmpty));  // acknowledged by this read
    CHECK(r.rd(IIR) == (kFifoBits | kModemStatus));
    CHECK(r.rd(MSR) == (0xb0 | 0x0b));  // DCD DSR CTS, with their deltas
    CHECK(r.rd(IIR) == (kFifoBits | kNone));
    CHECK(r.rd(MSR) == 0xb0);
    CHECK(r.levels == std::vector<bool>{true, false});
}

TEST_CASE("UART IRQ: character timeout sits between RDA and THRE", "[devices][uart-irq]")
{
    Rig r;
    r.divisor(1);
    r.wr(FCR, 0x41);  // trigger 4
    r.wr(MCR, kOut2);
    r.wr(IER, 0x03);  // RDA (and timeout), THRE
    CHECK(r.rd(IIR) == (kFifoBits | kThrEmpty));
    r.wr(IER, 0x01);
    r.u.receive('x');
    r.u.receive('y');
    r.wr(IER, 0x03);  // THRE pending again (enabled with THR empty)
    r.at(char_ns(4, 10, 1));
    CHECK(r.rd(IIR) == (kFifoBits | kTimeout));
    CHECK(r.rd(IIR) == (kFifoBits | kTimeout));  // IIR reads do not clear it, and THRE stays
    CHECK(r.rd(RBR) == 'x');
    CHECK(r.rd(IIR) == (kFifoBits | kThrEmpty));
    // At or above the trigger level, RDA wins over a timeout.
    r.u.receive('z');
    r.u.receive('w');
    r.u.receive('v');  // 4 bytes
    r.at(r.now + char_ns(8, 10, 1));
    CHECK(r.rd(IIR) == (kFifoBits | kDataAvailable));
}

TEST_CASE("UART IRQ: 16450 mode has no FIFO bits, RDA on one byte, no timeout", "[devices][uart-irq]")
{
    Rig r;
    r.wr(MCR, kOut2);
    r.wr(IER, 0x01);
    CHECK(r.rd(IIR) == kNone);
    r.u.receive('a');
    CHECK(r.rd(IIR) == kDataAvailable);
    CHECK(r.levels == std::vector<bool>{true});
    r.at(1'000'000'000);
    CHECK(r.q.armed_count() == 0);  // no character timeout in 16450 mode
    CHECK(r.rd(RBR) == 'a');
    CHECK(r.rd(IIR) == kNone);
    CHECK(r.levels == std::vector<bool>{true, false});
    CHECK(r.rd(RBR) == 'a');  // an empty RBR reads its last character
}

TEST_CASE("UART IRQ: THR-empty interrupt set and clear rules", "[devices][uart-irq]")
{
    Rig r;
    r.wr(MCR, kOut2);
    r.wr(IER, 0x02);  // enabled with THR empty: raised
    CHECK(r.levels == std::vector<bool>{true});
    CHECK(r.rd(IIR) == kThrEmpty);  // reading IIR with THRE the source clears it
    CHECK(r.levels == std::vector<bool>{true, false});
    CHECK(r.rd(IIR) == kNone);
    r.wr(IER, 0x02);  // already enabled: no new interrupt
    CHECK(r.rd(IIR) == kNone);
    r.wr(IER, 0x00);
    r.wr(IER, 0x02);  // 0 -> 1 again
    CHECK(r.rd(IIR) == kThrEmpty);

    // A THR write clears it and the (instantaneous) transmission sets it
    // again: the line drops and rises, an edge per byte.
    r.levels.clear();
    r.wr(THR, 'a');
    CHECK(r.levels == std::vector<bool>{true});
    r.wr(THR, 'b');
    CHECK(r.levels == std::vector<bool>{true, false, true});
    CHECK(r.out == "ab");
    CHECK(r.rd(LSR) == 0x60);  // THRE, TEMT: the line is infinitely fast

    // IIR clears THRE only when THRE is what it reports.
    r.wr(IER, 0x03);
    r.u.receive('c');
    CHECK(r.rd(IIR) == kDataAvailable);
    CHECK(r.rd(RBR) == 'c');
    CHECK(r.rd(IIR) == kThrEmpty);
    CHECK(r.rd(IIR) == kNone);
    // Disabled THRE still latches; enabling shows it (THR is empty).
    r.wr(IER, 0x01);
    r.wr(THR, 'd');
    CHECK(r.rd(IIR) == kNone);
    r.wr(IER, 0x03);
    CHECK(r.rd(IIR) == kThrEmpty);
}

TEST_CASE("UART IRQ: RDA at each FIFO trigger level", "[devices][uart-irq]")
{
    struct Case {
        u8 fcr;
        usize level;
    };
    for (const Case c : {Case{0x01, 1}, Case{0x41, 4}, Case{0x81, 8}, Case{0xc1, 14}}) {
        Rig r;
        r.wr(FCR, c.fcr);
        r.wr(MCR, kOut2);
        r.wr(IER, 0x01);
        for (usize i = 1; i < c.level; ++i) {
            r.u.receive(static_cast<u8>(i));
            CHECK(r.rd(IIR) == (kFifoBits | kNone));  // below the trigger level (no time passed)
        }
        CHECK(r.levels.empty());
        r.u.receive(0xee);
        CHECK(r.rd(IIR) == (kFifoBits | kDataAvailable));
        CHECK(r.levels == std::vector<bool>{true});
        r.rd(RBR);  // one read: below the level again
        CHECK(r.rd(IIR) == (kFifoBits | kNone));
        CHECK(r.levels == std::vector<bool>{true, false});
        CHECK(r.drain().size() == c.level - 1);
    }
}

TEST_CASE("UART IRQ: character timeout after 4 character times, exact", "[devices][uart-irq]")
{
    Rig r;
    r.divisor(1);
    r.wr(FCR, 0x81);  // trigger 8
    r.wr(MCR, kOut2);
    r.wr(IER, 0x01);
    r.at(1000);
    r.u.receive('a');
    r.u.receive('b');
    r.u.receive('c');
    const u64 four = char_ns(4, 10, 1);  // 347222 ns at 115200 baud, 8N1
    CHECK(four == 347222);
    r.at(1000 + four - 1);
    CHECK(r.rd(IIR) == (kFifoBits | kNone));
    r.at(1000 + four);
    CHECK(r.levels == std::vector<bool>{true});
    CHECK(r.rd(IIR) == (kFifoBits | kTimeout));

    // A character received while the timeout is indicated does not clear it.
    r.at(400'000);
    r.u.receive('d');
    CHECK(r.rd(IIR) == (kFifoBits | kTimeout));
    // A read clears it and restarts the timer from the read.
    CHECK(r.rd(RBR) == 'a');
    CHECK(r.rd(IIR) == (kFifoBits | kNone));
    CHECK(r.levels == std::vector<bool>{true, false});
    // A receive restarts it from the receive.
    r.at(500'000);
    r.u.receive('e');
    r.at(400'000 + four);
    CHECK(r.rd(IIR) == (kFifoBits | kNone));
    r.at(500'000 + four - 1);
    CHECK(r.rd(IIR) == (kFifoBits | kNone));
    r.at(500'000 + four);
    CHECK(r.rd(IIR) == (kFifoBits | kTimeout));
    // Emptying the FIFO: no timeout, nothing armed.
    CHECK(r.drain() == "bcde");
    CHECK(r.rd(IIR) == (kFifoBits | kNone));
    CHECK(r.q.armed_count() == 0);
    r.at(10'000'000);
    CHECK(r.rd(IIR) == (kFifoBits | kNone));
}

TEST_CASE("UART IRQ: timeout uses the LCR character length", "[devices][uart-irq]")
{
    Rig r;
    r.divisor(12, 0x0e);  // 7 data bits, parity, 2 stop bits: 11 bits a character
    r.wr(FCR, 0xc1);
    r.wr(IER, 0x01);
    r.u.receive('a');
    const u64 four = char_ns(4, 11, 12);
    CHECK(four == 4583333);
    r.at(four - 1);
    CHECK(r.rd(IIR) == (kFifoBits | kNone));
    r.at(four);
    CHECK(r.rd(IIR) == (kFifoBits | kTimeout));
    CHECK(r.levels.empty());  // OUT2 clear: nothing reaches the line
    CHECK(r.u.irq_pending());
}

TEST_CASE("UART IRQ: OUT2 gates the line; loopback forces it off", "[devices][uart-irq]")
{
    Rig r;
    r.wr(IER, 0x02);
    CHECK(r.u.irq_pending());
    CHECK_FALSE(r.u.irq_level());
    CHECK(r.levels.empty());
    r.wr(MCR, kOut2);
    CHECK(r.u.irq_level());
    r.wr(MCR, 0x03);  // DTR, RTS, no OUT2
    r.wr(MCR, kOut2 | 0x03);
    r.wr(MCR, kOut2 | kLoop);  // loopback: /OUT2 inactive
    CHECK(r.u.irq_pending());
    CHECK_FALSE(r.u.irq_level());
    r.wr(MCR, kOut2);
    CHECK(r.levels == std::vector<bool>{true, false, true, false, true});

    // Wiring a line drives it to the current level at once.
    std::vector<bool> other;
    r.u.set_irq(IrqLine{[](void* c, u32, bool l) { static_cast<std::vector<bool>*>(c)->push_back(l); }, &other, 4});
    CHECK(other == std::vector<bool>{true});
}

TEST_CASE("UART IRQ: overruns and the line status interrupt", "[devices][uart-irq]")
{
    Rig r;
    r.wr(MCR, kOut2);
    r.wr(IER, 0x04);
    // 16450 mode: the second byte overwrites RBR.
    r.u.receive('1');
    CHECK(r.levels.empty());
    r.u.receive('2');
    CHECK(r.rd(IIR) == kLineStatus);
    CHECK(r.levels == std::vector<bool>{true});
    CHECK(r.rd(LSR) == 0x63);
    CHECK(r.levels == std::vector<bool>{true, false});
    CHECK(r.rd(LSR) == 0x61);
    CHECK(r.rd(RBR) == '2');
    // FIFO mode: the 17th byte is lost, the 16 stay.
    r.wr(FCR, 0x01);
    for (int i = 0; i < 17; ++i) r.u.receive(static_cast<u8>('a' + i));
    CHECK(r.rd(IIR) == (kFifoBits | kLineStatus));
    CHECK(r.drain() == "abcdefghijklmnop");
    CHECK(r.rd(LSR) == 0x60);  // OE went with the first read (drain's LSR poll)
}

TEST_CASE("UART IRQ: FCR clears and mode changes", "[devices][uart-irq]")
{
    Rig r;
    r.wr(FCR, 0x01);
    r.u.receive('a');
    r.u.receive('b');
    r.wr(FCR, 0x03);  // clear the receive FIFO
    CHECK_FALSE(r.rd(LSR) & 0x01);
    r.u.receive('c');
    r.wr(FCR, 0x00);  // FIFO -> 16450 mode: cleared
    CHECK_FALSE(r.rd(LSR) & 0x01);
    CHECK(r.rd(IIR) == kNone);
    r.u.receive('d');
    r.wr(FCR, 0xc1);  // 16450 -> FIFO mode: cleared
    CHECK_FALSE(r.rd(LSR) & 0x01);
    CHECK(r.q.armed_count() == 0);
    // Trigger 14 took effect with the enabling write.
    r.wr(IER, 0x01);
    for (int i = 0; i < 13; ++i) r.u.receive('x');
    CHECK(r.rd(IIR) == (kFifoBits | kNone));
    r.u.receive('x');
    CHECK(r.rd(IIR) == (kFifoBits | kDataAvailable));
}

TEST_CASE("UART IRQ: timed input arrives one character time apart (divisor 1)", "[devices][uart-irq]")
{
    Rig r;
    r.divisor(1);
    r.wr(FCR, 0x01);
    r.wr(MCR, kOut2);
    r.wr(IER, 0x01);
    static const u8 input[] = {'a', 'b', 'c'};
    r.at(5000);
    r.u.set_input(input, sizeof input, r.q);
    CHECK(r.u.input_remaining() == 3);
    const u64 t1 = 5000 + char_ns(1, 10, 1), t2 = 5000 + char_ns(2, 10, 1), t3 = 5000 + char_ns(3, 10, 1);
    CHECK(t1 == 5000 + 86805);
    CHECK(t2 == 5000 + 173611);
    CHECK(t3 == 5000 + 260416);
    r.at(t1 - 1);
    CHECK_FALSE(r.rd(LSR) & 0x01);
    r.at(t1);
    CHECK(r.rd(LSR) & 0x01);
    CHECK(r.levels == std::vector<bool>{true});
    CHECK(r.rd(RBR) == 'a');
    r.at(t2 - 1);
    CHECK_FALSE(r.rd(LSR) & 0x01);
    r.at(t2);
    CHECK(r.rd(RBR) == 'b');
    r.at(t3 - 1);
    CHECK_FALSE(r.rd(LSR) & 0x01);
    r.at(t3);
    CHECK(r.u.input_remaining() == 0);
    CHECK(r.rd(RBR) == 'c');
    CHECK(r.q.armed_count() == 0);  // no more input, empty FIFO: nothing armed
    CHECK(r.levels == std::vector<bool>{true, false, true, false, true, false});
}

TEST_CASE("UART IRQ: timed input at divisor 12, late queue runs keep exact times", "[devices][uart-irq]")
{
    Rig r;
    r.divisor(12);
    r.wr(FCR, 0x81);  // trigger 8: a timeout tells when the last byte came
    r.wr(IER, 0x01);
    static const u8 input[] = {'x', 'y', 'z'};
    r.u.set_input(input, sizeof input, r.q);
    CHECK(char_ns(1, 10, 12) == 1041666);
    r.at(char_ns(2, 10, 12) - 1);  // 2083332: one byte in
    CHECK(r.u.input_remaining() == 2);
    r.at(char_ns(2, 10, 12));  // 2083333
    CHECK(r.u.input_remaining() == 1);
    // The owner runs the queue late: the third byte still arrived at its
    // own time (3125000), so the timeout is 4 character times after that.
    const u64 last = char_ns(3, 10, 12);
    CHECK(last == 3125000);
    r.at(last + char_ns(4, 10, 12) - 1);
    CHECK(r.u.input_remaining() == 0);
    CHECK(r.rd(IIR) == (kFifoBits | kNone));
    r.at(last + char_ns(4, 10, 12));
    CHECK(r.rd(IIR) == (kFifoBits | kTimeout));
    CHECK(r.drain() == "xyz");
}

TEST_CASE("UART IRQ: flow control holds input while the FIFO is full", "[devices][uart-irq]")
{
    Rig r;
    r.divisor(1);
    r.wr(FCR, 0x01);
    std::vector<u8> input;
    for (int i = 0; i < 20; ++i) input.push_back(static_cast<u8>('A' + i));
    r.u.set_input(input.data(), input.size(), r.q);
    r.at(char_ns(16, 10, 1));
    CHECK(r.u.input_remaining() == 4);
    r.at(3'000'000);  // byte 17 was due at 1475694: no room, it waits
    CHECK(r.u.input_remaining() == 4);
    CHECK(r.rd(LSR) == 0x61);  // no overrun
    CHECK(r.rd(RBR) == 'A');   // room for one: byte 17 starts now
    r.at(3'000'000 + char_ns(1, 10, 1) - 1);
    CHECK(r.u.input_remaining() == 4);
    r.at(3'000'000 + char_ns(1, 10, 1));
    CHECK(r.u.input_remaining() == 3);
    r.at(4'000'000);
    CHECK(r.u.input_remaining() == 3);
    std::string got = "A" + r.drain();  // room for all: the sender restarts at 4 ms
    CHECK(got == "ABCDEFGHIJKLMNOPQ");
    r.at(4'000'000 + char_ns(3, 10, 1) - 1);
    CHECK(r.u.input_remaining() == 1);
    r.at(4'000'000 + char_ns(3, 10, 1));
    CHECK(r.u.input_remaining() == 0);
    CHECK(r.drain() == "RST");
    CHECK(r.rd(LSR) == 0x60);
    CHECK(r.q.armed_count() == 0);
}

TEST_CASE("UART IRQ: flow control in 16450 mode waits for RBR", "[devices][uart-irq]")
{
    Rig r;
    r.divisor(1);
    static const u8 input[] = {'1', '2', '3'};
    r.u.set_input(input, sizeof input, r.q);
    r.at(1'000'000);
    CHECK(r.u.input_remaining() == 2);
    CHECK(r.rd(LSR) == 0x61);
    CHECK(r.rd(RBR) == '1');
    r.at(1'000'000 + char_ns(1, 10, 1));
    CHECK(r.rd(RBR) == '2');
    CHECK(r.rd(LSR) == 0x60);  // '3' is on the wire
    r.at(1'000'000 + char_ns(2, 10, 1));
    CHECK(r.rd(LSR) == 0x61);
    CHECK(r.rd(RBR) == '3');
    CHECK(r.q.armed_count() == 0);
}

TEST_CASE("UART IRQ: a divisor or frame change restarts the character in flight", "[devices][uart-irq]")
{
    Rig r;
    r.divisor(1);
    static const u8 input[] = {'p', 'q'};
    r.wr(FCR, 0x01);
    r.u.set_input(input, sizeof input, r.q);
    r.at(50'000);
    r.wr(LCR, 0x83);  // DLAB alone: same frame, no restart
    r.wr(LCR, 0x03);
    r.at(char_ns(1, 10, 1));
    CHECK(r.u.input_remaining() == 1);
    r.at(100'000);
    r.divisor(2);  // restarts 'q' at 100000, 173611 ns per character
    r.at(100'000 + char_ns(1, 10, 2) - 1);
    CHECK(r.u.input_remaining() == 1);
    r.at(100'000 + char_ns(1, 10, 2));
    CHECK(r.u.input_remaining() == 0);

    // 5 data bits with LCR bit 2: 1.5 stop bits, 7.5 bits a character.
    Rig s;
    s.divisor(1, 0x04);
    s.u.set_input(input, 1, s.q);
    s.at(65104 - 1);
    CHECK(s.u.input_remaining() == 1);
    s.at(65104);  // 7.5 * 1e9 / 115200 = 65104.17
    CHECK(s.u.input_remaining() == 0);
}

TEST_CASE("UART IRQ: loopback", "[devices][uart-irq]")
{
    Rig r;
    r.divisor(1);
    r.wr(FCR, 0x01);
    r.wr(IER, 0x09);  // RDA, modem status
    r.wr(MCR, kLoop | kOut2 | 0x03);  // loopback, DTR, RTS, OUT2
    CHECK(r.rd(MSR) == 0xb0);         // CTS=RTS, DSR=DTR, DCD=OUT2: no change from the idle inputs
    r.wr(THR, 'L');
    CHECK(r.out.empty());
    CHECK(r.rd(IIR) == (kFifoBits | kDataAvailable));
    CHECK(r.levels.empty());  // the PC's line is gated off in loopback
    CHECK(r.rd(RBR) == 'L');

    // Modem status from MCR: RI follows OUT1; TERI only on its trailing edge.
    r.wr(MCR, kLoop | kOut2 | 0x03 | 0x04);  // OUT1 on: RI rises
    CHECK(r.rd(IIR) == (kFifoBits | kNone));
    CHECK(r.rd(MSR) == 0xf0);
    r.wr(MCR, kLoop | kOut2 | 0x03);  // RI falls: TERI
    CHECK(r.rd(IIR) == (kFifoBits | kModemStatus));
    CHECK(r.rd(MSR) == (0xb0 | 0x04));
    r.wr(MCR, kLoop | kOut2 | 0x02);  // DTR off: DSR drops
    CHECK(r.rd(MSR) == (0x90 | 0x02));
    r.wr(MCR, kLoop | 0x02);  // OUT2 off: DCD drops
    CHECK(r.rd(MSR) == (0x10 | 0x08));
    r.wr(MCR, kLoop);  // RTS off: CTS drops
    CHECK(r.rd(MSR) == 0x01);

    // Outside input waits while in loopback; receive() is lost.
    r.u.receive('!');
    CHECK_FALSE(r.rd(LSR) & 0x01);
    static const u8 input[] = {'i'};
    r.at(1000);
    r.u.set_input(input, 1, r.q);
    r.at(1'000'000);
    CHECK(r.u.input_remaining() == 1);
    CHECK_FALSE(r.rd(LSR) & 0x01);
    r.wr(MCR, kOut2 | 0x03);  // loopback off: the sender starts now
    r.at(1'000'000 + char_ns(1, 10, 1) - 1);
    CHECK(r.u.input_remaining() == 1);
    r.at(1'000'000 + char_ns(1, 10, 1));
    CHECK(r.u.input_remaining() == 0);
    CHECK(r.rd(IIR) == (kFifoBits | kDataAvailable));
    CHECK(r.u.irq_level());
    CHECK(r.rd(RBR) == 'i');
}

TEST_CASE("UART IRQ: set_input replaces, empty input arms nothing, destruction cancels", "[devices][uart-irq]")
{
    u64 now = 0;
    TimerQueue q([](void* c) { return *static_cast<u64*>(c); }, &now);
    static const u8 first[] = {'1', '2'};
    static const u8 second[] = {'9'};
    {
        Uart16550 u(0x3f8, nullptr, nullptr);
        u.set_input(first, sizeof first, q);
        u.set_input(second, sizeof second, q);
        CHECK(u.input_remaining() == 1);
        CHECK(q.armed_count() == 1);
        now = 10'000'000;  // divisor 12 (the BIOS default): 1.04 ms a character
        q.run_expired(now);
        CHECK(u.pio_read(0x3f8, 1) == '9');
        CHECK(q.armed_count() == 0);
        u.set_input(first, 0, q);
        CHECK(q.armed_count() == 0);
        u.set_input(nullptr, 5, q);
        CHECK(u.input_remaining() == 0);
        CHECK(q.armed_count() == 0);
        u.set_input(first, sizeof first, q);
        CHECK(q.armed_count() == 1);
    }
    CHECK(q.armed_count() == 0);  // the UART's destructor took its timer out
}
