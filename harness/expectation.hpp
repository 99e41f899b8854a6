// `xeno run --expect`: the run's status and console against [expect].
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "harness/scenario.hpp"

namespace xeno::harness {

// Empty when the run matches; otherwise one line saying where it differs,
// e.g. `console differs at line 3, column 1: expected "ok a" but got "FAIL a"`.
std::optional<std::string> compare_expectation(const Expectation& expect, int status, std::string_view console);

// A string quoted C-style for a one-line message: \n, \t, \r, \\, \", and
// \xNN for other bytes outside printable ASCII.
std::string quote(std::string_view text);

}  // namespace xeno::harness
