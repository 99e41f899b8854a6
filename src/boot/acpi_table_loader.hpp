// The ACPI tables as QEMU's fw_cfg serves them to firmware (SeaBIOS, OVMF):
// three fw_cfg files,
//   "etc/acpi/tables"   every table but the RSDP, built at base 0
//   "etc/acpi/rsdp"     the RSDP (36 bytes)
//   "etc/table-loader"  the linker/loader script (QEMU's BiosLinkerLoader
//                       format) that tells the firmware where to put the two
//                       blobs, how to patch their pointer fields and which
//                       checksums to recompute
//
// The script: 128-byte commands, every field little-endian, file names NUL
// padded in 56-byte fields (FW_CFG_MAX_FILE_PATH):
//   ALLOCATE (1)      +4 file, +60 u32 alignment, +64 u8 zone (1 HIGH, 2 FSEG)
//   ADD_POINTER (2)   +4 destination file, +60 source file, +116 u32 offset,
//                     +120 u8 size: add the source file's address to the
//                     size-byte field at offset in the destination file
//   ADD_CHECKSUM (3)  +4 file, +60 u32 result offset, +64 u32 start,
//                     +68 u32 length: add -(sum of the range) to the byte
//                     at the result offset
// Emitted: ALLOCATE tables (align 64 for the FACS, HIGH), ALLOCATE rsdp
// (align 16, FSEG), one ADD_POINTER per AcpiLayout pointer, then one
// ADD_CHECKSUM per checksummed table (the RSDP's 20-byte checksum before
// its extended one, which covers it). The blobs are already checksummed
// for base 0, which the additive checksum command keeps correct.
#pragma once

#include "boot/acpi_tables.hpp"
#include "lib/status.hpp"
#include "lib/types.hpp"

namespace xeno::boot {

inline constexpr char kAcpiTablesFile[] = "etc/acpi/tables";
inline constexpr char kAcpiRsdpFile[] = "etc/acpi/rsdp";
inline constexpr char kTableLoaderFile[] = "etc/table-loader";

namespace table_loader {
inline constexpr u32 kCommandSize = 128;
inline constexpr u32 kFileNameSize = 56;
inline constexpr u32 ALLOCATE = 1;
inline constexpr u32 ADD_POINTER = 2;
inline constexpr u32 ADD_CHECKSUM = 3;
inline constexpr u8 ZONE_HIGH = 1;
inline constexpr u8 ZONE_FSEG = 2;
}  // namespace table_loader

// Two allocations, the pointers, RSDP x2 + DSDT, FADT, MADT, RSDT, XSDT checksums.
inline constexpr u32 kAcpiLoaderCommands = 2 + kAcpiPointerCount + 7;
inline constexpr u32 kAcpiLoaderSize = kAcpiLoaderCommands * table_loader::kCommandSize;

struct AcpiFwCfgBuffers {
    u8* tables = nullptr;   // "etc/acpi/tables"
    usize tables_capacity = 0;
    u8* rsdp = nullptr;     // "etc/acpi/rsdp"
    usize rsdp_capacity = 0;
    u8* loader = nullptr;   // "etc/table-loader"
    usize loader_capacity = 0;
};

struct AcpiFwCfgFiles {
    u32 tables_size = 0;
    u32 rsdp_size = 0;
    u32 loader_size = 0;
    AcpiLayout layout;  // of the split build (boot/acpi_tables.hpp)
};

// Build the three files. The errors of build_acpi_tables_split; TOO_LARGE
// when the loader buffer holds less than kAcpiLoaderSize. Nothing is
// written on error.
Result<AcpiFwCfgFiles> build_acpi_fw_cfg(const AcpiPlatform& platform, const AcpiFwCfgBuffers& buffers);

}  // namespace xeno::boot
