// Multiboot 1 and 2 headers: search, checksum, flags and tags, load plans.
#include "boot/multiboot.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "boot_image_bytes.hpp"

using namespace xeno;
using namespace xeno::boot;
using boot_test::Bytes;

namespace {

// --- Multiboot 1 ---------------------------------------------------------

struct Mb1Address {
    u32 header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
};

void put_mb1_header(Bytes& image, usize at, u32 flags, const Mb1Address* address = nullptr)
{
    image.put32(at, kMultiboot1HeaderMagic);
    image.put32(at + 4, flags);
    image.put32(at + 8, static_cast<u32>(0u - kMultiboot1HeaderMagic - flags));
    if (address) {
        image.put32(at + 12, address->header_addr);
        image.put32(at + 16, address->load_addr);
        image.put32(at + 20, address->load_end_addr);
        image.put32(at + 24, address->bss_end_addr);
        image.put32(at + 28, address->entry_addr);
    }
}

// An a.out-kludge kernel: header at 0x40, loaded from file offset 0 to 1 MiB,
// 0x800 bytes of text+data (the whole file), bss up to 0x102000.
Bytes kludge_kernel(Mb1Address a = {0x100040, 0x100000, 0x100800, 0x102000, 0x100080})
{
    Bytes image(0x800);
    put_mb1_header(image, 0x40, 1u << 16 | 1u << 1 | 1u << 0, &a);
    return image;
}

Status parse1(const Bytes& image, Multiboot1Header* h, std::string* why = nullptr)
{
    const char* reason = nullptr;
    const Status s = parse_multiboot1_header(image.ptr(), image.size(), h, &reason);
    if (s != Status::OK) REQUIRE(reason != nullptr);
    if (why) *why = reason ? reason : "";
    return s;
}

std::string failure1(const Bytes& image, Status expected)
{
    Multiboot1Header h;
    std::string why;
    CHECK(parse1(image, &h, &why) == expected);
    return why;
}

// --- Multiboot 2 ---------------------------------------------------------

struct Mb2Builder {
    Bytes tags;

    Mb2Builder& tag(u16 type, u16 flags, const std::vector<u32>& words)
    {
        const usize at = tags.size();
        tags.put16(at, type);
        tags.put16(at + 2, flags);
        tags.put32(at + 4, static_cast<u32>(8 + 4 * words.size()));
        for (usize i = 0; i < words.size(); ++i) tags.put32(at + 8 + 4 * i, words[i]);
        tags.fit((tags.size() + 7) & ~usize{7});
        return *this;
    }
    Mb2Builder& end() { return tag(0, 0, {}); }

    // The header (magic, architecture, length, checksum, tags) at `at`.
    void put(Bytes& image, usize at, u32 arch = 0, u32 length_override = 0) const
    {
        const u32 length = length_override ? length_override : static_cast<u32>(16 + tags.size());
        image.put32(at, kMultiboot2HeaderMagic);
        image.put32(at + 4, arch);
        image.put32(at + 8, length);
        image.put32(at + 12, static_cast<u32>(0u - kMultiboot2HeaderMagic - arch - length));
        image.put_bytes(at + 16, tags.data);
    }
};

Status parse2(const Bytes& image, Multiboot2Header* h, std::string* why = nullptr)
{
    const char* reason = nullptr;
    const Status s = parse_multiboot2_header(image.ptr(), image.size(), h, &reason);
    if (s != Status::OK) REQUIRE(reason != nullptr);
    if (why) *why = reason ? reason : "";
    return s;
}

std::string failure2(const Mb2Builder& b, Status expected, usize image_size = 0x1000)
{
    Bytes image(image_size);
    b.put(image, 0x100);
    Multiboot2Header h;
    std::string why;
    CHECK(parse2(image, &h, &why) == expected);
    return why;
}

}  // namespace

