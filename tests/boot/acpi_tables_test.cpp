// The ACPI tables against ACPI 6.4 chapter 5: checksums, signatures,
// lengths and revisions, the RSDT/XSDT/FADT pointers, FADT fields, MADT
// entries, the DSDT's AML (decoded by acpi_test_support.hpp's parser),
// PkgLength encoding, refused input. The fw_cfg side is in
// acpi_table_loader_test.cpp.
#include "boot/acpi_tables.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "acpi_test_support.hpp"
#include "boot/acpi_dsdt.hpp"

using namespace xeno;
using namespace xeno::boot;
using namespace acpi_test;

TEST_CASE("acpi: the tables from the RSDP check out for 1 and 4 vcpus")
{
    for (u32 vcpus : {1u, 4u}) {
        AcpiPlatform p;
        p.vcpus = vcpus;
        const u64 base = 0xe0000;
        const Memory mem = build(p, base);
        const Found f = walk(mem, base);
        // Everything the walk found lies in the buffer, FACS 64-byte aligned.
        CHECK(f.facs == 0xe0040);
        CHECK(f.facs < f.dsdt);
        CHECK(f.dsdt < f.fadt);
        CHECK(f.fadt < f.madt);
        CHECK(f.madt < f.rsdt);
        CHECK(f.rsdt < f.xsdt);
        CHECK(f.madt_entries.size() == vcpus + 4);
    }
}

TEST_CASE("acpi: the layout records where each table went and every pointer field")
{
    AcpiPlatform p;
    p.vcpus = 2;
    const u64 base = 0x9fc00;
    std::vector<u8> buf(8192);
    const Result<AcpiLayout> r = build_acpi_tables(p, buf.data(), buf.size(), base);
    REQUIRE(r.ok());
    const AcpiLayout& l = r.value();
    Memory mem{base, buf};
    const Found f = walk(mem, l.rsdp_gpa);
    CHECK(l.table(AcpiTable::RSDP).gpa == base);
    CHECK(l.table(AcpiTable::RSDP).offset == 0);
    CHECK(l.table(AcpiTable::RSDP).length == 36);
    CHECK(l.table(AcpiTable::FACS).gpa == f.facs);
    CHECK(l.table(AcpiTable::DSDT).gpa == f.dsdt);
    CHECK(l.table(AcpiTable::FADT).gpa == f.fadt);
    CHECK(l.table(AcpiTable::MADT).gpa == f.madt);
    CHECK(l.table(AcpiTable::RSDT).gpa == f.rsdt);
    CHECK(l.table(AcpiTable::XSDT).gpa == f.xsdt);
    for (usize t = 1; t < kAcpiTableCount; ++t) {
        const AcpiPlacement& place = l.tables[t];
        CHECK(place.gpa == base + place.offset);
        CHECK(place.offset + place.length <= l.size);
        if (t != static_cast<usize>(AcpiTable::FACS)) CHECK(le32(buf.data() + place.offset + 4) == place.length);
    }

    REQUIRE(l.pointer_count == kAcpiPointerCount);
    int per_holder[kAcpiTableCount] = {};
    for (u32 i = 0; i < l.pointer_count; ++i) {
        const AcpiPointer& ptr = l.pointers[i];
        ++per_holder[static_cast<usize>(ptr.holder)];
        REQUIRE((ptr.width == 4 || ptr.width == 8));
        // The field lies inside its holder and holds the target's address.
        const AcpiPlacement& holder = l.table(ptr.holder);
        CHECK(ptr.offset >= holder.offset);
        CHECK(ptr.offset + ptr.width <= holder.offset + holder.length);
        const u64 value = ptr.width == 4 ? le32(buf.data() + ptr.offset) : le64(buf.data() + ptr.offset);
        CHECK(value == l.table(ptr.target).gpa);
    }
    CHECK(per_holder[static_cast<usize>(AcpiTable::RSDP)] == 2);
    CHECK(per_holder[static_cast<usize>(AcpiTable::FADT)] == 3);
    CHECK(per_holder[static_cast<usize>(AcpiTable::RSDT)] == 2);
    CHECK(per_holder[static_cast<usize>(AcpiTable::XSDT)] == 2);
    CHECK(std::string(acpi_table_name(AcpiTable::MADT)) == "MADT");
}

