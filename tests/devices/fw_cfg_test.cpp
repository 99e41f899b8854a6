// QEMU's fw_cfg device against docs/specs/fw_cfg.rst: the signature and ID
// through the I/O ports, items byte by byte and past their end, the file
// directory's big-endian fields and name order, the DMA interface (read,
// skip, select, refused writes, bad guest addresses), capacities.
#include "devices/fw_cfg.hpp"

#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "devices/io_bus.hpp"

using namespace xeno;
using namespace xeno::devices;

namespace {

// Guest RAM at gpa 0; accesses outside it fail whole.
struct Ram {
    std::vector<u8> bytes = std::vector<u8>(0x100000, 0);
    usize reads = 0, writes = 0;

    static bool read(void* c, u64 gpa, void* out, usize length)
    {
        auto* self = static_cast<Ram*>(c);
        ++self->reads;
        if (gpa > self->bytes.size() || length > self->bytes.size() - gpa) return false;
        std::memcpy(out, self->bytes.data() + gpa, length);
        return true;
    }
    static bool write(void* c, u64 gpa, const void* in, usize length)
    {
        auto* self = static_cast<Ram*>(c);
        ++self->writes;
        if (gpa > self->bytes.size() || length > self->bytes.size() - gpa) return false;
        std::memcpy(self->bytes.data() + gpa, in, length);
        return true;
    }
    GuestMemoryAccess access() { return GuestMemoryAccess{this, &Ram::read, &Ram::write}; }

    void put_be32(u64 gpa, u32 v)
    {
        for (int i = 0; i < 4; ++i) bytes[gpa + i] = static_cast<u8>(v >> (24 - 8 * i));
    }
    u32 be32(u64 gpa) const
    {
        return u32{bytes[gpa]} << 24 | u32{bytes[gpa + 1]} << 16 | u32{bytes[gpa + 2]} << 8 | bytes[gpa + 3];
    }
    // A FWCfgDmaAccess at `at`.
    void dma_access(u64 at, u32 control, u32 length, u64 address)
    {
        put_be32(at, control);
        put_be32(at + 4, length);
        put_be32(at + 8, static_cast<u32>(address >> 32));
        put_be32(at + 12, static_cast<u32>(address));
    }
};

u32 bswap(u32 v) { return __builtin_bswap32(v); }

// What a guest's iowrite32be / outl(cpu_to_be32(...)) puts on the port.
void start_dma(FwCfg& fw, u64 access_gpa)
{
    fw.pio_write(0x514, 4, bswap(static_cast<u32>(access_gpa >> 32)));
    fw.pio_write(0x518, 4, bswap(static_cast<u32>(access_gpa)));
}

void select(FwCfg& fw, u16 key) { fw.pio_write(0x510, 2, key); }

std::vector<u8> read_bytes(FwCfg& fw, usize n)
{
    std::vector<u8> out(n);
    for (u8& b : out) b = static_cast<u8>(fw.pio_read(0x511, 1));
    return out;
}

std::vector<u8> bytes_of(const char* s) { return std::vector<u8>(s, s + std::strlen(s)); }

u32 be32(const u8* p) { return u32{p[0]} << 24 | u32{p[1]} << 16 | u32{p[2]} << 8 | p[3]; }

}  // namespace

TEST_CASE("fw_cfg: signature, ID and the DMA signature through the ports")
{
    Ram ram;
    FwCfg fw(ram.access());
    select(fw, fw_cfg::SIGNATURE);
    CHECK(read_bytes(fw, 4) == bytes_of("QEMU"));
    CHECK(read_bytes(fw, 2) == std::vector<u8>{0, 0});  // past the end
    select(fw, fw_cfg::ID);
    CHECK(read_bytes(fw, 4) == std::vector<u8>{3, 0, 0, 0});  // traditional + DMA

    // "QEMU CFG" big-endian at 0x514..0x51b.
    CHECK(fw.pio_read(0x514, 4) == 0x554d4551);  // 'Q' 'E' 'M' 'U' in port order
    CHECK(fw.pio_read(0x518, 4) == 0x47464320);  // ' ' 'C' 'F' 'G'
    CHECK(fw.pio_read(0x514, 1) == 'Q');
    CHECK(fw.pio_read(0x51b, 1) == 'G');
    CHECK(bswap(fw.pio_read(0x514, 4)) == static_cast<u32>(fw_cfg::kDmaSignature >> 32));
    // Not registers: the selector reads, 0x512-0x513.
    CHECK(fw.pio_read(0x510, 1) == 0xff);
    CHECK(fw.pio_read(0x512, 2) == 0xffff);

    // Without guest memory there is no DMA.
    FwCfg plain;
    CHECK_FALSE(plain.dma_enabled());
    select(plain, fw_cfg::ID);
    CHECK(read_bytes(plain, 4) == std::vector<u8>{1, 0, 0, 0});
    CHECK(plain.pio_read(0x514, 4) == 0xffffffff);
}

