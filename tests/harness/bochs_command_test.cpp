// `xeno bochs` in-process: COM1 parsing (console, status, stats) on fixture
// text, argument and ISO errors, and the whole command against a stand-in rig
// script (XENO_RUN_BOCHS) that plays Bochs's part: a good run, a timeout,
// Bochs missing.
#include "harness/bochs_command.hpp"

#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "harness/cli.hpp"
#include "temp_dir.hpp"

using namespace xeno::harness;

namespace {

// What a hello run on skylake leaves in com1.txt (shortened boot log).
const char* const kCom1 = "hw: xeno kernel entered long mode\n"
                          "hw: cmdline \"guest_mem_mb=16 guest_load=0x8000 guest_entry=0x8000 trace=on\"\n"
                          "hw-caps: 0x480 0xd810000000002b\n"
                          "Xeno hypervisor: 9 memory regions, 1 modules, cmdline '...'\n"
                          "mm: 32403 frames (126 MiB) managed, bitmap at 0x15b000\n"
                          "vmx-msr 0x480 0xd810000000002b\n"
                          "vmx: VMXON ok, revision 0x2b, VMCS size 4096, EPT, unrestricted guest, VPID\n"
                          "domain: running guest at 0:0x8000 (ept)\n"
                          "hello from xeno\n"
                          "ok a: b\n"
                          "domain: guest wrote 0 to the debug exit port\n"
                          "exits: 33 emulated=7 IO_INSTRUCTION=33\n"
                          "domain: exit status 0\n"
                          "xeno: exit status 0\n";

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
console = "hello from xeno\n"
)";

// A stand-in for run-bochs.sh: args [--witness] ISO PROFILE OUTDIR TIMEOUT.
const char* const kGoodRig = R"sh(#!/bin/sh
[ "$1" = --witness ] && { w=1; shift; }
out=$3
printf 'hw: boot\ndomain: running guest at 0:0x8000 (ept)\nhello from xeno\nexits: 2 emulated=1\nxeno: exit status 0\n' > $out/com1.txt
printf 'exit 0 IO_INSTRUCTION qual=0x3f80000 rip=0x8000 len=1\nexit 1 IO_INSTRUCTION qual=0x3f80000 rip=0x8000 len=1\n' > $out/com2.txt
[ -n "${w:-}" ] && echo "1d[CPU0  ] VMEXIT reason = 30 (IO) qualification=0x3f80000" > $out/witness.txt
echo "profile=$2 timeout=$4 cpus=${XENO_BOCHS_CPUS:-unset}" > $out/args.txt
echo "xeno: exit status 0 (bochs $2, 1.0s)"
exit 0
)sh";

const char* const kTimeoutRig = R"sh(#!/bin/sh
printf 'hw: boot\n' > $3/com1.txt
echo "run-bochs: timeout after $4s without 'xeno: exit status' (see $3/com1.txt, $3/bochs.log)"
exit 2
)sh";

const char* const kNoBochsRig = R"sh(#!/bin/sh
echo "run-bochs: bochs is not installed" >&2
exit 3
)sh";

struct BochsCli {
    xeno::test::TempDir tmp;
    std::ostringstream out;
    std::ostringstream err;

    BochsCli()
    {
        tmp.write("scenarios/demo/scenario.toml", kToml);
        tmp.write("hw/iso/demo.iso", "not really an ISO");
        ::unsetenv("XENO_RUN_BOCHS");
    }
    ~BochsCli() { ::unsetenv("XENO_RUN_BOCHS"); }

    void use_rig(const char* script) { ::setenv("XENO_RUN_BOCHS", tmp.write("rig.sh", script).c_str(), 1); }

    int run(std::vector<std::string> args)
    {
        std::vector<const char*> argv{"xeno", "bochs"};
        for (const std::string& a : args) {
            argv.push_back(a.c_str());
        }
        CliEnv env{out, err, tmp.path() / "sim", nullptr};
        return xeno_main(static_cast<int>(argv.size()), argv.data(), env);
    }

    std::string scenario() const { return (tmp.path() / "scenarios/demo").string(); }
};

}  // namespace

