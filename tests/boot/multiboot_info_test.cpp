// The multiboot 1 and 2 information writers: every field decoded back.
#include "boot/multiboot.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "boot_image_bytes.hpp"

using namespace xeno;
using namespace xeno::boot;
using boot_test::get16;
using boot_test::get32;
using boot_test::get64;
using boot_test::GuardedBuffer;

namespace {

const E820Entry kMap[] = {
    {0x0, 0x9fc00, kE820Ram},
    {0x9fc00, 0x400, kE820Reserved},
    {0xf0000, 0x10000, kE820Reserved},
    {0x100000, 0x7f00000, kE820Ram},
    {0x8000000, 0x20000, kE820Acpi},
    {0xfec00000, 0x1000, kE820Reserved},
    {0x100000000, 0x40000000, kE820Ram},
};
constexpr usize kMapCount = sizeof kMap / sizeof kMap[0];
constexpr u32 kMemLower = 0x9fc00 / 1024;              // 639
constexpr u32 kMemUpper = (0x8000000 - 0x100000) / 1024;  // up to the first hole above 1 MiB

const BootModule kModules[] = {
    {0x2000000, 0x12345, "initrd.img rdinit=/init"},
    {0x3000000, 0x1000, nullptr},
};

std::vector<u8> rsdp(usize size)
{
    std::vector<u8> r(size);
    for (usize i = 0; i < size; ++i) r[i] = static_cast<u8>(0x40 + i);
    return r;
}

GuestBootInputs sample_inputs(const std::vector<u8>& rsdp_bytes)
{
    GuestBootInputs in;
    in.cmdline = "console=ttyS0 quiet";
    in.modules = kModules;
    in.module_count = 2;
    in.memory_map = kMap;
    in.memory_map_count = kMapCount;
    in.rsdp = rsdp_bytes.data();
    in.rsdp_size = rsdp_bytes.size();
    return in;
}

// Runs `write(out, capacity, &where, &why)` at every capacity below what it
// needs: each must fail with TOO_LARGE, a reason, and nothing past the end.
template <typename Write>
void check_too_small_buffers(usize needed, u64 base, Write write)
{
    for (usize capacity = 0; capacity < needed; ++capacity) {
        GuardedBuffer buf(capacity, base);
        BootInfoPlacement where{};
        const char* why = nullptr;
        INFO("capacity " << capacity);
        REQUIRE(write(buf.out(), capacity, &where, &why) == Status::TOO_LARGE);
        REQUIRE(why != nullptr);
        REQUIRE(buf.guard_intact());
    }
}

}  // namespace

TEST_CASE("multiboot1 info: every field", "[boot][multiboot]")
{
    const std::vector<u8> no_rsdp;
    const GuestBootInputs in = sample_inputs(no_rsdp);
    const u64 base = 0x9004;  // not 8-aligned: the writer aligns the structure
    GuardedBuffer buf(4096, base);
    BootInfoPlacement where{};
    const char* why = nullptr;
    REQUIRE(write_multiboot1_info(in, buf.out(), buf.capacity, base, &where, &why) == Status::OK);
    REQUIRE(buf.guard_intact());
    CHECK(where.info_gpa == 0x9008);
    const usize used = where.bytes_used;
    REQUIRE(used <= buf.capacity);

    const u8* info = buf.at(where.info_gpa, 116, used);
    CHECK(get32(info + 0) == (1u << 0 | 1u << 2 | 1u << 3 | 1u << 6 | 1u << 9));
    CHECK(get32(info + 4) == kMemLower);
    CHECK(get32(info + 8) == kMemUpper);
    CHECK(get32(info + 12) == 0);  // boot_device absent
    CHECK(buf.string_at(get32(info + 16), used) == "console=ttyS0 quiet");
    CHECK(buf.string_at(get32(info + 64), used) == "Xeno");
    for (usize off : {28, 32, 36, 40, 52, 56, 60, 68, 72, 76, 80, 84, 88, 96, 100, 104, 108, 112})
        CHECK(get32(info + off) == 0);  // syms, drives, config, APM, VBE, framebuffer: absent

    REQUIRE(get32(info + 20) == 2);
    const u32 mods_addr = get32(info + 24);
    CHECK(mods_addr % 4 == 0);
    const u8* mods = buf.at(mods_addr, 32, used);
    CHECK(get32(mods + 0) == 0x2000000);
    CHECK(get32(mods + 4) == 0x2012345);
    CHECK(buf.string_at(get32(mods + 8), used) == "initrd.img rdinit=/init");
    CHECK(get32(mods + 12) == 0);
    CHECK(get32(mods + 16) == 0x3000000);
    CHECK(get32(mods + 20) == 0x3001000);
    CHECK(buf.string_at(get32(mods + 24), used) == "");
    CHECK(get32(mods + 28) == 0);

    const u32 mmap_length = get32(info + 44), mmap_addr = get32(info + 48);
    REQUIRE(mmap_length == kMapCount * 24);
    const u8* mmap = buf.at(mmap_addr, mmap_length, used);
    // Walk as a kernel does: each entry's size field does not count itself.
    usize n = 0;
    for (usize at = 0; at < mmap_length; at += get32(mmap + at) + 4, ++n) {
        REQUIRE(n < kMapCount);
        CHECK(get32(mmap + at) == 20);
        CHECK(get64(mmap + at + 4) == kMap[n].addr);
        CHECK(get64(mmap + at + 12) == kMap[n].size);
        CHECK(get32(mmap + at + 20) == kMap[n].type);
    }
    CHECK(n == kMapCount);

    check_too_small_buffers(used, base, [&](u8* out, usize capacity, BootInfoPlacement* w, const char** y) {
        return write_multiboot1_info(in, out, capacity, base, w, y);
    });
}