TEST_CASE("fw_cfg: reached through the I/O bus at 0x510-0x51b")
{
    FwCfg fw;
    IoBus bus;
    REQUIRE(bus.attach(FwCfg::kFirstPort, FwCfg::kLastPort, port_device(fw), false) == Status::OK);
    bus.write(0x510, 2, fw_cfg::SIGNATURE);
    std::string sig;
    for (int i = 0; i < 4; ++i) sig += static_cast<char>(bus.read(0x511, 1));
    CHECK(sig == "QEMU");
}

TEST_CASE("fw_cfg: items read byte by byte, zeros past the end, reselect restarts")
{
    FwCfg fw;
    std::vector<u8> kernel(300);
    for (usize i = 0; i < kernel.size(); ++i) kernel[i] = static_cast<u8>(i * 7 + 1);
    REQUIRE(fw.add_bytes(fw_cfg::KERNEL_DATA, kernel.data(), static_cast<u32>(kernel.size())) == Status::OK);
    REQUIRE(fw.add_u32(fw_cfg::KERNEL_SIZE, 300) == Status::OK);
    REQUIRE(fw.add_u64(fw_cfg::RAM_SIZE, 0x123456789abcdef0) == Status::OK);
    REQUIRE(fw.add_u32(fw_cfg::NB_CPUS, 4) == Status::OK);

    select(fw, fw_cfg::KERNEL_DATA);
    CHECK(read_bytes(fw, 300) == kernel);
    CHECK(fw.data_offset() == 300);
    CHECK(read_bytes(fw, 3) == std::vector<u8>{0, 0, 0});
    CHECK(fw.data_offset() == 300);
    select(fw, fw_cfg::KERNEL_DATA);
    CHECK(fw.data_offset() == 0);
    CHECK(read_bytes(fw, 2) == std::vector<u8>{kernel[0], kernel[1]});

    select(fw, fw_cfg::KERNEL_SIZE);
    CHECK(read_bytes(fw, 4) == std::vector<u8>{0x2c, 0x01, 0, 0});
    select(fw, fw_cfg::RAM_SIZE);
    CHECK(read_bytes(fw, 8) == std::vector<u8>{0xf0, 0xde, 0xbc, 0x9a, 0x78, 0x56, 0x34, 0x12});
    // Bit 14 (the write channel) selects the same item.
    select(fw, fw_cfg::WRITE_CHANNEL | fw_cfg::NB_CPUS);
    CHECK(read_bytes(fw, 4) == std::vector<u8>{4, 0, 0, 0});

    // A key nobody filled reads zeros.
    select(fw, fw_cfg::INITRD_DATA);
    CHECK(read_bytes(fw, 4) == std::vector<u8>{0, 0, 0, 0});
    select(fw, 0x8123);
    CHECK(read_bytes(fw, 2) == std::vector<u8>{0, 0});

    // Byte writes to the selector and writes to the data port change nothing.
    select(fw, fw_cfg::KERNEL_DATA);
    read_bytes(fw, 5);
    fw.pio_write(0x510, 1, fw_cfg::SIGNATURE);
    fw.pio_write(0x511, 1, 0x55);
    CHECK(fw.selector() == fw_cfg::KERNEL_DATA);
    CHECK(read_bytes(fw, 1) == std::vector<u8>{kernel[5]});
    CHECK(kernel[4] == static_cast<u8>(4 * 7 + 1));
}

