// The ACPI tables served through fw_cfg: the three files, the table-loader
// script's shape, and the script run as SeaBIOS/OVMF run it (fetch the
// files through the fw_cfg data port, allocate, patch pointers, recompute
// checksums) over a fake guest memory, which must give the same valid
// tables build_acpi_tables writes at those addresses.
#include "boot/acpi_table_loader.hpp"

#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "acpi_test_support.hpp"
#include "devices/fw_cfg.hpp"

using namespace xeno;
using namespace xeno::boot;
using namespace acpi_test;

namespace {

// The firmware side: fetch a fw_cfg file by name through the data port.
std::vector<u8> fetch_file(devices::FwCfg& fw, const char* name)
{
    fw.pio_write(0x510, 2, devices::fw_cfg::FILE_DIR);
    u8 count_be[4];
    for (u8& b : count_be) b = static_cast<u8>(fw.pio_read(0x511, 1));
    const u32 count = u32{count_be[0]} << 24 | u32{count_be[1]} << 16 | u32{count_be[2]} << 8 | count_be[3];
    for (u32 i = 0; i < count; ++i) {
        u8 entry[64];
        for (u8& b : entry) b = static_cast<u8>(fw.pio_read(0x511, 1));
        if (std::string(reinterpret_cast<const char*>(entry + 8)) != name) continue;
        const u32 size = u32{entry[0]} << 24 | u32{entry[1]} << 16 | u32{entry[2]} << 8 | entry[3];
        const u16 select = static_cast<u16>(entry[4] << 8 | entry[5]);
        fw.pio_write(0x510, 2, select);
        std::vector<u8> data(size);
        for (u8& b : data) b = static_cast<u8>(fw.pio_read(0x511, 1));
        return data;
    }
    FAIL("no fw_cfg file " << name);
    return {};
}

struct Loaded {
    u64 tables = 0, rsdp = 0;
};

// Run the loader script as SeaBIOS/OVMF would: allocate each file where its
// zone says (HIGH: below 4 GiB, here from 0x100000; FSEG: 0xe0000-0xfffff),
// patch pointers, recompute checksums.
Loaded apply_script(Memory& mem, const std::vector<u8>& script,
                    const std::vector<std::pair<std::string, std::vector<u8>>>& files)
{
    REQUIRE(script.size() % 128 == 0);
    std::vector<std::pair<std::string, u64>> placed;
    u64 high = 0x100000, fseg = 0xe0000;
    auto address_of = [&](const std::string& file) -> u64 {
        for (const auto& [name, at] : placed)
            if (name == file) return at;
        FAIL("file used before ALLOCATE: " << file);
        return 0;
    };
    auto size_of = [&](const std::string& file) -> u64 {
        for (const auto& [name, bytes] : files)
            if (name == file) return bytes.size();
        FAIL("no such file " << file);
        return 0;
    };
    for (usize off = 0; off < script.size(); off += 128) {
        const u8* c = script.data() + off;
        const u32 command = le32(c);
        const std::string file(reinterpret_cast<const char*>(c + 4), strnlen(reinterpret_cast<const char*>(c + 4), 56));
        REQUIRE(c[4 + 55] == 0);
        if (command == table_loader::ALLOCATE) {
            const u32 align = le32(c + 60);
            const u8 zone = c[64];
            REQUIRE(align != 0);
            REQUIRE((align & (align - 1)) == 0);
            u64& cursor = zone == table_loader::ZONE_FSEG ? fseg : high;
            REQUIRE((zone == table_loader::ZONE_FSEG || zone == table_loader::ZONE_HIGH));
            cursor = (cursor + align - 1) & ~u64{align - 1};
            const u64 at = cursor;
            for (const auto& [name, bytes] : files)
                if (name == file) std::memcpy(mem.bytes.data() + (at - mem.base), bytes.data(), bytes.size());
            cursor += size_of(file);
            placed.emplace_back(file, at);
            if (zone == table_loader::ZONE_FSEG) REQUIRE(cursor <= 0x100000);
        } else if (command == table_loader::ADD_POINTER) {
            const std::string src(reinterpret_cast<const char*>(c + 60), strnlen(reinterpret_cast<const char*>(c + 60), 56));
            const u32 offset = le32(c + 116);
            const u8 size = c[120];
            REQUIRE((size == 1 || size == 2 || size == 4 || size == 8));
            REQUIRE(offset + size <= size_of(file));
            u8* field = mem.bytes.data() + (address_of(file) + offset - mem.base);
            u64 value = 0;
            for (u8 i = 0; i < size; ++i) value |= u64{field[i]} << (8 * i);
            value += address_of(src);
            for (u8 i = 0; i < size; ++i) field[i] = static_cast<u8>(value >> (8 * i));
        } else if (command == table_loader::ADD_CHECKSUM) {
            const u32 result = le32(c + 60), start = le32(c + 64), length = le32(c + 68);
            REQUIRE(start + length <= size_of(file));
            REQUIRE(result < size_of(file));
            u8* base = mem.bytes.data() + (address_of(file) - mem.base);
            base[result] = static_cast<u8>(base[result] - sum(base + start, length));
        } else {
            FAIL("unknown loader command " << command);
        }
    }
    return Loaded{address_of(kAcpiTablesFile), address_of(kAcpiRsdpFile)};
}

}  // namespace

