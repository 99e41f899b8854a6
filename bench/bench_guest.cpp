#include "bench_guest.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/core.h>

#include "harness/guest_image.hpp"

namespace xeno::bench {

namespace {

// bench.inc: the header at image offset 8.
constexpr std::size_t kHeader = 8;
constexpr std::uint32_t kMagic = 0x4e454258;  // 'XBEN' as a little-endian dword

std::uint32_t read32(const std::vector<std::uint8_t>& image, std::size_t offset)
{
    std::uint32_t v = 0;
    std::memcpy(&v, image.data() + offset, sizeof v);
    return v;
}

}  // namespace

void BenchGuest::set_param(int index, std::uint32_t value)
{
    std::memcpy(image.data() + kHeader + 12 + 4 * static_cast<std::size_t>(index), &value, sizeof value);
}

BenchGuest load_bench_guest(const std::string& name)
{
    std::string path = (harness::executable_dir() / "bench" / "guests" / (name + ".bin")).string();
    std::ifstream in(path, std::ios::binary);
    BenchGuest g;
    std::ostringstream bytes;
    bytes << in.rdbuf();
    std::string text = bytes.str();
    g.image.assign(text.begin(), text.end());
    if (g.image.size() < kHeader + 28 || read32(g.image, kHeader) != kMagic) {
        std::fprintf(stderr, "xeno-bench: %s is missing or has no bench header (build the xeno-bench target)\n",
                     path.c_str());
        std::exit(2);
    }
    g.kernel = read32(g.image, kHeader + 4);
    g.kernel_end = read32(g.image, kHeader + 8);
    g.body_insns = read32(g.image, kHeader + 20);
    g.pre_insns = read32(g.image, kHeader + 24);
    return g;
}

sim::MachineConfig machine_config(const BenchGuest& guest, const std::string& profile, std::uint64_t max_insns)
{
    sim::MachineConfig c;
    c.profile = profile;
    c.memory_bytes = (kGuestMemoryMb << 20) + (std::uint64_t{64} << 20);
    c.guest_image = guest.image;
    c.cmdline = fmt::format("guest_mem_mb={} guest_load={:#x} guest_entry={:#x}", kGuestMemoryMb, kLoadAddress,
                            kLoadAddress);
    c.max_guest_instructions = max_insns;
    return c;
}

void require_ok(const sim::MachineResult& r, const char* what)
{
    if (!r.ok || r.status != 0) {
        std::fprintf(stderr, "xeno-bench: %s: the run under Xeno failed: status=%d %s\n", what, r.status,
                     r.error.c_str());
        std::exit(1);
    }
}

}  // namespace xeno::bench
