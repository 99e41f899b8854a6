// Multiboot 1 and 2 headers: search, checksum, flags and tags, load plans.
// Multiboot 1: specification 0.6.96, 3.1 "OS image format". Multiboot 2:
// specification 2.0, 3.1 "OS image format".
#include "boot/multiboot.hpp"

#include "boot/image_bytes.hpp"
#include "lib/bits.hpp"

namespace xeno::boot {
namespace {

constexpr u64 kAddress32Limit = u64{1} << 32;

// Multiboot 1 flags (3.1.2). Bits 0-15 are requirements a loader that cannot
// meet them must refuse; bits 16-31 are optional features.
constexpr u32 kMb1PageAlignModules = 1u << 0;
constexpr u32 kMb1MemoryInfo = 1u << 1;
constexpr u32 kMb1VideoMode = 1u << 2;
constexpr u32 kMb1RequirementBits = 0xffff;
constexpr u32 kMb1AddressFields = 1u << 16;
constexpr usize kMb1HeaderSize = 12;         // magic, flags, checksum
constexpr usize kMb1AddressHeaderSize = 32;  // + header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr

// Multiboot 2 header tags (3.1.3 - 3.1.12).
enum Mb2Tag : u16 {
    TAG_END = 0,
    TAG_INFORMATION_REQUEST = 1,
    TAG_ADDRESS = 2,
    TAG_ENTRY_ADDRESS = 3,
    TAG_CONSOLE_FLAGS = 4,
    TAG_FRAMEBUFFER = 5,
    TAG_MODULE_ALIGN = 6,
    TAG_EFI_BOOT_SERVICES = 7,
    TAG_ENTRY_ADDRESS_EFI32 = 8,
    TAG_ENTRY_ADDRESS_EFI64 = 9,
    TAG_RELOCATABLE = 10,
};
constexpr u16 kMb2TagOptional = 1u << 0;
constexpr u32 kMb2ArchI386 = 0;
constexpr usize kMb2HeaderSize = 16;  // magic, architecture, header_length, checksum
constexpr u32 kMb2ConsoleRequired = 1u << 0;
constexpr u32 kMb2LoadFromFileStart = 0xffffffff;  // address tag load_addr -1

// The smallest size of each tag type Xeno reads, 0 for unknown types.
constexpr u32 mb2_min_tag_size(u16 type)
{
    switch (type) {
    case TAG_END: case TAG_INFORMATION_REQUEST: case TAG_MODULE_ALIGN: case TAG_EFI_BOOT_SERVICES: return 8;
    case TAG_ENTRY_ADDRESS: case TAG_CONSOLE_FLAGS:
    case TAG_ENTRY_ADDRESS_EFI32: case TAG_ENTRY_ADDRESS_EFI64: return 12;
    case TAG_FRAMEBUFFER: return 20;
    case TAG_ADDRESS: case TAG_RELOCATABLE: return 24;
    default: return 0;
    }
}

// The header's load addresses, the same in both specifications: header_addr
// is where the header's magic lands, which ties file offsets to addresses.
struct AddressFields {
    u32 header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
};

Status make_load_plan(const AddressFields& a, u64 header_offset, usize size, bool minus_one_is_file_start,
                      MultibootLoadPlan* plan, const char** why)
{
    u64 file_offset, load;
    if (minus_one_is_file_start && a.load_addr == kMb2LoadFromFileStart) {
        if (a.header_addr < header_offset)
            return refuse(why, Status::BAD_ARGUMENT, "multiboot header_addr puts the file's start below address 0");
        file_offset = 0;
        load = a.header_addr - header_offset;
    } else {
        if (a.load_addr > a.header_addr)
            return refuse(why, Status::BAD_ARGUMENT, "multiboot load_addr is above header_addr");
        if (a.header_addr - a.load_addr > header_offset)
            return refuse(why, Status::BAD_ARGUMENT, "multiboot load_addr lies before the start of the file");
        file_offset = header_offset - (a.header_addr - a.load_addr);
        load = a.load_addr;
    }
    u64 file_size = size - file_offset;  // load_end_addr 0: the rest of the file
    if (a.load_end_addr != 0) {
        if (a.load_end_addr < load)
            return refuse(why, Status::BAD_ARGUMENT, "multiboot load_end_addr is below load_addr");
        file_size = a.load_end_addr - load;
        if (!in_bounds(file_offset, file_size, size))
            return refuse(why, Status::BAD_ARGUMENT, "multiboot load_end_addr lies past the end of the file");
    }
    const u64 load_end = load + file_size;
    if (load_end > kAddress32Limit) return refuse(why, Status::BAD_ARGUMENT, "multiboot image would end above 4 GiB");
    const u64 bss_end = a.bss_end_addr == 0 ? load_end : a.bss_end_addr;
    if (bss_end < load_end)
        return refuse(why, Status::BAD_ARGUMENT, "multiboot bss_end_addr is below the end of the loaded data");
    if (a.entry_addr < load || a.entry_addr >= load_end)
        return refuse(why, Status::BAD_ARGUMENT, "multiboot entry address is outside the loaded image");
    *plan = MultibootLoadPlan{file_offset, file_size, load, load_end, bss_end, a.entry_addr};
    return Status::OK;
}

Status check_multiboot1(const u8* image, usize size, usize window, Multiboot1Header* out, const char** why)
{
    const u32 flags = out->flags;
    if (flags & kMb1VideoMode)
        return refuse(why, Status::UNSUPPORTED,
                      "multiboot header requires video mode information (flag 2), which Xeno does not provide");
    if (flags & kMb1RequirementBits & ~(kMb1PageAlignModules | kMb1MemoryInfo))
        return refuse(why, Status::UNSUPPORTED,
                      "multiboot header requires a feature (flags bits 3-15) the specification does not define");
    out->modules_page_aligned = flags & kMb1PageAlignModules;
    out->wants_memory_info = flags & kMb1MemoryInfo;
    if (!(flags & kMb1AddressFields)) return Status::OK;
    if (!in_bounds(out->offset, kMb1AddressHeaderSize, window))
        return refuse(why, Status::BAD_ARGUMENT, "multiboot header's address fields (flag 16) are cut off");
    const u8* h = image + out->offset;
    const AddressFields a{load_le32(h + 12), load_le32(h + 16), load_le32(h + 20), load_le32(h + 24),
                          load_le32(h + 28)};
    out->has_load_plan = true;
    return make_load_plan(a, out->offset, size, false, &out->load, why);
}

Status read_information_request(const u8* tag, u32 tag_size, bool optional, Multiboot2Header* out, const char** why)
{
    for (u32 at = 8; at + 4 <= tag_size; at += 4) {
        const u32 type = load_le32(tag + at);
        if (type == 0) continue;  // the end tag is always there
        const bool supported = type < 32 && (kMultiboot2SupportedInfoTags >> type & 1);
        if (!supported) {
            if (optional) continue;
            return refuse(why, Status::UNSUPPORTED,
                          "multiboot2 header requires an information tag Xeno does not provide (only 1-4, 6, 14, 15, 21)");
        }
        (optional ? out->optional_info_tags : out->required_info_tags) |= 1u << type;
    }
    return Status::OK;
}

// Reads one tag; sets *end at the end tag.
Status read_multiboot2_tag(const u8* tag, u16 type, u32 tag_size, bool optional, Multiboot2Header* out,
                           AddressFields* address, bool* has_address, bool* end, const char** why)
{
    switch (type) {
    case TAG_END:
        if (tag_size != 8) return refuse(why, Status::BAD_ARGUMENT, "multiboot2 header's end tag is not 8 bytes");
        *end = true;
        return Status::OK;
    case TAG_INFORMATION_REQUEST:
        return read_information_request(tag, tag_size, optional, out, why);
    case TAG_ADDRESS:
        *has_address = true;
        *address = AddressFields{load_le32(tag + 8), load_le32(tag + 12), load_le32(tag + 16), load_le32(tag + 20), 0};
        return Status::OK;
    case TAG_ENTRY_ADDRESS:
        out->has_entry = true;
        out->entry = load_le32(tag + 8);
        return Status::OK;
    case TAG_CONSOLE_FLAGS:
        if ((load_le32(tag + 8) & kMb2ConsoleRequired) && !optional)
            return refuse(why, Status::UNSUPPORTED,
                          "multiboot2 header requires a console Xeno does not describe (console flags tag)");
        return Status::OK;
    case TAG_FRAMEBUFFER:
        // A preference: "Boot loader may choose a different mode" (3.1.10).
        out->wants_framebuffer = true;
        out->framebuffer_width = load_le32(tag + 8);
        out->framebuffer_height = load_le32(tag + 12);
        out->framebuffer_depth = load_le32(tag + 16);
        return Status::OK;
    case TAG_MODULE_ALIGN:
        out->modules_page_aligned = true;
        return Status::OK;
    case TAG_EFI_BOOT_SERVICES:
    case TAG_ENTRY_ADDRESS_EFI32:
    case TAG_ENTRY_ADDRESS_EFI64:
        return Status::OK;  // matter only to an EFI loader, which Xeno is not
    case TAG_RELOCATABLE:
        out->relocatable = true;
        out->relocatable_min = load_le32(tag + 8);
        out->relocatable_max = load_le32(tag + 12);
        out->relocatable_align = load_le32(tag + 16);
        out->relocatable_preference = load_le32(tag + 20);
        if (out->relocatable_min > out->relocatable_max)
            return refuse(why, Status::BAD_ARGUMENT, "multiboot2 relocatable tag has min_addr above max_addr");
        if (out->relocatable_align & (out->relocatable_align - 1))
            return refuse(why, Status::BAD_ARGUMENT, "multiboot2 relocatable tag's align is not a power of two");
        return Status::OK;
    default:
        if (optional) return Status::OK;
        return refuse(why, Status::UNSUPPORTED, "multiboot2 header has a tag Xeno does not know, not marked optional");
    }
}

Status check_multiboot2(const u8* image, usize size, usize window, Multiboot2Header* out, const char** why)
{
    const u8* h = image + out->offset;
    if (load_le32(h + 4) != kMb2ArchI386)
        return refuse(why, Status::UNSUPPORTED, "multiboot2 header is not for i386 (architecture is not 0)");
    if (out->header_length < kMb2HeaderSize + 8)
        return refuse(why, Status::BAD_ARGUMENT, "multiboot2 header_length is too small for an end tag");
    if (!in_bounds(out->offset, out->header_length, window))
        return refuse(why, Status::BAD_ARGUMENT,
                      window < size ? "multiboot2 header extends past the first 32768 bytes"
                                    : "multiboot2 header extends past the end of the file");
    AddressFields address{};
    bool has_address = false, end = false;
    for (u64 at = kMb2HeaderSize; !end;) {
        if (!in_bounds(at, 8, out->header_length))
            return refuse(why, Status::BAD_ARGUMENT, "multiboot2 header has no end tag");
        const u8* tag = h + at;
        const u16 type = load_le16(tag), flags = load_le16(tag + 2);
        const u32 tag_size = load_le32(tag + 4);
        if (tag_size < 8 || !in_bounds(at, tag_size, out->header_length))
            return refuse(why, Status::BAD_ARGUMENT, "multiboot2 header tag's size runs outside header_length");
        const u32 min_size = mb2_min_tag_size(type);
        if (tag_size < min_size)
            return refuse(why, Status::BAD_ARGUMENT, "multiboot2 header tag is shorter than its type needs");
        const bool optional = flags & kMb2TagOptional;
        XENO_TRY(read_multiboot2_tag(tag, type, tag_size, optional, out, &address, &has_address, &end, why));
        at += align_up(tag_size, 8);
    }
    if (!has_address) return Status::OK;  // an ELF image: its program headers say where it goes
    if (!out->has_entry)
        return refuse(why, Status::BAD_ARGUMENT, "multiboot2 header has an address tag but no entry address tag");
    address.entry_addr = static_cast<u32>(out->entry);
    out->has_load_plan = true;
    return make_load_plan(address, out->offset, size, true, &out->load, why);
}

}  // namespace

Status parse_multiboot1_header(const u8* image, usize size, Multiboot1Header* out, const char** why)
{
    *out = Multiboot1Header{};
    const usize window = size < kMultiboot1SearchLimit ? size : kMultiboot1SearchLimit;
    const char* near_miss = nullptr;  // a magic that did not make a header, for a better error than "none"
    for (usize at = 0; image && at + 4 <= window; at += 4) {
        if (load_le32(image + at) != kMultiboot1HeaderMagic) continue;
        if (!in_bounds(at, kMb1HeaderSize, window)) {
            near_miss = "multiboot header is cut off by the end of the file or the 8192-byte limit";
            continue;
        }
        const u32 flags = load_le32(image + at + 4), checksum = load_le32(image + at + 8);
        if (static_cast<u32>(kMultiboot1HeaderMagic + flags + checksum) != 0) {
            near_miss = "multiboot header has a bad checksum";
            continue;
        }
        out->offset = at;
        out->flags = flags;
        return check_multiboot1(image, size, window, out, why);
    }
    if (near_miss) return refuse(why, Status::BAD_ARGUMENT, near_miss);
    return refuse(why, Status::NOT_FOUND, "no multiboot header in the first 8192 bytes");
}

Status parse_multiboot2_header(const u8* image, usize size, Multiboot2Header* out, const char** why)
{
    *out = Multiboot2Header{};
    const usize window = size < kMultiboot2SearchLimit ? size : kMultiboot2SearchLimit;
    const char* near_miss = nullptr;
    for (usize at = 0; image && at + 4 <= window; at += 8) {
        if (load_le32(image + at) != kMultiboot2HeaderMagic) continue;
        if (!in_bounds(at, kMb2HeaderSize, window)) {
            near_miss = "multiboot2 header is cut off by the end of the file or the 32768-byte limit";
            continue;
        }
        const u32 arch = load_le32(image + at + 4), length = load_le32(image + at + 8);
        const u32 checksum = load_le32(image + at + 12);
        if (static_cast<u32>(kMultiboot2HeaderMagic + arch + length + checksum) != 0) {
            near_miss = "multiboot2 header has a bad checksum";
            continue;
        }
        out->offset = at;
        out->header_length = length;
        return check_multiboot2(image, size, window, out, why);
    }
    if (near_miss) return refuse(why, Status::BAD_ARGUMENT, near_miss);
    return refuse(why, Status::NOT_FOUND, "no multiboot2 header in the first 32768 bytes");
}

}  // namespace xeno::boot
