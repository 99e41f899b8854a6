// The one summary line `xeno run` prints after the guest's console:
//   summary: scenario=<name> profile=<p> status=<n> exits=<n> insns=<n> vtime=<n> wall=<s.mmm> emulated=<n> end=<kind>
// Everything but wall= comes from the deterministic machine, so two runs of a
// scenario print the same line apart from wall= (the determinism tests rely
// on it). --memhash appends memhash=0x<16 hex digits>.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sim/platform/machine.hpp"

namespace xeno::harness {

struct Summary {
    std::string scenario;
    std::string profile;
    int status = -1;
    std::uint64_t exits = 0;
    std::uint64_t insns = 0;
    std::uint64_t vtime = 0;
    double wall_seconds = 0.0;  // host time: the harness's only clock reading
    std::uint64_t emulated = 0;
    std::string end;  // how the domain ended (MachineResult::end); empty: not known
    std::optional<std::uint64_t> memhash;
};

Summary make_summary(std::string_view scenario, std::string_view profile, const sim::MachineResult& result,
                     double wall_seconds, bool with_memhash);

// The line, without a trailing newline.
std::string format_summary(const Summary& summary);

// The line with its wall= field removed (for comparing two runs).
std::string strip_wall(std::string_view summary_line);

}  // namespace xeno::harness
