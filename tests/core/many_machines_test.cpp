// Many machines in one process: runs that end on their own, runs stopped at
// their instruction limit (at a block start, at a VM exit, counting REP OUTSB
// elements), at their virtual-time limit (while the guest runs, and while the
// host idles on a timer) and at their wall-time limit, on both CPU profiles
// and both paging modes, one after the other, twice. A stopped run leaves the
// hypervisor through its normal returns (the scheduler ends the domain with
// the stop's reason, start() returns, every destructor runs: hal/vmx.hpp
// stop_requested), so each run must report exactly what it did alone, the
// second round must repeat the first, and nothing may be left behind: the
// hypervisor heap is detached after every run, and under the sim-asan preset
// LeakSanitizer finds nothing at exit.
#include <catch2/catch.hpp>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "mm/heap.hpp"
#include "sim/platform/machine.hpp"

using xeno::sim::MachineResult;

namespace {

std::vector<std::uint8_t> guest(const std::string& name)
{
    std::ifstream in(std::string(XENO_TEST_GUESTS_DIR) + "/" + name + ".bin", std::ios::binary);
    REQUIRE(in.good());
    return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// jmp $
const std::vector<std::uint8_t> kSpin = {0xeb, 0xfe};
// mov al, 7; out 0xf4, al
const std::vector<std::uint8_t> kExit7 = {0xb0, 0x07, 0xe6, 0xf4};
// The interrupt storm of platform_ends_test.cpp: the PIT at ~597 kHz on IRQ 0,
// an ISR that only EOIs, the guest spinning with interrupts on.
const std::vector<std::uint8_t> kStorm = {
    0xfa, 0x31, 0xc0, 0x8e, 0xd8, 0xc7, 0x06, 0x80, 0x00, 0x34, 0x80, 0xc7, 0x06, 0x82, 0x00, 0x00, 0x00, 0xb0,
    0x11, 0xe6, 0x20, 0xb0, 0x20, 0xe6, 0x21, 0xb0, 0x04, 0xe6, 0x21, 0xb0, 0x01, 0xe6, 0x21, 0xb0, 0xfe, 0xe6,
    0x21, 0xb0, 0x34, 0xe6, 0x43, 0xb0, 0x02, 0xe6, 0x40, 0x30, 0xc0, 0xe6, 0x40, 0xfb, 0xeb, 0xfe, 0x50, 0xb0,
    0x20, 0xe6, 0x20, 0x58, 0xcf};

struct Case {
    std::string what;
    std::vector<std::uint8_t> image;
    std::uint64_t max_insns = 0;
    std::uint64_t max_vtime_ns = 0;
    std::uint64_t wall_ms = 0;
    // The outcome: a status, or a failure whose error starts with `error`.
    MachineResult::Failure failure = MachineResult::Failure::NONE;
    int status = -1;
    std::string error;
};

struct Mode {
    const char* profile;
    const char* paging;
};

std::vector<Case> cases()
{
    using F = MachineResult::Failure;
    const std::vector<std::uint8_t> cpuid = guest("cpuid_loop"), ticks = guest("ticks_then_exit"),
                                    rep = guest("rep_outsb_loop");
    const std::string insns = "the guest ran past its limit of ";
    const std::string vtime = "the guest ran past its virtual time limit of ";
    return {
        {"exit 7", kExit7, 0, 0, 0, F::NONE, 7, ""},
        {"spin, 1000 instructions", kSpin, 1000, 0, 0, F::INSTRUCTION_LIMIT, -1, insns + "1000 instructions (at rip 0x8000)"},
        {"spin, 20000 instructions", kSpin, 20000, 0, 0, F::INSTRUCTION_LIMIT, -1, insns + "20000 instructions (at rip 0x8000)"},
        {"cpuid loop to its end", cpuid, 0, 0, 0, F::NONE, 3, ""},
        {"cpuid loop, 5001 instructions", cpuid, 5001, 0, 0, F::INSTRUCTION_LIMIT, -1, insns + "5001 instructions"},
        {"cpuid loop, 5003 instructions", cpuid, 5003, 0, 0, F::INSTRUCTION_LIMIT, -1, insns + "5003 instructions"},
        {"cpuid loop, a limit it stays under", cpuid, 1'000'000, 0, 0, F::NONE, 3, ""},
        {"timer ticks to their end", ticks, 0, 0, 0, F::NONE, 5, ""},
        {"timer ticks, 100 ms of virtual time", ticks, 0, 100'000'000, 0, F::VTIME_LIMIT, -1, vtime + "100 ms"},
        {"timer ticks, 20 instructions", ticks, 20, 0, 0, F::INSTRUCTION_LIMIT, -1, insns + "20 instructions"},
        {"REP OUTSB, 30000 instructions", rep, 30000, 0, 0, F::INSTRUCTION_LIMIT, -1, insns + "30000 instructions"},
        {"interrupt storm, 2 ms of virtual time", kStorm, 0, 2'000'000, 0, F::VTIME_LIMIT, -1, vtime + "2 ms"},
        {"interrupt storm, 50000 instructions", kStorm, 50000, 0, 0, F::INSTRUCTION_LIMIT, -1, insns + "50000 instructions"},
        {"spin, 0.1 s of wall time", kSpin, 0, 0, 100, F::WALL_TIME_LIMIT, -1,
         "the run passed its wall-time limit of 0.1 s (host time, --timeout)"},
    };
}

struct Ran {
    MachineResult result;
    std::string log;
};

Ran run(const Case& c, const Mode& m)
{
    xeno::sim::MachineConfig config;
    config.profile = m.profile;
    config.memory_bytes = std::uint64_t{64} << 20;
    config.guest_image = c.image;
    config.cmdline = std::string("guest_mem_mb=16 guest_load=0x8000 guest_entry=0x8000 paging=") + m.paging;
    // A run meant to end on its own gets a generous limit all the same: a
    // mistake then fails the test instead of hanging it.
    config.max_guest_instructions = c.max_insns || c.wall_ms ? c.max_insns : 10'000'000;
    config.max_vtime_ns = c.max_vtime_ns;
    config.wall_timeout_ms = c.wall_ms;
    config.decoy_bytes = 64 * 1024;
    Ran r;
    xeno::sim::MachineOutput out;
    out.guest_console = [](const char*, std::size_t) {};
    out.log = [&r](const char* b, std::size_t n) { r.log.append(b, n); };
    out.trace = [](const char*, std::size_t) {};
    r.result = xeno::sim::run_machine(config, out);
    return r;
}

}  // namespace

TEST_CASE("many machines in one process: limits stop runs through normal returns, nothing is left behind",
          "[core][machine][limit]")
{
    constexpr Mode kModes[] = {{"penryn", "shadow"}, {"skylake", "ept"}, {"skylake", "shadow"}};
    const std::vector<Case> all = cases();
    std::vector<MachineResult> first;
    unsigned machines = 0, stopped = 0;
    for (int round = 0; round < 2; ++round) {
        std::size_t index = 0;
        for (const Mode& m : kModes) {
            for (const Case& c : all) {
                INFO("round " << round << ", " << m.profile << "/" << m.paging << ": " << c.what);
                const Ran r = run(c, m);
                const MachineResult& res = r.result;
                INFO("error: " << res.error);
                ++machines;
                CHECK(res.failure == c.failure);
                CHECK(res.decoy_hash_before == res.decoy_hash_after);
                if (c.failure == MachineResult::Failure::NONE) {
                    CHECK(res.ok);
                    CHECK(res.status == c.status);
                    CHECK(res.end == "exit");
                } else {
                    ++stopped;
                    CHECK_FALSE(res.ok);
                    CHECK(res.status == -1);
                    CHECK(res.error.rfind(c.error, 0) == 0);
                    // The scheduler ended the domain with the stop's reason.
                    CHECK(r.log.find("domain: ended (crash) with status 255: " + res.error) != std::string::npos);
                }
                // start() came back through its end: the domain's summary is
                // logged and the heap scope closed (before this mechanism a
                // stopped run long-jumped past both).
                CHECK(r.log.find("domain: end=") != std::string::npos);
                CHECK(r.log.find("VMREAD/VMWRITE") == std::string::npos);
                CHECK_FALSE(xeno::heap().ready());
                // The same run again in the same process is the same run.
                if (round == 0) {
                    first.push_back(res);
                } else if (c.wall_ms == 0) {
                    const MachineResult& was = first.at(index);
                    CHECK(res.error == was.error);
                    CHECK(res.status == was.status);
                    CHECK(res.exits == was.exits);
                    CHECK(res.guest_instructions == was.guest_instructions);
                    CHECK(res.vtime_ns == was.vtime_ns);
                }
                ++index;
            }
        }
    }
    CHECK(machines >= 50);
    CHECK(stopped > machines / 2);
}
