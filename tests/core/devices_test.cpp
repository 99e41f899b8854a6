#include <catch2/catch.hpp>
#include <string>

#include "devices/debug_exit.hpp"
#include "devices/io_bus.hpp"
#include "devices/uart16550.hpp"

using namespace xeno;
using namespace xeno::devices;

namespace {

void capture(void* ctx, const char* bytes, usize n) { static_cast<std::string*>(ctx)->append(bytes, n); }

}  // namespace

TEST_CASE("UART: THR to the console sink, LSR, scratch", "[devices][uart]")
{
    std::string out;
    Uart16550 u(0x3f8, &capture, &out);
    CHECK(u.pio_read(0x3fd, 1) == (Uart16550::LSR_THRE | Uart16550::LSR_TEMT));
    for (char c : std::string("hi\n")) u.pio_write(0x3f8, 1, static_cast<u8>(c));
    CHECK(out == "hi\n");
    u.pio_write(0x3ff, 1, 0x5a);
    CHECK(u.pio_read(0x3ff, 1) == 0x5a);
    CHECK(u.pio_read(0x3fe, 1) == 0xb0);  // DCD, DSR, CTS
    CHECK(u.pio_read(0x3fa, 1) == Uart16550::IIR_NONE);
    u.pio_write(0x3fa, 1, 0x07);  // FIFO enable + clear
    CHECK(u.pio_read(0x3fa, 1) == (Uart16550::IIR_FIFO | Uart16550::IIR_NONE));
}

TEST_CASE("UART: DLAB switches +0/+1 to the divisor latch", "[devices][uart]")
{
    std::string out;
    Uart16550 u(0x3f8, &capture, &out);
    u.pio_write(0x3f9, 1, 0x0f);  // IER
    u.pio_write(0x3fb, 1, 0x83);  // DLAB, 8N1
    CHECK(u.pio_read(0x3fb, 1) == 0x83);
    u.pio_write(0x3f8, 1, 0x01);  // DLL: 115200 baud
    u.pio_write(0x3f9, 1, 0x00);  // DLM
    CHECK(out.empty());           // divisor writes are not transmitted
    CHECK(u.divisor() == 1);
    CHECK(u.pio_read(0x3f8, 1) == 0x01);
    u.pio_write(0x3fb, 1, 0x03);
    CHECK(u.pio_read(0x3f9, 1) == 0x0f);  // IER untouched by the DLM write
    u.pio_write(0x3f8, 1, 'x');
    CHECK(out == "x");
}

TEST_CASE("UART: receive FIFO, DR, overrun, interrupts, loopback", "[devices][uart]")
{
    std::string out;
    Uart16550 u(0x3f8, &capture, &out);
    CHECK_FALSE(u.pio_read(0x3fd, 1) & Uart16550::LSR_DR);
    // FIFO mode: two bytes wait in the FIFO (in 16450 mode the second would
    // overrun the one-byte RBR).
    u.pio_write(0x3fa, 1, Uart16550::FCR_ENABLE);
    u.receive('a');
    u.receive('b');
    CHECK(u.pio_read(0x3fd, 1) & Uart16550::LSR_DR);
    u.pio_write(0x3f9, 1, Uart16550::IER_RDA);
    CHECK(u.pio_read(0x3fa, 1) == (Uart16550::IIR_FIFO | Uart16550::IIR_RDA));
    CHECK(u.irq_pending());
    CHECK(u.pio_read(0x3f8, 1) == 'a');
    CHECK(u.pio_read(0x3f8, 1) == 'b');
    CHECK_FALSE(u.pio_read(0x3fd, 1) & Uart16550::LSR_DR);
    CHECK_FALSE(u.irq_pending());
    for (int i = 0; i < 17; ++i) u.receive(static_cast<u8>(i));
    CHECK(u.pio_read(0x3fd, 1) & Uart16550::LSR_OE);
    CHECK_FALSE(u.pio_read(0x3fd, 1) & Uart16550::LSR_OE);  // cleared by the read
    u.pio_write(0x3fa, 1, 0x03);                            // clear the receive FIFO
    CHECK_FALSE(u.pio_read(0x3fd, 1) & Uart16550::LSR_DR);
    // THR-empty interrupt: raised when enabled, acknowledged by reading IIR.
    u.pio_write(0x3f9, 1, Uart16550::IER_THRE);
    CHECK(u.pio_read(0x3fa, 1) == (Uart16550::IIR_FIFO | Uart16550::IIR_THRE));
    CHECK(u.pio_read(0x3fa, 1) == (Uart16550::IIR_FIFO | Uart16550::IIR_NONE));
    // Loopback: THR comes back on RBR, not on the console; MSR mirrors MCR.
    u.pio_write(0x3fc, 1, Uart16550::MCR_LOOP | 0x0b);  // DTR, RTS, OUT2
    u.pio_write(0x3f8, 1, 'L');
    CHECK(out.empty());
    CHECK(u.pio_read(0x3f8, 1) == 'L');
    CHECK(u.pio_read(0x3fe, 1) == 0xb0);  // CTS(RTS) DSR(DTR) DCD(OUT2)
}

TEST_CASE("I/O bus: routing, byte splitting, unclaimed ports, overlap", "[devices][bus]")
{
    std::string out;
    Uart16550 u(0x3f8, &capture, &out);
    u32 status = 0;
    int exits = 0;
    struct Ctx {
        u32* status;
        int* exits;
    } ctx{&status, &exits};
    DebugExit dbg(
        [](void* c, u32 s) {
            *static_cast<Ctx*>(c)->status = s;
            ++*static_cast<Ctx*>(c)->exits;
        },
        &ctx);
    IoBus bus;
    REQUIRE(bus.attach(0x3f8, 0x3ff, port_device(u), true) == Status::OK);
    REQUIRE(bus.attach(0xf4, 0xf4, port_device(dbg), false) == Status::OK);
    CHECK(bus.attach(0x3fc, 0x400, port_device(u), true) == Status::BAD_ARGUMENT);
    CHECK(bus.attach(0x10, 0x0f, port_device(u), true) == Status::BAD_ARGUMENT);

    bus.write(0x3f8, 1, 'o');
    bus.write(0x3f8, 2, 0x0b6b);  // 'k' to THR, 0x0b to IER (byte split)
    CHECK(out == "ok");
    CHECK(bus.read(0x3f9, 1) == 0x0b);
    CHECK(bus.read(0x3fd, 2) == (0xb0u << 8 | 0x60));  // LSR, MSR
    CHECK(bus.read(0x80, 1) == 0xff);
    CHECK(bus.read(0x80, 2) == 0xffff);
    CHECK(bus.read(0x80, 4) == 0xffffffffu);
    bus.write(0x80, 1, 0x12);  // ignored
    CHECK(bus.unclaimed_accesses() >= 4);

    // Debug exit: the value itself is the status; reads are all ones.
    CHECK(bus.read(0xf4, 1) == 0xff);
    bus.write(0xf4, 1, 0x2a);
    CHECK(status == 0x2a);
    bus.write(0xf4, 4, 0x12345);
    CHECK(status == 0x12345);
    CHECK(exits == 2);
    CHECK(dbg.writes() == 2);
}
