#include "paging.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_guest.hpp"

namespace xeno::bench {

namespace {

using Clock = std::chrono::steady_clock;

struct Mode {
    const char* name;     // as printed: paging_<name>_...
    const char* profile;
    const char* paging;   // the hypervisor's paging= option
};

constexpr Mode kModes[] = {
    {"skylake_ept", "skylake", "ept"},
    {"skylake_shadow", "skylake", "shadow"},
    {"penryn_shadow", "penryn", "shadow"},
};
constexpr int kModeCount = 3;
constexpr int kRounds = 3;

struct PagingRun {
    sim::MachineResult result;
    double seconds = 0;            // between the guest's first two newlines: the rounds alone
    std::uint32_t guest_faults = 0;  // the guest's own count, from its "pf=" line
    std::string checksum;
};

PagingRun run_once(const BenchGuest& guest, const Mode& mode, std::uint32_t rounds)
{
    PagingRun p;
    std::vector<Clock::time_point> marks;
    std::string console;
    sim::MachineOutput out;
    out.guest_console = [&](const char* bytes, std::size_t n) {
        auto now = Clock::now();
        for (std::size_t i = 0; i < n; ++i) {
            if (bytes[i] == '\n') marks.push_back(now);
        }
        console.append(bytes, n);
    };
    out.log = [](const char*, std::size_t) {};
    out.trace = [](const char*, std::size_t) {};
    sim::MachineConfig config = machine_config(guest, mode.profile, std::uint64_t{rounds} * 200'000 + 10'000'000);
    config.cmdline += std::string(" paging=") + mode.paging;
    p.result = sim::run_machine(config, out);
    unsigned pf = 0, sum = 0;
    // The guest prints "\n\npf=<8 hex> checksum=<8 hex>\n"; status 3: its own check failed.
    if (!p.result.ok || p.result.status != 0 || marks.size() != 3 ||
        std::sscanf(console.c_str(), "\n\npf=%x checksum=%x", &pf, &sum) != 2) {
        std::fprintf(stderr, "xeno-bench: paging (%s): the run under Xeno failed: status=%d %s, console \"%s\"\n",
                     mode.name, p.result.status, p.result.error.c_str(), console.c_str());
        std::exit(1);
    }
    p.seconds = std::chrono::duration<double>(marks[1] - marks[0]).count();
    p.guest_faults = pf;
    p.checksum = console.substr(console.find("checksum="));
    if (p.result.shadow_paging != (std::string(mode.paging) == "shadow")) {
        std::fprintf(stderr, "xeno-bench: paging (%s): the guest did not run on %s paging\n", mode.name, mode.paging);
        std::exit(1);
    }
    if (p.result.shadow_paging && p.result.shadow.guest_faults != pf) {
        std::fprintf(stderr, "xeno-bench: paging (%s): the guest handled %u #PFs, shadow.guest_faults is %llu\n",
                     mode.name, pf, static_cast<unsigned long long>(p.result.shadow.guest_faults));
        std::exit(1);
    }
    return p;
}

}  // namespace

void paging(std::uint32_t rounds)
{
    BenchGuest guest = load_bench_guest("paging_workload");
    BenchGuest empty = guest;
    guest.set_param(0, rounds);
    empty.set_param(0, 0);

    // The modes alternate, three runs each, the fastest of each counting (as
    // for busy_loop_ratio: a slow spell of the shared machine hits all alike).
    PagingRun best[kModeCount];
    for (int round = 0; round < kRounds; ++round) {
        for (int m = 0; m < kModeCount; ++m) {
            PagingRun p = run_once(guest, kModes[m], rounds);
            if (round == 0 || p.seconds < best[m].seconds) best[m] = std::move(p);
        }
    }
    for (int m = 1; m < kModeCount; ++m) {
        if (best[m].checksum != best[0].checksum) {
            std::fprintf(stderr, "xeno-bench: paging: %s printed %s, %s %s\n", kModes[m].name,
                         best[m].checksum.c_str(), kModes[0].name, best[0].checksum.c_str());
            std::exit(1);
        }
    }
    for (int m = 0; m < kModeCount; ++m) {
        const Mode& mode = kModes[m];
        const PagingRun& p = best[m];
        // Exits of the rounds alone: minus a run of the same guest with 0 rounds.
        const PagingRun none = run_once(empty, mode, 0);
        const double faults = p.guest_faults;
        const double exits = static_cast<double>(p.result.exits) - static_cast<double>(none.result.exits);
        const paging::ShadowStats& s = p.result.shadow;
        std::printf("paging (%s): %u rounds, %u guest #PFs, %.0f exits in the rounds, %.4f s (best of %d)", mode.name,
                    rounds, p.guest_faults, exits, p.seconds, kRounds);
        if (p.result.shadow_paging) {
            print_shadow_counters(s);
        }
        std::printf("\n");
        std::printf("paging_%s_faults_per_s=%.0f\n", mode.name, faults / p.seconds);
        std::printf("paging_%s_exits_per_fault=%.2f\n", mode.name, faults > 0 ? exits / faults : 0.0);
        if (p.result.shadow_paging) {
            std::printf("paging_%s_shadow_pages_peak=%llu\n", mode.name, static_cast<unsigned long long>(s.pages_peak));
            std::printf("paging_%s_shadow_faults=%llu\n", mode.name, static_cast<unsigned long long>(s.faults));
            std::printf("paging_%s_shadow_fills=%llu\n", mode.name, static_cast<unsigned long long>(s.fills));
            std::printf("paging_%s_shadow_emulated_writes=%llu\n", mode.name,
                        static_cast<unsigned long long>(s.emulated_writes));
        }
    }
    std::printf("paging_wall_ratio_shadow_ept=%.3f\n", best[1].seconds / best[0].seconds);
}

void print_shadow_counters(const paging::ShadowStats& s)
{
    std::printf("; shadow: %llu faults, %llu fills, %llu emulated writes, pages peak %llu, roots hits %llu "
                "misses %llu evicted %llu, full flushes %llu",
                static_cast<unsigned long long>(s.faults), static_cast<unsigned long long>(s.fills),
                static_cast<unsigned long long>(s.emulated_writes), static_cast<unsigned long long>(s.pages_peak),
                static_cast<unsigned long long>(s.root_hits), static_cast<unsigned long long>(s.root_misses),
                static_cast<unsigned long long>(s.evicted_roots), static_cast<unsigned long long>(s.full_flushes));
}

}  // namespace xeno::bench
