// The machine's entry observer (MachineOutput::vcpu_entered) and the entry
// interruption an exit observer sees: every VM entry once, a resumed one
// straight after its exit's handler, hal::run's own after a yield, and the
// event each entry injects; observing changes nothing.
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

constexpr std::uint32_t kValid = 1u << 31;
constexpr std::uint32_t kExitHlt = 12;

// What happened, in order: 'e' entry, 't' exit taken, 'h' exit handled.
struct Seen {
    char what;
    std::uint64_t vtime;
    bool resumed;
    std::uint32_t interruption;
    std::uint32_t reason;
};

}  // namespace

TEST_CASE("the entry observer sees every VM entry, and the event it injects", "[sim][observer]")
{
    for (const char* profile : {"penryn", "skylake"}) {
        INFO(profile);
        xeno::sim::MachineConfig config;
        config.profile = profile;
        config.memory_bytes = std::uint64_t{64} << 20;
        config.guest_image = guest("ticks_then_exit");
        config.cmdline = "guest_mem_mb=4 guest_load=0x8000 guest_entry=0x8000";

        std::string plain_trace;
        xeno::sim::MachineOutput plain;
        plain.trace = [&plain_trace](const char* b, std::size_t n) { plain_trace.append(b, n); };
        const xeno::sim::MachineResult unobserved = xeno::sim::run_machine(config, plain);
        REQUIRE(unobserved.ok);

        std::string trace;
        std::vector<Seen> seen;
        xeno::sim::MachineOutput out;
        out.trace = [&trace](const char* b, std::size_t n) { trace.append(b, n); };
        out.vcpu_entered = [&seen](const xeno::sim::EntryEvent& e) {
            CHECK(e.vcpu == 0);
            seen.push_back({'e', e.vtime_ns, e.resumed, e.entry_interruption, 0});
        };
        out.exit_taken = [&seen](const xeno::sim::ExitEvent& e) {
            seen.push_back({'t', e.vtime_ns, false, e.entry_interruption, e.reason & 0xffff});
        };
        out.exit_handled = [&seen](const xeno::sim::ExitEvent& e) {
            seen.push_back({'h', e.vtime_ns, false, e.entry_interruption, e.reason & 0xffff});
        };
        const xeno::sim::MachineResult r = xeno::sim::run_machine(config, out);
        REQUIRE(r.ok);
        CHECK(r.status == 5);
        CHECK(r.exits == unobserved.exits);
        CHECK(r.vtime_ns == unobserved.vtime_ns);
        CHECK(trace == plain_trace);

        REQUIRE(!seen.empty());
        CHECK(seen.front().what == 'e');
        CHECK_FALSE(seen.front().resumed);
        std::uint64_t entries = 0, resumed = 0, injected = 0, waits = 0, last_vtime = 0;
        for (std::size_t i = 0; i < seen.size(); ++i) {
            const Seen& s = seen[i];
            CHECK(s.vtime >= last_vtime);
            last_vtime = s.vtime;
            if (s.what == 't') {
                // An exit follows an entry; an entry consumed the event it injected.
                REQUIRE(i > 0);
                CHECK(seen[i - 1].what == 'e');
                CHECK((s.interruption & kValid) == 0);
                continue;
            }
            if (s.what == 'h') {
                CHECK(seen[i - 1].what == 't');
                continue;
            }
            ++entries;
            if (s.interruption & kValid) {
                ++injected;
                CHECK((s.interruption & 0xff) == 0x20);  // the PIT's IRQ 0 through the 8259A
            }
            if (s.resumed) {
                // Straight after its exit's handler, at the same virtual time,
                // injecting what the handler armed.
                ++resumed;
                REQUIRE(seen[i - 1].what == 'h');
                CHECK(seen[i - 1].vtime == s.vtime);
                CHECK(seen[i - 1].interruption == s.interruption);
            } else if (i > 0) {
                // hal::run entering again after a yield: the HLTs that waited
                // for a tick come back later in virtual time.
                REQUIRE(seen[i - 1].what == 'h');
                if (s.vtime > seen[i - 1].vtime) {
                    ++waits;
                    if (std::string(profile) == "skylake") CHECK(seen[i - 1].reason == kExitHlt);
                }
            }
        }
        // Every exit but the last (the guest's status write ends the run) is
        // followed by an entry.
        CHECK(entries == r.exits);
        CHECK(resumed > 0);
        // Five ticks: the first is pending at the first HLT, which falls
        // through; the HLT waits for the other four (~55 ms of virtual time
        // each). On skylake it is a HLT exit and each tick an injection; on
        // penryn the real-mode guest runs in virtual-8086 mode, where HLT is
        // a #GP exit and the hypervisor delivers interrupts itself.
        CHECK(waits == 4);
        if (std::string(profile) == "skylake") {
            CHECK(injected == 5);
        }
    }
}
