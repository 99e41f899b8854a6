// The built build/<preset>/xeno program: exit statuses and one-line errors as
// a shell (or CTest) sees them: paths that stop before the machine runs,
// and runs of tiny guests that end the ways xeno reports.
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include <catch2/catch.hpp>

#include "temp_dir.hpp"

namespace {

struct Ran {
    int status;
    std::string out;
    std::string err;
};

Ran run_xeno(const std::string& args)
{
    static const std::filesystem::path binary = std::filesystem::path(XENO_BINARY_DIR) / "xeno";
    REQUIRE(std::filesystem::exists(binary));
    xeno::test::TempDir tmp;
    std::string out = (tmp.path() / "out").string();
    std::string err = (tmp.path() / "err").string();
    std::string command = "cd '" XENO_SOURCE_DIR "' && '" + binary.string() + "' " + args + " >'" + out + "' 2>'" +
                          err + "' </dev/null";
    int raw = std::system(command.c_str());
    REQUIRE(WIFEXITED(raw));
    return Ran{WEXITSTATUS(raw), xeno::test::read_file(out), xeno::test::read_file(err)};
}

bool one_error_line(const std::string& err)
{
    return err.rfind("xeno: error: ", 0) == 0 && err.find('\n') == err.size() - 1;
}

}  // namespace

TEST_CASE("xeno --help and xeno run --help exit 0 with usage on stdout", "[binary]")
{
    Ran top = run_xeno("--help");
    CHECK(top.status == 0);
    CHECK_THAT(top.out, Catch::Contains("run"));
    Ran run = run_xeno("run --help");
    CHECK(run.status == 0);
    CHECK_THAT(run.out, Catch::Contains("--profile") && Catch::Contains("--trace") && Catch::Contains("--expect"));
}

TEST_CASE("xeno's usage errors: one line on stderr, exit status 2", "[binary]")
{
    for (const char* args : {"", "bogus", "run", "run scenarios/hello --profile haswell",
                             "run scenarios/hello --paging nested", "run scenarios/hello --max-insns 0",
                             "run scenarios/no-such-scenario", "run scenarios/hello --profile penryn --paging ept",
                             "run scenarios/hello --trace /nonexistent/dir/t.trace", "run scenarios/hello --bogus"}) {
        Ran r = run_xeno(args);
        INFO("xeno " << args << " -> " << r.err);
        CHECK(r.status == 2);
        CHECK(one_error_line(r.err));
        CHECK(r.out.empty());
    }
}

TEST_CASE("xeno finds a scenario's guest image next to itself", "[binary]")
{
    // CMake puts it there; a missing one would be reported as a usage error.
    CHECK(std::filesystem::is_regular_file(std::filesystem::path(XENO_BINARY_DIR) / "scenarios/hello/guest.bin"));
    CHECK(std::filesystem::is_regular_file(std::filesystem::path(XENO_BINARY_DIR) /
                                           "scenarios/cpuid-msr-tsc/guest.bin"));
}

namespace {

// A scenario folder outside the tree whose guest.asm xeno assembles itself.
std::string folder_scenario(const xeno::test::TempDir& tmp, const std::string& name, const std::string& asm_source)
{
    tmp.write(name + "/guest.asm", asm_source);
    tmp.write(name + "/scenario.toml", "[guest]\nimage = \"guest.bin\"\nload_address = 0x8000\nentry = 0x8000\n"
                                       "memory_mb = 16\n[run]\nprofiles = [\"skylake\"]\nmax_instructions = 100000000\n");
    return (tmp.path() / name).string();
}

std::uint64_t summary_insns(const std::string& out)
{
    const std::size_t at = out.find(" insns=");
    REQUIRE(at != std::string::npos);
    return std::stoull(out.substr(at + 7));
}

}  // namespace

