#include "boot/acpi_table_loader.hpp"

#include "boot/table_bytes.hpp"

namespace xeno::boot {

namespace {

using namespace table_loader;

// Appends 128-byte commands to the loader buffer (sized by the caller
// for kAcpiLoaderCommands).
class ScriptWriter {
public:
    explicit ScriptWriter(u8* out) : out_(out) {}

    u32 size() const { return count_ * kCommandSize; }

    void allocate(const char* file, u32 alignment, u8 zone)
    {
        u8* c = next(ALLOCATE);
        file_name(c + 4, file);
        store_le32(c + 60, alignment);
        c[64] = zone;
    }

    void add_pointer(const char* destination, const char* source, u32 offset, u8 size)
    {
        u8* c = next(ADD_POINTER);
        file_name(c + 4, destination);
        file_name(c + 60, source);
        store_le32(c + 116, offset);
        c[120] = size;
    }

    void add_checksum(const char* file, u32 result_offset, u32 start, u32 length)
    {
        u8* c = next(ADD_CHECKSUM);
        file_name(c + 4, file);
        store_le32(c + 60, result_offset);
        store_le32(c + 64, start);
        store_le32(c + 68, length);
    }

private:
    u8* next(u32 command)
    {
        u8* c = out_ + size();
        ++count_;
        zero_bytes(c, kCommandSize);
        store_le32(c, command);
        return c;
    }

    // NUL-padded; the names used here are far shorter than the field.
    static void file_name(u8* field, const char* name)
    {
        for (u32 i = 0; i < kFileNameSize - 1 && name[i]; ++i) field[i] = static_cast<u8>(name[i]);
    }

    u8* out_;
    u32 count_ = 0;
};

const char* file_of(AcpiTable t) { return t == AcpiTable::RSDP ? kAcpiRsdpFile : kAcpiTablesFile; }

constexpr u32 kHeaderChecksum = 9;

}  // namespace

Result<AcpiFwCfgFiles> build_acpi_fw_cfg(const AcpiPlatform& platform, const AcpiFwCfgBuffers& buffers)
{
    if (!buffers.loader) return Status::BAD_ARGUMENT;
    if (buffers.loader_capacity < kAcpiLoaderSize) return Status::TOO_LARGE;
    const Result<AcpiLayout> built = build_acpi_tables_split(platform, buffers.tables, buffers.tables_capacity,
                                                             buffers.rsdp, buffers.rsdp_capacity);
    if (!built.ok()) return built.status();
    const AcpiLayout& layout = built.value();

    ScriptWriter script(buffers.loader);
    // The FACS, first in the tables file, must be 64-byte aligned; the RSDP
    // must be 16-byte aligned in the BIOS area the OS scans (0xe0000-0xfffff).
    script.allocate(kAcpiTablesFile, 64, ZONE_HIGH);
    script.allocate(kAcpiRsdpFile, 16, ZONE_FSEG);
    // Every pointer field holds its target's offset in the tables file;
    // adding the file's address makes it the target's address.
    for (u32 i = 0; i < layout.pointer_count; ++i) {
        const AcpiPointer& ptr = layout.pointers[i];
        script.add_pointer(file_of(ptr.holder), file_of(ptr.target), ptr.offset, ptr.width);
    }
    script.add_checksum(kAcpiRsdpFile, 8, 0, 20);
    script.add_checksum(kAcpiRsdpFile, 32, 0, kAcpiRsdpLength);
    constexpr AcpiTable kChecksummed[] = {AcpiTable::DSDT, AcpiTable::FADT, AcpiTable::MADT, AcpiTable::RSDT,
                                          AcpiTable::XSDT};
    for (AcpiTable t : kChecksummed) {
        const AcpiPlacement& place = layout.table(t);
        script.add_checksum(kAcpiTablesFile, place.offset + kHeaderChecksum, place.offset, place.length);
    }

    AcpiFwCfgFiles files;
    files.tables_size = layout.size;
    files.rsdp_size = kAcpiRsdpLength;
    files.loader_size = script.size();
    files.layout = layout;
    return files;
}

}  // namespace xeno::boot
