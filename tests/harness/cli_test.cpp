// The command line in-process, with a fake machine: argument errors, scenario
// errors, the output of a run, --expect, --trace, exit statuses.
#include "harness/cli.hpp"

#include <algorithm>
#include <functional>
#include <sstream>
#include <vector>

#include <catch2/catch.hpp>

#include "harness/scenario.hpp"
#include "payloads.hpp"
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

// How many lines `text` has.
long lines(const std::string& text)
{
    return std::count(text.begin(), text.end(), '\n');
}

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
        // What scenarios/CMakeLists.txt writes: the built files are this directory's.
        tmp.write("build/scenarios/demo/source-dir", (tmp.path() / "scenarios/demo").string() + "\n");
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
    CHECK(c.memory_bytes == (1u << 20) + (64u << 20) + (16u << 10));  // + 1/64 of the guest's
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

TEST_CASE("a failed run: one line on stderr (no log), the summary still printed, status 206", "[cli]")
{
    Cli cli;
    cli.machine.result.ok = false;
    cli.machine.result.status = -1;
    cli.machine.result.error = "the hypervisor could not run the guest";
    cli.machine.result.failure = MachineResult::Failure::OTHER;
    CHECK(cli.run({"run", cli.scenario(), "--expect"}) == kExitFailed);
    CHECK(cli.err.str() == "xeno: error: the hypervisor could not run the guest\n");
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
    CHECK(usage_error({"frobnicate"}) ==
          "xeno: error: unknown command \"frobnicate\" (commands: run, record, replay, bochs)\n");
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

// ---- exit statuses ----

TEST_CASE("exit statuses: the guest's 0-199, then one per outcome xeno decides, each with one line", "[cli][exit]")
{
    struct Case {
        std::string end;
        int status;
        bool ok;
        MachineResult::Failure failure;
        int code;
        std::string err;
    };
    const std::vector<Case> cases = {
        {"exit", 0, true, MachineResult::Failure::NONE, 0, ""},
        {"exit", 199, true, MachineResult::Failure::NONE, 199, ""},
        {"poweroff", 0, true, MachineResult::Failure::NONE, 0, ""},
        {"exit", 200, true, MachineResult::Failure::NONE, kExitStatusOutOfRange,
         "xeno: the guest's status 200 is outside 0-199, the statuses xeno exits with (exit status 200)\n"},
        {"exit", 255, true, MachineResult::Failure::NONE, kExitStatusOutOfRange, ""},
        {"crash", 255, true, MachineResult::Failure::NONE, kExitCrash, "xeno: the domain ended (crash): why\n"},
        {"halted", 255, true, MachineResult::Failure::NONE, kExitHalted, "xeno: the domain ended (halted): why\n"},
        {"reset", 255, true, MachineResult::Failure::NONE, kExitReset, "xeno: the domain ended (reset): why\n"},
        {"", -1, false, MachineResult::Failure::INSTRUCTION_LIMIT, kExitLimit, "xeno: error: limit\n"},
        {"", -1, false, MachineResult::Failure::VTIME_LIMIT, kExitLimit, "xeno: error: limit\n"},
        {"", -1, false, MachineResult::Failure::WALL_TIME_LIMIT, kExitWallTime, "xeno: error: limit\n"},
        {"", -1, false, MachineResult::Failure::OTHER, kExitFailed, "xeno: error: limit\n"},
    };
    for (const Case& c : cases) {
        INFO(c.end << " " << c.status << " " << c.code);
        Cli cli;
        cli.machine.result.end = c.end;
        cli.machine.result.end_reason = "why";
        cli.machine.result.status = c.status;
        cli.machine.result.ok = c.ok;
        cli.machine.result.failure = c.failure;
        cli.machine.result.error = c.ok ? "" : "limit";
        CHECK(cli.run({"run", cli.scenario()}) == c.code);
        if (!c.err.empty()) {
            CHECK(cli.err.str() == c.err);
        }
        CHECK(lines(cli.err.str()) == (c.code <= 199 ? 0 : 1));
        CHECK_THAT(cli.out.str(), Catch::Contains("summary: "));
        // The log line the fake machine writes is not shown without -v.
        CHECK(cli.err.str().find("a log line") == std::string::npos);
    }
}

TEST_CASE("--expect keeps 0 for a match and 1 for a difference, the domain's end included", "[cli][exit]")
{
    Cli crash;
    crash.machine.result.end = "crash";
    crash.machine.result.end_reason = "guest triple fault";
    crash.machine.result.status = 255;
    CHECK(crash.run({"run", crash.scenario(), "--expect"}) == kExitMismatch);
    CHECK_THAT(crash.err.str(), Catch::StartsWith("xeno: expect: demo (skylake): "));
    Cli high;
    high.machine.result.status = 250;
    CHECK(high.run({"run", high.scenario(), "--expect"}) == kExitMismatch);
}

TEST_CASE("--version prints xeno and the project version", "[cli]")
{
    Cli cli;
    CHECK(cli.run({"--version"}) == 0);
    CHECK_THAT(cli.out.str(), Catch::Matches("xeno [0-9]+\\.[0-9]+\\.[0-9]+\n"));
}

TEST_CASE("xeno run --help documents the exit statuses", "[cli]")
{
    Cli cli;
    CHECK(cli.run({"run", "--help"}) == 0);
    CHECK_THAT(cli.out.str(), Catch::Contains("Exit status:") && Catch::Contains("205") &&
                                  Catch::Contains("--kernel") && Catch::Contains("--timeout"));
}

TEST_CASE("--memhash asks the machine to hash its memory; without it nothing reads all of it", "[cli]")
{
    Cli plain;
    REQUIRE(plain.run({"run", plain.scenario()}) == 0);
    CHECK_FALSE(plain.machine.configs.at(0).hash_memory);
    Cli hashed;
    REQUIRE(hashed.run({"run", hashed.scenario(), "--memhash"}) == 0);
    CHECK(hashed.machine.configs.at(0).hash_memory);
}

TEST_CASE("--timeout becomes the machine's wall-time limit; bad values are usage errors", "[cli]")
{
    Cli cli;
    REQUIRE(cli.run({"run", cli.scenario(), "--timeout", "2.5"}) == 0);
    CHECK(cli.machine.configs.at(0).wall_timeout_ms == 2500);
    CHECK(cli.machine.configs.at(0).max_vtime_ns == kDefaultMaxVtimeMs * 1'000'000);
    for (const char* bad : {"0", "-1", "soon", "100000"}) {
        Cli b;
        CHECK(b.run({"run", b.scenario(), "--timeout", bad}) == kExitUsage);
        CHECK_THAT(b.err.str(), Catch::StartsWith("xeno: error: --timeout"));
        CHECK(b.machine.configs.empty());
    }
}

// ---- output files ----

TEST_CASE("output files: the reason a file cannot be written, and files xeno must not overwrite", "[cli]")
{
    auto refused = [](const std::function<std::vector<std::string>(Cli&)>& args) {
        Cli cli;
        std::vector<std::string> a = args(cli);
        CHECK(cli.run(a) == kExitUsage);
        CHECK(cli.machine.configs.empty());
        CHECK(lines(cli.err.str()) == 1);
        return cli.err.str();
    };
    CHECK(refused([](Cli& c) {
              return std::vector<std::string>{"run", c.scenario(), "--trace", "/nonexistent/dir/t.trace"};
          }) == "xeno: error: cannot write /nonexistent/dir/t.trace: No such file or directory\n");
    CHECK_THAT(refused([](Cli& c) {
                   return std::vector<std::string>{"run", c.scenario(), "--log", c.tmp.path().string()};
               }),
               Catch::Contains("cannot write ") && Catch::Contains(": Is a directory"));
    CHECK_THAT(refused([](Cli& c) {
                   std::string f = (c.tmp.path() / "same.txt").string();
                   return std::vector<std::string>{"run", c.scenario(), "--trace", f, "--log", f};
               }),
               Catch::Contains("--trace and --log name the same file"));
    CHECK_THAT(refused([](Cli& c) {
                   // The same file by another name.
                   std::string f = (c.tmp.path() / "same.txt").string();
                   std::string g = (c.tmp.path() / "scenarios/../same.txt").string();
                   return std::vector<std::string>{"run", c.scenario(), "--trace", f, "--log", g};
               }),
               Catch::Contains("--trace and --log name the same file"));
    CHECK_THAT(refused([](Cli& c) {
                   return std::vector<std::string>{"run", c.scenario(), "--trace",
                                                   (c.tmp.path() / "scenarios/demo/scenario.toml").string()};
               }),
               Catch::Contains("--trace") && Catch::Contains("is the scenario's scenario.toml of this run"));
    CHECK_THAT(refused([](Cli& c) {
                   return std::vector<std::string>{"run", c.scenario(), "--log",
                                                   (c.tmp.path() / "build/scenarios/demo/guest.bin").string()};
               }),
               Catch::Contains("is the guest image of this run: refusing to overwrite it"));
    CHECK_THAT(refused([](Cli& c) {
                   std::string input = c.tmp.write("input.txt", "abc").string();
                   return std::vector<std::string>{"run", c.scenario(), "--serial-in", input, "--trace", input};
               }),
               Catch::Contains("is the serial input of this run"));
    // Nothing was overwritten.
    Cli cli;
    cli.run({"run", cli.scenario(), "--trace", (cli.tmp.path() / "scenarios/demo/scenario.toml").string()});
    CHECK(xeno::test::read_file(cli.tmp.path() / "scenarios/demo/scenario.toml") == kToml);
}

// ---- a scenario folder elsewhere ----

TEST_CASE("a scenario folder with a built scenario's name runs its own guest", "[cli]")
{
    // The build's files are for scenarios/demo; a folder named demo elsewhere
    // has its own image.
    Cli cli;
    cli.tmp.write("elsewhere/demo/scenario.toml", kToml);
    cli.tmp.write("elsewhere/demo/guest.bin", std::string(4, '\xf4'));
    REQUIRE(cli.run({"run", (cli.tmp.path() / "elsewhere/demo").string()}) == 0);
    CHECK(cli.machine.configs.at(0).guest_image == std::vector<std::uint8_t>(4, 0xf4));
    // ... and the tree's folder still gets the built one.
    Cli tree;
    REQUIRE(tree.run({"run", tree.scenario()}) == 0);
    CHECK(tree.machine.configs.at(0).guest_image == std::vector<std::uint8_t>(16, 0x90));
}

TEST_CASE("a scenario folder with only its guest.asm: xeno assembles it as CMake would", "[cli]")
{
    Cli cli;
    cli.tmp.write("elsewhere/demo/scenario.toml", kToml);
    cli.tmp.write("elsewhere/demo/guest.asm", "bits 16\norg 0x8000\n%include \"more.inc\"\n  hlt\n");
    cli.tmp.write("elsewhere/demo/more.inc", "  nop\n  nop\n");
    REQUIRE(cli.run({"run", (cli.tmp.path() / "elsewhere/demo").string()}) == 0);
    CHECK(cli.machine.configs.at(0).guest_image == std::vector<std::uint8_t>{0x90, 0x90, 0xf4});

    // A mistake in it is one line naming the file and nasm's message.
    Cli bad;
    bad.tmp.write("elsewhere/demo/scenario.toml", kToml);
    bad.tmp.write("elsewhere/demo/guest.asm", "bits 16\n  frobnicate ax\n");
    CHECK(bad.run({"run", (bad.tmp.path() / "elsewhere/demo").string()}) == kExitUsage);
    CHECK_THAT(bad.err.str(), Catch::StartsWith("xeno: error: cannot assemble ") && Catch::Contains("guest.asm:2:"));
    CHECK(lines(bad.err.str()) == 1);

    // Neither an image nor its source: say what is missing.
    Cli none;
    none.tmp.write("elsewhere/demo/scenario.toml", kToml);
    CHECK(none.run({"run", (none.tmp.path() / "elsewhere/demo").string()}) == kExitUsage);
    CHECK_THAT(none.err.str(), Catch::Contains("guest image ") && Catch::Contains("elsewhere/demo/guest.bin not found") &&
                                   Catch::Contains("guest.asm"));
}

// ---- kernels ----

namespace {

// A --kernel run in the fixture's directory.
struct KernelCli : Cli {
    std::string kernel;
    KernelCli() { kernel = tmp.write("vmlinux", std::string(5000, 'K')).string(); }
};

}  // namespace

TEST_CASE("--kernel: module 0 \"kernel\", QEMU's 128 MiB, no guest_load, no instruction limit", "[cli][kernel]")
{
    KernelCli cli;
    cli.machine.result.end = "exit";
    REQUIRE(cli.run({"run", "--kernel", cli.kernel}) == 0);
    const MachineConfig& c = cli.machine.configs.at(0);
    CHECK(c.guest_image == std::vector<std::uint8_t>(5000, 'K'));
    CHECK(c.guest_cmdline == "kernel");
    CHECK(c.modules.empty());
    CHECK(c.cmdline == "guest_mem_mb=128");
    CHECK(c.memory_bytes == (128u << 20) + (64u << 20) + (2u << 20) + 8192);  // + the kernel, page-rounded
    CHECK(c.max_guest_instructions == 0);
    CHECK(c.max_vtime_ns == kDefaultMaxVtimeMs * 1'000'000);
    CHECK(c.profile == "skylake");
    CHECK_THAT(cli.out.str(), Catch::Contains("summary: scenario=vmlinux profile=skylake "));
}

TEST_CASE("--kernel with --initrd, --append and the rest: modules and command line", "[cli][kernel]")
{
    KernelCli cli;
    std::string initrd = cli.tmp.write("initrd.img", std::string(100, 'I')).string();
    REQUIRE(cli.run({"run", "--kernel", cli.kernel, "--initrd", initrd, "--append", "console=ttyS0 quiet", "-m", "1G",
                     "--smp", "2", "--profile", "penryn", "--paging", "shadow", "--debug-exit", "qemu", "--on-reset",
                     "restart", "--trace", (cli.tmp.path() / "t.trace").string(), "--quantum-us", "500"}) == 0);
    const MachineConfig& c = cli.machine.configs.at(0);
    CHECK(c.cmdline == "guest_mem_mb=1024 smp=2 quantum_us=500 paging=shadow trace=on debug_exit=qemu on_reset=restart");
    REQUIRE(c.modules.size() == 2);
    CHECK(c.modules[0].name == "initrd");
    CHECK(c.modules[0].bytes == std::vector<std::uint8_t>(100, 'I'));
    CHECK(c.modules[1].name == "append");
    CHECK(xeno::test::as_string(c.modules[1].bytes) == "console=ttyS0 quiet");  // no NUL
    CHECK(c.memory_bytes == (1024u << 20) + (64u << 20) + (16u << 20) + 8192 + 4096 + 4096);
    CHECK(c.profile == "penryn");

    // An empty --append is still a command line; --max-insns still applies.
    KernelCli empty;
    REQUIRE(empty.run({"run", "--kernel", empty.kernel, "--append", "", "--max-insns", "1000"}) == 0);
    REQUIRE(empty.machine.configs.at(0).modules.size() == 1);
    CHECK(empty.machine.configs.at(0).modules[0].name == "append");
    CHECK(empty.machine.configs.at(0).modules[0].bytes.empty());
    CHECK(empty.machine.configs.at(0).max_guest_instructions == 1000);
}

TEST_CASE("--pvh hands over a bzImage's ELF; a bad payload is a usage error", "[cli][kernel]")
{
    const xeno::test::Bytes elf = xeno::test::fake_elf();
    KernelCli cli;
    cli.tmp.write("bzImage", xeno::test::as_string(xeno::test::bzimage(
                                 xeno::test::with_size(xeno::test::xz(elf), elf.size()))));
    REQUIRE(cli.run({"run", "--kernel", (cli.tmp.path() / "bzImage").string(), "--pvh"}) == 0);
    CHECK(cli.machine.configs.at(0).guest_image == elf);
    CHECK(cli.machine.configs.at(0).guest_cmdline == "kernel");
    CHECK_THAT(cli.out.str(), Catch::Contains("scenario=bzImage "));

    // Without --pvh the bzImage itself goes.
    KernelCli plain;
    plain.tmp.write("bzImage", "MZ" + std::string(1000, 'B'));
    REQUIRE(plain.run({"run", "--kernel", (plain.tmp.path() / "bzImage").string()}) == 0);
    CHECK(plain.machine.configs.at(0).guest_image.size() == 1002);

    KernelCli bad;
    xeno::test::Bytes stream = xeno::test::gzip(elf);
    stream.resize(stream.size() / 2);
    bad.tmp.write("bzImage", xeno::test::as_string(xeno::test::bzimage(xeno::test::with_size(stream, elf.size()))));
    CHECK(bad.run({"run", "--kernel", (bad.tmp.path() / "bzImage").string(), "--pvh"}) == kExitUsage);
    CHECK_THAT(bad.err.str(), Catch::StartsWith("xeno: error: kernel ") && Catch::Contains("gzip payload is truncated"));
    CHECK(lines(bad.err.str()) == 1);
    CHECK(bad.machine.configs.empty());
}

TEST_CASE("--kernel usage errors", "[cli][kernel]")
{
    auto error_of = [](std::vector<std::string> args) {
        KernelCli cli;
        for (std::string& a : args) {
            if (a == "@") a = cli.scenario();
            if (a == "K") a = cli.kernel;
        }
        CHECK(cli.run(args) == kExitUsage);
        CHECK(cli.machine.configs.empty());
        CHECK(lines(cli.err.str()) == 1);
        return cli.err.str();
    };
    CHECK_THAT(error_of({"run", "@", "--kernel", "K"}), Catch::Contains("a scenario directory or --kernel, not both"));
    CHECK_THAT(error_of({"run"}), Catch::Contains("nothing to run"));
    CHECK_THAT(error_of({"run", "--initrd", "K"}), Catch::Contains("nothing to run"));
    CHECK_THAT(error_of({"run", "@", "--append", "quiet"}), Catch::Contains("--append is for a kernel"));
    CHECK_THAT(error_of({"run", "@", "--pvh"}), Catch::Contains("--pvh is for a kernel"));
    CHECK(error_of({"run", "--kernel", "/nonexistent/vmlinux"}) ==
          "xeno: error: cannot read the kernel /nonexistent/vmlinux: No such file or directory\n");
    CHECK_THAT(error_of({"run", "--kernel", "K", "--initrd", "/nonexistent/initrd"}),
               Catch::Contains("cannot read the initrd /nonexistent/initrd: No such file or directory"));
    CHECK_THAT(error_of({"run", "--kernel", "K", "-m", "lots"}), Catch::Contains("-m: expected a memory size"));
    CHECK_THAT(error_of({"run", "--kernel", "K", "-m", "9G"}), Catch::Contains("more than a kernel's guest may have"));
    CHECK_THAT(error_of({"run", "@", "-m", "4096"}), Catch::Contains("more than a flat image's guest may have"));
    CHECK_THAT(error_of({"run", "--kernel", "K", "--expect"}), Catch::Contains("a --kernel run has none"));
    CHECK_THAT(error_of({"run", "--kernel", "K", "--debug-exit", "bochs"}), Catch::Contains("--debug-exit"));
    CHECK_THAT(error_of({"run", "--kernel", "K", "--on-reset", "reboot"}), Catch::Contains("--on-reset"));
    CHECK_THAT(error_of({"run", "--kernel", "K", "--pvh"}), Catch::Contains("neither an ELF nor a bzImage"));
    CHECK_THAT(error_of({"run", "--kernel", ""}), Catch::Contains("--kernel"));
}

TEST_CASE("a kernel scenario: [guest] kernel, initrd, append, debug_exit, on_reset, pvh", "[cli][kernel]")
{
    const xeno::test::Bytes elf = xeno::test::fake_elf();
    Cli cli;
    cli.tmp.write("scenarios/k/scenario.toml", R"([guest]
kernel = "bzImage"
initrd = "initrd.img"
append = "console=ttyS0 root=/dev/ram0"
memory_mb = 256
debug_exit = "qemu"
on_reset = "restart"
pvh = true
[run]
profiles = ["skylake"]
[expect]
status = 33
)");
    cli.tmp.write("scenarios/k/bzImage", xeno::test::as_string(xeno::test::bzimage(
                                             xeno::test::with_size(xeno::test::zstd(elf), elf.size()))));
    // The initrd is one the build made (source-dir says for this folder).
    cli.tmp.write("build/scenarios/k/initrd.img", "INITRD");
    cli.tmp.write("build/scenarios/k/source-dir", (cli.tmp.path() / "scenarios/k").string() + "\n");
    cli.machine.result.status = 33;
    cli.machine.result.end = "exit";
    REQUIRE(cli.run({"run", (cli.tmp.path() / "scenarios/k").string(), "--expect"}) == 0);
    const MachineConfig& c = cli.machine.configs.at(0);
    CHECK(c.guest_image == elf);
    CHECK(c.guest_cmdline == "kernel");
    CHECK(c.cmdline == "guest_mem_mb=256 debug_exit=qemu on_reset=restart");
    REQUIRE(c.modules.size() == 2);
    CHECK(xeno::test::as_string(c.modules[0].bytes) == "INITRD");
    CHECK(xeno::test::as_string(c.modules[1].bytes) == "console=ttyS0 root=/dev/ram0");
    CHECK(c.max_guest_instructions == 0);

    // The command line's options override the scenario's.
    Cli over;
    over.tmp.write("scenarios/k/scenario.toml", "[guest]\nkernel = \"vmlinux\"\nappend = \"a\"\n[run]\nprofiles = [\"skylake\"]\n");
    over.tmp.write("scenarios/k/vmlinux", "ELF?");
    REQUIRE(over.run({"run", (over.tmp.path() / "scenarios/k").string(), "--append", "b", "-m", "64",
                      "--debug-exit", "qemu"}) == 0);
    CHECK(over.machine.configs.at(0).cmdline == "guest_mem_mb=64 debug_exit=qemu");
    CHECK(xeno::test::as_string(over.machine.configs.at(0).modules.at(0).bytes) == "b");

    // A missing kernel file: one line.
    Cli missing;
    missing.tmp.write("scenarios/k/scenario.toml", "[guest]\nkernel = \"vmlinux\"\n[run]\nprofiles = [\"skylake\"]\n");
    CHECK(missing.run({"run", (missing.tmp.path() / "scenarios/k").string()}) == kExitUsage);
    CHECK_THAT(missing.err.str(), Catch::Contains("kernel ") && Catch::Contains("scenarios/k/vmlinux not found"));
}