TEST_CASE("parse_com1 keeps the guest's lines and reads status and stats from the LOG lines", "[bochs]")
{
    Com1Report r = parse_com1(kCom1);
    CHECK(r.guest_started);
    CHECK(r.console == "hello from xeno\nok a: b\n");
    REQUIRE(r.status.has_value());
    CHECK(*r.status == 0);
    REQUIRE(r.emulated.has_value());
    CHECK(*r.emulated == 7);
}

TEST_CASE("parse_com1 splits a LOG line off a console line without its newline", "[bochs]")
{
    Com1Report r = parse_com1("domain: running guest at 0:0x8000\nabc"
                              "domain: guest wrote 3 to the debug exit port\nxeno: exit status 3\n");
    CHECK(r.console == "abc");
    CHECK(r.status == 3);
    CHECK_FALSE(r.emulated.has_value());
}

TEST_CASE("parse_com1: a run that never reached the guest has no console; a negative status is read", "[bochs]")
{
    Com1Report r = parse_com1("hw: xeno kernel entered long mode\nvmx: VMXON failed\nxeno: exit status -1\n");
    CHECK_FALSE(r.guest_started);
    CHECK(r.console.empty());
    CHECK(r.status == -1);
    CHECK_FALSE(parse_com1("hw: xeno kernel entered long mode\n").status.has_value());
    CHECK_FALSE(parse_com1("").status.has_value());
}

TEST_CASE("default_iso_path is the hw build's iso next to the sim build", "[bochs]")
{
    CHECK(default_iso_path("/w/build/sim", "hello") == std::filesystem::path("/w/build/hw/iso/hello.iso"));
    CHECK(default_iso_path("/w/build/sim", "paging", std::string("shadow")) ==
          std::filesystem::path("/w/build/hw/iso/paging.shadow.iso"));
}

TEST_CASE("xeno bochs argument errors are one line and exit status 2", "[bochs]")
{
    BochsCli cli;
    CHECK(cli.run({}) == kExitUsage);
    CHECK_THAT(cli.err.str(), Catch::StartsWith("xeno: error: scenario is required"));

    BochsCli bad_profile;
    CHECK(bad_profile.run({bad_profile.scenario(), "--profile", "nehalem"}) == kExitUsage);
    CHECK_THAT(bad_profile.err.str(), Catch::StartsWith("xeno: error: --profile: nehalem not in {penryn,skylake}"));

    BochsCli bad_paging;
    CHECK(bad_paging.run({bad_paging.scenario(), "--paging", "npt"}) == kExitUsage);
    CHECK_THAT(bad_paging.err.str(), Catch::StartsWith("xeno: error: --paging: npt not in {ept,shadow}"));

    BochsCli no_ept;
    CHECK(no_ept.run({no_ept.scenario(), "--profile", "penryn", "--paging", "ept"}) == kExitUsage);
    CHECK(no_ept.err.str() == "xeno: error: profile penryn has no EPT: use --paging shadow\n");

    BochsCli bad_timeout;
    CHECK(bad_timeout.run({bad_timeout.scenario(), "--timeout", "0"}) == kExitUsage);
    CHECK_THAT(bad_timeout.err.str(), Catch::StartsWith("xeno: error: --timeout"));

    BochsCli no_scenario;
    CHECK(no_scenario.run({(no_scenario.tmp.path() / "nope").string()}) == kExitUsage);
    CHECK_THAT(no_scenario.err.str(), Catch::StartsWith("xeno: error: ") && Catch::Contains("nope"));
}

TEST_CASE("xeno bochs without the hw build's ISO says where it looked", "[bochs]")
{
    BochsCli cli;
    std::filesystem::remove(cli.tmp.path() / "hw/iso/demo.iso");
    CHECK(cli.run({cli.scenario()}) == kExitUsage);
    CHECK(cli.err.str() == "xeno: error: no ISO " + (cli.tmp.path() / "hw/iso/demo.iso").string() +
                               " (build the hw preset: cmake --build --preset hw)\n");
    CHECK(cli.out.str().empty());

    BochsCli shadow;
    CHECK(shadow.run({shadow.scenario(), "--paging", "shadow"}) == kExitUsage);
    CHECK(shadow.err.str() == "xeno: error: no ISO " + (shadow.tmp.path() / "hw/iso/demo.shadow.iso").string() +
                                  " (build the hw preset: cmake --build --preset hw)\n");

    BochsCli other;
    CHECK(other.run({other.scenario(), "--iso", "/nonexistent/x.iso"}) == kExitUsage);
    CHECK_THAT(other.err.str(), Catch::StartsWith("xeno: error: no ISO /nonexistent/x.iso"));
}

