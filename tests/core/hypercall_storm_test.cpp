// Bad hypercall arguments (docs/xen-abi.md "Bad input"): a guest makes
// 30 000 hypercalls with random sub-operations and pointers (into its RAM,
// across its end, into the MMIO hole, past its RAM, anywhere) and writes the
// hypercall-page MSR with random pages (tests/core/guests/hypercall_storm.asm),
// next to a decoy of someone else's memory. The hypervisor must answer every
// call with a result or one of Xen's error numbers (the guest checks), the
// guest must get to its end, and the decoy's bytes must hash the same, on
// every profile and paging mode.
#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "sim/platform/machine.hpp"

namespace {

std::vector<std::uint8_t> guest(const char* name)
{
    std::ifstream in(std::string(XENO_TEST_GUESTS_DIR) + "/" + name + ".bin", std::ios::binary);
    REQUIRE(in.good());
    return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("a storm of malformed hypercalls ends only as the guest says, and the decoy survives", "[xen][adversarial]")
{
    const std::vector<std::uint8_t> image = guest("hypercall_storm");
    struct Mode {
        const char* profile;
        const char* paging;
    };
    for (const Mode m : {Mode{"penryn", "shadow"}, Mode{"skylake", "ept"}, Mode{"skylake", "shadow"}}) {
        xeno::sim::MachineConfig config;
        config.profile = m.profile;
        config.memory_bytes = std::uint64_t{96} << 20;
        config.guest_image = image;
        config.cmdline = std::string("guest_mem_mb=16 guest_load=0x8000 guest_entry=0x8000 paging=") + m.paging;
        config.max_guest_instructions = 200'000'000;
        config.decoy_bytes = std::uint64_t{8} << 20;
        std::string console, log;
        xeno::sim::MachineOutput out;
        out.guest_console = [&console](const char* b, std::size_t n) {
            if (console.size() < 4096) console.append(b, n);
        };
        out.log = [&log](const char* b, std::size_t n) {
            if (log.size() < 16384) log.append(b, n);
        };
        out.trace = [](const char*, std::size_t) {};
        const xeno::sim::MachineResult r = xeno::sim::run_machine(config, out);
        INFO(m.profile << "/" << m.paging << ": " << r.error << " end=" << r.end << " (" << r.end_reason << ")\n" << log);
        REQUIRE(r.ok);
        CHECK(r.end == "exit");
        CHECK(r.status == 0);  // 3: a result that is no result; 13: a fault the guest did not expect
        CHECK(r.exits > 30000);
        CHECK(r.decoy_hash_before != 0);
        CHECK(r.decoy_hash_after == r.decoy_hash_before);
    }
}
