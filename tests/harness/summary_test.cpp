#include "harness/summary.hpp"

#include <catch2/catch.hpp>

#include "harness/expectation.hpp"

using namespace xeno::harness;

TEST_CASE("the summary line has the fields in order, wall with three decimals, emulated last", "[summary]")
{
    xeno::sim::MachineResult r;
    r.ok = true;
    r.status = 3;
    r.exits = 12;
    r.guest_instructions = 3456;
    r.vtime_ns = 7890;
    r.emulated_instructions = 5;
    r.memory_hash = 0xabc;
    Summary s = make_summary("hello", "penryn", r, 1.23456, false);
    CHECK(format_summary(s) ==
          "summary: scenario=hello profile=penryn status=3 exits=12 insns=3456 vtime=7890 wall=1.235 emulated=5");
    s.wall_seconds = 0.0;
    s.status = -1;
    CHECK(format_summary(s) ==
          "summary: scenario=hello profile=penryn status=-1 exits=12 insns=3456 vtime=7890 wall=0.000 emulated=5");
    Summary h = make_summary("hello", "skylake", r, 0.5, true);
    CHECK(format_summary(h) == "summary: scenario=hello profile=skylake status=3 exits=12 insns=3456 vtime=7890 "
                               "wall=0.500 emulated=5 memhash=0x0000000000000abc");
    r.end = "halted";
    Summary e = make_summary("idle", "penryn", r, 0.25, false);
    CHECK(format_summary(e) == "summary: scenario=idle profile=penryn status=3 exits=12 insns=3456 vtime=7890 "
                               "wall=0.250 emulated=5 end=halted");
}

TEST_CASE("strip_wall removes only the wall field", "[summary]")
{
    CHECK(strip_wall("summary: scenario=a profile=b status=0 exits=1 insns=2 vtime=3 wall=0.123 emulated=4") ==
          "summary: scenario=a profile=b status=0 exits=1 insns=2 vtime=3 emulated=4");
    CHECK(strip_wall("summary: x=1 wall=9.999") == "summary: x=1");
    CHECK(strip_wall("no wall here") == "no wall here");
}

TEST_CASE("expectations: a match, a wrong status, console differences", "[expect]")
{
    Expectation e{0, std::string("ok a\nok b\ndone\n"), "exit"};
    CHECK_FALSE(compare_expectation(e, 0, "ok a\nok b\ndone\n").has_value());
    CHECK(compare_expectation(e, 1, "ok a\nok b\ndone\n") == std::optional<std::string>("status 1 but expected 0"));
    CHECK(compare_expectation(e, 1, "ok a\nFAIL b x=0x1\ndone\n") ==
          std::optional<std::string>(R"(console differs at line 2, column 1: expected "ok b" but got "FAIL b x=0x1")"));
    CHECK(compare_expectation(e, 0, "ok a\nok c\n") ==
          std::optional<std::string>(R"(console differs at line 2, column 4: expected "ok b" but got "ok c")"));
    CHECK(compare_expectation(e, 0, "ok a\n") ==
          std::optional<std::string>(R"(console ends early at line 2, column 1: expected the line "ok b")"));
    CHECK(compare_expectation(e, 0, "") ==
          std::optional<std::string>(R"(console ends early at line 1, column 1: expected the line "ok a")"));
    CHECK(compare_expectation(e, 0, "ok a\nok b\ndone\nextra\n") ==
          std::optional<std::string>(R"(console has extra output at line 4, column 1: "extra")"));
    CHECK(compare_expectation(e, 0, "ok a\nok b\ndone") ==
          std::optional<std::string>(R"(console ends early at line 3, column 5: expected the line "done")"));

    Expectation status_only{5, std::nullopt, "exit"};
    CHECK_FALSE(compare_expectation(status_only, 5, "anything").has_value());
    CHECK(compare_expectation(status_only, 0, "") == std::optional<std::string>("status 0 but expected 5"));
}

TEST_CASE("expectations: how the domain ended", "[expect]")
{
    Expectation exit5{5, std::nullopt, "exit"};
    CHECK_FALSE(compare_expectation(exit5, 5, "", "exit", "the guest wrote 5 to the debug exit port").has_value());
    // A hypervisor-decided end never passes for the status a guest wrote.
    CHECK(compare_expectation(exit5, 255, "", "halted", "halted with interrupts disabled") ==
          std::optional<std::string>("the domain ended (halted: halted with interrupts disabled) but expected exit"));
    Expectation halted{0, std::string("x\n"), "halted"};
    CHECK_FALSE(compare_expectation(halted, 255, "x\n", "halted", "halted with interrupts disabled").has_value());
    CHECK(compare_expectation(halted, 0, "x\n", "exit", "the guest wrote 0 to the debug exit port").has_value());
    CHECK(guest_chose_end("exit"));
    CHECK(guest_chose_end("poweroff"));
    CHECK_FALSE(guest_chose_end("crash"));
    CHECK_FALSE(guest_chose_end("halted"));
    CHECK_FALSE(guest_chose_end("reset"));
}

TEST_CASE("quote escapes what would break a one-line message", "[expect]")
{
    CHECK(quote("a\tb\r\n\"\\") == R"("a\tb\r\n\"\\")");
    CHECK(quote(std::string("\x01\x7f\xff", 3)) == R"("\x01\x7f\xff")");
}
