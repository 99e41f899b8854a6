// Batch mode of the hw kernel: several domains, one after another, in one
// boot, next to a decoy of memory nobody may touch. A boot in Bochs costs
// seconds before the first guest instruction (BIOS, GRUB, the kernel's
// set-up), so a test rig that runs many small guests hands them over in one
// module instead of booting once per guest (tests/adversarial/bochs_test.cpp
// writes it).
//
// The module whose string is "xeno-batch" holds (little-endian):
//   BatchHeader, then run_count BatchRun entries, then the images, each at
//   the offset its entry names (4 KiB aligned).
// For each run, start() gets a BootInfo of its own: the firmware's memory map
// (from which the boot loader's modules are carved out already), module 0 =
// the run's image with the run's module string ("guest" or "kernel"), module 1
// = the decoy (so the frame allocator never hands it out, as in the sim build),
// and the run's command line. Around every run the decoy is checked word by
// word against its pattern and hashed:
//   batch: decoy at 0x<base> <bytes> bytes hash 0x<h>
//   batch: run <i>/<n> <name>: <cmdline>
//   ... the run's own LOG lines and guest console ...
//   batch: result <name> status <s> after <t> us     (the machine's time)
//   batch: decoy hash 0x<h> (<k> words changed)     (after every run)
//   batch: done <n> runs
// A run that changed the decoy gets it refilled, so the next one is judged on
// its own. The kernel then powers off with status 0 (the rig judges the runs).
#include "core/boot_info.hpp"
#include "hal/hw/hw.hpp"
#include "hal/cpu.hpp"
#include "hal/memory.hpp"
#include "lib/format.hpp"

