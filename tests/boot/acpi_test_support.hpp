// Test-side readers of ACPI tables shared by the ACPI tests: little-endian
// fields, checksums, a walk from the RSDP through XSDT/RSDT, FADT and MADT
// as an OS makes it (checking every header on the way), and a small AML
// decoder for the DSDT body the generator writes.
#pragma once

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "boot/acpi_dsdt.hpp"
#include "boot/acpi_tables.hpp"

namespace acpi_test {

using namespace xeno;
using namespace xeno::boot;

inline u16 le16(const u8* p) { return static_cast<u16>(p[0] | p[1] << 8); }
inline u32 le32(const u8* p) { return u32{p[0]} | u32{p[1]} << 8 | u32{p[2]} << 16 | u32{p[3]} << 24; }
inline u64 le64(const u8* p) { return u64{le32(p)} | u64{le32(p + 4)} << 32; }
inline std::string chars(const u8* p, usize n) { return std::string(reinterpret_cast<const char*>(p), n); }

inline u8 sum(const u8* p, usize n)
{
    u8 s = 0;
    for (usize i = 0; i < n; ++i) s = static_cast<u8>(s + p[i]);
    return s;
}

// Guest memory as a flat byte array from gpa `base`.
struct Memory {
    u64 base = 0;
    std::vector<u8> bytes;
    const u8* at(u64 gpa, u64 length) const
    {
        REQUIRE(gpa >= base);
        REQUIRE(gpa - base + length <= bytes.size());
        return bytes.data() + (gpa - base);
    }
};

// A parsed MADT entry.
struct MadtEntry {
    u8 type;
    const u8* bytes;
};

// What walking the tables from the RSDP finds.
struct Found {
    u64 rsdt = 0, xsdt = 0, fadt = 0, madt = 0, dsdt = 0, facs = 0;
    std::vector<MadtEntry> madt_entries;
};

inline void check_header(const u8* t, const char* signature, u8 revision)
{
    CHECK(chars(t, 4) == signature);
    CHECK(sum(t, le32(t + 4)) == 0);
    CHECK(t[8] == revision);
    CHECK(chars(t + 10, 6) == "XENO  ");
    CHECK(chars(t + 16, 8) == "XENOHVM ");
    CHECK(chars(t + 28, 4) == "XENO");
}

// Walk RSDP -> XSDT/RSDT -> FADT/MADT -> DSDT/FACS, checking every table
// on the way as an OS would.
inline Found walk(const Memory& mem, u64 rsdp_gpa)
{
    Found f;
    REQUIRE(rsdp_gpa % 16 == 0);
    const u8* rsdp = mem.at(rsdp_gpa, kAcpiRsdpLength);
    CHECK(chars(rsdp, 8) == "RSD PTR ");
    CHECK(sum(rsdp, 20) == 0);
    CHECK(sum(rsdp, 36) == 0);
    CHECK(chars(rsdp + 9, 6) == "XENO  ");
    CHECK(rsdp[15] == 2);
    CHECK(le32(rsdp + 20) == 36);
    f.rsdt = le32(rsdp + 16);
    f.xsdt = le64(rsdp + 24);

    const u8* rsdt = mem.at(f.rsdt, 36);
    check_header(rsdt, "RSDT", 1);
    REQUIRE(le32(rsdt + 4) == 36 + 2 * 4);
    const u8* xsdt = mem.at(f.xsdt, 36);
    check_header(xsdt, "XSDT", 1);
    REQUIRE(le32(xsdt + 4) == 36 + 2 * 8);
    // Both list the FADT then the MADT, at the same addresses.
    CHECK(le64(xsdt + 36) == le32(rsdt + 36));
    CHECK(le64(xsdt + 44) == le32(rsdt + 40));
    f.fadt = le64(xsdt + 36);
    f.madt = le64(xsdt + 44);

    const u8* fadt = mem.at(f.fadt, 276);
    check_header(fadt, "FACP", 6);
    CHECK(le32(fadt + 4) == 276);
    f.facs = le32(fadt + 36);
    f.dsdt = le32(fadt + 40);
    CHECK(le64(fadt + 132) == 0);  // X_FIRMWARE_CTRL: FIRMWARE_CTRL is set
    CHECK(le64(fadt + 140) == f.dsdt);

    const u8* facs = mem.at(f.facs, 64);
    CHECK(f.facs % 64 == 0);
    CHECK(chars(facs, 4) == "FACS");
    CHECK(le32(facs + 4) == 64);
    CHECK(facs[32] == 2);

    const u8* dsdt = mem.at(f.dsdt, 36);
    check_header(dsdt, "DSDT", 2);
    mem.at(f.dsdt, le32(dsdt + 4));

    const u8* madt = mem.at(f.madt, 44);
    check_header(madt, "APIC", 5);
    const u32 madt_length = le32(madt + 4);
    madt = mem.at(f.madt, madt_length);
    for (u32 off = 44; off < madt_length;) {
        REQUIRE(madt[off + 1] >= 2);
        f.madt_entries.push_back(MadtEntry{madt[off], madt + off});
        off += madt[off + 1];
        REQUIRE(off <= madt_length);
    }
    return f;
}

inline Memory build(const AcpiPlatform& p, u64 base)
{
    Memory mem;
    mem.base = base;
    const Result<u32> size = acpi_tables_size(p, base);
    REQUIRE(size.ok());
    mem.bytes.assign(size.value(), 0xcc);
    const Result<AcpiLayout> layout = build_acpi_tables(p, mem.bytes.data(), mem.bytes.size(), base);
    REQUIRE(layout.ok());
    REQUIRE(layout.value().size == size.value());
    REQUIRE(layout.value().rsdp_gpa == base);
    return mem;
}

// --- A small AML decoder for the DSDT's body --------------------------------

struct AmlParser {
    const u8* p;
    const u8* end;

