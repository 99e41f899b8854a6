#include "harness/bochs_command.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "harness/expectation.hpp"
#include "harness/run_options.hpp"
#include "harness/scenario.hpp"
#include "harness/summary.hpp"

#ifndef XENO_SOURCE_DIR
#error "XENO_SOURCE_DIR must be defined (harness/CMakeLists.txt)"
#endif

namespace xeno::harness {

namespace {

// The prefixes the hypervisor's LOG lines start with (LogLine users in src/
// and the hw kernel's own lines in src/hal/hw/).
constexpr std::array<std::string_view, 16> kLogTags = {
    "domain: ", "exits: ", "vmx: ", "vmx-msr ", "guest: ", "emulate: ", "shadow: ",
    "xeno: ",   "mm: ",    "hw: ",  "hw-caps: ", "cmdline: ", "Xeno hypervisor: ", "sched: ",
    "xen: ",    "physmap: ",
};
constexpr std::string_view kGuestStarted = "domain: running guest at";
constexpr std::string_view kStatusLine = "xeno: exit status ";
constexpr std::string_view kEndLine = "domain: end=";     // core/start.cpp: how the domain ended
constexpr std::string_view kEndedLine = "domain: ended (";  // core/domain.cpp: ... with the reason
constexpr std::string_view kStatsLine = "exits: ";

bool starts_with_tag(std::string_view line)
{
    for (std::string_view tag : kLogTags) {
        if (line.substr(0, tag.size()) == tag) {
            return true;
        }
    }
    return false;
}

// Where a LOG line starts inside `line` (after console bytes without a
// newline), or npos.
std::size_t embedded_tag(std::string_view line)
{
    std::size_t best = std::string_view::npos;
    for (std::string_view tag : kLogTags) {
        std::size_t at = line.find(tag, 1);
        if (at < best) {
            best = at;
        }
    }
    return best;
}

template <typename T>
std::optional<T> parse_number(std::string_view text)
{
    T value{};
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end == text.data()) {
        return std::nullopt;
    }
    return value;
}

// A LOG line: pick out the status, how the domain ended and the stats.
void note_log_line(std::string_view line, Com1Report& report)
{
    if (line.substr(0, kEndLine.size()) == kEndLine) {
        std::string_view rest = line.substr(kEndLine.size());
        report.end = std::string(rest.substr(0, rest.find(' ')));
    } else if (line.substr(0, kEndedLine.size()) == kEndedLine) {
        std::string_view rest = line.substr(kEndedLine.size());
        const std::size_t colon = rest.find(": ");
        if (colon != std::string_view::npos) report.end_reason = std::string(rest.substr(colon + 2));
    } else if (line.substr(0, kStatusLine.size()) == kStatusLine) {
        if (auto status = parse_number<int>(line.substr(kStatusLine.size()))) {
            report.status = *status;
        }
    } else if (line.substr(0, kStatsLine.size()) == kStatsLine) {
        std::size_t at = line.find(" emulated=");
        if (at != std::string_view::npos) {
            report.emulated = parse_number<std::uint64_t>(line.substr(at + 10));
        }
    }
}

std::optional<std::string> read_file(const std::filesystem::path& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return std::nullopt;
    }
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

int fail(const CliEnv& env, int code, std::string_view message)
{
    env.err << "xeno: error: " << message << '\n';
    env.err.flush();
    return code;
}

// Runs `argv` with stdout and stderr to `output`; the exit status, or -1
// when it could not be started or did not exit normally.
// Runs argv with `environment` (NAME=value words) added to ours.
int run_process(const std::vector<std::string>& argv, const std::vector<std::string>& environment,
                const std::filesystem::path& output)
{
    std::vector<char*> args;
    for (const std::string& arg : argv) {
        args.push_back(const_cast<char*>(arg.c_str()));  // execv's signature; it does not write
    }
    args.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        int fd = ::open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int null_in = ::open("/dev/null", O_RDONLY);
        if (fd < 0 || null_in < 0) {
            ::_exit(127);
        }
        ::dup2(null_in, 0);
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        for (const std::string& assignment : environment) {
            ::putenv(const_cast<char*>(assignment.c_str()));  // the child's own copy of the strings
        }
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return -1;
        }
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string last_line(std::string_view text)
{
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
        text.remove_suffix(1);
    }
    std::size_t at = text.rfind('\n');
    return std::string(at == std::string_view::npos ? text : text.substr(at + 1));
}

std::filesystem::path rig_script()
{
    if (const char* override_path = std::getenv("XENO_RUN_BOCHS")) {  // tests: a stand-in rig
        return override_path;
    }
    return std::filesystem::path(XENO_SOURCE_DIR) / "harness" / "bochs" / "run-bochs.sh";
}

