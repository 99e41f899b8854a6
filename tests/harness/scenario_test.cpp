#include "harness/scenario.hpp"

#include <catch2/catch.hpp>

#include "temp_dir.hpp"

using xeno::harness::Outcome;
using xeno::harness::Scenario;
using xeno::harness::load_scenario;
using xeno::harness::parse_scenario;

namespace {

const char* const kValid = R"(description = "a test"
[guest]
image = "guest.bin"
load_address = 0x8000
entry = 0x8010
memory_mb = 16
[run]
profiles = ["penryn", "skylake"]
max_instructions = 50000000
[expect]
status = 7
console = "hello from xeno\n"
)";

// kValid with `from` replaced by `to`.
std::string valid_with(std::string_view from, std::string_view to)
{
    std::string text = kValid;
    std::size_t at = text.find(from);
    REQUIRE(at != std::string::npos);
    text.replace(at, from.size(), to);
    return text;
}

std::string error_of(std::string_view text)
{
    Outcome<Scenario> s = parse_scenario(text, "scenarios/t/scenario.toml");
    REQUIRE_FALSE(s.ok());
    return s.error();
}

}  // namespace

TEST_CASE("a valid scenario.toml gives every field", "[scenario]")
{
    Outcome<Scenario> s = parse_scenario(kValid, "scenarios/t/scenario.toml");
    REQUIRE(s.ok());
    const Scenario& v = s.value();
    CHECK(v.name == "t");
    CHECK(v.description == "a test");
    CHECK(v.image == "guest.bin");
    CHECK(v.load_address == 0x8000);
    CHECK(v.entry == 0x8010);
    CHECK(v.memory_mb == 16);
    CHECK(v.memory_bytes() == 16u << 20);
    CHECK(v.profiles == std::vector<std::string>{"penryn", "skylake"});
    CHECK(v.max_instructions == 50000000);
    CHECK(v.bochs_cpus == 1);  // the default
    REQUIRE(v.expect.has_value());
    CHECK(v.expect->status == 7);
    CHECK(v.expect->console == std::optional<std::string>("hello from xeno\n"));
    CHECK(v.lists_profile("penryn"));
    CHECK_FALSE(v.lists_profile("haswell"));
}

TEST_CASE("[expect] is optional, and so are its console and the description", "[scenario]")
{
    std::string text = kValid;
    text = text.substr(0, text.find("[expect]"));
    text.erase(0, text.find('\n') + 1);  // drop the description
    Outcome<Scenario> s = parse_scenario(text, "x/scenario.toml");
    REQUIRE(s.ok());
    CHECK_FALSE(s.value().expect.has_value());
    CHECK(s.value().description.empty());

    Outcome<Scenario> no_console = parse_scenario(valid_with("console = \"hello from xeno\\n\"", ""), "x/scenario.toml");
    REQUIRE(no_console.ok());
    REQUIRE(no_console.value().expect.has_value());
    CHECK_FALSE(no_console.value().expect->console.has_value());
}

TEST_CASE("a TOML syntax error reports file, line and column", "[scenario]")
{
    std::string e = error_of(valid_with("memory_mb = 16", "memory_mb = = 16"));
    CHECK_THAT(e, Catch::StartsWith("scenarios/t/scenario.toml:6:"));
}

TEST_CASE("an error message is one line even when it quotes a newline from the file", "[scenario]")
{
    // Found by fuzz-scenario: toml++ quotes the character a syntax error
    // stopped at, here the newline after `t`.
    std::string syntax = error_of(valid_with("memory_mb = 16", "memory_mb = t\n"));
    CHECK(syntax.find('\n') == std::string::npos);
    CHECK_THAT(syntax, Catch::Contains("\\x0a"));
    // A quoted key with an escaped newline, named as an unknown key.
    std::string key = error_of(valid_with("memory_mb = 16", "\"mem\\nory\" = 16"));
    CHECK(key.find('\n') == std::string::npos);
    CHECK_THAT(key, Catch::Contains("mem\\x0aory"));
}

