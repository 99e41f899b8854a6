#include "boot/pvh.hpp"

#include "boot/guest_buffer.hpp"
#include "boot/image_bytes.hpp"

namespace xeno::boot {
namespace {

constexpr u64 kAddress32Limit = u64{1} << 32;

// The ABI structures are little-endian with natural alignment (asserted in
// pvh.hpp), which is the host's own layout on x86: they are copied as they are.
template <typename T>
void put(u8* at, const T& value)
{
    __builtin_memcpy(at, &value, sizeof value);
}

Status too_small(const char** why) { return refuse(why, Status::TOO_LARGE, "buffer too small for the PVH start info"); }

}  // namespace

Status write_pvh_start_info(const GuestBootInputs& in, u8* out, usize capacity, u64 base_gpa,
                            BootInfoPlacement* where, const char** why)
{
    if (base_gpa == 0 || base_gpa >= kAddress32Limit)
        return refuse(why, Status::BAD_ARGUMENT, "PVH start info must lie above 0 and below 4 GiB");
    if ((in.module_count && !in.modules) || (in.memory_map_count && !in.memory_map))
        return refuse(why, Status::BAD_ARGUMENT, "a module or memory-map count without its array");
    if (in.module_count > capacity / sizeof(HvmModlistEntry) ||
        in.memory_map_count > capacity / sizeof(HvmMemmapTableEntry))
        return too_small(why);

    GuestBuffer buf(out, capacity, base_gpa);
    u8* info_at = buf.reserve(sizeof(HvmStartInfo), 8);
    u8* modlist_at = in.module_count ? buf.reserve(in.module_count * sizeof(HvmModlistEntry), 8) : nullptr;
    u8* memmap_at = in.memory_map_count ? buf.reserve(in.memory_map_count * sizeof(HvmMemmapTableEntry), 8) : nullptr;
    if (!info_at || (in.module_count && !modlist_at) || (in.memory_map_count && !memmap_at)) return too_small(why);

    HvmStartInfo info{};
    info.magic = kHvmStartMagic;
    info.version = kHvmStartInfoVersion;
    info.nr_modules = static_cast<u32>(in.module_count);
    info.modlist_paddr = modlist_at ? buf.gpa_of(modlist_at) : 0;
    info.rsdp_paddr = in.rsdp_gpa;
    info.memmap_paddr = memmap_at ? buf.gpa_of(memmap_at) : 0;
    info.memmap_entries = static_cast<u32>(in.memory_map_count);
    if (in.cmdline) {
        const u8* cmdline = buf.put_string(in.cmdline);
        if (!cmdline) return too_small(why);
        info.cmdline_paddr = buf.gpa_of(cmdline);
    }
    put(info_at, info);

    for (usize i = 0; i < in.memory_map_count; ++i) {
        const E820Entry& e = in.memory_map[i];
        put(memmap_at + i * sizeof(HvmMemmapTableEntry), HvmMemmapTableEntry{e.addr, e.size, e.type, 0});
    }
    for (usize i = 0; i < in.module_count; ++i) {
        const BootModule& m = in.modules[i];
        u64 cmdline_paddr = 0;
        if (m.cmdline) {
            const u8* s = buf.put_string(m.cmdline);
            if (!s) return too_small(why);
            cmdline_paddr = buf.gpa_of(s);
        }
        put(modlist_at + i * sizeof(HvmModlistEntry), HvmModlistEntry{m.gpa, m.size, cmdline_paddr, 0});
    }

    if (!buf.ends_below(kAddress32Limit))
        return refuse(why, Status::BAD_ARGUMENT, "PVH start info must end below 4 GiB");
    *where = BootInfoPlacement{buf.gpa_of(info_at), buf.used()};
    return Status::OK;
}

}  // namespace xeno::boot
