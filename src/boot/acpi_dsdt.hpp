// The DSDT's definition block: hand-assembled AML (ACPI 6.4, chapter 20
// "ACPI Machine Language Specification"). The body, after the 36-byte
// table header, is
//
//   Name (\_S5, Package (4) { slp, slp, 0, 0 })
//   Scope (\_SB) {
//       Device (C000) { Name (_HID, "ACPI0007")  Name (_UID, 0) }
//       ...one per vcpu, C<index in 3 hex digits>
//   }
//
// \_S5 gives the SLP_TYP values for PM1a_CNT and PM1b_CNT that power the
// domain off (devices/acpi_pm.hpp kSlpTypS5); the processor Devices are
// the ACPI 6 way to declare processors, matched to the MADT's Processor
// Local APIC entries by _UID = ACPI processor UID.
#pragma once

#include "boot/acpi_tables.hpp"
#include "lib/types.hpp"

namespace xeno::boot {

// AML opcodes and prefixes used here (ACPI 6.4, 20.2 "AML Grammar Definition").
namespace aml {
inline constexpr u8 ZERO_OP = 0x00;
inline constexpr u8 ONE_OP = 0x01;
inline constexpr u8 NAME_OP = 0x08;
inline constexpr u8 BYTE_PREFIX = 0x0a;
inline constexpr u8 WORD_PREFIX = 0x0b;
inline constexpr u8 DWORD_PREFIX = 0x0c;
inline constexpr u8 STRING_PREFIX = 0x0d;
inline constexpr u8 QWORD_PREFIX = 0x0e;
inline constexpr u8 SCOPE_OP = 0x10;
inline constexpr u8 PACKAGE_OP = 0x12;
inline constexpr u8 EXT_OP_PREFIX = 0x5b;
inline constexpr u8 DEVICE_OP = 0x82;  // after EXT_OP_PREFIX
inline constexpr u8 ROOT_CHAR = 0x5c;  // '\'
}  // namespace aml

// Write the DSDT's AML body for `platform` into out[0, capacity), as far as
// it fits, and return its full length: call with capacity 0 to measure.
usize write_dsdt_aml(const AcpiPlatform& platform, u8* out, usize capacity);

// The PkgLength encoding (ACPI 6.4, 20.2.4) of a package whose contents
// after the PkgLength are `body` bytes: the encoded length counts the
// PkgLength bytes themselves. Writes 1 to 4 bytes into out (when not null)
// and returns how many; 0 when the length exceeds 2^28 - 1.
usize encode_pkg_length(usize body, u8* out);

}  // namespace xeno::boot
