// fuzz-loaders: arbitrary bytes as a kernel image, through every loader the
// domain builder (src/boot/domain_builder.cpp) tries, in its order: the Linux
// bzImage header and its payload, multiboot 1, multiboot 2, ELF with its
// notes (the PVH entry). Each must refuse cleanly or return a load plan that
// stays inside the image it was given and inside the addresses its protocol
// allows; the boot-information writer of each accepted protocol must stay
// inside the buffer it is given (a canary zone after it is checked). The
// image lives in a heap block of exactly its size, so any read past it is an
// AddressSanitizer report.
//
// Not covered here: the builder's copies into guest RAM through the p2m
// (build_kernel_domain needs a whole domain; its range checks are
// check_kernel_range and P2m::copy_to_guest, tested in tests/boot and
// tests/core).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "boot/elf_image.hpp"
#include "boot/linux_boot.hpp"
#include "boot/multiboot.hpp"
#include "boot/pvh.hpp"

using namespace xeno;
using namespace xeno::boot;

namespace {

constexpr u64 k4G = u64{1} << 32;
constexpr u64 kInfoGpa = 0x2000;

[[noreturn]] void fail(const char* loader, const char* what)
{
    std::fprintf(stderr, "fuzz-loaders: %s: %s\n", loader, what);
    std::abort();
}

// A writer's output buffer followed by a canary zone it must not touch.
struct Guarded {
    static constexpr usize kGuard = 64;
    static constexpr u8 kCanary = 0xa5;
    std::vector<u8> storage;
    usize capacity;
    explicit Guarded(usize cap) : storage(cap + kGuard, kCanary), capacity(cap) {}
    u8* out() { return storage.data(); }
    void check(const char* loader, usize used) const
    {
        for (usize i = capacity; i < storage.size(); ++i)
            if (storage[i] != kCanary) fail(loader, "the writer wrote past its buffer");
        if (used > capacity) fail(loader, "bytes_used beyond the buffer");
    }
};

// What the builder hands the writers: a 16 MiB guest's map, an initrd module
// and an ACPI 2.0 RSDP (the writers copy the strings and the RSDP).
const E820Entry kMap[] = {{0, 0x9fc00, kE820Ram}, {0x9fc00, 0x400, kE820Reserved},
                          {0xe0000, 0x20000, kE820Reserved}, {0x100000, 0xf00000, kE820Ram}};
const char kCmdline[] = "console=ttyS0 root=/dev/ram0";
const BootModule kInitrd{0x800000, 0x12345, "initrd"};
const u8 kRsdp[36] = {'R', 'S', 'D', ' ', 'P', 'T', 'R', ' '};

GuestBootInputs boot_inputs()
{
    GuestBootInputs in;
    in.cmdline = kCmdline;
    in.modules = &kInitrd;
    in.module_count = 1;
    in.memory_map = kMap;
    in.memory_map_count = sizeof kMap / sizeof kMap[0];
    in.rsdp = kRsdp;
    in.rsdp_size = sizeof kRsdp;
    in.rsdp_gpa = 0xe0000;
    return in;
}

bool inside(u64 offset, u64 length, u64 size) { return offset <= size && length <= size - offset; }

void linux_bzimage(const u8* image, usize size)
{
    LinuxKernelPlan plan{};
    const char* why = nullptr;
    if (parse_linux_bzimage(image, size, &plan, &why) != Status::OK) {
        if (!why) fail("bzImage", "refused without a reason");
        return;
    }
    if (!inside(plan.kernel_offset, plan.kernel_size, size)) fail("bzImage", "the kernel lies outside the image");
    if (plan.kernel_offset != plan.setup_size) fail("bzImage", "kernel_offset != setup_size");
    if (plan.load_addr < 0x100000) fail("bzImage", "loaded below 1 MiB");
    if (plan.load_addr + plan.kernel_size > k4G || plan.runtime_end > k4G)
        fail("bzImage", "the kernel reaches past 4 GiB");
    if (plan.header_end > kBootParamsSize) fail("bzImage", "the setup header ends past boot_params");

    LinuxPayload payload{};
    if (find_linux_payload(image, size, plan, &payload, &why) == Status::OK &&
        !inside(payload.file_offset, payload.size, size))
        fail("bzImage", "the payload lies outside the image");

    const LinuxBootInputs li{kCmdline, kInitrd.gpa, kInitrd.size, kMap, sizeof kMap / sizeof kMap[0], 0xe0000};
    Guarded params(kBootParamsSize + 512);
    LinuxBootParamsPlacement where{};
    if (write_linux_boot_params(image, size, plan, li, params.out(), params.capacity, kInfoGpa, &where, &why) ==
        Status::OK) {
        params.check("bzImage boot_params", where.bytes_used);
        if (where.boot_params_gpa != kInfoGpa) fail("bzImage", "boot_params not at the given address");
    } else {
        params.check("bzImage boot_params", 0);
    }
}

void check_load_plan(const char* loader, const MultibootLoadPlan& p, usize size)
{
    if (!inside(p.file_offset, p.file_size, size)) fail(loader, "the load plan reads outside the image");
    if (p.load_end != p.load_addr + p.file_size) fail(loader, "load_end != load_addr + file_size");
    if (p.bss_end < p.load_end) fail(loader, "bss_end below load_end");
    if (p.bss_end > k4G) fail(loader, "the load plan reaches past 4 GiB");
}

void multiboot1(const u8* image, usize size)
{
    Multiboot1Header h{};
    const char* why = nullptr;
    if (parse_multiboot1_header(image, size, &h, &why) != Status::OK) return;
    if (h.offset % 4 != 0 || h.offset + 12 > size || h.offset + 12 > kMultiboot1SearchLimit)
        fail("multiboot1", "the header is not where the specification allows");
    if (h.has_load_plan) check_load_plan("multiboot1", h.load, size);
    Guarded info(4096);
    BootInfoPlacement where{};
    const Status s = write_multiboot1_info(boot_inputs(), info.out(), info.capacity, kInfoGpa, &where, &why);
    info.check("multiboot1 info", s == Status::OK ? where.bytes_used : 0);
}

void multiboot2(const u8* image, usize size)
{
    Multiboot2Header h{};
    const char* why = nullptr;
    if (parse_multiboot2_header(image, size, &h, &why) != Status::OK) return;
    if (h.offset % 8 != 0 || !inside(h.offset, h.header_length, size) || h.offset + h.header_length > kMultiboot2SearchLimit)
        fail("multiboot2", "the header is not where the specification allows");
    if (h.required_info_tags & ~kMultiboot2SupportedInfoTags) fail("multiboot2", "requires an unsupported tag");
    if (h.has_load_plan) check_load_plan("multiboot2", h.load, size);
    Guarded info(4096);
    BootInfoPlacement where{};
    GuestBootInputs in = boot_inputs();
    in.has_load_base = h.relocatable;
    in.load_base = 0x200000;
    const Status s = write_multiboot2_info(in, h.required_info_tags, info.out(), info.capacity, kInfoGpa, &where, &why);
    info.check("multiboot2 info", s == Status::OK ? where.bytes_used : 0);
}

void elf(const u8* image, usize size)
{
    ElfImage e{};
    const char* why = nullptr;
    if (parse_elf(image, size, &e, &why) != Status::OK) {
        if (!why) fail("ELF", "refused without a reason");
        return;
    }
    if (e.segment_count < 1 || e.segment_count > kMaxElfLoadSegments) fail("ELF", "segment count out of range");
    if (e.note_count > kMaxElfNoteSegments) fail("ELF", "note count out of range");
    for (usize i = 0; i < e.segment_count; ++i) {
        const ElfSegment& s = e.segments[i];
        if (!inside(s.file_offset, s.file_size, size)) fail("ELF", "a segment lies outside the image");
        if (s.file_size > s.mem_size) fail("ELF", "p_filesz > p_memsz");
        if (s.paddr + s.mem_size < s.paddr) fail("ELF", "a segment's addresses overflow");
        if (s.paddr < e.paddr_start || s.paddr + s.mem_size > e.paddr_end) fail("ELF", "a segment outside paddr_start/end");
        if (!e.is_64bit && s.paddr + s.mem_size > k4G) fail("ELF", "an ELF32 segment past 4 GiB");
        for (usize j = 0; j < i; ++j) {
            const ElfSegment& t = e.segments[j];
            if (s.paddr < t.paddr + t.mem_size && t.paddr < s.paddr + s.mem_size) fail("ELF", "segments overlap");
        }
    }
    for (usize i = 0; i < e.note_count; ++i)
        if (!inside(e.notes[i].file_offset, e.notes[i].size, size)) fail("ELF", "a note segment outside the image");
    ElfNoteReader notes(image, size, e);
    ElfNote note{};
    unsigned walked = 0;
    while (notes.next(&note, &why) == Status::OK) {
        const u8* end = image + size;
        if (note.name < image || note.name + note.name_size > end || note.desc < image || note.desc + note.desc_size > end)
            fail("ELF", "a note outside the image");
        if (++walked > size) fail("ELF", "the note walk does not end");
    }
    if (e.has_pvh_entry) {
        Guarded info(4096);
        BootInfoPlacement where{};
        const Status s = write_pvh_start_info(boot_inputs(), info.out(), info.capacity, kInfoGpa, &where, &why);
        info.check("PVH start info", s == Status::OK ? where.bytes_used : 0);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    // A copy of exactly `size` bytes: reading past it is an ASan report.
    std::vector<u8> image(data, data + size);
    const u8* p = image.empty() ? nullptr : image.data();
    linux_bzimage(p, size);
    multiboot1(p, size);
    multiboot2(p, size);
    elf(p, size);
    return 0;
}
