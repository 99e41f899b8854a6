// The command line in-process, with a fake machine: argument errors, scenario
// errors, the output of a run, --expect, --trace, exit statuses.
#include "harness/cli.hpp"

#include <sstream>
#include <vector>

#include <catch2/catch.hpp>

#include "temp_dir.hpp"

using namespace xeno::harness;
using xeno::sim::MachineConfig;
using xeno::sim::MachineOutput;
using xeno::sim::MachineResult;

namespace {

const char* const kToml = R"([guest]
image = "guest.bin"
load_address = 0x8000
entry = 0x8000
memory_mb = 1
[run]
profiles = ["penryn", "skylake"]
max_instructions = 1000
[expect]
status = 0
console = "hi\n"
)";

// A machine that writes `console` and one trace line, then returns `result`.
struct FakeMachine {
    std::string console = "hi\n";
    MachineResult result;
    std::vector<MachineConfig> configs;

    FakeMachine()
    {
        result.ok = true;
        result.status = 0;
        result.exits = 4;
        result.guest_instructions = 100;
        result.vtime_ns = 200;
        result.emulated_instructions = 2;
    }

    Runner runner()
    {
        return [this](const MachineConfig& config, const MachineOutput& out) {
            configs.push_back(config);
            out.log("xeno: a log line\n", 17);
            out.guest_console(console.data(), console.size());
            std::string_view line = "exit 0 IO_INSTRUCTION qual=0x3f80000 rip=0x8000 len=1\n";
            out.trace(line.data(), line.size());
            return result;
        };
    }
};

struct Cli {
    xeno::test::TempDir tmp;
    FakeMachine machine;
    std::ostringstream out;
    std::ostringstream err;

    Cli()
    {
        tmp.write("scenarios/demo/scenario.toml", kToml);
        tmp.write("build/scenarios/demo/guest.bin", std::string(16, '\x90'));
    }

    int run(std::vector<std::string> args)
    {
        std::vector<const char*> argv{"xeno"};
        for (const std::string& a : args) {
            argv.push_back(a.c_str());
        }
        CliEnv env{out, err, tmp.path() / "build", machine.runner()};
        return xeno_main(static_cast<int>(argv.size()), argv.data(), env);
    }

    std::string scenario() const { return (tmp.path() / "scenarios/demo").string(); }
};

}  // namespace

TEST_CASE("xeno run prints the console, then the summary line, and exits with the guest's status", "[cli]")
{
    Cli cli;
    cli.machine.result.status = 42;
    REQUIRE(cli.run({"run", cli.scenario()}) == 42);
    std::string out = cli.out.str();
    CHECK_THAT(out, Catch::Matches("hi\nsummary: scenario=demo profile=skylake status=42 exits=4 insns=100 vtime=200 "
                                   "wall=[0-9]+\\.[0-9]{3} emulated=2\n"));
    CHECK(cli.err.str().empty());
    REQUIRE(cli.machine.configs.size() == 1);
    const MachineConfig& c = cli.machine.configs[0];
    CHECK(c.profile == "skylake");
    CHECK(c.memory_bytes == (1u << 20) + (64u << 20));
    CHECK(c.cmdline == "guest_mem_mb=1 guest_load=0x8000 guest_entry=0x8000");
    CHECK(c.guest_image == std::vector<std::uint8_t>(16, 0x90));
    CHECK(c.max_guest_instructions == 1000);
}

TEST_CASE("xeno run passes profile, paging, trace and the instruction limit on", "[cli]")
{
    Cli cli;
    std::string trace = (cli.tmp.path() / "t.trace").string();
    REQUIRE(cli.run({"run", cli.scenario(), "--profile", "penryn", "--paging", "shadow", "--trace", trace,
                     "--max-insns", "55", "--memhash"}) == 0);
    const MachineConfig& c = cli.machine.configs.at(0);
    CHECK(c.profile == "penryn");
    CHECK(c.cmdline == "guest_mem_mb=1 guest_load=0x8000 guest_entry=0x8000 paging=shadow trace=on");
    CHECK(c.max_guest_instructions == 55);
    CHECK(xeno::test::read_file(trace) == "exit 0 IO_INSTRUCTION qual=0x3f80000 rip=0x8000 len=1\n");
    CHECK_THAT(cli.out.str(), Catch::Contains("profile=penryn") && Catch::EndsWith(" memhash=0x0000000000000000\n"));
}

TEST_CASE("the summary starts its own line when the console did not end one", "[cli]")
{
    Cli cli;
    cli.machine.console = "no newline";
    cli.run({"run", cli.scenario()});
    CHECK_THAT(cli.out.str(), Catch::StartsWith("no newline\nsummary: scenario=demo "));
}

TEST_CASE("--expect: 0 on a match, 1 and one diff line on a difference", "[cli]")
{
    Cli match;
    CHECK(match.run({"run", match.scenario(), "--expect"}) == 0);
    CHECK(match.err.str().empty());

    Cli console;
    console.machine.console = "ho\n";
    CHECK(console.run({"run", console.scenario(), "--expect"}) == 1);
    CHECK(console.err.str() ==
          "xeno: expect: demo (skylake): console differs at line 1, column 2: expected \"hi\" but got \"ho\"\n");

    Cli status;
    status.machine.result.status = 9;
    CHECK(status.run({"run", status.scenario(), "--expect"}) == 1);
    CHECK(status.err.str() == "xeno: expect: demo (skylake): status 9 but expected 0\n");
}

