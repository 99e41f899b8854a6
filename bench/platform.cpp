#include "platform.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <fmt/core.h>

#include "bench_guest.hpp"

namespace xeno::bench {

ExitCounts parse_exit_lines(const std::string& log)
{
    ExitCounts counts;
    std::istringstream lines(log);
    std::string line;
    while (std::getline(lines, line)) {
        const std::size_t at = line.find("exits: ");
        if (at == std::string::npos) continue;
        std::istringstream words(line.substr(at + 7));
        std::string word;
        words >> word;
        counts["all"] += std::strtoll(word.c_str(), nullptr, 10);
        while (words >> word) {
            const std::size_t eq = word.find('=');
            if (eq == std::string::npos || word.compare(0, eq, "emulated") == 0 || word.compare(0, eq, "vcpu") == 0)
                continue;
            counts[word.substr(0, eq)] += std::strtoll(word.c_str() + eq + 1, nullptr, 10);
        }
    }
    return counts;
}

namespace {

using Clock = std::chrono::steady_clock;

// Timed runs per figure: the fastest counts (on a shared machine a slow
// spell then costs a run, not the figure). The counts are the same in every
// run: the model is deterministic.
constexpr int kRounds = 3;
// smp4 compares two long runs whose ratio is the figure: two more rounds
// against the noise.
constexpr int kSmpRounds = 5;
// The idle windows are short (0.1 s of host time, or much less), so a slow
// spell decides a whole window: more rounds, at little cost.
constexpr int kIdleRounds = 7;

struct PlatformRun {
    sim::MachineResult result;
    double seconds = 0;        // host time between the guest's first two newlines: the window
    // The process's CPU time in the window (the sim is one thread): on a
    // loaded machine it shows what the window cost without the time other
    // processes took the CPU away. keep_fastest keeps the least of the rounds.
    double cpu_seconds = 0;
    std::string console;
    ExitCounts exits;
};

double cpu_now()
{
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// One run under Xeno with `smp` vcpus; exits with a message unless the guest
// exited 0 after at least two newlines.
PlatformRun run_once(const BenchGuest& guest, const std::string& profile, unsigned smp, std::uint64_t max_insns,
                     std::uint64_t max_vtime_ns, const char* what)
{
    PlatformRun p;
    std::vector<Clock::time_point> marks;
    std::vector<double> cpu_marks;
    std::string log;
    sim::MachineOutput out;
    out.guest_console = [&](const char* bytes, std::size_t n) {
        auto now = Clock::now();
        const double cpu = cpu_now();
        for (std::size_t i = 0; i < n; ++i) {
            if (bytes[i] == '\n') {
                marks.push_back(now);
                cpu_marks.push_back(cpu);
            }
        }
        p.console.append(bytes, n);
    };
    out.log = [&log](const char* bytes, std::size_t n) { log.append(bytes, n); };
    out.trace = [](const char*, std::size_t) {};
    sim::MachineConfig config = machine_config(guest, profile, max_insns);
    config.max_vtime_ns = max_vtime_ns;
    if (smp > 1) config.cmdline += fmt::format(" smp={}", smp);
    p.result = sim::run_machine(config, out);
    if (!p.result.ok || p.result.status != 0 || marks.size() < 2) {
        std::fprintf(stderr, "xeno-bench: %s (%s): the run under Xeno failed: status=%d end=%s %s %s, console \"%s\"\n",
                     what, profile.c_str(), p.result.status, p.result.end.c_str(), p.result.end_reason.c_str(),
                     p.result.error.c_str(), p.console.c_str());
        std::exit(1);
    }
    p.seconds = std::chrono::duration<double>(marks[1] - marks[0]).count();
    p.cpu_seconds = cpu_marks[1] - cpu_marks[0];
    p.exits = parse_exit_lines(log);
    return p;
}

// The hex number after `key` in the guest's report line.
std::uint32_t console_value(const PlatformRun& p, const char* key, const char* what)
{
    const std::size_t at = p.console.find(key);
    if (at == std::string::npos) {
        std::fprintf(stderr, "xeno-bench: %s: no \"%s\" in the guest's console \"%s\"\n", what, key, p.console.c_str());
        std::exit(1);
    }
    return static_cast<std::uint32_t>(std::strtoul(p.console.c_str() + at + std::strlen(key), nullptr, 16));
}

std::int64_t diff(std::uint64_t a, std::uint64_t b) { return static_cast<std::int64_t>(a) - static_cast<std::int64_t>(b); }

// "REASON=x.xx ..." per event: the run's exits minus the baseline's.
std::string exits_per(const PlatformRun& run, const PlatformRun& base, double events)
{
    std::string text;
    for (const auto& [reason, n] : run.exits) {
        if (reason == "all") continue;
        const auto it = base.exits.find(reason);
        const double d = static_cast<double>(n - (it == base.exits.end() ? 0 : it->second));
        // Rare ones (the window's few set-up exits, spread over thousands of
        // events) with more digits, so they do not read as 0.
        const double per = d / events;
        if (per != 0) text += fmt::format(" {}={:.{}f}", reason, per, per < 0.1 && per > -0.1 ? 4 : 2);
    }
    return text.empty() ? " none" : text;
}

// All exits of the run minus the baseline's (0 if the log had no "exits:" line).
std::int64_t all_exits(const PlatformRun& run, const PlatformRun& base)
{
    const auto total = [](const ExitCounts& c) {
        const auto it = c.find("all");
        return it == c.end() ? std::int64_t{0} : it->second;
    };
    return total(run.exits) - total(base.exits);
}

double all_exits_per(const PlatformRun& run, const PlatformRun& base, double events)
{
    return static_cast<double>(all_exits(run, base)) / events;
}

void keep_fastest(PlatformRun& best, PlatformRun&& p, int round)
{
    const double cpu = round == 0 ? p.cpu_seconds : std::min(best.cpu_seconds, p.cpu_seconds);
    if (round == 0 || p.seconds < best.seconds) best = std::move(p);
    best.cpu_seconds = cpu;
}

}  // namespace

void timer_irq(std::uint32_t interrupts, const std::string& profile)
{
    // ---- Busy: the timer's run against the same loop iterations without it ----
    BenchGuest busy = load_bench_guest("timer_irq");
    busy.set_param(0, interrupts);
    busy.set_param(1, 0);
    // A tick every 5.03 us of virtual time, at 1 ns per instruction: a few
    // thousand instructions per interrupt.
    const std::uint64_t busy_max = std::uint64_t{interrupts} * 10'000 + 10'000'000;
    const PlatformRun probe = run_once(busy, profile, 1, busy_max, 0, "timer_irq");
    const std::uint32_t iterations = console_value(probe, "iters=", "timer_irq");
    BenchGuest base_guest = busy;
    base_guest.set_param(0, 0);
    base_guest.set_param(1, iterations);
    PlatformRun timed, base;
    for (int round = 0; round < kRounds; ++round) {
        keep_fastest(timed, run_once(busy, profile, 1, busy_max, 0, "timer_irq"), round);
        keep_fastest(base, run_once(base_guest, profile, 1, busy_max, 0, "timer_irq"), round);
    }
    const std::uint32_t irqs = console_value(timed, "irqs=", "timer_irq");
    // The loop stops once irq_count >= N; one more tick can land before its CLI.
    if (irqs < interrupts || irqs > interrupts + 1 || console_value(base, "iters=", "timer_irq") != iterations ||
        console_value(base, "irqs=", "timer_irq") != 0) {
        std::fprintf(stderr, "xeno-bench: timer_irq: the guest counted %u interrupts for %u (console \"%s\"), "
                             "baseline \"%s\"\n",
                     irqs, interrupts, timed.console.c_str(), base.console.c_str());
        std::exit(1);
    }
    const double busy_ns = (timed.seconds - base.seconds) * 1e9 / irqs;
    const double insns_per_irq =
        static_cast<double>(diff(timed.result.guest_instructions, base.result.guest_instructions)) / irqs;
    std::printf("timer_irq (%s): %u PIT interrupts (period 5.03 us virtual) under a busy loop of %u iterations "
                "(%.0f loop instructions per interrupt): %.4f s, the same loop without the timer %.4f s (best of %d "
                "alternating); per interrupt %.0f host ns (CPU time: %.0f ns), %.1f guest instructions more, "
                "exits:%s\n",
                profile.c_str(), irqs, iterations, static_cast<double>(iterations) * 9 / irqs, timed.seconds,
                base.seconds, kRounds, busy_ns, (timed.cpu_seconds - base.cpu_seconds) * 1e9 / irqs, insns_per_irq,
                exits_per(timed, base, irqs).c_str());
    std::printf("timer_irq_ns=%.0f\n", busy_ns);
    std::printf("timer_irq_exits_per_irq=%.2f\n", all_exits_per(timed, base, irqs));

    // ---- Halted: every tick wakes the guest from HLT ----
    BenchGuest halted = load_bench_guest("timer_irq_halted");
    halted.set_param(0, interrupts);
    BenchGuest halted_base = halted;
    halted_base.set_param(0, 0);
    const std::uint64_t halted_max = std::uint64_t{interrupts} * 100 + 10'000'000;
    PlatformRun hlt;
    for (int round = 0; round < kRounds; ++round)
        keep_fastest(hlt, run_once(halted, profile, 1, halted_max, 0, "timer_irq_halted"), round);
    const PlatformRun hlt_base = run_once(halted_base, profile, 1, halted_max, 0, "timer_irq_halted");
    const std::uint32_t halted_irqs = console_value(hlt, "irqs=", "timer_irq_halted");
    if (halted_irqs != interrupts) {
        std::fprintf(stderr, "xeno-bench: timer_irq_halted: the guest counted %u interrupts for %u\n", halted_irqs,
                     interrupts);
        std::exit(1);
    }
    const double halted_ns = (hlt.seconds - hlt_base.seconds) * 1e9 / halted_irqs;
    std::printf("timer_irq_halted (%s): %u PIT interrupts at 10 kHz, the guest in HLT between: %.4f s (best of %d), "
                "%.3f virtual s; per interrupt %.0f host ns (CPU time: %.0f ns), exits:%s\n",
                profile.c_str(), halted_irqs, hlt.seconds, kRounds,
                static_cast<double>(diff(hlt.result.vtime_ns, hlt_base.result.vtime_ns)) / 1e9, halted_ns,
                (hlt.cpu_seconds - hlt_base.cpu_seconds) * 1e9 / halted_irqs,
                exits_per(hlt, hlt_base, halted_irqs).c_str());
    std::printf("timer_irq_halted_ns=%.0f\n", halted_ns);
    std::printf("timer_irq_halted_exits_per_irq=%.2f\n", all_exits_per(hlt, hlt_base, halted_irqs));
}

void ipi(std::uint32_t round_trips, const std::string& profile)
{
    BenchGuest guest = load_bench_guest("ipi_pingpong");
    guest.set_param(0, round_trips);
    BenchGuest empty = guest;
    empty.set_param(0, 0);
    const std::uint64_t max_insns = std::uint64_t{round_trips} * 100 + 50'000'000;
    PlatformRun best;
    for (int round = 0; round < kRounds; ++round)
        keep_fastest(best, run_once(guest, profile, 2, max_insns, 0, "ipi"), round);
    const PlatformRun base = run_once(empty, profile, 2, max_insns, 0, "ipi");
    const std::uint32_t requests = console_value(best, "requests=", "ipi");
    const std::uint32_t replies = console_value(best, "replies=", "ipi");
    if (requests != round_trips || replies != round_trips) {
        std::fprintf(stderr, "xeno-bench: ipi: %u round trips asked, the AP counted %u requests, the BSP %u replies\n",
                     round_trips, requests, replies);
        std::exit(1);
    }
    const double ns = (best.seconds - base.seconds) * 1e9 / round_trips;
    const double switches =
        static_cast<double>(diff(best.result.vcpu_switches, base.result.vcpu_switches)) / round_trips;
    std::printf("ipi (%s): %u round trips BSP -> AP -> BSP (smp=2, both waiting in HLT): %.4f s (best of %d); per "
                "round trip %.0f host ns (CPU time: %.0f ns), %.2f vcpu switches, %.1f guest instructions, exits:%s\n",
                profile.c_str(), round_trips, best.seconds, kRounds, ns,
                (best.cpu_seconds - base.cpu_seconds) * 1e9 / round_trips, switches,
                static_cast<double>(diff(best.result.guest_instructions, base.result.guest_instructions)) /
                    round_trips,
                exits_per(best, base, round_trips).c_str());
    std::printf("ipi_ns=%.0f\n", ns);
    std::printf("ipi_exits_per_round_trip=%.2f\n", all_exits_per(best, base, round_trips));
    std::printf("ipi_vcpu_switches_per_round_trip=%.2f\n", switches);
}

void idle(std::uint32_t ticks, const std::string& profile)
{
    BenchGuest guest = load_bench_guest("idle_sleep");
    BenchGuest empty = guest;
    empty.set_param(0, 0);
    guest.set_param(0, ticks);
    const std::uint64_t max_insns = std::uint64_t{ticks} * 100 + 10'000'000;
    const std::uint64_t max_vtime = std::uint64_t{ticks} * 20'000'000 + 10'000'000'000ull;
    const PlatformRun base = run_once(empty, profile, 1, max_insns, max_vtime, "idle");

    struct Case {
        const char* name;      // idle_<name>virtual_per_host
        std::uint32_t oneshot;
        std::uint32_t irqs;    // the wake-ups the guest must count
    };
    const Case cases[] = {{"", 0, ticks}, {"oneshot_", 1, 1}};
    for (const Case& c : cases) {
        guest.set_param(1, c.oneshot);
        PlatformRun best;
        for (int round = 0; round < kIdleRounds; ++round)
            keep_fastest(best, run_once(guest, profile, 1, max_insns, max_vtime, "idle"), round);
        const std::uint32_t irqs = console_value(best, "irqs=", "idle");
        const double vseconds = static_cast<double>(diff(best.result.vtime_ns, base.result.vtime_ns)) / 1e9;
        const double nominal = ticks * 0.01;
        if (irqs != c.irqs || vseconds < nominal || vseconds > nominal + 0.01) {
            std::fprintf(stderr, "xeno-bench: idle (%s): %u wake-ups (%u expected) in %.6f virtual s (%.2f expected)\n",
                         c.oneshot ? "one-shot" : "periodic", irqs, c.irqs, vseconds, nominal);
            std::exit(1);
        }
        const double ratio = vseconds / best.seconds;
        std::printf("idle (%s, %s): %.3f virtual s asleep in HLT, %u timer interrupts: %.6f host s (best of %d; "
                    "CPU time %.6f s), %.0f host ns per wake-up, exits per wake-up (timer set-up included):%s\n",
                    profile.c_str(), c.oneshot ? "one-shot" : "periodic 100 Hz", vseconds, irqs, best.seconds, kIdleRounds,
                    best.cpu_seconds, best.seconds * 1e9 / irqs, exits_per(best, base, irqs).c_str());
        std::printf("idle_%svirtual_per_host=%.0f\n", c.name, ratio);
        // Per second of the process's CPU time: what a machine of its own would see.
        std::printf("idle_%svirtual_per_host_cpu=%.0f\n", c.name, vseconds / best.cpu_seconds);
    }
}

void smp4(std::uint32_t iterations, const std::string& profile)
{
    BenchGuest guest = load_bench_guest("smp_compute");
    constexpr unsigned kVcpus[2] = {1, 4};
    // The same total work on 1 vcpu (4 x iterations) and on 4 (iterations
    // each), so both windows are equally long and equally exposed to the
    // shared machine's slow spells; alternating, the fastest of each counting.
    const std::uint32_t per_vcpu[2] = {iterations * 4, iterations};
    const std::int64_t insns = std::int64_t{iterations} * 4 * 17;
    PlatformRun best[2];
    for (int round = 0; round < kSmpRounds; ++round) {
        for (int i = 0; i < 2; ++i) {
            guest.set_param(0, per_vcpu[i]);
            guest.set_param(1, kVcpus[i]);
            keep_fastest(best[i], run_once(guest, profile, kVcpus[i], insns * 2 + 100'000'000, 0, "smp4"), round);
        }
    }
    // The 4 vcpus agree with each other (the guest checks) and with 1 vcpu
    // running `iterations` (checked here).
    guest.set_param(0, iterations);
    guest.set_param(1, 1);
    const PlatformRun single = run_once(guest, profile, 1, insns + 100'000'000, 0, "smp4");
    if (console_value(single, "sum=", "smp4") != console_value(best[1], "sum=", "smp4")) {
        std::fprintf(stderr, "xeno-bench: smp4: checksums differ: 1 vcpu \"%s\", 4 vcpus \"%s\"\n",
                     single.console.c_str(), best[1].console.c_str());
        std::exit(1);
    }
    constexpr std::int64_t kUartSlack = 1000;
    double ips[2] = {}, cpu_ips[2] = {};
    PlatformRun base[2];
    for (int i = 0; i < 2; ++i) {
        BenchGuest empty = guest;
        empty.set_param(0, 0);
        empty.set_param(1, kVcpus[i]);
        base[i] = run_once(empty, profile, kVcpus[i], 100'000'000, 0, "smp4");
        // The loops' instructions, checked against what the run retired
        // more than the baseline. Not to the instruction: the report after
        // the window polls the UART's LSR, and how long it waits for the
        // transmitter depends on when the closing newline was sent in
        // virtual time.
        const std::int64_t retired = diff(best[i].result.guest_instructions, base[i].result.guest_instructions);
        if (retired < insns - kUartSlack || retired > insns + kUartSlack) {
            std::fprintf(stderr, "xeno-bench: smp4: %u vcpus retired %lld instructions more than the baseline, "
                                 "%lld expected (%u iterations of 17 each)\n",
                         kVcpus[i], static_cast<long long>(retired), static_cast<long long>(insns), per_vcpu[i]);
            std::exit(1);
        }
        ips[i] = static_cast<double>(insns) / best[i].seconds;
        cpu_ips[i] = static_cast<double>(insns) / best[i].cpu_seconds;
        std::printf("smp4 (%s): %u vcpu%s x %u iterations: %lld guest instructions in %.4f s (best of %d; CPU time "
                    "%.4f s), %.1f M insns/s; %lld vcpu switches, %lld exits in the window:%s\n",
                    profile.c_str(), kVcpus[i], kVcpus[i] == 1 ? "" : "s", per_vcpu[i], static_cast<long long>(insns),
                    best[i].seconds, kSmpRounds, best[i].cpu_seconds, ips[i] / 1e6,
                    static_cast<long long>(diff(best[i].result.vcpu_switches, base[i].result.vcpu_switches)),
                    static_cast<long long>(all_exits(best[i], base[i])),
                    exits_per(best[i], base[i], 1).c_str());
    }
    std::printf("smp4_insns_ratio=%.3f\n", ips[1] / ips[0]);
    // The same from CPU time: closer to what the ratio is without the other
    // processes of a shared machine.
    std::printf("smp4_insns_ratio_cpu=%.3f\n", cpu_ips[1] / cpu_ips[0]);
}

}  // namespace xeno::bench
