// The Intel MP spec 1.4 tables: the floating pointer structure, the
// configuration table header, the entries in type order with their
// contents, checksums, and refused input.
#include "boot/mp_table.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using namespace xeno;
using namespace xeno::boot;

namespace {

u16 le16(const u8* p) { return static_cast<u16>(p[0] | p[1] << 8); }
u32 le32(const u8* p) { return u32{p[0]} | u32{p[1]} << 8 | u32{p[2]} << 16 | u32{p[3]} << 24; }
std::string chars(const u8* p, usize n) { return std::string(reinterpret_cast<const char*>(p), n); }

u8 sum(const u8* p, usize n)
{
    u8 s = 0;
    for (usize i = 0; i < n; ++i) s = static_cast<u8>(s + p[i]);
    return s;
}

struct Entry {
    u8 type;
    const u8* bytes;
};

struct Parsed {
    std::vector<Entry> entries;
    std::vector<u8> buffer;
    MpLayout layout;
    const u8* config = nullptr;
};

constexpr u64 kBase = 0xf5a30;  // 16-byte aligned, in the BIOS area

MpCpuInfo cpu_info()
{
    MpCpuInfo cpu;
    cpu.signature = 0x000506e3;
    cpu.feature_flags = 0x0781abfd;
    return cpu;
}

Parsed build(const AcpiPlatform& p)
{
    Parsed r;
    r.buffer.assign(mp_table_size(p.vcpus), 0xcc);
    const Result<MpLayout> layout = build_mp_table(p, cpu_info(), r.buffer.data(), r.buffer.size(), kBase);
    REQUIRE(layout.ok());
    r.layout = layout.value();

    // The floating pointer: "_MP_", physical pointer, length 1 paragraph, rev 4.
    const u8* fp = r.buffer.data();
    CHECK(chars(fp, 4) == "_MP_");
    CHECK(le32(fp + 4) == kBase + 16);
    CHECK(fp[8] == 1);
    CHECK(fp[9] == 4);
    CHECK(sum(fp, 16) == 0);
    CHECK(fp[11] == 0);  // a configuration table is present
    CHECK(fp[12] == 0);  // IMCRP clear: virtual wire mode
    CHECK(r.layout.floating_pointer_gpa == kBase);
    CHECK(r.layout.config_table_gpa == kBase + 16);

    const u8* ct = r.buffer.data() + 16;
    r.config = ct;
    const u16 length = le16(ct + 4);
    CHECK(chars(ct, 4) == "PCMP");
    CHECK(length == r.layout.config_table_length);
    CHECK(16u + length == r.layout.size);
    CHECK(r.layout.size == r.buffer.size());
    CHECK(ct[6] == 4);
    CHECK(sum(ct, length) == 0);
    CHECK(chars(ct + 8, 8) == "XENO    ");
    CHECK(chars(ct + 16, 12) == "XENOHVM     ");
    CHECK(le32(ct + 28) == 0);  // no OEM table
    CHECK(le16(ct + 32) == 0);
    CHECK(le32(ct + 36) == 0xfee00000);
    CHECK(le16(ct + 40) == 0);  // no extended entries
    CHECK(ct[42] == 0);

    u8 last_type = 0;
    for (u32 off = 44; off < length;) {
        const u8 type = ct[off];
        REQUIRE(type <= 4);
        CHECK(type >= last_type);  // the spec's order: by entry type
        last_type = type;
        r.entries.push_back(Entry{type, ct + off});
        off += type == 0 ? 20 : 8;
        REQUIRE(off <= length);
    }
    CHECK(r.entries.size() == le16(ct + 34));
    CHECK(r.entries.size() == r.layout.entry_count);
    return r;
}

std::vector<Entry> of_type(const Parsed& r, u8 type)
{
    std::vector<Entry> out;
    for (const Entry& e : r.entries)
        if (e.type == type) out.push_back(e);
    return out;
}

}  // namespace

