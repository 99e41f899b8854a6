// The built build/<preset>/xeno program: exit statuses and one-line errors as
// a shell (or CTest) sees them. Only paths that stop before the machine runs,
// so these hold whatever state the hypervisor is in.
#include <sys/wait.h>

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
