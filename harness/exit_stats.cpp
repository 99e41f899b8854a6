#include "harness/exit_stats.hpp"

#include <algorithm>
#include <cstring>
#include <iterator>

#include <fmt/core.h>

#include "arch/x86/vmx/vmx_arch.hpp"

namespace xeno::harness {

namespace {

const char* reason_name(std::uint16_t basic)
{
    return vmx::exit_reason_name(basic);
}

double share(std::uint64_t part, std::uint64_t whole)
{
    return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
}

double host_share(std::uint64_t host_ns, const RunTotals& totals)
{
    return totals.wall_seconds <= 0.0 ? 0.0 : static_cast<double>(host_ns) / (totals.wall_seconds * 1e9);
}

}  // namespace

VcpuStats& ExitStats::vcpu(std::uint32_t index)
{
    if (index >= vcpus_.size()) {
        vcpus_.resize(index + 1);
        pending_guest_ns_.resize(index + 1, 0);
        pending_instructions_.resize(index + 1, 0);
    }
    return vcpus_[index];
}

void ExitStats::guest_ran(std::uint32_t index, std::uint64_t begin_ns, std::uint64_t end_ns,
                          std::uint64_t instructions, const sim::ExitEvent* exit)
{
    VcpuStats& v = vcpu(index);
    v.guest_ns += end_ns - begin_ns;
    v.guest_instructions += instructions;
    // Attributed to the exit's reason when exit_done names it.
    pending_guest_ns_[index] = exit ? end_ns - begin_ns : 0;
    pending_instructions_[index] = exit ? instructions : 0;
}

void ExitStats::exit_done(const sim::ExitEvent& taken, const sim::ExitEvent& handled, std::uint64_t begin_ns,
                          std::uint64_t host_ns)
{
    VcpuStats& v = vcpu(taken.vcpu);
    const std::uint16_t basic = vmx::exit_basic_reason(taken.reason);
    const std::uint64_t cost = handled.vtime_ns - begin_ns;
    ReasonStats& r = reasons_[basic];
    r.exits += 1;
    r.vtime_ns += pending_guest_ns_[taken.vcpu] + cost;
    r.guest_instructions += pending_instructions_[taken.vcpu];
    r.host_ns += host_ns;
    pending_guest_ns_[taken.vcpu] = 0;
    pending_instructions_[taken.vcpu] = 0;
    v.exits += 1;
    v.exit_ns += cost;
    v.host_ns += host_ns;
    v.exits_by_reason[basic] += 1;
}

void ExitStats::injected(std::uint32_t index, std::uint64_t, std::uint32_t)
{
    vcpu(index).injections += 1;
}

void ExitStats::halted(std::uint32_t index, std::uint64_t begin_ns, std::uint64_t end_ns)
{
    vcpu(index).halted_ns += end_ns - begin_ns;
}

void ExitStats::waited(std::uint32_t index, std::uint64_t begin_ns, std::uint64_t end_ns, std::uint32_t)
{
    vcpu(index).waiting_ns += end_ns - begin_ns;
}

std::uint64_t ExitStats::exits() const
{
    std::uint64_t n = 0;
    for (const auto& [reason, r] : reasons_) n += r.exits;
    return n;
}

std::vector<std::uint16_t> ExitStats::reasons_by_count() const
{
    std::vector<std::uint16_t> order;
    for (const auto& [reason, r] : reasons_) order.push_back(reason);
    std::sort(order.begin(), order.end(), [this](std::uint16_t a, std::uint16_t b) {
        const std::uint64_t ea = reasons_.at(a).exits, eb = reasons_.at(b).exits;
        if (ea != eb) return ea > eb;
        const int by_name = std::strcmp(reason_name(a), reason_name(b));
        return by_name != 0 ? by_name < 0 : a < b;  // two unknown reasons: by number
    });
    return order;
}

std::string format_exit_stats(const ExitStats& stats, const RunTotals& totals)
{
    std::string out;
    auto line = std::back_inserter(out);
    const std::uint64_t exits = stats.exits();
    fmt::format_to(line, "exit statistics: exits={} vcpus={} vtime={} ns wall={:.3f} s\n", exits,
                   stats.vcpus().size(), totals.vtime_ns, totals.wall_seconds);
    fmt::format_to(line, "{:<22} {:>10} {:>7} {:>14} {:>7} {:>14} {:>12} {:>7}\n", "reason", "exits", "exits%",
                   "vtime_ns", "vtime%", "insns", "host_us", "host%");
    ReasonStats total;
    for (std::uint16_t reason : stats.reasons_by_count()) {
        const ReasonStats& r = stats.reasons().at(reason);
        fmt::format_to(line, "{:<22} {:>10} {:>6.2f}% {:>14} {:>6.2f}% {:>14} {:>12} {:>6.2f}%\n", reason_name(reason),
                       r.exits, 100 * share(r.exits, exits), r.vtime_ns, 100 * share(r.vtime_ns, totals.vtime_ns),
                       r.guest_instructions, r.host_ns / 1000, 100 * host_share(r.host_ns, totals));
        total.exits += r.exits;
        total.vtime_ns += r.vtime_ns;
        total.guest_instructions += r.guest_instructions;
        total.host_ns += r.host_ns;
    }
    fmt::format_to(line, "{:<22} {:>10} {:>6.2f}% {:>14} {:>6.2f}% {:>14} {:>12} {:>6.2f}%\n", "total", total.exits,
                   100 * share(total.exits, exits), total.vtime_ns, 100 * share(total.vtime_ns, totals.vtime_ns),
                   total.guest_instructions, total.host_ns / 1000, 100 * host_share(total.host_ns, totals));
    fmt::format_to(line, "{:<6} {:>10} {:>14} {:>14} {:>14} {:>14} {:>14} {:>10} {:>12}  {}\n", "vcpu", "exits",
                   "guest_ns", "exit_ns", "halted_ns", "waiting_ns", "insns", "injected", "host_us", "top reason");
    for (std::size_t i = 0; i < stats.vcpus().size(); ++i) {
        const VcpuStats& v = stats.vcpus()[i];
        // The vcpu's most frequent reason (the first by name on a tie).
        std::string top = "-";
        std::uint64_t top_exits = 0;
        for (const auto& [reason, n] : v.exits_by_reason) {
            if (n > top_exits || (n == top_exits && std::strcmp(reason_name(reason), top.c_str()) < 0)) {
                top = reason_name(reason);
                top_exits = n;
            }
        }
        fmt::format_to(line, "{:<6} {:>10} {:>14} {:>14} {:>14} {:>14} {:>14} {:>10} {:>12}  {}\n", i, v.exits,
                       v.guest_ns, v.exit_ns, v.halted_ns, v.waiting_ns, v.guest_instructions, v.injections,
                       v.host_ns / 1000, top);
    }
    return out;
}

nlohmann::ordered_json exit_stats_json(const ExitStats& stats, const RunTotals& totals)
{
    using nlohmann::ordered_json;
    const std::uint64_t exits = stats.exits();
    ordered_json doc;
    doc["exits"] = exits;
    doc["vcpus"] = stats.vcpus().size();
    doc["vtime_ns"] = totals.vtime_ns;
    doc["wall_seconds"] = totals.wall_seconds;
    ordered_json reasons = ordered_json::array();
    for (std::uint16_t reason : stats.reasons_by_count()) {
        const ReasonStats& r = stats.reasons().at(reason);
        ordered_json per_vcpu = ordered_json::array();
        for (const VcpuStats& v : stats.vcpus()) {
            const auto it = v.exits_by_reason.find(reason);
            per_vcpu.push_back(it == v.exits_by_reason.end() ? 0 : it->second);
        }
        reasons.push_back(ordered_json{
            {"reason", reason_name(reason)},
            {"number", reason},
            {"exits", r.exits},
            {"exits_share", share(r.exits, exits)},
            {"vtime_ns", r.vtime_ns},
            {"vtime_share", share(r.vtime_ns, totals.vtime_ns)},
            {"guest_instructions", r.guest_instructions},
            {"host_ns", r.host_ns},
            {"host_share", host_share(r.host_ns, totals)},
            {"exits_per_vcpu", per_vcpu},
        });
    }
    doc["reasons"] = reasons;
    ordered_json vcpus = ordered_json::array();
    for (std::size_t i = 0; i < stats.vcpus().size(); ++i) {
        const VcpuStats& v = stats.vcpus()[i];
        ordered_json by_reason = ordered_json::object();
        for (std::uint16_t reason : stats.reasons_by_count()) {
            if (const auto it = v.exits_by_reason.find(reason); it != v.exits_by_reason.end()) {
                by_reason[reason_name(reason)] = it->second;
            }
        }
        vcpus.push_back(ordered_json{
            {"vcpu", i},
            {"exits", v.exits},
            {"guest_ns", v.guest_ns},
            {"exit_ns", v.exit_ns},
            {"halted_ns", v.halted_ns},
            {"waiting_ns", v.waiting_ns},
            {"guest_instructions", v.guest_instructions},
            {"injections", v.injections},
            {"host_ns", v.host_ns},
            {"exits_by_reason", by_reason},
        });
    }
    doc["per_vcpu"] = vcpus;
    return doc;
}

}  // namespace xeno::harness
