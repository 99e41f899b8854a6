// `xeno run --gdb [HOST:]PORT [--gdb-wait]`: the run under the GDB stub.
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

#include "sim/platform/machine.hpp"

namespace xeno::harness::gdb {

struct GdbRunOptions {
    std::string endpoint;       // [HOST:]PORT (gdb_connection.hpp)
    bool wait = false;          // --gdb-wait: wait for GDB, stopped before the first guest instruction
    // --restore: the first stop is at the first guest instruction after
    // this exit's handler (0: the first instruction; with `wait`, GDB's
    // connection is accepted there, not before the run), and this is called
    // before each run of the machine (a re-run for reverse execution too).
    std::uint64_t first_stop_after_exit = 0;
    std::function<void()> before_each_run;
};

// Listens (printing "gdb: listening on HOST:PORT" on `err`), runs the
// machine with the stub attached, and runs it again, in this process, each
// time reverse execution needs a state before every checkpoint
// (gdb_target.hpp, gdb_checkpoints.hpp: the others come from forked
// copies, and the caller's code after this returns runs in the process
// that had the run's end; the others exit with its status). Output
// the re-runs produce again (console, log, trace: a prefix of what was
// already written, the sim being deterministic) is passed on once. The
// result is the last run's; a run GDB killed ends with error "gdb killed
// the run". A listen failure: ok false, failure OTHER, error set.
sim::MachineResult run_under_gdb(const sim::MachineConfig& config, const sim::MachineOutput& output,
                                 const GdbRunOptions& options, std::ostream& err);

}  // namespace xeno::harness::gdb
