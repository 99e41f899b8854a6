#include "boot/acpi_tables.hpp"

#include "boot/acpi_dsdt.hpp"
#include "boot/table_bytes.hpp"
#include "lib/bits.hpp"

namespace xeno::boot {

namespace {

constexpr char kOemId[] = "XENO  ";         // 6 characters
constexpr char kOemTableId[] = "XENOHVM ";  // 8
constexpr char kCreatorId[] = "XENO";       // 4
constexpr u32 kOemRevision = 1;
constexpr u32 kCreatorRevision = 1;

// The system description table header (ACPI 6.4, 5.2.6).
constexpr u32 kHeaderLength = 36;
constexpr u32 kHeaderChecksum = 9;

constexpr u32 kFacsLength = 64;
constexpr u32 kFadtLength = 276;
constexpr u32 kMadtFixedLength = 44;
constexpr u32 kMadtLocalApicLength = 8;
constexpr u32 kMadtIoApicLength = 12;
constexpr u32 kMadtOverrideLength = 10;
constexpr u32 kMadtLocalNmiLength = 6;
constexpr u32 kMadtOverrides = 2;  // ISA IRQ 0 and the SCI
constexpr u32 kDescribedTables = 2;  // what the RSDT and XSDT list: FADT, MADT

// The PM register block lengths devices/acpi_pm.hpp implements.
constexpr u8 kPm1EvtLength = 4;
constexpr u8 kPm1CntLength = 2;
constexpr u8 kPmTmrLength = 4;
constexpr u16 kPm1CntOffset = 4;
constexpr u16 kPmTmrOffset = 8;

constexpr u64 k4GiB = u64{1} << 32;

// Where each table sits, before anything is written.
struct Plan {
    u32 offset[kAcpiTableCount] = {};
    u32 length[kAcpiTableCount] = {};
    u32 end = 0;  // of the tables region in its buffer
};

constexpr usize index_of(AcpiTable t) { return static_cast<usize>(t); }

u32 madt_length(u32 vcpus)
{
    return kMadtFixedLength + vcpus * kMadtLocalApicLength + kMadtIoApicLength +
           kMadtOverrides * kMadtOverrideLength + kMadtLocalNmiLength;
}

Status check_platform(const AcpiPlatform& p)
{
    if (p.vcpus == 0 || p.vcpus > kAcpiMaxVcpus) return Status::BAD_ARGUMENT;
    // The SCI is an ISA interrupt; 0 is the PIT's and 2 the cascade.
    if (p.sci_irq == 0 || p.sci_irq == 2 || p.sci_irq > 15) return Status::BAD_ARGUMENT;
    if (u32{p.pm_base} + kPmTmrOffset + kPmTmrLength > 0x10000) return Status::BAD_ARGUMENT;
    // The MADT's local APIC and I/O APIC addresses are 32-bit fields.
    if (p.lapic_base >= k4GiB || p.ioapic_base >= k4GiB) return Status::BAD_ARGUMENT;
    return Status::OK;
}

// Lay the tables out from `first` (a 64-byte aligned offset for the FACS);
// other tables go at 8-byte boundaries, for tidiness only.
Plan plan_tables(const AcpiPlatform& p, u32 first)
{
    Plan plan;
    plan.length[index_of(AcpiTable::RSDP)] = kAcpiRsdpLength;
    plan.length[index_of(AcpiTable::FACS)] = kFacsLength;
    plan.length[index_of(AcpiTable::DSDT)] = kHeaderLength + static_cast<u32>(write_dsdt_aml(p, nullptr, 0));
    plan.length[index_of(AcpiTable::FADT)] = kFadtLength;
    plan.length[index_of(AcpiTable::MADT)] = madt_length(p.vcpus);
    plan.length[index_of(AcpiTable::RSDT)] = kHeaderLength + kDescribedTables * 4;
    plan.length[index_of(AcpiTable::XSDT)] = kHeaderLength + kDescribedTables * 8;
    u32 at = first;
    for (usize t = index_of(AcpiTable::FACS); t < kAcpiTableCount; ++t) {
        plan.offset[t] = at;
        at = static_cast<u32>(align_up(at + plan.length[t], 8));
    }
    plan.end = plan.offset[kAcpiTableCount - 1] + plan.length[kAcpiTableCount - 1];
    return plan;
}

// Where the tables go: the RSDP and the rest may be in different buffers
// (the fw_cfg files), each at its own guest-physical base.
struct Target {
    u8* rsdp;
    u64 rsdp_gpa;
    u8* tables;
    u64 tables_gpa;  // guest-physical address of tables[0]
};

class TableWriter {
public:
    TableWriter(const AcpiPlatform& platform, const Target& target, const Plan& plan, AcpiLayout& layout)
        : p_(platform), target_(target), plan_(plan), layout_(layout)
    {
    }

