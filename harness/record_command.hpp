// `xeno record FILE -- <run arguments>`: runs exactly what `xeno run <run
// arguments>` runs, and writes a recording of it (recording_format.hpp): the
// arguments, the machine configuration with a digest of every input, the
// guest state at every VM exit, machine memory page hashes at checkpoints,
// and how the run ended. `xeno replay FILE` (replay_command.hpp) checks a
// run against it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "harness/cli.hpp"
#include "harness/recording_format.hpp"
#include "harness/recording_writer.hpp"

namespace xeno::harness {

struct RecordOptions {
    std::string file;                     // the recording to write
    std::vector<std::string> run_args;    // `xeno run`'s arguments (a leading "run" is dropped)
    std::uint64_t checkpoint_exits = kDefaultCheckpointExits;        // 0: no checkpoints by exit count
    std::uint64_t checkpoint_vtime_ms = kDefaultCheckpointVtimeMs;   // 0: none by virtual time
};

int record_run(const RecordOptions& options, const CliEnv& env);

// The runner `xeno record` gives `xeno run` in place of the machine: it runs
// the machine it is handed (through `inner`) with exit observers that write
// the recording, and leaves every output of the run as it was.
class RunRecorder {
public:
    RunRecorder(std::filesystem::path file, RecordedConfig run);  // run: args, checkpoint settings, version
    sim::MachineResult run(const Runner& inner, const sim::MachineConfig& config, const sim::MachineOutput& output);

    bool ran() const { return ran_; }
    // Why the recording could not be written, if it could not.
    const std::optional<std::string>& error() const { return error_; }
    std::uint64_t file_bytes() const { return file_bytes_; }
    std::uint64_t exit_records() const { return exit_records_; }
    std::uint64_t checkpoint_records() const { return checkpoint_records_; }

private:
    std::filesystem::path file_;
    RecordedConfig run_;
    bool ran_ = false;
    std::optional<std::string> error_;
    std::uint64_t file_bytes_ = 0, exit_records_ = 0, checkpoint_records_ = 0;
};

// The argument list of the `xeno run` a recording holds, as xeno_main takes it.
std::vector<std::string> run_command_line(const std::vector<std::string>& run_args);

}  // namespace xeno::harness
