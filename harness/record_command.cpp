#include "harness/record_command.hpp"

#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/core.h>

#include "harness/machine_digest.hpp"

namespace xeno::harness {

namespace fs = std::filesystem;

namespace {

bool same_file(const fs::path& a, const fs::path& b)
{
    std::error_code ec;
    if (fs::exists(a, ec) && fs::exists(b, ec)) return fs::equivalent(a, b, ec) && !ec;
    return fs::weakly_canonical(fs::absolute(a, ec), ec) == fs::weakly_canonical(fs::absolute(b, ec), ec);
}

// The recording must not overwrite what the run reads: a file named in its
// arguments, or a file in a scenario directory it names.
std::optional<std::string> check_record_file(const RecordOptions& options)
{
    std::error_code ec;
    const fs::path file = options.file;
    if (options.file.empty()) return std::string("record: give the recording's file name");
    if (fs::is_directory(file, ec)) return fmt::format("record: {} is a directory", options.file);
    if (options.run_args.empty()) {
        return std::string("record: give the run after --: xeno record FILE -- scenarios/<name> [run options]");
    }
    for (const std::string& arg : options.run_args) {
        if (arg.empty() || !fs::exists(arg, ec)) continue;
        if (fs::is_regular_file(arg, ec) && same_file(arg, file)) {
            return fmt::format("record: {} is an input of the run ({}): refusing to overwrite it", options.file, arg);
        }
        if (fs::is_directory(arg, ec) && fs::exists(file, ec) && same_file(fs::absolute(file).parent_path(), arg)) {
            return fmt::format("record: {} is a file in the run's directory {}: refusing to overwrite it",
                               options.file, arg);
        }
    }
    return std::nullopt;
}

}  // namespace

std::vector<std::string> run_command_line(const std::vector<std::string>& run_args)
{
    std::vector<std::string> args{"xeno", "run"};
    const std::size_t first = !run_args.empty() && run_args.front() == "run" ? 1 : 0;
    args.insert(args.end(), run_args.begin() + static_cast<std::ptrdiff_t>(first), run_args.end());
    return args;
}

RunRecorder::RunRecorder(fs::path file, RecordedConfig run) : file_(std::move(file)), run_(std::move(run)) {}

sim::MachineResult RunRecorder::run(const Runner& inner, const sim::MachineConfig& config,
                                    const sim::MachineOutput& output)
{
    sim::MachineResult refused;
    refused.failure = sim::MachineResult::Failure::OTHER;
    if (ran_) {
        // One recording is one machine run (a restart after a reset happens
        // inside the hypervisor, in the same run).
        error_ = "record: the run started a second machine; a recording holds one";
        refused.error = *error_;
        return refused;
    }
    ran_ = true;

    RecordedConfig recorded = describe_machine(config);
    recorded.xeno_version = run_.xeno_version;
    recorded.run_args = run_.run_args;
    recorded.checkpoint_exits = run_.checkpoint_exits;
    recorded.checkpoint_vtime_ns = run_.checkpoint_vtime_ns;
    Outcome<std::unique_ptr<RecordingWriter>> created = RecordingWriter::create(file_, recorded);
    if (!created.ok()) {
        error_ = created.error();
        refused.error = *error_;
        return refused;
    }
    RecordingWriter& writer = *created.value();

    // The observers write the recording; everything the run itself asked
    // for (console, log, trace, other observers) still gets its calls first.
    ExitRecord pending;
    std::vector<std::uint64_t> pages;
    std::uint64_t last_checkpoint_exit = 0, last_checkpoint_vtime = 0;
    std::string console;
    sim::MachineOutput observed = output;
    observed.guest_console = [&output, &console](const char* bytes, std::size_t n) {
        console.append(bytes, n);
        if (output.guest_console) output.guest_console(bytes, n);
    };
    observed.exit_taken = [&output, &pending](const sim::ExitEvent& e) {
        if (output.exit_taken) output.exit_taken(e);
        pending = exit_taken_record(e);
    };
    observed.exit_handled = [&](const sim::ExitEvent& e) {
        if (output.exit_handled) output.exit_handled(e);
        pending.handled = guest_state(e);
        writer.exit(pending);
        const std::uint64_t exits = run_.checkpoint_exits, vtime = run_.checkpoint_vtime_ns;
        const bool due = (exits != 0 && e.number - last_checkpoint_exit >= exits) ||
                         (vtime != 0 && e.vtime_ns - last_checkpoint_vtime >= vtime);
        if (due && e.memory != nullptr) {
            hash_guest_pages(e, pages);
            writer.checkpoint(e.number, e.vtime_ns, pages);
            last_checkpoint_exit = e.number;
            last_checkpoint_vtime = e.vtime_ns;
        }
    };
    // END's witness of machine memory: xxh64 of all of it once the domain
    // is torn down, which is the same in every process (machine.hpp).
    sim::MachineConfig hashed = config;
    hashed.hash_memory = true;
    sim::MachineResult result = inner(hashed, observed);
    const EndRecord end = end_record(result, console);
    if (!config.hash_memory) result.memory_hash = 0;  // as the run would have it (the summary's --memhash)

    exit_records_ = writer.exit_records();
    checkpoint_records_ = writer.checkpoint_records();
    Outcome<std::uint64_t> finished = writer.finish(end);
    if (!finished.ok()) {
        error_ = finished.error();
    } else {
        file_bytes_ = finished.value();
    }
    return result;
}

int record_run(const RecordOptions& options, const CliEnv& env)
{
    if (auto problem = check_record_file(options)) {
        env.err << "xeno: error: " << *problem << '\n';
        return kExitUsage;
    }
    // Writable? Found out before the run (a bad path is a usage error),
    // without truncating a file that is there.
    std::error_code ec;
    const bool existed = fs::exists(options.file, ec);
    if (std::FILE* probe = std::fopen(options.file.c_str(), "ab")) {
        std::fclose(probe);
    } else {
        env.err << "xeno: error: record: cannot write " << options.file << ": " << std::strerror(errno) << '\n';
        return kExitUsage;
    }

    RecordedConfig run;
    run.xeno_version = XENO_VERSION;
    run.run_args = run_command_line(options.run_args);
    run.run_args.erase(run.run_args.begin(), run.run_args.begin() + 2);  // "xeno", "run"
    run.checkpoint_exits = options.checkpoint_exits;
    run.checkpoint_vtime_ns = options.checkpoint_vtime_ms * 1'000'000;
    RunRecorder recorder(options.file, run);
    const Runner machine = env.runner;
    CliEnv recording{env.out, env.err, env.exe_dir,
                     [&recorder, &machine](const sim::MachineConfig& c, const sim::MachineOutput& o) {
                         return recorder.run(machine, c, o);
                     }};
    const std::vector<std::string> args = run_command_line(options.run_args);
    std::vector<const char*> argv;
    for (const std::string& a : args) argv.push_back(a.c_str());
    const int code = xeno_main(static_cast<int>(argv.size()), argv.data(), recording);

    if (!recorder.ran()) {
        // `xeno run` refused the arguments (its one error line is out): no
        // recording, and no empty file left behind.
        if (!existed) fs::remove(options.file, ec);
        return code;
    }
    if (recorder.error()) {
        env.err << "xeno: error: " << *recorder.error() << '\n';
        env.err.flush();
        return kExitFailed;
    }
    env.out << fmt::format("record: {}: {} exits, {} checkpoints, {} bytes\n", options.file,
                           recorder.exit_records(), recorder.checkpoint_records(), recorder.file_bytes());
    env.out.flush();
    return code;
}

}  // namespace xeno::harness