TEST_CASE("xeno --version", "[binary]")
{
    Ran r = run_xeno("--version");
    CHECK(r.status == 0);
    CHECK_THAT(r.out, Catch::Matches("xeno [0-9]+\\.[0-9]+\\.[0-9]+\n"));
}

TEST_CASE("hello's instructions are exactly the limit it needs", "[binary]")
{
    Ran free = run_xeno("run scenarios/hello");
    REQUIRE(free.status == 0);
    const std::uint64_t n = summary_insns(free.out);
    Ran exact = run_xeno("run scenarios/hello --max-insns " + std::to_string(n));
    CHECK(exact.status == 0);
    CHECK(exact.err.empty());
    Ran under = run_xeno("run scenarios/hello --max-insns " + std::to_string(n - 1));
    CHECK(under.status == 204);
    CHECK(one_error_line(under.err));
    CHECK_THAT(under.err, Catch::Contains("ran past its limit of " + std::to_string(n - 1) + " instructions"));
    CHECK_THAT(under.out, Catch::Contains("summary: scenario=hello"));
}

TEST_CASE("failed runs: one line on stderr and a status no guest exits with", "[binary]")
{
    xeno::test::TempDir tmp;
    // A triple fault: an empty IDT and an INT3.
    Ran crash = run_xeno("run " + folder_scenario(tmp, "crash", "bits 16\norg 0x8000\n cli\n lidt [idt]\n int3\n"
                                                                "idt: dw 0\n dd 0\n"));
    CHECK(crash.status == 201);
    CHECK_THAT(crash.err, Catch::StartsWith("xeno: the domain ended (crash): "));
    CHECK(std::count(crash.err.begin(), crash.err.end(), '\n') == 1);
    // Halted for good.
    Ran halted = run_xeno("run " + folder_scenario(tmp, "halted", "bits 16\norg 0x8000\n cli\n hlt\n"));
    CHECK(halted.status == 202);
    CHECK(std::count(halted.err.begin(), halted.err.end(), '\n') == 1);
    // A guest status past 199.
    Ran high = run_xeno("run " + folder_scenario(tmp, "high", "bits 16\norg 0x8000\n mov al, 250\n out 0xf4, al\n"));
    CHECK(high.status == 200);
    CHECK_THAT(high.err, Catch::Contains("status 250 is outside 0-199"));
    CHECK_THAT(high.out, Catch::Contains(" status=250 "));
    // -v shows the hypervisor's log; without it, nothing but the reason.
    Ran verbose = run_xeno("run " + (tmp.path() / "halted").string() + " -v");
    CHECK(verbose.status == 202);
    CHECK(std::count(verbose.err.begin(), verbose.err.end(), '\n') > 3);
}

TEST_CASE("--timeout ends a guest that never stops, as a wall-time limit", "[binary]")
{
    xeno::test::TempDir tmp;
    const std::string spin = folder_scenario(tmp, "spin", "bits 16\norg 0x8000\n jmp $\n");
    Ran r = run_xeno("run " + spin + " --max-insns 100000000000 --timeout 0.5");
    CHECK(r.status == 205);
    CHECK(one_error_line(r.err));
    CHECK_THAT(r.err, Catch::Contains("wall-time limit of 0.5 s"));
    CHECK_THAT(r.out, Catch::Contains("summary: scenario=spin "));
}

TEST_CASE("a looping REP OUTSB meets the instruction limit in moments", "[binary]")
{
    xeno::test::TempDir tmp;
    const std::string guest = folder_scenario(
        tmp, "outsb",
        "bits 16\norg 0x8000\n xor ax, ax\n mov ds, ax\n mov dx, 0x80\nl: xor si, si\n mov cx, 0xffff\n rep outsb\n"
        " jmp l\n");
    Ran r = run_xeno("run " + guest + " --max-insns 30000 --timeout 20");
    CHECK(r.status == 204);
    CHECK_THAT(r.err, Catch::Contains("elements of REP INS/OUTS"));
}
