// Intel MultiProcessor Specification 1.4 tables, for guests that look for
// processors and interrupt routing without ACPI (MP spec chapter 4 "MP
// Configuration Table").
//
// Laid out at a caller-chosen 16-byte aligned base (the spec wants it in
// the first KiB of the EBDA, the last KiB of base memory or the BIOS ROM at
// 0xf0000-0xfffff, where guests search on 16-byte boundaries):
//   +0   MP floating pointer structure "_MP_" (16 bytes, spec rev 4), no
//        default configuration, IMCR absent (virtual wire mode: the 8259A
//        reaches the BSP's LINT0, domain.hpp)
//   +16  MP configuration table "PCMP", entries in the spec's type order:
//          processor          one per vcpu, APIC ID = index, enabled, BSP = 0
//          bus                ISA, bus ID 0
//          I/O APIC           platform.ioapic_id at platform.ioapic_base
//          I/O interrupts     ISA IRQs 0-15 but 2 (the cascade, which has no
//                             I/O APIC pin of its own): IRQ 0 -> pin 2, IRQ n
//                             -> pin n; the SCI level/active high, the rest
//                             conforming to ISA (edge, active high)
//          local interrupts   ExtINT -> LINT0 of the BSP, NMI -> LINT1 of all
// OEM ID "XENO    ", product ID "XENOHVM     ".
#pragma once

#include "boot/acpi_tables.hpp"
#include "lib/status.hpp"
#include "lib/types.hpp"

namespace xeno::boot {

// What the processor entries and the I/O APIC entry report about the
// virtual hardware: CPUID leaf 1 EAX and EDX, and the APIC versions of the
// device models (devices/local_apic.hpp: 0x14, devices/io_apic.hpp: 0x20).
struct MpCpuInfo {
    u32 signature = 0;       // stepping 3:0, model 7:4, family 11:8 (CPUID.1:EAX)
    u32 feature_flags = 0;   // CPUID.1:EDX
    u8 lapic_version = 0x14;
    u8 ioapic_version = 0x20;
};

// Processor entries carry 8-bit APIC IDs; 0xff names all local APICs.
inline constexpr u32 kMpMaxVcpus = 255;

struct MpLayout {
    u64 floating_pointer_gpa = 0;
    u64 config_table_gpa = 0;
    u32 config_table_length = 0;
    u16 entry_count = 0;
    u32 size = 0;  // bytes of the buffer used (pointer + configuration table)
};

// Bytes build_mp_table needs; 0 for a vcpu count it refuses.
u32 mp_table_size(u32 vcpus);

// Write the floating pointer and the configuration table into
// buffer[0, capacity) as they will sit at guest-physical `base_gpa`.
// BAD_ARGUMENT: vcpus 0 or above kMpMaxVcpus, sci_irq not an ISA IRQ other
// than 0 and 2, base_gpa not 16-byte aligned or the table reaching above
// 4 GiB, an APIC address above 4 GiB, a null buffer. TOO_LARGE: capacity
// too small. Nothing is written on error.
Result<MpLayout> build_mp_table(const AcpiPlatform& platform, const MpCpuInfo& cpu, u8* buffer, usize capacity,
                                u64 base_gpa);

}  // namespace xeno::boot