TEST_CASE("type errors name the file and the key", "[scenario]")
{
    CHECK(error_of(valid_with("memory_mb = 16", "memory_mb = \"16\"")) ==
          "scenarios/t/scenario.toml: guest.memory_mb: expected an integer, got a string");
    CHECK(error_of(valid_with("image = \"guest.bin\"", "image = 3")) ==
          "scenarios/t/scenario.toml: guest.image: expected a string, got an integer");
    CHECK(error_of(valid_with("profiles = [\"penryn\", \"skylake\"]", "profiles = \"penryn\"")) ==
          "scenarios/t/scenario.toml: run.profiles: expected an array of strings, got a string");
    CHECK(error_of(valid_with("profiles = [\"penryn\", \"skylake\"]", "profiles = [\"penryn\", 2]")) ==
          "scenarios/t/scenario.toml: run.profiles: expected an array of strings, found an integer");
    CHECK(error_of(valid_with("status = 7", "status = 7.0")) ==
          "scenarios/t/scenario.toml: expect.status: expected an integer, got a floating-point number");
    CHECK(error_of(valid_with("console = \"hello from xeno\\n\"", "console = true")) ==
          "scenarios/t/scenario.toml: expect.console: expected a string, got a boolean");
    CHECK(error_of(valid_with("[run]", "run = 1\n[xrun]")) ==
          "scenarios/t/scenario.toml: xrun: unknown key");
}

TEST_CASE("missing keys and tables are named", "[scenario]")
{
    CHECK(error_of(valid_with("memory_mb = 16\n", "")) ==
          "scenarios/t/scenario.toml: guest.memory_mb: missing (required)");
    CHECK(error_of(valid_with("max_instructions = 50000000\n", "")) ==
          "scenarios/t/scenario.toml: run.max_instructions: missing (required)");
    CHECK(error_of(valid_with("image = \"guest.bin\"\n", "")) ==
          "scenarios/t/scenario.toml: guest.image: missing (required unless guest.kernel names a kernel)");
    CHECK(error_of("[run]\nprofiles = [\"penryn\"]\nmax_instructions = 1\n") ==
          "scenarios/t/scenario.toml: guest: missing table (required)");
    CHECK(error_of(valid_with("status = 7\n", "")) ==
          "scenarios/t/scenario.toml: expect.status: missing (required)");
}

TEST_CASE("out-of-range values are refused", "[scenario]")
{
    CHECK(error_of(valid_with("memory_mb = 16", "memory_mb = 0")) ==
          "scenarios/t/scenario.toml: guest.memory_mb: expected an integer from 1 to 3072, got 0");
    CHECK(error_of(valid_with("memory_mb = 16", "memory_mb = 4096")) ==
          "scenarios/t/scenario.toml: guest.memory_mb: expected an integer from 1 to 3072, got 4096");
    CHECK(error_of(valid_with("entry = 0x8010", "entry = 0x10000")) ==
          "scenarios/t/scenario.toml: guest.entry: expected an integer from 0x0 to 0xffff, got 0x10000");
    CHECK(error_of(valid_with("entry = 0x8010", "entry = 0x7000")) ==
          "scenarios/t/scenario.toml: guest.entry: 0x7000 is below the load address 0x8000");
    CHECK(error_of(valid_with("load_address = 0x8000", "load_address = 0x1000000")) ==
          "scenarios/t/scenario.toml: guest.load_address: 0x1000000 is outside guest memory (16 MiB)");
    CHECK(error_of(valid_with("load_address = 0x8000", "load_address = -1")) ==
          "scenarios/t/scenario.toml: guest.load_address: expected an integer from 0x0 to 0xbfffffff, got -1");
    CHECK(error_of(valid_with("max_instructions = 50000000", "max_instructions = 0")) ==
          "scenarios/t/scenario.toml: run.max_instructions: expected an integer from 1 to 9223372036854775807, "
          "got 0");
    CHECK(error_of(valid_with("max_instructions = 50000000", "max_instructions = 50000000\nbochs_cpus = 9")) ==
          "scenarios/t/scenario.toml: run.bochs_cpus: expected an integer from 1 to 8, got 9");
    Outcome<Scenario> two = parse_scenario(valid_with("max_instructions = 50000000", "max_instructions = 1\nbochs_cpus = 2"),
                                           "scenarios/t/scenario.toml");
    REQUIRE(two.ok());
    CHECK(two.value().bochs_cpus == 2);
    CHECK(error_of(valid_with("status = 7", "status = 256")) ==
          "scenarios/t/scenario.toml: expect.status: expected an integer from 0 to 255, got 256");
    CHECK(error_of(valid_with("image = \"guest.bin\"", "image = \"\"")) ==
          "scenarios/t/scenario.toml: guest.image: must not be empty");
}

TEST_CASE("profiles must be known, listed once, and at least one", "[scenario]")
{
    CHECK(error_of(valid_with("[\"penryn\", \"skylake\"]", "[\"penryn\", \"haswell\"]")) ==
          "scenarios/t/scenario.toml: run.profiles: unknown profile \"haswell\" (known: penryn, skylake)");
    CHECK(error_of(valid_with("[\"penryn\", \"skylake\"]", "[\"skylake\", \"skylake\"]")) ==
          "scenarios/t/scenario.toml: run.profiles: profile \"skylake\" listed twice");
    CHECK(error_of(valid_with("[\"penryn\", \"skylake\"]", "[]")) ==
          "scenarios/t/scenario.toml: run.profiles: must list at least one profile");
}

