#include "hypercall.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "bench_guest.hpp"
#include "platform.hpp"

namespace xeno::bench {

namespace {

using Clock = std::chrono::steady_clock;

// Timed runs per figure, the fastest window counting (the counts are the
// same in every run: the model is deterministic).
constexpr int kRounds = 3;

double cpu_now()
{
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

struct XenRun {
    sim::MachineResult result;
    std::vector<Clock::time_point> marks;  // host time at each newline of the guest's console
    std::vector<double> cpu_marks;         // the process's CPU time then
    std::string console;
    ExitCounts exits;
    std::string why;  // empty: exited 0 after `marks` newlines; else why the run does not count

    double window(std::size_t i) const { return std::chrono::duration<double>(marks[i + 1] - marks[i]).count(); }
    double cpu_window(std::size_t i) const { return cpu_marks[i + 1] - cpu_marks[i]; }
};

XenRun run_guest(const BenchGuest& guest, const std::string& profile, std::uint64_t max_insns, std::size_t newlines)
{
    XenRun r;
    std::string log;
    sim::MachineOutput out;
    out.guest_console = [&r](const char* bytes, std::size_t n) {
        const auto now = Clock::now();
        const double cpu = cpu_now();
        for (std::size_t i = 0; i < n; ++i) {
            if (bytes[i] == '\n') {
                r.marks.push_back(now);
                r.cpu_marks.push_back(cpu);
            }
        }
        r.console.append(bytes, n);
    };
    out.log = [&log](const char* bytes, std::size_t n) { log.append(bytes, n); };
    out.trace = [](const char*, std::size_t) {};
    r.result = sim::run_machine(machine_config(guest, profile, max_insns), out);
    r.exits = parse_exit_lines(log);
    if (!r.result.ok) {
        r.why = fmt::format("the run failed: {}", r.result.error);
    } else if (r.result.status != 0) {
        // The guest's own report ("xen bench: FAIL ..."), when it made one.
        std::string said;
        const std::size_t at = r.console.find("xen bench: ");
        if (at != std::string::npos) said = r.console.substr(at, r.console.find('\n', at) - at);
        r.why = fmt::format("guest status {} end={}{}{}{}", r.result.status, r.result.end,
                            r.result.end_reason.empty() ? "" : " ", r.result.end_reason,
                            said.empty() ? "" : ": " + said);
    } else if (r.marks.size() < newlines) {
        r.why = fmt::format("{} newlines on the console, {} expected: \"{}\"", r.marks.size(), newlines, r.console);
    }
    return r;
}

// The hex number after `key` in the guest's report line.
std::optional<std::uint64_t> console_value(const XenRun& r, const char* key)
{
    const std::size_t at = r.console.find(key);
    if (at == std::string::npos) return std::nullopt;
    return std::strtoull(r.console.c_str() + at + std::strlen(key), nullptr, 16);
}

// "REASON=x.xx ..." per event: the run's exits minus the baseline's.
std::string exits_per(const XenRun& run, const XenRun& base, double events)
{
    std::string text;
    for (const auto& [reason, n] : run.exits) {
        if (reason == "all") continue;
        const auto it = base.exits.find(reason);
        const double per = static_cast<double>(n - (it == base.exits.end() ? 0 : it->second)) / events;
        if (per == 0) continue;
        // Rare ones (the set-up's few exits that differ from the baseline's)
        // with significant digits, so they do not read as 0.
        text += per < 0.01 && per > -0.01 ? fmt::format(" {}={:.2g}", reason, per)
                                          : fmt::format(" {}={:.2f}", reason, per);
    }
    return text.empty() ? " none" : text;
}

double all_exits_per(const XenRun& run, const XenRun& base, double events)
{
    const auto total = [](const ExitCounts& c) {
        const auto it = c.find("all");
        return it == c.end() ? std::int64_t{0} : it->second;
    };
    return static_cast<double>(total(run.exits) - total(base.exits)) / events;
}

// The figures as n/a with the reason (the first; the others refer to it).
// False, for the caller's return.
bool not_measured(const char* what, const std::string& profile, const std::vector<const char*>& figures,
                  const std::string& why)
{
    std::fprintf(stderr, "xeno-bench: %s (%s): %s\n", what, profile.c_str(), why.c_str());
    for (const char* f : figures) {
        if (f == figures.front()) {
            std::printf("%s=n/a (%s)\n", f, why.c_str());
        } else {
            std::printf("%s=n/a (see %s)\n", f, figures.front());
        }
    }
    return false;
}

}  // namespace

bool hypercall(std::uint32_t calls, const std::string& profile)
{
    const std::vector<const char*> figures = {"hypercall_ns", "hypercall_loop_ns", "hypercall_virtual_ns",
                                              "hypercall_exits_per_call"};
    BenchGuest guest = load_bench_guest("xen_hypercall");
    guest.set_param(0, calls);
    BenchGuest empty = guest;
    empty.set_param(0, 0);
    const std::uint64_t max_insns = std::uint64_t{calls} * 100 + 10'000'000;

    const XenRun base = run_guest(empty, profile, max_insns, 3);
    if (!base.why.empty()) return not_measured("hypercall", profile, figures, base.why);
    // The fastest of each window over the rounds: the same guest, so the
    // same work in each.
    XenRun last;
    double hcall = 0, loop = 0, hcall_cpu = 0, loop_cpu = 0;
    for (int round = 0; round < kRounds; ++round) {
        XenRun r = run_guest(guest, profile, max_insns, 3);
        if (!r.why.empty()) return not_measured("hypercall", profile, figures, r.why);
        if (round == 0 || r.window(0) < hcall) hcall = r.window(0);
        if (round == 0 || r.window(1) < loop) loop = r.window(1);
        if (round == 0 || r.cpu_window(0) < hcall_cpu) hcall_cpu = r.cpu_window(0);
        if (round == 0 || r.cpu_window(1) < loop_cpu) loop_cpu = r.cpu_window(1);
        last = std::move(r);
    }
    const auto reported = console_value(last, "calls=");
    const auto hcall_tsc = console_value(last, "hcall_tsc=");
    const auto loop_tsc = console_value(last, "loop_tsc=");
    const auto tsc_khz = console_value(last, "tsc_khz=");
    if (!reported || *reported != calls || !hcall_tsc || !loop_tsc || !tsc_khz) {
        return not_measured("hypercall", profile, figures,
                            fmt::format("the guest's report is not \"calls={:x} hcall_tsc=.. loop_tsc=.. tsc_khz=..\": "
                                        "\"{}\"",
                                        calls, last.console));
    }
    const double n = calls;
    const double ns = (hcall - loop) * 1e9 / n;
    // Virtual time from the guest's TSC: ticks * 10^6 / kHz = ns.
    const auto tsc_ns = [&](std::uint64_t ticks) {
        return *tsc_khz == 0 ? 0.0 : static_cast<double>(ticks) * 1e6 / static_cast<double>(*tsc_khz);
    };
    const double virtual_ns = (tsc_ns(*hcall_tsc) - tsc_ns(*loop_tsc)) / n;
    std::printf("hypercall (%s): %u x xen_version(XENVER_version) through the hypercall page from 64-bit mode, each "
                "result checked: %.4f s; the same loop calling a stub without the VMCALL: %.4f s (fastest of %d "
                "each); per call %.0f host ns more (CPU time: %.0f ns), loop %.1f ns per iteration; virtual time "
                "%.1f ns per call (the loop %.1f ns; guest TSC %llu kHz), exits per call:%s\n",
                profile.c_str(), calls, hcall, loop, kRounds, ns, (hcall_cpu - loop_cpu) * 1e9 / n, loop * 1e9 / n,
                tsc_ns(*hcall_tsc) / n, tsc_ns(*loop_tsc) / n, static_cast<unsigned long long>(*tsc_khz),
                exits_per(last, base, n).c_str());
    std::printf("hypercall_ns=%.0f\n", ns);
    std::printf("hypercall_loop_ns=%.1f\n", loop * 1e9 / n);
    std::printf("hypercall_virtual_ns=%.1f\n", virtual_ns);
    std::printf("hypercall_exits_per_call=%.2f\n", all_exits_per(last, base, n));
    return true;
}

bool evtchn(std::uint32_t rounds, const std::string& profile)
{
    const std::vector<const char*> figures = {"evtchn_send_to_upcall_ns", "evtchn_exits_per_round"};
    BenchGuest guest = load_bench_guest("xen_evtchn_upcall");
    guest.set_param(0, rounds);
    BenchGuest empty = guest;
    empty.set_param(0, 0);
    const std::uint64_t max_insns = std::uint64_t{rounds} * 200 + 10'000'000;

    const XenRun base = run_guest(empty, profile, max_insns, 2);
    if (!base.why.empty()) return not_measured("evtchn", profile, figures, base.why);
    XenRun best;
    double cpu = 0;
    for (int round = 0; round < kRounds; ++round) {
        XenRun r = run_guest(guest, profile, max_insns, 2);
        if (!r.why.empty()) return not_measured("evtchn", profile, figures, r.why);
        if (round == 0 || r.cpu_window(0) < cpu) cpu = r.cpu_window(0);
        if (round == 0 || r.window(0) < best.window(0)) best = std::move(r);
    }
    // Each send raises exactly one upcall, for our port and no other.
    const auto sent = console_value(best, "rounds=");
    const auto upcalls = console_value(best, "upcalls=");
    const auto port_events = console_value(best, "port_events=");
    const auto other_events = console_value(best, "other_events=");
    const auto late = console_value(best, "late=");
    const auto port = console_value(best, "port=");
    if (!sent || *sent != rounds || !upcalls || *upcalls != rounds || !port_events || *port_events != rounds ||
        !other_events || *other_events != 0 || !late || !port) {
        return not_measured("evtchn", profile, figures,
                            fmt::format("{} rounds sent, the guest reports \"{}\" (expected rounds, upcalls and "
                                        "port_events {:x}, other_events 0)",
                                        rounds, best.console.substr(0, best.console.find_last_not_of('\n') + 1),
                                        rounds));
    }
    const double n = rounds;
    const double ns = best.window(0) * 1e9 / n;
    std::printf("evtchn (%s): %u rounds of EVTCHNOP_send on IPI port %llu bound to vcpu 0 and the upcall through "
                "HVM_PARAM_CALLBACK_IRQ vector 0xf3 (handler: clear evtchn_upcall_pending, selector, pending bit; "
                "IRETQ): %.4f s (fastest of %d); per round %.0f host ns (CPU time: %.0f ns), %.1f guest "
                "instructions, %llu rounds where the upcall had not run when the send returned, exits per round:%s\n",
                profile.c_str(), rounds, static_cast<unsigned long long>(*port), best.window(0), kRounds, ns,
                cpu * 1e9 / n,
                static_cast<double>(static_cast<std::int64_t>(best.result.guest_instructions) -
                                    static_cast<std::int64_t>(base.result.guest_instructions)) /
                    n,
                static_cast<unsigned long long>(*late), exits_per(best, base, n).c_str());
    std::printf("evtchn_send_to_upcall_ns=%.0f\n", ns);
    std::printf("evtchn_exits_per_round=%.2f\n", all_exits_per(best, base, n));
    return true;
}

}  // namespace xeno::bench