TEST_CASE("multiboot1: an ELF kernel's header (no address fields)", "[boot][multiboot]")
{
    Bytes image(0x3000);
    put_mb1_header(image, 0x1000, 1u << 1);
    Multiboot1Header h;
    REQUIRE(parse1(image, &h) == Status::OK);
    CHECK(h.offset == 0x1000);
    CHECK(h.flags == 2);
    CHECK_FALSE(h.modules_page_aligned);
    CHECK(h.wants_memory_info);
    CHECK_FALSE(h.has_load_plan);

    // Optional flags (16-31) Xeno does not know are fine.
    put_mb1_header(image, 0x1000, 1u << 0 | 1u << 20);
    REQUIRE(parse1(image, &h) == Status::OK);
    CHECK(h.modules_page_aligned);
    CHECK_FALSE(h.wants_memory_info);
}

TEST_CASE("multiboot1: the a.out kludge load plan", "[boot][multiboot]")
{
    Multiboot1Header h;
    REQUIRE(parse1(kludge_kernel(), &h) == Status::OK);
    CHECK(h.offset == 0x40);
    REQUIRE(h.has_load_plan);
    CHECK(h.load.file_offset == 0);
    CHECK(h.load.file_size == 0x800);
    CHECK(h.load.load_addr == 0x100000);
    CHECK(h.load.load_end == 0x100800);
    CHECK(h.load.bss_end == 0x102000);
    CHECK(h.load.entry == 0x100080);

    // load_end_addr 0: the rest of the file; bss_end_addr 0: no bss; a
    // load_addr past the file's start: loading starts inside the file.
    REQUIRE(parse1(kludge_kernel({0x200040, 0x200020, 0, 0, 0x200040}), &h) == Status::OK);
    CHECK(h.load.file_offset == 0x20);
    CHECK(h.load.file_size == 0x800 - 0x20);
    CHECK(h.load.load_end == 0x200020 + 0x7e0);
    CHECK(h.load.bss_end == h.load.load_end);
}

TEST_CASE("multiboot1: bad load addresses", "[boot][multiboot]")
{
    CHECK(failure1(kludge_kernel({0x100040, 0x100044, 0, 0, 0x100044}), Status::BAD_ARGUMENT) ==
          "multiboot load_addr is above header_addr");
    CHECK(failure1(kludge_kernel({0x100040, 0x0fff00, 0, 0, 0x100000}), Status::BAD_ARGUMENT) ==
          "multiboot load_addr lies before the start of the file");
    CHECK(failure1(kludge_kernel({0x100040, 0x100000, 0x100801, 0, 0x100000}), Status::BAD_ARGUMENT) ==
          "multiboot load_end_addr lies past the end of the file");
    CHECK(failure1(kludge_kernel({0x100040, 0x100000, 0x0fffff, 0, 0x100000}), Status::BAD_ARGUMENT) ==
          "multiboot load_end_addr is below load_addr");
    CHECK(failure1(kludge_kernel({0x100040, 0x100000, 0x100800, 0x100700, 0x100000}), Status::BAD_ARGUMENT) ==
          "multiboot bss_end_addr is below the end of the loaded data");
    CHECK(failure1(kludge_kernel({0x100040, 0x100000, 0x100800, 0, 0x100800}), Status::BAD_ARGUMENT) ==
          "multiboot entry address is outside the loaded image");
    CHECK(failure1(kludge_kernel({0x100040, 0x100000, 0x100800, 0, 0xfffff}), Status::BAD_ARGUMENT) ==
          "multiboot entry address is outside the loaded image");
    CHECK(failure1(kludge_kernel({0xfffffc40, 0xfffffc00, 0, 0, 0xfffffc00}), Status::BAD_ARGUMENT) ==
          "multiboot image would end above 4 GiB");
}

