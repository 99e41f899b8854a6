// The ACPI tables of a PC guest (ACPI 6.4, chapter 5 "ACPI Software
// Programming Model"), generated into a caller buffer as they will sit in
// guest memory.
//
// What the guest finds:
//   RSDP  revision 2, 36 bytes, 16-byte aligned, both checksums; points at
//         the RSDT (32-bit) and the XSDT (64-bit)
//   RSDT, XSDT  the FADT and the MADT
//   FADT  revision 6 (276 bytes): the PM1a event/control blocks and the PM
//         timer of devices/acpi_pm.hpp, both as 32-bit port fields and as
//         X_ Generic Address Structures; the SCI; no SMI_CMD (the platform
//         is in ACPI mode from reset); RESET_REG; the FACS and the DSDT
//   FACS  64 bytes, 64-byte aligned
//   DSDT  AML: Name(\_S5, Package() {slp, slp, 0, 0}) and one processor
//         Device (_HID "ACPI0007", _UID = vcpu index) per vcpu under \_SB
//   MADT  the local APIC address with PCAT_COMPAT (an 8259A pair is
//         present), a Processor Local APIC per vcpu (processor UID = APIC
//         ID = vcpu index, enabled), the I/O APIC, the interrupt source
//         overrides ISA IRQ 0 -> GSI 2 and SCI -> GSI sci_irq (level, active
//         high), and the local APIC NMI on LINT1 of every processor
// Every table carries OEM ID "XENO  ", OEM table ID "XENOHVM ", creator "XENO".
//
// The same tables can be served through QEMU's fw_cfg table loader
// (boot/acpi_table_loader.hpp): AcpiLayout records every pointer field, so
// tables built at base 0 can be relocated by the guest's firmware.
#pragma once

#include "lib/status.hpp"
#include "lib/types.hpp"

namespace xeno::boot {

struct AcpiPlatform {
    u32 vcpus = 1;                   // one enabled local APIC per vcpu, APIC ID = processor UID = index
    u64 lapic_base = 0xfee00000;
    u64 ioapic_base = 0xfec00000;
    u8 ioapic_id = 0;
    u32 ioapic_gsi_base = 0;
    u16 pm_base = 0x600;             // PM1a_EVT_BLK base (4), PM1a_CNT_BLK base+4 (2), PM_TMR_BLK base+8 (4, 24-bit)
    u8 sci_irq = 9;                  // an ISA IRQ, level triggered and active high
    u16 reset_port = 0xcf9;          // FADT RESET_REG in system I/O space
    u8 reset_value = 0x06;
    u8 s5_slp_typ = 0;               // SLP_TYP of \_S5 for PM1a and PM1b
    u8 rtc_century_index = 0x32;     // CMOS index of the century byte
};

// The tables, in the order they are laid out.
enum class AcpiTable : u8 { RSDP, FACS, DSDT, FADT, MADT, RSDT, XSDT };
inline constexpr usize kAcpiTableCount = 7;
const char* acpi_table_name(AcpiTable table);  // "RSDP", "FACS", ...

// Processor Local APIC entries carry 8-bit APIC IDs, and 0xff means "all
// processors" in the MADT's NMI entry.
inline constexpr u32 kAcpiMaxVcpus = 255;

struct AcpiPlacement {
    u32 offset = 0;  // from the start of the buffer the table was written to
    u32 length = 0;
    u64 gpa = 0;
};

// A field of one table that holds the guest-physical address of another.
struct AcpiPointer {
    AcpiTable holder = AcpiTable::RSDP;  // the table the field is in
    AcpiTable target = AcpiTable::RSDP;  // the table it points at
    u32 offset = 0;                      // of the field, from the start of the holder's buffer
    u8 width = 0;                        // 4 or 8 bytes, little-endian
};

// RSDP: RSDT and XSDT; FADT: FIRMWARE_CTRL, DSDT, X_DSDT; RSDT and XSDT:
// FADT and MADT each.
inline constexpr usize kAcpiPointerCount = 9;

struct AcpiLayout {
    AcpiPlacement tables[kAcpiTableCount] = {};
    AcpiPointer pointers[kAcpiPointerCount] = {};
    u32 pointer_count = 0;
    u64 rsdp_gpa = 0;
    u32 size = 0;  // bytes of the buffer used (of the tables buffer, for split builds)

    const AcpiPlacement& table(AcpiTable t) const { return tables[static_cast<usize>(t)]; }
    AcpiPlacement& table(AcpiTable t) { return tables[static_cast<usize>(t)]; }
};

// Bytes build_acpi_tables needs for `platform` at `base_gpa` (the FACS's
// 64-byte alignment makes it depend on the base). BAD_ARGUMENT for a
// platform the tables cannot describe (see build_acpi_tables).
Result<u32> acpi_tables_size(const AcpiPlatform& platform, u64 base_gpa);

// Write all tables into buffer[0, capacity) as they will sit at guest-
// physical `base_gpa`: the RSDP first (so base_gpa must be 16-byte
// aligned), the FACS at the next 64-byte aligned address, then DSDT, FADT,
// MADT, RSDT, XSDT. Bytes between tables are zero.
// BAD_ARGUMENT: vcpus 0 or above kAcpiMaxVcpus, sci_irq not an ISA IRQ other
// than 0 and 2, pm_base block wrapping past port 0xffff, an APIC address
// above 4 GiB, base_gpa not 16-byte aligned or the tables reaching above
// 4 GiB (the RSDT and the FADT hold 32-bit pointers), a null buffer.
// TOO_LARGE: capacity too small. Nothing is written on error.
Result<AcpiLayout> build_acpi_tables(const AcpiPlatform& platform, u8* buffer, usize capacity, u64 base_gpa);

// The split build behind the fw_cfg table loader: the RSDP alone into
// `rsdp` (36 bytes), everything else into `tables`, both as if placed at
// guest-physical 0 (pointer fields hold offsets into `tables`). Pointer
// offsets of the RSDP's fields are relative to `rsdp`, the others to
// `tables`; layout.size is the bytes of `tables` used.
Result<AcpiLayout> build_acpi_tables_split(const AcpiPlatform& platform, u8* tables, usize tables_capacity,
                                           u8* rsdp, usize rsdp_capacity);

inline constexpr u32 kAcpiRsdpLength = 36;

}  // namespace xeno::boot