TEST_CASE("fw_cfg: the file directory lists files by name with big-endian fields")
{
    FwCfg fw;
    const std::vector<u8> loader(256, 0x11), tables(1000, 0x22), rsdp(36, 0x33), opt = bytes_of("hello");
    REQUIRE(fw.add_file("etc/table-loader", loader.data(), 256) == Status::OK);
    REQUIRE(fw.add_file("opt/org.xeno/greeting", opt.data(), 5) == Status::OK);
    REQUIRE(fw.add_file("etc/acpi/tables", tables.data(), 1000) == Status::OK);
    REQUIRE(fw.add_file("etc/acpi/rsdp", rsdp.data(), 36) == Status::OK);
    CHECK(fw.file_count() == 4);

    select(fw, fw_cfg::FILE_DIR);
    const std::vector<u8> dir = read_bytes(fw, 4 + 4 * 64);
    CHECK(read_bytes(fw, 1) == std::vector<u8>{0});  // the directory ends there
    CHECK(be32(dir.data()) == 4);
    const char* names[] = {"etc/acpi/rsdp", "etc/acpi/tables", "etc/table-loader", "opt/org.xeno/greeting"};
    const u32 sizes[] = {36, 1000, 256, 5};
    for (int i = 0; i < 4; ++i) {
        const u8* e = dir.data() + 4 + 64 * i;
        CHECK(be32(e) == sizes[i]);
        CHECK((e[4] << 8 | e[5]) == 0x20 + i);
        CHECK(e[6] == 0);
        CHECK(e[7] == 0);
        CHECK(std::string(reinterpret_cast<const char*>(e + 8)) == names[i]);
        for (usize c = 8 + std::strlen(names[i]); c < 64; ++c) CHECK(e[c] == 0);
        CHECK(fw.file_key(names[i]).value() == 0x20 + i);
    }
    CHECK(fw.file_key("etc/nothing").status() == Status::NOT_FOUND);

    // Each file reads through its key.
    select(fw, fw.file_key("opt/org.xeno/greeting").value());
    CHECK(read_bytes(fw, 5) == opt);
    select(fw, fw.file_key("etc/acpi/tables").value());
    CHECK(read_bytes(fw, 1000) == tables);
    // A key past the last file is unknown.
    select(fw, 0x24);
    CHECK(read_bytes(fw, 1) == std::vector<u8>{0});

    // An empty directory is just the count.
    FwCfg empty;
    select(empty, fw_cfg::FILE_DIR);
    CHECK(read_bytes(empty, 5) == std::vector<u8>{0, 0, 0, 0, 0});
}

TEST_CASE("fw_cfg: DMA read with select, then skip and a read from the new offset")
{
    Ram ram;
    FwCfg fw(ram.access());
    std::vector<u8> data(100);
    for (usize i = 0; i < data.size(); ++i) data[i] = static_cast<u8>(0x80 + i);
    REQUIRE(fw.add_file("etc/blob", data.data(), 100) == Status::OK);
    const u16 key = fw.file_key("etc/blob").value();

    ram.dma_access(0x1000, u32{key} << 16 | fw_cfg::DMA_SELECT | fw_cfg::DMA_READ, 40, 0x2000);
    start_dma(fw, 0x1000);
    CHECK(ram.be32(0x1000) == 0);  // done, no error
    CHECK(std::memcmp(ram.bytes.data() + 0x2000, data.data(), 40) == 0);
    CHECK(ram.bytes[0x2000 + 40] == 0);
    CHECK(fw.data_offset() == 40);

    // Skip 10, then read 5 more: bytes 50..54.
    ram.dma_access(0x1000, fw_cfg::DMA_SKIP, 10, 0);
    start_dma(fw, 0x1000);
    CHECK(ram.be32(0x1000) == 0);
    CHECK(fw.data_offset() == 50);
    ram.dma_access(0x1000, fw_cfg::DMA_READ, 5, 0x3000);
    start_dma(fw, 0x1000);
    CHECK(ram.be32(0x1000) == 0);
    CHECK(std::memcmp(ram.bytes.data() + 0x3000, data.data() + 50, 5) == 0);
    // The data port continues from the same offset.
    CHECK(read_bytes(fw, 1) == std::vector<u8>{data[55]});

    // A read longer than the rest: the tail is zeros, the offset stops at the end.
    std::memset(ram.bytes.data() + 0x4000, 0xaa, 200);
    ram.dma_access(0x1000, fw_cfg::DMA_READ, 150, 0x4000);
    start_dma(fw, 0x1000);
    CHECK(ram.be32(0x1000) == 0);
    CHECK(std::memcmp(ram.bytes.data() + 0x4000, data.data() + 56, 44) == 0);
    for (usize i = 44; i < 150; ++i) CHECK(ram.bytes[0x4000 + i] == 0);
    CHECK(ram.bytes[0x4000 + 150] == 0xaa);
    CHECK(fw.data_offset() == 100);

    // Skipping past the end stops there too.
    ram.dma_access(0x1000, u32{key} << 16 | fw_cfg::DMA_SELECT | fw_cfg::DMA_SKIP, 1000, 0);
    start_dma(fw, 0x1000);
    CHECK(fw.data_offset() == 100);
}

