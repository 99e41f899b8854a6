// --pvh: a bzImage's payload found by its setup header and decompressed
// (gzip, xz, zstd, lz4 legacy), payloads compressed here by the same
// libraries; corrupt and truncated ones give one clear line.
#include "harness/kernel_payload.hpp"

#include <catch2/catch.hpp>

#include "payloads.hpp"

using namespace xeno::harness;
using xeno::test::Bytes;
using xeno::test::bzimage;
using xeno::test::fake_elf;
using xeno::test::with_size;

namespace {

std::string error_of(const Bytes& kernel)
{
    Outcome<std::vector<std::uint8_t>> r = pvh_kernel(kernel, "kernel k");
    REQUIRE_FALSE(r.ok());
    return r.error();
}

}  // namespace

TEST_CASE("kernel formats by their first bytes", "[payload]")
{
    CHECK(kernel_format(fake_elf(64)) == KernelFormat::ELF);
    CHECK(kernel_format(bzimage(with_size(xeno::test::gzip(fake_elf(64)), 64))) == KernelFormat::BZIMAGE);
    CHECK(kernel_format(Bytes(4096, 0)) == KernelFormat::OTHER);
    CHECK(kernel_format(Bytes{}) == KernelFormat::OTHER);
}

TEST_CASE("--pvh takes the ELF out of a bzImage: gzip, xz, zstd, lz4", "[payload]")
{
    const Bytes elf = fake_elf();
    struct Case {
        const char* name;
        Bytes stream;
    };
    std::vector<Case> cases = {{"gzip", xeno::test::gzip(elf)}, {"xz", xeno::test::xz(elf)},
                               {"zstd", xeno::test::zstd(elf)}};
#if XENO_HAVE_LZ4
    cases.push_back({"lz4", xeno::test::lz4_legacy(elf)});
    cases.push_back({"lz4", xeno::test::lz4_legacy(elf, 65536)});  // several blocks
#endif
    for (const Case& c : cases) {
        INFO(c.name);
        for (unsigned setup_sects : {0u, 1u, 27u}) {  // 0 means 4
            INFO("setup_sects " << setup_sects);
            const Bytes image = bzimage(with_size(c.stream, elf.size()), setup_sects);
            Outcome<BzImagePayload> p = find_bzimage_payload(image, "k");
            REQUIRE(p.ok());
            CHECK(p.value().compression == c.name);
            CHECK(p.value().offset == (setup_sects == 0 ? 5u : setup_sects + 1) * 512 + 0x400);
            CHECK(p.value().length == c.stream.size() + 4);
            Outcome<std::vector<std::uint8_t>> got = pvh_kernel(image, "kernel k");
            REQUIRE(got.ok());
            CHECK(got.value() == elf);
        }
    }
    // An ELF is booted as it is.
    Outcome<std::vector<std::uint8_t>> same = pvh_kernel(elf, "kernel k");
    REQUIRE(same.ok());
    CHECK(same.value() == elf);
}

TEST_CASE("--pvh: corrupt and truncated payloads are one clear line each", "[payload]")
{
    const Bytes elf = fake_elf();
    for (auto [name, stream] : {std::pair{"gzip", xeno::test::gzip(elf)}, std::pair{"xz", xeno::test::xz(elf)},
                                std::pair{"zstd", xeno::test::zstd(elf)}}) {
        INFO(name);
        // Truncated: half the stream, the size field after it.
        Bytes half(stream.begin(), stream.begin() + static_cast<std::ptrdiff_t>(stream.size() / 2));
        CHECK_THAT(error_of(bzimage(with_size(half, elf.size()))),
                   Catch::StartsWith("kernel k: the ") && Catch::Contains(name));
        // Corrupt: bytes in the middle flipped.
        Bytes bad = stream;
        for (std::size_t i = bad.size() / 3; i < bad.size() / 3 + 64; ++i) bad[i] ^= 0x5a;
        const std::string e = error_of(bzimage(with_size(bad, elf.size())));
        CHECK_THAT(e, Catch::StartsWith("kernel k: ") && Catch::Contains(name));
        CHECK(e.find('\n') == std::string::npos);
        // The size field disagrees with the stream.
        CHECK_THAT(error_of(bzimage(with_size(stream, elf.size() - 1))),
                   Catch::Contains("decompresses to more than") && Catch::Contains("its size field says"));
        CHECK_THAT(error_of(bzimage(with_size(stream, elf.size() + 1))), Catch::Contains("its size field says"));
    }
#if XENO_HAVE_LZ4
    Bytes lz4 = xeno::test::lz4_legacy(elf);
    Bytes cut(lz4.begin(), lz4.begin() + static_cast<std::ptrdiff_t>(lz4.size() / 2));
    CHECK_THAT(error_of(bzimage(with_size(cut, elf.size()))), Catch::Contains("lz4 payload is truncated"));
    Bytes bad = lz4;
    for (std::size_t i = 8; i < bad.size(); i += 7) bad[i] = 0xff;
    CHECK_THAT(error_of(bzimage(with_size(bad, elf.size()))), Catch::Contains("lz4"));
#else
    CHECK_FALSE(lz4_supported());
#endif
}

TEST_CASE("--pvh: what is not a bzImage with a known payload", "[payload]")
{
    const Bytes elf = fake_elf(4096);
    CHECK_THAT(error_of(Bytes(8192, 0x90)), Catch::Contains("neither an ELF nor a bzImage"));
    // Boot protocol 2.06: no payload fields.
    CHECK_THAT(error_of(bzimage(with_size(xeno::test::gzip(elf), elf.size()), 3, 0x0206)),
               Catch::Contains("boot protocol 2.06 has no payload fields"));
    // A payload past the end of the file.
    Bytes image = bzimage(with_size(xeno::test::gzip(elf), elf.size()));
    xeno::test::put32(image, 0x24c, 0x10000000);
    CHECK_THAT(error_of(image), Catch::Contains("is not inside the file"));
    // A bzImage cut short inside its payload.
    Bytes cut = bzimage(with_size(xeno::test::gzip(elf), elf.size()));
    cut.resize(cut.size() - 400);
    CHECK_THAT(error_of(cut), Catch::Contains("is not inside the file"));
    // Formats Linux has but xeno does not decompress, and no format at all.
    Bytes bz2 = {'B', 'Z', 'h', '9', 1, 2, 3, 4, 5, 6, 7, 8};
    CHECK_THAT(error_of(bzimage(with_size(bz2, 4096))),
               Catch::Contains("bzip2-compressed, which xeno does not decompress"));
    CHECK_THAT(error_of(bzimage(with_size(Bytes(64, 0x42), 4096))),
               Catch::Contains("in no compression format xeno knows"));
    // It decompresses, but not to an ELF.
    Bytes text(5000, 'x');
    CHECK_THAT(error_of(bzimage(with_size(xeno::test::gzip(text), text.size()))),
               Catch::Contains("gzip payload decompresses, but not to an ELF file"));
    // An absurd size field.
    CHECK_THAT(error_of(bzimage(with_size(xeno::test::gzip(elf), 0))), Catch::Contains("size field says 0 bytes"));
}
