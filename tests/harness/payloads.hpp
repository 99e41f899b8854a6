// Kernels for the --pvh tests: an "ELF" (its magic and some bytes), and a
// bzImage around a payload compressed here with the libraries xeno
// decompresses with, laid out as Linux's arch/x86/boot does (setup sectors,
// the setup header's payload fields, the uncompressed size after the
// stream).
#pragma once

#include <lzma.h>
#include <zlib.h>
#include <zstd.h>
#if XENO_HAVE_LZ4
#include <lz4.h>
#endif

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace xeno::test {

using Bytes = std::vector<std::uint8_t>;

// Starts like an ELF file; the rest compresses well but not trivially.
inline Bytes fake_elf(std::size_t size = 300000)
{
    Bytes b(size);
    std::uint32_t x = 12345;
    for (std::size_t i = 0; i < size; ++i) {
        x = x * 1103515245u + 12345u;
        b[i] = static_cast<std::uint8_t>((i % 64 < 48) ? (i / 64) : (x >> 24));
    }
    const std::uint8_t magic[] = {0x7f, 'E', 'L', 'F', 2, 1, 1};
    std::memcpy(b.data(), magic, sizeof magic);
    return b;
}

inline void put32(Bytes& b, std::size_t at, std::uint32_t v)
{
    for (int i = 0; i < 4; ++i) b[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
}

inline Bytes gzip(const Bytes& in)
{
    z_stream z{};
    if (deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) throw std::runtime_error("zlib");
    Bytes out(deflateBound(&z, in.size()) + 64);
    z.next_in = const_cast<Bytef*>(in.data());
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = out.data();
    z.avail_out = static_cast<uInt>(out.size());
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) throw std::runtime_error("deflate");
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

// As Linux's scripts/xz_wrap.sh: CRC32 check, the x86 BCJ filter, LZMA2.
inline Bytes xz(const Bytes& in)
{
    lzma_options_lzma lz;
    lzma_lzma_preset(&lz, 6);
    lzma_filter filters[] = {{LZMA_FILTER_X86, nullptr}, {LZMA_FILTER_LZMA2, &lz}, {LZMA_VLI_UNKNOWN, nullptr}};
    Bytes out(lzma_stream_buffer_bound(in.size()));
    std::size_t pos = 0;
    if (lzma_stream_buffer_encode(filters, LZMA_CHECK_CRC32, nullptr, in.data(), in.size(), out.data(), &pos,
                                  out.size()) != LZMA_OK)
        throw std::runtime_error("xz");
    out.resize(pos);
    return out;
}

// With the content checksum the zstd command writes by default.
inline Bytes zstd(const Bytes& in)
{
    Bytes out(ZSTD_compressBound(in.size()));
    ZSTD_CCtx* c = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 19);
    ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
    const std::size_t n = ZSTD_compress2(c, out.data(), out.size(), in.data(), in.size());
    ZSTD_freeCCtx(c);
    if (ZSTD_isError(n)) throw std::runtime_error("zstd");
    out.resize(n);
    return out;
}

#if XENO_HAVE_LZ4
// A legacy frame (lz4 -l, what Linux uses): the magic, then blocks of at most
// 8 MiB of input, each a 32-bit size and the compressed block.
inline Bytes lz4_legacy(const Bytes& in, std::size_t block = std::size_t{8} << 20)
{
    Bytes out(4);
    put32(out, 0, 0x184c2102);
    for (std::size_t at = 0; at < in.size(); at += block) {
        const int n_in = static_cast<int>(std::min(block, in.size() - at));
        std::vector<char> buf(static_cast<std::size_t>(LZ4_compressBound(n_in)));
        const int n = LZ4_compress_default(reinterpret_cast<const char*>(in.data() + at), buf.data(), n_in,
                                           static_cast<int>(buf.size()));
        if (n <= 0) throw std::runtime_error("lz4");
        const std::size_t head = out.size();
        out.resize(head + 4);
        put32(out, head, static_cast<std::uint32_t>(n));
        out.insert(out.end(), buf.begin(), buf.begin() + n);
    }
    return out;
}
#endif

// Linux's size_append: the uncompressed size, 4 bytes little endian.
inline Bytes with_size(Bytes stream, std::size_t uncompressed)
{
    const std::size_t at = stream.size();
    stream.resize(at + 4);
    put32(stream, at, static_cast<std::uint32_t>(uncompressed));
    return stream;
}

// A bzImage: `setup_sects` sectors of setup after the boot sector, boot
// protocol `version`, the payload `gap` bytes into the protected-mode code.
inline Bytes bzimage(const Bytes& payload, unsigned setup_sects = 3, unsigned version = 0x020f, std::size_t gap = 0x400)
{
    const std::size_t code = (setup_sects == 0 ? 5 : setup_sects + 1) * 512;
    // The boot sector and setup header, built apart (GCC 12 sees a null
    // vector in indexed stores into a fresh one).
    Bytes header(0x250, 0);
    header.at(0x1f1) = static_cast<std::uint8_t>(setup_sects);
    header.at(0x1fe) = 0x55;
    header.at(0x1ff) = 0xaa;
    std::memcpy(&header.at(0x202), "HdrS", 4);
    header.at(0x206) = static_cast<std::uint8_t>(version);
    header.at(0x207) = static_cast<std::uint8_t>(version >> 8);
    put32(header, 0x248, static_cast<std::uint32_t>(gap));
    put32(header, 0x24c, static_cast<std::uint32_t>(payload.size()));
    Bytes b(code, 0);
    std::copy(header.begin(), header.end(), b.begin());
    b.resize(code + gap, 0xcc);
    b.insert(b.end(), payload.begin(), payload.end());
    b.resize(b.size() + 100, 0xcc);
    return b;
}

inline std::string as_string(const Bytes& b)
{
    return std::string(b.begin(), b.end());
}

}  // namespace xeno::test
