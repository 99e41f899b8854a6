// `xeno run --pvh` (and [guest] pvh = true): boot a Linux bzImage by its PVH
// entry point, which is in the ELF (vmlinux) inside the bzImage, compressed.
// The harness takes the payload out (Linux boot protocol 2.08+: setup
// header fields payload_offset and payload_length), decompresses it with
// Debian's libraries (gzip: zlib, xz: liblzma, zstd: libzstd, lz4 legacy
// frames: liblz4 when the build found it) and hands the ELF over as boot
// module 0 instead of the bzImage. Every failure is one line for
// `xeno: error: ...` (a usage error, exit status 2).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "harness/outcome.hpp"

namespace xeno::harness {

enum class KernelFormat { ELF, BZIMAGE, OTHER };

// By the first bytes: "\x7fELF", or the boot sector's 0xAA55 at 0x1FE and
// "HdrS" at 0x202 (a Linux boot protocol setup header).
KernelFormat kernel_format(std::span<const std::uint8_t> bytes);

// Where a bzImage's compressed kernel is, and what compressed it.
struct BzImagePayload {
    std::uint64_t offset = 0;  // from the start of the file
    std::uint64_t length = 0;  // bytes, the 4-byte uncompressed size at the end included
    std::string compression;   // "gzip", "xz", "zstd", "lz4", "bzip2", "lzma", "lzo" or "unknown"
};

// The setup header's view: setup_sects at 0x1F1 (0 means 4), the protocol
// version at 0x206 (2.08 or later), payload_offset (u32 at 0x248, from the
// protected-mode code at (setup_sects + 1) * 512) and payload_length (u32 at
// 0x24C). `what` names the file in messages.
Outcome<BzImagePayload> find_bzimage_payload(std::span<const std::uint8_t> image, std::string_view what);

// Decompress a Linux payload: one stream of `compression` followed by the
// uncompressed size (4 bytes, little endian), which the result must have.
Outcome<std::vector<std::uint8_t>> decompress_payload(std::span<const std::uint8_t> payload,
                                                      std::string_view compression, std::string_view what);

// What --pvh boots: an ELF kernel as it is, a bzImage's decompressed ELF
// payload; anything else is an error.
Outcome<std::vector<std::uint8_t>> pvh_kernel(std::vector<std::uint8_t> kernel, std::string_view what);

// Whether this build decompresses lz4 (it found liblz4).
bool lz4_supported();

}  // namespace xeno::harness
