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
    CHECK(c.memory_bytes == (16u << 20) + (64u << 20) + (256u << 10));  // + 1/64 of the guest's
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
    o.scenario_dir = "scenarios/hello";
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

namespace {

Scenario kernel_sample()
{
    Scenario s;
    s.name = "linux";
    s.file = "scenarios/linux/scenario.toml";
    s.kernel = "bzImage";
    s.memory_mb = 512;
    s.profiles = {"penryn", "skylake"};
    return s;
}

}  // namespace

TEST_CASE("a kernel's command line: no guest_load or guest_entry, QEMU's options at the end", "[options]")
{
    Scenario s = kernel_sample();
    RunOptions o;
    CHECK(build_cmdline(s, o) == "guest_mem_mb=512");
    s.smp = 4;
    s.quantum_us = 2000;
    s.debug_exit = "qemu";
    s.on_reset = "restart";
    o.paging = "shadow";
    o.trace_file = "t";
    CHECK(build_cmdline(s, o) == "guest_mem_mb=512 smp=4 quantum_us=2000 paging=shadow trace=on debug_exit=qemu "
                                 "on_reset=restart");
    // The defaults are left out.
    s.debug_exit = "xeno";
    s.on_reset = "exit";
    CHECK(build_cmdline(s, RunOptions{}) == "guest_mem_mb=512 smp=4 quantum_us=2000");
    // A flat image gets them too when asked for.
    Scenario image = sample();
    image.debug_exit = "qemu";
    CHECK(build_cmdline(image, RunOptions{}) == "guest_mem_mb=16 guest_load=0x8000 guest_entry=0x8000 debug_exit=qemu");
}

TEST_CASE("a kernel's machine: module 0 \"kernel\", then initrd and append; memory for the modules", "[options]")
{
    Scenario s = kernel_sample();
    s.initrd = "initrd.img";
    s.append = "console=ttyS0";
    s.max_instructions = 0;
    RunOptions o;
    o.timeout_seconds = 0.25;
    xeno::sim::MachineConfig c = build_machine_config(s, o, std::vector<std::uint8_t>(4097, 1), {7}, {9, 9});
    CHECK(c.guest_cmdline == "kernel");
    CHECK(c.guest_image.size() == 4097);
    REQUIRE(c.modules.size() == 2);
    CHECK(c.modules[0].name == "initrd");
    CHECK(c.modules[0].bytes == std::vector<std::uint8_t>{9, 9});
    CHECK(c.modules[1].name == "append");
    CHECK(std::string(c.modules[1].bytes.begin(), c.modules[1].bytes.end()) == "console=ttyS0");
    CHECK(c.serial_input == std::vector<std::uint8_t>{7});
    // 512 MiB + 64 MiB + kernel (2 pages) + serial input + initrd + append (a page each).
    CHECK(c.memory_bytes == (512u << 20) + (64u << 20) + (8u << 20) + 5 * 4096);
    CHECK(c.max_guest_instructions == 0);
    CHECK(c.wall_timeout_ms == 250);
    CHECK_FALSE(c.hash_memory);
    // Up to 8 GiB of guest memory.
    s.memory_mb = kMaxKernelMemoryMb;
    CHECK(build_machine_config(s, o, {1}).memory_bytes > (std::uint64_t{8} << 30));
}

TEST_CASE("-m sizes", "[options]")
{
    CHECK(parse_memory_mb("128").value() == 128);
    CHECK(parse_memory_mb("512M").value() == 512);
    CHECK(parse_memory_mb("512m").value() == 512);
    CHECK(parse_memory_mb("2G").value() == 2048);
    CHECK(parse_memory_mb("8g").value() == 8192);
    for (const char* bad : {"", "0", "G", "1T", "1.5G", "-5", "12 M", "99999999999999999999"}) {
        INFO(bad);
        CHECK_FALSE(parse_memory_mb(bad).ok());
    }
}

TEST_CASE("--kernel's scenario: named after the file, every profile, no limit of instructions", "[options]")
{
    RunOptions o;
    o.kernel = "/boot/vmlinuz-6.1";
    Scenario s = kernel_run_scenario(o);
    CHECK(s.name == "vmlinuz-6.1");
    CHECK(s.is_kernel());
    CHECK(s.kernel == "/boot/vmlinuz-6.1");
    CHECK(s.memory_mb == 128);
    CHECK(s.lists_profile("penryn"));
    CHECK(s.lists_profile("skylake"));
    CHECK(s.max_instructions == 0);
    CHECK(s.max_vtime_ms == kDefaultMaxVtimeMs);
    CHECK_FALSE(check_options(s, o).has_value());
    o.memory = "8G";
    CHECK_FALSE(check_options(s, o).has_value());
    CHECK(with_overrides(s, o).memory_mb == 8192);
    o.memory = "8193";
    CHECK(check_options(s, o).has_value());
}