TEST_CASE("fw_cfg: DMA select alone, an unknown key, a low-half-only start")
{
    Ram ram;
    FwCfg fw(ram.access());
    // Select only: no transfer whatever the length says.
    std::memset(ram.bytes.data() + 0x2000, 0xaa, 16);
    ram.dma_access(0x800, u32{fw_cfg::SIGNATURE} << 16 | fw_cfg::DMA_SELECT, 16, 0x2000);
    fw.pio_write(0x518, 4, bswap(0x800));  // a 32-bit address: the low half alone starts it
    CHECK(ram.be32(0x800) == 0);
    CHECK(fw.selector() == fw_cfg::SIGNATURE);
    CHECK(ram.bytes[0x2000] == 0xaa);
    CHECK(read_bytes(fw, 4) == bytes_of("QEMU"));

    // An unknown key reads as zeros through DMA too.
    std::memset(ram.bytes.data() + 0x2000, 0xaa, 16);
    ram.dma_access(0x800, u32{0x0123} << 16 | fw_cfg::DMA_SELECT | fw_cfg::DMA_READ, 8, 0x2000);
    start_dma(fw, 0x800);
    CHECK(ram.be32(0x800) == 0);
    for (int i = 0; i < 8; ++i) CHECK(ram.bytes[0x2000 + i] == 0);
    CHECK(ram.bytes[0x2008] == 0xaa);

    // The register is 0 again after an operation: a stale high half from an
    // aborted sequence does not stick to the next low write.
    fw.pio_write(0x514, 4, bswap(0x1));  // high half: 4 GiB
    fw.pio_write(0x518, 4, bswap(0x800));
    // That access lay at 4 GiB + 0x800, outside RAM: nothing happened...
    ram.dma_access(0x800, u32{fw_cfg::ID} << 16 | fw_cfg::DMA_SELECT, 0, 0);
    fw.pio_write(0x518, 4, bswap(0x800));
    // ...and the next low-only start used 0x800.
    CHECK(ram.be32(0x800) == 0);
    CHECK(fw.selector() == fw_cfg::ID);
}

TEST_CASE("fw_cfg: DMA write is refused with ERROR and changes nothing")
{
    Ram ram;
    FwCfg fw(ram.access());
    std::vector<u8> item(16, 0x5a);
    REQUIRE(fw.add_bytes(fw_cfg::CMDLINE_DATA, item.data(), 16) == Status::OK);
    std::memset(ram.bytes.data() + 0x2000, 0x77, 16);
    ram.dma_access(0x1000, u32{fw_cfg::CMDLINE_DATA} << 16 | fw_cfg::DMA_SELECT | fw_cfg::DMA_WRITE, 16, 0x2000);
    start_dma(fw, 0x1000);
    CHECK(ram.be32(0x1000) == fw_cfg::DMA_ERROR);
    CHECK(item == std::vector<u8>(16, 0x5a));
    CHECK(fw.data_offset() == 0);
    // READ wins over WRITE when both are set.
    ram.dma_access(0x1000, fw_cfg::DMA_READ | fw_cfg::DMA_WRITE, 16, 0x2000);
    start_dma(fw, 0x1000);
    CHECK(ram.be32(0x1000) == 0);
    CHECK(std::memcmp(ram.bytes.data() + 0x2000, item.data(), 16) == 0);
}

TEST_CASE("fw_cfg: DMA to or from bad guest addresses sets ERROR and writes nothing else")
{
    Ram ram;
    FwCfg fw(ram.access());
    std::vector<u8> item(64, 0x42);
    REQUIRE(fw.add_bytes(fw_cfg::KERNEL_DATA, item.data(), 64) == Status::OK);

    // The destination is outside RAM (and one that wraps around 2^64).
    for (u64 bad : {u64{0xfffff000}, u64{0xfffffffffffffff0}, u64{0x100000 - 32}}) {
        ram.dma_access(0x1000, u32{fw_cfg::KERNEL_DATA} << 16 | fw_cfg::DMA_SELECT | fw_cfg::DMA_READ, 64, bad);
        const std::vector<u8> before = ram.bytes;
        start_dma(fw, 0x1000);
        CHECK(ram.be32(0x1000) == fw_cfg::DMA_ERROR);
        std::vector<u8> after = ram.bytes;
        for (int i = 0; i < 4; ++i) after[0x1000 + i] = before[0x1000 + i];
        CHECK(after == before);  // only the control field changed
    }

    // The FWCfgDmaAccess itself is outside RAM (or straddles its end): ignored.
    for (u64 bad : {u64{0x200000}, u64{0x100000 - 8}}) {
        const std::vector<u8> before = ram.bytes;
        const u16 selector = fw.selector();
        start_dma(fw, bad);
        CHECK(ram.bytes == before);
        CHECK(fw.selector() == selector);
    }
}

