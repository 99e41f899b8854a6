#include "harness/run_options.hpp"

#include <catch2/catch.hpp>

using namespace xeno::harness;

namespace {

Scenario sample()
{
    Scenario s;
    s.name = "hello";
    s.file = "scenarios/hello/scenario.toml";
    s.image = "guest.bin";
    s.load_address = 0x8000;
    s.entry = 0x8000;
    s.memory_mb = 16;
    s.profiles = {"penryn", "skylake"};
    s.max_instructions = 1000;
    s.expect = Expectation{0, std::string("hello from xeno\n"), "exit"};
    return s;
}

}  // namespace

TEST_CASE("the hypervisor command line carries the guest's layout, then paging and trace", "[options]")
{
    Scenario s = sample();
    RunOptions o;
    CHECK(build_cmdline(s, o) == "guest_mem_mb=16 guest_load=0x8000 guest_entry=0x8000");
    o.paging = "shadow";
    CHECK(build_cmdline(s, o) == "guest_mem_mb=16 guest_load=0x8000 guest_entry=0x8000 paging=shadow");
    o.trace_file = "t.trace";
    CHECK(build_cmdline(s, o) == "guest_mem_mb=16 guest_load=0x8000 guest_entry=0x8000 paging=shadow trace=on");
    o.paging.reset();
    s.memory_mb = 128;
    s.load_address = 0x100000;
    s.entry = 0xfff0;
    CHECK(build_cmdline(s, o) == "guest_mem_mb=128 guest_load=0x100000 guest_entry=0xfff0 trace=on");
}

TEST_CASE("the machine gets guest memory plus 64 MiB, the image, the profile and the limit", "[options]")
{
    Scenario s = sample();
    RunOptions o;
    o.profile = "penryn";
    xeno::sim::MachineConfig c = build_machine_config(s, o, {1, 2, 3});
    CHECK(c.profile == "penryn");
    CHECK(c.memory_bytes == (16u << 20) + (64u << 20));
    CHECK(c.guest_image == std::vector<std::uint8_t>{1, 2, 3});
    CHECK(c.cmdline == "guest_mem_mb=16 guest_load=0x8000 guest_entry=0x8000");
    CHECK(c.max_guest_instructions == 1000);
    o.max_insns = 77;
    CHECK(build_machine_config(s, o, {}).max_guest_instructions == 77);
}

TEST_CASE("options are checked against the scenario", "[options]")
{
    Scenario s = sample();
    RunOptions o;
    CHECK_FALSE(check_options(s, o).has_value());
    o.expect = true;
    CHECK_FALSE(check_options(s, o).has_value());

    s.profiles = {"penryn"};
    CHECK(check_options(s, o) ==
          std::optional<std::string>("scenario hello does not run on profile skylake (its [run] profiles: penryn)"));
    o.profile = "haswell";
    CHECK(check_options(s, o) == std::optional<std::string>("unknown profile \"haswell\" (known: penryn, skylake)"));

    o.profile = "penryn";
    o.paging = "ept";
    CHECK(check_options(s, o) == std::optional<std::string>("profile penryn has no EPT: use --paging shadow"));
    o.paging = "shadow";
    CHECK_FALSE(check_options(s, o).has_value());

    s.expect.reset();
    CHECK(check_options(s, o) ==
          std::optional<std::string>("--expect: scenarios/hello/scenario.toml has no [expect] table"));
    o.expect = false;
    CHECK_FALSE(check_options(s, o).has_value());
}
