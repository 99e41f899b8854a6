// Isolation, end to end: guests that map, unmap and remap their memory
// (scenarios/paging) and that aim their page tables past the end of their RAM
// (scenarios/isolation) run next to a decoy, machine memory that belongs to
// someone else (boot module 1, sim::MachineConfig::decoy_bytes): whatever the
// guest does, the decoy's bytes hash the same before and after, on every
// profile and paging mode. The shadow tables' own isolation property (every
// leaf maps a frame of the domain) is checked in tests/paging.
#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "sim/platform/machine.hpp"

namespace {

std::vector<std::uint8_t> scenario_image(const std::string& name)
{
    const std::string path = std::string(XENO_BINARY_DIR) + "/scenarios/" + name + "/guest.bin";
    std::ifstream in(path, std::ios::binary);
    INFO("guest image " << path << " (built with the scenarios)");
    REQUIRE(in.good());
    return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), {});
}

struct Mode {
    const char* profile;
    const char* paging;
};
constexpr Mode kModes[] = {{"penryn", "shadow"}, {"skylake", "shadow"}, {"skylake", "ept"}};

xeno::sim::MachineResult run_with_decoy(const std::vector<std::uint8_t>& image, const Mode& m, std::string* console)
{
    xeno::sim::MachineConfig config;
    config.profile = m.profile;
    config.memory_bytes = std::uint64_t{96} << 20;
    config.guest_image = image;
    config.cmdline = std::string("guest_mem_mb=16 guest_load=0x8000 guest_entry=0x8000 paging=") + m.paging;
    config.max_guest_instructions = 5'000'000;
    config.decoy_bytes = std::uint64_t{8} << 20;
    xeno::sim::MachineOutput out;
    out.guest_console = [console](const char* b, std::size_t n) { console->append(b, n); };
    out.log = [](const char*, std::size_t) {};
    out.trace = [](const char*, std::size_t) {};
    return xeno::sim::run_machine(config, out);
}

}  // namespace

TEST_CASE("a decoy of someone else's memory survives guests that reach for memory they do not own", "[isolation]")
{
    for (const char* scenario : {"isolation", "paging"}) {
        const std::vector<std::uint8_t> image = scenario_image(scenario);
        for (const Mode& m : kModes) {
            std::string console;
            const xeno::sim::MachineResult r = run_with_decoy(image, m, &console);
            INFO(scenario << " on " << m.profile << "/" << m.paging << ": " << r.error << "\n" << console);
            REQUIRE(r.ok);
            CHECK(r.status == 0);
            CHECK(r.decoy_hash_before != 0);
            CHECK(r.decoy_hash_after == r.decoy_hash_before);
        }
    }
}

TEST_CASE("decoy placement: right after the guest image, where the hypervisor allocates first", "[isolation]")
{
    // The frame allocator hands out the lowest free frames first, from 1 MiB
    // up: the decoy sits just above the guest image there, so if the
    // hypervisor did not honour boot modules as reserved, its own bitmap,
    // tables and the guest's RAM would land on the decoy and the test above
    // would fail even without any guest misbehaving.
    xeno::sim::MachineConfig config;
    config.memory_bytes = std::uint64_t{32} << 20;
    config.guest_image = {0xf4};
    config.decoy_bytes = std::uint64_t{64} << 20;
    xeno::sim::MachineOutput out;
    const xeno::sim::MachineResult r = xeno::sim::run_machine(config, out);
    CHECK_FALSE(r.ok);
    CHECK(r.error == "guest image (with decoy and serial input) does not fit in machine memory");
    config.decoy_bytes = 4097;
    CHECK_FALSE(xeno::sim::run_machine(config, out).ok);
}