TEST_CASE("[run] paging is optional: absent means the profile's default only", "[scenario]")
{
    Outcome<Scenario> s = parse_scenario(kValid, "scenarios/t/scenario.toml");
    REQUIRE(s.ok());
    CHECK(s.value().paging.empty());
    Outcome<Scenario> both = parse_scenario(
        valid_with("max_instructions = 50000000", "max_instructions = 50000000\npaging = [\"shadow\", \"ept\"]"),
        "scenarios/t/scenario.toml");
    REQUIRE(both.ok());
    CHECK(both.value().paging == std::vector<std::string>{"shadow", "ept"});
}

TEST_CASE("[run] paging: known modes, each once, at least one, one each listed profile has", "[scenario]")
{
    auto with = [](std::string_view paging) {
        return valid_with("max_instructions = 50000000", "max_instructions = 50000000\npaging = " + std::string(paging));
    };
    CHECK(error_of(with("\"ept\"")) == "scenarios/t/scenario.toml: run.paging: expected an array of strings, got a string");
    CHECK(error_of(with("[\"ept\", 1]")) ==
          "scenarios/t/scenario.toml: run.paging: expected an array of strings, found an integer");
    CHECK(error_of(with("[\"npt\"]")) ==
          "scenarios/t/scenario.toml: run.paging: unknown paging mode \"npt\" (known: ept, shadow)");
    CHECK(error_of(with("[\"shadow\", \"shadow\"]")) ==
          "scenarios/t/scenario.toml: run.paging: paging mode \"shadow\" listed twice");
    CHECK(error_of(with("[]")) == "scenarios/t/scenario.toml: run.paging: must list at least one paging mode "
                                  "(or leave the key out for the profile's default)");
    // penryn has no EPT: it would run nothing.
    CHECK(error_of(with("[\"ept\"]")) ==
          "scenarios/t/scenario.toml: run.paging: profile \"penryn\" has none of these paging modes (penryn has no EPT)");
    std::string skylake_only = valid_with("[\"penryn\", \"skylake\"]", "[\"skylake\"]");
    skylake_only.replace(skylake_only.find("max_instructions"), 0, "paging = [\"ept\"]\n");
    Outcome<Scenario> ept = parse_scenario(skylake_only, "scenarios/t/scenario.toml");
    INFO(ept.error());
    REQUIRE(ept.ok());
    CHECK(ept.value().paging == std::vector<std::string>{"ept"});
}

TEST_CASE("paging modes per profile: penryn has shadow only, skylake both and EPT by default", "[scenario]")
{
    using namespace xeno::harness;
    CHECK(is_known_paging_mode("ept"));
    CHECK(is_known_paging_mode("shadow"));
    CHECK_FALSE(is_known_paging_mode("npt"));
    CHECK_FALSE(profile_has_paging("penryn", "ept"));
    CHECK(profile_has_paging("penryn", "shadow"));
    CHECK(profile_has_paging("skylake", "ept"));
    CHECK(profile_has_paging("skylake", "shadow"));
    CHECK(default_paging("penryn") == "shadow");
    CHECK(default_paging("skylake") == "ept");
}

TEST_CASE("a misspelt key is an error, not a silently ignored setting", "[scenario]")
{
    CHECK(error_of(valid_with("memory_mb = 16", "memory_mb = 16\nmemory = 16")) ==
          "scenarios/t/scenario.toml: guest.memory: unknown key");
    CHECK(error_of(valid_with("max_instructions", "max_insns = 1\nmax_instructions")) ==
          "scenarios/t/scenario.toml: run.max_insns: unknown key");
    CHECK(error_of(valid_with("status = 7", "status = 7\nstdout = \"\"")) ==
          "scenarios/t/scenario.toml: expect.stdout: unknown key");
}

