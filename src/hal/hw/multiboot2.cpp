// Multiboot2 boot information -> BootInfo (multiboot2 specification, 3.6
// "Boot information format"): the command line (tag 1), modules (tag 3) and
// the memory map (tag 6). Strings are copied out, so the information area
// itself may be reused once this returns. The memory map that reaches the
// hypervisor has the first MiB, the kernel image and the modules carved out
// of USABLE memory and listed as RESERVED.
#include "hal/hw/hw.hpp"
#include "hal/memory.hpp"
#include "lib/format.hpp"

extern "C" char __image_start_phys[];
extern "C" char __image_end_phys[];

namespace xeno::hw {
namespace {

constexpr u32 kTagEnd = 0, kTagCmdline = 1, kTagModule = 3, kTagMmap = 6;
constexpr u32 kMmapAvailable = 1;
constexpr u64 kPage = 4096;

char g_cmdline[1024];
u64 g_ap_startup_pages = 0;
char g_module_cmdlines[BootInfo::kMaxModules][256];

template <typename T>
T load(u64 machine)
{
    return *static_cast<const T*>(hal::machine_to_virt(Hpa{machine}));
}

void copy_string(u64 machine, u64 limit, char* out, usize capacity)
{
    const char* s = static_cast<const char*>(hal::machine_to_virt(Hpa{machine}));
    usize i = 0;
    for (; i + 1 < capacity && i < limit && s[i]; ++i) out[i] = s[i];
    out[i] = '\0';
}

struct Range {
    u64 base, end;
};

bool add_region(BootInfo& boot, u64 base, u64 end, MemoryRegion::Type type)
{
    if (end <= base) return true;
    if (boot.region_count == BootInfo::kMaxRegions) return false;
    boot.regions[boot.region_count++] = MemoryRegion{base, end - base, type};
    return true;
}

// Adds usable [base, end) minus the carve-outs (sorted, disjoint).
bool add_usable(BootInfo& boot, u64 base, u64 end, const Range* carve, usize carve_count)
{
    for (usize i = 0; i < carve_count && base < end; ++i) {
        if (carve[i].end <= base || carve[i].base >= end) continue;
        if (!add_region(boot, base, carve[i].base, MemoryRegion::Type::USABLE)) return false;
        base = carve[i].end;
    }
    return base >= end || add_region(boot, base, end, MemoryRegion::Type::USABLE);
}

void sort_regions(BootInfo& boot)
{
    for (usize i = 1; i < boot.region_count; ++i)
        for (usize j = i; j > 0 && boot.regions[j].base < boot.regions[j - 1].base; --j) {
            const MemoryRegion t = boot.regions[j];
            boot.regions[j] = boot.regions[j - 1];
            boot.regions[j - 1] = t;
        }
}

// The highest two free pages in usable memory [base, end) below 1 MiB that
// hold neither the boot information nor a module, or 0.
u64 low_pages_in(u64 base, u64 end, u64 info, u64 info_end, const BootInfo& boot)
{
    constexpr u64 kNeed = 2 * kPage, kLowLimit = 0x100000;
    base = base < kPage ? kPage : (base + kPage - 1) & ~(kPage - 1);  // never page 0 (the real-mode IVT)
    if (end > kLowLimit) end = kLowLimit;
    end &= ~(kPage - 1);
    for (u64 at = end; at >= base + kNeed; at -= kPage) {
        const u64 b = at - kNeed;
        bool clear = at <= info || b >= info_end;
        for (usize i = 0; clear && i < boot.module_count; ++i) {
            const u64 mb = boot.modules[i].start.value(), me = mb + boot.modules[i].size;
            clear = at <= mb || b >= me;
        }
        if (clear) return b;
    }
    return 0;
}

}  // namespace

u64 ap_startup_pages() { return g_ap_startup_pages; }

bool parse_multiboot2(u64 info, BootInfo& boot)
{
    boot = BootInfo{};
    g_ap_startup_pages = 0;
    boot.cmdline = "";
    const u32 total = load<u32>(info);
    u64 mmap_tag = 0;
    for (u64 at = info + 8; at + 8 <= info + total;) {
        const u32 type = load<u32>(at);
        const u32 size = load<u32>(at + 4);
        if (type == kTagEnd || size < 8) break;
        if (type == kTagCmdline) {
            copy_string(at + 8, size - 8, g_cmdline, sizeof g_cmdline);
            boot.cmdline = g_cmdline;
        } else if (type == kTagModule && size >= 16) {
            if (boot.module_count == BootInfo::kMaxModules) {
                log_str("hw: too many modules; the rest are ignored\n");
            } else {
                const usize i = boot.module_count++;
                const u32 start = load<u32>(at + 8), end = load<u32>(at + 12);
                copy_string(at + 16, size - 16, g_module_cmdlines[i], sizeof g_module_cmdlines[i]);
                boot.modules[i] = BootModule{Hpa{start}, end > start ? u64{end - start} : 0, g_module_cmdlines[i]};
            }
        } else if (type == kTagMmap) {
            mmap_tag = at;
        }
        at += (size + 7) & ~u64{7};
    }
    if (mmap_tag == 0) {
        log_str("hw: the boot loader gave no memory map (multiboot2 tag 6)\n");
        return false;
    }

    // Carve-outs: first MiB, the image, the modules; sorted by base.
    Range carve[2 + BootInfo::kMaxModules];
    usize carve_count = 0;
    carve[carve_count++] = Range{0, 0x100000};
    boot.image_start = Hpa{reinterpret_cast<u64>(__image_start_phys)};
    boot.image_end = Hpa{reinterpret_cast<u64>(__image_end_phys)};
    carve[carve_count++] = Range{boot.image_start.value(), boot.image_end.value()};
    for (usize i = 0; i < boot.module_count; ++i) {
        const u64 b = boot.modules[i].start.value() & ~(kPage - 1);
        const u64 e = (boot.modules[i].start.value() + boot.modules[i].size + kPage - 1) & ~(kPage - 1);
        carve[carve_count++] = Range{b, e};
    }
    for (usize i = 1; i < carve_count; ++i)
        for (usize j = i; j > 0 && carve[j].base < carve[j - 1].base; --j) {
            const Range t = carve[j];
            carve[j] = carve[j - 1];
            carve[j - 1] = t;
        }

    bool fits = true;
    const u32 tag_size = load<u32>(mmap_tag + 4);
    const u32 entry_size = load<u32>(mmap_tag + 8);
    for (u64 e = mmap_tag + 16; entry_size >= 24 && e + entry_size <= mmap_tag + tag_size; e += entry_size) {
        const u64 base = load<u64>(e), length = load<u64>(e + 8);
        const u32 type = load<u32>(e + 16);
        if (type == kMmapAvailable) {
            if (g_ap_startup_pages == 0) g_ap_startup_pages = low_pages_in(base, base + length, info, info + total, boot);
            // Usable memory is used in whole pages.
            const u64 b = (base + kPage - 1) & ~(kPage - 1), end = (base + length) & ~(kPage - 1);
            fits = fits && add_usable(boot, b, end, carve, carve_count);
        } else {
            fits = fits && add_region(boot, base, base + length, MemoryRegion::Type::RESERVED);
        }
    }
    for (usize i = 0; i < carve_count; ++i) fits = fits && add_region(boot, carve[i].base, carve[i].end, MemoryRegion::Type::RESERVED);
    if (!fits) log_str("hw: memory map has more than 32 regions; the rest are ignored\n");
    sort_regions(boot);
    return true;
}

}  // namespace xeno::hw
