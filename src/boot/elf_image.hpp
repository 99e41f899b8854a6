// ELF kernels for the domain builder: the little-endian x86 executables a
// multiboot or PVH guest is shipped as (ELF32 EM_386, ELF64 EM_X86_64; ET_EXEC,
// or ET_DYN, which loads the same way since segments are placed by physical
// address). Parsing yields what to copy where (the PT_LOAD segments, by
// p_paddr), the entry point, and the notes of the PT_NOTE segments, among them
// Xen's XEN_ELFNOTE_PHYS32_ENTRY, the PVH entry.
//
// Facts from the System V gABI (ELF header, program header, note layout) and
// Xen's public/elfnote.h. The image is untrusted: every field is checked
// before it is used, and a bad image gives one reason string.
#pragma once

#include "lib/status.hpp"
#include "lib/types.hpp"

namespace xeno::boot {

inline constexpr u16 kElfTypeExec = 2;  // ET_EXEC
inline constexpr u16 kElfTypeDyn = 3;   // ET_DYN
inline constexpr u16 kElfMachine386 = 3;      // EM_386
inline constexpr u16 kElfMachineX86_64 = 62;  // EM_X86_64
inline constexpr u32 kElfSegmentLoad = 1;  // PT_LOAD
inline constexpr u32 kElfSegmentNote = 4;  // PT_NOTE
inline constexpr u32 kXenElfNotePhys32Entry = 18;  // XEN_ELFNOTE_PHYS32_ENTRY, public/elfnote.h

inline constexpr usize kMaxElfLoadSegments = 16;
inline constexpr usize kMaxElfNoteSegments = 8;

// One PT_LOAD segment: copy file_size bytes from file_offset to paddr, then
// zero up to mem_size. Segments with p_memsz 0 occupy nothing and are dropped.
struct ElfSegment {
    u64 file_offset;
    u64 file_size;
    u64 paddr;
    u64 mem_size;
    u64 vaddr;
    u32 flags;  // PF_X 1, PF_W 2, PF_R 4
};

// The bytes of one PT_NOTE segment in the file; notes are padded to `align`.
struct ElfNoteRange {
    u64 file_offset;
    u64 size;
    u64 align;  // 4, or 8 when the segment says so (p_align 8)
};

struct ElfImage {
    bool is_64bit;
    u16 type;     // kElfTypeExec or kElfTypeDyn
    u16 machine;  // kElfMachine386 or kElfMachineX86_64
    u64 entry;    // e_entry (a virtual address)
    // Where e_entry is in guest-physical memory: translated through the
    // PT_LOAD segment whose virtual range holds it (a higher-half kernel), or
    // e_entry itself when no virtual range holds it but a physical one does
    // (Linux's vmlinux gives a physical e_entry). False when neither does.
    bool entry_in_segment;
    u64 entry_paddr;
    ElfSegment segments[kMaxElfLoadSegments];  // in program-header order
    usize segment_count;                       // at least 1
    u64 paddr_start;  // lowest guest-physical byte a segment occupies
    u64 paddr_end;    // one past the highest
    ElfNoteRange notes[kMaxElfNoteSegments];
    usize note_count;
    bool has_pvh_entry;  // a "Xen" note of type XEN_ELFNOTE_PHYS32_ENTRY was found
    u32 pvh_entry;       // its value: the 32-bit PVH entry's physical address
};

// Parses and validates `image`: the ELF header, the program headers, every
// PT_LOAD segment (within the file, p_filesz <= p_memsz, no address overflow,
// no two overlapping in guest-physical space, below 4 GiB for ELF32, at most
// kMaxElfLoadSegments) and every note. On error *out is unspecified and *why
// (when given) says what is wrong.
Status parse_elf(const u8* image, usize size, ElfImage* out, const char** why);

// A note as it sits in the image: name (name_size bytes, normally with its
// NUL), type, descriptor.
struct ElfNote {
    const u8* name;
    u32 name_size;
    u32 type;
    const u8* desc;
    u32 desc_size;
};

// True when the note's name is exactly `name` plus its terminating NUL.
bool elf_note_name_is(const ElfNote& note, const char* name);

// Walks the notes of the PT_NOTE segments parse_elf found in the same image.
class ElfNoteReader {
public:
    ElfNoteReader(const u8* image, usize size, const ElfImage& elf) : image_(image), size_(size), elf_(elf) {}

    // OK with the next note, NOT_FOUND after the last, BAD_ARGUMENT when a
    // note runs past its segment (parse_elf has already refused such images).
    Status next(ElfNote* note, const char** why);

private:
    const u8* image_;
    usize size_;
    const ElfImage& elf_;
    usize range_ = 0;
    u64 offset_ = 0;  // within notes[range_]
};

}  // namespace xeno::boot