TEST_CASE("load_scenario reads <dir>/scenario.toml and names the scenario after the directory", "[scenario]")
{
    xeno::test::TempDir tmp;
    tmp.write("scenarios/demo/scenario.toml", kValid);
    Outcome<Scenario> s = load_scenario((tmp.path() / "scenarios/demo/").string());
    REQUIRE(s.ok());
    CHECK(s.value().name == "demo");
    CHECK(s.value().file == tmp.path() / "scenarios/demo/scenario.toml");

    Outcome<Scenario> missing = load_scenario(tmp.path() / "scenarios/nope");
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error() == "no scenario at " + (tmp.path() / "scenarios/nope").string() + ": not a directory");

    std::filesystem::create_directories(tmp.path() / "scenarios/empty");
    Outcome<Scenario> empty = load_scenario(tmp.path() / "scenarios/empty");
    REQUIRE_FALSE(empty.ok());
    CHECK_THAT(empty.error(), Catch::Contains("cannot read") && Catch::EndsWith("empty/scenario.toml"));
}

TEST_CASE("the scenarios in the tree load", "[scenario]")
{
    for (const char* name : {"hello", "cpuid-msr-tsc"}) {
        Outcome<Scenario> s = load_scenario(std::filesystem::path(XENO_SOURCE_DIR) / "scenarios" / name);
        INFO(name << ": " << s.error());
        REQUIRE(s.ok());
        CHECK(s.value().name == name);
        CHECK(s.value().profiles == std::vector<std::string>{"penryn", "skylake"});
        CHECK(s.value().load_address == 0x8000);
        REQUIRE(s.value().expect.has_value());
        CHECK(s.value().expect->status == 0);
    }
    Outcome<Scenario> paging = load_scenario(std::filesystem::path(XENO_SOURCE_DIR) / "scenarios/paging");
    INFO(paging.error());
    REQUIRE(paging.ok());
    CHECK(paging.value().paging == std::vector<std::string>{"ept", "shadow"});
    Outcome<Scenario> hello = load_scenario(std::filesystem::path(XENO_SOURCE_DIR) / "scenarios/hello");
    REQUIRE(hello.ok());
    CHECK(hello.value().expect->console == std::optional<std::string>("hello from xeno\n"));
}

namespace {

const char* const kKernel = R"([guest]
kernel = "bzImage"
initrd = "initrd.img"
append = "console=ttyS0 quiet"
memory_mb = 4096
debug_exit = "qemu"
on_reset = "restart"
pvh = true
smp = 2
[run]
profiles = ["skylake"]
[expect]
status = 33
)";

std::string kernel_with(std::string_view from, std::string_view to)
{
    std::string text = kKernel;
    std::size_t at = text.find(from);
    REQUIRE(at != std::string::npos);
    text.replace(at, from.size(), to);
    return text;
}

}  // namespace

TEST_CASE("a kernel scenario: kernel, initrd, append, debug_exit, on_reset, pvh", "[scenario][kernel]")
{
    Outcome<Scenario> s = parse_scenario(kKernel, "scenarios/k/scenario.toml");
    REQUIRE(s.ok());
    const Scenario& v = s.value();
    CHECK(v.is_kernel());
    CHECK(v.image.empty());
    CHECK(v.kernel == "bzImage");
    CHECK(v.initrd == "initrd.img");
    CHECK(v.append == std::optional<std::string>("console=ttyS0 quiet"));
    CHECK(v.memory_mb == 4096);
    CHECK(v.debug_exit == "qemu");
    CHECK(v.on_reset == "restart");
    CHECK(v.pvh);
    CHECK(v.smp == 2);
    CHECK(v.max_instructions == 0);  // optional for a kernel

    // The least: a kernel and the profiles; 128 MiB like QEMU.
    Outcome<Scenario> least = parse_scenario("[guest]\nkernel = \"k.elf\"\n[run]\nprofiles = [\"penryn\"]\n", "x/scenario.toml");
    REQUIRE(least.ok());
    CHECK(least.value().memory_mb == 128);
    CHECK_FALSE(least.value().append.has_value());
    CHECK_FALSE(least.value().pvh);
    CHECK(least.value().debug_exit.empty());
}

