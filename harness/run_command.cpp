#include "harness/run_command.hpp"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <fmt/core.h>

#include "harness/exit_stats.hpp"
#include "harness/expectation.hpp"
#include "harness/gdb_run.hpp"
#include "harness/guest_image.hpp"
#include "harness/kernel_payload.hpp"
#include "harness/snapshot_run.hpp"
#include "harness/summary.hpp"
#include "harness/timeline.hpp"
#include "harness/vcpu_activity.hpp"

namespace xeno::harness {

namespace fs = std::filesystem;

namespace {

int usage_error(const CliEnv& env, std::string_view message)
{
    env.err << "xeno: error: " << message << '\n';
    env.err.flush();
    return kExitUsage;
}

struct FileCloser {
    void operator()(std::FILE* f) const
    {
        if (f != nullptr) {
            std::fclose(f);
        }
    }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

// Whether two paths name the same file: the same inode when both exist, else
// the same absolute path once symbolic links and ".." are resolved.
bool same_file(const fs::path& a, const fs::path& b)
{
    std::error_code ec;
    if (fs::exists(a, ec) && fs::exists(b, ec)) {
        return fs::equivalent(a, b, ec) && !ec;
    }
    const fs::path ca = fs::weakly_canonical(fs::absolute(a, ec), ec);
    const fs::path cb = fs::weakly_canonical(fs::absolute(b, ec), ec);
    return ca == cb;
}

// An input of the run that an output must not overwrite.
struct Input {
    std::string what;  // "scenario.toml", "the guest image", ...
    fs::path path;
};

// --trace, --log, --stats-json, --timeline and --snapshot-at: distinct
// files, none of them one of the run's inputs.
std::optional<std::string> check_outputs(const RunOptions& options, const std::vector<Input>& inputs)
{
    std::optional<std::string> snapshot;
    if (options.snapshot_at.size() == 2) snapshot = options.snapshot_at[1];
    const std::pair<const char*, const std::optional<std::string>*> outputs[] = {
        {"--trace", &options.trace_file},
        {"--log", &options.log_file},
        {"--stats-json", &options.stats_json},
        {"--timeline", &options.timeline},
        {"--snapshot-at", &snapshot},
    };
    for (std::size_t i = 0; i < std::size(outputs); ++i) {
        for (std::size_t j = i + 1; j < std::size(outputs); ++j) {
            const auto& a = *outputs[i].second;
            const auto& b = *outputs[j].second;
            if (a && b && same_file(*a, *b)) {
                return fmt::format("{} and {} name the same file ({}): give each its own", outputs[i].first,
                                   outputs[j].first, *a);
            }
        }
    }
    for (auto [flag, path] : outputs) {
        if (!*path) {
            continue;
        }
        for (const Input& input : inputs) {
            if (!input.path.empty() && same_file(**path, input.path)) {
                return fmt::format("{} {} is {} of this run: refusing to overwrite it", flag, **path, input.what);
            }
        }
    }
    return std::nullopt;
}

File open_output(const std::optional<std::string>& path, std::string& error)
{
    if (!path || !error.empty()) {
        return nullptr;
    }
    File file(std::fopen(path->c_str(), "wb"));
    if (!file) {
        error = fmt::format("cannot write {}: {}", *path, std::strerror(errno));
    }
    return file;
}

// Everything the machine needs from files: read, checked, decompressed.
struct GuestFiles {
    std::vector<std::uint8_t> module0;  // the flat image, or the kernel (its ELF with --pvh)
    std::vector<std::uint8_t> initrd;
    std::vector<std::uint8_t> serial_input;
    std::vector<Input> inputs;          // where they came from, for check_outputs
};

Outcome<GuestFiles> load_guest_files(const Scenario& scenario, const RunOptions& options, bool cli_kernel,
                                     const fs::path& exe_dir)
{
    GuestFiles files;
    if (!scenario.file.empty()) {
        files.inputs.push_back({"the scenario's scenario.toml", scenario.file});
    }
    if (scenario.is_kernel()) {
        fs::path kernel = scenario.kernel;
        if (!cli_kernel) {
            Outcome<fs::path> found = find_scenario_file(scenario, scenario.kernel, "kernel", exe_dir);
            if (!found.ok()) {
                return Failure{found.error()};
            }
            kernel = found.value();
        }
        files.inputs.push_back({"the kernel", kernel});
        Outcome<std::vector<std::uint8_t>> bytes = read_input_file(kernel, "kernel", kMaxModuleBytes);
        if (!bytes.ok()) {
            return Failure{bytes.error()};
        }
        if (bytes.value().empty()) {
            return Failure{fmt::format("the kernel {} is empty", kernel.string())};
        }
        if (scenario.pvh) {
            bytes = pvh_kernel(std::move(bytes).value(), fmt::format("kernel {}", kernel.string()));
            if (!bytes.ok()) {
                return Failure{bytes.error()};
            }
        }
        files.module0 = std::move(bytes).value();
        if (!scenario.initrd.empty()) {
            // --initrd is a path as given; [guest] initrd is the scenario's file.
            fs::path initrd = scenario.initrd;
            if (!options.initrd) {
                Outcome<fs::path> found = find_scenario_file(scenario, scenario.initrd, "initrd", exe_dir);
                if (!found.ok()) {
                    return Failure{found.error()};
                }
                initrd = found.value();
            }
            files.inputs.push_back({"the initrd", initrd});
            Outcome<std::vector<std::uint8_t>> data = read_input_file(initrd, "initrd", kMaxModuleBytes);
            if (!data.ok()) {
                return Failure{data.error()};
            }
            files.initrd = std::move(data).value();
        }
    } else {
        Outcome<GuestImageSource> source = find_guest_image(scenario, exe_dir);
        if (!source.ok()) {
            return Failure{source.error()};
        }
        files.inputs.push_back({source.value().assemble ? "the guest's source" : "the guest image",
                                source.value().path});
        Outcome<std::vector<std::uint8_t>> image = load_guest_image(scenario, source.value());
        if (!image.ok()) {
            return Failure{image.error()};
        }
        files.module0 = std::move(image).value();
    }
    if (const fs::path input = serial_input_path(scenario, options); !input.empty()) {
        files.inputs.push_back({"the serial input", input});
        Outcome<std::vector<std::uint8_t>> bytes = read_input_file(input, "serial input", kMaxModuleBytes);
        if (!bytes.ok()) {
            return Failure{bytes.error()};
        }
        files.serial_input = std::move(bytes).value();
    }
    return files;
}

// The one line a failed run prints, and its exit status.
int run_failed(const CliEnv& env, const sim::MachineResult& result)
{
    const std::string why = result.error.empty() ? std::string("the run failed") : result.error;
    env.err << "xeno: error: " << why << '\n';
    env.err.flush();
    switch (result.failure) {
    case sim::MachineResult::Failure::INSTRUCTION_LIMIT:
    case sim::MachineResult::Failure::VTIME_LIMIT: return kExitLimit;
    case sim::MachineResult::Failure::WALL_TIME_LIMIT: return kExitWallTime;
    case sim::MachineResult::Failure::NONE:
    case sim::MachineResult::Failure::OTHER: break;
    }
    return kExitFailed;
}

}  // namespace

int run_scenario(const RunOptions& given, const CliEnv& env)
{
    // --restore: the machine comes from the snapshot, the output options
    // from the command line (snapshot_run.hpp).
    std::optional<SnapshotRestorer> restorer;
    RunOptions restored;
    if (given.restore) {
        restorer.emplace(*given.restore);
        restorer->set_notes(&env.err);
        if (restorer->error()) {
            return usage_error(env, "--restore: " + *restorer->error());
        }
        Outcome<RunOptions> from_snapshot = restored_run_options(restorer->machine_args(), given);
        if (!from_snapshot.ok()) {
            return usage_error(env, fmt::format("--restore: {}: {}", *given.restore, from_snapshot.error()));
        }
        restored = std::move(from_snapshot).value();
    }
    const RunOptions& options = given.restore ? restored : given;
    std::optional<SnapshotTaker> taker;
    if (!options.snapshot_at.empty()) {
        Outcome<SnapshotPoint> point = parse_snapshot_point(options.snapshot_at.front());
        if (!point.ok()) {
            return usage_error(env, point.error());
        }
        taker.emplace(options.snapshot_at.back(), point.value(), snapshot_machine_args(options));
    }

    const bool cli_kernel = options.kernel.has_value();
    if (cli_kernel == !options.scenario_dir.empty() || (cli_kernel && options.kernel->empty())) {
        return usage_error(env, *check_options(Scenario{}, options));
    }
    Scenario loaded_scenario;
    if (cli_kernel) {
        loaded_scenario = kernel_run_scenario(options);
    } else {
        Outcome<Scenario> loaded = load_scenario(options.scenario_dir);
        if (!loaded.ok()) {
            return usage_error(env, loaded.error());
        }
        loaded_scenario = std::move(loaded).value();
    }
    if (auto problem = check_options(loaded_scenario, options)) {
        return usage_error(env, *problem);
    }
    const Scenario scenario = with_overrides(std::move(loaded_scenario), options);

    Outcome<GuestFiles> files = load_guest_files(scenario, options, cli_kernel, env.exe_dir);
    if (!files.ok()) {
        return usage_error(env, files.error());
    }
    if (given.restore) {
        files.value().inputs.push_back({"the snapshot --restore reads", *given.restore});
    }
    if (auto problem = check_outputs(options, files.value().inputs)) {
        return usage_error(env, *problem);
    }

    std::string open_error;
    File trace = open_output(options.trace_file, open_error);
    File log_file = open_output(options.log_file, open_error);
    File stats_json = open_output(options.stats_json, open_error);
    File timeline_file = open_output(options.timeline, open_error);
    if (!open_error.empty()) {
        return usage_error(env, open_error);
    }
    if (taker) {
        if (auto problem = taker->check_writable()) {
            return usage_error(env, *problem);
        }
    }

    GuestFiles& f = files.value();
    sim::MachineConfig config = build_machine_config(scenario, options, std::move(f.module0), std::move(f.serial_input),
                                                     std::move(f.initrd));

    std::string console;
    sim::MachineOutput output;
    output.guest_console = [&](const char* bytes, std::size_t n) {
        console.append(bytes, n);
        env.out.write(bytes, static_cast<std::streamsize>(n));
        env.out.flush();
    };
    output.log = [&](const char* bytes, std::size_t n) {
        if (log_file) {
            std::fwrite(bytes, 1, n, log_file.get());
        }
        if (options.verbose) {
            env.err.write(bytes, static_cast<std::streamsize>(n));
        }
    };
    output.trace = [&](const char* bytes, std::size_t n) {
        if (trace) {
            std::fwrite(bytes, 1, n, trace.get());
        }
    };

    // --stats, --stats-json, --timeline: host-side observers of the run's
    // entries and exits (they change nothing in it).
    VcpuActivity activity;
    ExitStats stats;
    std::optional<Timeline> timeline;
    if (options.stats || options.stats_json) {
        activity.add_listener(&stats);
    }
    if (timeline_file) {
        timeline.emplace(timeline_file.get(), fmt::format("{} ({})", scenario.name, options.profile),
                         options.timeline_max_events.value_or(kDefaultMaxTimelineEvents));
        activity.add_listener(&*timeline);
    }
    if (activity.has_listeners()) {
        activity.attach(output);
    }

    // Host time is read here, around the machine, and by the machine's
    // --timeout watchdog, never inside the run.
    auto begin = std::chrono::steady_clock::now();
    sim::MachineResult result;
    if (restorer && options.gdb) {
        // GDB attaches at the point: the stub waits for it, then stops at the
        // first guest instruction after the point's exit.
        if (auto problem = restorer->check_config(config)) {
            return usage_error(env, "--restore: " + *problem);
        }
        gdb::GdbRunOptions under{*options.gdb, true, restorer->point_exit(), [&restorer] { restorer->begin_run(); }};
        result = gdb::run_under_gdb(config, restorer->observe(output), under, env.err);
        restorer->finish(result);
    } else if (options.gdb) {
        gdb::GdbRunOptions under;
        under.endpoint = *options.gdb;
        under.wait = options.gdb_wait;
        result = gdb::run_under_gdb(config, output, under, env.err);
    } else if (restorer) {
        result = restorer->run(env.runner, config, output);
    } else if (taker) {
        result = taker->run(env.runner, config, output);
    } else {
        result = env.runner(config, output);
    }
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
    if (restorer && restorer->error()) {
        // Nothing of the run is reported: it is not the snapshot's.
        return usage_error(env, "--restore: " + *restorer->error());
    }

    activity.finish(result.vtime_ns, result.guest_instructions);
    if (timeline) {
        timeline->close();
    }
    const RunTotals totals{result.vtime_ns, wall};
    if (stats_json) {
        const std::string text = exit_stats_json(stats, totals).dump(2) + "\n";
        std::fwrite(text.data(), 1, text.size(), stats_json.get());
    }

    std::string write_error;
    for (auto [file, path] : {std::pair{&trace, &options.trace_file}, std::pair{&log_file, &options.log_file},
                              std::pair{&stats_json, &options.stats_json},
                              std::pair{&timeline_file, &options.timeline}}) {
        if (*file) {
            const bool failed = std::ferror(file->get()) != 0;
            const int error = errno;
            if ((std::fclose(file->release()) != 0 || failed) && write_error.empty()) {
                write_error = fmt::format("error writing {}: {}", **path, std::strerror(failed ? error : errno));
            }
        }
    }

    if (!console.empty() && console.back() != '\n') {
        env.out << '\n';  // the summary starts a line of its own
    }
    env.out << format_summary(make_summary(scenario.name, options.profile, result, wall, options.memhash)) << '\n';
    if (options.stats) {
        env.out << format_exit_stats(stats, totals);
    }
    if (taker && taker->written() && !taker->error()) {
        env.out << taker->report() << '\n';
    }
    env.out.flush();
    if (taker && taker->error()) {
        env.err << "xeno: error: " << *taker->error() << '\n';
        env.err.flush();
        return kExitFailed;
    }

    if (!result.ok) {
        return run_failed(env, result);
    }
    if (!write_error.empty()) {
        env.err << "xeno: error: " << write_error << '\n';
        env.err.flush();
        return kExitFailed;
    }
    if (options.expect) {
        if (auto diff = compare_expectation(*scenario.expect, result.status, console, result.end, result.end_reason)) {
            env.err << "xeno: expect: " << scenario.name << " (" << options.profile << "): " << *diff << '\n';
            env.err.flush();
            return kExitMismatch;
        }
        return kExitOk;
    }
    const int code = domain_exit_status(result.end, result.status);
    if (!guest_chose_end(result.end)) {
        // The hypervisor ended the domain (a triple fault, every vcpu halted
        // for good, ...): not a status the guest gave.
        env.err << "xeno: the domain ended (" << result.end << "): " << result.end_reason << '\n';
    } else if (code == kExitStatusOutOfRange) {
        env.err << "xeno: the guest's status " << result.status << " is outside 0-" << kMaxGuestExitStatus
                << ", the statuses xeno exits with (exit status " << kExitStatusOutOfRange << ")\n";
    }
    env.err.flush();
    return code;
}

}  // namespace xeno::harness
