#include "boot/elf_image.hpp"

#include "boot/image_bytes.hpp"

namespace xeno::boot {
namespace {

// e_ident (gABI "ELF Identification").
constexpr u8 kElfMagic[4] = {0x7f, 'E', 'L', 'F'};
constexpr usize kIdentClass = 4, kIdentData = 5, kIdentVersion = 6;
constexpr u8 kClass32 = 1, kClass64 = 2, kDataLsb = 1, kVersionCurrent = 1;
constexpr u16 kPhnumExtended = 0xffff;  // PN_XNUM: the real count is in section 0

// The header and program-header fields whose offsets differ between classes.
struct ElfLayout {
    usize header_size;
    usize entry, phoff, phentsize, phnum;  // offsets in the ELF header
    usize ph_size;
    usize p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_flags, p_align;  // in a program header
    bool wide;  // addresses and sizes are 8 bytes
};

constexpr ElfLayout kElf32 = {52, 24, 28, 42, 44, 32, 4, 8, 12, 16, 20, 24, 28, false};
constexpr ElfLayout kElf64 = {64, 24, 32, 54, 56, 56, 8, 16, 24, 32, 40, 4, 48, true};

u64 load_word(const u8* p, bool wide) { return wide ? load_le64(p) : load_le32(p); }

struct ProgramHeader {
    u32 type;
    u32 flags;
    u64 offset, vaddr, paddr, filesz, memsz, align;
};

ProgramHeader read_program_header(const u8* ph, const ElfLayout& l)
{
    return ProgramHeader{load_le32(ph),
                         load_le32(ph + l.p_flags),
                         load_word(ph + l.p_offset, l.wide),
                         load_word(ph + l.p_vaddr, l.wide),
                         load_word(ph + l.p_paddr, l.wide),
                         load_word(ph + l.p_filesz, l.wide),
                         load_word(ph + l.p_memsz, l.wide),
                         load_word(ph + l.p_align, l.wide)};
}

Status add_load_segment(const ProgramHeader& ph, usize size, bool is_64bit, ElfImage* out, const char** why)
{
    if (ph.filesz > ph.memsz) return refuse(why, Status::BAD_ARGUMENT, "PT_LOAD segment has p_filesz > p_memsz");
    if (ph.filesz != 0 && !in_bounds(ph.offset, ph.filesz, size))
        return refuse(why, Status::BAD_ARGUMENT, "PT_LOAD segment extends past the end of the file");
    if (ph.memsz == 0) return Status::OK;  // occupies nothing
    if (ph.memsz > ~u64{0} - ph.paddr)
        return refuse(why, Status::BAD_ARGUMENT, "PT_LOAD segment's physical address range overflows");
    // An ELF32 kernel is entered with 32-bit addresses: nothing of it can live above 4 GiB.
    if (!is_64bit && ph.paddr + ph.memsz > (u64{1} << 32))
        return refuse(why, Status::BAD_ARGUMENT, "ELF32 PT_LOAD segment ends above 4 GiB");
    if (out->segment_count == kMaxElfLoadSegments)
        return refuse(why, Status::TOO_LARGE, "more than 16 PT_LOAD segments");
    const u64 end = ph.paddr + ph.memsz;
    for (usize i = 0; i < out->segment_count; ++i) {
        const ElfSegment& other = out->segments[i];
        if (ph.paddr < other.paddr + other.mem_size && other.paddr < end)
            return refuse(why, Status::BAD_ARGUMENT, "two PT_LOAD segments overlap in physical memory");
    }
    // A segment with no file bytes (all bss) may give any p_offset, past the
    // end of the file included; recording it would send the builder's copy of
    // zero bytes to `image + p_offset` far outside the image. Its file range
    // is empty, so it starts at 0.
    const u64 file_offset = ph.filesz != 0 ? ph.offset : 0;
    out->segments[out->segment_count++] = ElfSegment{file_offset, ph.filesz, ph.paddr, ph.memsz, ph.vaddr, ph.flags};
    return Status::OK;
}

Status add_note_range(const ProgramHeader& ph, usize size, ElfImage* out, const char** why)
{
    if (!in_bounds(ph.offset, ph.filesz, size))
        return refuse(why, Status::BAD_ARGUMENT, "PT_NOTE segment extends past the end of the file");
    if (ph.filesz == 0) return Status::OK;
    if (out->note_count == kMaxElfNoteSegments) return refuse(why, Status::TOO_LARGE, "more than 8 PT_NOTE segments");
    // The gABI asks for 8-byte padding in ELF64, but GNU tools (and Linux's
    // vmlinux) pad to 4 and say so in p_align: follow the segment.
    out->notes[out->note_count++] = ElfNoteRange{ph.offset, ph.filesz, ph.align == 8 ? u64{8} : u64{4}};
    return Status::OK;
}

// Xen's PHYS32_ENTRY note: a 4- or 8-byte little-endian physical address
// (public/elfnote.h; Linux emits 4 bytes), of a 32-bit entry point.
Status take_pvh_entry(const ElfNote& note, ElfImage* out, const char** why)
{
    u64 entry;
    if (note.desc_size == 4)
        entry = load_le32(note.desc);
    else if (note.desc_size == 8)
        entry = load_le64(note.desc);
    else
        return refuse(why, Status::BAD_ARGUMENT, "Xen PHYS32_ENTRY note's descriptor is not 4 or 8 bytes");
    if (entry > 0xffffffffu) return refuse(why, Status::BAD_ARGUMENT, "Xen PHYS32_ENTRY is above 4 GiB");
    if (out->has_pvh_entry && out->pvh_entry != entry)
        return refuse(why, Status::BAD_ARGUMENT, "two Xen PHYS32_ENTRY notes disagree");
    out->has_pvh_entry = true;
    out->pvh_entry = static_cast<u32>(entry);
    return Status::OK;
}

Status scan_notes(const u8* image, usize size, ElfImage* out, const char** why)
{
    ElfNoteReader reader(image, size, *out);
    ElfNote note;
    for (;;) {
        const Status s = reader.next(&note, why);
        if (s == Status::NOT_FOUND) return Status::OK;
        XENO_TRY(s);
        if (note.type == kXenElfNotePhys32Entry && elf_note_name_is(note, "Xen"))
            XENO_TRY(take_pvh_entry(note, out, why));
    }
}

void find_entry_paddr(ElfImage* out)
{
    for (usize i = 0; i < out->segment_count; ++i) {
        const ElfSegment& s = out->segments[i];
        if (out->entry >= s.vaddr && out->entry - s.vaddr < s.mem_size) {
            out->entry_in_segment = true;
            out->entry_paddr = s.paddr + (out->entry - s.vaddr);
            return;
        }
    }
    for (usize i = 0; i < out->segment_count; ++i) {
        const ElfSegment& s = out->segments[i];
        if (out->entry >= s.paddr && out->entry - s.paddr < s.mem_size) {
            out->entry_in_segment = true;
            out->entry_paddr = out->entry;
            return;
        }
    }
}

void find_paddr_span(ElfImage* out)
{
    out->paddr_start = ~u64{0};
    out->paddr_end = 0;
    for (usize i = 0; i < out->segment_count; ++i) {
        const ElfSegment& s = out->segments[i];
        if (s.paddr < out->paddr_start) out->paddr_start = s.paddr;
        if (s.paddr + s.mem_size > out->paddr_end) out->paddr_end = s.paddr + s.mem_size;
    }
}

}  // namespace

bool elf_note_name_is(const ElfNote& note, const char* name)
{
    u32 i = 0;
    for (; name[i]; ++i)
        if (i >= note.name_size || note.name[i] != static_cast<u8>(name[i])) return false;
    return note.name_size == i + 1 && note.name[i] == 0;
}

Status ElfNoteReader::next(ElfNote* note, const char** why)
{
    for (; range_ < elf_.note_count; ++range_, offset_ = 0) {
        const ElfNoteRange& r = elf_.notes[range_];
        if (!in_bounds(r.file_offset, r.size, size_))
            return refuse(why, Status::BAD_ARGUMENT, "PT_NOTE segment extends past the end of the file");
        // Fewer bytes than a note header left: the segment's tail padding.
        if (r.size - offset_ < 12) continue;
        const u8* p = image_ + r.file_offset + offset_;
        const u64 name_size = load_le32(p), desc_size = load_le32(p + 4);
        const u64 name_padded = (name_size + r.align - 1) & ~(r.align - 1);
        const u64 desc_padded = (desc_size + r.align - 1) & ~(r.align - 1);
        // Each term is below 2^33: the sum cannot wrap.
        const u64 total = 12 + name_padded + desc_padded;
        const u64 unpadded = 12 + name_padded + desc_size;  // the last note's descriptor may lack padding
        if (unpadded > r.size - offset_)
            return refuse(why, Status::BAD_ARGUMENT, "ELF note runs past its PT_NOTE segment");
        *note = ElfNote{p + 12, static_cast<u32>(name_size), load_le32(p + 8), p + 12 + name_padded,
                        static_cast<u32>(desc_size)};
        offset_ = total < r.size - offset_ ? offset_ + total : r.size;
        return Status::OK;
    }
    return Status::NOT_FOUND;
}

Status parse_elf(const u8* image, usize size, ElfImage* out, const char** why)
{
    *out = ElfImage{};
    if (!image || size < 16) return refuse(why, Status::BAD_ARGUMENT, "too small for an ELF header");
    for (usize i = 0; i < 4; ++i)
        if (image[i] != kElfMagic[i]) return refuse(why, Status::BAD_ARGUMENT, "not an ELF image (bad magic)");
    if (image[kIdentClass] != kClass32 && image[kIdentClass] != kClass64)
        return refuse(why, Status::BAD_ARGUMENT, "ELF class is neither ELF32 nor ELF64");
    if (image[kIdentData] != kDataLsb) return refuse(why, Status::UNSUPPORTED, "ELF image is not little-endian");
    if (image[kIdentVersion] != kVersionCurrent)
        return refuse(why, Status::BAD_ARGUMENT, "ELF identification version is not 1");

    out->is_64bit = image[kIdentClass] == kClass64;
    const ElfLayout& l = out->is_64bit ? kElf64 : kElf32;
    if (size < l.header_size) return refuse(why, Status::BAD_ARGUMENT, "ELF header truncated");
    out->type = load_le16(image + 16);
    out->machine = load_le16(image + 18);
    if (out->type != kElfTypeExec && out->type != kElfTypeDyn)
        return refuse(why, Status::UNSUPPORTED, "ELF image is neither ET_EXEC nor ET_DYN");
    if (out->machine != (out->is_64bit ? kElfMachineX86_64 : kElfMachine386))
        return refuse(why, Status::UNSUPPORTED,
                      out->is_64bit ? "ELF64 image is not EM_X86_64" : "ELF32 image is not EM_386");
    if (load_le32(image + 20) != kVersionCurrent) return refuse(why, Status::BAD_ARGUMENT, "ELF e_version is not 1");
    out->entry = load_word(image + l.entry, l.wide);

    const u64 phoff = load_word(image + l.phoff, l.wide);
    const u16 phentsize = load_le16(image + l.phentsize);
    const u16 phnum = load_le16(image + l.phnum);
    if (phnum == 0) return refuse(why, Status::BAD_ARGUMENT, "ELF image has no program headers");
    if (phnum == kPhnumExtended) return refuse(why, Status::UNSUPPORTED, "ELF image has 65535 or more program headers");
    if (phentsize != l.ph_size) return refuse(why, Status::BAD_ARGUMENT, "ELF e_phentsize does not match its class");
    if (!in_bounds(phoff, u64{phnum} * phentsize, size))
        return refuse(why, Status::BAD_ARGUMENT, "ELF program headers extend past the end of the file");

    for (u16 i = 0; i < phnum; ++i) {
        const ProgramHeader ph = read_program_header(image + phoff + u64{i} * phentsize, l);
        if (ph.type == kElfSegmentLoad)
            XENO_TRY(add_load_segment(ph, size, out->is_64bit, out, why));
        else if (ph.type == kElfSegmentNote)
            XENO_TRY(add_note_range(ph, size, out, why));
    }
    if (out->segment_count == 0)
        return refuse(why, Status::BAD_ARGUMENT, "ELF image has no PT_LOAD segment with memory");
    find_paddr_span(out);
    find_entry_paddr(out);
    return scan_notes(image, size, out, why);
}

}  // namespace xeno::boot
