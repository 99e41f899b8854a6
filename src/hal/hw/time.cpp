// Host time from the TSC (hal::time_ns). The TSC frequency comes from CPUID
// leaf 0x15 when the CPU reports it, otherwise it is measured once at boot
// against PIT channel 2 (1.193182 MHz; SDM Vol. 3B 19.17 for the TSC, the
// 8254 datasheet for the gate/OUT2 bits of port 0x61).
#include "hal/cpu.hpp"
#include "hal/hw/hw.hpp"
#include "lib/format.hpp"

namespace xeno::hw {
namespace {

u64 g_tsc_hz = 1'000'000'000;  // until time_init: 1 tick = 1 ns
u64 g_tsc_at_boot = 0;

u64 tsc_hz_from_cpuid()
{
    if (hal::cpuid(0, 0).eax < 0x15) return 0;
    const auto r = hal::cpuid(0x15, 0);  // TSC/crystal ratio EBX/EAX, crystal Hz ECX
    if (r.eax == 0 || r.ebx == 0 || r.ecx == 0) return 0;
    return u64{r.ecx} * r.ebx / r.eax;
}

u64 tsc_hz_from_pit()
{
    constexpr u32 kPitHz = 1'193'182;
    constexpr u16 kTicks = 11932;  // ~10 ms
    // Channel 2 gate on, speaker off; mode 0 (interrupt on terminal count), lobyte/hibyte.
    out8(0x61, static_cast<u8>((in8(0x61) & 0xfc) | 0x01));
    out8(0x43, 0xb0);
    out8(0x42, kTicks & 0xff);
    out8(0x42, kTicks >> 8);
    const u64 start = rdtsc();
    u64 spins = 0;
    while ((in8(0x61) & 0x20) == 0) {  // OUT2 goes high at terminal count
        if (++spins > 100'000'000) return 0;
    }
    const u64 elapsed = rdtsc() - start;
    return elapsed * kPitHz / kTicks;
}

}  // namespace

u64 rdtsc()
{
    u32 lo, hi;
    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (u64{hi} << 32) | lo;
}

u64 tsc_hz() { return g_tsc_hz; }

u64 tsc_at_ns(u64 ns)
{
    const u64 seconds = ns / 1'000'000'000;
    const u64 rest = ns % 1'000'000'000;
    return g_tsc_at_boot + seconds * g_tsc_hz + rest * g_tsc_hz / 1'000'000'000;
}

void time_init()
{
    g_tsc_at_boot = rdtsc();
    u64 hz = tsc_hz_from_cpuid();
    const bool measured = hz == 0;
    if (measured) hz = tsc_hz_from_pit();
    if (hz != 0) g_tsc_hz = hz;
    FixedWriter<80> w;
    w.str("hw: tsc ").dec(g_tsc_hz).str(" Hz").str(hz == 0 ? " (unknown)" : measured ? " (measured against the PIT)" : " (cpuid 0x15)").str("\n");
    log_str(w.c_str());
}

}  // namespace xeno::hw

namespace xeno::hal {

u64 time_ns()
{
    const u64 ticks = hw::rdtsc() - hw::g_tsc_at_boot;
    // Split to avoid overflow of ticks * 1e9.
    const u64 seconds = ticks / hw::g_tsc_hz;
    const u64 rest = ticks % hw::g_tsc_hz;
    return seconds * 1'000'000'000 + rest * 1'000'000'000 / hw::g_tsc_hz;
}

}  // namespace xeno::hal
