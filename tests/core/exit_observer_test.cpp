// The machine's exit observers (sim/platform/exit_event.hpp): called once
// before and once after the hypervisor handles each VM exit, with the exit
// as the VMCS records it, and without changing the run.
#include <catch2/catch.hpp>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "sim/platform/machine.hpp"

namespace {

std::vector<std::uint8_t> guest(const std::string& name)
{
    std::ifstream in(std::string(XENO_TEST_GUESTS_DIR) + "/" + name + ".bin", std::ios::binary);
    REQUIRE(in.good());
    return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), {});
}

xeno::sim::MachineConfig config_for(const char* profile)
{
    xeno::sim::MachineConfig c;
    c.profile = profile;
    c.memory_bytes = std::uint64_t{64} << 20;
    c.guest_image = guest("cpuid_loop");
    c.cmdline = "guest_mem_mb=4 guest_load=0x8000 guest_entry=0x8000";
    return c;
}

constexpr std::uint32_t kExitCpuid = 10;

}  // namespace

TEST_CASE("exit observers see every exit once before and once after its handler", "[sim][observer]")
{
    for (const char* profile : {"penryn", "skylake"}) {
        INFO(profile);
        const xeno::sim::MachineConfig config = config_for(profile);

        std::string plain_trace;
        xeno::sim::MachineOutput plain;
        plain.trace = [&plain_trace](const char* b, std::size_t n) { plain_trace.append(b, n); };
        const xeno::sim::MachineResult unobserved = xeno::sim::run_machine(config, plain);
        REQUIRE(unobserved.ok);

        std::string trace;
        std::vector<xeno::sim::ExitEvent> taken, handled;
        std::vector<std::uint64_t> taken_eax;  // (the registers are the run's: read them in the call)
        xeno::sim::MachineOutput out;
        out.trace = [&trace](const char* b, std::size_t n) { trace.append(b, n); };
        out.exit_taken = [&taken, &taken_eax](const xeno::sim::ExitEvent& e) {
            REQUIRE(e.regs != nullptr);
            REQUIRE(e.memory != nullptr);
            taken.push_back(e);
            taken_eax.push_back(e.regs->gpr[0]);
        };
        out.exit_handled = [&handled](const xeno::sim::ExitEvent& e) { handled.push_back(e); };
        const xeno::sim::MachineResult r = xeno::sim::run_machine(config, out);
        REQUIRE(r.ok);
        CHECK(r.status == 3);

        // Observing changes nothing.
        CHECK(r.exits == unobserved.exits);
        CHECK(r.guest_instructions == unobserved.guest_instructions);
        CHECK(r.vtime_ns == unobserved.vtime_ns);
        CHECK(trace == plain_trace);

        REQUIRE(taken.size() == r.exits);
        REQUIRE(handled.size() == r.exits);
        std::size_t cpuid = 0;
        std::uint64_t last_vtime = 0;
        for (std::size_t i = 0; i < taken.size(); ++i) {
            CHECK(taken[i].number == i + 1);
            CHECK(handled[i].number == i + 1);
            CHECK(taken[i].vcpu == 0);
            CHECK(taken[i].vtime_ns >= last_vtime);
            last_vtime = taken[i].vtime_ns;
            if ((taken[i].reason & 0xffff) != kExitCpuid) continue;
            // mov bp, 2000 (3 bytes); xor eax, eax (3); cpuid at 0x8006,
            // which the handler steps over (2 bytes).
            CHECK(taken[i].rip == 0x8006);
            CHECK(handled[i].rip == 0x8008);
            CHECK((taken_eax[i] & 0xffffffff) == 0);  // leaf 0 asked
            ++cpuid;
        }
        CHECK(cpuid == 2000);
    }
}
