// Hostile kernel images for the domain builder (src/boot/domain_builder.cpp):
// a well-formed 32-bit ELF with Xen's PVH entry note, and the same image
// broken in one way at a time (cut off, overlapping or enormous segments, a
// note that runs past its segment, ...), plus bzImage and multiboot headers
// that lie. Each must be refused with its own log line
// "domain: kernel refused: <why>", never crash or hang the builder.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace xeno::adversarial {

using Bytes = std::vector<std::uint8_t>;

inline void put16(Bytes& b, std::size_t at, std::uint16_t v)
{
    if (b.size() < at + 2) b.resize(at + 2);
    b[at] = static_cast<std::uint8_t>(v);
    b[at + 1] = static_cast<std::uint8_t>(v >> 8);
}

inline void put32(Bytes& b, std::size_t at, std::uint32_t v)
{
    put16(b, at, static_cast<std::uint16_t>(v));
    put16(b, at + 2, static_cast<std::uint16_t>(v >> 16));
}

// The layout of the good image (ELF32, System V gABI): the header, two
// program headers (PT_LOAD of the code at 1 MiB, PT_NOTE), the note
// ("Xen", XEN_ELFNOTE_PHYS32_ENTRY = 18, the entry), then the code:
// `mov al, 0; out 0xf4, al; hlt`.
constexpr std::size_t kPhdrs = 52;
constexpr std::size_t kPhdrSize = 32;
constexpr std::size_t kNote = kPhdrs + 2 * kPhdrSize;  // 116
constexpr std::size_t kNoteSize = 12 + 4 + 4;          // header, "Xen\0", the 32-bit entry
constexpr std::size_t kCode = 0x100;
constexpr std::uint32_t kLoadAddr = 0x100000;

// Program header i's field at byte offset `field` (p_type 0, p_offset 4,
// p_vaddr 8, p_paddr 12, p_filesz 16, p_memsz 20, p_flags 24, p_align 28).
inline std::size_t phdr(std::size_t i, std::size_t field) { return kPhdrs + i * kPhdrSize + field; }

inline Bytes good_pvh_elf()
{
    Bytes b(kCode + 16, 0);
    const std::uint8_t ident[] = {0x7f, 'E', 'L', 'F', 1 /* ELF32 */, 1 /* LSB */, 1 /* version */};
    for (std::size_t i = 0; i < sizeof ident; ++i) b[i] = ident[i];
    put16(b, 16, 2);                // ET_EXEC
    put16(b, 18, 3);                // EM_386
    put32(b, 20, 1);                // e_version
    put32(b, 24, kLoadAddr);        // e_entry
    put32(b, 28, kPhdrs);           // e_phoff
    put16(b, 40, 52);               // e_ehsize
    put16(b, 42, kPhdrSize);        // e_phentsize
    put16(b, 44, 2);                // e_phnum
    put32(b, phdr(0, 0), 1);        // PT_LOAD
    put32(b, phdr(0, 4), kCode);
    put32(b, phdr(0, 8), kLoadAddr);
    put32(b, phdr(0, 12), kLoadAddr);
    put32(b, phdr(0, 16), 16);
    put32(b, phdr(0, 20), 16);
    put32(b, phdr(0, 24), 5);       // R+X
    put32(b, phdr(0, 28), 0x1000);
    put32(b, phdr(1, 0), 4);        // PT_NOTE
    put32(b, phdr(1, 4), kNote);
    put32(b, phdr(1, 16), kNoteSize);
    put32(b, phdr(1, 20), kNoteSize);
    put32(b, phdr(1, 28), 4);
    put32(b, kNote, 4);             // namesz
    put32(b, kNote + 4, 4);         // descsz
    put32(b, kNote + 8, 18);        // XEN_ELFNOTE_PHYS32_ENTRY
    b[kNote + 12] = 'X';
    b[kNote + 13] = 'e';
    b[kNote + 14] = 'n';
    put32(b, kNote + 16, kLoadAddr);
    const std::uint8_t code[] = {0xb0, 0x00, 0xe6, 0xf4, 0xf4};
    for (std::size_t i = 0; i < sizeof code; ++i) b[kCode + i] = code[i];
    return b;
}

// The good image cut off inside its program headers.
inline Bytes elf_truncated()
{
    Bytes b = good_pvh_elf();
    b.resize(kPhdrs + 20);
    return b;
}