namespace xeno::hw {
namespace {

constexpr char kMagic[16] = "XENO-BATCH-1";
constexpr u64 kPage = 4096;
constexpr u64 kMaxDecoyBytes = u64{1} << 30;
constexpr int kBadBatch = 2;  // the exit status of a batch module the kernel cannot use

struct BatchHeader {
    char magic[16];
    u32 run_count;
    u32 entry_size;  // sizeof(BatchRun): a writer and a reader of different layouts disagree here
    u64 decoy_bytes;
};

struct BatchRun {
    char name[64];      // NUL-terminated, as every string here
    char cmdline[224];  // the hypervisor's command line for this run
    char module[16];    // module 0's string: "guest" (a flat image) or "kernel"
    u64 image_offset;   // from the start of the batch module
    u64 image_size;
};
static_assert(sizeof(BatchHeader) == 32 && sizeof(BatchRun) == 320, "the layout tests/adversarial writes");

bool terminated(const char* s, usize capacity)
{
    for (usize i = 0; i < capacity; ++i)
        if (s[i] == '\0') return true;
    return false;
}

void log_line(Writer& w)
{
    w.ch('\n');
    log_str(w.c_str());
}

// The decoy's words: each its own address mixed (the sim build's pattern),
// which no allocator, zeroing or copy of another page would produce.
u64 decoy_word(u64 machine) { return machine * 0x9e3779b97f4a7c15ull ^ 0xd1b54a32d192ed03ull; }

void decoy_fill(Hpa base, u64 bytes)
{
    u64* w = static_cast<u64*>(hal::machine_to_virt(base));
    for (u64 i = 0; i < bytes / 8; ++i) w[i] = decoy_word(base.value() + i * 8);
}

struct DecoyCheck {
    u64 hash = 0xcbf29ce484222325ull;  // FNV-1a over the 64-bit words
    u64 changed = 0;                   // words that differ from the pattern
    u64 first_changed = 0;             // the machine address of the first of them
};

DecoyCheck decoy_check(Hpa base, u64 bytes)
{
    DecoyCheck c;
    const u64* w = static_cast<const u64*>(hal::machine_to_virt(base));
    for (u64 i = 0; i < bytes / 8; ++i) {
        const u64 v = w[i];
        c.hash = (c.hash ^ v) * 0x100000001b3ull;
        if (v != decoy_word(base.value() + i * 8) && c.changed++ == 0) c.first_changed = base.value() + i * 8;
    }
    return c;
}

// The lowest page-aligned stretch of `bytes` in usable memory above 1 MiB
// (the boot loader's modules and the kernel image are carved out of it
// already), or 0.
u64 place_decoy(const BootInfo& boot, u64 bytes)
{
    for (usize i = 0; i < boot.region_count; ++i) {
        const MemoryRegion& r = boot.regions[i];
        if (r.type != MemoryRegion::Type::USABLE) continue;
        const u64 base = r.base < 0x100000 ? 0x100000 : (r.base + kPage - 1) & ~(kPage - 1);
        const u64 end = (r.base + r.length) & ~(kPage - 1);
        if (end > base && end - base >= bytes) return base;
    }
    return 0;
}

}  // namespace

const BootModule* find_batch_module(const BootInfo& boot)
{
    for (usize i = 0; i < boot.module_count; ++i)
        if (boot.modules[i].cmdline && string_equal(boot.modules[i].cmdline, "xeno-batch")) return &boot.modules[i];
    return nullptr;
}

int run_batch(const BootInfo& boot, const BootModule& batch)
{
    FixedWriter<400> w;
    const u8* bytes = static_cast<const u8*>(hal::machine_to_virt(batch.start));
    const BatchHeader* header = reinterpret_cast<const BatchHeader*>(bytes);
    if (batch.size < sizeof(BatchHeader) || !terminated(header->magic, sizeof header->magic) ||
        !string_equal(header->magic, kMagic) ||
        header->entry_size != sizeof(BatchRun) ||
        header->run_count > (batch.size - sizeof(BatchHeader)) / sizeof(BatchRun)) {
        log_str("batch: the xeno-batch module is not a batch of this kernel's layout (XENO-BATCH-1)\n");
        return kBadBatch;
    }
    const BatchRun* runs = reinterpret_cast<const BatchRun*>(bytes + sizeof(BatchHeader));
    for (u32 i = 0; i < header->run_count; ++i) {
        const BatchRun& r = runs[i];
        const bool strings = terminated(r.name, sizeof r.name) && terminated(r.cmdline, sizeof r.cmdline) &&
                             terminated(r.module, sizeof r.module);
        if (!strings || r.image_offset % kPage || r.image_offset > batch.size ||
            r.image_size > batch.size - r.image_offset) {
            w.str("batch: run ").dec(i + 1).str(" has an unterminated string or an image outside the module");
            log_line(w);
            return kBadBatch;
        }
    }

    const u64 decoy_bytes = header->decoy_bytes;
    u64 decoy = 0;
    if (decoy_bytes) {
        if (decoy_bytes % kPage || decoy_bytes > kMaxDecoyBytes || (decoy = place_decoy(boot, decoy_bytes)) == 0) {
            w.str("batch: no room for a decoy of ").dec(decoy_bytes).str(" bytes (whole pages, at most 1 GiB)");
            log_line(w);
            return kBadBatch;
        }
        decoy_fill(Hpa{decoy}, decoy_bytes);
        w.str("batch: decoy at ").hex(decoy).ch(' ').dec(decoy_bytes).str(" bytes hash ")
            .hex(decoy_check(Hpa{decoy}, decoy_bytes).hash);
        log_line(w);
    }

    for (u32 i = 0; i < header->run_count; ++i) {
        const BatchRun& r = runs[i];
        w.clear();
        w.str("batch: run ").dec(i + 1).ch('/').dec(header->run_count).ch(' ').str(r.name).str(": ").str(r.cmdline);
        log_line(w);

        BootInfo one = boot;  // the memory map and the kernel image as the boot loader gave them
        one.modules[0] = BootModule{Hpa{batch.start.value() + r.image_offset}, r.image_size, r.module};
        one.module_count = 1;
        if (decoy_bytes) one.modules[one.module_count++] = BootModule{Hpa{decoy}, decoy_bytes, "decoy"};
        // The whole batch stays reserved, not only this run's image: a domain
        // given the frames of a later run's image writes its own guest there,
        // and the later run boots that (found so: idt_limit_zero's guest
        // landed on lapic_timer_storm's image two runs ahead, and that run
        // then ran idt_limit_zero's code).
        one.modules[one.module_count++] = BootModule{batch.start, batch.size, "xeno-batch"};
        one.cmdline = r.cmdline;
        one.memory_zeroed = false;  // the previous runs used it
        const u64 began = hal::time_ns();
        const int status = start(one);
        const u64 took_us = (hal::time_ns() - began) / 1000;

        w.clear();
        w.str("batch: result ").str(r.name).str(" status ").sdec(status).str(" after ").dec(took_us).str(" us");
        log_line(w);
        if (decoy_bytes) {
            const DecoyCheck c = decoy_check(Hpa{decoy}, decoy_bytes);
            w.clear();
            w.str("batch: decoy hash ").hex(c.hash).str(" (").dec(c.changed).str(" words changed");
            if (c.changed) w.str(", the first at ").hex(c.first_changed);
            w.ch(')');
            log_line(w);
            if (c.changed) decoy_fill(Hpa{decoy}, decoy_bytes);
        }
    }
    w.clear();
    w.str("batch: done ").dec(header->run_count).str(" runs");
    log_line(w);
    return 0;
}

}  // namespace xeno::hw
