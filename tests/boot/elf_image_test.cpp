#include "boot/elf_image.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "boot_image_bytes.hpp"

using namespace xeno;
using namespace xeno::boot;
using boot_test::Bytes;

namespace {

struct Phdr {
    u32 type;
    u32 flags;
    u64 offset, vaddr, paddr, filesz, memsz, align;
};

constexpr u32 PT_LOAD = 1, PT_NOTE = 4, PT_PHDR = 6;

// An ELF header and program headers (right after it) into `image`.
void write_elf(Bytes& image, bool is64, u64 entry, const std::vector<Phdr>& phdrs, u16 type = 2)
{
    image.put8(0, 0x7f);
    image.put_string(1, "ELF");
    image.put8(4, is64 ? 2 : 1);
    image.put8(5, 1);
    image.put8(6, 1);
    image.put16(16, type);
    image.put16(18, is64 ? 62 : 3);
    image.put32(20, 1);
    const usize eh = is64 ? 64 : 52, ph = is64 ? 56 : 32;
    if (is64) {
        image.put64(24, entry);
        image.put64(32, eh);
        image.put16(52, static_cast<u16>(eh));
        image.put16(54, static_cast<u16>(ph));
        image.put16(56, static_cast<u16>(phdrs.size()));
    } else {
        image.put32(24, static_cast<u32>(entry));
        image.put32(28, eh);
        image.put16(40, static_cast<u16>(eh));
        image.put16(42, static_cast<u16>(ph));
        image.put16(44, static_cast<u16>(phdrs.size()));
    }
    for (usize i = 0; i < phdrs.size(); ++i) {
        const Phdr& p = phdrs[i];
        const usize at = eh + i * ph;
        image.put32(at, p.type);
        if (is64) {
            image.put32(at + 4, p.flags);
            image.put64(at + 8, p.offset);
            image.put64(at + 16, p.vaddr);
            image.put64(at + 24, p.paddr);
            image.put64(at + 32, p.filesz);
            image.put64(at + 40, p.memsz);
            image.put64(at + 48, p.align);
        } else {
            image.put32(at + 4, static_cast<u32>(p.offset));
            image.put32(at + 8, static_cast<u32>(p.vaddr));
            image.put32(at + 12, static_cast<u32>(p.paddr));
            image.put32(at + 16, static_cast<u32>(p.filesz));
            image.put32(at + 20, static_cast<u32>(p.memsz));
            image.put32(at + 24, p.flags);
            image.put32(at + 28, static_cast<u32>(p.align));
        }
    }
}

// One note, padded to `align`.
std::vector<u8> note(const std::string& name, u32 type, const std::vector<u8>& desc, usize align = 4)
{
    Bytes n;
    const usize name_size = name.size() + 1;
    const usize name_padded = (name_size + align - 1) / align * align;
    const usize desc_padded = (desc.size() + align - 1) / align * align;
    n.put32(0, static_cast<u32>(name_size));
    n.put32(4, static_cast<u32>(desc.size()));
    n.put32(8, type);
    n.put_string(12, name);
    n.put_bytes(12 + name_padded, desc);
    n.fit(12 + name_padded + desc_padded);
    return n.data;
}

std::vector<u8> le32(u32 v) { return {u8(v), u8(v >> 8), u8(v >> 16), u8(v >> 24)}; }
std::vector<u8> le64(u64 v)
{
    std::vector<u8> b = le32(static_cast<u32>(v)), hi = le32(static_cast<u32>(v >> 32));
    b.insert(b.end(), hi.begin(), hi.end());
    return b;
}

std::vector<u8> concat(std::vector<u8> a, const std::vector<u8>& b)
{
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

// A Linux-vmlinux-like ELF64: notes (GNU build id, Xen PHYS32_ENTRY) in a
// PT_NOTE segment, a text and a data+bss segment, the data ending the file.
Bytes sample_elf64()
{
    Bytes image;
    const std::vector<u8> notes =
        concat(note("GNU", 3, {1, 2, 3, 4, 5}), note("Xen", kXenElfNotePhys32Entry, le32(0x1000850)));
    write_elf(image, true, 0xffffffff81000000,
              {
                  {PT_LOAD, 5, 0x200, 0xffffffff81000000, 0x1000000, 0x300, 0x300, 0x200},
                  {PT_NOTE, 4, 0x180, 0, 0, notes.size(), notes.size(), 4},
                  {PT_PHDR, 4, 64, 0, 0, 3 * 56, 3 * 56, 8},  // ignored
                  {PT_LOAD, 6, 0x500, 0xffffffff81400000, 0x1400000, 0x100, 0x2000, 0x1000},
              });
    image.put_bytes(0x180, notes);
    for (usize i = 0; i < 0x300; ++i) image.put8(0x200 + i, static_cast<u8>(i));
    image.fit(0x600);
    return image;
}

Status parse(const Bytes& image, ElfImage* elf, std::string* why = nullptr)
{
    const char* reason = nullptr;
    const Status s = parse_elf(image.ptr(), image.size(), elf, &reason);
    if (why) *why = reason ? reason : "";
    if (s != Status::OK) REQUIRE(reason != nullptr);
    return s;
}

std::string failure(const Bytes& image)
{
    ElfImage elf;
    std::string why;
    REQUIRE(parse(image, &elf, &why) != Status::OK);
    return why;
}

}  // namespace

TEST_CASE("elf: ELF64 segments, entry and the Xen PVH note", "[boot][elf]")
{
    const Bytes image = sample_elf64();
    ElfImage elf;
    REQUIRE(parse(image, &elf) == Status::OK);
    CHECK(elf.is_64bit);
    CHECK(elf.type == kElfTypeExec);
    CHECK(elf.machine == kElfMachineX86_64);
    CHECK(elf.entry == 0xffffffff81000000);
    CHECK(elf.entry_in_segment);
    CHECK(elf.entry_paddr == 0x1000000);
    REQUIRE(elf.segment_count == 2);
    CHECK(elf.segments[0].file_offset == 0x200);
    CHECK(elf.segments[0].file_size == 0x300);
    CHECK(elf.segments[0].paddr == 0x1000000);
    CHECK(elf.segments[0].mem_size == 0x300);
    CHECK(elf.segments[0].vaddr == 0xffffffff81000000);
    CHECK(elf.segments[0].flags == 5);
    CHECK(elf.segments[1].file_offset == 0x500);
    CHECK(elf.segments[1].file_size == 0x100);
    CHECK(elf.segments[1].paddr == 0x1400000);
    CHECK(elf.segments[1].mem_size == 0x2000);
    CHECK(elf.segments[1].flags == 6);
    CHECK(elf.paddr_start == 0x1000000);
    CHECK(elf.paddr_end == 0x1402000);
    REQUIRE(elf.note_count == 1);
    CHECK(elf.notes[0].file_offset == 0x180);
    CHECK(elf.notes[0].align == 4);
    CHECK(elf.has_pvh_entry);
    CHECK(elf.pvh_entry == 0x1000850);

    ElfNoteReader reader(image.ptr(), image.size(), elf);
    ElfNote n;
    REQUIRE(reader.next(&n, nullptr) == Status::OK);
    CHECK(elf_note_name_is(n, "GNU"));
    CHECK_FALSE(elf_note_name_is(n, "GN"));
    CHECK_FALSE(elf_note_name_is(n, "GNUX"));
    CHECK(n.name_size == 4);
    CHECK(n.type == 3);
    REQUIRE(n.desc_size == 5);
    CHECK(std::vector<u8>(n.desc, n.desc + 5) == std::vector<u8>{1, 2, 3, 4, 5});
    REQUIRE(reader.next(&n, nullptr) == Status::OK);
    CHECK(elf_note_name_is(n, "Xen"));
    CHECK(n.type == kXenElfNotePhys32Entry);
    CHECK(n.desc_size == 4);
    CHECK(reader.next(&n, nullptr) == Status::NOT_FOUND);
    CHECK(reader.next(&n, nullptr) == Status::NOT_FOUND);
}

TEST_CASE("elf: ELF32 with an 8-byte PHYS32_ENTRY and 8-aligned notes, ET_DYN", "[boot][elf]")
{
    Bytes image;
    const std::vector<u8> notes = concat(note("Xen", kXenElfNotePhys32Entry, le64(0x100020), 8), note("Xen", 5, {}, 8));
    write_elf(image, false, 0xc0100010,
              {
                  {PT_NOTE, 4, 0x100, 0, 0, notes.size(), 0, 8},
                  {PT_LOAD, 7, 0x200, 0xc0100000, 0x100000, 0x80, 0x1000, 0x1000},
                  {PT_LOAD, 6, 0x280, 0xc0200000, 0x200000, 0, 0, 0x1000},  // occupies nothing: dropped
              },
              3);
    image.put_bytes(0x100, notes);
    image.fit(0x280);
    ElfImage elf;
    REQUIRE(parse(image, &elf) == Status::OK);
    CHECK_FALSE(elf.is_64bit);
    CHECK(elf.type == kElfTypeDyn);
    CHECK(elf.machine == kElfMachine386);
    CHECK(elf.entry == 0xc0100010);
    CHECK(elf.entry_paddr == 0x100010);
    REQUIRE(elf.segment_count == 1);
    CHECK(elf.segments[0].paddr == 0x100000);
    CHECK(elf.segments[0].mem_size == 0x1000);
    CHECK(elf.notes[0].align == 8);
    CHECK(elf.has_pvh_entry);
    CHECK(elf.pvh_entry == 0x100020);

    ElfNoteReader reader(image.ptr(), image.size(), elf);
    ElfNote n;
    REQUIRE(reader.next(&n, nullptr) == Status::OK);
    CHECK(n.desc_size == 8);
    REQUIRE(reader.next(&n, nullptr) == Status::OK);
    CHECK(n.type == 5);
    CHECK(n.desc_size == 0);
    CHECK(reader.next(&n, nullptr) == Status::NOT_FOUND);
}

TEST_CASE("elf: a physical entry, an entry outside every segment, no notes", "[boot][elf]")
{
    Bytes image;
    write_elf(image, true, 0x5000, {{PT_LOAD, 5, 0x100, 0xffffffff80100000, 0x100000, 0x10, 0x20, 16}});
    image.fit(0x110);
    ElfImage elf;
    REQUIRE(parse(image, &elf) == Status::OK);
    CHECK_FALSE(elf.entry_in_segment);
    CHECK(elf.note_count == 0);
    CHECK_FALSE(elf.has_pvh_entry);

    // As in Linux's vmlinux: e_entry is the physical address.
    image.put64(24, 0x10001f);
    REQUIRE(parse(image, &elf) == Status::OK);
    CHECK(elf.entry_in_segment);
    CHECK(elf.entry_paddr == 0x10001f);
    image.put64(24, 0x100020);
    REQUIRE(parse(image, &elf) == Status::OK);
    CHECK_FALSE(elf.entry_in_segment);
}

TEST_CASE("elf: every truncation of a valid image is refused cleanly", "[boot][elf]")
{
    const Bytes image = sample_elf64();
    for (usize length = 0; length < image.size(); ++length) {
        const std::vector<u8> cut = boot_test::prefix(image, length);
        ElfImage elf;
        const char* why = nullptr;
        INFO("length " << length);
        REQUIRE(parse_elf(cut.data(), cut.size(), &elf, &why) != Status::OK);
        REQUIRE(why != nullptr);
    }
}

TEST_CASE("elf: malformed headers", "[boot][elf]")
{
    const Bytes good = sample_elf64();
    auto with = [&](auto change) {
        Bytes b = good;
        change(b);
        return failure(b);
    };
    CHECK(with([](Bytes& b) { b.put8(1, 'e'); }) == "not an ELF image (bad magic)");
    CHECK(with([](Bytes& b) { b.put8(4, 3); }) == "ELF class is neither ELF32 nor ELF64");
    CHECK(with([](Bytes& b) { b.put8(5, 2); }) == "ELF image is not little-endian");
    CHECK(with([](Bytes& b) { b.put8(6, 0); }) == "ELF identification version is not 1");
    CHECK(with([](Bytes& b) { b.put16(16, 1); }) == "ELF image is neither ET_EXEC nor ET_DYN");
    CHECK(with([](Bytes& b) { b.put16(18, 3); }) == "ELF64 image is not EM_X86_64");
    CHECK(with([](Bytes& b) { b.put32(20, 0); }) == "ELF e_version is not 1");
    CHECK(with([](Bytes& b) { b.put16(54, 32); }) == "ELF e_phentsize does not match its class");
    CHECK(with([](Bytes& b) { b.put16(56, 0); }) == "ELF image has no program headers");
    CHECK(with([](Bytes& b) { b.put16(56, 0xffff); }) == "ELF image has 65535 or more program headers");
    CHECK(with([](Bytes& b) { b.put16(56, 30); }) == "ELF program headers extend past the end of the file");
    CHECK(with([](Bytes& b) { b.put64(32, ~u64{0} - 8); }) == "ELF program headers extend past the end of the file");

    Bytes elf32;
    write_elf(elf32, false, 0, {{PT_LOAD, 5, 0x60, 0, 0x100000, 4, 4, 4}});
    elf32.fit(0x64);
    elf32.put16(18, 62);
    CHECK(failure(elf32) == "ELF32 image is not EM_386");
    CHECK(failure(Bytes(15)) == "too small for an ELF header");
}

TEST_CASE("elf: malformed segments", "[boot][elf]")
{
    auto one = [](bool is64, Phdr p, usize file_size = 0x1000) {
        Bytes b;
        write_elf(b, is64, 0, {p});
        b.fit(file_size);
        return failure(b);
    };
    CHECK(one(true, {PT_LOAD, 5, 0x100, 0, 0x100000, 0x20, 0x10, 0}) == "PT_LOAD segment has p_filesz > p_memsz");
    CHECK(one(true, {PT_LOAD, 5, 0xff0, 0, 0x100000, 0x20, 0x20, 0}) ==
          "PT_LOAD segment extends past the end of the file");
    CHECK(one(true, {PT_LOAD, 5, ~u64{0}, 0, 0x100000, 2, 2, 0}) == "PT_LOAD segment extends past the end of the file");
    CHECK(one(true, {PT_LOAD, 5, 0x100, 0, ~u64{0} - 0xf, 0x10, 0x20, 0}) ==
          "PT_LOAD segment's physical address range overflows");
    CHECK(one(false, {PT_LOAD, 5, 0x100, 0, 0xfffff000, 0x10, 0x2000, 0}) == "ELF32 PT_LOAD segment ends above 4 GiB");
    CHECK(one(true, {PT_NOTE, 4, 0xf00, 0, 0, 0x200, 0, 4}) == "PT_NOTE segment extends past the end of the file");
    CHECK(one(true, {PT_LOAD, 5, 0x100, 0, 0x100000, 0, 0, 0}) == "ELF image has no PT_LOAD segment with memory");

    Bytes overlap;
    write_elf(overlap, true, 0,
              {{PT_LOAD, 5, 0x200, 0, 0x100000, 0x10, 0x2000, 0}, {PT_LOAD, 5, 0x300, 0, 0x101fff, 0x10, 0x10, 0}});
    overlap.fit(0x400);
    CHECK(failure(overlap) == "two PT_LOAD segments overlap in physical memory");

    Bytes inside;  // the second lies wholly inside the first
    write_elf(inside, true, 0,
              {{PT_LOAD, 5, 0x200, 0, 0x100000, 0, 0x10000, 0}, {PT_LOAD, 5, 0x300, 0, 0x104000, 0x10, 0x10, 0}});
    inside.fit(0x400);
    CHECK(failure(inside) == "two PT_LOAD segments overlap in physical memory");

    Bytes touching;  // adjacent is fine
    write_elf(touching, true, 0,
              {{PT_LOAD, 5, 0x200, 0, 0x100000, 0x10, 0x1000, 0}, {PT_LOAD, 5, 0x300, 0, 0x101000, 0x10, 0x10, 0}});
    touching.fit(0x400);
    ElfImage elf;
    CHECK(parse(touching, &elf) == Status::OK);
}

TEST_CASE("elf: a bss-only segment's p_offset past the file is accepted and its file range is empty", "[boot][elf]")
{
    // Found by fuzz-loaders: the segment was kept with file_offset ~0, which
    // the domain builder turned into a pointer far past the image.
    for (u64 offset : {u64{0x5000}, ~u64{0}, u64{0x10000000}}) {
        Bytes b;
        write_elf(b, true, 0x100000,
                  {{PT_LOAD, 5, 0x100, 0x100000, 0x100000, 0x10, 0x10, 0},
                   {PT_LOAD, 6, offset, 0x200000, 0x200000, 0, 0x3000, 0}});
        b.fit(0x200);
        ElfImage elf;
        REQUIRE(parse(b, &elf) == Status::OK);
        REQUIRE(elf.segment_count == 2);
        CHECK(elf.segments[1].file_size == 0);
        CHECK(elf.segments[1].file_offset == 0);
        CHECK(elf.segments[1].mem_size == 0x3000);
        CHECK(elf.paddr_end == 0x203000);
    }
}

TEST_CASE("elf: at most 16 PT_LOAD segments", "[boot][elf]")
{
    auto with_segments = [](usize n) {
        std::vector<Phdr> phdrs;
        for (usize i = 0; i < n; ++i) phdrs.push_back({PT_LOAD, 5, 0x1000, 0, 0x100000 + i * 0x1000, 0x10, 0x10, 0});
        Bytes b;
        write_elf(b, true, 0, phdrs);
        b.fit(0x1010);
        return b;
    };
    ElfImage elf;
    REQUIRE(parse(with_segments(16), &elf) == Status::OK);
    CHECK(elf.segment_count == 16);
    CHECK(elf.paddr_end == 0x100000 + 15 * 0x1000 + 0x10);
    std::string why;
    CHECK(parse(with_segments(17), &elf, &why) == Status::TOO_LARGE);
    CHECK(why == "more than 16 PT_LOAD segments");
}

TEST_CASE("elf: malformed notes", "[boot][elf]")
{
    auto with_notes = [](const std::vector<u8>& notes, u64 segment_size) {
        Bytes b;
        write_elf(b, true, 0,
                  {{PT_LOAD, 5, 0x400, 0, 0x100000, 0x10, 0x10, 0}, {PT_NOTE, 4, 0x200, 0, 0, segment_size, 0, 4}});
        b.put_bytes(0x200, notes);
        b.fit(0x410);
        return b;
    };
    const std::vector<u8> xen = note("Xen", kXenElfNotePhys32Entry, le32(0x1000));
    CHECK(failure(with_notes(xen, xen.size() - 1)) == "ELF note runs past its PT_NOTE segment");
    Bytes huge_name = with_notes(xen, xen.size());
    huge_name.put32(0x200, 0xffffffff);
    CHECK(failure(huge_name) == "ELF note runs past its PT_NOTE segment");
    Bytes huge_desc = with_notes(xen, xen.size());
    huge_desc.put32(0x204, 0xfffffffc);
    CHECK(failure(huge_desc) == "ELF note runs past its PT_NOTE segment");
    CHECK(failure(with_notes(note("Xen", kXenElfNotePhys32Entry, {1, 2, 3}), 16 + 4)) ==
          "Xen PHYS32_ENTRY note's descriptor is not 4 or 8 bytes");
    CHECK(failure(with_notes(note("Xen", kXenElfNotePhys32Entry, le64(0x100000000)), 16 + 8)) ==
          "Xen PHYS32_ENTRY is above 4 GiB");
    const std::vector<u8> two = concat(xen, note("Xen", kXenElfNotePhys32Entry, le32(0x2000)));
    CHECK(failure(with_notes(two, two.size())) == "two Xen PHYS32_ENTRY notes disagree");

    // Same value twice is fine; "Xen" of another type, or another owner's
    // type 18, is not the PVH entry; a short tail is segment padding.
    const std::vector<u8> ok = concat(concat(concat(xen, xen), note("Xen", 17, le32(7))), note("Xe", 18, le32(9)));
    ElfImage elf;
    REQUIRE(parse(with_notes(ok, ok.size() + 8), &elf) == Status::OK);
    CHECK(elf.pvh_entry == 0x1000);
}