TEST_CASE("a kernel scenario's mistakes are named", "[scenario][kernel]")
{
    CHECK(error_of(kernel_with("[guest]\n", "[guest]\nimage = \"guest.bin\"\n")) ==
          "scenarios/t/scenario.toml: guest.kernel: guest.image and guest.kernel exclude each other (a flat image or a "
          "kernel)");
    CHECK(error_of(kernel_with("[guest]\n", "[guest]\nload_address = 0x8000\n")) ==
          "scenarios/t/scenario.toml: guest.load_address: only with guest.image (a kernel says where it goes)");
    CHECK(error_of(kernel_with("[guest]\n", "[guest]\nentry = 0x8000\n")) ==
          "scenarios/t/scenario.toml: guest.entry: only with guest.image (a kernel says where it goes)");
    CHECK(error_of(kernel_with("memory_mb = 4096", "memory_mb = 8193")) ==
          "scenarios/t/scenario.toml: guest.memory_mb: expected an integer from 1 to 8192, got 8193");
    CHECK(error_of(kernel_with("debug_exit = \"qemu\"", "debug_exit = \"isa\"")) ==
          "scenarios/t/scenario.toml: guest.debug_exit: expected \"xeno\" or \"qemu\", got \"isa\"");
    CHECK(error_of(kernel_with("on_reset = \"restart\"", "on_reset = \"reboot\"")) ==
          "scenarios/t/scenario.toml: guest.on_reset: expected \"exit\" or \"restart\", got \"reboot\"");
    CHECK(error_of(kernel_with("pvh = true", "pvh = 1")) ==
          "scenarios/t/scenario.toml: guest.pvh: expected a boolean, got an integer");
    CHECK(error_of(kernel_with("kernel = \"bzImage\"", "kernel = \"../bzImage\"")) ==
          "scenarios/t/scenario.toml: guest.kernel: must be a file in the scenario directory (or its build directory)");
    CHECK(error_of(kernel_with("initrd = \"initrd.img\"", "initrd = \"/boot/initrd.img\"")) ==
          "scenarios/t/scenario.toml: guest.initrd: must be a file in the scenario directory (or its build directory)");
    CHECK(error_of(kernel_with("append = \"console=ttyS0 quiet\"", "append = \"a\\u0000b\"")) ==
          "scenarios/t/scenario.toml: guest.append: must not contain a NUL character");
    // The kernel-only keys with an image.
    CHECK(error_of(valid_with("[guest]\n", "[guest]\nappend = \"quiet\"\n")) ==
          "scenarios/t/scenario.toml: guest.append: only with guest.kernel");
    CHECK(error_of(valid_with("[guest]\n", "[guest]\npvh = true\n")) ==
          "scenarios/t/scenario.toml: guest.pvh: only with guest.kernel");
    // An image still needs its limit of instructions.
    CHECK(error_of(valid_with("max_instructions = 50000000\n", "")) ==
          "scenarios/t/scenario.toml: run.max_instructions: missing (required)");
}

TEST_CASE("scenario files of absurd shape are refused before toml++ sees them", "[scenario]")
{
    // A dotted key of 40,000 parts would overflow toml++'s stack.
    std::string dotted = "[guest]\nimage = \"g\"\n";
    for (int i = 0; i < 40000; ++i) dotted += i ? ".a" : "a";
    dotted += " = 1\n";
    CHECK(error_of(dotted) == "scenarios/t/scenario.toml: line 3: more than 64 dots outside strings (a dotted key "
                              "that long is not a scenario's)");
    // Arrays nested 100,000 deep.
    std::string nested = "x = " + std::string(100000, '[') + std::string(100000, ']') + "\n";
    CHECK(error_of(nested) == "scenarios/t/scenario.toml: line 1: arrays or inline tables nested more than 32 deep");
    std::string tables = "x = " + std::string(40, '{');
    CHECK_THAT(error_of(tables), Catch::Contains("nested more than 32 deep"));
    // Over 1 MiB.
    std::string big = std::string(kValid) + "# " + std::string(1 << 20, 'x') + "\n";
    CHECK_THAT(error_of(big), Catch::Contains("more than a scenario file may have (1024 KiB)"));
    // Dots and brackets inside strings and comments do not count.
    std::string fine = valid_with("description = \"a test\"",
                                  "description = \"" + std::string(100, '.') + std::string(100, '[') + "\" # " +
                                      std::string(100, '.') + "\n# " + std::string(40, '[') + "\n" +
                                      "\"key\".\"x\" = \'\'\'" + std::string(70, '.') + "\n" + std::string(70, '.') +
                                      "\'\'\'");
    CHECK_FALSE(xeno::harness::check_toml_shape(fine).has_value());
    Outcome<Scenario> parsed = parse_scenario(fine, "scenarios/t/scenario.toml");
    REQUIRE_FALSE(parsed.ok());
    CHECK_THAT(parsed.error(), Catch::Contains("key: unknown key"));  // toml++ parsed it
}

TEST_CASE("load_scenario refuses a huge file before reading it", "[scenario]")
{
    xeno::test::TempDir tmp;
    tmp.write("s/scenario.toml", std::string(kValid) + "#" + std::string(2 << 20, 'x') + "\n");
    Outcome<Scenario> s = load_scenario(tmp.path() / "s");
    REQUIRE_FALSE(s.ok());
    CHECK_THAT(s.error(), Catch::Contains("scenario.toml: ") && Catch::Contains("more than a scenario file may have"));
}
