// `xeno run --snapshot-at POINT FILE` and `xeno run --restore FILE`
// (snapshot_file.hpp: what a snapshot holds and why it is not a process
// image).
//
// Taking one: SnapshotTaker is the runner `xeno run` gets in place of the
// machine; it records every exit (recording_writer.hpp) up to the point,
// and after the handler of the point's exit it hashes guest RAM, keeps each
// vcpu's registers and writes FILE. The run goes on to its normal end.
//
// Restoring: `xeno run` takes the machine arguments from FILE (the output
// options come from the command line: --trace, --stats, --timeline, --log,
// --gdb, limits), and SnapshotRestorer re-executes the run up to the point
// with its output held back (console, trace, log, exit observers: nothing
// of the prefix is printed or counted), comparing each exit with the
// snapshot's recording as it goes, then the whole-machine state at the
// point. A difference ends the run at once with one error naming it (the
// first divergent exit, or the registers and pages that differ); when all
// agrees the run continues live from the point with everything passed on.
// The cost of a restore is the prefix's run time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "harness/cli.hpp"
#include "harness/recording_reader.hpp"
#include "harness/recording_writer.hpp"
#include "harness/run_options.hpp"
#include "harness/snapshot_file.hpp"

namespace xeno::harness {

// The machine part of a run's options as `xeno run` arguments (paths made
// absolute, so a restore works from any directory): what a snapshot keeps.
std::vector<std::string> snapshot_machine_args(const RunOptions& options);

// The options of a restored run: the machine arguments a snapshot keeps,
// with `given`'s output and limit options (--max-insns, --max-vtime-ms
// given on the command line replace the snapshot's).
Outcome<RunOptions> restored_run_options(const std::vector<std::string>& machine_args, const RunOptions& given);

class SnapshotTaker {
public:
    SnapshotTaker(std::filesystem::path file, SnapshotPoint point, std::vector<std::string> machine_args);
    // Whether FILE can be written, found out before the run (a bad path is
    // a usage error), without truncating a file that is there.
    std::optional<std::string> check_writable() const;
    sim::MachineResult run(const Runner& inner, const sim::MachineConfig& config, const sim::MachineOutput& output);

    bool written() const { return written_; }
    const std::optional<std::string>& error() const { return error_; }
    // "snapshot: FILE: [virtual time T ns: ]after exit N (vtime ..., ... guest instructions), B bytes"
    std::string report() const;

private:
    void take(const sim::ExitEvent& e, const std::string& console);

    std::filesystem::path file_;
    SnapshotPoint point_;
    std::vector<std::string> machine_args_;
    std::FILE* recording_file_ = nullptr;  // a temporary file: the recording up to the point
    std::unique_ptr<RecordingWriter> writer_;
    std::vector<SnapshotVcpu> vcpus_;
    bool written_ = false;
    std::uint64_t bytes_ = 0;
    SnapshotState state_;
    std::uint64_t last_exit_ = 0;
    std::optional<std::string> error_;
};

class SnapshotRestorer {
public:
    // Reads and checks FILE and the recording in it (a bad file: error()).
    explicit SnapshotRestorer(std::filesystem::path file);
    // Where the line said at the point goes ("restore: FILE: exit N reached,
    // machine state verified ..."), and notes before it.
    void set_notes(std::ostream* notes) { notes_ = notes; }
    ~SnapshotRestorer();
    SnapshotRestorer(const SnapshotRestorer&) = delete;
    SnapshotRestorer& operator=(const SnapshotRestorer&) = delete;

    // Why the restore failed: a bad file, other inputs, or a state that
    // differs at or before the point (one line, no "xeno: error: ").
    const std::optional<std::string>& error() const { return error_; }
    const std::vector<std::string>& machine_args() const { return machine_args_; }
    std::uint64_t point_exit() const { return snapshot_.state.exit; }

    // The runner for a run without --gdb: checks the machine configuration
    // against the snapshot's, then runs it with observe()'s output.
    sim::MachineResult run(const Runner& inner, const sim::MachineConfig& config, const sim::MachineOutput& output);
    // For a run under the GDB stub, which runs the machine itself (and again
    // for reverse execution): check_config() before, begin_run() before each
    // machine run, observe()'s output for all of them.
    std::optional<std::string> check_config(const sim::MachineConfig& config);
    void begin_run();
    sim::MachineOutput observe(const sim::MachineOutput& output);
    // After the run: the point was reached and verified (else error() says why).
    bool reached() const { return reached_; }
    void finish(const sim::MachineResult& result);

private:
    void on_taken(const sim::ExitEvent& e);
    void on_handled(const sim::ExitEvent& e);
    void fail(std::string why);
    void verify(const sim::ExitEvent& e);

    std::filesystem::path file_;
    Snapshot snapshot_;
    RecordingSummary recorded_;
    std::vector<std::string> machine_args_;
    std::FILE* recording_file_ = nullptr;
    std::unique_ptr<RecordingReader> reader_;
    std::optional<std::string> error_;
    std::ostream* notes_ = nullptr;
    std::string another_build_;  // the note on a snapshot from another xeno build

    // This machine run.
    bool live_ = false;          // past the point: everything passed on
    bool reached_ = false;
    std::string console_;        // the prefix's console (held back)
    ExitRecord current_;         // the recorded exit being compared
    std::vector<SnapshotVcpu> vcpus_;
    bool noted_ = false;         // the line at the point is said once (not again in a GDB re-run)
};

}  // namespace xeno::harness