TEST_CASE("a failed run: the log's tail and the error on stderr, the summary still printed, status 1", "[cli]")
{
    Cli cli;
    cli.machine.result.ok = false;
    cli.machine.result.status = -1;
    cli.machine.result.error = "guest triple fault at rip=0x8000";
    CHECK(cli.run({"run", cli.scenario(), "--expect"}) == 1);
    CHECK(cli.err.str() == "xeno: a log line\nxeno: guest triple fault at rip=0x8000\n");
    CHECK_THAT(cli.out.str(), Catch::Contains("summary: scenario=demo profile=skylake status=-1 "));
}

TEST_CASE("--verbose copies the log to stderr, --log to a file", "[cli]")
{
    Cli cli;
    std::string log = (cli.tmp.path() / "x.log").string();
    CHECK(cli.run({"run", cli.scenario(), "-v", "--log", log}) == 0);
    CHECK(cli.err.str() == "xeno: a log line\n");
    CHECK(xeno::test::read_file(log) == "xeno: a log line\n");
}

TEST_CASE("the guest image inside the scenario directory is the fallback", "[cli]")
{
    Cli cli;
    std::filesystem::remove(cli.tmp.path() / "build/scenarios/demo/guest.bin");
    cli.tmp.write("scenarios/demo/guest.bin", std::string(8, '\xf4'));
    REQUIRE(cli.run({"run", cli.scenario()}) == 0);
    CHECK(cli.machine.configs.at(0).guest_image == std::vector<std::uint8_t>(8, 0xf4));
}

TEST_CASE("usage errors: one line on stderr, status 2, nothing run", "[cli]")
{
    auto usage_error = [](std::vector<std::string> args, const std::function<void(Cli&)>& setup = nullptr) {
        Cli cli;
        if (setup) {
            setup(cli);
        }
        for (std::string& a : args) {
            if (a == "@") {
                a = cli.scenario();
            }
        }
        int status = cli.run(args);
        std::string err = cli.err.str();
        CHECK(status == 2);
        CHECK(cli.machine.configs.empty());
        CHECK(std::count(err.begin(), err.end(), '\n') == 1);
        CHECK_THAT(err, Catch::StartsWith("xeno: error: "));
        return err;
    };
    CHECK_THAT(usage_error({}), Catch::Contains("subcommand"));
    CHECK(usage_error({"frobnicate"}) == "xeno: error: unknown command \"frobnicate\" (commands: run, bochs)\n");
    CHECK_THAT(usage_error({"run"}), Catch::Contains("scenario"));
    CHECK_THAT(usage_error({"run", "@", "--profile", "haswell"}), Catch::Contains("haswell"));
    CHECK_THAT(usage_error({"run", "@", "--paging", "nested"}), Catch::Contains("nested"));
    CHECK(usage_error({"run", "@", "--max-insns", "lots"}) ==
          "xeno: error: --max-insns: expected a positive integer, got lots\n");
    CHECK(usage_error({"run", "@", "--max-insns", "0"}) == "xeno: error: --max-insns: expected a positive integer, got 0\n");
    CHECK_THAT(usage_error({"run", "@", "--bogus"}), Catch::Contains("--bogus"));
    CHECK_THAT(usage_error({"run", "/nonexistent/scenarios/nothing"}),
               Catch::Contains("no scenario at /nonexistent/scenarios/nothing"));
    CHECK_THAT(usage_error({"run", "@", "--profile", "penryn", "--paging", "ept"}), Catch::Contains("no EPT"));
    CHECK_THAT(usage_error({"run", "@"},
                           [](Cli& c) {
                               c.tmp.write("scenarios/demo/scenario.toml", "[guest]\nimage = = 1\n");
                           }),
               Catch::Contains("scenario.toml:2:"));
    CHECK_THAT(usage_error({"run", "@", "--profile", "penryn"},
                           [](Cli& c) {
                               std::string toml = kToml;
                               toml.replace(toml.find("\"penryn\", "), 10, "");
                               c.tmp.write("scenarios/demo/scenario.toml", toml);
                           }),
               Catch::Contains("does not run on profile penryn"));
    CHECK_THAT(usage_error({"run", "@"},
                           [](Cli& c) {
                               // 1 MiB of guest memory: an image loaded at 0x8000 fits up to 0xf8000 bytes.
                               c.tmp.write("build/scenarios/demo/guest.bin", std::string(0xf8001, '\0'));
                           }),
               Catch::Contains("does not fit in guest memory"));
    CHECK_THAT(usage_error({"run", "@"},
                           [](Cli& c) { std::filesystem::remove(c.tmp.path() / "build/scenarios/demo/guest.bin"); }),
               Catch::Contains("guest image not found"));
    CHECK_THAT(usage_error({"run", "@", "--trace", "/nonexistent/dir/t.trace"}),
               Catch::Contains("cannot write /nonexistent/dir/t.trace"));
    CHECK_THAT(usage_error({"run", "@", "--expect"},
                           [](Cli& c) {
                               std::string toml = kToml;
                               c.tmp.write("scenarios/demo/scenario.toml", toml.substr(0, toml.find("[expect]")));
                           }),
               Catch::Contains("has no [expect] table"));
}

TEST_CASE("--help prints usage on stdout and exits 0", "[cli]")
{
    Cli top;
    CHECK(top.run({"--help"}) == 0);
    CHECK_THAT(top.out.str(), Catch::Contains("run") && Catch::Contains("Usage"));
    Cli run;
    CHECK(run.run({"run", "--help"}) == 0);
    CHECK_THAT(run.out.str(), Catch::Contains("--profile") && Catch::Contains("--trace") &&
                                  Catch::Contains("--expect") && Catch::Contains("--max-insns"));
    CHECK(run.err.str().empty());
}