// A second PT_LOAD that overlaps the first in physical memory (a copy of it
// 8 bytes higher).
inline Bytes elf_overlapping_segments()
{
    Bytes b = good_pvh_elf();
    put16(b, 44, 3);
    // The note moves to program header 2; header 1 becomes the second load.
    for (std::size_t f = 0; f < kPhdrSize; ++f) b[phdr(2, f)] = b[phdr(1, f)];
    for (std::size_t f = 0; f < kPhdrSize; ++f) b[phdr(1, f)] = b[phdr(0, f)];
    put32(b, phdr(1, 8), kLoadAddr + 8);
    put32(b, phdr(1, 12), kLoadAddr + 8);
    // Program header 2 now sits where the note was: move the note after it.
    const std::size_t note = kPhdrs + 3 * kPhdrSize;
    put32(b, phdr(2, 4), note);
    put32(b, note, 4);
    put32(b, note + 4, 4);
    put32(b, note + 8, 18);
    b[note + 12] = 'X';
    b[note + 13] = 'e';
    b[note + 14] = 'n';
    b[note + 15] = 0;
    put32(b, note + 16, kLoadAddr);
    return b;
}

// A segment of 4064 MiB: it ends below 4 GiB, far past the guest's RAM.
inline Bytes elf_huge_segment()
{
    Bytes b = good_pvh_elf();
    put32(b, phdr(0, 20), 0xfe000000);
    return b;
}

// A segment whose memory size is 4 GiB - 1: it ends above 4 GiB.
inline Bytes elf_segment_above_4g()
{
    Bytes b = good_pvh_elf();
    put32(b, phdr(0, 20), 0xffffffff);
    return b;
}

// A segment whose file bytes lie past the end of the file.
inline Bytes elf_segment_past_file()
{
    Bytes b = good_pvh_elf();
    put32(b, phdr(0, 4), 0x7ffffff0);
    return b;
}

// A segment loaded into the low megabyte (over the boot information).
inline Bytes elf_low_megabyte()
{
    Bytes b = good_pvh_elf();
    put32(b, phdr(0, 8), 0x1000);
    put32(b, phdr(0, 12), 0x1000);
    put32(b, 24, 0x1000);
    put32(b, kNote + 16, 0x1000);
    return b;
}

// The PVH note claims a descriptor far longer than its PT_NOTE segment.
inline Bytes elf_bad_pvh_note()
{
    Bytes b = good_pvh_elf();
    put32(b, kNote + 4, 0x10000);
    return b;
}

// Program headers that claim 0xffff entries (e_phnum) past the file's end.
inline Bytes elf_phnum_huge()
{
    Bytes b = good_pvh_elf();
    put16(b, 44, 0xffff);
    return b;
}

// A bzImage (boot_flag, "HdrS") whose setup header is protocol 2.15 but
// whose setup_sects puts the protected-mode code past the end of the file.
inline Bytes bzimage_bad_setup()
{
    Bytes b(0x1000, 0);
    b[0x1f1] = 0xff;                // setup_sects: 256 sectors of setup code
    put16(b, 0x1fe, 0xaa55);        // boot_flag
    b[0x200] = 0xeb;                // jmp over the header ...
    b[0x201] = 0x6a;                // ... to 0x26c: a 2.15 header's end
    put32(b, 0x202, 0x53726448);    // "HdrS"
    put16(b, 0x206, 0x020f);        // protocol 2.15
    b[0x211] = 1;                   // loadflags: LOADED_HIGH
    return b;
}

// A bzImage whose setup header says boot protocol 2.00 (older than the 2.06
// the builder needs).
inline Bytes bzimage_old_protocol()
{
    Bytes b = bzimage_bad_setup();
    put16(b, 0x206, 0x0200);
    return b;
}

// A multiboot 2 header (magic 0xe85250d6) for architecture 4 (MIPS), with a
// checksum that adds up and an end tag.
inline Bytes multiboot2_wrong_arch()
{
    Bytes b(0x200, 0);
    const std::uint32_t magic = 0xe85250d6, arch = 4, length = 24;
    put32(b, 0, magic);
    put32(b, 4, arch);
    put32(b, 8, length);
    put32(b, 12, 0u - magic - arch - length);
    put16(b, 16, 0);                // the end tag: type 0, flags 0, size 8
    put16(b, 18, 0);
    put32(b, 20, 8);
    return b;
}

// A multiboot 1 header (magic 0x1badb002) with a checksum that does not add up.
inline Bytes multiboot_bad_checksum()
{
    Bytes b(0x200, 0);
    put32(b, 0, 0x1badb002);
    put32(b, 4, 0);
    put32(b, 8, 0x12345678);
    return b;
}

// A multiboot 1 header with the address fields (flag 16) whose entry lies
// outside the image it loads.
inline Bytes multiboot_entry_outside()
{
    Bytes b(0x200, 0);
    const std::uint32_t flags = 1u << 16;
    put32(b, 0, 0x1badb002);
    put32(b, 4, flags);
    put32(b, 8, 0u - 0x1badb002u - flags);
    put32(b, 12, kLoadAddr);        // header_addr
    put32(b, 16, kLoadAddr);        // load_addr
    put32(b, 20, kLoadAddr + 0x200);  // load_end_addr
    put32(b, 24, kLoadAddr + 0x200);  // bss_end_addr
    put32(b, 28, 0x40000000);       // entry_addr: 1 GiB, not in the image
    return b;
}

}  // namespace xeno::adversarial
