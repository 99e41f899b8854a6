#include "boot/domain_builder.hpp"

#include "boot/acpi_table_loader.hpp"
#include "boot/acpi_tables.hpp"
#include "boot/elf_image.hpp"
#include "boot/guest_boot_inputs.hpp"
#include "boot/guest_layout.hpp"
#include "boot/linux_boot.hpp"
#include "boot/mp_table.hpp"
#include "boot/multiboot.hpp"
#include "boot/pvh.hpp"
#include "boot/table_bytes.hpp"
#include "core/log.hpp"
#include "hal/cpu.hpp"
#include "hal/memory.hpp"
#include "mm/heap.hpp"

namespace xeno::boot {

namespace {

constexpr u64 kGdtGpa = 0x1000;
constexpr u64 kBootInfoGpa = 0x2000;
constexpr u64 kBootInfoEnd = 0x80000;
constexpr u64 kAcpiGpa = kBiosAreaStart;  // 0xe0000: RSDP first, where a BIOS-area scan finds it
constexpr u64 kAcpiEnd = 0xf0000;
constexpr u64 kMpGpa = 0xf0000;           // the F segment: where an MP-table scan looks
constexpr u64 kLowMegabyte = 0x100000;
constexpr u64 kPage = 4096;

// The GDT of the 32-bit entry (vmcs_setup.hpp GuestStart::FLAT32): null,
// unused, 0x10 flat code, 0x18 flat data (Linux's __BOOT_CS and __BOOT_DS).
constexpr u64 kBootGdt[4] = {0, 0, 0x00cf9b000000ffffull, 0x00cf93000000ffffull};
// Linux's 64-bit entry (boot.rst, "64-bit Boot Protocol"): the same GDT
// with 0x10 a 64-bit code segment, and page tables that identity-map the
// first 4 GiB with 2 MiB pages (the kernel, boot_params, the command line
// and the initrd all lie there): a PML4, a PDPT and four page directories
// in the last pages of the boot information area.
constexpr u64 kLongModeGdt[4] = {0, 0, 0x00af9b000000ffffull, 0x00cf93000000ffffull};
constexpr u64 kIdentityMapPages = 6;
constexpr u64 kIdentityMapGpa = kBootInfoEnd - kIdentityMapPages * kPage;

u64 align_up_page(u64 v) { return (v + kPage - 1) & ~(kPage - 1); }

// A buffer from the hypervisor heap. The builder's buffers are never freed
// one by one: fw_cfg serves some of them for the domain's life, and the heap
// itself is the boot's (start.cpp), dropped when the boot ends.
struct Buffer {
    u8* data;
    usize size;
};
Result<Buffer> heap_buffer(usize size)
{
    Result<void*> m = heap().allocate(size == 0 ? 1 : size, 16);
    if (!m.ok()) return m.status();
    return Buffer{static_cast<u8*>(m.value()), size};
}

// QEMU's etc/e820 entry: address, length, type, packed (20 bytes).
constexpr usize kFwCfgE820EntrySize = 20;

class Builder {
public:
    Builder(Domain& d, const KernelInputs& in) : d_(d), in_(in), layout_(d.layout()) {}

    Result<KernelBoot> build();

private:
    Status refuse(const char* why, const char* detail = nullptr)
    {
        LogLine line;
        line.str("domain: kernel refused: ").str(why);
        if (detail) line.str(": ").str(detail);
        return Status::BAD_ARGUMENT;
    }

    // [gpa, gpa + length) is guest RAM (no wrap).
    bool in_ram(u64 gpa, u64 length) const
    {
        if (length == 0) return true;
        const u64 last = gpa + length - 1;
        if (last < gpa) return false;
        if (last < layout_.low_end) return true;
        return layout_.high_end && gpa >= k4GiB && last < layout_.high_end;
    }
    Status copy(u64 gpa, const void* bytes, u64 length, const char* what)
    {
        if (!in_ram(gpa, length)) return refuse(what, "outside guest RAM");
        if (d_.p2m().copy_to_guest(Gpa{gpa}, bytes, length, &hal::machine_memory_written) != Status::OK)
            return refuse(what, "outside guest RAM");
        return Status::OK;
    }
    // A kernel's bytes must lie in RAM above the low megabyte (the boot
    // information, the BIOS area and the tables are below it).
    Status check_kernel_range(u64 start, u64 end)
    {
        if (start < kLowMegabyte) return refuse("a kernel segment lies in the low megabyte");
        if (end < start || !in_ram(start, end - start)) return refuse("a kernel segment lies outside guest RAM");
        return Status::OK;
    }