    void write_all()
    {
        for (usize t = 0; t < kAcpiTableCount; ++t) {
            AcpiPlacement& place = layout_.tables[t];
            place.offset = t == index_of(AcpiTable::RSDP) ? 0 : plan_.offset[t];
            place.length = plan_.length[t];
            place.gpa = gpa_of(static_cast<AcpiTable>(t));
        }
        layout_.rsdp_gpa = target_.rsdp_gpa;
        write_facs();
        write_dsdt();
        write_fadt();
        write_madt();
        write_rsdt();
        write_xsdt();
        write_rsdp();  // last: nothing points at it, and it checksums after its pointers
    }

private:
    u64 gpa_of(AcpiTable t) const
    {
        if (t == AcpiTable::RSDP) return target_.rsdp_gpa;
        return target_.tables_gpa + plan_.offset[index_of(t)];
    }

    u8* start_of(AcpiTable t) const
    {
        if (t == AcpiTable::RSDP) return target_.rsdp;
        return target_.tables + plan_.offset[index_of(t)];
    }

    u32 buffer_offset_of(AcpiTable t) const { return t == AcpiTable::RSDP ? 0 : plan_.offset[index_of(t)]; }

    u32 length_of(AcpiTable t) const { return plan_.length[index_of(t)]; }

    // Store the address of `target` in a field of `holder` and record it.
    void pointer(AcpiTable holder, u32 field, u8 width, AcpiTable target)
    {
        u8* at = start_of(holder) + field;
        if (width == 4)
            store_le32(at, static_cast<u32>(gpa_of(target)));
        else
            store_le64(at, gpa_of(target));
        layout_.pointers[layout_.pointer_count++] = AcpiPointer{holder, target, buffer_offset_of(holder) + field, width};
    }

    // ACPI 6.4, 5.2.6. The checksum is set once the table is complete.
    void header(AcpiTable t, const char* signature, u8 revision)
    {
        u8* h = start_of(t);
        put_chars(h + 0, signature, 4);
        store_le32(h + 4, length_of(t));
        h[8] = revision;
        put_chars(h + 10, kOemId, 6);
        put_chars(h + 16, kOemTableId, 8);
        store_le32(h + 24, kOemRevision);
        put_chars(h + 28, kCreatorId, 4);
        store_le32(h + 32, kCreatorRevision);
    }

    void checksum(AcpiTable t) { set_checksum(start_of(t), length_of(t), kHeaderChecksum); }

    // ACPI 6.4, 5.2.5.3.
    void write_rsdp()
    {
        u8* r = start_of(AcpiTable::RSDP);
        put_chars(r + 0, "RSD PTR ", 8);
        put_chars(r + 9, kOemId, 6);
        r[15] = 2;  // revision: ACPI 2.0 and later, with the XSDT
        pointer(AcpiTable::RSDP, 16, 4, AcpiTable::RSDT);
        store_le32(r + 20, kAcpiRsdpLength);
        pointer(AcpiTable::RSDP, 24, 8, AcpiTable::XSDT);
        set_checksum(r, 20, 8);                // the ACPI 1.0 part
        set_checksum(r, kAcpiRsdpLength, 32);  // the whole structure
    }

    // ACPI 6.4, 5.2.10. No checksum; the OS owns the rest.
    void write_facs()
    {
        u8* f = start_of(AcpiTable::FACS);
        put_chars(f + 0, "FACS", 4);
        store_le32(f + 4, kFacsLength);
        f[32] = 2;  // version
    }

    void write_dsdt()
    {
        header(AcpiTable::DSDT, "DSDT", 2);  // revision 2: AML integers are 64 bits
        write_dsdt_aml(p_, start_of(AcpiTable::DSDT) + kHeaderLength, length_of(AcpiTable::DSDT) - kHeaderLength);
        checksum(AcpiTable::DSDT);
    }

    // A Generic Address Structure (ACPI 6.4, 5.2.3.2) in system I/O space.
    static void io_gas(u8* at, u8 bit_width, u8 access_size, u16 port)
    {
        at[0] = 1;  // address space: system I/O
        at[1] = bit_width;
        at[2] = 0;  // bit offset
        at[3] = access_size;  // 1 byte, 2 word, 3 dword
        store_le64(at + 4, port);
    }

