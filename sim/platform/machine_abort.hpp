// Switching the simulated machine off in the middle of a run: the engine's
// instruction limit, or a failure of the engine itself. Control returns to
// run_machine, which reports `reason` as the run's error. Never returns.
#pragma once

#include <string>

namespace xeno::sim {

// reason is taken by value and moved out before the jump: the frames the
// jump skips must not own heap memory (their destructors never run).
[[noreturn]] void abort_machine(std::string reason);

}  // namespace xeno::sim