TEST_CASE("acpi: fw_cfg files and loader script give valid tables once applied")
{
    for (u32 vcpus : {1u, 4u}) {
        AcpiPlatform p;
        p.vcpus = vcpus;
        std::vector<u8> tables(8192), rsdp(64), loader(kAcpiLoaderSize);
        AcpiFwCfgBuffers buffers{tables.data(), tables.size(), rsdp.data(), rsdp.size(), loader.data(), loader.size()};
        const Result<AcpiFwCfgFiles> r = build_acpi_fw_cfg(p, buffers);
        REQUIRE(r.ok());
        const AcpiFwCfgFiles& files = r.value();
        CHECK(files.rsdp_size == 36);
        CHECK(files.loader_size == kAcpiLoaderSize);
        CHECK(files.tables_size == files.layout.size);
        CHECK(files.layout.table(AcpiTable::FACS).offset == 0);

        // The blobs are valid tables at base 0 already.
        CHECK(sum(rsdp.data(), 36) == 0);
        CHECK(le32(rsdp.data() + 16) == files.layout.table(AcpiTable::RSDT).offset);

        // Script shape: the two allocations first.
        CHECK(le32(loader.data()) == table_loader::ALLOCATE);
        CHECK(std::string(reinterpret_cast<const char*>(loader.data() + 4)) == "etc/acpi/tables");
        CHECK(le32(loader.data() + 60) == 64);
        CHECK(loader[64] == table_loader::ZONE_HIGH);
        CHECK(le32(loader.data() + 128) == table_loader::ALLOCATE);
        CHECK(std::string(reinterpret_cast<const char*>(loader.data() + 128 + 4)) == "etc/acpi/rsdp");
        CHECK(le32(loader.data() + 128 + 60) == 16);
        CHECK(loader[128 + 64] == table_loader::ZONE_FSEG);
        int pointers = 0, checksums = 0;
        for (usize off = 256; off < files.loader_size; off += 128) {
            const u32 cmd = le32(loader.data() + off);
            pointers += cmd == table_loader::ADD_POINTER;
            checksums += cmd == table_loader::ADD_CHECKSUM;
        }
        CHECK(pointers == 9);
        CHECK(checksums == 7);

        // Serve the three files through fw_cfg, as the builder will, and let
        // the "firmware" fetch them by name.
        devices::FwCfg fw;
        REQUIRE(fw.add_file(kAcpiTablesFile, tables.data(), files.tables_size) == Status::OK);
        REQUIRE(fw.add_file(kAcpiRsdpFile, rsdp.data(), files.rsdp_size) == Status::OK);
        REQUIRE(fw.add_file(kTableLoaderFile, loader.data(), files.loader_size) == Status::OK);
        const std::vector<u8> script = fetch_file(fw, kTableLoaderFile);
        const std::vector<std::pair<std::string, std::vector<u8>>> blobs = {
            {kAcpiTablesFile, fetch_file(fw, kAcpiTablesFile)},
            {kAcpiRsdpFile, fetch_file(fw, kAcpiRsdpFile)},
        };

        Memory mem;
        mem.base = 0;
        mem.bytes.assign(0x200000, 0);
        const Loaded at = apply_script(mem, script, blobs);
        CHECK(at.tables == 0x100000);
        CHECK(at.rsdp == 0xe0000);
        const Found f = walk(mem, at.rsdp);
        CHECK(f.facs == at.tables);
        CHECK(f.madt_entries.size() == vcpus + 4);
        const AmlParser aml = parse_dsdt(mem, f.dsdt);
        CHECK(aml.s5_found);
        CHECK(aml.devices.size() == vcpus);

        // Byte for byte what build_acpi_tables writes for tables at the same
        // addresses (its FACS goes 64 bytes after a 64-byte aligned base).
        std::vector<u8> direct(8192);
        const Result<AcpiLayout> d = build_acpi_tables(p, direct.data(), direct.size(), at.tables - 64);
        REQUIRE(d.ok());
        CHECK(d.value().table(AcpiTable::FACS).gpa == at.tables);
        CHECK(std::memcmp(direct.data() + 64, mem.bytes.data() + at.tables, files.tables_size) == 0);
        CHECK(std::memcmp(direct.data(), mem.bytes.data() + at.rsdp, 36) == 0);
    }
}

TEST_CASE("acpi: fw_cfg build refuses small buffers and bad platforms without writing")
{
    AcpiPlatform p;
    std::vector<u8> tables(8192, 0xaa), rsdp(36, 0xaa), loader(kAcpiLoaderSize, 0xaa);
    const std::vector<u8> t0 = tables, r0 = rsdp, l0 = loader;
    AcpiFwCfgBuffers ok{tables.data(), tables.size(), rsdp.data(), rsdp.size(), loader.data(), loader.size()};
    AcpiFwCfgBuffers small_loader = ok;
    small_loader.loader_capacity = kAcpiLoaderSize - 1;
    CHECK(build_acpi_fw_cfg(p, small_loader).status() == Status::TOO_LARGE);
    AcpiFwCfgBuffers small_rsdp = ok;
    small_rsdp.rsdp_capacity = 35;
    CHECK(build_acpi_fw_cfg(p, small_rsdp).status() == Status::TOO_LARGE);
    AcpiFwCfgBuffers small_tables = ok;
    small_tables.tables_capacity = 100;
    CHECK(build_acpi_fw_cfg(p, small_tables).status() == Status::TOO_LARGE);
    AcpiPlatform none = p;
    none.vcpus = 0;
    CHECK(build_acpi_fw_cfg(none, ok).status() == Status::BAD_ARGUMENT);
    CHECK(tables == t0);
    CHECK(rsdp == r0);
    CHECK(loader == l0);
    CHECK(build_acpi_fw_cfg(p, ok).ok());
}
