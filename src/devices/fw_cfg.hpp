// QEMU's firmware configuration device (fw_cfg), x86 I/O port interface,
// after QEMU's docs/specs/fw_cfg.rst. Kernels and firmware written for
// QEMU's -kernel find their kernel, initrd, command line, ACPI tables and
// sizes here.
//
// Ports (attach 0x510-0x51b with byte_wide = false):
//   0x510  selector, 16-bit write: selects the item, data offset 0. Bit 14
//          (the legacy write channel) is ignored; bit 15 selects the
//          architecture-specific key space. Byte writes are not selector
//          writes (QEMU decodes them as data writes) and are ignored.
//   0x511  data, 8-bit: the selected item's byte at the data offset, which
//          then advances; past the end (or for an unknown key) reads 0.
//          Writes are ignored (QEMU 2.4 and later).
//   0x514  DMA address, 64 bits big-endian, written as two 32-bit halves:
//          high at 0x514, then low at 0x518, whose write starts the transfer
//          and returns the register to 0. Reads return the signature
//          0x51454d5520434647 ("QEMU CFG") big-endian, i.e. the bytes
//          'Q','E','M','U',' ','C','F','G' at 0x514..0x51b.
// Other lanes (0x510 reads, 0x512, 0x513) read 0xff and ignore writes.
// Accesses are split into byte lanes, so an N-byte read at 0x511 takes one
// data byte and reads the neighbouring lanes.
//
// DMA (the spec's "Guest-side DMA Interface"): the address names a
// FWCfgDmaAccess in guest memory, {be32 control, be32 length, be64
// address}. Control: SELECT (0x08, key in bits 31:16) selects first; then
// READ (0x02) copies `length` bytes of the item from the data offset to
// `address` (bytes past the item's end are zeros; the offset advances over
// the item's bytes), or else WRITE (0x10) is refused (no item is writable:
// ERROR, unless length is 0), or else SKIP (0x04) advances the offset. On
// completion the control field is written back as 0, or ERROR (0x01) when
// a guest-memory access failed or a write was refused. A read copies the
// item's bytes in one piece and the zeros after them in 4 KiB pieces; the
// transfer stops at the first piece guest memory refuses. A FWCfgDmaAccess
// that cannot be read is ignored (nothing to report into).
//
// Items: the signature "QEMU" (key 0x0000), the ID (0x0001: bit 0
// traditional interface, bit 1 DMA, the latter only when guest memory was
// given), the file directory (0x0019: be32 count, then per file be32 size,
// be16 select, be16 reserved, char name[56]), and what the builder adds:
// items at their keys (the generic keys below 0x20, arch-specific keys from
// 0x8000) and named files. Files sit in the directory sorted by name, as
// QEMU keeps them, with select keys 0x20 + position; adding a file can move
// later files to the next key (the guest reads keys from the directory).
// Item data is not copied: it must live as long as the device.
#pragma once

#include "lib/status.hpp"
#include "lib/types.hpp"

