// Multiboot 1 and 2 (the GNU Multiboot Specification 0.6.96 and Multiboot2
// 2.0): finding and checking the header a kernel carries, the load plan of a
// kernel that is not loaded as ELF (the "a.out kludge" fields / address tag),
// and writing the boot information the kernel receives in EBX.
//
// A multiboot kernel starts in 32-bit protected mode, paging off, EAX the
// bootloader magic (kMultiboot1BootMagic / kMultiboot2BootMagic), EBX the
// guest-physical address of the information the writers below produce; that
// CPU state is the domain builder's.
#pragma once

#include "boot/guest_boot_inputs.hpp"
#include "lib/status.hpp"
#include "lib/types.hpp"

namespace xeno::boot {

inline constexpr u32 kMultiboot1HeaderMagic = 0x1badb002;
inline constexpr u32 kMultiboot1BootMagic = 0x2badb002;  // EAX at entry
inline constexpr usize kMultiboot1SearchLimit = 8192;
inline constexpr u32 kMultiboot2HeaderMagic = 0xe85250d6;
inline constexpr u32 kMultiboot2BootMagic = 0x36d76289;  // EAX at entry
inline constexpr usize kMultiboot2SearchLimit = 32768;

// Loading a kernel by the header's own addresses instead of as ELF: copy
// file_size bytes from file_offset to load_addr, zero [load_end, bss_end),
// enter at entry. All of it lies below 4 GiB.
struct MultibootLoadPlan {
    u64 file_offset;
    u64 file_size;
    u64 load_addr;
    u64 load_end;  // load_addr + file_size
    u64 bss_end;   // == load_end when there is no bss
    u64 entry;
};

struct Multiboot1Header {
    usize offset;  // of the header's magic in the image
    u32 flags;
    bool modules_page_aligned;  // flag 0: modules on 4 KiB boundaries (the caller places them)
    bool wants_memory_info;     // flag 1: mem_lower/mem_upper and the map (always written)
    // Flag 16: load by `load` rather than as ELF (GRUB, too, prefers these
    // fields to the ELF headers when the flag is set).
    bool has_load_plan;
    MultibootLoadPlan load;
};

// Finds the first valid multiboot 1 header (4-aligned, wholly within the first
// 8192 bytes). NOT_FOUND when there is none; BAD_ARGUMENT for a header whose
// checksum or load addresses are wrong; UNSUPPORTED for a requirement flag
// (bits 0-15) Xeno cannot meet: video mode information (bit 2) or one the
// specification does not define.
Status parse_multiboot1_header(const u8* image, usize size, Multiboot1Header* out, const char** why);

struct Multiboot2Header {
    usize offset;  // of the header's magic in the image
    u32 header_length;
    // Information request tag (type 1): bit n set when the kernel asks for
    // boot-information tag type n. Only the supported types can be required
    // (kMultiboot2SupportedInfoTags); pass required_info_tags to the writer,
    // which fails when its inputs cannot supply one of them.
    u32 required_info_tags;
    u32 optional_info_tags;
    bool has_entry;  // entry address tag (type 3): the entry even of an ELF kernel
    u64 entry;
    bool has_load_plan;  // address tag (type 2) with an entry address tag
    MultibootLoadPlan load;
    bool modules_page_aligned;  // module alignment tag (type 6)
    bool wants_framebuffer;     // framebuffer tag (type 5): a preference Xeno may ignore, and does
    u32 framebuffer_width, framebuffer_height, framebuffer_depth;
    bool relocatable;  // relocatable tag (type 10): the image may be loaded elsewhere in [min, max]
    u32 relocatable_min, relocatable_max, relocatable_align, relocatable_preference;
};

// Info tags the writer can produce: command line 1, boot loader name 2,
// modules 3, basic memory 4, memory map 6, ACPI old 14 and new 15 RSDP, image
// load base physical address 21.
inline constexpr u32 kMultiboot2InfoLoadBase = 21;
inline constexpr u32 kMultiboot2SupportedInfoTags =
    1u << 1 | 1u << 2 | 1u << 3 | 1u << 4 | 1u << 6 | 1u << 14 | 1u << 15 | 1u << kMultiboot2InfoLoadBase;

// Finds the first valid multiboot 2 header (8-aligned, wholly within the
// first 32768 bytes) and checks its tags. NOT_FOUND when there is none;
// BAD_ARGUMENT when it is malformed; UNSUPPORTED when it asks for what Xeno
// does not provide and does not mark the request optional (an architecture
// other than i386, an information tag outside the supported set, a required
// console, an unknown tag).
Status parse_multiboot2_header(const u8* image, usize size, Multiboot2Header* out, const char** why);

// Writes a multiboot 1 information structure (struct multiboot_info, 116
// bytes, first in the buffer, 8-aligned) and everything it points to: boot
// loader name "Xeno", the command line (flag 2, when given), the modules
// (flag 3, with their strings), mem_lower/mem_upper from the map (flag 0) and
// the map itself (flag 6, size-prefixed 24-byte entries). boot_device is
// absent. `out` will sit at guest-physical `base_gpa`; everything written and
// every module must lie below 4 GiB, the information's addresses being 32 bits.
Status write_multiboot1_info(const GuestBootInputs& in, u8* out, usize capacity, u64 base_gpa,
                             BootInfoPlacement* where, const char** why);

// Writes a multiboot 2 information structure (8-aligned): total_size and
// reserved, then tags, each 8-aligned: command line (1, empty when none),
// boot loader name (2, "Xeno"), the image load base physical address (21,
// when in.has_load_base: spec 3.6.15 gives it to an image with a relocatable
// header tag), one per module (3), basic memory (4) and memory map (6,
// entry_size 24, entry_version 0) when a map is given, the ACPI 1.0 RSDP (14)
// and, for a 36-byte RSDP, the ACPI 2.0 RSDP (15); end tag.
// Fails when the kernel required (required_info_tags) a tag the inputs cannot
// supply. Below 4 GiB, like multiboot 1.
Status write_multiboot2_info(const GuestBootInputs& in, u32 required_info_tags, u8* out, usize capacity, u64 base_gpa,
                             BootInfoPlacement* where, const char** why);

}  // namespace xeno::boot