TEST_CASE("acpi: FADT fields describe the PM block, SCI, reset register and boot architecture")
{
    AcpiPlatform p;
    p.vcpus = 1;
    const Memory mem = build(p, 0xe0000);
    const Found f = walk(mem, 0xe0000);
    const u8* fadt = mem.at(f.fadt, 276);
    CHECK(fadt[131] == 4);               // minor version
    CHECK(le16(fadt + 46) == 9);          // SCI_INT
    CHECK(le32(fadt + 48) == 0);          // SMI_CMD: no SMM
    CHECK(fadt[52] == 0);                 // ACPI_ENABLE
    CHECK(fadt[53] == 0);                 // ACPI_DISABLE
    CHECK(le32(fadt + 56) == 0x600);      // PM1a_EVT_BLK
    CHECK(le32(fadt + 60) == 0);          // PM1b_EVT_BLK
    CHECK(le32(fadt + 64) == 0x604);      // PM1a_CNT_BLK
    CHECK(le32(fadt + 68) == 0);          // PM1b_CNT_BLK
    CHECK(le32(fadt + 76) == 0x608);      // PM_TMR_BLK
    CHECK(le32(fadt + 80) == 0);          // GPE0_BLK
    CHECK(fadt[88] == 4);                 // PM1_EVT_LEN
    CHECK(fadt[89] == 2);                 // PM1_CNT_LEN
    CHECK(fadt[91] == 4);                 // PM_TMR_LEN
    CHECK(le16(fadt + 96) > 100);         // no C2
    CHECK(le16(fadt + 98) > 1000);        // no C3
    CHECK(fadt[108] == 0x32);             // CENTURY
    CHECK(le16(fadt + 109) == 0x0003);    // IAPC_BOOT_ARCH: LEGACY_DEVICES | 8042
    const u32 flags = le32(fadt + 112);
    CHECK((flags & (1u << 0)) != 0);   // WBINVD
    CHECK((flags & (1u << 2)) != 0);   // PROC_C1
    CHECK((flags & (1u << 4)) == 0);   // PWR_BUTTON: the fixed-feature power button
    CHECK((flags & (1u << 5)) != 0);   // SLP_BUTTON: none
    CHECK((flags & (1u << 8)) == 0);   // TMR_VAL_EXT: 24-bit timer
    CHECK((flags & (1u << 10)) != 0);  // RESET_REG_SUP
    CHECK((flags & (1u << 20)) == 0);  // not HW_REDUCED_ACPI
    // RESET_REG: system I/O, 8 bits at 0xcf9, byte access; value 6.
    CHECK(fadt[116] == 1);
    CHECK(fadt[117] == 8);
    CHECK(fadt[118] == 0);
    CHECK(fadt[119] == 1);
    CHECK(le64(fadt + 120) == 0xcf9);
    CHECK(fadt[128] == 0x06);
    // X_DSDT and the X_ blocks: same ports as the 32-bit fields.
    CHECK(le64(fadt + 140) == f.dsdt);
    // Access sizes: word for the 16-bit PM1 registers, dword for the timer.
    struct Gas { u32 offset; u8 bits; u8 access; u64 port; };
    for (const Gas& g : {Gas{148, 32, 2, 0x600}, Gas{172, 16, 2, 0x604}, Gas{208, 32, 3, 0x608}}) {
        CHECK(fadt[g.offset] == 1);
        CHECK(fadt[g.offset + 1] == g.bits);
        CHECK(fadt[g.offset + 2] == 0);
        CHECK(fadt[g.offset + 3] == g.access);
        CHECK(le64(fadt + g.offset + 4) == g.port);
    }
    CHECK(le64(fadt + 160 + 4) == 0);  // X_PM1b_EVT_BLK
    CHECK(le64(fadt + 184 + 4) == 0);  // X_PM1b_CNT_BLK
    CHECK(le64(fadt + 220 + 4) == 0);  // X_GPE0_BLK
}

TEST_CASE("acpi: FADT follows a different PM base, SCI and reset register")
{
    AcpiPlatform p;
    p.pm_base = 0xb000;
    p.sci_irq = 10;
    p.reset_port = 0x92;
    p.reset_value = 0x01;
    p.rtc_century_index = 0;
    const Memory mem = build(p, 0xe0000);
    const Found f = walk(mem, 0xe0000);
    const u8* fadt = mem.at(f.fadt, 276);
    CHECK(le16(fadt + 46) == 10);
    CHECK(le32(fadt + 56) == 0xb000);
    CHECK(le32(fadt + 64) == 0xb004);
    CHECK(le32(fadt + 76) == 0xb008);
    CHECK(le64(fadt + 208 + 4) == 0xb008);
    CHECK(le64(fadt + 120) == 0x92);
    CHECK(fadt[128] == 0x01);
    CHECK(fadt[108] == 0);
    // The SCI's override follows it.
    bool found = false;
    for (const MadtEntry& e : f.madt_entries)
        if (e.type == 2 && e.bytes[3] == 10) {
            found = true;
            CHECK(le32(e.bytes + 4) == 10);
            CHECK(le16(e.bytes + 8) == 0x000d);
        }
    CHECK(found);
}

