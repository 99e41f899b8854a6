// The `xeno` command line: argument parsing (CLI11) and the subcommands.
// main.cpp hands it the real machine; tests hand it a fake one and string
// streams, so everything but the machine is testable in-process.
#pragma once

#include <filesystem>
#include <functional>
#include <ostream>

#include "sim/platform/machine.hpp"

namespace xeno::harness {

// Exit statuses of xeno itself (a run without --expect exits with the guest's status).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // the run failed, or --expect found a difference
inline constexpr int kExitUsage = 2;   // bad arguments or input: nothing ran

using Runner = std::function<sim::MachineResult(const sim::MachineConfig&, const sim::MachineOutput&)>;

struct CliEnv {
    std::ostream& out;               // guest console, summary, help
    std::ostream& err;               // errors, the hypervisor's log
    std::filesystem::path exe_dir;   // where CMake put the guest images (<exe_dir>/scenarios/<name>/)
    Runner runner;                   // sim::run_machine, or a fake
};

int xeno_main(int argc, const char* const* argv, const CliEnv& env);

}  // namespace xeno::harness