TEST_CASE("multiboot1 info: absent command line, modules and map", "[boot][multiboot]")
{
    GuestBootInputs in;
    GuardedBuffer buf(512, 0x7000);
    BootInfoPlacement where{};
    REQUIRE(write_multiboot1_info(in, buf.out(), buf.capacity, 0x7000, &where, nullptr) == Status::OK);
    const u8* info = buf.at(where.info_gpa, 116, where.bytes_used);
    CHECK(get32(info) == (1u << 0 | 1u << 3 | 1u << 9));
    CHECK(get32(info + 4) == 0);
    CHECK(get32(info + 8) == 0);
    CHECK(get32(info + 16) == 0);
    CHECK(get32(info + 20) == 0);
    CHECK(get32(info + 24) == 0);
    CHECK(get32(info + 44) == 0);
    CHECK(where.bytes_used == 116 + 5);
}

TEST_CASE("multiboot1 info: below 4 GiB only", "[boot][multiboot]")
{
    GuestBootInputs in;
    GuardedBuffer buf(512, 0);
    BootInfoPlacement where{};
    const char* why = nullptr;
    CHECK(write_multiboot1_info(in, buf.out(), buf.capacity, 0x100000000, &where, &why) == Status::BAD_ARGUMENT);
    CHECK(std::string(why) == "multiboot information must lie below 4 GiB");
    CHECK(write_multiboot1_info(in, buf.out(), buf.capacity, 0xffffffa0, &where, &why) == Status::BAD_ARGUMENT);
    CHECK(std::string(why) == "multiboot information must lie below 4 GiB");
    const BootModule high[] = {{0xfffff000, 0x2000, "x"}};
    in.modules = high;
    in.module_count = 1;
    CHECK(write_multiboot1_info(in, buf.out(), buf.capacity, 0x1000, &where, &why) == Status::BAD_ARGUMENT);
    CHECK(std::string(why) == "a multiboot module must lie below 4 GiB");
    CHECK(write_multiboot2_info(in, 0, buf.out(), buf.capacity, 0x1000, &where, &why) == Status::BAD_ARGUMENT);
    in.modules = nullptr;
    CHECK(write_multiboot1_info(in, buf.out(), buf.capacity, 0x1000, &where, &why) == Status::BAD_ARGUMENT);
    REQUIRE(buf.guard_intact());
}

TEST_CASE("multiboot1 info: mem_lower/mem_upper from an unsorted, split map", "[boot][multiboot]")
{
    const E820Entry map[] = {
        {0x200000, 0x100000, kE820Ram},  // joins the entry below it
        {0x100000, 0x100000, kE820Ram},
        {0x0, 0x1000, kE820Ram},
        {0x1000, 0x9f000, kE820Ram},     // low RAM reaches 640 KiB: mem_lower is capped there
        {0xa0000, 0x60000, kE820Ram},
        {0x400000, 0x100000, kE820Ram},  // after a hole: not counted
    };
    GuestBootInputs in;
    in.memory_map = map;
    in.memory_map_count = 6;
    GuardedBuffer buf(1024, 0x1000);
    BootInfoPlacement where{};
    REQUIRE(write_multiboot1_info(in, buf.out(), buf.capacity, 0x1000, &where, nullptr) == Status::OK);
    const u8* info = buf.at(where.info_gpa, 116, where.bytes_used);
    CHECK(get32(info + 4) == 640);
    CHECK(get32(info + 8) == 2048);
}

