#include "harness/cli.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

#include "harness/bochs_command.hpp"
#include "harness/run_command.hpp"
#include "harness/run_options.hpp"

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

void add_run_command(CLI::App& app, RunOptions& options)
{
    CLI::App* run = app.add_subcommand("run", "Run a scenario on the simulated machine");
    run->footer(
        "Prints the guest's console as it comes, then one line\n"
        "  summary: scenario=<name> profile=<p> status=<n> exits=<n> insns=<n> vtime=<n> wall=<s> emulated=<n> end=<kind>\n"
        "Exit status: the guest's status; with --expect 0 on a match and 1 on a difference;\n"
        "1 when the run fails or the hypervisor ended the domain (end=crash|halted|reset);\n"
        "2 for bad arguments or a bad scenario.");
    run->add_option("scenario", options.scenario_dir, "Scenario directory (scenarios/<name>)")->required();
    run->add_option("--profile", options.profile, "CPU profile")
        ->check(CLI::IsMember({"penryn", "skylake"}))
        ->default_str(kDefaultProfile);
    run->add_option("--trace", options.trace_file, "Write the canonical exit trace to FILE")->type_name("FILE");
    run->add_option("--paging", options.paging, "Guest paging: ept (skylake) or shadow")
        ->check(CLI::IsMember({"ept", "shadow"}));
    run->add_flag("--expect", options.expect,
                  "Compare console and status with the scenario's [expect]: exit 0 on a match, 1 otherwise");
    run->add_option("--max-insns", options.max_insns, "Fail the run past N guest instructions "
                                                      "(default: the scenario's [run] max_instructions)")
        ->type_name("N")
        ->check(positive_integer());
    run->add_option("--log", options.log_file, "Write the hypervisor's log to FILE")->type_name("FILE");
    run->add_flag("-v,--verbose", options.verbose, "Copy the hypervisor's log to stderr");
    run->add_flag("--memhash", options.memhash, "Append memhash=<xxh64 of machine memory> to the summary");
    run->add_option("--smp", options.smp, "Vcpus (default: the scenario's [guest] smp, else 1)")->type_name("N");
    run->add_option("--serial-in", options.serial_in,
                    "Feed FILE to the UART's receiver at its line rate (default: the scenario's [guest] serial_in)")
        ->type_name("FILE");
    run->add_option("--max-vtime-ms", options.max_vtime_ms,
                    "Fail the run past this much virtual time (default: [run] max_vtime_ms, else 120000)")
        ->type_name("MS");
    run->add_option("--quantum-us", options.quantum_us, "A vcpu's time slice when others are runnable (default 1000)")
        ->type_name("US");
}

}  // namespace

int xeno_main(int argc, const char* const* argv, const CliEnv& env)
{
    CLI::App app("Xeno: a hypervisor for Intel VT-x. This is the sim build: the hypervisor runs on a software "
                 "VMX model, guests run on Unicorn.",
                 "xeno");
    app.require_subcommand(1);
    app.footer("Run `xeno run --help` for the options of a run.");

    RunOptions run_options;
    add_run_command(app, run_options);
    BochsOptions bochs_options;
    add_bochs_command(app, bochs_options);

    // CLI11 would call an unknown command a missing subcommand; say what it is.
    if (argc > 1 && argv[1][0] != '-') {
        try {
            app.get_subcommand(argv[1]);
        } catch (const CLI::OptionNotFound&) {
            env.err << "xeno: error: unknown command \"" << argv[1] << "\" (commands: run, bochs)\n";
            return kExitUsage;
        }
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e, env.out, env.err);
    } catch (const CLI::CallForAllHelp& e) {
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
    env.err << "xeno: error: no command given (try xeno --help)\n";
    return kExitUsage;
}

}  // namespace xeno::harness