TEST_CASE("mp: processor, bus, I/O APIC and interrupt entries for 1 and 4 vcpus")
{
    for (u32 vcpus : {1u, 4u}) {
        AcpiPlatform p;
        p.vcpus = vcpus;
        p.ioapic_id = 7;
        const Parsed r = build(p);
        CHECK(r.entries.size() == vcpus + 19);
        CHECK(mp_table_size(vcpus) == 16 + 44 + 20 * vcpus + 8 * 19);

        const auto cpus = of_type(r, 0);
        REQUIRE(cpus.size() == vcpus);
        for (u32 i = 0; i < vcpus; ++i) {
            const u8* e = cpus[i].bytes;
            CHECK(e[1] == i);       // local APIC ID
            CHECK(e[2] == 0x14);    // local APIC version
            CHECK(e[3] == (i == 0 ? 0x3 : 0x1));  // EN, and BP on vcpu 0 only
            CHECK(le32(e + 4) == 0x000506e3);
            CHECK(le32(e + 8) == 0x0781abfd);
        }

        const auto buses = of_type(r, 1);
        REQUIRE(buses.size() == 1);
        CHECK(buses[0].bytes[1] == 0);
        CHECK(chars(buses[0].bytes + 2, 6) == "ISA   ");

        const auto ioapics = of_type(r, 2);
        REQUIRE(ioapics.size() == 1);
        CHECK(ioapics[0].bytes[1] == 7);
        CHECK(ioapics[0].bytes[2] == 0x20);
        CHECK(ioapics[0].bytes[3] == 1);  // enabled
        CHECK(le32(ioapics[0].bytes + 4) == 0xfec00000);

        const auto ints = of_type(r, 3);
        REQUIRE(ints.size() == 15);
        bool seen[16] = {};
        for (const Entry& entry : ints) {
            const u8* e = entry.bytes;
            const u8 irq = e[5];
            REQUIRE(irq < 16);
            CHECK_FALSE(seen[irq]);
            seen[irq] = true;
            CHECK(e[1] == 0);                       // INT
            CHECK(e[4] == 0);                       // ISA bus
            CHECK(e[6] == 7);                       // the I/O APIC
            CHECK(e[7] == (irq == 0 ? 2 : irq));    // pin
            CHECK(le16(e + 2) == (irq == 9 ? 0x000d : 0));  // SCI: level, active high
        }
        CHECK_FALSE(seen[2]);

        const auto locals = of_type(r, 4);
        REQUIRE(locals.size() == 2);
        CHECK(locals[0].bytes[1] == 3);     // ExtINT
        CHECK(locals[0].bytes[6] == 0);     // the BSP
        CHECK(locals[0].bytes[7] == 0);     // LINT0
        CHECK(locals[1].bytes[1] == 1);     // NMI
        CHECK(locals[1].bytes[6] == 0xff);  // every local APIC
        CHECK(locals[1].bytes[7] == 1);     // LINT1
    }
}

TEST_CASE("mp: the SCI entry follows the platform's SCI")
{
    AcpiPlatform p;
    p.sci_irq = 11;
    const Parsed r = build(p);
    for (const Entry& e : of_type(r, 3)) CHECK(le16(e.bytes + 2) == (e.bytes[5] == 11 ? 0x000d : 0));
}

TEST_CASE("mp: the most vcpus fit and the header counts stay consistent")
{
    AcpiPlatform p;
    p.vcpus = kMpMaxVcpus;
    const Parsed r = build(p);
    CHECK(r.entries.size() == kMpMaxVcpus + 19);
    CHECK(of_type(r, 0).back().bytes[1] == 254);
}

TEST_CASE("mp: bad input is refused and nothing is written")
{
    AcpiPlatform p;
    std::vector<u8> buf(8192, 0xaa);
    const std::vector<u8> untouched = buf;
    const MpCpuInfo cpu = cpu_info();
    auto status = [&](const AcpiPlatform& q, usize capacity, u64 base) {
        const Result<MpLayout> r = build_mp_table(q, cpu, buf.data(), capacity, base);
        CHECK(buf == untouched);
        return r.ok() ? Status::OK : r.status();
    };
    AcpiPlatform q = p;
    q.vcpus = 0;
    CHECK(mp_table_size(0) == 0);
    CHECK(status(q, buf.size(), kBase) == Status::BAD_ARGUMENT);
    q.vcpus = kMpMaxVcpus + 1;
    CHECK(mp_table_size(kMpMaxVcpus + 1) == 0);
    CHECK(status(q, buf.size(), kBase) == Status::BAD_ARGUMENT);
    q = p;
    q.sci_irq = 2;
    CHECK(status(q, buf.size(), kBase) == Status::BAD_ARGUMENT);
    q = p;
    q.ioapic_base = u64{1} << 32;
    CHECK(status(q, buf.size(), kBase) == Status::BAD_ARGUMENT);
    CHECK(status(p, buf.size(), kBase + 8) == Status::BAD_ARGUMENT);
    CHECK(status(p, buf.size(), 0xfffffff0) == Status::BAD_ARGUMENT);
    CHECK(status(p, mp_table_size(1) - 1, kBase) == Status::TOO_LARGE);
    CHECK(build_mp_table(p, cpu, nullptr, 4096, kBase).status() == Status::BAD_ARGUMENT);
    CHECK(build_mp_table(p, cpu, buf.data(), mp_table_size(1), kBase).ok());
    CHECK(buf[mp_table_size(1)] == 0xaa);
}