namespace xeno::devices {

// Selector keys (QEMU's FW_CFG_* names without the prefix).
namespace fw_cfg {
inline constexpr u16 SIGNATURE = 0x00;
inline constexpr u16 ID = 0x01;
inline constexpr u16 UUID = 0x02;
inline constexpr u16 RAM_SIZE = 0x03;
inline constexpr u16 NOGRAPHIC = 0x04;
inline constexpr u16 NB_CPUS = 0x05;
inline constexpr u16 MACHINE_ID = 0x06;
inline constexpr u16 KERNEL_ADDR = 0x07;
inline constexpr u16 KERNEL_SIZE = 0x08;
inline constexpr u16 KERNEL_CMDLINE = 0x09;
inline constexpr u16 INITRD_ADDR = 0x0a;
inline constexpr u16 INITRD_SIZE = 0x0b;
inline constexpr u16 BOOT_DEVICE = 0x0c;
inline constexpr u16 NUMA = 0x0d;
inline constexpr u16 BOOT_MENU = 0x0e;
inline constexpr u16 MAX_CPUS = 0x0f;
inline constexpr u16 KERNEL_ENTRY = 0x10;
inline constexpr u16 KERNEL_DATA = 0x11;
inline constexpr u16 INITRD_DATA = 0x12;
inline constexpr u16 CMDLINE_ADDR = 0x13;
inline constexpr u16 CMDLINE_SIZE = 0x14;
inline constexpr u16 CMDLINE_DATA = 0x15;
inline constexpr u16 SETUP_ADDR = 0x16;
inline constexpr u16 SETUP_SIZE = 0x17;
inline constexpr u16 SETUP_DATA = 0x18;
inline constexpr u16 FILE_DIR = 0x19;
inline constexpr u16 FILE_FIRST = 0x20;
inline constexpr u16 WRITE_CHANNEL = 0x4000;  // selector bit 14, ignored
inline constexpr u16 ARCH_LOCAL = 0x8000;     // selector bit 15: x86-specific keys
inline constexpr u16 ENTRY_MASK = 0x3fff;

// FWCfgDmaAccess control bits.
inline constexpr u32 DMA_ERROR = 0x01;
inline constexpr u32 DMA_READ = 0x02;
inline constexpr u32 DMA_SKIP = 0x04;
inline constexpr u32 DMA_SELECT = 0x08;
inline constexpr u32 DMA_WRITE = 0x10;

inline constexpr u64 kDmaSignature = 0x51454d5520434647;  // "QEMU CFG"
inline constexpr u32 kMaxFileName = 56;                    // FW_CFG_MAX_FILE_PATH, NUL included
inline constexpr u32 kFileEntrySize = 64;
}  // namespace fw_cfg

// Guest-physical memory for DMA. Each call moves all `length` bytes and
// returns true, or returns false having moved none (a range not entirely
// guest RAM): the device never reaches anything else.
struct GuestMemoryAccess {
    void* context = nullptr;
    bool (*read)(void* context, u64 gpa, void* out, usize length) = nullptr;
    bool (*write)(void* context, u64 gpa, const void* in, usize length) = nullptr;
};

class FwCfg {
public:
    static constexpr u16 kSelectorPort = 0x510;
    static constexpr u16 kDataPort = 0x511;
    static constexpr u16 kDmaHighPort = 0x514;
    static constexpr u16 kDmaLowPort = 0x518;
    static constexpr u16 kFirstPort = 0x510;
    static constexpr u16 kLastPort = 0x51b;

    static constexpr usize kMaxItems = 48;  // added with add_bytes / add_u32 / add_u64
    static constexpr usize kMaxFiles = 32;

    // Without read and write callbacks there is no DMA interface (ID bit 1
    // clear, DMA ports unclaimed).
    explicit FwCfg(GuestMemoryAccess memory = {});
    FwCfg(const FwCfg&) = delete;
    FwCfg& operator=(const FwCfg&) = delete;

    // An item at `key` (a generic key below FILE_FIRST other than
    // SIGNATURE, ID and FILE_DIR, or an arch-specific key from 0x8000, with
    // bit 14 clear). BAD_ARGUMENT for another key, a key already present or
    // null data with a size; TOO_LARGE when kMaxItems are present.
    Status add_bytes(u16 key, const u8* data, u32 size);
    // Little-endian values, stored in the device.
    Status add_u32(u16 key, u32 value);
    Status add_u64(u16 key, u64 value);
    // A named file. BAD_ARGUMENT for an empty name, one of kMaxFileName
    // characters or more, a name already present or null data with a size;
    // TOO_LARGE when kMaxFiles are present.
    Status add_file(const char* name, const u8* data, u32 size);

    // The select key a file has now; NOT_FOUND if there is none by that name.
    Result<u16> file_key(const char* name) const;
    usize file_count() const { return file_count_; }
    bool dma_enabled() const { return memory_.read && memory_.write; }

    u16 selector() const { return selector_; }
    u32 data_offset() const { return offset_; }

    u32 pio_read(u16 port, u8 size);
    void pio_write(u16 port, u8 size, u32 value);

private:
    struct Item {
        u16 key = 0;
        u32 size = 0;
        const u8* data = nullptr;  // null: the bytes are in `value`
        u8 value[8] = {};
    };
    struct File {
        char name[fw_cfg::kMaxFileName] = {};
        const u8* data = nullptr;
        u32 size = 0;
    };
    struct Blob {
        const u8* data = nullptr;
        u32 size = 0;
    };

    Status add_item(u16 key, const u8* data, u32 size, const u8* value);
    Blob lookup(u16 selector) const;
    void select(u16 selector);
    u8 read_lane(u16 port);
    void rebuild_directory();
    void dma_transfer(u64 access_gpa);
    bool dma_read(u64 address, u32 length);

    GuestMemoryAccess memory_;
    Item items_[kMaxItems];
    usize item_count_ = 0;
    File files_[kMaxFiles];  // sorted by name
    usize file_count_ = 0;
    u8 directory_[4 + kMaxFiles * fw_cfg::kFileEntrySize] = {};
    u8 id_[4] = {};
    u16 selector_ = 0;
    u32 offset_ = 0;
    u64 dma_address_ = 0;
};

}  // namespace xeno::devices
