#include "harness/replay_command.hpp"

#include <sstream>

#include <CLI/CLI.hpp>

#include "harness/recording_reader.hpp"
#include "harness/replay_check.hpp"

namespace xeno::harness {

namespace {

int replay_usage_error(const CliEnv& env, const std::string& message)
{
    env.err << "xeno: error: replay: " << message << '\n';
    env.err.flush();
    return kExitUsage;
}

// The first line `xeno run` wrote on stderr, without its "xeno: error: ".
std::string first_error_line(const std::string& err)
{
    std::string line = err.substr(0, err.find('\n'));
    constexpr std::string_view prefix = "xeno: error: ";
    if (line.rfind(prefix, 0) == 0) line.erase(0, prefix.size());
    return line.empty() ? std::string("it ran no machine") : line;
}

const char* const kRecordFooter =
    "Runs exactly what `xeno run <run arguments>` runs (console, summary line and exit status\n"
    "are xeno run's) and writes FILE: the arguments, the machine's configuration with a digest\n"
    "of every input (kernel, initrd, guest image, serial input embedded, RTC epoch), the guest's\n"
    "registers at every VM exit (as taken and after its handler), page hashes of machine memory\n"
    "at checkpoints, and how the run ended; zstd-compressed, format version 1. Two records of\n"
    "the same run write the same file. Then one line: record: FILE: <n> exits, <m> checkpoints, <b> bytes.\n"
    "Exit status: xeno run's; 2 when FILE cannot be written or is one of the run's inputs,\n"
    "206 when writing it failed during the run.";

const char* const kReplayFooter =
    "Runs the recorded `xeno run` arguments again (from the directory they were recorded in)\n"
    "and compares the run with FILE: each exit (number, reason, vcpu, qualification, virtual\n"
    "time, instruction count, registers), each checkpoint's memory, and the end. Prints\n"
    "  replay: identical (<n> exits, <m> checkpoints)\n"
    "or the first divergent checkpoint (the machine pages that differ) and the first divergent\n"
    "exit (reason, vcpu, RIP, and each register: recorded vs now); the replay stops there.\n"
    "Exit status: 0 identical, 1 diverged, 2 a bad recording (not one, another format version,\n"
    "truncated, corrupted) or an input that changed since the recording (nothing is compared).";

}  // namespace

int replay_recording(const ReplayOptions& options, const CliEnv& env)
{
    // The whole file first: a truncated or corrupted body is found before
    // any record of it is trusted (the zstd checksum is at its end).
    Outcome<RecordingSummary> checked = check_recording(options.file);
    if (!checked.ok()) return replay_usage_error(env, checked.error());
    Outcome<std::unique_ptr<RecordingReader>> opened = RecordingReader::open(options.file);
    if (!opened.ok()) return replay_usage_error(env, opened.error());
    RecordingReader& reader = *opened.value();

    ReplayChecker checker(reader, checked.value().end);
    std::ostringstream run_out, run_err;
    const Runner machine = env.runner;
    CliEnv replaying{options.console ? env.out : run_out, run_err, env.exe_dir,
                     [&checker, &machine](const sim::MachineConfig& c, const sim::MachineOutput& o) {
                         return checker.run(machine, c, o);
                     }};
    const std::vector<std::string> args = run_command_line(reader.config().run_args);
    std::vector<const char*> argv;
    for (const std::string& a : args) argv.push_back(a.c_str());
    (void)xeno_main(static_cast<int>(argv.size()), argv.data(), replaying);

    if (checker.refused()) {
        return replay_usage_error(env, *checker.refused() + ": not replayed");
    }
    if (!checker.ran()) {
        return replay_usage_error(env, "the recorded run cannot start: " + first_error_line(run_err.str()));
    }
    env.out << format_replay_report(checker);
    env.out.flush();
    return checker.diverged() ? kExitMismatch : kExitOk;
}

void add_recording_commands(CLI::App& app, RecordOptions& record, ReplayOptions& replay)
{
    CLI::App* rec = app.add_subcommand("record", "Run as xeno run does and record the run: xeno record FILE -- "
                                                 "<run arguments>");
    rec->footer(kRecordFooter);
    rec->add_option("file", record.file, "The recording to write")->required()->type_name("FILE");
    rec->add_option("args", record.run_args, "xeno run's arguments, after --")->type_name("RUN-ARGS");
    rec->add_option("--checkpoint-exits", record.checkpoint_exits,
                    "A checkpoint (page hashes of machine memory) every N exits; 0: none by count")
        ->type_name("N")
        ->default_val(kDefaultCheckpointExits);
    rec->add_option("--checkpoint-vtime-ms", record.checkpoint_vtime_ms,
                    "... and at the first exit past MS of virtual time since the last one; 0: none by time")
        ->type_name("MS")
        ->default_val(kDefaultCheckpointVtimeMs);

    CLI::App* rep = app.add_subcommand("replay", "Run a recording again and find where the run diverges from it");
    rep->footer(kReplayFooter);
    rep->add_option("file", replay.file, "The recording (xeno record)")->required()->type_name("FILE");
    rep->add_flag("--console", replay.console, "Also print the replayed guest's console and summary line");
}

}  // namespace xeno::harness
