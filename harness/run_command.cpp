#include "harness/run_command.hpp"

#include <chrono>
#include <fstream>
#include <memory>
#include <string>

#include <fmt/core.h>

#include "harness/expectation.hpp"
#include "harness/guest_image.hpp"
#include "harness/summary.hpp"

namespace xeno::harness {

namespace {

// How much of the hypervisor's log a failed run shows on stderr.
constexpr std::size_t kLogTailLines = 10;
constexpr std::size_t kLogKeepBytes = 64 * 1024;

int usage_error(const CliEnv& env, std::string_view message)
{
    env.err << "xeno: error: " << message << '\n';
    env.err.flush();
    return kExitUsage;
}

// The last lines of the log, for the message of a failed run.
std::string tail_lines(const std::string& text, std::size_t lines)
{
    std::size_t at = text.size();
    if (at > 0 && text[at - 1] == '\n') {
        --at;  // the final newline ends the last line; it does not start one
    }
    std::size_t found = 0;
    while (at > 0) {
        std::size_t prev = text.rfind('\n', at - 1);
        if (prev == std::string::npos) {
            at = 0;
            break;
        }
        if (++found == lines) {
            at = prev + 1;
            break;
        }
        at = prev;
    }
    std::string tail = text.substr(at);
    if (!tail.empty() && tail.back() != '\n') {
        tail += '\n';
    }
    return tail;
}

std::unique_ptr<std::ofstream> open_output(const std::optional<std::string>& path, std::string& error)
{
    if (!path) {
        return nullptr;
    }
    auto file = std::make_unique<std::ofstream>(*path, std::ios::binary | std::ios::trunc);
    if (!*file) {
        error = fmt::format("cannot write {}", *path);
        return nullptr;
    }
    return file;
}

}  // namespace

int run_scenario(const RunOptions& options, const CliEnv& env)
{
    Outcome<Scenario> loaded = load_scenario(options.scenario_dir);
    if (!loaded.ok()) {
        return usage_error(env, loaded.error());
    }
    const Scenario& scenario = loaded.value();
    if (auto problem = check_options(scenario, options)) {
        return usage_error(env, *problem);
    }
    Outcome<std::filesystem::path> image_path = find_guest_image(scenario, env.exe_dir);
    if (!image_path.ok()) {
        return usage_error(env, image_path.error());
    }
    Outcome<std::vector<std::uint8_t>> image = load_guest_image(scenario, image_path.value());
    if (!image.ok()) {
        return usage_error(env, image.error());
    }
    std::vector<std::uint8_t> serial_input;
    if (const std::filesystem::path input = serial_input_path(scenario, options); !input.empty()) {
        std::ifstream in(input, std::ios::binary | std::ios::ate);
        const std::streamoff size = in ? static_cast<std::streamoff>(in.tellg()) : -1;
        serial_input.resize(size > 0 ? static_cast<std::size_t>(size) : 0);
        if (size < 0 || !in.seekg(0) || !in.read(reinterpret_cast<char*>(serial_input.data()), size)) {
            return usage_error(env, fmt::format("cannot read the serial input {}", input.string()));
        }
    }

    std::string open_error;
    std::unique_ptr<std::ofstream> trace = open_output(options.trace_file, open_error);
    std::unique_ptr<std::ofstream> log_file = open_output(options.log_file, open_error);
    if (!open_error.empty()) {
        return usage_error(env, open_error);
    }

    sim::MachineConfig config = build_machine_config(scenario, options, std::move(image).value(), std::move(serial_input));

    std::string console;
    std::string log;
    sim::MachineOutput output;
    output.guest_console = [&](const char* bytes, std::size_t n) {
        console.append(bytes, n);
        env.out.write(bytes, static_cast<std::streamsize>(n));
        env.out.flush();
    };
    output.log = [&](const char* bytes, std::size_t n) {
        if (log_file) {
            log_file->write(bytes, static_cast<std::streamsize>(n));
        }
        if (options.verbose) {
            env.err.write(bytes, static_cast<std::streamsize>(n));
        }
        log.append(bytes, n);
        if (log.size() > 2 * kLogKeepBytes) {
            log.erase(0, log.size() - kLogKeepBytes);
        }
    };
    output.trace = [&](const char* bytes, std::size_t n) {
        if (trace) {
            trace->write(bytes, static_cast<std::streamsize>(n));
        }
    };

    // Host time is read here, around the machine, never inside it.
    auto begin = std::chrono::steady_clock::now();
    sim::MachineResult result = env.runner(config, output);
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();

    bool write_failed = false;
    for (auto* file : {trace.get(), log_file.get()}) {
        if (file != nullptr) {
            file->close();
            write_failed = write_failed || file->fail();
        }
    }

    if (!console.empty() && console.back() != '\n') {
        env.out << '\n';  // the summary starts a line of its own
    }
    env.out << format_summary(make_summary(scenario.name, options.profile, result, wall, options.memhash)) << '\n';
    env.out.flush();

    if (!result.ok) {
        if (!options.verbose && !log.empty()) {
            env.err << tail_lines(log, kLogTailLines);
        }
        env.err << "xeno: " << (result.error.empty() ? std::string("the run failed") : result.error) << '\n';
        env.err.flush();
        return kExitFailed;
    }
    if (write_failed) {
        env.err << "xeno: error writing the trace or log file\n";
        return kExitFailed;
    }
    if (options.expect) {
        if (auto diff = compare_expectation(*scenario.expect, result.status, console, result.end, result.end_reason)) {
            env.err << "xeno: expect: " << scenario.name << " (" << options.profile << "): " << *diff << '\n';
            env.err.flush();
            return kExitFailed;
        }
        return kExitOk;
    }
    if (!guest_chose_end(result.end)) {
        // The hypervisor ended the domain (a triple fault, every vcpu halted
        // for good, ...): not a status the guest gave.
        env.err << "xeno: the domain ended (" << result.end << "): " << result.end_reason << '\n';
        return kExitFailed;
    }
    if (result.status < 0 || result.status > 255) {
        env.err << "xeno: the guest's status " << result.status << " is not an exit status (0-255)\n";
        return kExitFailed;
    }
    return result.status;
}

}  // namespace xeno::harness
