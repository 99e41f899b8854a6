// The boot information a multiboot kernel finds through EBX. Multiboot 1:
// specification 0.6.96, 3.3 "Boot information format". Multiboot 2:
// specification 2.0, 3.6 "Boot information format".
#include "boot/multiboot.hpp"

#include "boot/guest_buffer.hpp"
#include "boot/image_bytes.hpp"

namespace xeno::boot {
namespace {

constexpr u64 kAddress32Limit = u64{1} << 32;
constexpr const char* kLoaderName = "Xeno";

// struct multiboot_info: flags and field offsets.
constexpr u32 kMb1InfoMemory = 1u << 0;      // mem_lower, mem_upper
constexpr u32 kMb1InfoCmdline = 1u << 2;
constexpr u32 kMb1InfoModules = 1u << 3;
constexpr u32 kMb1InfoMemoryMap = 1u << 6;
constexpr u32 kMb1InfoLoaderName = 1u << 9;
constexpr usize kMb1InfoSize = 116;  // through the framebuffer fields (flag 12)
constexpr usize kMb1Flags = 0, kMb1MemLower = 4, kMb1MemUpper = 8, kMb1Cmdline = 16, kMb1ModsCount = 20,
                kMb1ModsAddr = 24, kMb1MmapLength = 44, kMb1MmapAddr = 48, kMb1LoaderName = 64;
constexpr usize kMb1ModuleSize = 16;    // mod_start, mod_end, string, reserved
constexpr usize kMb1MmapEntrySize = 24; // size (20, not counting itself), base_addr, length, type

// Multiboot 2 information tag types.
constexpr u32 kMb2InfoEnd = 0, kMb2InfoCmdline = 1, kMb2InfoLoaderName = 2, kMb2InfoModule = 3,
              kMb2InfoBasicMemory = 4, kMb2InfoMemoryMap = 6, kMb2InfoAcpiOld = 14, kMb2InfoAcpiNew = 15,
              kMb2InfoLoadBase = kMultiboot2InfoLoadBase;
constexpr u32 kMb2MmapEntrySize = 24;  // base_addr, length, type, reserved
constexpr usize kRsdpV1Size = 20, kRsdpV2Size = 36;

constexpr u64 kLowMemoryEnd = 640 * 1024;  // conventional memory: mem_lower counts up to here
constexpr u64 kUpperMemoryStart = 1024 * 1024;

u64 saturating_end(const E820Entry& e) { return e.size > ~u64{0} - e.addr ? ~u64{0} : e.addr + e.size; }

// Bytes of RAM contiguous from `start` (entries may be unsorted; adjacent or
// overlapping RAM entries join), at most up to `limit`.
u64 contiguous_ram(const E820Entry* map, usize count, u64 start, u64 limit)
{
    u64 end = start;
    for (bool grew = true; grew && end < limit;) {
        grew = false;
        for (usize i = 0; i < count; ++i)
            if (map[i].type == kE820Ram && map[i].addr <= end && end < saturating_end(map[i])) {
                end = saturating_end(map[i]);
                grew = true;
            }
    }
    return (end < limit ? end : limit) - start;
}

// mem_lower: KiB of RAM from 0 (at most 640); mem_upper: KiB of RAM from 1 MiB
// up to the first hole (the specification's "maximally the address of the
// first upper memory hole minus 1 megabyte").
void memory_kib(const GuestBootInputs& in, u32* lower, u32* upper)
{
    *lower = static_cast<u32>(contiguous_ram(in.memory_map, in.memory_map_count, 0, kLowMemoryEnd) / 1024);
    const u64 up = contiguous_ram(in.memory_map, in.memory_map_count, kUpperMemoryStart, ~u64{0}) / 1024;
    *upper = up > 0xffffffffu ? 0xffffffffu : static_cast<u32>(up);
}

usize length_of(const char* s)
{
    usize n = 0;
    while (s && s[n]) ++n;
    return n;
}

Status too_small(const char** why, const char* what) { return refuse(why, Status::TOO_LARGE, what); }

Status check_modules_below_4g(const GuestBootInputs& in, const char** why)
{
    for (usize i = 0; i < in.module_count; ++i)
        if (in.modules[i].gpa >= kAddress32Limit || in.modules[i].size > kAddress32Limit - in.modules[i].gpa)
            return refuse(why, Status::BAD_ARGUMENT, "a multiboot module must lie below 4 GiB");
    return Status::OK;
}

Status check_inputs(const GuestBootInputs& in, u64 base_gpa, const char** why)
{
    if (base_gpa >= kAddress32Limit)
        return refuse(why, Status::BAD_ARGUMENT, "multiboot information must lie below 4 GiB");
    if ((in.module_count && !in.modules) || (in.memory_map_count && !in.memory_map))
        return refuse(why, Status::BAD_ARGUMENT, "a module or memory-map count without its array");
    return check_modules_below_4g(in, why);
}

// Multiboot 2 tag: type, size (header and payload, not the padding to 8).
u8* begin_mb2_tag(GuestBuffer& buf, u32 type, u64 payload)
{
    u8* tag = buf.reserve(8 + payload, 8);
    if (tag) {
        store_le32(tag, type);
        store_le32(tag + 4, static_cast<u32>(8 + payload));
    }
    return tag;
}

void copy_bytes(u8* to, const void* from, usize n)
{
    const u8* src = static_cast<const u8*>(from);
    for (usize i = 0; i < n; ++i) to[i] = src[i];
}

u8* put_mb2_string_tag(GuestBuffer& buf, u32 type, const char* s)
{
    const usize n = length_of(s);
    u8* tag = begin_mb2_tag(buf, type, n + 1);
    if (tag) copy_bytes(tag + 8, s, n);  // the NUL is already there
    return tag;
}

Status check_required_tags(const GuestBootInputs& in, u32 required, const char** why)
{
    if ((required & (1u << kMb2InfoBasicMemory | 1u << kMb2InfoMemoryMap)) && in.memory_map_count == 0)
        return refuse(why, Status::NOT_FOUND, "the kernel requires a memory map and none was given");
    if ((required & 1u << kMb2InfoAcpiOld) && in.rsdp_size < kRsdpV1Size)
        return refuse(why, Status::NOT_FOUND, "the kernel requires the ACPI RSDP and none was given");
    if ((required & 1u << kMb2InfoAcpiNew) && in.rsdp_size != kRsdpV2Size)
        return refuse(why, Status::NOT_FOUND, "the kernel requires an ACPI 2.0 RSDP and none was given");
    if ((required & 1u << kMb2InfoLoadBase) && !in.has_load_base)
        return refuse(why, Status::NOT_FOUND, "the kernel requires its load base address and none was given");
    return Status::OK;
}

}  // namespace

Status write_multiboot1_info(const GuestBootInputs& in, u8* out, usize capacity, u64 base_gpa,
                             BootInfoPlacement* where, const char** why)
{
    XENO_TRY(check_inputs(in, base_gpa, why));
    GuestBuffer buf(out, capacity, base_gpa);
    u8* info = buf.reserve(kMb1InfoSize, 8);
    if (!info) return too_small(why, "buffer too small for the multiboot information");
    u32 flags = kMb1InfoMemory | kMb1InfoModules | kMb1InfoLoaderName;
    u32 lower, upper;
    memory_kib(in, &lower, &upper);
    store_le32(info + kMb1MemLower, lower);
    store_le32(info + kMb1MemUpper, upper);

    const u8* name = buf.put_string(kLoaderName);
    if (!name) return too_small(why, "buffer too small for the multiboot boot loader name");
    store_le32(info + kMb1LoaderName, static_cast<u32>(buf.gpa_of(name)));

    if (in.cmdline) {
        const u8* cmdline = buf.put_string(in.cmdline);
        if (!cmdline) return too_small(why, "buffer too small for the multiboot command line");
        store_le32(info + kMb1Cmdline, static_cast<u32>(buf.gpa_of(cmdline)));
        flags |= kMb1InfoCmdline;
    }

    if (in.memory_map_count) {
        if (in.memory_map_count > capacity / kMb1MmapEntrySize)
            return too_small(why, "buffer too small for the multiboot memory map");
        u8* mmap = buf.reserve(in.memory_map_count * kMb1MmapEntrySize, 8);
        if (!mmap) return too_small(why, "buffer too small for the multiboot memory map");
        for (usize i = 0; i < in.memory_map_count; ++i) {
            u8* e = mmap + i * kMb1MmapEntrySize;
            store_le32(e, kMb1MmapEntrySize - 4);  // the size field does not count itself
            store_le64(e + 4, in.memory_map[i].addr);
            store_le64(e + 12, in.memory_map[i].size);
            store_le32(e + 20, in.memory_map[i].type);
        }
        store_le32(info + kMb1MmapLength, static_cast<u32>(in.memory_map_count * kMb1MmapEntrySize));
        store_le32(info + kMb1MmapAddr, static_cast<u32>(buf.gpa_of(mmap)));
        flags |= kMb1InfoMemoryMap;
    }

    store_le32(info + kMb1ModsCount, static_cast<u32>(in.module_count));
    if (in.module_count) {
        if (in.module_count > capacity / kMb1ModuleSize)
            return too_small(why, "buffer too small for the multiboot module list");
        u8* mods = buf.reserve(in.module_count * kMb1ModuleSize, 8);
        if (!mods) return too_small(why, "buffer too small for the multiboot module list");
        store_le32(info + kMb1ModsAddr, static_cast<u32>(buf.gpa_of(mods)));
        for (usize i = 0; i < in.module_count; ++i) {
            const BootModule& m = in.modules[i];
            const u8* string = buf.put_string(m.cmdline);
            if (!string) return too_small(why, "buffer too small for a multiboot module string");
            u8* e = mods + i * kMb1ModuleSize;
            store_le32(e, static_cast<u32>(m.gpa));
            store_le32(e + 4, static_cast<u32>(m.gpa + m.size));  // one past the last byte, as GRUB gives it
            store_le32(e + 8, static_cast<u32>(buf.gpa_of(string)));
        }
    }
    store_le32(info + kMb1Flags, flags);

    if (!buf.ends_below(kAddress32Limit))
        return refuse(why, Status::BAD_ARGUMENT, "multiboot information must lie below 4 GiB");
    *where = BootInfoPlacement{buf.gpa_of(info), buf.used()};
    return Status::OK;
}

Status write_multiboot2_info(const GuestBootInputs& in, u32 required_info_tags, u8* out, usize capacity, u64 base_gpa,
                             BootInfoPlacement* where, const char** why)
{
    XENO_TRY(check_inputs(in, base_gpa, why));
    if (in.rsdp_size && in.rsdp_size != kRsdpV1Size && in.rsdp_size != kRsdpV2Size)
        return refuse(why, Status::BAD_ARGUMENT, "an RSDP is 20 (ACPI 1.0) or 36 (ACPI 2.0+) bytes");
    if (in.rsdp_size && !in.rsdp) return refuse(why, Status::BAD_ARGUMENT, "an RSDP size without its bytes");
    if (in.has_load_base && in.load_base >= kAddress32Limit)
        return refuse(why, Status::BAD_ARGUMENT, "a multiboot2 load base address must lie below 4 GiB");
    XENO_TRY(check_required_tags(in, required_info_tags, why));

    GuestBuffer buf(out, capacity, base_gpa);
    u8* info = buf.reserve(8, 8);  // total_size, reserved
    if (!info || !put_mb2_string_tag(buf, kMb2InfoCmdline, in.cmdline) ||
        !put_mb2_string_tag(buf, kMb2InfoLoaderName, kLoaderName))
        return too_small(why, "buffer too small for the multiboot2 information");

    if (in.has_load_base) {
        u8* tag = begin_mb2_tag(buf, kMb2InfoLoadBase, 4);
        if (!tag) return too_small(why, "buffer too small for the multiboot2 load base address tag");
        store_le32(tag + 8, static_cast<u32>(in.load_base));
    }

    for (usize i = 0; i < in.module_count; ++i) {
        const BootModule& m = in.modules[i];
        const usize n = length_of(m.cmdline);
        u8* tag = begin_mb2_tag(buf, kMb2InfoModule, 8 + n + 1);
        if (!tag) return too_small(why, "buffer too small for the multiboot2 module tags");
        store_le32(tag + 8, static_cast<u32>(m.gpa));
        store_le32(tag + 12, static_cast<u32>(m.gpa + m.size));
        copy_bytes(tag + 16, m.cmdline, n);
    }

    if (in.memory_map_count) {
        u32 lower, upper;
        memory_kib(in, &lower, &upper);
        u8* basic = begin_mb2_tag(buf, kMb2InfoBasicMemory, 8);
        if (!basic || in.memory_map_count > capacity / kMb2MmapEntrySize)
            return too_small(why, "buffer too small for the multiboot2 memory map");
        store_le32(basic + 8, lower);
        store_le32(basic + 12, upper);
        u8* mmap = begin_mb2_tag(buf, kMb2InfoMemoryMap, 8 + in.memory_map_count * kMb2MmapEntrySize);
        if (!mmap) return too_small(why, "buffer too small for the multiboot2 memory map");
        store_le32(mmap + 8, kMb2MmapEntrySize);
        store_le32(mmap + 12, 0);  // entry_version
        for (usize i = 0; i < in.memory_map_count; ++i) {
            u8* e = mmap + 16 + i * kMb2MmapEntrySize;
            store_le64(e, in.memory_map[i].addr);
            store_le64(e + 8, in.memory_map[i].size);
            store_le32(e + 16, in.memory_map[i].type);
        }
    }

    if (in.rsdp_size) {
        // Tag 14 holds an ACPI 1.0 RSDP: the first 20 bytes of a 2.0 one are exactly that.
        u8* old_rsdp = begin_mb2_tag(buf, kMb2InfoAcpiOld, kRsdpV1Size);
        if (!old_rsdp) return too_small(why, "buffer too small for the multiboot2 ACPI tags");
        copy_bytes(old_rsdp + 8, in.rsdp, kRsdpV1Size);
        if (in.rsdp_size == kRsdpV2Size) {
            u8* new_rsdp = begin_mb2_tag(buf, kMb2InfoAcpiNew, kRsdpV2Size);
            if (!new_rsdp) return too_small(why, "buffer too small for the multiboot2 ACPI tags");
            copy_bytes(new_rsdp + 8, in.rsdp, kRsdpV2Size);
        }
    }

    if (!begin_mb2_tag(buf, kMb2InfoEnd, 0)) return too_small(why, "buffer too small for the multiboot2 end tag");
    if (!buf.ends_below(kAddress32Limit))
        return refuse(why, Status::BAD_ARGUMENT, "multiboot2 information must lie below 4 GiB");
    const usize total = buf.used() - static_cast<usize>(info - buf.at(0));
    store_le32(info, static_cast<u32>(total));
    *where = BootInfoPlacement{buf.gpa_of(info), buf.used()};
    return Status::OK;
}

}  // namespace xeno::boot
