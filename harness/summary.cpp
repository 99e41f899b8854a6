#include "harness/summary.hpp"

#include <fmt/core.h>

namespace xeno::harness {

Summary make_summary(std::string_view scenario, std::string_view profile, const sim::MachineResult& result,
                     double wall_seconds, bool with_memhash)
{
    Summary s;
    s.scenario = std::string(scenario);
    s.profile = std::string(profile);
    s.status = result.status;
    s.exits = result.exits;
    s.insns = result.guest_instructions;
    s.vtime = result.vtime_ns;
    s.wall_seconds = wall_seconds;
    s.emulated = result.emulated_instructions;
    s.end = result.end;
    if (with_memhash) {
        s.memhash = result.memory_hash;
    }
    return s;
}

std::string format_summary(const Summary& s)
{
    std::string line = fmt::format("summary: scenario={} profile={} status={} exits={} insns={} vtime={} wall={:.3f} "
                                   "emulated={}",
                                   s.scenario, s.profile, s.status, s.exits, s.insns, s.vtime, s.wall_seconds,
                                   s.emulated);
    if (!s.end.empty()) {
        line += fmt::format(" end={}", s.end);
    }
    if (s.memhash) {
        line += fmt::format(" memhash={:#018x}", *s.memhash);
    }
    return line;
}

std::string strip_wall(std::string_view line)
{
    std::size_t at = line.find(" wall=");
    if (at == std::string_view::npos) {
        return std::string(line);
    }
    std::size_t end = line.find(' ', at + 1);
    std::string out(line.substr(0, at));
    if (end != std::string_view::npos) {
        out += line.substr(end);
    }
    return out;
}

}  // namespace xeno::harness
