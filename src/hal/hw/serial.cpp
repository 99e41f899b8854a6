// The host console: 16550 UARTs, polled (no interrupts in the hypervisor).
// LOG and GUEST_CONSOLE go to COM1; TRACE lines go to COM2, so a rig (Bochs:
// `com2: enabled=1, mode=file`) gets the canonical trace as a file of its own,
// byte for byte what the sim build's TRACE channel carries. On a machine
// without COM2 the writes go nowhere and the LSR poll gives up quickly.
#include "hal/console.hpp"
#include "hal/hw/hw.hpp"
#include "hal/panic.hpp"

namespace xeno::hw {

namespace {

constexpr u16 kThr = 0, kIer = 1, kFcr = 2, kLcr = 3, kMcr = 4, kLsr = 5;
constexpr u8 kLsrThrEmpty = 0x20;

void put(u16 base, u8 c)
{
    // Bounded wait: an absent UART reads 0xff (THR empty) so this only spins
    // on a real, busy one.
    for (u32 spins = 0; spins < 1'000'000; ++spins) {
        if (in8(base + kLsr) & kLsrThrEmpty) break;
        asm volatile("pause");
    }
    out8(base + kThr, c);
}

}  // namespace

void serial_init(u16 base)
{
    out8(base + kIer, 0x00);  // no interrupts
    out8(base + kLcr, 0x80);  // DLAB
    out8(base + kThr, 0x01);  // divisor 1: 115200 baud
    out8(base + kIer, 0x00);
    out8(base + kLcr, 0x03);  // 8N1
    out8(base + kFcr, 0xc7);  // FIFO on, cleared
    out8(base + kMcr, 0x03);  // DTR, RTS
}

void serial_write(u16 base, const char* bytes, usize length)
{
    // Bytes go out unchanged (no \n -> \r\n): the rig compares them with
    // the sim build's channels byte for byte.
    for (usize i = 0; i < length; ++i) put(base, static_cast<u8>(bytes[i]));
}

void serial_flush(u16 base)
{
    constexpr u8 kLsrTransmitterEmpty = 0x40;
    for (u32 spins = 0; spins < 1'000'000; ++spins) {
        if (in8(base + kLsr) & kLsrTransmitterEmpty) return;
        asm volatile("pause");
    }
}

void log_str(const char* s)
{
    usize n = 0;
    while (s[n]) ++n;
    serial_write(kCom1, s, n);
}

}  // namespace xeno::hw

namespace xeno::hal {

void console_write(Channel channel, const char* bytes, usize length)
{
    hw::serial_write(channel == Channel::TRACE ? hw::kCom2 : hw::kCom1, bytes, length);
}

void panic(const char* msg)
{
    asm volatile("cli");
    hw::log_str("xeno: PANIC: ");
    hw::log_str(msg);
    hw::log_str("\n");
    hw::power_off();
}

}  // namespace xeno::hal