TEST_CASE("acpi: MADT has one enabled local APIC per vcpu, the I/O APIC, the overrides and LINT1 NMI")
{
    for (u32 vcpus : {1u, 4u}) {
        AcpiPlatform p;
        p.vcpus = vcpus;
        p.ioapic_id = 5;
        p.ioapic_gsi_base = 0;
        const Memory mem = build(p, 0xe0000);
        const Found f = walk(mem, 0xe0000);
        const u8* madt = mem.at(f.madt, 44);
        CHECK(le32(madt + 36) == 0xfee00000);
        CHECK(le32(madt + 40) == 1);  // PCAT_COMPAT
        CHECK(le32(madt + 4) == 44 + 8 * vcpus + 12 + 2 * 10 + 6);

        const auto& entries = f.madt_entries;
        REQUIRE(entries.size() == vcpus + 4);
        for (u32 i = 0; i < vcpus; ++i) {
            const u8* e = entries[i].bytes;
            CHECK(e[0] == 0);
            CHECK(e[1] == 8);
            CHECK(e[2] == i);             // processor UID
            CHECK(e[3] == i);             // APIC ID
            CHECK(le32(e + 4) == 1);      // enabled
        }
        const u8* io = entries[vcpus].bytes;
        CHECK(io[0] == 1);
        CHECK(io[1] == 12);
        CHECK(io[2] == 5);
        CHECK(le32(io + 4) == 0xfec00000);
        CHECK(le32(io + 8) == 0);
        const u8* irq0 = entries[vcpus + 1].bytes;
        CHECK(irq0[0] == 2);
        CHECK(irq0[1] == 10);
        CHECK(irq0[2] == 0);              // ISA
        CHECK(irq0[3] == 0);              // IRQ 0
        CHECK(le32(irq0 + 4) == 2);       // -> GSI 2
        CHECK(le16(irq0 + 8) == 0);       // conforming
        const u8* sci = entries[vcpus + 2].bytes;
        CHECK(sci[0] == 2);
        CHECK(sci[3] == 9);
        CHECK(le32(sci + 4) == 9);
        CHECK(le16(sci + 8) == 0x000d);   // active high (01), level (11 << 2)
        const u8* nmi = entries[vcpus + 3].bytes;
        CHECK(nmi[0] == 4);
        CHECK(nmi[1] == 6);
        CHECK(nmi[2] == 0xff);            // all processors
        CHECK(le16(nmi + 3) == 0);
        CHECK(nmi[5] == 1);               // LINT1
    }
}

TEST_CASE("acpi: the DSDT's AML declares \\_S5 and one ACPI0007 processor device per vcpu")
{
    for (u8 slp : {u8{0}, u8{1}, u8{5}}) {
        for (u32 vcpus : {1u, 4u, 32u, 255u}) {
            AcpiPlatform p;
            p.vcpus = vcpus;
            p.s5_slp_typ = slp;
            const Memory mem = build(p, 0x100000);
            const Found f = walk(mem, 0x100000);
            const AmlParser aml = parse_dsdt(mem, f.dsdt);
            REQUIRE(aml.s5_found);
            REQUIRE(aml.s5.size() == 4);
            CHECK(aml.s5[0].value == slp);
            CHECK(aml.s5[1].value == slp);
            CHECK(aml.s5[2].value == 0);
            CHECK(aml.s5[3].value == 0);
            REQUIRE(aml.devices.size() == vcpus);
            for (u32 i = 0; i < vcpus; ++i) {
                CHECK(aml.devices[i].hid == "ACPI0007");
                CHECK(aml.devices[i].uid == i);
                CHECK(aml.devices[i].name[0] == 'C');
            }
        }
    }
}

