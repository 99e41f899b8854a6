// fuzz-scenario: arbitrary bytes as scenario.toml (harness/scenario.cpp).
// The parser must give either a clean one-line error or a scenario whose
// values are inside the ranges scenarios/README.md documents; never a crash,
// an exception escaping, a hang or a sanitizer report.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "harness/scenario.hpp"

using namespace xeno::harness;

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail)
{
    std::fprintf(stderr, "fuzz-scenario: %s: %s\n", what, detail.c_str());
    std::abort();
}

void check_scenario(const Scenario& s)
{
    if (s.image.empty() == s.kernel.empty()) fail("accepted", "neither or both of image and kernel");
    if (s.smp < 1 || s.smp > kMaxSmp) fail("accepted", "smp out of range");
    if (s.bochs_cpus < 1 || s.bochs_cpus > kMaxBochsCpus) fail("accepted", "bochs_cpus out of range");
    if (s.profiles.empty()) fail("accepted", "no profile");
    for (const std::string& p : s.profiles)
        if (!is_known_profile(p)) fail("accepted an unknown profile", p);
    for (const std::string& m : s.paging)
        if (!is_known_paging_mode(m)) fail("accepted an unknown paging mode", m);
    if (s.is_kernel()) {
        if (s.memory_mb < 1 || s.memory_mb > kMaxKernelMemoryMb) fail("accepted", "kernel memory_mb out of range");
    } else {
        if (s.memory_mb > kMaxGuestMemoryMb) fail("accepted", "image memory_mb out of range");
        if (s.entry > kMaxRealModeEntry) fail("accepted", "entry beyond 0xffff");
        if (s.memory_mb != 0 && s.load_address >= s.memory_bytes()) fail("accepted", "load_address outside memory");
        if (s.max_instructions == 0) fail("accepted", "an image without max_instructions");
    }
    if (s.expect && s.expect->status > 255) fail("accepted", "expect.status beyond 255");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const Outcome<Scenario> r = parse_scenario(text, "fuzz/scenario.toml");
    if (r.ok()) {
        check_scenario(r.value());
    } else {
        const std::string& e = r.error();
        if (e.empty()) fail("refused", "with an empty message");
        if (e.find('\n') != std::string::npos) fail("refused with a message of more than one line", e);
    }
    return 0;
}
