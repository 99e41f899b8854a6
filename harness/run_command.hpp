// `xeno run`: load a scenario, run it on the simulated machine, print the
// guest console as it comes and the summary line, check [expect].
#pragma once

#include "harness/cli.hpp"
#include "harness/run_options.hpp"

namespace xeno::harness {

// Returns the process exit status (see cli.hpp).
int run_scenario(const RunOptions& options, const CliEnv& env);

}  // namespace xeno::harness
