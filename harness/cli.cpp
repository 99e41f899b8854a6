#include "harness/cli.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

#include "harness/bochs_command.hpp"
#include "harness/gdb_connection.hpp"
#include "harness/replay_command.hpp"
#include "harness/run_command.hpp"
#include "harness/run_options.hpp"
#include "harness/expectation.hpp"

namespace xeno::harness {

namespace {

// CLI11's messages are one line already; make sure of it.
std::string one_line(std::string text)
{
    std::replace(text.begin(), text.end(), '\n', ' ');
    while (!text.empty() && text.back() == ' ') {
        text.pop_back();
    }
    return text;
}

// CLI11's PositiveNumber words its message in floating point; say it plainly.
CLI::Validator positive_integer()
{
    return CLI::Validator(
        [](std::string& value) -> std::string {
            std::uint64_t v = 0;
            const char* end = value.data() + value.size();
            auto [stop, ec] = std::from_chars(value.data(), end, v);
            if (ec != std::errc() || stop != end || v == 0) {
                return "expected a positive integer, got " + value;
            }
            return {};
        },
        "", "positive integer");
}

// --timeout: seconds, a fraction allowed.
CLI::Validator positive_seconds()
{
    return CLI::Validator(
        [](std::string& value) -> std::string {
            double v = 0;
            const char* end = value.data() + value.size();
            auto [stop, ec] = std::from_chars(value.data(), end, v);
            if (ec != std::errc() || stop != end || !(v >= 0.001 && v <= kMaxTimeoutSeconds)) {
                return "expected seconds from 0.001 to 86400, got " + value;
            }
            return {};
        },
        "", "seconds");
}

const char* const kRunFooter =
    "Runs scenarios/<name> (scenario.toml: scenarios/README.md), or a kernel as\n"
    "qemu-system-x86_64 -kernel does: xeno run --kernel bzImage --append \"console=ttyS0\" -m 512\n"
    "(--kernel defaults: 128 MiB, skylake, 1 vcpu, no instruction limit, 120 s of virtual time).\n"
    "\n"
    "Prints the guest's console as it comes, then one line\n"
    "  summary: scenario=<name> profile=<p> status=<n> exits=<n> insns=<n> vtime=<n> wall=<s> emulated=<n> end=<kind>\n"
    "and with --stats the exit statistics table after it (README.md: the columns; --stats-json\n"
    "and --timeline: their formats).\n"
    "\n"
    "--max-insns N counts the guest's instructions (insns=) plus each element a REP INS/OUTS\n"
    "moves through the hypervisor: a run of N instructions passes, N+1 fails.\n"
    "\n"
    "Exit status:\n"
    "  0-199  the guest's status (it wrote it to port 0xf4, or powered off: 0); without --expect\n"
    "  0, 1   with --expect: console, status and end match [expect], or they differ\n"
    "  2      bad arguments, scenario or input file (nothing ran)\n"
    "  200    the guest's status is 200 or more (summary: status=)\n"
    "  201    the hypervisor ended the domain: crash (triple fault, an exit it cannot complete)\n"
    "  202    halted: every vcpu halted with nothing that could wake it\n"
    "  203    reset: the guest reset the machine (with --on-reset exit)\n"
    "  204    the instruction or virtual-time limit (--max-insns, --max-vtime-ms)\n"
    "  205    the wall-time limit (--timeout)\n"
    "  206    the hypervisor or the machine could not run the guest, or the trace or log\n"
    "         could not be written (or --snapshot-at: the run ended before the point)\n"
    "Every failure prints one line `xeno: ...` on stderr; the hypervisor's log only with -v or --log.\n"
    "\n"
    "Snapshots: --snapshot-at 18234 s.snap (after exit 18234) or --snapshot-at 12.5ms s.snap (after\n"
    "the first exit at or after 12.5 ms of virtual time; units ns, us, ms, s) writes the run's\n"
    "inputs, its exits up to the point and the machine state there (guest RAM page hashes, each\n"
    "vcpu's registers), then prints `snapshot: FILE: ...` and the run goes on to its end.\n"
    "xeno run --restore s.snap [--trace F --stats --gdb PORT ...] re-executes the run to the\n"
    "point (its cost: the prefix's run time; nothing of it is printed, traced or counted),\n"
    "checks every exit and then the machine state against the file, says `restore: ...` on\n"
    "stderr and goes on live: --trace has the exits after the point, --gdb stops there (it\n"
    "waits for GDB). The summary line counts the whole run. A bad file (not a snapshot, another\n"
    "format version, truncated, corrupted), an input changed since, or a state that differs\n"
    "(e.g. a snapshot of another xeno build that runs differently; one that runs the same is\n"
    "accepted with a note): one error line, exit status 2.";

void add_run_command(CLI::App& app, RunOptions& options)
{
    CLI::App* run = app.add_subcommand("run", "Run a scenario, or a kernel, on the simulated machine");
    run->footer(kRunFooter);
    run->add_option("scenario", options.scenario_dir, "Scenario directory (scenarios/<name>); or --kernel");
    run->add_option("--kernel", options.kernel,
                    "Boot FILE as qemu -kernel does (ELF, multiboot, PVH, bzImage) instead of a scenario")
        ->type_name("FILE");
    run->add_option("--initrd", options.initrd, "The kernel's initial ramdisk")->type_name("FILE");
    run->add_option("--append", options.append, "The kernel's command line")->type_name("STRING");
    run->add_option("-m,--memory", options.memory,
                    "Guest memory in MiB, or with a suffix: 512M, 2G (--kernel default 128; scenario: [guest] memory_mb)")
        ->type_name("MiB");
    run->add_flag("--pvh", options.pvh,
                  "Boot a bzImage by its PVH entry: hand over its decompressed ELF payload instead");
    run->add_option("--debug-exit", options.debug_exit,
                    "Port 0xf4's status: xeno (the value written) or qemu (isa-debug-exit: value << 1 | 1)")
        ->check(CLI::IsMember({"xeno", "qemu"}))
        ->type_name("STYLE");
    run->add_option("--on-reset", options.on_reset, "When the guest resets the machine: exit (default) or restart")
        ->check(CLI::IsMember({"exit", "restart"}))
        ->type_name("ACTION");
    run->add_option("--profile", options.profile, "CPU profile")
        ->check(CLI::IsMember({"penryn", "skylake"}))
        ->default_str(kDefaultProfile);
    run->add_option("--trace", options.trace_file, "Write the canonical exit trace to FILE")->type_name("FILE");
    run->add_option("--paging", options.paging, "Guest paging: ept (skylake) or shadow")
        ->check(CLI::IsMember({"ept", "shadow"}));
    run->add_flag("--expect", options.expect,
                  "Compare console, status and end with the scenario's [expect]: exit 0 on a match, 1 otherwise");
    run->add_option("--max-insns", options.max_insns,
                    "Fail the run past N guest instructions, REP INS/OUTS elements counted "
                    "(default: the scenario's [run] max_instructions; --kernel: none)")
        ->type_name("N")
        ->check(positive_integer());
    run->add_option("--max-vtime-ms", options.max_vtime_ms,
                    "Fail the run past this much virtual time (default: [run] max_vtime_ms, else 120000)")
        ->type_name("MS");
    run->add_option("--timeout", options.timeout_seconds,
                    "Fail the run past this much wall time (host time; default: none)")
        ->type_name("SECONDS")
        ->check(positive_seconds());
    run->add_option("--log", options.log_file, "Write the hypervisor's log to FILE")->type_name("FILE");
    run->add_flag("-v,--verbose", options.verbose, "Copy the hypervisor's log to stderr");
    run->add_flag("--memhash", options.memhash, "Append memhash=<xxh64 of machine memory> to the summary");
    run->add_option("--smp", options.smp, "Vcpus (default: the scenario's [guest] smp, else 1)")->type_name("N");
    run->add_option("--serial-in", options.serial_in,
                    "Feed FILE to the UART's receiver at its line rate (default: the scenario's [guest] serial_in)")
        ->type_name("FILE");
    run->add_option("--quantum-us", options.quantum_us, "A vcpu's time slice when others are runnable (default 1000)")
        ->type_name("US");
    run->add_flag("--stats", options.stats,
                  "After the summary, print exit statistics: per exit reason exits, virtual time, "
                  "instructions, handler host time; per vcpu");
    run->add_option("--stats-json", options.stats_json, "Write the exit statistics to FILE as JSON")
        ->type_name("FILE");
    CLI::Option* timeline =
        run->add_option("--timeline", options.timeline,
                        "Write a timeline to FILE (Chrome trace-event JSON, opens in ui.perfetto.dev): per vcpu "
                        "guest execution, exits, injected events, halts, in virtual time")
            ->type_name("FILE");
    run->add_option("--timeline-max-events", options.timeline_max_events,
                    "Stop the timeline after N events (default 4000000, about 600 MB)")
        ->type_name("N")
        ->check(positive_integer())
        ->needs(timeline);
    CLI::Option* gdb = run->add_option("--gdb", options.gdb,
                                       "Serve GDB's remote protocol on [HOST:]PORT (default host 127.0.0.1; "
                                       "README.md: Debugging a guest with gdb; --timeout is not applied)")
                           ->type_name("[HOST:]PORT")
                           ->check(CLI::Validator(
                               [](std::string& value) -> std::string {
                                   const Outcome<gdb::Endpoint> e = gdb::parse_endpoint(value);
                                   return e.ok() ? std::string() : e.error();
                               },
                               "", "endpoint"));
    run->add_flag("--gdb-wait", options.gdb_wait, "With --gdb: wait for GDB, stopped at the first guest instruction")
        ->needs(gdb);

    // Snapshots (harness/snapshot_run.hpp). A restore takes the machine from
    // its file: the options that make a machine are refused with it.
    CLI::Option* snapshot =
        run->add_option("--snapshot-at", options.snapshot_at,
                        "Write a snapshot to FILE after the exit POINT: an exit number (18234) or a virtual time "
                        "with a unit, the first exit at or after it (12.5ms, 250us, 3s, 100ns); the run goes on")
            ->type_name("POINT FILE")
            ->expected(2);
    CLI::Option* restore =
        run->add_option("--restore", options.restore,
                        "Re-execute the run a snapshot holds to its point (nothing printed), verify the machine "
                        "state, go on live with this command line's output options (--trace, --stats, --gdb, ...)")
            ->type_name("FILE");
    restore->excludes(snapshot);
    snapshot->excludes(gdb);
    for (const char* machine : {"scenario", "--kernel", "--initrd", "--append", "--memory", "--pvh", "--debug-exit",
                                "--on-reset", "--profile", "--paging", "--smp", "--serial-in", "--quantum-us",
                                "--expect"}) {
        restore->excludes(run->get_option(machine));
    }
}

}  // namespace

int domain_exit_status(std::string_view end, int status)
{
    if (end == "crash") return kExitCrash;
    if (end == "halted") return kExitHalted;
    if (end == "reset") return kExitReset;
    if (!end.empty() && !guest_chose_end(end)) return kExitFailed;  // an end this xeno does not know
    if (status < 0 || status > kMaxGuestExitStatus) return kExitStatusOutOfRange;
    return status;
}

int xeno_main(int argc, const char* const* argv, const CliEnv& env)
{
    CLI::App app("Xeno: a hypervisor for Intel VT-x. This is the sim build: the hypervisor runs on a software "
                 "VMX model, guests run on Unicorn.",
                 "xeno");
    app.require_subcommand(1);
    app.footer("Run `xeno run --help` for the options of a run (and xeno's exit statuses).");
    app.set_version_flag("--version", std::string("xeno ") + XENO_VERSION, "Print xeno's version and exit");

    RunOptions run_options;
    add_run_command(app, run_options);
    BochsOptions bochs_options;
    add_bochs_command(app, bochs_options);
    RecordOptions record_options;
    ReplayOptions replay_options;
    add_recording_commands(app, record_options, replay_options);

    // CLI11 would call an unknown command a missing subcommand; say what it is.
    if (argc > 1 && argv[1][0] != '-') {
        try {
            app.get_subcommand(argv[1]);
        } catch (const CLI::OptionNotFound&) {
            env.err << "xeno: error: unknown command \"" << argv[1]
                    << "\" (commands: run, record, replay, bochs)\n";
            return kExitUsage;
        }
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e, env.out, env.err);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e, env.out, env.err);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e, env.out, env.err);
    } catch (const CLI::ParseError& e) {
        env.err << "xeno: error: " << one_line(e.what()) << '\n';
        env.err.flush();
        return kExitUsage;
    }

    if (app.got_subcommand("run")) {
        return run_scenario(run_options, env);
    }
    if (app.got_subcommand("bochs")) {
        return run_bochs(bochs_options, env);
    }
    if (app.got_subcommand("record")) {
        return record_run(record_options, env);
    }
    if (app.got_subcommand("replay")) {
        return replay_recording(replay_options, env);
    }
    env.err << "xeno: error: no command given (try xeno --help)\n";
    return kExitUsage;
}

}  // namespace xeno::harness
