// The host console: 16550 UARTs, polled (no interrupts in the hypervisor).
// LOG and GUEST_CONSOLE go to COM1. TRACE lines go to the debug console port
// 0xe9 where there is one (Bochs's port_e9_hack, QEMU's debugcon: reading
// the port returns 0xe9), else to COM2, so a rig gets the canonical trace as
// a stream of its own, byte for byte what the sim build's TRACE channel
// carries. The debug port costs the machine no time, where a UART busy-waits
// 87 us a byte at 115200 baud: a trace line per VM exit through COM2 would
// make every exit ~5 ms long in the machine's own time, which guests with
// timers see. On a machine without COM2 the writes go nowhere and the LSR
// poll gives up quickly.
#include "hal/console.hpp"
#include "hal/hw/hw.hpp"
#include "hal/panic.hpp"
#include "lib/spinlock.hpp"

namespace xeno::hw {

namespace {

constexpr u16 kThr = 0, kIer = 1, kFcr = 2, kLcr = 3, kMcr = 4, kLsr = 5;
constexpr u8 kLsrThrEmpty = 0x20;
constexpr u16 kDebugPort = 0xe9;

bool g_trace_on_debug_port = false;

// Whole lines from every CPU: a LOG line or a TRACE line is written under
// this lock (the exception and panic paths go without it, since the CPU
// that faulted may hold it).
constinit SpinLock g_console_lock;

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

void trace_port_init()
{
    g_trace_on_debug_port = in8(kDebugPort) == kDebugPort;
    log_str(g_trace_on_debug_port ? "hw: trace lines on the debug port 0xe9\n" : "hw: trace lines on COM2\n");
}

void serial_flush(u16 base)
{
    constexpr u8 kLsrTransmitterEmpty = 0x40;
    for (u32 spins = 0; spins < 1'000'000; ++spins) {
        if (in8(base + kLsr) & kLsrTransmitterEmpty) return;
        asm volatile("pause");
    }
}

void log_str_unlocked(const char* s)
{
    usize n = 0;
    while (s[n]) ++n;
    serial_write(kCom1, s, n);
}

void log_str(const char* s)
{
    const LockGuard guard(g_console_lock);
    log_str_unlocked(s);
}

}  // namespace xeno::hw

namespace xeno::hal {

void console_write(Channel channel, const char* bytes, usize length)
{
    const LockGuard guard(hw::g_console_lock);
    if (channel == Channel::TRACE && hw::g_trace_on_debug_port) {
        for (usize i = 0; i < length; ++i) hw::out8(hw::kDebugPort, static_cast<u8>(bytes[i]));
        return;
    }
    hw::serial_write(channel == Channel::TRACE ? hw::kCom2 : hw::kCom1, bytes, length);
}

void panic(const char* msg)
{
    asm volatile("cli");
    hw::log_str_unlocked("xeno: PANIC: ");
    hw::log_str_unlocked(msg);
    hw::log_str_unlocked("\n");
    hw::power_off();
}

}  // namespace xeno::hal
