#include "realmode.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

#include "bare_unicorn.hpp"
#include "bench_guest.hpp"

namespace xeno::bench {

namespace {

using Clock = std::chrono::steady_clock;

// Timed runs per figure: the fastest counts (on a shared machine a slow
// spell then costs a run, not the figure).
constexpr int kRounds = 3;

struct WindowRun {
    sim::MachineResult result;
    double seconds = 0;   // between the guest's first two console newlines: the kernel
    std::string console;
};

// One run under Xeno. The real-mode guests write a newline to the UART just
// before and just after the kernel; timestamps taken as those bytes reach the
// console bracket the kernel alone, without the machine's set-up and boot.
WindowRun run_window(const BenchGuest& guest, const std::string& profile, std::uint64_t max_insns, const char* what)
{
    WindowRun w;
    std::vector<Clock::time_point> marks;
    sim::MachineOutput out;
    out.guest_console = [&](const char* bytes, std::size_t n) {
        auto now = Clock::now();
        for (std::size_t i = 0; i < n; ++i) {
            if (bytes[i] == '\n') marks.push_back(now);
        }
        w.console.append(bytes, n);
    };
    out.log = [](const char*, std::size_t) {};
    out.trace = [](const char*, std::size_t) {};
    w.result = sim::run_machine(machine_config(guest, profile, max_insns), out);
    // Status 3: the guest's own check of its result failed (it printed what it got).
    if (!w.result.ok || w.result.status != 0 || w.console != "\n\n" || marks.size() != 2) {
        std::fprintf(stderr, "xeno-bench: %s: the run under Xeno failed: status=%d %s, console \"%s\"\n", what,
                     w.result.status, w.result.error.c_str(), w.console.c_str());
        std::exit(1);
    }
    w.seconds = std::chrono::duration<double>(marks[1] - marks[0]).count();
    return w;
}

// The fastest of kRounds runs with the guest as given (the counts are the
// same in every run: the model is deterministic).
WindowRun best_window(const BenchGuest& guest, const std::string& profile, std::uint64_t max_insns, const char* what)
{
    WindowRun best;
    for (int round = 0; round < kRounds; ++round) {
        WindowRun w = run_window(guest, profile, max_insns, what);
        if (round == 0 || w.seconds < best.seconds) best = std::move(w);
    }
    return best;
}

// What the kernel's loop alone cost: the full run's counters minus those of
// the same guest with 0 iterations, which takes the same path everywhere else
// (the guests check their result rather than print it).
struct KernelCounts {
    std::int64_t insns = 0;
    std::int64_t exits = 0;
    std::int64_t emulated = 0;
};

KernelCounts kernel_counts(BenchGuest guest, const WindowRun& full, std::uint32_t iterations,
                           const std::string& profile, const char* what)
{
    guest.set_param(0, 0);
    guest.set_param(1, 0);  // realmode_compute: the checksum of 0 iterations
    WindowRun empty = run_window(guest, profile, 10'000'000, what);
    auto diff = [](std::uint64_t a, std::uint64_t b) {
        return static_cast<std::int64_t>(a) - static_cast<std::int64_t>(b);
    };
    KernelCounts k{diff(full.result.guest_instructions, empty.result.guest_instructions),
                   diff(full.result.exits, empty.result.exits),
                   diff(full.result.emulated_instructions, empty.result.emulated_instructions)};
    // The guest's header against what the model retired (INT n and IRET
    // count as one instruction each, as on a CPU).
    const auto want = static_cast<std::int64_t>(std::uint64_t{iterations} * guest.body_insns);
    if (k.insns != want) {
        std::fprintf(stderr, "xeno-bench: %s: the model retired %lld instructions in %u iterations, the header "
                             "says %lld: fix body_insns in %s.asm\n",
                     what, static_cast<long long>(k.insns), iterations, static_cast<long long>(want), what);
        std::exit(1);
    }
    return k;
}

void print_rates(const char* name, const KernelCounts& k, double seconds)
{
    std::printf("%s_insns_per_s=%.0f\n", name, static_cast<double>(k.insns) / seconds);
    std::printf("%s_exits_per_s=%.0f\n", name, static_cast<double>(k.exits) / seconds);
    std::printf("%s_emulated_per_s=%.0f\n", name, static_cast<double>(k.emulated) / seconds);
}

}  // namespace

void realmode_compute(std::uint32_t iterations, const std::string& profile)
{
    BenchGuest guest = load_bench_guest("realmode_compute");
    const std::uint64_t want_insns = std::uint64_t{iterations} * guest.body_insns + guest.pre_insns;

    // The header's instruction count, checked on a short run of the bare engine.
    {
        BenchGuest small = guest;
        small.set_param(0, 1000);
        BareRun counted = run_bare_unicorn_real16(small, true);
        std::uint64_t want = 1000ull * guest.body_insns + guest.pre_insns;
        if (counted.instructions != want) {
            std::fprintf(stderr, "xeno-bench: realmode_compute executes %llu instructions for 1000 iterations, not "
                                 "%llu: fix body_insns/pre_insns in realmode_compute.asm\n",
                         static_cast<unsigned long long>(counted.instructions), static_cast<unsigned long long>(want));
            std::exit(1);
        }
    }
    guest.set_param(0, iterations);

    // The guest compares its checksum DX:AX with the bare engine's, known
    // from a first bare run. Then bare and Xeno runs alternate, the fastest
    // of each counting (as for busy_loop_ratio: a slow spell of the shared
    // machine hits both sides alike).
    const BareRun reference = run_bare_unicorn_real16(guest, false);
    guest.set_param(1, (reference.edx & 0xffff) << 16 | (reference.eax & 0xffff));
    const std::uint64_t max_insns = want_insns * 2 + 10'000'000;
    double bare_seconds = reference.seconds;
    WindowRun xeno;
    for (int round = 0; round < kRounds; ++round) {
        bare_seconds = std::min(bare_seconds, run_bare_unicorn_real16(guest, false).seconds);
        WindowRun w = run_window(guest, profile, max_insns, "realmode_compute");
        if (round == 0 || w.seconds < xeno.seconds) xeno = std::move(w);
    }
    KernelCounts k = kernel_counts(guest, xeno, iterations, profile, "realmode_compute");
    const double bare_ips = static_cast<double>(k.insns) / bare_seconds;
    const double xeno_ips = static_cast<double>(k.insns) / xeno.seconds;
    std::printf("realmode_compute (%s): %u iterations, %llu kernel instructions, %lld exits, %lld emulated, "
                "%.4f s (best of %d alternating runs); bare unicorn 16-bit %.4f s (%.1f M insns/s), ratio %.3f\n",
                profile.c_str(), iterations, static_cast<unsigned long long>(want_insns),
                static_cast<long long>(k.exits), static_cast<long long>(k.emulated),
                xeno.seconds, kRounds, bare_seconds, bare_ips / 1e6, xeno_ips / bare_ips);
    print_rates("realmode_compute", k, xeno.seconds);
}

void realmode_softint(std::uint32_t calls, const std::string& profile)
{
    BenchGuest guest = load_bench_guest("realmode_softint");
    const std::uint64_t want_insns = std::uint64_t{calls} * guest.body_insns + guest.pre_insns;
    guest.set_param(0, calls);

    // The guest checks that its service counted `calls` calls.
    WindowRun xeno = best_window(guest, profile, want_insns * 2 + 10'000'000, "realmode_softint");
    KernelCounts k = kernel_counts(guest, xeno, calls, profile, "realmode_softint");
    std::printf("realmode_softint (%s): %u INT 0x40/IRET calls, %llu kernel instructions, "
                "%lld exits, %lld emulated, %.4f s (best of %d)\n",
                profile.c_str(), calls, static_cast<unsigned long long>(want_insns), static_cast<long long>(k.exits),
                static_cast<long long>(k.emulated), xeno.seconds, kRounds);
    print_rates("realmode_softint", k, xeno.seconds);
    std::printf("realmode_softint_ns=%.0f\n", xeno.seconds * 1e9 / calls);
}

}  // namespace xeno::bench