    Status write_tables();
    Status fill_fw_cfg();
    Status place_module_after(u64 kernel_end);
    Status load_elf(const ElfImage& elf);
    Status write_identity_map();
    Result<u64> load_multiboot_image(bool has_load_plan, const MultibootLoadPlan& plan, const char* not_elf);
    Result<KernelBoot> boot_linux(const LinuxKernelPlan& plan);
    Result<KernelBoot> boot_multiboot1(const Multiboot1Header& header);
    Result<KernelBoot> boot_multiboot2(const Multiboot2Header& header);
    Result<KernelBoot> boot_pvh(const ElfImage& elf);
    Result<KernelBoot> flat32(KernelProtocol protocol, u64 entry, u32 eax, u32 ebx, u32 esi);
    GuestBootInputs boot_inputs();

    Domain& d_;
    const KernelInputs& in_;
    const GuestLayout& layout_;
    E820Entry e820_[kGuestE820Max] = {};
    usize e820_count_ = 0;
    AcpiPlatform acpi_;
    u8 rsdp_[36] = {};
    u64 rsdp_gpa_ = 0;
    u64 initrd_gpa_ = 0;
    BootModule module_{};
    u64 kernel_load_ = 0, kernel_entry_ = 0;
    const u8* kernel_data_ = nullptr;  // what fw_cfg serves as the kernel (Linux: the protected-mode part)
    u64 kernel_data_size_ = 0;
    const u8* setup_data_ = nullptr;  // Linux only: the real-mode setup
    u64 setup_size_ = 0;
};

Status Builder::write_tables()
{
    acpi_.vcpus = d_.planned_vcpus();
    acpi_.pm_base = Domain::kAcpiPmBase;
    acpi_.sci_irq = static_cast<u8>(Domain::kSciIrq);
    acpi_.ioapic_base = Domain::kIoApicBase;
    acpi_.lapic_base = Domain::kLocalApicBase;
    Result<Buffer> tables = heap_buffer(kAcpiEnd - kAcpiGpa);
    if (!tables.ok()) return tables.status();
    Result<AcpiLayout> acpi = build_acpi_tables(acpi_, tables.value().data, tables.value().size, kAcpiGpa);
    if (!acpi.ok()) return refuse("the ACPI tables do not fit the BIOS area");
    XENO_TRY(copy(kAcpiGpa, tables.value().data, acpi.value().size, "the ACPI tables"));
    rsdp_gpa_ = acpi.value().rsdp_gpa;
    const AcpiPlacement& rsdp = acpi.value().table(AcpiTable::RSDP);
    for (usize i = 0; i < sizeof rsdp_ && i < rsdp.length; ++i) rsdp_[i] = tables.value().data[rsdp.offset + i];

    MpCpuInfo cpu;
    const hal::CpuidResult leaf1 = hal::cpuid(1, 0);
    cpu.signature = leaf1.eax;
    cpu.feature_flags = leaf1.edx;
    const u32 mp_size = mp_table_size(acpi_.vcpus);
    Result<Buffer> mp = heap_buffer(mp_size);
    if (!mp.ok()) return mp.status();
    Result<MpLayout> mp_layout = build_mp_table(acpi_, cpu, mp.value().data, mp.value().size, kMpGpa);
    if (!mp_layout.ok() || kMpGpa + mp_layout.value().size > kBiosAreaEnd) return refuse("the MP table does not fit");
    XENO_TRY(copy(kMpGpa, mp.value().data, mp_layout.value().size, "the MP table"));
    return copy(kGdtGpa, kBootGdt, sizeof kBootGdt, "the boot GDT");
}

Status Builder::fill_fw_cfg()
{
    using namespace devices;
    FwCfg& f = d_.fw_cfg();
    XENO_TRY(f.add_u64(fw_cfg::RAM_SIZE, layout_.ram_bytes));
    XENO_TRY(f.add_u32(fw_cfg::NB_CPUS, d_.planned_vcpus()));
    XENO_TRY(f.add_u32(fw_cfg::MAX_CPUS, d_.planned_vcpus()));
    XENO_TRY(f.add_u32(fw_cfg::KERNEL_ADDR, static_cast<u32>(kernel_load_)));
    XENO_TRY(f.add_u32(fw_cfg::KERNEL_ENTRY, static_cast<u32>(kernel_entry_)));
    XENO_TRY(f.add_u32(fw_cfg::KERNEL_SIZE, static_cast<u32>(kernel_data_size_)));
    XENO_TRY(f.add_bytes(fw_cfg::KERNEL_DATA, kernel_data_, static_cast<u32>(kernel_data_size_)));
    if (setup_data_) {
        XENO_TRY(f.add_u32(fw_cfg::SETUP_ADDR, 0x90000));  // where QEMU's linuxboot ROM puts the setup
        XENO_TRY(f.add_u32(fw_cfg::SETUP_SIZE, static_cast<u32>(setup_size_)));
        XENO_TRY(f.add_bytes(fw_cfg::SETUP_DATA, setup_data_, static_cast<u32>(setup_size_)));
    }
    XENO_TRY(f.add_u32(fw_cfg::INITRD_ADDR, static_cast<u32>(initrd_gpa_)));
    XENO_TRY(f.add_u32(fw_cfg::INITRD_SIZE, static_cast<u32>(in_.initrd_size)));
    if (in_.initrd) XENO_TRY(f.add_bytes(fw_cfg::INITRD_DATA, in_.initrd, static_cast<u32>(in_.initrd_size)));
    const char* cmdline = in_.cmdline ? in_.cmdline : "";
    usize cmdline_size = 0;
    while (cmdline[cmdline_size]) ++cmdline_size;
    XENO_TRY(f.add_u32(fw_cfg::CMDLINE_SIZE, static_cast<u32>(cmdline_size + 1)));
    XENO_TRY(f.add_bytes(fw_cfg::CMDLINE_DATA, reinterpret_cast<const u8*>(cmdline), static_cast<u32>(cmdline_size + 1)));

    // etc/e820 and the ACPI tables with their loader script: buffers from the
    // heap, which outlive the domain (the heap is the boot's).
    Result<Buffer> e820 = heap_buffer(e820_count_ * kFwCfgE820EntrySize);
    if (!e820.ok()) return e820.status();
    for (usize i = 0; i < e820_count_; ++i) {
        u8* p = e820.value().data + i * kFwCfgE820EntrySize;
        for (unsigned b = 0; b < 8; ++b) p[b] = static_cast<u8>(e820_[i].addr >> (8 * b));
        for (unsigned b = 0; b < 8; ++b) p[8 + b] = static_cast<u8>(e820_[i].size >> (8 * b));
        for (unsigned b = 0; b < 4; ++b) p[16 + b] = static_cast<u8>(e820_[i].type >> (8 * b));
    }
    XENO_TRY(f.add_file("etc/e820", e820.value().data, static_cast<u32>(e820.value().size)));

    Result<Buffer> tables = heap_buffer(kAcpiEnd - kAcpiGpa);
    Result<Buffer> rsdp = heap_buffer(64);
    Result<Buffer> loader = heap_buffer(kAcpiLoaderSize);
    if (!tables.ok() || !rsdp.ok() || !loader.ok()) return Status::NO_MEMORY;
    const AcpiFwCfgBuffers buffers{tables.value().data, tables.value().size, rsdp.value().data, rsdp.value().size,
                                   loader.value().data, loader.value().size};
    Result<AcpiFwCfgFiles> files = build_acpi_fw_cfg(acpi_, buffers);
    if (!files.ok()) return files.status();
    XENO_TRY(f.add_file(kAcpiTablesFile, tables.value().data, files.value().tables_size));
    XENO_TRY(f.add_file(kAcpiRsdpFile, rsdp.value().data, files.value().rsdp_size));
    return f.add_file(kTableLoaderFile, loader.value().data, files.value().loader_size);
}

GuestBootInputs Builder::boot_inputs()
{
    GuestBootInputs b;
    b.cmdline = in_.cmdline;
    if (in_.initrd) {
        module_ = BootModule{initrd_gpa_, in_.initrd_size, "initrd"};
        b.modules = &module_;
        b.module_count = 1;
    }
    b.memory_map = e820_;
    b.memory_map_count = e820_count_;
    b.rsdp = rsdp_;
    b.rsdp_size = sizeof rsdp_;
    b.rsdp_gpa = rsdp_gpa_;
    return b;
}

// Multiboot and PVH: the initrd right after the kernel, page aligned.
Status Builder::place_module_after(u64 kernel_end)
{
    if (!in_.initrd) return Status::OK;
    initrd_gpa_ = align_up_page(kernel_end);
    if (initrd_gpa_ + in_.initrd_size > layout_.low_end) return refuse("the initrd does not fit in guest RAM below 4 GiB");
    return copy(initrd_gpa_, in_.initrd, in_.initrd_size, "the initrd");
}

Result<KernelBoot> Builder::flat32(KernelProtocol protocol, u64 entry, u32 eax, u32 ebx, u32 esi)
{
    KernelBoot k{};
    k.protocol = protocol;
    k.start.mode = vmx::GuestStart::Mode::FLAT32;
    k.start.ip = entry;
    k.start.gpr[0] = eax;
    k.start.gpr[3] = ebx;
    k.start.gpr[6] = esi;
    k.start.gdt_base = kGdtGpa;
    k.start.gdt_limit = sizeof kBootGdt - 1;
    k.rsdp_gpa = rsdp_gpa_;
    kernel_entry_ = entry;
    if (Status s = fill_fw_cfg(); s != Status::OK) return refuse("fw_cfg cannot hold the boot items", status_name(s));
    LogLine line;
    line.str("domain: ").str(kernel_protocol_name(protocol)).str(" kernel, entry ").hex(entry);
    if (in_.initrd) line.str(", initrd at ").hex(initrd_gpa_);
    return k;
}

Status Builder::load_elf(const ElfImage& elf)
{
    XENO_TRY(check_kernel_range(elf.paddr_start, elf.paddr_end));
    for (usize i = 0; i < elf.segment_count; ++i) {
        const ElfSegment& s = elf.segments[i];
        // The RAM under the bss is zero already: the domain's frames come zeroed.
        XENO_TRY(copy(s.paddr, in_.kernel + s.file_offset, s.file_size, "a kernel segment"));
    }
    kernel_load_ = elf.paddr_start;
    kernel_data_ = in_.kernel;
    kernel_data_size_ = in_.kernel_size;
    return place_module_after(elf.paddr_end);
}

// A multiboot 1 or 2 kernel's image: by its address fields (the a.out
// kludge, the address tag) when it has them, else as ELF. The entry point.
Result<u64> Builder::load_multiboot_image(bool has_load_plan, const MultibootLoadPlan& p, const char* not_elf)
{
    if (has_load_plan) {
        XENO_TRY(check_kernel_range(p.load_addr, p.bss_end));
        XENO_TRY(copy(p.load_addr, in_.kernel + p.file_offset, p.file_size, "the kernel"));
        kernel_load_ = p.load_addr;
        kernel_data_ = in_.kernel;
        kernel_data_size_ = in_.kernel_size;
        XENO_TRY(place_module_after(p.bss_end));
        return p.entry;
    }
    ElfImage elf;
    const char* why = nullptr;
    if (parse_elf(in_.kernel, in_.kernel_size, &elf, &why) != Status::OK) return refuse(not_elf, why);
    XENO_TRY(load_elf(elf));
    return elf.entry_in_segment ? elf.entry_paddr : elf.entry;
}

Result<KernelBoot> Builder::boot_multiboot1(const Multiboot1Header& h)
{
    const Result<u64> entry =
        load_multiboot_image(h.has_load_plan, h.load, "a multiboot kernel without the a.out kludge must be ELF");
    if (!entry.ok()) return entry.status();
    Result<Buffer> info = heap_buffer(kBootInfoEnd - kBootInfoGpa);
    if (!info.ok()) return info.status();
    BootInfoPlacement where{};
    const char* why = nullptr;
    if (write_multiboot1_info(boot_inputs(), info.value().data, info.value().size, kBootInfoGpa, &where, &why) !=
        Status::OK)
        return refuse("the multiboot information does not fit", why);
    XENO_TRY(copy(kBootInfoGpa, info.value().data, where.bytes_used, "the multiboot information"));
    return flat32(KernelProtocol::MULTIBOOT1, entry.value(), kMultiboot1BootMagic, static_cast<u32>(where.info_gpa), 0);
}

Result<KernelBoot> Builder::boot_multiboot2(const Multiboot2Header& h)
{
    const Result<u64> loaded =
        load_multiboot_image(h.has_load_plan, h.load, "a multiboot 2 kernel without an address tag must be ELF");
    if (!loaded.ok()) return loaded.status();
    // An ELF image's entry address tag overrides e_entry.
    const u64 entry = !h.has_load_plan && h.has_entry ? h.entry : loaded.value();
    // The image load base physical address tag (21): for a relocatable image
    // (spec 3.6.15; Xeno loads it where it was linked to), or one that asks.
    GuestBootInputs inputs = boot_inputs();
    if (h.relocatable || ((h.required_info_tags | h.optional_info_tags) >> kMultiboot2InfoLoadBase & 1)) {
        inputs.has_load_base = true;
        inputs.load_base = kernel_load_;
    }
    Result<Buffer> info = heap_buffer(kBootInfoEnd - kBootInfoGpa);
    if (!info.ok()) return info.status();
    BootInfoPlacement where{};
    const char* why = nullptr;
    if (write_multiboot2_info(inputs, h.required_info_tags, info.value().data, info.value().size, kBootInfoGpa,
                              &where, &why) != Status::OK)
        return refuse("the multiboot 2 information does not fit", why);
    XENO_TRY(copy(kBootInfoGpa, info.value().data, where.bytes_used, "the multiboot 2 information"));
    return flat32(KernelProtocol::MULTIBOOT2, entry, kMultiboot2BootMagic, static_cast<u32>(where.info_gpa), 0);
}

Result<KernelBoot> Builder::boot_pvh(const ElfImage& elf)
{
    XENO_TRY(load_elf(elf));
    Result<Buffer> info = heap_buffer(kBootInfoEnd - kBootInfoGpa);
    if (!info.ok()) return info.status();
    BootInfoPlacement where{};
    const char* why = nullptr;
    if (write_pvh_start_info(boot_inputs(), info.value().data, info.value().size, kBootInfoGpa, &where, &why) !=
        Status::OK)
        return refuse("the PVH start information does not fit", why);
    XENO_TRY(copy(kBootInfoGpa, info.value().data, where.bytes_used, "the PVH start information"));
    return flat32(KernelProtocol::PVH, elf.pvh_entry, 0, static_cast<u32>(where.info_gpa), 0);
}

Result<KernelBoot> Builder::boot_linux(const LinuxKernelPlan& plan)
{
    // The kernel's protected-mode code at its load address; the memory it
    // uses before it reads the E820 map must be RAM.
    XENO_TRY(check_kernel_range(plan.load_addr, plan.load_addr + plan.kernel_size));
    XENO_TRY(check_kernel_range(plan.runtime_start, plan.runtime_end));
    XENO_TRY(copy(plan.load_addr, in_.kernel + plan.kernel_offset, plan.kernel_size, "the kernel"));
    kernel_load_ = plan.load_addr;
    kernel_data_ = in_.kernel + plan.kernel_offset;
    kernel_data_size_ = plan.kernel_size;
    setup_data_ = in_.kernel;
    setup_size_ = plan.setup_size;

    if (in_.initrd) {
        // As high as the kernel allows, below the hole, page aligned, clear
        // of the kernel.
        u64 limit = layout_.low_end;
        if (!plan.initrd_above_4g && u64{plan.initrd_addr_max} + 1 < limit) limit = u64{plan.initrd_addr_max} + 1;
        if (in_.initrd_size > limit) return refuse("the initrd does not fit below the kernel's initrd limit");
        initrd_gpa_ = (limit - in_.initrd_size) & ~(kPage - 1);
        const u64 kernel_end = plan.runtime_end > plan.load_addr + plan.kernel_size ? plan.runtime_end
                                                                                      : plan.load_addr + plan.kernel_size;
        if (initrd_gpa_ < align_up_page(kernel_end)) return refuse("the initrd does not fit next to the kernel in guest RAM");
        XENO_TRY(copy(initrd_gpa_, in_.initrd, in_.initrd_size, "the initrd"));
    }

    LinuxBootInputs li;
    li.cmdline = in_.cmdline;
    li.initrd_gpa = initrd_gpa_;
    li.initrd_size = in_.initrd ? in_.initrd_size : 0;
    li.memory_map = e820_;
    li.memory_map_count = e820_count_;
    li.rsdp_gpa = rsdp_gpa_;
    // With the 64-bit entry the identity map takes the area's last pages.
    const u64 params_end = plan.has_entry64 ? kIdentityMapGpa : kBootInfoEnd;
    Result<Buffer> params = heap_buffer(params_end - kBootInfoGpa);
    if (!params.ok()) return params.status();
    LinuxBootParamsPlacement where{};
    const char* why = nullptr;
    if (write_linux_boot_params(in_.kernel, in_.kernel_size, plan, li, params.value().data, params.value().size,
                                kBootInfoGpa, &where, &why) != Status::OK)
        return refuse("boot_params", why);
    XENO_TRY(copy(kBootInfoGpa, params.value().data, where.bytes_used, "boot_params"));
    // The 64-bit entry where xloadflags offers it (RSI = boot_params), else
    // the 32-bit one (ESI).
    Result<KernelBoot> k = flat32(KernelProtocol::LINUX, plan.has_entry64 ? plan.entry64 : plan.entry32, 0, 0,
                                  static_cast<u32>(where.boot_params_gpa));
    if (!k.ok() || !plan.has_entry64) return k;
    XENO_TRY(write_identity_map());
    XENO_TRY(copy(kGdtGpa, kLongModeGdt, sizeof kLongModeGdt, "the 64-bit boot GDT"));
    k.value().start.mode = vmx::GuestStart::Mode::LONG64;
    k.value().start.cr3 = kIdentityMapGpa;
    return k;
}

// kIdentityMapGpa: PML4[0] -> PDPT, PDPT[0..3] -> the page directories,
// each of their 512 entries a 2 MiB page (present, writable, PS).
Status Builder::write_identity_map()
{
    Result<Buffer> b = heap_buffer(kIdentityMapPages * kPage);
    if (!b.ok()) return b.status();
    u8* t = b.value().data;
    zero_bytes(t, kIdentityMapPages * kPage);
    constexpr u64 kPresentWritable = 0x3, kLargePage = 0x80;
    store_le64(t, (kIdentityMapGpa + kPage) | kPresentWritable);
    for (u64 i = 0; i < 4; ++i) {
        store_le64(t + kPage + 8 * i, (kIdentityMapGpa + (2 + i) * kPage) | kPresentWritable);
        for (u64 j = 0; j < 512; ++j)
            store_le64(t + (2 + i) * kPage + 8 * j, ((i * 512 + j) << 21) | kPresentWritable | kLargePage);
    }
    return copy(kIdentityMapGpa, t, kIdentityMapPages * kPage, "the 64-bit entry's page tables");
}

Result<KernelBoot> Builder::build()
{
    if (!in_.kernel || in_.kernel_size == 0) return refuse("the kernel module is empty");
    if (layout_.low_end < 2 * kLowMegabyte) return refuse("a kernel needs at least 2 MiB of guest RAM");
    e820_count_ = guest_e820(layout_, e820_);
    XENO_TRY(write_tables());

    const char* why = nullptr;
    LinuxKernelPlan linux_plan;
    const Status linux_status = parse_linux_bzimage(in_.kernel, in_.kernel_size, &linux_plan, &why);
    if (linux_status == Status::OK) return boot_linux(linux_plan);
    // A file with the bzImage signature that the parser refused is a broken
    // bzImage, not some other kind of kernel.
    if (in_.kernel_size >= 0x206 && in_.kernel[0x202] == 'H' && in_.kernel[0x203] == 'd' && in_.kernel[0x204] == 'r' &&
        in_.kernel[0x205] == 'S')
        return refuse("bzImage", why);

    Multiboot1Header mb1;
    const Status mb1_status = parse_multiboot1_header(in_.kernel, in_.kernel_size, &mb1, &why);
    if (mb1_status == Status::OK) return boot_multiboot1(mb1);
    if (mb1_status != Status::NOT_FOUND) return refuse("multiboot header", why);

    Multiboot2Header mb2;
    const Status mb2_status = parse_multiboot2_header(in_.kernel, in_.kernel_size, &mb2, &why);
    if (mb2_status == Status::OK) return boot_multiboot2(mb2);
    if (mb2_status != Status::NOT_FOUND) return refuse("multiboot 2 header", why);

    ElfImage elf;
    if (parse_elf(in_.kernel, in_.kernel_size, &elf, &why) != Status::OK)
        return refuse("not a bzImage, a multiboot kernel or an ELF kernel", why);
    if (!elf.has_pvh_entry) return refuse("an ELF kernel without a multiboot header or a PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)");
    return boot_pvh(elf);
}

}  // namespace

const char* kernel_protocol_name(KernelProtocol protocol)
{
    switch (protocol) {
    case KernelProtocol::LINUX: return "Linux (bzImage)";
    case KernelProtocol::MULTIBOOT1: return "multiboot";
    case KernelProtocol::MULTIBOOT2: return "multiboot 2";
    case KernelProtocol::PVH: return "PVH";
    }
    return "?";
}

Result<KernelBoot> build_kernel_domain(Domain& domain, const KernelInputs& in)
{
    Builder b(domain, in);
    return b.build();
}

}  // namespace xeno::boot