    // ACPI 6.4, 5.2.9 (revision 6, 276 bytes).
    void write_fadt()
    {
        constexpr AcpiTable t = AcpiTable::FADT;
        u8* f = start_of(t);
        header(t, "FACP", 6);
        pointer(t, 36, 4, AcpiTable::FACS);  // FIRMWARE_CTRL; X_FIRMWARE_CTRL stays 0, as
                                             // the spec asks when FIRMWARE_CTRL is set
        pointer(t, 40, 4, AcpiTable::DSDT);
        // 44: reserved; 45: preferred PM profile 0 (unspecified).
        store_le16(f + 46, p_.sci_irq);
        // 48-55: SMI_CMD, ACPI_ENABLE, ACPI_DISABLE, S4BIOS_REQ, PSTATE_CNT
        // all 0: no SMM, the platform is in ACPI mode (SCI_EN reads 1) from reset.
        store_le32(f + 56, p_.pm_base);                  // PM1a_EVT_BLK
        store_le32(f + 64, p_.pm_base + kPm1CntOffset);  // PM1a_CNT_BLK
        store_le32(f + 76, p_.pm_base + kPmTmrOffset);   // PM_TMR_BLK
        f[88] = kPm1EvtLength;
        f[89] = kPm1CntLength;
        f[91] = kPmTmrLength;
        // No GPE blocks (lengths 0), no _CST.
        store_le16(f + 96, 101);   // P_LVL2_LAT > 100: C2 not supported
        store_le16(f + 98, 1001);  // P_LVL3_LAT > 1000: C3 not supported
        f[108] = p_.rtc_century_index;
        store_le16(f + 109, kBootArchLegacyDevices | kBootArch8042);  // IAPC_BOOT_ARCH
        store_le32(f + 112, kFlagWbinvd | kFlagProcC1 | kFlagSlpButton | kFlagResetRegSup);
        io_gas(f + 116, 8, 1, p_.reset_port);  // RESET_REG
        f[128] = p_.reset_value;
        f[131] = 4;  // FADT minor version: ACPI 6.4
        pointer(t, 140, 8, AcpiTable::DSDT);   // X_DSDT
        io_gas(f + 148, kPm1EvtLength * 8, 2, p_.pm_base);                  // X_PM1a_EVT_BLK: two 16-bit registers
        io_gas(f + 172, kPm1CntLength * 8, 2, p_.pm_base + kPm1CntOffset);  // X_PM1a_CNT_BLK
        io_gas(f + 208, kPmTmrLength * 8, 3, p_.pm_base + kPmTmrOffset);    // X_PM_TMR_BLK
        checksum(t);
    }

    // ACPI 6.4, 5.2.12 and its Interrupt Controller Structures.
    void write_madt()
    {
        constexpr AcpiTable t = AcpiTable::MADT;
        u8* m = start_of(t);
        header(t, "APIC", 5);
        store_le32(m + 36, static_cast<u32>(p_.lapic_base));
        store_le32(m + 40, kMadtPcatCompat);
        u8* e = m + kMadtFixedLength;
        for (u32 i = 0; i < p_.vcpus; ++i, e += kMadtLocalApicLength) {  // 5.2.12.2
            e[0] = 0;  // Processor Local APIC
            e[1] = kMadtLocalApicLength;
            e[2] = static_cast<u8>(i);  // ACPI processor UID (the DSDT's _UID)
            e[3] = static_cast<u8>(i);  // APIC ID
            store_le32(e + 4, kMadtLapicEnabled);
        }
        e[0] = 1;  // I/O APIC, 5.2.12.3
        e[1] = kMadtIoApicLength;
        e[2] = p_.ioapic_id;
        store_le32(e + 4, static_cast<u32>(p_.ioapic_base));
        store_le32(e + 8, p_.ioapic_gsi_base);
        e += kMadtIoApicLength;
        // ISA IRQ 0 (the PIT) reaches I/O APIC pin 2; ISA edge/high, so "conforms".
        interrupt_override(e, 0, 2, 0);
        e += kMadtOverrideLength;
        interrupt_override(e, p_.sci_irq, p_.sci_irq, kIntiActiveHigh | kIntiLevel);
        e += kMadtOverrideLength;
        e[0] = 4;  // Local APIC NMI, 5.2.12.7
        e[1] = kMadtLocalNmiLength;
        e[2] = 0xff;  // all processors
        store_le16(e + 3, 0);  // flags: conforms
        e[5] = 1;            // LINT1
        checksum(t);
    }

    // Interrupt Source Override, 5.2.12.5: bus 0 (ISA) `source` -> `gsi`.
    static void interrupt_override(u8* e, u8 source, u32 gsi, u16 flags)
    {
        e[0] = 2;
        e[1] = kMadtOverrideLength;
        e[2] = 0;
        e[3] = source;
        store_le32(e + 4, gsi);
        store_le16(e + 8, flags);
    }

