// Checking a run against a recording while it runs (`xeno replay`): the
// runner `xeno replay` gives `xeno run` in place of the machine. It refuses
// a machine whose inputs differ from the recorded ones, then runs it with
// exit observers that compare each exit, as taken and after its handler,
// and each checkpoint's page hashes with the recording, and finally how the
// run ended. It stops the machine at the first divergent exit.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "harness/cli.hpp"
#include "harness/recording_reader.hpp"

namespace xeno::harness {

// The first exit whose recorded and replayed versions differ.
struct ExitDivergence {
    std::uint64_t exit = 0;
    std::string where;                     // "when it was taken", "after its handler", ...
    std::string recorded, replayed;        // "CPUID (10) on vcpu 0 at rip 0x8006", or what happened instead
    std::vector<std::string> differences;  // "rax: recorded 0x..., now 0x..."
};

// The first checkpoint whose guest RAM differs.
struct CheckpointDivergence {
    std::uint64_t number = 0;              // 1 is the first checkpoint
    std::uint64_t after_exit = 0;
    std::uint64_t vtime_ns = 0;
    std::uint64_t pages = 0;               // guest frames compared
    std::vector<std::uint64_t> differing;  // guest-physical addresses of the pages that differ
};

class ReplayChecker {
public:
    // `recorded_end`: how the recorded run ended (check_recording), known
    // before the run: a recording cut by its wall-time limit is compared
    // only as far as it goes.
    ReplayChecker(RecordingReader& reader, EndRecord recorded_end);
    sim::MachineResult run(const Runner& inner, const sim::MachineConfig& config, const sim::MachineOutput& output);

    bool ran() const { return ran_; }
    // Why the replay could not be compared (its inputs differ, the file
    // changed under it): a usage error, not a divergence.
    const std::optional<std::string>& refused() const { return refused_; }
    const std::optional<ExitDivergence>& exit_divergence() const { return exit_divergence_; }
    const std::optional<CheckpointDivergence>& checkpoint_divergence() const { return checkpoint_divergence_; }
    const std::vector<std::string>& end_differences() const { return end_differences_; }
    bool diverged() const { return exit_divergence_ || checkpoint_divergence_ || !end_differences_.empty(); }
    std::uint64_t exits_compared() const { return exits_compared_; }
    std::uint64_t checkpoints_compared() const { return checkpoints_compared_; }
    // Said before the verdict: another xeno, an RTC epoch given back, a cut recording.
    const std::vector<std::string>& notes() const { return notes_; }

private:
    bool peek(RecordTag& tag);
    void on_taken(const sim::ExitEvent& e);
    void on_handled(const sim::ExitEvent& e);
    void diverge(ExitDivergence d, const sim::ExitEvent& e);
    void compare_end(const sim::MachineResult& result, const std::string& console);

    RecordingReader& reader_;
    EndRecord recorded_end_;
    bool ran_ = false;
    bool done_ = false;           // nothing more to compare (diverged, or the recording's exits are all seen)
    bool in_exit_ = false;        // between a compared exit_taken and its exit_handled
    bool stopped_ = false;        // this checker stopped the machine
    std::optional<RecordTag> pending_;
    ExitRecord current_;
    std::vector<std::uint64_t> pages_;
    std::optional<std::string> refused_;
    std::optional<ExitDivergence> exit_divergence_;
    std::optional<CheckpointDivergence> checkpoint_divergence_;
    std::vector<std::string> end_differences_;
    std::uint64_t exits_compared_ = 0, checkpoints_compared_ = 0;
    std::vector<std::string> notes_;
};

// The report `xeno replay` prints: "replay: identical (...)" or the
// divergences, one item a line, each line starting "replay: ".
std::string format_replay_report(const ReplayChecker& checker);

}  // namespace xeno::harness