TEST_CASE("multiboot2 info: every tag", "[boot][multiboot]")
{
    const std::vector<u8> rsdp36 = rsdp(36);
    const GuestBootInputs in = sample_inputs(rsdp36);
    const u64 base = 0x10004;
    GuardedBuffer buf(4096, base);
    BootInfoPlacement where{};
    const char* why = nullptr;
    const u32 required = 1u << 1 | 1u << 6 | 1u << 14 | 1u << 15;
    REQUIRE(write_multiboot2_info(in, required, buf.out(), buf.capacity, base, &where, &why) == Status::OK);
    REQUIRE(buf.guard_intact());
    CHECK(where.info_gpa == 0x10008);
    const usize used = where.bytes_used;
    const u8* info = buf.at(where.info_gpa, 8, used);
    const u32 total = get32(info);
    CHECK(get32(info + 4) == 0);
    CHECK(total == used - (where.info_gpa - base));
    CHECK(total % 8 == 0);

    std::vector<u32> types;
    usize modules = 0;
    for (u64 at = where.info_gpa + 8;;) {
        REQUIRE(at % 8 == 0);
        const u8* tag = buf.at(at, 8, used);
        const u32 type = get32(tag), size = get32(tag + 4);
        REQUIRE(size >= 8);
        REQUIRE(at + size <= where.info_gpa + total);
        tag = buf.at(at, size, used);
        types.push_back(type);
        switch (type) {
        case 1:
            CHECK(std::string(reinterpret_cast<const char*>(tag + 8), size - 9) == "console=ttyS0 quiet");
            CHECK(tag[size - 1] == 0);
            break;
        case 2: CHECK(size == 8 + 5); CHECK(std::string(reinterpret_cast<const char*>(tag + 8)) == "Xeno"); break;
        case 3: {
            const BootModule& m = kModules[modules++];
            CHECK(get32(tag + 8) == m.gpa);
            CHECK(get32(tag + 12) == m.gpa + m.size);
            const std::string name = m.cmdline ? m.cmdline : "";
            CHECK(size == 16 + name.size() + 1);
            CHECK(std::string(reinterpret_cast<const char*>(tag + 16)) == name);
            break;
        }
        case 4: CHECK(size == 16); CHECK(get32(tag + 8) == kMemLower); CHECK(get32(tag + 12) == kMemUpper); break;
        case 6:
            CHECK(size == 16 + 24 * kMapCount);
            CHECK(get32(tag + 8) == 24);
            CHECK(get32(tag + 12) == 0);
            for (usize i = 0; i < kMapCount; ++i) {
                const u8* e = tag + 16 + 24 * i;
                CHECK(get64(e) == kMap[i].addr);
                CHECK(get64(e + 8) == kMap[i].size);
                CHECK(get32(e + 16) == kMap[i].type);
                CHECK(get32(e + 20) == 0);
            }
            break;
        case 14: CHECK(size == 8 + 20); CHECK(std::vector<u8>(tag + 8, tag + 28) == rsdp(20)); break;
        case 15: CHECK(size == 8 + 36); CHECK(std::vector<u8>(tag + 8, tag + 44) == rsdp36); break;
        case 0: CHECK(size == 8); break;
        default: FAIL("unexpected tag " << type);
        }
        if (type == 0) {
            CHECK(at + 8 == where.info_gpa + total);
            break;
        }
        at += (size + 7) & ~u32{7};
    }
    CHECK(types == std::vector<u32>{1, 2, 3, 3, 4, 6, 14, 15, 0});

    check_too_small_buffers(used, base, [&](u8* out, usize capacity, BootInfoPlacement* w, const char** y) {
        return write_multiboot2_info(in, required, out, capacity, base, w, y);
    });
}