    // ACPI 6.4, 5.2.7 and 5.2.8: the tables that have headers, except the DSDT.
    void write_rsdt()
    {
        header(AcpiTable::RSDT, "RSDT", 1);
        pointer(AcpiTable::RSDT, kHeaderLength + 0, 4, AcpiTable::FADT);
        pointer(AcpiTable::RSDT, kHeaderLength + 4, 4, AcpiTable::MADT);
        checksum(AcpiTable::RSDT);
    }

    void write_xsdt()
    {
        header(AcpiTable::XSDT, "XSDT", 1);
        pointer(AcpiTable::XSDT, kHeaderLength + 0, 8, AcpiTable::FADT);
        pointer(AcpiTable::XSDT, kHeaderLength + 8, 8, AcpiTable::MADT);
        checksum(AcpiTable::XSDT);
    }

    // FADT IAPC_BOOT_ARCH (5.2.9.3) and Fixed Feature Flags (5.2.9).
    static constexpr u16 kBootArchLegacyDevices = 1u << 0;  // ISA devices the OS enumerates itself
    static constexpr u16 kBootArch8042 = 1u << 1;           // the i8042 at 0x60/0x64
    static constexpr u32 kFlagWbinvd = 1u << 0;
    static constexpr u32 kFlagProcC1 = 1u << 2;
    // No sleep button: the DSDT declares no sleep state it could enter. The
    // power button (flag bit 4 clear) is the fixed-feature one of AcpiPm.
    static constexpr u32 kFlagSlpButton = 1u << 5;
    static constexpr u32 kFlagResetRegSup = 1u << 10;
    // MADT flags (5.2.12), local APIC flags (5.2.12.2), MPS INTI flags (5.2.12.5).
    static constexpr u32 kMadtPcatCompat = 1u << 0;
    static constexpr u32 kMadtLapicEnabled = 1u << 0;
    static constexpr u16 kIntiActiveHigh = 1u << 0;  // polarity 01
    static constexpr u16 kIntiLevel = 3u << 2;       // trigger mode 11

    const AcpiPlatform& p_;
    const Target& target_;
    const Plan& plan_;
    AcpiLayout& layout_;
};

}  // namespace

const char* acpi_table_name(AcpiTable table)
{
    switch (table) {
    case AcpiTable::RSDP: return "RSDP";
    case AcpiTable::FACS: return "FACS";
    case AcpiTable::DSDT: return "DSDT";
    case AcpiTable::FADT: return "FADT";
    case AcpiTable::MADT: return "MADT";
    case AcpiTable::RSDT: return "RSDT";
    case AcpiTable::XSDT: return "XSDT";
    }
    return "?";
}

namespace {

// The single-buffer layout: the RSDP at base_gpa, the FACS at the next
// 64-byte aligned address after it.
u32 first_table_offset(u64 base_gpa) { return static_cast<u32>(align_up(base_gpa + kAcpiRsdpLength, 64) - base_gpa); }

}  // namespace

Result<u32> acpi_tables_size(const AcpiPlatform& platform, u64 base_gpa)
{
    XENO_TRY(check_platform(platform));
    if (base_gpa % 16 != 0 || base_gpa >= k4GiB) return Status::BAD_ARGUMENT;
    const Plan plan = plan_tables(platform, first_table_offset(base_gpa));
    if (base_gpa + plan.end > k4GiB) return Status::BAD_ARGUMENT;
    return plan.end;
}

Result<AcpiLayout> build_acpi_tables(const AcpiPlatform& platform, u8* buffer, usize capacity, u64 base_gpa)
{
    const Result<u32> size = acpi_tables_size(platform, base_gpa);
    if (!size.ok()) return size.status();
    if (!buffer) return Status::BAD_ARGUMENT;
    if (capacity < size.value()) return Status::TOO_LARGE;

    const Plan plan = plan_tables(platform, first_table_offset(base_gpa));
    zero_bytes(buffer, plan.end);
    const Target target{buffer, base_gpa, buffer, base_gpa};
    AcpiLayout layout;
    TableWriter(platform, target, plan, layout).write_all();
    layout.size = plan.end;
    return layout;
}

Result<AcpiLayout> build_acpi_tables_split(const AcpiPlatform& platform, u8* tables, usize tables_capacity,
                                           u8* rsdp, usize rsdp_capacity)
{
    XENO_TRY(check_platform(platform));
    if (!tables || !rsdp) return Status::BAD_ARGUMENT;
    const Plan plan = plan_tables(platform, 0);
    if (tables_capacity < plan.end || rsdp_capacity < kAcpiRsdpLength) return Status::TOO_LARGE;

    zero_bytes(tables, plan.end);
    zero_bytes(rsdp, kAcpiRsdpLength);
    const Target target{rsdp, 0, tables, 0};
    AcpiLayout layout;
    TableWriter(platform, target, plan, layout).write_all();
    layout.size = plan.end;
    return layout;
}

}  // namespace xeno::boot
