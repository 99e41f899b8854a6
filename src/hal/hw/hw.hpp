// Internal interfaces of the hw build (src/hal/hw): what the boot path, the
// descriptor tables and the device helpers share. Nothing outside
// src/hal/hw includes this.
#pragma once

#include <compare>  // lib/types.hpp defaults operator<=> without including it

#include "core/boot_info.hpp"
#include "lib/types.hpp"

namespace xeno::hw {

// ---- port I/O (inline: used before anything else is up) ----
inline void out8(u16 port, u8 value) { asm volatile("outb %0, %1" : : "a"(value), "Nd"(port) : "memory"); }
inline void out16(u16 port, u16 value) { asm volatile("outw %0, %1" : : "a"(value), "Nd"(port) : "memory"); }
inline u8 in8(u16 port)
{
    u8 value;
    asm volatile("inb %1, %0" : "=a"(value) : "Nd"(port) : "memory");
    return value;
}

// ---- serial.cpp: 16550 UARTs, polled ----
inline constexpr u16 kCom1 = 0x3f8;  // LOG and GUEST_CONSOLE
inline constexpr u16 kCom2 = 0x2f8;  // TRACE (the Bochs rig captures it as its own file)
void serial_init(u16 base);
void serial_write(u16 base, const char* bytes, usize length);
void serial_flush(u16 base);  // until the last byte has left the transmitter
void trace_port_init();       // TRACE on the debug port 0xe9 when the machine has one, else COM2
void log_str(const char* s);  // LOG channel, for the boot path
void log_str_unlocked(const char* s);  // the same without the console lock: exceptions and panics

// ---- descriptors.cpp: GDT with a TSS per CPU, IDT with exception handlers ----
void descriptors_init(u32 cpu);  // the IDT is built by cpu 0's call and shared

// ---- paging.cpp: the direct map beyond the boot tables ----
void paging_drop_identity_map();
void paging_extend_direct_map(u64 limit);  // map [0, limit) at DIRECT_MAP_BASE

// ---- multiboot2.cpp ----
// Fills boot from the multiboot2 information at machine address info.
// Returns false (and logs why) when the information is unusable.
bool parse_multiboot2(u64 info, BootInfo& boot);
// Two free pages below 1 MiB in the firmware's usable memory that the boot
// information and the modules do not use (the APs' start-up code, smp.cpp),
// or 0 when there are none. Valid after parse_multiboot2.
u64 ap_startup_pages();

// ---- caps.cpp: capability MSRs and CPUID leaves on LOG ----
void log_capabilities();

// ---- time.cpp ----
void time_init();  // TSC frequency (CPUID 0x15, or measured against the PIT)
u64 rdtsc();
u64 tsc_hz();
u64 tsc_at_ns(u64 ns);  // the TSC value at hal::time_ns() == ns

// ---- host_timer.cpp: this CPU's local APIC, its timer, host interrupts ----
void host_timer_init();     // boot CPU, after time_init: measures the timer's rate
void host_timer_init_ap();  // another CPU: the same set-up, the boot CPU's measured rate
u32 lapic_read(u32 offset);
void lapic_write(u32 offset, u32 value);
u8 lapic_id();

// ---- smp.cpp: the other physical CPUs ----
void cpu_local_init(u32 cpu);  // this CPU's index where hal::this_cpu finds it (the GS base)

// ---- pic.cpp ----
void pic_disable();  // remap the 8259As away from the exception vectors, mask all lines

// ---- power.cpp ----
[[noreturn]] void power_off();

// ---- runtime.cpp ----
void run_global_constructors();

// ---- batch.cpp: several domains in one boot (the Bochs rig's adversarial runs) ----
const BootModule* find_batch_module(const BootInfo& boot);  // the module "xeno-batch", or null
int run_batch(const BootInfo& boot, const BootModule& batch);  // each run through start(); 0 when all ran

}  // namespace xeno::hw
