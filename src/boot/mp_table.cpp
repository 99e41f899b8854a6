#include "boot/mp_table.hpp"

#include "boot/table_bytes.hpp"

namespace xeno::boot {

namespace {

constexpr u32 kFloatingLength = 16;
constexpr u32 kHeaderLength = 44;
constexpr u32 kProcessorLength = 20;
constexpr u32 kShortEntryLength = 8;  // bus, I/O APIC, I/O and local interrupt entries
constexpr u32 kIsaIrqEntries = 15;    // IRQs 0-15 but 2
constexpr u32 kLocalIntEntries = 2;   // ExtINT on LINT0, NMI on LINT1
constexpr u8 kSpecRevision = 4;       // MP spec 1.4
constexpr u8 kIsaBusId = 0;
constexpr u64 k4GiB = u64{1} << 32;

// Entry types (MP spec 4.3).
constexpr u8 kTypeProcessor = 0;
constexpr u8 kTypeBus = 1;
constexpr u8 kTypeIoApic = 2;
constexpr u8 kTypeIoInterrupt = 3;
constexpr u8 kTypeLocalInterrupt = 4;

// Interrupt types and flags of interrupt entries (MP spec 4.3.4: PO bits
// 1:0, EL bits 3:2).
constexpr u8 kIntInt = 0;
constexpr u8 kIntNmi = 1;
constexpr u8 kIntExtInt = 3;
constexpr u16 kFlagsConform = 0;
constexpr u16 kFlagsActiveHighLevel = 0x1 | (0x3 << 2);

constexpr u8 kCpuEnabled = 1u << 0;
constexpr u8 kCpuBootProcessor = 1u << 1;
constexpr u8 kIoApicEnabled = 1u << 0;
constexpr u8 kAllLocalApics = 0xff;

u32 entry_count(u32 vcpus) { return vcpus + 1 + 1 + kIsaIrqEntries + kLocalIntEntries; }

u32 config_length(u32 vcpus)
{
    return kHeaderLength + vcpus * kProcessorLength + (2 + kIsaIrqEntries + kLocalIntEntries) * kShortEntryLength;
}

// An I/O or local interrupt assignment entry (4.3.4 and 4.3.5 share the layout).
u8* interrupt_entry(u8* e, u8 type, u8 int_type, u16 flags, u8 source_irq, u8 destination, u8 pin)
{
    e[0] = type;
    e[1] = int_type;
    store_le16(e + 2, flags);
    e[4] = kIsaBusId;
    e[5] = source_irq;
    e[6] = destination;  // I/O APIC ID, or local APIC ID (0xff: all)
    e[7] = pin;          // INTIN# or LINTIN#
    return e + kShortEntryLength;
}

u8* write_entries(const AcpiPlatform& p, const MpCpuInfo& cpu, u8* e)
{
    for (u32 i = 0; i < p.vcpus; ++i, e += kProcessorLength) {  // 4.3.1
        e[0] = kTypeProcessor;
        e[1] = static_cast<u8>(i);  // local APIC ID
        e[2] = cpu.lapic_version;
        e[3] = static_cast<u8>(kCpuEnabled | (i == 0 ? kCpuBootProcessor : 0));
        store_le32(e + 4, cpu.signature);
        store_le32(e + 8, cpu.feature_flags);
    }
    e[0] = kTypeBus;  // 4.3.2
    e[1] = kIsaBusId;
    put_chars(e + 2, "ISA   ", 6);
    e += kShortEntryLength;
    e[0] = kTypeIoApic;  // 4.3.3
    e[1] = p.ioapic_id;
    e[2] = cpu.ioapic_version;
    e[3] = kIoApicEnabled;
    store_le32(e + 4, static_cast<u32>(p.ioapic_base));
    e += kShortEntryLength;
    for (u8 irq = 0; irq < 16; ++irq) {
        if (irq == 2) continue;  // the cascade: pin 2 belongs to IRQ 0
        const u16 flags = irq == p.sci_irq ? kFlagsActiveHighLevel : kFlagsConform;
        const u8 pin = irq == 0 ? 2 : irq;
        e = interrupt_entry(e, kTypeIoInterrupt, kIntInt, flags, irq, p.ioapic_id, pin);
    }
    // The 8259A's INTR reaches the BSP's LINT0 only (Domain wires it so).
    e = interrupt_entry(e, kTypeLocalInterrupt, kIntExtInt, kFlagsConform, 0, 0, 0);
    e = interrupt_entry(e, kTypeLocalInterrupt, kIntNmi, kFlagsConform, 0, kAllLocalApics, 1);
    return e;
}

}  // namespace

u32 mp_table_size(u32 vcpus)
{
    if (vcpus == 0 || vcpus > kMpMaxVcpus) return 0;
    return kFloatingLength + config_length(vcpus);
}

Result<MpLayout> build_mp_table(const AcpiPlatform& platform, const MpCpuInfo& cpu, u8* buffer, usize capacity,
                                u64 base_gpa)
{
    const u32 size = mp_table_size(platform.vcpus);
    if (size == 0) return Status::BAD_ARGUMENT;
    if (platform.sci_irq == 0 || platform.sci_irq == 2 || platform.sci_irq > 15) return Status::BAD_ARGUMENT;
    if (platform.lapic_base >= k4GiB || platform.ioapic_base >= k4GiB) return Status::BAD_ARGUMENT;
    if (base_gpa % 16 != 0 || base_gpa >= k4GiB || base_gpa + size > k4GiB) return Status::BAD_ARGUMENT;
    if (!buffer) return Status::BAD_ARGUMENT;
    if (capacity < size) return Status::TOO_LARGE;

    zero_bytes(buffer, size);
    const u32 length = config_length(platform.vcpus);
    const u64 config_gpa = base_gpa + kFloatingLength;

    // The floating pointer structure (MP spec 4.1).
    u8* fp = buffer;
    put_chars(fp + 0, "_MP_", 4);
    store_le32(fp + 4, static_cast<u32>(config_gpa));
    fp[8] = 1;  // length in 16-byte units
    fp[9] = kSpecRevision;
    // Feature byte 1 = 0: the configuration table is present. Feature byte 2
    // bit 7 (IMCRP) = 0: no IMCR, virtual wire mode.
    set_checksum(fp, kFloatingLength, 10);

    // The configuration table header (MP spec 4.2).
    u8* ct = buffer + kFloatingLength;
    put_chars(ct + 0, "PCMP", 4);
    store_le16(ct + 4, static_cast<u16>(length));
    ct[6] = kSpecRevision;
    put_chars(ct + 8, "XENO    ", 8);
    put_chars(ct + 16, "XENOHVM     ", 12);
    store_le16(ct + 34, static_cast<u16>(entry_count(platform.vcpus)));
    store_le32(ct + 36, static_cast<u32>(platform.lapic_base));
    // No OEM table and no extended entries: their pointers, lengths and
    // checksum stay 0.
    write_entries(platform, cpu, ct + kHeaderLength);
    set_checksum(ct, length, 7);

    MpLayout layout;
    layout.floating_pointer_gpa = base_gpa;
    layout.config_table_gpa = config_gpa;
    layout.config_table_length = length;
    layout.entry_count = static_cast<u16>(entry_count(platform.vcpus));
    layout.size = size;
    return layout;
}

}  // namespace xeno::boot
