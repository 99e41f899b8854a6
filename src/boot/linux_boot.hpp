// The Linux/x86 boot protocol for a bzImage (Documentation/arch/x86/boot.rst
// and zero-page.rst): reading the setup header into a load plan, writing the
// boot_params ("zero page") a kernel entered through the 32-bit boot protocol
// expects, and finding the compressed kernel inside the image (which the
// harness decompresses, e.g. to boot the ELF vmlinux by PVH).
//
// 32-bit boot protocol, the CPU state the domain builder sets up: protected
// mode with paging off, a GDT whose selectors kLinuxBootCs (execute/read) and
// kLinuxBootDs (read/write) are flat 4 GiB segments, CS = kLinuxBootCs,
// DS = ES = SS = kLinuxBootDs, interrupts off, ESI = the boot_params address,
// EBP = EDI = EBX = 0, EIP = entry32.
#pragma once

#include "boot/e820.hpp"
#include "lib/status.hpp"
#include "lib/types.hpp"

namespace xeno::boot {

inline constexpr u16 kLinuxMinProtocol = 0x206;  // cmdline_size exists from 2.06
inline constexpr u16 kLinuxBootCs = 0x10;        // __BOOT_CS
inline constexpr u16 kLinuxBootDs = 0x18;        // __BOOT_DS
inline constexpr usize kBootParamsSize = 4096;
inline constexpr usize kBootParamsMaxE820 = 128;  // E820_MAX_ENTRIES_ZEROPAGE

// loadflags and xloadflags bits (boot.rst, "Details of header fields").
inline constexpr u8 kLinuxLoadedHigh = 1u << 0;
inline constexpr u8 kLinuxKeepSegments = 1u << 6;
inline constexpr u8 kLinuxCanUseHeap = 1u << 7;
inline constexpr u16 kLinuxXlfKernel64 = 1u << 0;            // a 64-bit entry at load address + 0x200
inline constexpr u16 kLinuxXlfCanBeLoadedAbove4G = 1u << 1;  // kernel, boot_params, cmdline, initrd may sit above 4 GiB

struct LinuxKernelPlan {
    u16 version;       // protocol version, e.g. 0x20f for 2.15
    usize header_end;  // 0x202 + the byte at 0x201: the setup header is [0x1f1, header_end)
    u64 setup_size;    // (setup_sects + 1) * 512, setup_sects 0 meaning 4
    u64 kernel_offset; // == setup_size: the protected-mode code ...
    u64 kernel_size;   // ... to the end of the file, copied to load_addr
    u64 load_addr;     // pref_address for a relocatable kernel (2.10+), else 0x100000
    u64 entry32;       // load_addr: the 32-bit boot protocol's entry
    bool has_entry64;  // XLF_KERNEL_64
    u64 entry64;       // load_addr + 0x200
    u8 loadflags;
    u16 xloadflags;    // 0 before 2.12
    bool relocatable;
    u32 kernel_alignment;
    u8 min_alignment;  // log2, 0 before 2.10
    u64 pref_address;  // 0x100000 before 2.10
    u32 code32_start;
    u32 initrd_addr_max;   // the highest byte address an initrd may occupy
    bool initrd_above_4g;  // XLF_CAN_BE_LOADED_ABOVE_4G: initrd_addr_max does not bind
    u32 cmdline_max;       // cmdline_size: the longest command line, without its NUL
    u32 init_size;         // 0 before 2.10
    // Memory the kernel uses before it reads the memory map, from boot.rst's
    // init_size rule: [runtime_start, runtime_end), runtime_end counting at
    // least kernel_size (for headers without init_size). Together with
    // [load_addr, load_addr + kernel_size) this must be free RAM.
    u64 runtime_start;
    u64 runtime_end;
    u32 payload_offset;  // 2.08+: of the compressed kernel, relative to kernel_offset
    u32 payload_length;
};

// Reads and checks the setup header: boot_flag 0xaa55, "HdrS", version >=
// 2.06, the header's end (the jump at 0x200) within what boot_params holds,
// LOADED_HIGH (bzImage), protected-mode code after the setup sectors and at
// least as long as syssize says (so a truncated file is refused), a
// power-of-two kernel_alignment when relocatable, pref_address at or above
// 1 MiB, everything the kernel occupies below 4 GiB (it is entered with
// paging off).
Status parse_linux_bzimage(const u8* image, usize size, LinuxKernelPlan* out, const char** why);

enum class LinuxPayloadFormat : u8 { UNKNOWN, GZIP, XZ, ZSTD, LZ4, BZIP2, LZMA, ELF };
const char* linux_payload_format_name(LinuxPayloadFormat format);

struct LinuxPayload {
    u64 file_offset;  // in the bzImage
    u64 size;
    LinuxPayloadFormat format;  // by magic; ELF for an uncompressed kernel
    // The payload's last 4 bytes: the decompressed size, which Linux's build
    // appends to every compressed kernel (gzip's own ISIZE is the same field).
    u32 decompressed_size;
};

// The compressed kernel inside a bzImage (protocol 2.08+), bounds-checked, its
// format identified by magic (gzip 1f 8b, xz fd 37 7a 58 5a 00, zstd 28 b5 2f
// fd, lz4 legacy 02 21 4c 18, bzip2 "BZh", lzma 5d 00 00, ELF 7f "ELF").
Status find_linux_payload(const u8* image, usize size, const LinuxKernelPlan& plan, LinuxPayload* out,
                          const char** why);

struct LinuxBootInputs {
    const char* cmdline = nullptr;  // nullptr: empty
    u64 initrd_gpa = 0;             // where the caller put the initrd
    u64 initrd_size = 0;            // 0: no initrd
    const E820Entry* memory_map = nullptr;
    usize memory_map_count = 0;     // at most kBootParamsMaxE820
    u64 rsdp_gpa = 0;               // 0: the kernel scans the BIOS areas for it (as before 2.14 anyway)
};

struct LinuxBootParamsPlacement {
    u64 boot_params_gpa;  // ESI at entry; == base_gpa
    u64 cmdline_gpa;      // right after boot_params
    usize bytes_used;     // kBootParamsSize + the command line and its NUL
};

// Writes boot_params (4096 bytes, zeroed, at base_gpa) and the command line
// after it: the setup header copied from the image, then type_of_loader 0xff,
// loadflags with CAN_USE_HEAP and KEEP_SEGMENTS cleared, heap_end_ptr 0,
// cmd_line_ptr, ramdisk_image/ramdisk_size (+ ext_ halves), setup_data 0, the
// E820 table and (2.14+) acpi_rsdp_addr. Refuses a command line longer than
// cmdline_size, an initrd past initrd_addr_max (unless the kernel can take it
// above 4 GiB), more than 128 map entries, and a placement not below 4 GiB.
Status write_linux_boot_params(const u8* image, usize size, const LinuxKernelPlan& plan, const LinuxBootInputs& in,
                               u8* out, usize capacity, u64 base_gpa, LinuxBootParamsPlacement* where,
                               const char** why);

}  // namespace xeno::boot
