// `xeno replay FILE`: reads a recording (`xeno record`), checks it whole,
// runs the recorded `xeno run` arguments again with its inputs checked
// against the recorded ones, and compares the run with the recording
// (replay_check.hpp). Exit status: 0 identical, 1 diverged (the first
// divergent checkpoint and exit are printed), 2 a bad recording (not one,
// another format version, truncated, corrupted) or inputs that changed.
//
// Also where both commands join xeno's command line (add_recording_commands).
#pragma once

#include <string>

#include "harness/cli.hpp"
#include "harness/record_command.hpp"

namespace CLI {
class App;
}

namespace xeno::harness {

struct ReplayOptions {
    std::string file;
    bool console = false;  // --console: show the replayed guest's console and summary line
};

int replay_recording(const ReplayOptions& options, const CliEnv& env);

// `record` and `replay` with their options (harness/cli.cpp calls this).
void add_recording_commands(CLI::App& app, RecordOptions& record, ReplayOptions& replay);

}  // namespace xeno::harness
