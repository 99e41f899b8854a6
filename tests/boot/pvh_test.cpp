#include "boot/pvh.hpp"

#include <catch2/catch.hpp>
#include <cstring>
#include <string>

#include "boot_image_bytes.hpp"

using namespace xeno;
using namespace xeno::boot;
using boot_test::get32;
using boot_test::get64;
using boot_test::GuardedBuffer;

namespace {

const E820Entry kMap[] = {
    {0x0, 0x9fc00, kE820Ram},
    {0xf0000, 0x10000, kE820Reserved},
    {0x100000, 0xbff00000, kE820Ram},
    {0xfee00000, 0x1000, kE820Reserved},
    {0x100000000, 0x80000000, kE820Ram},
};
const BootModule kModules[] = {
    {0x4000000, 0x100000, "initramfs"},
    {0x140000000, 0x2000, nullptr},  // above 4 GiB is fine for PVH: addresses are 64 bits
};

template <typename T>
T read_struct(const u8* p)
{
    T value;
    std::memcpy(&value, p, sizeof value);
    return value;
}

}  // namespace

TEST_CASE("pvh: hvm_start_info, module list, memory map and strings", "[boot][pvh]")
{
    GuestBootInputs in;
    in.cmdline = "console=hvc0 earlyprintk=xen";
    in.modules = kModules;
    in.module_count = 2;
    in.memory_map = kMap;
    in.memory_map_count = 5;
    in.rsdp_gpa = 0xe0000;
    const u64 base = 0x6001;
    GuardedBuffer buf(2048, base);
    BootInfoPlacement where{};
    const char* why = nullptr;
    REQUIRE(write_pvh_start_info(in, buf.out(), buf.capacity, base, &where, &why) == Status::OK);
    REQUIRE(buf.guard_intact());
    CHECK(where.info_gpa == 0x6008);
    const usize used = where.bytes_used;

    // Decode by the ABI's offsets, not through the struct the writer used.
    const u8* info = buf.at(where.info_gpa, 56, used);
    CHECK(get32(info + 0) == 0x336ec578);
    CHECK(get32(info + 4) == 1);
    CHECK(get32(info + 8) == 0);
    CHECK(get32(info + 12) == 2);
    const u64 modlist = get64(info + 16), cmdline = get64(info + 24), memmap = get64(info + 40);
    CHECK(get64(info + 32) == 0xe0000);
    CHECK(get32(info + 48) == 5);
    CHECK(get32(info + 52) == 0);
    CHECK(modlist % 8 == 0);
    CHECK(memmap % 8 == 0);
    CHECK(buf.string_at(cmdline, used) == "console=hvc0 earlyprintk=xen");

    const u8* mods = buf.at(modlist, 2 * 32, used);
    CHECK(get64(mods + 0) == 0x4000000);
    CHECK(get64(mods + 8) == 0x100000);
    CHECK(buf.string_at(get64(mods + 16), used) == "initramfs");
    CHECK(get64(mods + 24) == 0);
    CHECK(get64(mods + 32) == 0x140000000);
    CHECK(get64(mods + 40) == 0x2000);
    CHECK(get64(mods + 48) == 0);  // no string: absent, not ""
    CHECK(get64(mods + 56) == 0);

    const u8* map = buf.at(memmap, 5 * 24, used);
    for (usize i = 0; i < 5; ++i) {
        CHECK(get64(map + 24 * i) == kMap[i].addr);
        CHECK(get64(map + 24 * i + 8) == kMap[i].size);
        CHECK(get32(map + 24 * i + 16) == kMap[i].type);
        CHECK(get32(map + 24 * i + 20) == 0);
    }

    // The same through Xeno's ABI structs.
    const HvmStartInfo s = read_struct<HvmStartInfo>(info);
    CHECK(s.magic == kHvmStartMagic);
    CHECK(s.modlist_paddr == modlist);
    CHECK(s.memmap_entries == 5);
    CHECK(read_struct<HvmModlistEntry>(mods + 32).paddr == 0x140000000);
    CHECK(read_struct<HvmMemmapTableEntry>(map + 48).type == kHvmMemmapRam);

    for (usize capacity = 0; capacity < used; ++capacity) {
        GuardedBuffer small(capacity, base);
        INFO("capacity " << capacity);
        REQUIRE(write_pvh_start_info(in, small.out(), capacity, base, &where, &why) == Status::TOO_LARGE);
        REQUIRE(std::string(why) == "buffer too small for the PVH start info");
        REQUIRE(small.guard_intact());
    }
}

TEST_CASE("pvh: absent pieces are 0", "[boot][pvh]")
{
    GuestBootInputs in;
    GuardedBuffer buf(256, 0x1000);
    BootInfoPlacement where{};
    REQUIRE(write_pvh_start_info(in, buf.out(), buf.capacity, 0x1000, &where, nullptr) == Status::OK);
    CHECK(where.info_gpa == 0x1000);
    CHECK(where.bytes_used == 56);
    const u8* info = buf.out();
    CHECK(get32(info) == kHvmStartMagic);
    CHECK(get32(info + 12) == 0);
    for (usize off : {16, 24, 32, 40}) CHECK(get64(info + off) == 0);
    CHECK(get32(info + 48) == 0);
}

TEST_CASE("pvh: placement limits", "[boot][pvh]")
{
    GuestBootInputs in;
    in.cmdline = "x";
    GuardedBuffer buf(256, 0);
    BootInfoPlacement where{};
    const char* why = nullptr;
    CHECK(write_pvh_start_info(in, buf.out(), buf.capacity, 0, &where, &why) == Status::BAD_ARGUMENT);
    CHECK(std::string(why) == "PVH start info must lie above 0 and below 4 GiB");
    CHECK(write_pvh_start_info(in, buf.out(), buf.capacity, 0x100000000, &where, &why) == Status::BAD_ARGUMENT);
    CHECK(write_pvh_start_info(in, buf.out(), buf.capacity, 0xffffffc8, &where, &why) == Status::BAD_ARGUMENT);
    CHECK(std::string(why) == "PVH start info must end below 4 GiB");
    in.module_count = 1;
    CHECK(write_pvh_start_info(in, buf.out(), buf.capacity, 0x1000, &where, &why) == Status::BAD_ARGUMENT);
    CHECK(std::string(why) == "a module or memory-map count without its array");
    REQUIRE(buf.guard_intact());
}
