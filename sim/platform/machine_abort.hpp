// Switching the simulated machine off in the middle of a run: the engine's
// instruction limit, or a failure of the engine itself. Control returns to
// run_machine, which reports `reason` as the run's error. Never returns.
#pragma once

#include <string>

namespace xeno::sim {

[[noreturn]] void abort_machine(const std::string& reason);

}  // namespace xeno::sim