TEST_CASE("xeno bochs prints the console and the summary, copies trace and witness", "[bochs]")
{
    BochsCli cli;
    cli.use_rig(kGoodRig);
    std::string trace = (cli.tmp.path() / "t.trace").string();
    std::string witness = (cli.tmp.path() / "w.txt").string();
    std::string keep = (cli.tmp.path() / "keep").string();
    REQUIRE(cli.run({cli.scenario(), "--profile", "penryn", "--trace", trace, "--witness", witness, "--out", keep,
                     "--timeout", "9", "--expect"}) == kExitOk);
    CHECK_THAT(cli.out.str(), Catch::Matches("hello from xeno\nsummary: scenario=demo profile=penryn status=0 exits=2 "
                                             "insns=0 vtime=0 wall=[0-9]+\\.[0-9]{3} emulated=1\n"));
    CHECK(cli.err.str().empty());
    CHECK(xeno::test::read_file(trace) == "exit 0 IO_INSTRUCTION qual=0x3f80000 rip=0x8000 len=1\n"
                                          "exit 1 IO_INSTRUCTION qual=0x3f80000 rip=0x8000 len=1\n");
    CHECK_THAT(xeno::test::read_file(witness), Catch::Contains("VMEXIT reason = 30"));
    CHECK(xeno::test::read_file(cli.tmp.path() / "keep/args.txt") == "profile=penryn timeout=9 cpus=1\n");
}

TEST_CASE("xeno bochs gives the rig the processors [run] bochs_cpus or --cpus asks for", "[bochs]")
{
    BochsCli scenario_cpus;
    scenario_cpus.tmp.write("scenarios/demo/scenario.toml",
                            std::string(kToml).replace(std::string(kToml).find("max_instructions"), 0, "bochs_cpus = 2\n"));
    scenario_cpus.use_rig(kGoodRig);
    const std::string keep = (scenario_cpus.tmp.path() / "keep").string();
    REQUIRE(scenario_cpus.run({scenario_cpus.scenario(), "--out", keep}) == kExitOk);
    CHECK(xeno::test::read_file(keep + "/args.txt") == "profile=skylake timeout=120 cpus=2\n");
    REQUIRE(scenario_cpus.run({scenario_cpus.scenario(), "--out", keep, "--cpus", "4"}) == kExitOk);
    CHECK(xeno::test::read_file(keep + "/args.txt") == "profile=skylake timeout=120 cpus=4\n");

    BochsCli too_many;
    CHECK(too_many.run({too_many.scenario(), "--cpus", "9"}) == kExitUsage);
    CHECK_THAT(too_many.err.str(), Catch::StartsWith("xeno: error: --cpus"));
}

TEST_CASE("xeno bochs --expect reports a console difference with status 1", "[bochs]")
{
    BochsCli cli;
    cli.tmp.write("scenarios/demo/scenario.toml",
                  std::string(kToml).replace(std::string(kToml).find("hello from"), 5, "HELLO"));
    cli.use_rig(kGoodRig);
    CHECK(cli.run({cli.scenario(), "--expect"}) == kExitMismatch);
    CHECK_THAT(cli.err.str(), Catch::StartsWith("xeno: expect: demo (skylake, bochs): console differs"));
}

TEST_CASE("xeno bochs: a timeout and a missing Bochs are one error line and status 206", "[bochs]")
{
    BochsCli timeout;
    timeout.use_rig(kTimeoutRig);
    // --out: a failed run keeps its files for the message's "see ..."; keep them in the test's dir.
    CHECK(timeout.run({timeout.scenario(), "--timeout", "5", "--out", (timeout.tmp.path() / "o").string()}) ==
          kExitFailed);
    CHECK_THAT(timeout.err.str(), Catch::StartsWith("xeno: error: Bochs timeout after 5s without 'xeno: exit status'"));
    CHECK(timeout.out.str().empty());

    BochsCli missing;
    missing.use_rig(kNoBochsRig);
    CHECK(missing.run({missing.scenario(), "--out", (missing.tmp.path() / "o").string()}) == kExitFailed);
    CHECK(missing.err.str() == "xeno: error: bochs is not installed\n");
}