TEST_CASE("multiboot1: header search, checksum and requirement flags", "[boot][multiboot]")
{
    Bytes none(0x4000);
    CHECK(failure1(none, Status::NOT_FOUND) == "no multiboot header in the first 8192 bytes");

    Bytes unaligned(0x3000);
    put_mb1_header(unaligned, 0x1002, 0);
    failure1(unaligned, Status::NOT_FOUND);

    Bytes too_far(0x4000);
    put_mb1_header(too_far, 0x2000, 0);
    failure1(too_far, Status::NOT_FOUND);

    Bytes straddles(0x4000);  // magic inside the first 8192 bytes, checksum past them
    put_mb1_header(straddles, 0x1ffc, 0);
    CHECK(failure1(straddles, Status::BAD_ARGUMENT) ==
          "multiboot header is cut off by the end of the file or the 8192-byte limit");

    Bytes kludge_straddles(0x4000);  // the address fields (flag 16) past 8192
    const Mb1Address a{0x101fe8, 0x100000, 0, 0, 0x100000};
    put_mb1_header(kludge_straddles, 0x1fe8, 1u << 16, &a);
    CHECK(failure1(kludge_straddles, Status::BAD_ARGUMENT) ==
          "multiboot header's address fields (flag 16) are cut off");

    Bytes bad_sum(0x3000);
    put_mb1_header(bad_sum, 0x100, 0);
    bad_sum.put32(0x108, 0);
    CHECK(failure1(bad_sum, Status::BAD_ARGUMENT) == "multiboot header has a bad checksum");

    // A stray magic with a bad checksum before the real header is skipped.
    put_mb1_header(bad_sum, 0x200, 1u << 1);
    Multiboot1Header h;
    REQUIRE(parse1(bad_sum, &h) == Status::OK);
    CHECK(h.offset == 0x200);

    Bytes video(0x1000);
    put_mb1_header(video, 0, 1u << 2);
    CHECK(failure1(video, Status::UNSUPPORTED) ==
          "multiboot header requires video mode information (flag 2), which Xeno does not provide");
    for (unsigned bit = 3; bit < 16; ++bit) {
        Bytes unknown(0x1000);
        put_mb1_header(unknown, 0, 1u << bit);
        INFO("flag bit " << bit);
        failure1(unknown, Status::UNSUPPORTED);
    }
}

TEST_CASE("multiboot1: every truncation is refused cleanly", "[boot][multiboot]")
{
    const Bytes image = kludge_kernel();
    for (usize length = 0; length < image.size(); ++length) {
        const std::vector<u8> cut = boot_test::prefix(image, length);
        Multiboot1Header h;
        const char* why = nullptr;
        INFO("length " << length);
        REQUIRE(parse_multiboot1_header(cut.data(), cut.size(), &h, &why) != Status::OK);
        REQUIRE(why != nullptr);
    }
}

TEST_CASE("multiboot2: every tag of an a.out-style header", "[boot][multiboot]")
{
    Mb2Builder b;
    b.tag(1, 0, {1, 6, 14})                           // required: cmdline, mmap, ACPI old
        .tag(1, 1, {3, 21, 8, 15})                    // optional, 8 (framebuffer) unsupported
        .tag(2, 0, {0x100100, 0x100000, 0x101000, 0x180000})
        .tag(3, 0, {0x100200})
        .tag(4, 1, {3})                               // console required, but the tag is optional
        .tag(5, 0, {1024, 768, 32})
        .tag(6, 0, {})
        .tag(7, 0, {})
        .tag(8, 0, {0x1234})
        .tag(9, 0, {0x5678})
        .tag(10, 0, {0x100000, 0x10000000, 0x200000, 1})
        .tag(42, 1, {7, 7})                           // unknown, optional
        .end();
    Bytes image(0x2000);
    b.put(image, 0x100);
    Multiboot2Header h;
    REQUIRE(parse2(image, &h) == Status::OK);
    CHECK(h.offset == 0x100);
    CHECK(h.header_length == 16 + b.tags.size());
    CHECK(h.required_info_tags == (1u << 1 | 1u << 6 | 1u << 14));
    CHECK(h.optional_info_tags == (1u << 3 | 1u << 15 | 1u << 21));
    CHECK(h.has_entry);
    CHECK(h.entry == 0x100200);
    REQUIRE(h.has_load_plan);
    CHECK(h.load.file_offset == 0);
    CHECK(h.load.file_size == 0x1000);
    CHECK(h.load.load_addr == 0x100000);
    CHECK(h.load.load_end == 0x101000);
    CHECK(h.load.bss_end == 0x180000);
    CHECK(h.load.entry == 0x100200);
    CHECK(h.modules_page_aligned);
    CHECK(h.wants_framebuffer);
    CHECK(h.framebuffer_width == 1024);
    CHECK(h.framebuffer_height == 768);
    CHECK(h.framebuffer_depth == 32);
    CHECK(h.relocatable);
    CHECK(h.relocatable_min == 0x100000);
    CHECK(h.relocatable_max == 0x10000000);
    CHECK(h.relocatable_align == 0x200000);
    CHECK(h.relocatable_preference == 1);
}