TEST_CASE("fw_cfg: keys and names the builder may not use, and full tables")
{
    FwCfg fw;
    const u8 byte = 1;
    CHECK(fw.add_bytes(fw_cfg::SIGNATURE, &byte, 1) == Status::BAD_ARGUMENT);
    CHECK(fw.add_bytes(fw_cfg::ID, &byte, 1) == Status::BAD_ARGUMENT);
    CHECK(fw.add_bytes(fw_cfg::FILE_DIR, &byte, 1) == Status::BAD_ARGUMENT);
    CHECK(fw.add_bytes(fw_cfg::FILE_FIRST, &byte, 1) == Status::BAD_ARGUMENT);
    CHECK(fw.add_bytes(0x3fff, &byte, 1) == Status::BAD_ARGUMENT);
    CHECK(fw.add_bytes(fw_cfg::WRITE_CHANNEL | fw_cfg::RAM_SIZE, &byte, 1) == Status::BAD_ARGUMENT);
    CHECK(fw.add_bytes(fw_cfg::KERNEL_DATA, nullptr, 4) == Status::BAD_ARGUMENT);
    CHECK(fw.add_bytes(fw_cfg::KERNEL_DATA, nullptr, 0) == Status::OK);  // an empty item
    CHECK(fw.add_u32(fw_cfg::KERNEL_DATA, 1) == Status::BAD_ARGUMENT);    // already there

    // kMaxItems in all, the arch-specific keys included.
    for (usize i = 1; i < FwCfg::kMaxItems; ++i)
        REQUIRE(fw.add_u32(static_cast<u16>(fw_cfg::ARCH_LOCAL + i), static_cast<u32>(i)) == Status::OK);
    CHECK(fw.add_u32(fw_cfg::RAM_SIZE, 1) == Status::TOO_LARGE);
    select(fw, fw_cfg::ARCH_LOCAL + 47);
    CHECK(read_bytes(fw, 4) == std::vector<u8>{47, 0, 0, 0});

    // Names: 55 characters fit with the NUL, 56 do not; empty and duplicate refused.
    const std::string longest(55, 'a'), too_long(56, 'b');
    CHECK(fw.add_file(too_long.c_str(), &byte, 1) == Status::BAD_ARGUMENT);
    CHECK(fw.add_file("", &byte, 1) == Status::BAD_ARGUMENT);
    CHECK(fw.add_file(nullptr, &byte, 1) == Status::BAD_ARGUMENT);
    CHECK(fw.add_file("etc/x", nullptr, 1) == Status::BAD_ARGUMENT);
    CHECK(fw.add_file(longest.c_str(), &byte, 1) == Status::OK);
    CHECK(fw.add_file(longest.c_str(), &byte, 1) == Status::BAD_ARGUMENT);
    std::vector<std::string> names;
    for (usize i = 1; i < FwCfg::kMaxFiles; ++i) names.push_back("opt/f" + std::to_string(100 - i));
    for (const std::string& n : names) REQUIRE(fw.add_file(n.c_str(), &byte, 1) == Status::OK);
    CHECK(fw.file_count() == FwCfg::kMaxFiles);
    CHECK(fw.add_file("opt/one-too-many", &byte, 1) == Status::TOO_LARGE);
    // Still sorted: "aaa..." first, then opt/f69 .. opt/f99.
    CHECK(fw.file_key(longest.c_str()).value() == 0x20);
    CHECK(fw.file_key("opt/f69").value() == 0x21);
    CHECK(fw.file_key("opt/f99").value() == 0x20 + FwCfg::kMaxFiles - 1);
    select(fw, fw_cfg::FILE_DIR);
    const std::vector<u8> dir = read_bytes(fw, 4 + 64 * FwCfg::kMaxFiles);
    CHECK(be32(dir.data()) == FwCfg::kMaxFiles);
    CHECK(std::string(reinterpret_cast<const char*>(dir.data() + 4 + 8)) == longest);
    CHECK(dir[4 + 8 + 55] == 0);
}
