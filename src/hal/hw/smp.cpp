// The machine's other physical CPUs (hal/cpu.hpp): starting them, running
// work on all of them, kicking one.
//
// Start-up follows SDM Vol. 3A 9.4.4 "MP Initialization Example": an INIT
// IPI to all processors but this one, 10 ms, then two STARTUP IPIs 200 us
// apart with the page of ap_boot.S's start-up code as vector. Each
// processor that gets to hw_ap_main takes the next CPU index, builds its
// own GDT and TSS, enables its local APIC like the boot CPU's, checks in
// and parks (`sti; hlt`) until run_on_all_cpus gives it work. The boot CPU
// counts the check-ins until none has come for kSettleMs: the broadcast
// reaches every processor the firmware left enabled, whatever their number,
// with no need for the ACPI tables to name them.
//
// A CPU's index is in the per-CPU block the GS base points at (the VMCS's
// host state reloads that base on every VM exit, from the values of the CPU
// that set the VMCS up, which is the one that runs it).
#include "hal/cpu.hpp"
#include "hal/hw/hw.hpp"
#include "hal/hw/layout.h"
#include "hal/memory.hpp"
#include "hal/timer.hpp"
#include "lib/format.hpp"

static_assert(HW_MAX_CPUS == xeno::hal::kMaxCpus, "layout.h and hal/cpu.hpp disagree");

extern "C" {
extern const char hw_ap_trampoline[];
extern const char hw_ap_trampoline_end[];
extern const char hw_ap_gdt[];
extern const char hw_ap_slot_gdt_base[];
extern const char hw_ap_slot_cr3[];
extern const char hw_ap_slot_efer[];
extern const char hw_ap_slot_far_offset[];
extern const char hw_ap_slot_long_mode[];
// Read by ap_boot.S's hw_ap_entry.
xeno::u64 hw_ap_kernel_cr3 = 0;
xeno::u32 hw_ap_next_index = 1;
xeno::u64 hw_ap_stack_tops[HW_MAX_CPUS] = {};
}

namespace xeno::hw {
namespace {

constexpr u32 kIcrLow = 0x300, kIcrHigh = 0x310;
constexpr u32 kIcrDeliveryPending = 1u << 12;
constexpr u32 kIcrAllButSelf = 3u << 18, kIcrAssert = 1u << 14;
constexpr u32 kIcrInit = 5u << 8, kIcrStartup = 6u << 8;
constexpr u64 kSettleMs = 20;
constexpr u64 kMsrGsBase = 0xc0000101, kMsrEfer = 0xc0000080;
constexpr u64 kEferLma = 1u << 10;
constexpr u64 kCr4Vmxe = 1u << 13;

constexpr usize kApStackSize = 32 * 1024;
alignas(16) u8 g_ap_stacks[HW_MAX_CPUS][kApStackSize];  // [0] unused: the boot CPU has boot.S's stack

struct PerCpu {
    u32 index;
    u8 apic_id;
};
PerCpu g_per_cpu[HW_MAX_CPUS];
bool g_cpu_local_ready = false;

u32 g_online = 1;         // CPUs that checked in, the boot CPU included
u32 g_limit = 1;          // start_cpus's limit
bool g_started = false;
u64 g_boot_cr0 = 0, g_boot_cr4 = 0;

// run_on_all_cpus: a generation number the parked CPUs watch, the work,
// and how many CPUs have not finished it yet.
u32 g_work_generation = 0;
hal::CpuWork g_work = nullptr;
void* g_work_context = nullptr;
u32 g_work_unfinished = 0;

void delay_us(u64 us)
{
    const u64 start = rdtsc(), ticks = tsc_hz() / 1'000'000 * us;
    while (rdtsc() - start < ticks) asm volatile("pause");
}

void wait_icr_idle()
{
    for (u32 spins = 0; spins < 1'000'000 && (lapic_read(kIcrLow) & kIcrDeliveryPending); ++spins)
        asm volatile("pause");
}

void send_ipi(u8 apic_id, u32 low)
{
    wait_icr_idle();
    lapic_write(kIcrHigh, u32{apic_id} << 24);
    lapic_write(kIcrLow, low);  // the write of the low half sends it
}

void broadcast_ipi(u32 low)
{
    wait_icr_idle();
    lapic_write(kIcrLow, kIcrAllButSelf | low);
    wait_icr_idle();
}

// The start-up code at `page` (machine address below 1 MiB), its
// temporary top-level table in the page after it.
void install_trampoline(u64 page)
{
    const usize size = static_cast<usize>(hw_ap_trampoline_end - hw_ap_trampoline);
    u8* code = static_cast<u8*>(hal::machine_to_virt(Hpa{page}));
    for (usize i = 0; i < size; ++i) code[i] = static_cast<u8>(hw_ap_trampoline[i]);
    auto offset = [](const char* sym) { return static_cast<u64>(sym - hw_ap_trampoline); };
    auto patch = [&](const char* slot, u64 value) {
        const u32 v = static_cast<u32>(value);
        __builtin_memcpy(code + offset(slot), &v, sizeof v);  // the GDT base slot is not 4-aligned
    };
    patch(hw_ap_slot_gdt_base, page + offset(hw_ap_gdt));
    patch(hw_ap_slot_cr3, page + 4096);
    patch(hw_ap_slot_efer, hal::rdmsr(kMsrEfer) & ~kEferLma);
    patch(hw_ap_slot_far_offset, page + offset(hw_ap_slot_long_mode));

    // The kernel's table, plus the low 512 GiB at their machine addresses
    // (the direct map's entry) for the trampoline's own code.
    const u64* kernel = static_cast<const u64*>(hal::machine_to_virt(Hpa{hal::read_cr3() & ~u64{0xfff}}));
    u64* temporary = static_cast<u64*>(hal::machine_to_virt(Hpa{page + 4096}));
    for (usize i = 0; i < 512; ++i) temporary[i] = kernel[i];
    temporary[0] = kernel[256];
    hw_ap_kernel_cr3 = hal::read_cr3();
}

u32 online() { return __atomic_load_n(&g_online, __ATOMIC_ACQUIRE); }

}  // namespace

void cpu_local_init(u32 cpu)
{
    g_per_cpu[cpu].index = cpu;
    g_per_cpu[cpu].apic_id = lapic_id();
    hal::wrmsr(kMsrGsBase, reinterpret_cast<u64>(&g_per_cpu[cpu]));
    if (cpu == 0) g_cpu_local_ready = true;
}

}  // namespace xeno::hw

