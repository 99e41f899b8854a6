// The physical CPU's timer (hal/timer.hpp) on the host's local APIC (SDM
// Vol. 3A 11.5.4 "APIC Timer"): one-shot mode with divide-by-1, its rate
// measured against the TSC once at boot. Not TSC-deadline mode, although
// newer CPUs have it: Bochs 2.7 compares IA32_TSC_DEADLINE with its own
// tick counter rather than with the TSC, which runs behind it once the TSC
// was reset, so every deadline there fires at once (checked: the BIOS leaves
// the TSC ~0.8 s behind). A one-shot count is relative and means the same
// on both.
// The LVT timer delivers kHostTimerVector. In VMX non-root operation that
// interrupt is an EXTERNAL_INTERRUPT exit (acknowledged on exit: the
// hypervisor calls host_interrupt_done for the EOI); in the idle wait
// (`sti; hlt`) the IDT gate of descriptors.cpp runs hw_host_interrupt.
// Every CPU has its own local APIC and timer at the same address; the
// rate is measured once, on the boot CPU.
#include "hal/cpu.hpp"
#include "hal/hw/hw.hpp"
#include "hal/memory.hpp"
#include "hal/timer.hpp"
#include "lib/format.hpp"

namespace xeno::hw {
namespace {

constexpr u64 kApicBase = 0xfee00000;
constexpr u32 kId = 0x20, kEoi = 0xb0, kSvr = 0xf0, kLvtTimer = 0x320, kInitialCount = 0x380, kCurrentCount = 0x390,
              kDivide = 0x3e0;
constexpr u32 kMsrApicBase = 0x1b;
constexpr u32 kSpuriousVector = 0xff;
u64 g_apic_timer_hz = 0;  // LAPIC timer ticks per second (divide by 1)

volatile u32* apic_reg(u32 offset)
{
    return static_cast<volatile u32*>(hal::machine_to_virt(Hpa{kApicBase + offset}));
}
u32 apic_read(u32 offset) { return *apic_reg(offset); }
void apic_write(u32 offset, u32 value) { *apic_reg(offset) = value; }

// The local APIC enabled (IA32_APIC_BASE.EN) at its default base, software
// enabled with a spurious vector that has a gate, the timer one-shot with
// divide-by-1 and masked.
void enable_local_apic()
{
    const u64 base = hal::rdmsr(kMsrApicBase);
    if ((base & ~u64{0xfff}) != kApicBase) {
        FixedWriter<96> w;
        w.str("hw: local APIC at ").hex(base & ~u64{0xfff}).str(", expected ").hex(kApicBase).str("\n");
        log_str(w.c_str());
    }
    hal::wrmsr(kMsrApicBase, base | (u64{1} << 11));
    apic_write(kSvr, (1u << 8) | kSpuriousVector);
    apic_write(kDivide, 0xb);  // divide by 1
    apic_write(kLvtTimer, (1u << 16) | hal::kHostTimerVector);
}

// LAPIC timer ticks in ~10 ms of TSC time (divide by 1, one-shot from the
// largest count, counting down).
u64 measure_apic_timer_hz()
{
    const u64 window = tsc_hz() / 100;
    apic_write(kInitialCount, 0xffffffffu);
    const u64 start = rdtsc();
    while (rdtsc() - start < window) {
    }
    const u32 left = apic_read(kCurrentCount);
    apic_write(kInitialCount, 0);
    return u64{0xffffffffu - left} * 100;
}

}  // namespace

void host_timer_init()
{
    enable_local_apic();
    g_apic_timer_hz = measure_apic_timer_hz();  // masked while measuring
    apic_write(kLvtTimer, hal::kHostTimerVector);  // one-shot, unmasked
    FixedWriter<96> w;
    w.str("hw: host timer: local APIC one-shot mode, ").dec(g_apic_timer_hz).str(" Hz\n");
    log_str(w.c_str());
}

void host_timer_init_ap()
{
    // The APs' timers run at the boot CPU's rate: one clock drives them all.
    enable_local_apic();
    apic_write(kLvtTimer, hal::kHostTimerVector);
}

u32 lapic_read(u32 offset) { return apic_read(offset); }
void lapic_write(u32 offset, u32 value) { apic_write(offset, value); }
u8 lapic_id() { return static_cast<u8>(apic_read(kId) >> 24); }

}  // namespace xeno::hw

// The IDT gates of the host vectors (isr.S) land here in root operation.
extern "C" void hw_host_interrupt(xeno::u64 vector)
{
    if (vector != xeno::hw::kSpuriousVector) xeno::hw::apic_write(xeno::hw::kEoi, 0);
}

namespace xeno::hal {

void timer_set_deadline(u64 deadline_ns)
{
    using namespace hw;
    if (deadline_ns == kNoDeadline) {
        apic_write(kInitialCount, 0);
        return;
    }
    const u64 now = time_ns();
    const u64 delta = deadline_ns > now ? deadline_ns - now : 0;
    u64 count = delta / 1'000'000'000 * g_apic_timer_hz + delta % 1'000'000'000 * g_apic_timer_hz / 1'000'000'000;
    if (count == 0) count = 1;
    if (count > 0xffffffffu) count = 0xffffffffu;  // fires early: the hypervisor re-arms for the rest
    apic_write(kInitialCount, static_cast<u32>(count));
}

void wait_for_interrupt()
{
    // STI's interrupt shadow covers HLT: an interrupt that became pending
    // before STI still wakes the HLT instead of being taken in between.
    asm volatile("sti\n\thlt\n\tcli" : : : "memory");
}

u64 tsc_at(u64 ns) { return hw::tsc_at_ns(ns); }

u64 time_at_tsc(u64 tsc)
{
    const u64 at0 = hw::tsc_at_ns(0);
    if (tsc <= at0) return 0;
    const u64 ticks = tsc - at0, hz = hw::tsc_hz();
    return ticks / hz * 1'000'000'000 + ticks % hz * 1'000'000'000 / hz;
}

void host_interrupt_done(u8 vector)
{
    if (vector != hw::kSpuriousVector) hw::apic_write(hw::kEoi, 0);
}

}  // namespace xeno::hal