TEST_CASE("multiboot2: an ELF kernel's minimal header, and load_addr -1", "[boot][multiboot]")
{
    Mb2Builder minimal;
    minimal.end();
    Bytes image(0x9000);
    minimal.put(image, 0x8000 - 24);  // ends exactly at the 32768-byte limit
    Multiboot2Header h;
    REQUIRE(parse2(image, &h) == Status::OK);
    CHECK(h.offset == 0x8000 - 24);
    CHECK(h.header_length == 24);
    CHECK_FALSE(h.has_entry);
    CHECK_FALSE(h.has_load_plan);
    CHECK(h.required_info_tags == 0);

    // load_addr -1: the file is loaded from its start, placed so that the
    // header lands at header_addr.
    Mb2Builder whole;
    whole.tag(2, 0, {0x100100, 0xffffffff, 0, 0}).tag(3, 0, {0x100000}).end();
    Bytes kernel(0x800);
    whole.put(kernel, 0x100);
    REQUIRE(parse2(kernel, &h) == Status::OK);
    REQUIRE(h.has_load_plan);
    CHECK(h.load.file_offset == 0);
    CHECK(h.load.load_addr == 0x100000);
    CHECK(h.load.file_size == 0x800);
    CHECK(h.load.bss_end == 0x100800);
}