// A scratch directory removed at the end of its scope (unless --out named one).
class WorkDir {
public:
    explicit WorkDir(const std::optional<std::string>& keep)
    {
        if (keep) {
            path_ = *keep;
            std::error_code ec;
            std::filesystem::create_directories(path_, ec);
            return;
        }
        std::string pattern = (std::filesystem::temp_directory_path() / "xeno-bochs-XXXXXX").string();
        if (const char* made = ::mkdtemp(pattern.data())) {
            path_ = made;
            remove_ = true;
        }
    }
    ~WorkDir()
    {
        if (remove_) {
            std::error_code ec;
            std::filesystem::remove_all(path_, ec);
        }
    }
    WorkDir(const WorkDir&) = delete;
    WorkDir& operator=(const WorkDir&) = delete;
    const std::filesystem::path& path() const { return path_; }
    void keep() { remove_ = false; }  // a failed run's files stay for the error message's "see ..."

private:
    std::filesystem::path path_;
    bool remove_ = false;
};

bool copy_out(const std::filesystem::path& from, const std::string& to)
{
    std::error_code ec;
    std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing, ec);
    return !ec;
}

}  // namespace

Com1Report parse_com1(std::string_view com1)
{
    Com1Report report;
    std::size_t at = 0;
    while (at < com1.size()) {
        std::size_t end = com1.find('\n', at);
        std::size_t next = end == std::string_view::npos ? com1.size() : end + 1;
        std::string_view line = com1.substr(at, next - at);  // with its newline, if any
        at = next;
        if (!report.guest_started) {
            note_log_line(line, report);
            if (line.substr(0, kGuestStarted.size()) == kGuestStarted) {
                report.guest_started = true;
            }
            continue;
        }
        if (starts_with_tag(line)) {
            note_log_line(line, report);
            continue;
        }
        std::size_t tag = embedded_tag(line);
        if (tag != std::string_view::npos) {
            report.console.append(line.substr(0, tag));
            note_log_line(line.substr(tag), report);
            continue;
        }
        report.console.append(line);
    }
    return report;
}

std::filesystem::path default_iso_path(const std::filesystem::path& exe_dir, std::string_view scenario_name,
                                       const std::optional<std::string>& paging)
{
    std::string file = std::string(scenario_name) + (paging ? "." + *paging : std::string()) + ".iso";
    return (exe_dir / ".." / "hw" / "iso" / file).lexically_normal();
}

CLI::App* add_bochs_command(CLI::App& app, BochsOptions& options)
{
    CLI::App* bochs = app.add_subcommand("bochs", "Boot a scenario's ISO of the hw build in Bochs");
    bochs->footer(
        "Needs the hw build's ISO (build/hw/iso/<name>.iso, or --iso) and bochs.\n"
        "Prints the guest's console, then the summary line of `xeno run`\n"
        "(exits = trace lines; insns= and vtime= are 0: Bochs only counts the whole machine).\n"
        "Exit status: as xeno run's (xeno run --help): the guest's status 0-199; with --expect 0 on a\n"
        "match and 1 on a difference; 2 for bad arguments, a bad scenario or no ISO; 201-203 for a domain\n"
        "the hypervisor ended; 206 when Bochs is missing, fails or times out.\n"
        "Environment: XENO_BOCHS_IPS, XENO_BOCHS_MEGS (harness/bochs/run-bochs.sh); XENO_BOCHS_CPUS is set from --cpus.");
    bochs->add_option("scenario", options.scenario_dir, "Scenario directory (scenarios/<name>)")->required();
    bochs->add_option("--profile", options.profile, "CPU profile (Bochs CPU model)")
        ->check(CLI::IsMember({"penryn", "skylake"}))
        ->default_str(kDefaultProfile);
    bochs->add_option("--paging", options.paging,
                      "Guest paging: ept (skylake) or shadow; boots <name>.<paging>.iso, made for the modes "
                      "[run] paging lists")
        ->check(CLI::IsMember({"ept", "shadow"}));
    bochs->add_option("--trace", options.trace_file, "Write the canonical exit trace (COM2) to FILE")
        ->type_name("FILE");
    bochs->add_option("--witness", options.witness_file, "Write Bochs's own VMX transition record to FILE")
        ->type_name("FILE");
    bochs->add_option("--iso", options.iso, "Boot this ISO instead of <xeno's dir>/../hw/iso/<name>.iso")
        ->type_name("PATH");
    bochs->add_option("--out", options.out_dir, "Keep Bochs's files (bochsrc, com1.txt, logs) in DIR")
        ->type_name("DIR");
    bochs->add_option("--cpus", options.cpus, "Processors of the Bochs machine (default: [run] bochs_cpus, else 1)")
        ->type_name("N")
        ->check(CLI::Range(1U, kMaxBochsCpus));
    bochs->add_option("--timeout", options.timeout_seconds, "Stop Bochs after S seconds of host time")
        ->type_name("S")
        ->check(CLI::Range(1U, 3600U))
        ->default_str(std::to_string(kDefaultBochsTimeoutSeconds));
    bochs->add_flag("--expect", options.expect,
                    "Compare console and status with the scenario's [expect]: exit 0 on a match, 1 otherwise");
    return bochs;
}

