#include "harness/kernel_payload.hpp"

#include <lzma.h>
#include <zlib.h>
#include <zstd.h>
#if XENO_HAVE_LZ4
#include <lz4.h>
#endif

#include <algorithm>
#include <cstring>

#include <fmt/core.h>

namespace xeno::harness {

namespace {

// A decompressed kernel larger than this is not a kernel (and the size at
// the payload's end is not to be trusted with an allocation).
constexpr std::uint64_t kMaxKernelBytes = std::uint64_t{1} << 30;

// Linux's lz4 payloads are legacy frames: this magic, then blocks, each a
// 32-bit compressed size and at most 8 MiB once decompressed.
constexpr std::uint32_t kLz4LegacyMagic = 0x184c2102;
constexpr std::uint64_t kLz4LegacyBlockBytes = std::uint64_t{8} << 20;

std::uint32_t le32(const std::uint8_t* p)
{
    return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
           static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

bool starts_with(std::span<const std::uint8_t> bytes, std::initializer_list<std::uint8_t> magic)
{
    return bytes.size() >= magic.size() && std::equal(magic.begin(), magic.end(), bytes.begin());
}

std::string compression_of(std::span<const std::uint8_t> p)
{
    if (starts_with(p, {0x1f, 0x8b})) return "gzip";
    if (starts_with(p, {0xfd, '7', 'z', 'X', 'Z', 0x00})) return "xz";
    if (starts_with(p, {0x28, 0xb5, 0x2f, 0xfd})) return "zstd";
    if (starts_with(p, {0x02, 0x21, 0x4c, 0x18})) return "lz4";
    if (starts_with(p, {'B', 'Z', 'h'})) return "bzip2";
    if (starts_with(p, {0x5d, 0x00, 0x00})) return "lzma";
    if (starts_with(p, {0x89, 'L', 'Z', 'O'})) return "lzo";
    return "unknown";
}

// The decompressed bytes end up in `out`, sized to the payload's stated
// size plus one byte: a stream that fills the extra byte is longer than it
// says.
struct Sink {
    std::vector<std::uint8_t> out;
    std::uint64_t expected = 0;
};

Outcome<std::vector<std::uint8_t>> finish(Sink& sink, std::uint64_t produced, std::string_view what,
                                          std::string_view compression)
{
    if (produced != sink.expected) {
        return Failure{fmt::format("{}: the {} payload decompresses to {}{} bytes, but its size field says {}", what,
                                   compression, produced > sink.expected ? "more than " : "",
                                   std::min(produced, sink.expected), sink.expected)};
    }
    sink.out.resize(produced);
    return std::move(sink.out);
}

Outcome<std::vector<std::uint8_t>> gunzip(std::span<const std::uint8_t> in, Sink& sink, std::string_view what)
{
    z_stream z{};
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {  // 16: a gzip header and trailer
        return Failure{fmt::format("{}: zlib cannot start a decompression", what)};
    }
    z.next_in = const_cast<Bytef*>(in.data());  // zlib's API predates const
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = sink.out.data();
    z.avail_out = static_cast<uInt>(sink.out.size());
    const int rc = inflate(&z, Z_FINISH);
    const std::uint64_t produced = z.total_out;
    const std::string message = z.msg != nullptr ? z.msg : "";
    inflateEnd(&z);
    if (rc == Z_STREAM_END) {
        return finish(sink, produced, what, "gzip");
    }
    if (rc == Z_BUF_ERROR && z.avail_out == 0) {
        return finish(sink, produced, what, "gzip");  // more than it says
    }
    if (rc == Z_BUF_ERROR) {
        return Failure{fmt::format("{}: the gzip payload is truncated (the stream ends after {} bytes of output)",
                                   what, produced)};
    }
    return Failure{fmt::format("{}: the gzip payload is corrupt (zlib: {})", what,
                               message.empty() ? std::string(zError(rc)) : message)};
}

const char* lzma_error(lzma_ret rc)
{
    switch (rc) {
    case LZMA_FORMAT_ERROR: return "not an xz stream";
    case LZMA_OPTIONS_ERROR: return "unsupported options";
    case LZMA_DATA_ERROR: return "corrupt data";
    case LZMA_BUF_ERROR: return "truncated";
    case LZMA_MEM_ERROR: return "out of memory";
    case LZMA_MEMLIMIT_ERROR: return "memory limit";
    case LZMA_UNSUPPORTED_CHECK: return "unsupported integrity check";
    default: return "error";
    }
}

Outcome<std::vector<std::uint8_t>> unxz(std::span<const std::uint8_t> in, Sink& sink, std::string_view what)
{
    lzma_stream z = LZMA_STREAM_INIT;
    // One stream (not LZMA_CONCATENATED): the payload's size field follows it.
    if (lzma_stream_decoder(&z, UINT64_MAX, 0) != LZMA_OK) {
        return Failure{fmt::format("{}: liblzma cannot start a decompression", what)};
    }
    z.next_in = in.data();
    z.avail_in = in.size();
    z.next_out = sink.out.data();
    z.avail_out = sink.out.size();
    lzma_ret rc = LZMA_OK;
    while (rc == LZMA_OK) {
        rc = lzma_code(&z, LZMA_FINISH);
        if (rc == LZMA_OK && z.avail_out == 0) {
            break;  // more than it says
        }
    }
    const std::uint64_t produced = z.total_out;
    lzma_end(&z);
    if (rc == LZMA_STREAM_END || (rc == LZMA_OK && z.avail_out == 0)) {
        return finish(sink, produced, what, "xz");
    }
    return Failure{fmt::format("{}: the xz payload does not decompress (liblzma: {}, after {} bytes of output)", what,
                               lzma_error(rc), produced)};
}

Outcome<std::vector<std::uint8_t>> unzstd(std::span<const std::uint8_t> in, Sink& sink, std::string_view what)
{
    ZSTD_DCtx* z = ZSTD_createDCtx();
    if (z == nullptr) {
        return Failure{fmt::format("{}: libzstd cannot start a decompression", what)};
    }
    ZSTD_DCtx_setParameter(z, ZSTD_d_windowLogMax, 31);  // `zstd -22 --ultra` windows are large
    ZSTD_inBuffer src{in.data(), in.size(), 0};
    ZSTD_outBuffer dst{sink.out.data(), sink.out.size(), 0};
    std::size_t rc = 1;
    // One frame: decompressStream returns 0 when it is complete.
    while (rc != 0) {
        rc = ZSTD_decompressStream(z, &dst, &src);
        if (ZSTD_isError(rc) || dst.pos == dst.size || (src.pos == src.size && rc != 0)) {
            break;
        }
    }
    ZSTD_freeDCtx(z);
    if (ZSTD_isError(rc)) {
        return Failure{fmt::format("{}: the zstd payload does not decompress (libzstd: {}, after {} bytes of output)",
                                   what, ZSTD_getErrorName(rc), dst.pos)};
    }
    if (rc != 0 && dst.pos < dst.size) {
        return Failure{fmt::format("{}: the zstd payload is truncated (the frame ends after {} bytes of output)", what,
                                   dst.pos)};
    }
    return finish(sink, dst.pos, what, "zstd");
}

Outcome<std::vector<std::uint8_t>> unlz4(std::span<const std::uint8_t> in, Sink& sink, std::string_view what)
{
#if XENO_HAVE_LZ4
    std::size_t at = 4;  // the magic
    std::uint64_t produced = 0;
    std::vector<char> block(kLz4LegacyBlockBytes);
    while (at + 4 <= in.size()) {
        const std::uint32_t size = le32(in.data() + at);
        at += 4;
        if (size == kLz4LegacyMagic) {
            continue;  // another legacy frame begins
        }
        if (size > in.size() - at) {
            return Failure{fmt::format("{}: the lz4 payload is truncated (a block of {} bytes at offset {}, {} left)",
                                       what, size, at - 4, in.size() - at)};
        }
        const int n = LZ4_decompress_safe(reinterpret_cast<const char*>(in.data() + at), block.data(),
                                          static_cast<int>(size), static_cast<int>(block.size()));
        if (n < 0) {
            return Failure{fmt::format("{}: the lz4 payload is corrupt (the block at offset {} does not decompress)",
                                       what, at - 4)};
        }
        const auto got = static_cast<std::uint64_t>(n);
        if (got > sink.out.size() - produced) {
            return finish(sink, produced + got, what, "lz4");  // more than it says
        }
        std::memcpy(sink.out.data() + produced, block.data(), got);
        produced += got;
        at += size;
    }
    if (at != in.size()) {
        return Failure{fmt::format("{}: the lz4 payload is truncated ({} stray bytes at its end)", what,
                                   in.size() - at)};
    }
    return finish(sink, produced, what, "lz4");
#else
    (void)in;
    (void)sink;
    return Failure{fmt::format("{}: the payload is lz4-compressed, which this build does not support (built without "
                               "liblz4: install liblz4-dev and reconfigure)",
                               what)};
#endif
}

}  // namespace

bool lz4_supported()
{
    return XENO_HAVE_LZ4 != 0;
}

KernelFormat kernel_format(std::span<const std::uint8_t> bytes)
{
    if (starts_with(bytes, {0x7f, 'E', 'L', 'F'})) {
        return KernelFormat::ELF;
    }
    if (bytes.size() >= 0x206 && bytes[0x1fe] == 0x55 && bytes[0x1ff] == 0xaa &&
        std::memcmp(bytes.data() + 0x202, "HdrS", 4) == 0) {
        return KernelFormat::BZIMAGE;
    }
    return KernelFormat::OTHER;
}

Outcome<BzImagePayload> find_bzimage_payload(std::span<const std::uint8_t> image, std::string_view what)
{
    if (kernel_format(image) != KernelFormat::BZIMAGE) {
        return Failure{fmt::format("{}: not a bzImage (no boot protocol header \"HdrS\" at 0x202)", what)};
    }
    if (image.size() < 0x250) {
        return Failure{fmt::format("{}: the bzImage ends inside its setup header ({} bytes)", what, image.size())};
    }
    const unsigned version = image[0x206] | (image[0x207] << 8);
    if (version < 0x208) {
        return Failure{fmt::format("{}: boot protocol {}.{:02} has no payload fields (--pvh needs 2.08 or later)", what,
                                   version >> 8, version & 0xff)};
    }
    const unsigned setup_sects = image[0x1f1] == 0 ? 4 : image[0x1f1];
    const std::uint64_t code = (std::uint64_t{setup_sects} + 1) * 512;
    BzImagePayload p;
    p.offset = code + le32(image.data() + 0x248);
    p.length = le32(image.data() + 0x24c);
    if (p.length < 8 || p.offset > image.size() || p.length > image.size() - p.offset) {
        return Failure{fmt::format("{}: the bzImage's payload ({} bytes at offset {:#x}) is not inside the file ({} "
                                   "bytes): truncated or corrupt",
                                   what, p.length, p.offset, image.size())};
    }
    p.compression = compression_of(image.subspan(p.offset, p.length));
    return p;
}

Outcome<std::vector<std::uint8_t>> decompress_payload(std::span<const std::uint8_t> payload,
                                                      std::string_view compression, std::string_view what)
{
    if (payload.size() < 8) {
        return Failure{fmt::format("{}: the {} payload is truncated ({} bytes)", what, compression, payload.size())};
    }
    Sink sink;
    sink.expected = le32(payload.data() + payload.size() - 4);
    if (sink.expected == 0 || sink.expected > kMaxKernelBytes) {
        return Failure{fmt::format("{}: the payload's size field says {} bytes: corrupt", what, sink.expected)};
    }
    sink.out.resize(sink.expected + 1);
    const std::span<const std::uint8_t> stream = payload.first(payload.size() - 4);
    if (compression == "gzip") return gunzip(stream, sink, what);
    if (compression == "xz") return unxz(stream, sink, what);
    if (compression == "zstd") return unzstd(stream, sink, what);
    if (compression == "lz4") return unlz4(stream, sink, what);
    if (compression == "unknown") {
        return Failure{fmt::format("{}: the bzImage's payload is in no compression format xeno knows", what)};
    }
    return Failure{fmt::format("{}: the payload is {}-compressed, which xeno does not decompress (gzip, xz, zstd{})",
                               what, compression, lz4_supported() ? ", lz4" : "")};
}

Outcome<std::vector<std::uint8_t>> pvh_kernel(std::vector<std::uint8_t> kernel, std::string_view what)
{
    switch (kernel_format(kernel)) {
    case KernelFormat::ELF: return kernel;
    case KernelFormat::OTHER:
        return Failure{fmt::format("{}: --pvh: neither an ELF nor a bzImage (a bzImage has \"HdrS\" at 0x202)", what)};
    case KernelFormat::BZIMAGE: break;
    }
    Outcome<BzImagePayload> payload = find_bzimage_payload(kernel, what);
    if (!payload.ok()) {
        return Failure{payload.error()};
    }
    const BzImagePayload& p = payload.value();
    Outcome<std::vector<std::uint8_t>> elf =
        decompress_payload(std::span<const std::uint8_t>(kernel).subspan(p.offset, p.length), p.compression, what);
    if (!elf.ok()) {
        return elf;
    }
    if (kernel_format(elf.value()) != KernelFormat::ELF) {
        return Failure{fmt::format("{}: the bzImage's {} payload decompresses, but not to an ELF file", what,
                                   p.compression)};
    }
    return elf;
}

}  // namespace xeno::harness