TEST_CASE("multiboot2: malformed and unsupported headers", "[boot][multiboot]")
{
    Mb2Builder ok;
    ok.end();
    {
        Bytes image(0x1000);
        ok.put(image, 0x100, 4);
        Multiboot2Header h;
        std::string why;
        CHECK(parse2(image, &h, &why) == Status::UNSUPPORTED);
        CHECK(why == "multiboot2 header is not for i386 (architecture is not 0)");
    }
    {
        Bytes image(0x1000);
        ok.put(image, 0x100, 0, 16);
        Multiboot2Header h;
        std::string why;
        CHECK(parse2(image, &h, &why) == Status::BAD_ARGUMENT);
        CHECK(why == "multiboot2 header_length is too small for an end tag");
    }
    {
        Bytes image(0x110);
        ok.put(image, 0x100, 0, 32);  // longer than the file
        Multiboot2Header h;
        std::string why;
        CHECK(parse2(image, &h, &why) == Status::BAD_ARGUMENT);
        CHECK(why == "multiboot2 header extends past the end of the file");
    }
    {
        Bytes image(0x9000);
        ok.put(image, 0x8000 - 16, 0, 24);  // past the 32768-byte limit
        Multiboot2Header h;
        std::string why;
        CHECK(parse2(image, &h, &why) == Status::BAD_ARGUMENT);
        CHECK(why == "multiboot2 header extends past the first 32768 bytes");
    }
    {
        Bytes image(0x1000);
        ok.put(image, 0x100);
        image.put32(0x10c, 0);
        Multiboot2Header h;
        std::string why;
        CHECK(parse2(image, &h, &why) == Status::BAD_ARGUMENT);
        CHECK(why == "multiboot2 header has a bad checksum");
    }
    {
        Bytes image(0x10000);
        ok.put(image, 0x104);  // 4- but not 8-aligned
        ok.put(image, 0x8000);  // beyond the search limit
        Multiboot2Header h;
        std::string why;
        CHECK(parse2(image, &h, &why) == Status::NOT_FOUND);
        CHECK(why == "no multiboot2 header in the first 32768 bytes");
    }

    Mb2Builder no_end;
    no_end.tag(6, 0, {});
    CHECK(failure2(no_end, Status::BAD_ARGUMENT) == "multiboot2 header has no end tag");
    Mb2Builder long_end;
    long_end.tag(0, 0, {0, 0});
    CHECK(failure2(long_end, Status::BAD_ARGUMENT) == "multiboot2 header's end tag is not 8 bytes");
    Mb2Builder tiny_tag;
    tiny_tag.tag(6, 0, {}).end();
    tiny_tag.tags.put32(4, 4);
    CHECK(failure2(tiny_tag, Status::BAD_ARGUMENT) == "multiboot2 header tag's size runs outside header_length");
    Mb2Builder huge_tag;
    huge_tag.tag(6, 0, {}).end();
    huge_tag.tags.put32(4, 0x100);
    CHECK(failure2(huge_tag, Status::BAD_ARGUMENT) == "multiboot2 header tag's size runs outside header_length");
    Mb2Builder short_address;
    short_address.tag(2, 0, {0x100100, 0x100000}).end();
    CHECK(failure2(short_address, Status::BAD_ARGUMENT) == "multiboot2 header tag is shorter than its type needs");
    Mb2Builder framebuffer_info;
    framebuffer_info.tag(1, 0, {1, 8}).end();
    CHECK(failure2(framebuffer_info, Status::UNSUPPORTED) ==
          "multiboot2 header requires an information tag Xeno does not provide (only 1-4, 6, 14, 15, 21)");
    Mb2Builder big_type;
    big_type.tag(1, 0, {40}).end();
    failure2(big_type, Status::UNSUPPORTED);
    Mb2Builder unknown;
    unknown.tag(42, 0, {}).end();
    CHECK(failure2(unknown, Status::UNSUPPORTED) ==
          "multiboot2 header has a tag Xeno does not know, not marked optional");
    Mb2Builder console;
    console.tag(4, 0, {1}).end();
    CHECK(failure2(console, Status::UNSUPPORTED) ==
          "multiboot2 header requires a console Xeno does not describe (console flags tag)");
    Mb2Builder no_entry;
    no_entry.tag(2, 0, {0x100100, 0x100000, 0, 0}).end();
    CHECK(failure2(no_entry, Status::BAD_ARGUMENT) == "multiboot2 header has an address tag but no entry address tag");
    Mb2Builder reloc;
    reloc.tag(10, 0, {0x200000, 0x100000, 0x1000, 0}).end();
    CHECK(failure2(reloc, Status::BAD_ARGUMENT) == "multiboot2 relocatable tag has min_addr above max_addr");
    Mb2Builder reloc_align;
    reloc_align.tag(10, 0, {0x100000, 0x200000, 0x3000, 0}).end();
    CHECK(failure2(reloc_align, Status::BAD_ARGUMENT) == "multiboot2 relocatable tag's align is not a power of two");
    Mb2Builder below_zero;  // load_addr -1 with header_addr below the header's offset
    below_zero.tag(2, 0, {0x80, 0xffffffff, 0, 0}).tag(3, 0, {0x80}).end();
    CHECK(failure2(below_zero, Status::BAD_ARGUMENT) == "multiboot header_addr puts the file's start below address 0");
    Mb2Builder console_ok;  // console flags without "required" are fine
    console_ok.tag(4, 0, {2}).end();
    failure2(console_ok, Status::OK);
}

TEST_CASE("multiboot2: every truncation is refused cleanly", "[boot][multiboot]")
{
    Mb2Builder b;  // load_end_addr at the file's end: a shorter file is a cut one
    b.tag(1, 0, {6}).tag(2, 0, {0x100100, 0x100000, 0x100400, 0x200000}).tag(3, 0, {0x100180}).end();
    Bytes image(0x400);
    b.put(image, 0x100);
    Multiboot2Header h;
    REQUIRE(parse2(image, &h) == Status::OK);
    CHECK(h.load.file_size == 0x400);
    for (usize length = 0; length < image.size(); ++length) {
        const std::vector<u8> cut = boot_test::prefix(image, length);
        const char* why = nullptr;
        INFO("length " << length);
        REQUIRE(parse_multiboot2_header(cut.data(), cut.size(), &h, &why) != Status::OK);
        REQUIRE(why != nullptr);
    }
}