int run_bochs(const BochsOptions& options, const CliEnv& env)
{
    Outcome<Scenario> loaded = load_scenario(options.scenario_dir);
    if (!loaded.ok()) {
        return fail(env, kExitUsage, loaded.error());
    }
    const Scenario& scenario = loaded.value();
    RunOptions as_run;
    as_run.scenario_dir = options.scenario_dir;
    as_run.profile = options.profile;
    as_run.expect = options.expect;
    as_run.trace_file = options.trace_file;
    as_run.paging = options.paging;
    if (auto problem = check_options(scenario, as_run)) {
        return fail(env, kExitUsage, *problem);
    }
    std::filesystem::path iso = options.iso ? std::filesystem::path(*options.iso)
                                            : default_iso_path(env.exe_dir, scenario.name, options.paging);
    if (!std::filesystem::is_regular_file(iso)) {
        return fail(env, kExitUsage,
                    fmt::format("no ISO {} (build the hw preset: cmake --build --preset hw)", iso.string()));
    }

    WorkDir work(options.out_dir);
    if (work.path().empty()) {
        return fail(env, kExitFailed, "cannot make a temporary directory for Bochs");
    }
    std::vector<std::string> argv = {"/bin/sh", rig_script().string()};
    if (options.witness_file) {
        argv.emplace_back("--witness");
    }
    argv.insert(argv.end(), {std::filesystem::absolute(iso).string(), options.profile, work.path().string(),
                             std::to_string(options.timeout_seconds)});
    std::filesystem::path rig_output = work.path() / "run-bochs.txt";

    auto begin = std::chrono::steady_clock::now();
    const unsigned cpus = options.cpus.value_or(scenario.bochs_cpus);
    int rc = run_process(argv, {fmt::format("XENO_BOCHS_CPUS={}", cpus)}, rig_output);
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();

    std::string said = last_line(read_file(rig_output).value_or(""));
    if (said.rfind("run-bochs: ", 0) == 0) {
        said.erase(0, 11);
    }
    if (rc < 0 || rc >= 2 || !read_file(work.path() / "com1.txt")) {
        work.keep();
    }
    if (rc < 0 || rc >= 3) {  // 3: the rig's setup error (no bochs, no BIOS); else it did not run
        return fail(env, kExitFailed, said.empty() ? fmt::format("the Bochs rig failed (status {})", rc) : said);
    }
    std::string com1 = read_file(work.path() / "com1.txt").value_or("");
    std::string com2 = read_file(work.path() / "com2.txt").value_or("");
    Com1Report report = parse_com1(com1);
    if (rc == 2 || !report.status) {
        work.keep();
        if (said.rfind("timeout", 0) == 0) {
            said = "Bochs " + said;
        }
        return fail(env, kExitFailed,
                    said.empty() ? std::string("Bochs ended without 'xeno: exit status'") : said);
    }

    bool copy_failed = false;
    if (options.trace_file) {
        copy_failed = !copy_out(work.path() / "com2.txt", *options.trace_file);
    }
    if (options.witness_file) {
        copy_failed = copy_failed || !copy_out(work.path() / "witness.txt", *options.witness_file);
    }

    Summary summary;
    summary.scenario = scenario.name;
    summary.profile = options.profile;
    summary.status = *report.status;
    summary.exits = static_cast<std::uint64_t>(std::count(com2.begin(), com2.end(), '\n'));
    summary.insns = 0;  // Bochs counts the whole machine's instructions (BIOS, GRUB, kernel), not the guest's
    summary.vtime = 0;
    summary.wall_seconds = wall;
    summary.emulated = report.emulated.value_or(0);
    summary.end = report.end;

    env.out << report.console;
    if (!report.console.empty() && report.console.back() != '\n') {
        env.out << '\n';
    }
    env.out << format_summary(summary) << '\n';
    env.out.flush();

    if (copy_failed) {
        return fail(env, kExitFailed, "cannot write the trace or witness file");
    }
    if (options.expect) {
        if (auto diff = compare_expectation(*scenario.expect, summary.status, report.console, report.end,
                                            report.end_reason)) {
            env.err << "xeno: expect: " << scenario.name << " (" << options.profile << ", bochs): " << *diff << '\n';
            env.err.flush();
            return kExitMismatch;
        }
        return kExitOk;
    }
    const int code = domain_exit_status(report.end, summary.status);
    if (!guest_chose_end(report.end)) {
        env.err << "xeno: the domain ended (" << report.end << "): " << report.end_reason << '\n';
    } else if (code == kExitStatusOutOfRange) {
        env.err << "xeno: the guest's status " << summary.status << " is outside 0-" << kMaxGuestExitStatus
                << ", the statuses xeno exits with (exit status " << kExitStatusOutOfRange << ")\n";
    }
    env.err.flush();
    return code;
}

}  // namespace xeno::harness
