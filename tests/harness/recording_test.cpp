// `xeno record` and `xeno replay` (harness/record_command.hpp,
// harness/replay_command.hpp) in-process on the simulated machine: round
// trips on every scenario, the same file from the same run, a deliberately
// changed exit handler found at its exit, guest memory changed behind the
// guest's back found at its checkpoint, and bad recordings and changed inputs
// refused with exit status 2 before anything runs.
#include <sys/wait.h>

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "core/run_stats.hpp"
#include "harness/cli.hpp"
#include "harness/scenario.hpp"
#include "sim/platform/machine.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;
using xeno::harness::Runner;

namespace {

struct Ran {
    int status;
    std::string out;
    std::string err;
};

Ran xeno_cli(const std::vector<std::string>& args, const Runner& runner = &xeno::sim::run_machine)
{
    std::ostringstream out, err;
    xeno::harness::CliEnv env{out, err, XENO_BINARY_DIR, runner};
    std::vector<const char*> argv{"xeno"};
    for (const std::string& a : args) argv.push_back(a.c_str());
    const int status = xeno::harness::xeno_main(static_cast<int>(argv.size()), argv.data(), env);
    return Ran{status, out.str(), err.str()};
}

std::string scenario(const char* name)
{
    return std::string(XENO_SOURCE_DIR) + "/scenarios/" + name;
}

std::string bytes_of(const fs::path& file)
{
    return xeno::test::read_file(file);
}

void write_bytes(const fs::path& file, const std::string& bytes)
{
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

bool one_error_line(const std::string& err, const char* start)
{
    return err.rfind(start, 0) == 0 && err.find('\n') == err.size() - 1;
}

// A runner that must not be reached: a bad recording is refused before
// the machine runs.
struct MustNotRun {
    int calls = 0;
    Runner runner()
    {
        return [this](const xeno::sim::MachineConfig&, const xeno::sim::MachineOutput&) {
            ++calls;
            return xeno::sim::MachineResult{};
        };
    }
};

// The machine with one exit handler changed: after the handler of exit
// `exit`, `rax ^= mask`, as a CPUID or I/O handler that returned another
// value would leave it. (The event's registers are the vcpu's own, handed
// to observers read-only; a test stands in for the changed handler here.)
Runner changed_handler(std::uint64_t exit, std::uint64_t mask, std::uint64_t* recorded_rax = nullptr)
{
    return [=](const xeno::sim::MachineConfig& config, const xeno::sim::MachineOutput& output) {
        xeno::sim::MachineOutput changed = output;
        changed.exit_handled = [&output, exit, mask, recorded_rax](const xeno::sim::ExitEvent& e) {
            if (e.number == exit) {
                auto& regs = const_cast<xeno::hal::GuestRegs&>(*e.regs);
                if (recorded_rax != nullptr) *recorded_rax = regs.gpr[0];
                regs.gpr[0] ^= mask;
            }
            if (output.exit_handled) output.exit_handled(e);
        };
        return xeno::sim::run_machine(config, changed);
    };
}

// The machine with guest RAM at guest-physical `gpa` changed after the
// handler of exit `exit`, where the guest never looks: only a checkpoint
// can see it.
Runner changed_memory(std::uint64_t exit, std::uint64_t gpa)
{
    return [=](const xeno::sim::MachineConfig& config, const xeno::sim::MachineOutput& output) {
        xeno::sim::MachineOutput changed = output;
        changed.exit_handled = [&output, exit, gpa](const xeno::sim::ExitEvent& e) {
            if (e.number == exit) {
                const xeno::RunStats& stats = xeno::last_run_stats();
                REQUIRE(gpa / 4096 < stats.p2m_frames);
                std::uint64_t mfn = 0;
                std::memcpy(&mfn, e.memory + stats.p2m_table + gpa / 4096 * 8, 8);
                REQUIRE((mfn + 1) * 4096 <= e.memory_bytes);
                const_cast<std::uint8_t*>(e.memory)[mfn * 4096 + gpa % 4096] ^= 0x5a;
            }
            if (output.exit_handled) output.exit_handled(e);
        };
        return xeno::sim::run_machine(config, changed);
    };
}

}  // namespace

TEST_CASE("record and replay every scenario on every profile it lists: the same file twice, replayed identical",
          "[recording]")
{
    xeno::test::TempDir tmp;
    int scenarios = 0, checkpoints = 0;
    for (const fs::directory_entry& dir : fs::directory_iterator(fs::path(XENO_SOURCE_DIR) / "scenarios")) {
        if (!fs::exists(dir.path() / "scenario.toml")) continue;
        xeno::harness::Outcome<xeno::harness::Scenario> s = xeno::harness::load_scenario(dir.path().string());
        REQUIRE(s.ok());
        ++scenarios;
        for (const std::string& profile : s.value().profiles) {
            INFO(dir.path().filename().string() << " on " << profile);
            const std::string a = (tmp.path() / "a.rec").string(), b = (tmp.path() / "b.rec").string();
            // The default checkpoints (most scenarios have some); the run is
            // checked against its [expect] as `xeno run --expect` does.
            const Ran first = xeno_cli({"record", a, "--", dir.path().string(), "--profile", profile, "--expect"});
            CHECK(first.status == 0);
            CHECK_THAT(first.out, Catch::Contains("summary: ") && Catch::Contains("record: " + a + ": "));
            REQUIRE(fs::file_size(a) > 16);
            const std::string name = dir.path().filename().string();
            if (name == "smp" || name == "uart-irq" || name == "paging") {
                // Nothing host-dependent in a recording (a few scenarios: it costs a run).
                const Ran second =
                    xeno_cli({"record", b, "--", dir.path().string(), "--profile", profile, "--expect"});
                CHECK(second.status == 0);
                CHECK(bytes_of(a) == bytes_of(b));
            }
            const Ran replay = xeno_cli({"replay", a});
            CHECK(replay.status == 0);
            CHECK(replay.err.empty());
            CHECK_THAT(replay.out, Catch::StartsWith("replay: identical ("));
            checkpoints += replay.out.find(" exits, 0 checkpoints)") == std::string::npos;
        }
    }
    CHECK(scenarios >= 20);
    CHECK(checkpoints >= 20);  // memory was compared in most of them
}

TEST_CASE("a recording holds the run: exits, checkpoints, the serial input; replay prints the count", "[recording]")
{
    xeno::test::TempDir tmp;
    const std::string file = (tmp.path() / "uart.rec").string();
    const Ran record = xeno_cli({"record", file, "--checkpoint-exits", "50", "--", scenario("uart-irq"), "--profile",
                                 "penryn", "--expect"});
    REQUIRE(record.status == 0);
    // The summary's exit count is the recording's.
    const std::size_t at = record.out.find(" exits=");
    REQUIRE(at != std::string::npos);
    const std::string exits = record.out.substr(at + 7, record.out.find(' ', at + 7) - at - 7);
    CHECK_THAT(record.out, Catch::Contains("record: " + file + ": " + exits + " exits, "));
    const Ran replay = xeno_cli({"replay", file});
    CHECK(replay.status == 0);
    CHECK_THAT(replay.out, Catch::StartsWith("replay: identical (" + exits + " exits, "));
    // --console: the replayed guest's console and summary line come first.
    const Ran shown = xeno_cli({"replay", "--console", file});
    CHECK(shown.status == 0);
    CHECK_THAT(shown.out, Catch::StartsWith("HELLO, XENO\n") && Catch::Contains("\nsummary: scenario=uart-irq ") &&
                              Catch::EndsWith(replay.out));
    // The serial input is embedded: its bytes are in the (compressed) file's
    // checksummed body; the replay compares it with the one it runs.
    CHECK(fs::file_size(file) < 64 * 1024);
}

TEST_CASE("a changed exit handler is found at the exit it changed, with the register it changed", "[recording]")
{
    xeno::test::TempDir tmp;
    const std::string file = (tmp.path() / "cpuid.rec").string();
    for (const char* profile : {"skylake", "penryn"}) {
        INFO(profile);
        REQUIRE(xeno_cli({"record", file, "--", scenario("cpuid-msr-tsc"), "--profile", profile}).status == 0);
        for (std::uint64_t exit : {1ull, 137ull, 400ull}) {
            INFO("exit " << exit);
            const std::uint64_t mask = 0x100;
            std::uint64_t rax = 0;
            const Ran replay = xeno_cli({"replay", file}, changed_handler(exit, mask, &rax));
            CHECK(replay.status == 1);
            CHECK(replay.err.empty());
            // Found at the very exit (its state after the handler is in the
            // recording), not at the next one the guest happens to take.
            CHECK_THAT(replay.out, Catch::Contains(fmt::format("replay: first divergent exit: {}, after its handler\n",
                                                               exit)));
            CHECK_THAT(replay.out, Catch::Contains(fmt::format("replay: DIVERGED (after {} identical exits)",
                                                               exit - 1)));
            CHECK_THAT(replay.out, Catch::Contains(fmt::format("replay:   recorded: exit {} ", exit)));
            CHECK_THAT(replay.out,
                       Catch::Contains(fmt::format("replay:   rax: recorded {:#x}, now {:#x}\n", rax, rax ^ mask)));
            // rax and nothing else differs there.
            CHECK(replay.out.find("replay:   r", replay.out.find("replay:   rax:") + 1) == std::string::npos);
        }
    }
}

TEST_CASE("guest memory changed where the guest never looks is found at the next checkpoint, by page",
          "[recording]")
{
    xeno::test::TempDir tmp;
    const std::string file = (tmp.path() / "tasks.rec").string();
    REQUIRE(xeno_cli({"record", file, "--checkpoint-exits", "100", "--checkpoint-vtime-ms", "0", "--",
                      scenario("tasks")})
                .status == 0);
    // 0x700000: 7 MiB into the guest's 16 MiB, which the guest does not use.
    const Ran replay = xeno_cli({"replay", file}, changed_memory(250, 0x700123));
    CHECK(replay.status == 1);
    CHECK_THAT(replay.out, Catch::Contains("replay: first divergent checkpoint: 3 (after exit 300, vtime "));
    CHECK_THAT(replay.out, Catch::Contains("): 1 of 4096 pages of guest RAM differ, at guest-physical 0x700000\n"));
    CHECK_THAT(replay.out, Catch::Contains("replay: first divergent exit: none"));
    CHECK_THAT(replay.out, Catch::Contains("replay:   machine memory at the end: recorded xxh64 "));
}

TEST_CASE("replay refuses a bad recording with one line and exit status 2, running nothing", "[recording]")
{
    xeno::test::TempDir tmp;
    const fs::path good = tmp.path() / "hello.rec";
    REQUIRE(xeno_cli({"record", good.string(), "--", scenario("hello")}).status == 0);
    const std::string bytes = bytes_of(good);
    REQUIRE(bytes.size() > 100);
    const fs::path bad = tmp.path() / "bad.rec";
    MustNotRun machine;

    const auto refused = [&](const std::string& content, const char* says) {
        write_bytes(bad, content);
        const Ran r = xeno_cli({"replay", bad.string()}, machine.runner());
        INFO(r.err);
        CHECK(r.status == 2);
        CHECK(one_error_line(r.err, "xeno: error: replay: "));
        CHECK_THAT(r.err, Catch::Contains(says));
        CHECK(r.out.empty());
    };
    SECTION("named kinds of damage")
    {
        refused("", "empty file, not a xeno recording");
        refused("#!/bin/sh\necho hello\n", "not a xeno recording");
        refused(bytes.substr(0, 11), "truncated recording (the file ends inside its 16-byte header)");
        refused(bytes.substr(0, 16), "truncated recording");
        refused(bytes.substr(0, bytes.size() / 2), "truncated recording");
        refused(bytes.substr(0, bytes.size() - 1), "truncated recording");
        std::string version = bytes;
        version[8] = 2;
        refused(version, "recording format version 2; this xeno reads version 1 only");
        std::string flipped = bytes;
        flipped[bytes.size() / 2] ^= 0x10;
        refused(flipped, "corrupted recording");
        refused(bytes + "x", "corrupted recording (bytes after its closing checksum)");
        refused(bytes.substr(0, bytes.size() - 3), "truncated recording (the file ends inside its closing checksum)");
        std::string summed = bytes;
        summed.back() ^= 0x01;
        refused(summed, "corrupted recording (the file's checksum does not match its bytes)");
        refused(bytes + bytes, "corrupted recording");
        const Ran missing = xeno_cli({"replay", (tmp.path() / "none.rec").string()}, machine.runner());
        CHECK(missing.status == 2);
        CHECK_THAT(missing.err, Catch::Contains("cannot read") && Catch::Contains("No such file"));
    }
    SECTION("every byte flipped and every prefix")
    {
        // The header is checked field by field, the body by zstd's checksum
        // (and the records' own checks before it is reached).
        for (std::size_t i = 0; i < bytes.size(); ++i) {
            INFO("byte " << i);
            std::string flipped = bytes;
            flipped[i] = static_cast<char>(flipped[i] ^ 0x01);
            refused(flipped, "xeno: error: replay: ");
            refused(bytes.substr(0, i), "xeno: error: replay: ");
        }
    }
    CHECK(machine.calls == 0);
}

TEST_CASE("replay refuses a run whose inputs changed since the recording", "[recording]")
{
    xeno::test::TempDir tmp;
    MustNotRun machine;

    SECTION("the serial input")
    {
        const std::string text = bytes_of(fs::path(scenario("uart-irq")) / "input.txt");
        const fs::path input = tmp.write("input.txt", text);
        const std::string file = (tmp.path() / "uart.rec").string();
        REQUIRE(xeno_cli({"record", file, "--", scenario("uart-irq"), "--serial-in", input.string()}).status == 0);
        REQUIRE(xeno_cli({"replay", file}).status == 0);
        tmp.write("input.txt", text + "!");
        const Ran r = xeno_cli({"replay", file}, machine.runner());
        CHECK(r.status == 2);
        CHECK(one_error_line(r.err, "xeno: error: replay: the serial input changed since the recording ("));
        CHECK_THAT(r.err, Catch::EndsWith(": not replayed\n"));
        fs::remove(input);
        const Ran gone = xeno_cli({"replay", file}, machine.runner());
        CHECK(gone.status == 2);
        CHECK(one_error_line(gone.err, "xeno: error: replay: the recorded run cannot start: "));
        CHECK_THAT(gone.err, Catch::Contains("input.txt"));
    }
    SECTION("the guest image and the scenario")
    {
        // A copy of hello: xeno assembles its guest.asm (nothing built it).
        const fs::path dir = tmp.path() / "hello";
        fs::create_directories(dir);
        for (const char* f : {"guest.asm", "scenario.toml"}) fs::copy_file(fs::path(scenario("hello")) / f, dir / f);
        const std::string file = (tmp.path() / "hello.rec").string();
        REQUIRE(xeno_cli({"record", file, "--", dir.string()}).status == 0);
        REQUIRE(xeno_cli({"replay", file}).status == 0);
        const std::string asm_source = bytes_of(dir / "guest.asm");
        write_bytes(dir / "guest.asm", asm_source + "\n    db 0x90\n");
        Ran r = xeno_cli({"replay", file}, machine.runner());
        CHECK(r.status == 2);
        CHECK(one_error_line(r.err, "xeno: error: replay: the guest image (boot module 0) changed since the "
                                    "recording ("));
        write_bytes(dir / "guest.asm", asm_source);
        std::string toml = bytes_of(dir / "scenario.toml");
        const std::size_t at = toml.find("memory_mb");
        REQUIRE(at != std::string::npos);
        toml.insert(at, "memory_mb = 8\n#");
        write_bytes(dir / "scenario.toml", toml);
        r = xeno_cli({"replay", file}, machine.runner());
        CHECK(r.status == 2);
        CHECK(one_error_line(r.err, "xeno: error: replay: the machine memory size differs from the recording's"));
    }
    CHECK(machine.calls == 0);
}

TEST_CASE("record refuses what it cannot write, or would overwrite an input, before the run", "[recording]")
{
    xeno::test::TempDir tmp;
    MustNotRun machine;
    const fs::path input = tmp.write("input.txt", "abc\n");
    Ran r = xeno_cli({"record", input.string(), "--", scenario("uart-irq"), "--serial-in", input.string()},
                     machine.runner());
    CHECK(r.status == 2);
    CHECK(one_error_line(r.err, "xeno: error: record: "));
    CHECK_THAT(r.err, Catch::Contains("is an input of the run"));
    CHECK(bytes_of(input) == "abc\n");

    r = xeno_cli({"record", "/nonexistent/dir/x.rec", "--", scenario("hello")}, machine.runner());
    CHECK(r.status == 2);
    CHECK(one_error_line(r.err, "xeno: error: record: cannot write /nonexistent/dir/x.rec: "));

    const fs::path file = tmp.path() / "x.rec";
    r = xeno_cli({"record", file.string()}, machine.runner());
    CHECK(r.status == 2);
    CHECK(one_error_line(r.err, "xeno: error: record: give the run after --"));

    // `xeno run`'s own refusal, and no file left behind.
    r = xeno_cli({"record", file.string(), "--", scenario("hello"), "--profile", "haswell"}, machine.runner());
    CHECK(r.status == 2);
    CHECK(one_error_line(r.err, "xeno: error: "));
    CHECK_FALSE(fs::exists(file));
    CHECK(machine.calls == 0);
}

TEST_CASE("a recording made by one xeno process replays in another (the built binary)", "[recording][binary]")
{
    const fs::path binary = fs::path(XENO_BINARY_DIR) / "xeno";
    REQUIRE(fs::exists(binary));
    xeno::test::TempDir tmp;
    for (const char* name : {"smp", "uart-irq"}) {
        for (const char* profile : {"penryn", "skylake"}) {
            INFO(name << " on " << profile);
            const fs::path file = tmp.path() / "x.rec";
            const fs::path out = tmp.path() / "out";
            const auto shell = [&](const std::string& args) {
                const std::string command = "'" + binary.string() + "' " + args + " >'" + out.string() + "' 2>&1";
                const int raw = std::system(command.c_str());
                REQUIRE(WIFEXITED(raw));
                return WEXITSTATUS(raw);
            };
            CHECK(shell("record '" + file.string() + "' --checkpoint-exits 50 -- '" + scenario(name) +
                        "' --profile " + profile) == 0);
            CHECK(shell("replay '" + file.string() + "'") == 0);
            CHECK_THAT(bytes_of(out), Catch::StartsWith("replay: identical ("));
        }
    }
}
