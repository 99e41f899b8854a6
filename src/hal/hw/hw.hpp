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

// ---- descriptors.cpp: GDT with a TSS, IDT with exception handlers ----
void descriptors_init();

// ---- paging.cpp: the direct map beyond the boot tables ----
void paging_drop_identity_map();
void paging_extend_direct_map(u64 limit);  // map [0, limit) at DIRECT_MAP_BASE

// ---- multiboot2.cpp ----
// Fills boot from the multiboot2 information at machine address info.
// Returns false (and logs why) when the information is unusable.
bool parse_multiboot2(u64 info, BootInfo& boot);

// ---- caps.cpp: capability MSRs and CPUID leaves on LOG ----
void log_capabilities();

// ---- time.cpp ----
void time_init();  // TSC frequency (CPUID 0x15, or measured against the PIT)
u64 rdtsc();
u64 tsc_hz();
u64 tsc_at_ns(u64 ns);  // the TSC value at hal::time_ns() == ns

// ---- host_timer.cpp: the local APIC timer and host interrupts ----
void host_timer_init();  // after time_init

// ---- pic.cpp ----
void pic_disable();  // remap the 8259As away from the exception vectors, mask all lines

// ---- power.cpp ----
[[noreturn]] void power_off();

// ---- runtime.cpp ----
void run_global_constructors();

}  // namespace xeno::hw
