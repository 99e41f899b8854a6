// The `xeno` command line: argument parsing (CLI11) and the subcommands.
// main.cpp hands it the real machine; tests hand it a fake one and string
// streams, so everything but the machine is testable in-process.
#pragma once

#include <filesystem>
#include <functional>
#include <ostream>
#include <string_view>

#include "sim/platform/machine.hpp"

namespace xeno::harness {

// Exit statuses of xeno (README.md "Running a scenario", `xeno run --help`).
// A run without --expect exits with the guest's status when the guest ended
// it (debug exit port, power off) and the status is 0-199; every outcome
// xeno decides has a status of 200 or more, which no such run exits with.
// Only a usage error (nothing ran, no summary line) shares a number, 2,
// with a guest status, as command-line tools do.
inline constexpr int kExitOk = 0;
inline constexpr int kExitMismatch = 1;      // --expect: console, status or end differ from [expect]
inline constexpr int kExitUsage = 2;         // bad arguments, scenario or input file: nothing ran
inline constexpr int kMaxGuestExitStatus = 199;   // guest statuses up to this one are xeno's exit status
inline constexpr int kExitStatusOutOfRange = 200; // the guest's status was 200 or more (or negative)
inline constexpr int kExitCrash = 201;       // the hypervisor ended the domain: end=crash
inline constexpr int kExitHalted = 202;      // ... end=halted
inline constexpr int kExitReset = 203;       // ... end=reset
inline constexpr int kExitLimit = 204;       // the instruction or virtual-time limit ended the run
inline constexpr int kExitWallTime = 205;    // --timeout: the wall-time limit ended the run
inline constexpr int kExitFailed = 206;      // the hypervisor, the machine or the Bochs rig could not run the
                                             // guest, or the trace or log could not be written

// The exit status of a run whose domain ended as `end` with `status`
// (without --expect): the status, or one of the codes above.
int domain_exit_status(std::string_view end, int status);

using Runner = std::function<sim::MachineResult(const sim::MachineConfig&, const sim::MachineOutput&)>;

struct CliEnv {
    std::ostream& out;               // guest console, summary, help
    std::ostream& err;               // errors, the hypervisor's log
    std::filesystem::path exe_dir;   // where CMake put the guest images (<exe_dir>/scenarios/<name>/)
    Runner runner;                   // sim::run_machine, or a fake
};

int xeno_main(int argc, const char* const* argv, const CliEnv& env);

}  // namespace xeno::harness