// An application processor, from ap_boot.S with its own stack.
extern "C" [[noreturn]] void hw_ap_main(xeno::u32 cpu)
{
    using namespace xeno;
    using namespace xeno::hw;
    descriptors_init(cpu);
    hal::write_cr0(g_boot_cr0);
    hal::write_cr4(g_boot_cr4 & ~kCr4Vmxe);  // vmx_cpu_enable sets VMXE when this CPU enters VMX operation
    host_timer_init_ap();
    cpu_local_init(cpu);
    const bool used = cpu < g_limit;
    if (used) {
        __atomic_fetch_add(&g_online, 1, __ATOMIC_ACQ_REL);
    }
    FixedWriter<96> w;
    w.str("hw: cpu ").dec(cpu).str(" (local APIC ").dec(g_per_cpu[cpu].apic_id).str(used ? ") online\n" : ") not used\n");
    log_str(w.c_str());
    if (!used) {
        for (;;) asm volatile("cli\n\thlt");
    }
    u32 seen = 0;
    for (;;) {
        while (__atomic_load_n(&g_work_generation, __ATOMIC_ACQUIRE) == seen) hal::wait_for_interrupt();
        seen = __atomic_load_n(&g_work_generation, __ATOMIC_ACQUIRE);
        g_work(cpu, g_work_context);
        __atomic_fetch_sub(&g_work_unfinished, 1, __ATOMIC_ACQ_REL);
    }
}

namespace xeno::hal {

u32 start_cpus(u32 limit)
{
    using namespace hw;
    if (g_started) return g_online;
    g_started = true;
    g_limit = limit == 0 ? 1 : (limit > kMaxCpus ? kMaxCpus : limit);
    if (g_limit == 1) return 1;
    const u64 page = ap_startup_pages();
    if (page == 0) {
        log_str("hw: no free pages below 1 MiB for the APs' start-up code: one CPU\n");
        return 1;
    }
    g_boot_cr0 = read_cr0();
    g_boot_cr4 = read_cr4();
    for (u32 i = 1; i < kMaxCpus; ++i) hw_ap_stack_tops[i] = reinterpret_cast<u64>(g_ap_stacks[i] + kApStackSize);
    install_trampoline(page);

    broadcast_ipi(kIcrInit | kIcrAssert);
    delay_us(10'000);
    const u32 vector = static_cast<u32>(page >> 12);
    broadcast_ipi(kIcrStartup | vector);
    delay_us(200);
    broadcast_ipi(kIcrStartup | vector);

    // Until no processor has checked in for kSettleMs.
    u32 seen = 0;
    u64 quiet_since = rdtsc();
    const u64 settle = tsc_hz() / 1000 * kSettleMs;
    while (rdtsc() - quiet_since < settle) {
        const u32 arrived = __atomic_load_n(&hw_ap_next_index, __ATOMIC_ACQUIRE);
        if (arrived != seen) {
            seen = arrived;
            quiet_since = rdtsc();
        }
        asm volatile("pause");
    }
    // The last ones to take an index may still be on their way to online().
    const u32 expected = seen - 1 < g_limit - 1 ? seen : g_limit;
    for (u32 spins = 0; online() < expected && spins < 100'000'000; ++spins) asm volatile("pause");
    FixedWriter<96> w;
    w.str("hw: ").dec(online()).str(" CPUs in use (").dec(seen - 1).str(" other processors answered)\n");
    log_str(w.c_str());
    return online();
}

u32 cpu_count() { return hw::online(); }

void run_on_all_cpus(CpuWork work, void* context)
{
    using namespace hw;
    const u32 cpus = online();
    g_work = work;
    g_work_context = context;
    __atomic_store_n(&g_work_unfinished, cpus - 1, __ATOMIC_RELEASE);
    __atomic_fetch_add(&g_work_generation, 1, __ATOMIC_ACQ_REL);
    for (u32 cpu = 1; cpu < cpus; ++cpu) kick_cpu(cpu);
    work(0, context);
    while (__atomic_load_n(&g_work_unfinished, __ATOMIC_ACQUIRE) != 0) asm volatile("pause");
}

u32 this_cpu()
{
    if (!hw::g_cpu_local_ready) return 0;
    u32 index;
    asm volatile("movl %%gs:0, %0" : "=r"(index));
    return index;
}

void kick_cpu(u32 cpu)
{
    if (cpu >= hw::online() || cpu == this_cpu()) return;
    hw::send_ipi(hw::g_per_cpu[cpu].apic_id, kHostKickVector);  // fixed, physical destination
}

}  // namespace xeno::hal