TEST_CASE("acpi: \\_S5 is the exact AML bytes of Name(\\_S5, Package(){slp, slp, 0, 0})")
{
    AcpiPlatform p;
    p.s5_slp_typ = 5;
    std::vector<u8> aml(write_dsdt_aml(p, nullptr, 0));
    CHECK(write_dsdt_aml(p, aml.data(), aml.size()) == aml.size());
    const std::vector<u8> expected = {0x08, '\\', '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00};
    REQUIRE(aml.size() > expected.size());
    CHECK(std::vector<u8>(aml.begin(), aml.begin() + static_cast<long>(expected.size())) == expected);
    // A short buffer takes what fits and nothing more.
    std::vector<u8> part(10, 0xee);
    CHECK(write_dsdt_aml(p, part.data(), 4) == aml.size());
    CHECK(std::vector<u8>(part.begin(), part.begin() + 4) == std::vector<u8>(expected.begin(), expected.begin() + 4));
    CHECK(part[4] == 0xee);
}

TEST_CASE("acpi: PkgLength uses the shortest encoding and counts its own bytes")
{
    u8 out[4];
    CHECK(encode_pkg_length(0, out) == 1);
    CHECK(out[0] == 1);
    CHECK(encode_pkg_length(62, out) == 1);
    CHECK(out[0] == 63);
    CHECK(encode_pkg_length(63, out) == 2);  // 65 in two bytes
    CHECK(out[0] == 0x41);
    CHECK(out[1] == 0x04);
    CHECK(encode_pkg_length(0xfff - 2, out) == 2);
    CHECK(encode_pkg_length(0xfff - 1, out) == 3);
    CHECK(encode_pkg_length(0xfffff - 3, out) == 3);
    CHECK(encode_pkg_length(0xfffff - 2, out) == 4);
    CHECK(encode_pkg_length(0xfffffff - 4, out) == 4);
    CHECK(encode_pkg_length(0xfffffff - 3, nullptr) == 0);
    // Every encoding decodes back to body + its own length.
    for (usize body : {usize{5}, usize{100}, usize{1000}, usize{70000}, usize{3000000}}) {
        const usize n = encode_pkg_length(body, out);
        REQUIRE(n >= 1);
        REQUIRE((out[0] >> 6) == n - 1);
        usize decoded = n == 1 ? out[0] & 0x3f : out[0] & 0x0f;
        for (usize i = 1; i < n; ++i) decoded |= usize{out[i]} << (4 + 8 * (i - 1));
        CHECK(decoded == body + n);
    }
}

TEST_CASE("acpi: bad input is refused and nothing is written")
{
    AcpiPlatform p;
    std::vector<u8> buf(8192, 0xaa);
    const std::vector<u8> untouched = buf;
    auto refused = [&](const AcpiPlatform& q, u64 base, usize capacity) {
        const Result<AcpiLayout> r = build_acpi_tables(q, buf.data(), capacity, base);
        CHECK(buf == untouched);
        return r.ok() ? Status::OK : r.status();
    };
    AcpiPlatform q = p;
    q.vcpus = 0;
    CHECK(refused(q, 0xe0000, buf.size()) == Status::BAD_ARGUMENT);
    q.vcpus = kAcpiMaxVcpus + 1;
    CHECK(refused(q, 0xe0000, buf.size()) == Status::BAD_ARGUMENT);
    for (u8 sci : {u8{0}, u8{2}, u8{16}}) {
        q = p;
        q.sci_irq = sci;
        CHECK(refused(q, 0xe0000, buf.size()) == Status::BAD_ARGUMENT);
    }
    q = p;
    q.pm_base = 0xfff8;
    CHECK(refused(q, 0xe0000, buf.size()) == Status::BAD_ARGUMENT);
    q = p;
    q.lapic_base = u64{1} << 32;
    CHECK(refused(q, 0xe0000, buf.size()) == Status::BAD_ARGUMENT);
    CHECK(refused(p, 0xe0008, buf.size()) == Status::BAD_ARGUMENT);        // RSDP not 16-byte aligned
    CHECK(refused(p, 0xffffff00, buf.size()) == Status::BAD_ARGUMENT);     // runs past 4 GiB
    const u32 size = acpi_tables_size(p, 0xe0000).value();
    CHECK(refused(p, 0xe0000, size - 1) == Status::TOO_LARGE);
    CHECK(refused(p, 0xe0000, 0) == Status::TOO_LARGE);
    CHECK(build_acpi_tables(p, nullptr, 4096, 0xe0000).status() == Status::BAD_ARGUMENT);
    // Exactly enough is enough, and the byte after is not touched.
    CHECK(build_acpi_tables(p, buf.data(), size, 0xe0000).ok());
    CHECK(buf[size] == 0xaa);
    // The most vcpus fit.
    q = p;
    q.vcpus = kAcpiMaxVcpus;
    std::vector<u8> big(acpi_tables_size(q, 0xe0000).value());
    CHECK(build_acpi_tables(q, big.data(), big.size(), 0xe0000).ok());
}
