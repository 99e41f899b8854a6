// `xeno run --expect`: the run's status and console against [expect].
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "harness/scenario.hpp"

namespace xeno::harness {

// Empty when the run matches; otherwise one line saying where it differs,
// e.g. `console differs at line 3, column 1: expected "ok a" but got "FAIL a"`.
// `end`/`end_reason`: how the domain ended (MachineResult::end); an empty
// `end` is not compared (a run that could not say).
std::optional<std::string> compare_expectation(const Expectation& expect, int status, std::string_view console,
                                               std::string_view end = {}, std::string_view end_reason = {});

// Whether a domain end is the guest's own (exit port, power off) rather than
// one the hypervisor decided (crash, halted, reset).
bool guest_chose_end(std::string_view end);

// A string quoted C-style for a one-line message: \n, \t, \r, \\, \", and
// \xNN for other bytes outside printable ASCII.
std::string quote(std::string_view text);

}  // namespace xeno::harness
