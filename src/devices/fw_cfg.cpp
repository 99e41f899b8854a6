#include "devices/fw_cfg.hpp"

#include "lib/format.hpp"

namespace xeno::devices {

namespace {

using namespace fw_cfg;

constexpr u8 kSignature[4] = {'Q', 'E', 'M', 'U'};
constexpr u32 kIdTraditional = 1u << 0;
constexpr u32 kIdDma = 1u << 1;
constexpr usize kDmaAccessSize = 16;  // FWCfgDmaAccess

// Zeros for reads past an item's end, copied to the guest a chunk at a time.
constexpr usize kZeroChunk = 4096;
constexpr u8 kZeros[kZeroChunk] = {};

void put_be16(u8* at, u16 v)
{
    at[0] = static_cast<u8>(v >> 8);
    at[1] = static_cast<u8>(v);
}

void put_be32(u8* at, u32 v)
{
    for (unsigned i = 0; i < 4; ++i) at[i] = static_cast<u8>(v >> (24 - 8 * i));
}

u32 get_be32(const u8* at) { return u32{at[0]} << 24 | u32{at[1]} << 16 | u32{at[2]} << 8 | u32{at[3]}; }

u64 get_be64(const u8* at) { return u64{get_be32(at)} << 32 | get_be32(at + 4); }

// Port values carry the lowest port's byte in bits 7:0; the DMA register's
// lowest port holds its most significant byte.
u32 swap_bytes(u32 v) { return (v >> 24) | ((v >> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24); }

// Keys the builder may fill: generic ones below the file range except the
// three the device provides, and arch-specific ones.
bool assignable_key(u16 key)
{
    if (key & WRITE_CHANNEL) return false;
    if (key & ARCH_LOCAL) return true;
    return key < FILE_FIRST && key != SIGNATURE && key != ID && key != FILE_DIR;
}

// Byte order of file names, as QEMU sorts its directory (strcmp).
int compare_names(const char* a, const char* b)
{
    while (*a && *a == *b) ++a, ++b;
    return static_cast<int>(static_cast<u8>(*a)) - static_cast<int>(static_cast<u8>(*b));
}

}  // namespace

FwCfg::FwCfg(GuestMemoryAccess memory) : memory_(memory)
{
    const u32 id = kIdTraditional | (dma_enabled() ? kIdDma : 0);
    for (unsigned i = 0; i < 4; ++i) id_[i] = static_cast<u8>(id >> (8 * i));
    rebuild_directory();
}

Status FwCfg::add_item(u16 key, const u8* data, u32 size, const u8* value)
{
    if (!assignable_key(key) || (!data && !value && size)) return Status::BAD_ARGUMENT;
    for (usize i = 0; i < item_count_; ++i)
        if (items_[i].key == key) return Status::BAD_ARGUMENT;
    if (item_count_ == kMaxItems) return Status::TOO_LARGE;
    Item& item = items_[item_count_++];
    item = Item{};
    item.key = key;
    item.size = size;
    item.data = data;
    if (value)
        for (u32 i = 0; i < size; ++i) item.value[i] = value[i];
    return Status::OK;
}

Status FwCfg::add_bytes(u16 key, const u8* data, u32 size) { return add_item(key, data, size, nullptr); }

Status FwCfg::add_u32(u16 key, u32 value)
{
    u8 bytes[4];
    for (unsigned i = 0; i < 4; ++i) bytes[i] = static_cast<u8>(value >> (8 * i));
    return add_item(key, nullptr, 4, bytes);
}

Status FwCfg::add_u64(u16 key, u64 value)
{
    u8 bytes[8];
    for (unsigned i = 0; i < 8; ++i) bytes[i] = static_cast<u8>(value >> (8 * i));
    return add_item(key, nullptr, 8, bytes);
}

Status FwCfg::add_file(const char* name, const u8* data, u32 size)
{
    if (!name || !name[0] || (!data && size)) return Status::BAD_ARGUMENT;
    if (string_length(name) >= kMaxFileName) return Status::BAD_ARGUMENT;
    usize at = file_count_;  // insertion point keeping the names sorted
    for (usize i = 0; i < file_count_; ++i) {
        const int order = compare_names(name, files_[i].name);
        if (order == 0) return Status::BAD_ARGUMENT;
        if (order < 0 && at == file_count_) at = i;
    }
    if (file_count_ == kMaxFiles) return Status::TOO_LARGE;
    for (usize i = file_count_; i > at; --i) files_[i] = files_[i - 1];
    File& file = files_[at];
    file = File{};
    for (usize i = 0; name[i]; ++i) file.name[i] = name[i];
    file.data = data;
    file.size = size;
    ++file_count_;
    rebuild_directory();
    return Status::OK;
}

Result<u16> FwCfg::file_key(const char* name) const
{
    for (usize i = 0; i < file_count_; ++i)
        if (compare_names(name, files_[i].name) == 0) return static_cast<u16>(FILE_FIRST + i);
    return Status::NOT_FOUND;
}

void FwCfg::rebuild_directory()
{
    for (u8& b : directory_) b = 0;
    put_be32(directory_, static_cast<u32>(file_count_));
    for (usize i = 0; i < file_count_; ++i) {
        u8* entry = directory_ + 4 + i * kFileEntrySize;
        put_be32(entry + 0, files_[i].size);
        put_be16(entry + 4, static_cast<u16>(FILE_FIRST + i));
        for (usize c = 0; files_[i].name[c]; ++c) entry[8 + c] = static_cast<u8>(files_[i].name[c]);
    }
}

FwCfg::Blob FwCfg::lookup(u16 selector) const
{
    const u16 key = static_cast<u16>(selector & ~WRITE_CHANNEL);
    if (key == SIGNATURE) return Blob{kSignature, sizeof kSignature};
    if (key == ID) return Blob{id_, sizeof id_};
    if (key == FILE_DIR) return Blob{directory_, static_cast<u32>(4 + file_count_ * kFileEntrySize)};
    if (key >= FILE_FIRST && key < FILE_FIRST + file_count_) {
        const File& file = files_[key - FILE_FIRST];
        return Blob{file.data, file.size};
    }
    for (usize i = 0; i < item_count_; ++i) {
        const Item& item = items_[i];
        if (item.key == key) return Blob{item.data ? item.data : item.value, item.size};
    }
    return Blob{};  // unknown: reads as zeros
}

void FwCfg::select(u16 selector)
{
    selector_ = selector;
    offset_ = 0;
}

u8 FwCfg::read_lane(u16 port)
{
    if (port == kDataPort) {
        const Blob blob = lookup(selector_);
        if (offset_ >= blob.size) return 0;
        return blob.data[offset_++];
    }
    if (port >= kDmaHighPort && port <= kLastPort && dma_enabled())
        return static_cast<u8>(kDmaSignature >> (8 * (7 - (port - kDmaHighPort))));
    return 0xff;  // the write-only selector, the unused 0x512-0x513
}

u32 FwCfg::pio_read(u16 port, u8 size)
{
    u32 value = 0;
    for (u8 i = 0; i < size; ++i) value |= u32{read_lane(static_cast<u16>(port + i))} << (8 * i);
    return value;
}

void FwCfg::pio_write(u16 port, u8 size, u32 value)
{
    if (port == kSelectorPort && size == 2) {
        select(static_cast<u16>(value));
        return;
    }
    if (!dma_enabled() || size != 4) return;
    if (port == kDmaHighPort) {
        dma_address_ = u64{swap_bytes(value)} << 32;
    } else if (port == kDmaLowPort) {
        const u64 access = dma_address_ | swap_bytes(value);
        dma_address_ = 0;  // "0 at startup and after an operation"
        dma_transfer(access);
    }
}

void FwCfg::dma_transfer(u64 access_gpa)
{
    u8 access[kDmaAccessSize];
    if (!memory_.read(memory_.context, access_gpa, access, sizeof access)) return;
    const u32 control = get_be32(access + 0);
    const u32 length = get_be32(access + 4);
    const u64 address = get_be64(access + 8);

    if (control & DMA_SELECT) select(static_cast<u16>(control >> 16));
    bool ok = true;
    if (control & DMA_READ) {
        ok = dma_read(address, length);
    } else if (control & DMA_WRITE) {
        ok = length == 0;  // no item is writable
    } else if (control & DMA_SKIP) {
        const Blob blob = lookup(selector_);
        const u64 end = u64{offset_} + length;
        offset_ = static_cast<u32>(end < blob.size ? end : blob.size);  // as reads, never past the end
    }

    u8 result[4];
    put_be32(result, ok ? 0 : DMA_ERROR);
    (void)memory_.write(memory_.context, access_gpa, result, sizeof result);
}

bool FwCfg::dma_read(u64 address, u32 length)
{
    if (address + length < address) return false;  // wraps: never guest RAM
    const Blob blob = lookup(selector_);
    const u32 available = offset_ < blob.size ? blob.size - offset_ : 0;
    const u32 from_item = length < available ? length : available;
    if (from_item) {
        if (!memory_.write(memory_.context, address, blob.data + offset_, from_item)) return false;
        offset_ += from_item;
    }
    for (u64 done = from_item; done < length;) {
        const u64 chunk = length - done < kZeroChunk ? length - done : kZeroChunk;
        if (!memory_.write(memory_.context, address + done, kZeros, chunk)) return false;
        done += chunk;
    }
    return true;
}

}  // namespace xeno::devices