TEST_CASE("multiboot2 info: what the inputs lack, and the ACPI 1.0 RSDP", "[boot][multiboot]")
{
    GuestBootInputs in;
    GuardedBuffer buf(1024, 0x1000);
    BootInfoPlacement where{};
    const char* why = nullptr;
    REQUIRE(write_multiboot2_info(in, 1u << 1 | 1u << 3, buf.out(), buf.capacity, 0x1000, &where, &why) == Status::OK);
    // Only the command line (empty), the loader name and the end tag.
    CHECK(get32(buf.out()) == 8 + 16 + 16 + 8);
    CHECK(get32(buf.out() + 8) == 1);
    CHECK(get32(buf.out() + 12) == 9);
    CHECK(buf.out()[16] == 0);

    CHECK(write_multiboot2_info(in, 1u << 6, buf.out(), buf.capacity, 0x1000, &where, &why) == Status::NOT_FOUND);
    CHECK(std::string(why) == "the kernel requires a memory map and none was given");
    CHECK(write_multiboot2_info(in, 1u << 14, buf.out(), buf.capacity, 0x1000, &where, &why) == Status::NOT_FOUND);
    CHECK(std::string(why) == "the kernel requires the ACPI RSDP and none was given");

    const std::vector<u8> rsdp20 = rsdp(20);
    in.rsdp = rsdp20.data();
    in.rsdp_size = 20;
    CHECK(write_multiboot2_info(in, 1u << 15, buf.out(), buf.capacity, 0x1000, &where, &why) == Status::NOT_FOUND);
    CHECK(std::string(why) == "the kernel requires an ACPI 2.0 RSDP and none was given");
    REQUIRE(write_multiboot2_info(in, 1u << 14, buf.out(), buf.capacity, 0x1000, &where, &why) == Status::OK);
    // cmdline (16), name (16), ACPI old (28 -> 32), end.
    const u8* acpi = buf.out() + 8 + 16 + 16;
    CHECK(get32(acpi) == 14);
    CHECK(get32(acpi + 4) == 28);
    CHECK(std::vector<u8>(acpi + 8, acpi + 28) == rsdp20);
    CHECK(get32(acpi + 32) == 0);
    CHECK(get32(acpi + 36) == 8);

    in.rsdp_size = 24;
    CHECK(write_multiboot2_info(in, 0, buf.out(), buf.capacity, 0x1000, &where, &why) == Status::BAD_ARGUMENT);
    CHECK(std::string(why) == "an RSDP is 20 (ACPI 1.0) or 36 (ACPI 2.0+) bytes");
    REQUIRE(buf.guard_intact());
}

TEST_CASE("multiboot2 info: the image load base physical address tag (21)", "[boot][multiboot]")
{
    const std::vector<u8> rsdp36 = rsdp(36);
    GuestBootInputs in = sample_inputs(rsdp36);
    in.has_load_base = true;
    in.load_base = 0x200000;
    GuardedBuffer buf(4096, 0x1000);
    BootInfoPlacement where{};
    const char* why = nullptr;
    REQUIRE(write_multiboot2_info(in, 1u << 21, buf.out(), buf.capacity, 0x1000, &where, &why) == Status::OK);
    REQUIRE(buf.guard_intact());
    // cmdline "console=ttyS0 quiet" (8 + 20 -> 32), name (16), then tag 21: 12 bytes, padded to 16.
    const u8* tag = buf.at(0x1000 + 8 + 32 + 16, 20, where.bytes_used);
    CHECK(get32(tag) == 21);
    CHECK(get32(tag + 4) == 12);
    CHECK(get32(tag + 8) == 0x200000);
    CHECK(get32(tag + 16) == 3);  // the modules follow
    check_too_small_buffers(where.bytes_used, 0x1000, [&](u8* out, usize capacity, BootInfoPlacement* w, const char** y) {
        return write_multiboot2_info(in, 1u << 21, out, capacity, 0x1000, w, y);
    });

    // Required but not given; a base the 32-bit field cannot hold.
    in.has_load_base = false;
    CHECK(write_multiboot2_info(in, 1u << 21, buf.out(), buf.capacity, 0x1000, &where, &why) == Status::NOT_FOUND);
    CHECK(std::string(why) == "the kernel requires its load base address and none was given");
    in.has_load_base = true;
    in.load_base = 0x100000000;
    CHECK(write_multiboot2_info(in, 0, buf.out(), buf.capacity, 0x1000, &where, &why) == Status::BAD_ARGUMENT);
    CHECK(std::string(why) == "a multiboot2 load base address must lie below 4 GiB");
    REQUIRE(buf.guard_intact());
}
