// Linux/x86 boot protocol: boot.rst ("The Real-Mode Kernel Header", "Details of
// header fields", "32-bit Boot Protocol") and zero-page.rst for boot_params.
#include "boot/linux_boot.hpp"

#include "boot/guest_buffer.hpp"
#include "boot/image_bytes.hpp"
#include "lib/bits.hpp"

namespace xeno::boot {
namespace {

constexpr u64 kAddress32Limit = u64{1} << 32;
constexpr u64 kHighLoadAddr = 0x100000;  // where a non-relocatable bzImage's protected-mode code goes
constexpr u64 kSectorSize = 512;
constexpr u64 kEntry64Offset = 0x200;
constexpr u32 kDefaultInitrdAddrMax = 0x37ffffff;  // boot.rst, for headers that leave it 0

// Setup header fields, as offsets in the image and in boot_params alike.
constexpr usize kSetupSects = 0x1f1, kSyssize = 0x1f4, kBootFlag = 0x1fe, kJump = 0x200, kHeaderMagic = 0x202,
                kVersion = 0x206,
                kTypeOfLoader = 0x210, kLoadflags = 0x211, kCode32Start = 0x214, kRamdiskImage = 0x218,
                kRamdiskSize = 0x21c, kHeapEndPtr = 0x224, kExtLoaderVer = 0x226, kExtLoaderType = 0x227,
                kCmdLinePtr = 0x228, kInitrdAddrMax = 0x22c, kKernelAlignment = 0x230, kRelocatableKernel = 0x234,
                kMinAlignment = 0x235, kXloadflags = 0x236, kCmdlineSize = 0x238, kPayloadOffset = 0x248,
                kPayloadLength = 0x24c, kSetupData = 0x250, kPrefAddress = 0x258, kInitSize = 0x260;
constexpr u16 kBootFlagValue = 0xaa55;
constexpr u32 kHdrS = 0x53726448;  // "HdrS"
constexpr usize kSetupHeaderLimit = 0x290;  // boot_params' edd_mbr_sig_buffer follows the header

// Other boot_params fields (zero-page.rst).
constexpr usize kAcpiRsdpAddr = 0x070, kExtRamdiskImage = 0x0c0, kExtRamdiskSize = 0x0c4, kExtCmdLinePtr = 0x0c8,
                kE820Entries = 0x1e8, kE820Table = 0x2d0, kE820EntrySize = 20;
constexpr u8 kLoaderUndefined = 0xff;  // type_of_loader: a boot loader without an assigned id

// The header's last field each protocol version promises, so reading it is in bounds.
usize header_end_for(u16 version)
{
    if (version >= 0x20a) return kInitSize + 4;
    if (version >= 0x208) return kPayloadLength + 4;
    return kCmdlineSize + 4;
}

Status check_header(const u8* image, usize size, LinuxKernelPlan* out, const char** why)
{
    if (!image || size < kVersion + 2) return refuse(why, Status::BAD_ARGUMENT, "too small for a Linux setup header");
    if (load_le16(image + kBootFlag) != kBootFlagValue)
        return refuse(why, Status::BAD_ARGUMENT, "not a Linux kernel image (boot_flag is not 0xaa55)");
    if (load_le32(image + kHeaderMagic) != kHdrS)
        return refuse(why, Status::BAD_ARGUMENT, "not a Linux bzImage (no \"HdrS\" at 0x202)");
    out->version = load_le16(image + kVersion);
    if (out->version < kLinuxMinProtocol)
        return refuse(why, Status::UNSUPPORTED, "Linux boot protocol is older than 2.06");
    // The setup code's first instruction jumps over the header: its 8-bit
    // displacement at 0x201 says where the header ends.
    out->header_end = kHeaderMagic + image[kJump + 1];
    if (out->header_end < header_end_for(out->version))
        return refuse(why, Status::BAD_ARGUMENT, "Linux setup header is shorter than its protocol version needs");
    if (out->header_end > kSetupHeaderLimit)
        return refuse(why, Status::BAD_ARGUMENT, "Linux setup header claims to run past boot_params' 0x290");
    if (out->header_end > size) return refuse(why, Status::BAD_ARGUMENT, "Linux setup header is cut off");
    return Status::OK;
}

Status check_layout(const u8* image, usize size, LinuxKernelPlan* out, const char** why)
{
    const u64 setup_sects = image[kSetupSects] ? image[kSetupSects] : 4;
    out->setup_size = (setup_sects + 1) * kSectorSize;  // >= 1 KiB: holds the header, which ends by 0x290
    if (out->setup_size >= size)
        return refuse(why, Status::BAD_ARGUMENT, "Linux image ends before its protected-mode code");
    out->kernel_offset = out->setup_size;
    out->kernel_size = size - out->setup_size;
    // syssize counts the protected-mode code in 16-byte paragraphs (32 bits
    // wide since 2.04): a shorter file was cut off.
    if (u64{load_le32(image + kSyssize)} * 16 > out->kernel_size)
        return refuse(why, Status::BAD_ARGUMENT, "Linux image is shorter than its syssize says (truncated?)");

    out->loadflags = image[kLoadflags];
    if (!(out->loadflags & kLinuxLoadedHigh))
        return refuse(why, Status::UNSUPPORTED, "Linux zImage (loadflags without LOADED_HIGH) is not supported");
    out->xloadflags = out->version >= 0x20c ? load_le16(image + kXloadflags) : 0;
    out->relocatable = image[kRelocatableKernel] != 0;
    out->kernel_alignment = load_le32(image + kKernelAlignment);
    if (out->relocatable && (out->kernel_alignment == 0 || (out->kernel_alignment & (out->kernel_alignment - 1))))
        return refuse(why, Status::BAD_ARGUMENT, "relocatable Linux kernel's kernel_alignment is not a power of two");
    out->code32_start = load_le32(image + kCode32Start);
    out->initrd_addr_max = load_le32(image + kInitrdAddrMax);
    if (out->initrd_addr_max == 0) out->initrd_addr_max = kDefaultInitrdAddrMax;
    out->initrd_above_4g = out->xloadflags & kLinuxXlfCanBeLoadedAbove4G;
    out->cmdline_max = load_le32(image + kCmdlineSize);
    if (out->version >= 0x208) {
        out->payload_offset = load_le32(image + kPayloadOffset);
        out->payload_length = load_le32(image + kPayloadLength);
    }
    return Status::OK;
}

// Where the kernel goes and what it occupies (boot.rst, init_size).
Status place_kernel(const u8* image, LinuxKernelPlan* out, const char** why)
{
    const bool has_pref = out->version >= 0x20a;
    out->pref_address = has_pref ? load_le64(image + kPrefAddress) : kHighLoadAddr;
    out->min_alignment = has_pref ? image[kMinAlignment] : 0;
    out->init_size = has_pref ? load_le32(image + kInitSize) : 0;
    if (out->pref_address < kHighLoadAddr || out->pref_address >= kAddress32Limit)
        return refuse(why, Status::BAD_ARGUMENT, "Linux pref_address is not between 1 MiB and 4 GiB");
    out->load_addr = out->relocatable ? out->pref_address : kHighLoadAddr;
    // A relocatable kernel runs at its load address rounded up to
    // kernel_alignment; any other moves itself to pref_address first.
    out->runtime_start = out->relocatable ? align_up(out->load_addr, out->kernel_alignment) : out->pref_address;
    const u64 needed = out->init_size > out->kernel_size ? out->init_size : out->kernel_size;
    if (out->runtime_start >= kAddress32Limit || needed > kAddress32Limit - out->runtime_start ||
        out->kernel_size > kAddress32Limit - out->load_addr)
        return refuse(why, Status::BAD_ARGUMENT, "Linux kernel would not fit below 4 GiB");
    out->runtime_end = out->runtime_start + needed;
    out->entry32 = out->load_addr;
    out->has_entry64 = out->xloadflags & kLinuxXlfKernel64;
    out->entry64 = out->has_entry64 ? out->load_addr + kEntry64Offset : 0;
    return Status::OK;
}

bool starts_with(const u8* p, u64 available, const u8* magic, u64 n)
{
    if (available < n) return false;
    for (u64 i = 0; i < n; ++i)
        if (p[i] != magic[i]) return false;
    return true;
}

LinuxPayloadFormat identify(const u8* p, u64 n)
{
    static constexpr u8 kGzip[] = {0x1f, 0x8b}, kXz[] = {0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00},
                        kZstd[] = {0x28, 0xb5, 0x2f, 0xfd}, kLz4[] = {0x02, 0x21, 0x4c, 0x18},
                        kBzip2[] = {'B', 'Z', 'h'}, kLzma[] = {0x5d, 0x00, 0x00}, kElf[] = {0x7f, 'E', 'L', 'F'};
    if (starts_with(p, n, kGzip, sizeof kGzip)) return LinuxPayloadFormat::GZIP;
    if (starts_with(p, n, kXz, sizeof kXz)) return LinuxPayloadFormat::XZ;
    if (starts_with(p, n, kZstd, sizeof kZstd)) return LinuxPayloadFormat::ZSTD;
    if (starts_with(p, n, kLz4, sizeof kLz4)) return LinuxPayloadFormat::LZ4;
    if (starts_with(p, n, kBzip2, sizeof kBzip2)) return LinuxPayloadFormat::BZIP2;
    if (starts_with(p, n, kLzma, sizeof kLzma)) return LinuxPayloadFormat::LZMA;
    if (starts_with(p, n, kElf, sizeof kElf)) return LinuxPayloadFormat::ELF;
    return LinuxPayloadFormat::UNKNOWN;
}

Status check_boot_inputs(const LinuxKernelPlan& plan, const LinuxBootInputs& in, u64 cmdline_length, const char** why)
{
    if (cmdline_length > plan.cmdline_max)
        return refuse(why, Status::TOO_LARGE, "command line is longer than the kernel's cmdline_size");
    if (in.memory_map_count > kBootParamsMaxE820)
        return refuse(why, Status::TOO_LARGE, "more than 128 E820 entries for boot_params");
    if (in.memory_map_count && !in.memory_map)
        return refuse(why, Status::BAD_ARGUMENT, "an E820 count without its table");
    if (in.initrd_size == 0) return Status::OK;
    if (in.initrd_size - 1 > ~u64{0} - in.initrd_gpa)
        return refuse(why, Status::BAD_ARGUMENT, "initrd's address range overflows");
    const u64 last = in.initrd_gpa + in.initrd_size - 1;
    if (!plan.initrd_above_4g && last > plan.initrd_addr_max)
        return refuse(why, Status::BAD_ARGUMENT, "initrd ends above the kernel's initrd_addr_max");
    return Status::OK;
}

}  // namespace

Status parse_linux_bzimage(const u8* image, usize size, LinuxKernelPlan* out, const char** why)
{
    *out = LinuxKernelPlan{};
    XENO_TRY(check_header(image, size, out, why));
    XENO_TRY(check_layout(image, size, out, why));
    return place_kernel(image, out, why);
}

const char* linux_payload_format_name(LinuxPayloadFormat format)
{
    switch (format) {
    case LinuxPayloadFormat::GZIP: return "gzip";
    case LinuxPayloadFormat::XZ: return "xz";
    case LinuxPayloadFormat::ZSTD: return "zstd";
    case LinuxPayloadFormat::LZ4: return "lz4";
    case LinuxPayloadFormat::BZIP2: return "bzip2";
    case LinuxPayloadFormat::LZMA: return "lzma";
    case LinuxPayloadFormat::ELF: return "uncompressed ELF";
    case LinuxPayloadFormat::UNKNOWN: break;
    }
    return "unknown";
}

Status find_linux_payload(const u8* image, usize size, const LinuxKernelPlan& plan, LinuxPayload* out,
                          const char** why)
{
    *out = LinuxPayload{};
    if (plan.version < 0x208)
        return refuse(why, Status::UNSUPPORTED, "Linux boot protocol before 2.08 does not locate its payload");
    if (!in_bounds(plan.kernel_offset, plan.payload_offset, size) ||
        !in_bounds(plan.kernel_offset + plan.payload_offset, plan.payload_length, size))
        return refuse(why, Status::BAD_ARGUMENT, "Linux payload lies outside the image");
    if (plan.payload_length < 4) return refuse(why, Status::BAD_ARGUMENT, "Linux payload is shorter than 4 bytes");
    out->file_offset = plan.kernel_offset + plan.payload_offset;
    out->size = plan.payload_length;
    const u8* payload = image + out->file_offset;
    out->format = identify(payload, out->size);
    out->decompressed_size = load_le32(payload + out->size - 4);
    if (out->format == LinuxPayloadFormat::UNKNOWN)
        return refuse(why, Status::UNSUPPORTED, "Linux payload's format is not recognised by its magic");
    return Status::OK;
}

Status write_linux_boot_params(const u8* image, usize size, const LinuxKernelPlan& plan, const LinuxBootInputs& in,
                               u8* out, usize capacity, u64 base_gpa, LinuxBootParamsPlacement* where,
                               const char** why)
{
    if (!image || plan.header_end > size || plan.header_end > kSetupHeaderLimit || plan.header_end < kSetupSects)
        return refuse(why, Status::BAD_ARGUMENT, "the image does not hold the setup header its plan describes");
    u64 cmdline_length = 0;
    while (in.cmdline && in.cmdline[cmdline_length]) ++cmdline_length;
    XENO_TRY(check_boot_inputs(plan, in, cmdline_length, why));

    GuestBuffer buf(out, capacity, base_gpa);
    u8* bp = buf.reserve(kBootParamsSize);
    if (!bp) return refuse(why, Status::TOO_LARGE, "buffer too small for boot_params");
    const u8* cmdline = buf.put_string(in.cmdline);
    if (!cmdline) return refuse(why, Status::TOO_LARGE, "buffer too small for boot_params and the command line");
    // The 32-bit entry finds boot_params through ESI, and cmd_line_ptr is 32 bits.
    if (!buf.ends_below(kAddress32Limit))
        return refuse(why, Status::BAD_ARGUMENT, "boot_params and the command line must lie below 4 GiB");

    for (usize i = kSetupSects; i < plan.header_end; ++i) bp[i] = image[i];
    bp[kTypeOfLoader] = kLoaderUndefined;
    bp[kExtLoaderVer] = 0;
    bp[kExtLoaderType] = 0;
    // No heap for the real-mode setup code, which the 32-bit entry skips;
    // KEEP_SEGMENTS is obsolete and must not be set.
    bp[kLoadflags] = static_cast<u8>((image[kLoadflags] | kLinuxLoadedHigh) & ~(kLinuxCanUseHeap | kLinuxKeepSegments));
    store_le16(bp + kHeapEndPtr, 0);
    store_le64(bp + kSetupData, 0);

    const u64 cmdline_gpa = buf.gpa_of(cmdline);
    store_le32(bp + kCmdLinePtr, static_cast<u32>(cmdline_gpa));
    store_le32(bp + kExtCmdLinePtr, static_cast<u32>(cmdline_gpa >> 32));
    const u64 initrd_gpa = in.initrd_size ? in.initrd_gpa : 0;
    store_le32(bp + kRamdiskImage, static_cast<u32>(initrd_gpa));
    store_le32(bp + kExtRamdiskImage, static_cast<u32>(initrd_gpa >> 32));
    store_le32(bp + kRamdiskSize, static_cast<u32>(in.initrd_size));
    store_le32(bp + kExtRamdiskSize, static_cast<u32>(in.initrd_size >> 32));

    bp[kE820Entries] = static_cast<u8>(in.memory_map_count);
    for (usize i = 0; i < in.memory_map_count; ++i) {
        u8* e = bp + kE820Table + i * kE820EntrySize;
        store_le64(e, in.memory_map[i].addr);
        store_le64(e + 8, in.memory_map[i].size);
        store_le32(e + 16, in.memory_map[i].type);
    }
    // Older kernels do not read acpi_rsdp_addr and find the RSDP by scanning.
    if (plan.version >= 0x20e) store_le64(bp + kAcpiRsdpAddr, in.rsdp_gpa);

    *where = LinuxBootParamsPlacement{buf.gpa_of(bp), cmdline_gpa, buf.used()};
    return Status::OK;
}

}  // namespace xeno::boot