    struct Element {
        bool is_string = false;
        u64 value = 0;
        std::string text;
    };
    struct Device {
        std::string name, hid;
        u64 uid = ~u64{0};
    };
    std::vector<Element> s5;
    bool s5_found = false;
    std::vector<Device> devices;

    u8 byte()
    {
        REQUIRE(p < end);
        return *p++;
    }

    // Returns the end of the package that starts at the PkgLength.
    const u8* pkg_length()
    {
        const u8* start = p;
        const u8 lead = byte();
        const unsigned follow = lead >> 6;
        u32 length;
        if (follow == 0) {
            length = lead & 0x3f;
        } else {
            REQUIRE((lead & 0x30) == 0);  // reserved bits of a multi-byte lead
            length = lead & 0x0f;
            for (unsigned i = 0; i < follow; ++i) length |= u32{byte()} << (4 + 8 * i);
        }
        REQUIRE(start + length <= end);
        return start + length;
    }

    std::string name_string()
    {
        std::string name;
        if (*p == aml::ROOT_CHAR) name += static_cast<char>(byte());
        for (int i = 0; i < 4; ++i) name += static_cast<char>(byte());
        return name;
    }

    Element data()
    {
        Element e;
        const u8 op = byte();
        switch (op) {
        case aml::ZERO_OP: e.value = 0; break;
        case aml::ONE_OP: e.value = 1; break;
        case aml::BYTE_PREFIX: e.value = byte(); break;
        case aml::WORD_PREFIX: e.value = byte(); e.value |= u64{byte()} << 8; break;
        case aml::STRING_PREFIX:
            e.is_string = true;
            while (*p) e.text += static_cast<char>(byte());
            byte();
            break;
        default: FAIL("unexpected data opcode " << int(op));
        }
        return e;
    }

    void term_list(const u8* list_end, Device* device)
    {
        while (p < list_end) {
            const u8 op = byte();
            if (op == aml::NAME_OP) {
                const std::string name = name_string();
                if (*p == aml::PACKAGE_OP) {
                    byte();
                    const u8* pkg_end = pkg_length();
                    const u8 count = byte();
                    std::vector<Element> elements;
                    while (p < pkg_end) elements.push_back(data());
                    REQUIRE(p == pkg_end);
                    CHECK(elements.size() == count);
                    if (name == "\\_S5_") {
                        s5 = elements;
                        s5_found = true;
                    }
                } else {
                    const Element e = data();
                    REQUIRE(device);
                    if (name == "_HID") device->hid = e.text;
                    if (name == "_UID") device->uid = e.value;
                }
            } else if (op == aml::SCOPE_OP) {
                const u8* scope_end = pkg_length();
                CHECK(name_string() == "\\_SB_");
                term_list(scope_end, nullptr);
                REQUIRE(p == scope_end);
            } else if (op == aml::EXT_OP_PREFIX && *p == aml::DEVICE_OP) {
                byte();
                const u8* device_end = pkg_length();
                Device d;
                d.name = name_string();
                term_list(device_end, &d);
                REQUIRE(p == device_end);
                devices.push_back(d);
            } else {
                FAIL("unexpected AML opcode " << int(op));
            }
        }
        REQUIRE(p == list_end);
    }
};

inline AmlParser parse_dsdt(const Memory& mem, u64 dsdt_gpa)
{
    const u8* dsdt = mem.at(dsdt_gpa, 36);
    const u32 length = le32(dsdt + 4);
    AmlParser parser{dsdt + 36, dsdt + length, {}, false, {}};
    parser.term_list(parser.end, nullptr);
    return parser;
}

}  // namespace acpi_test
