// How runs on the virtual PC end when the guest misuses it: an interrupt
// storm stops at the run's limits with a clear reason (and the hypervisor
// survives), HLT with nothing that could ever wake the vcpu ends the domain
// as "halted" (not with a status the guest could write), a reset request
// ends it as "reset". Tiny real-mode guests, their nasm source in comments,
// on both profiles.
#include <catch2/catch.hpp>
#include <fstream>
#include <utility>
#include <iterator>
#include <string>
#include <vector>

#include "sim/platform/machine.hpp"

namespace {

xeno::sim::MachineResult run(const std::vector<std::uint8_t>& image, const std::string& profile,
                             std::uint64_t max_insns, std::uint64_t max_vtime_ns, std::string* log = nullptr,
                             const std::string& extra = "")
{
    xeno::sim::MachineConfig config;
    config.profile = profile;
    config.memory_bytes = 64 << 20;
    config.guest_image = image;
    config.cmdline = "guest_mem_mb=16 guest_load=0x8000 guest_entry=0x8000" + extra;
    config.max_guest_instructions = max_insns;
    config.max_vtime_ns = max_vtime_ns;
    xeno::sim::MachineOutput out;
    out.guest_console = [](const char*, std::size_t) {};
    out.log = [log](const char* b, std::size_t n) {
        if (log) log->append(b, n);
    };
    out.trace = [](const char*, std::size_t) {};
    return xeno::sim::run_machine(config, out);
}

// A guest of tests/core/guests/ (assembled by CMake).
std::vector<std::uint8_t> guest(const std::string& name)
{
    std::ifstream in(std::string(XENO_TEST_GUESTS_DIR) + "/" + name + ".bin", std::ios::binary);
    REQUIRE(in.good());
    return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// cli; ds=0; IVT[0x20] = isr; the 8259A initialised at 0x20 with IRQ0 only;
// PIT channel 0 mode 2 with count 2 (~597 kHz, the fastest the 8254
// allows); sti; jmp $.   isr: push ax; out 0x20, 0x20 (EOI); pop ax; iret
const std::vector<std::uint8_t> kStorm = {
    0xfa, 0x31, 0xc0, 0x8e, 0xd8, 0xc7, 0x06, 0x80, 0x00, 0x34, 0x80, 0xc7, 0x06, 0x82, 0x00, 0x00, 0x00, 0xb0,
    0x11, 0xe6, 0x20, 0xb0, 0x20, 0xe6, 0x21, 0xb0, 0x04, 0xe6, 0x21, 0xb0, 0x01, 0xe6, 0x21, 0xb0, 0xfe, 0xe6,
    0x21, 0xb0, 0x34, 0xe6, 0x43, 0xb0, 0x02, 0xe6, 0x40, 0x30, 0xc0, 0xe6, 0x40, 0xfb, 0xeb, 0xfe, 0x50, 0xb0,
    0x20, 0xe6, 0x20, 0x58, 0xcf};
// sti; hlt; mov al, 7; out 0xf4, al   (no device is programmed: nothing can wake it)
const std::vector<std::uint8_t> kHaltWithIf = {0xfb, 0xf4, 0xb0, 0x07, 0xe6, 0xf4};
// mov al, 1; out 0x92, al (fast reset through System Control Port A); jmp $
const std::vector<std::uint8_t> kReset = {0xb0, 0x01, 0xe6, 0x92, 0xeb, 0xfe};
// mov al, 0xfe; out 0x64, al (the i8042's pulse-reset command); jmp $
const std::vector<std::uint8_t> kResetI8042 = {0xb0, 0xfe, 0xe6, 0x64, 0xeb, 0xfe};
// mov dx, 0xcf9; mov al, 2; out dx, al; mov al, 6; out dx, al (SYS_RST, then RST_CPU); jmp $
const std::vector<std::uint8_t> kResetCf9 = {0xba, 0xf9, 0x0c, 0xb0, 0x02, 0xee, 0xb0, 0x06, 0xee, 0xeb, 0xfe};
// mov dx, 0xcf9; mov eax, 6; out dx, eax (a dword: not the reset register); mov al, 9; out 0xf4, al
const std::vector<std::uint8_t> kCf9Dword = {0xba, 0xf9, 0x0c, 0x66, 0xb8, 0x06, 0x00, 0x00, 0x00, 0x66, 0xef,
                                             0xb0, 0x09, 0xe6, 0xf4};
// mov dx, 0x3f8; mov al, 'b'; out dx, al (the UART); mov dx, 0xcf9; mov al, 6; out dx, al; jmp $
const std::vector<std::uint8_t> kPrintThenReset = {0xba, 0xf8, 0x03, 0xb0, 0x62, 0xee, 0xba, 0xf9, 0x0c,
                                                   0xb0, 0x06, 0xee, 0xeb, 0xfe};
// mov al, 0x21; out 0xf4, al
const std::vector<std::uint8_t> kExit21 = {0xb0, 0x21, 0xe6, 0xf4};

}  // namespace

TEST_CASE("an interrupt storm ends at the run's limits, with the reason", "[core][platform]")
{
    for (const char* profile : {"skylake", "penryn"}) {
        INFO(profile);
        // The virtual-time limit: a PIT at ~597 kHz delivers an interrupt
        // every ~1.7 us of virtual time, each costing exits.
        xeno::sim::MachineResult r = run(kStorm, profile, 0, 5'000'000);
        CHECK_FALSE(r.ok);
        CHECK(r.error.find("virtual time limit of 5 ms") != std::string::npos);
        CHECK(r.exits > 1000);  // the interrupts did arrive
        // The instruction limit ends it just as well.
        r = run(kStorm, profile, 200'000, 0);
        CHECK_FALSE(r.ok);
        CHECK(r.error.find("ran past its limit of 200000 instructions") != std::string::npos);
        // And the same storm again in the same process: nothing was left behind.
        r = run(kStorm, profile, 0, 1'000'000);
        CHECK(r.error.find("virtual time limit") != std::string::npos);
    }
}

TEST_CASE("HLT that nothing can wake ends the domain as halted, not with a guest status", "[core][platform]")
{
    for (const char* profile : {"skylake", "penryn"}) {
        INFO(profile);
        const xeno::sim::MachineResult r = run(kHaltWithIf, profile, 100'000, 0);
        REQUIRE(r.ok);
        CHECK(r.end == "halted");
        CHECK(r.end_reason == "every vcpu is halted and no timer or device can wake one");
        CHECK(r.guest_instructions < 10);  // the code after HLT never ran
    }
}

TEST_CASE("a reset request ends the domain as reset", "[core][platform]")
{
    for (const char* profile : {"skylake", "penryn"}) {
        INFO(profile);
        const xeno::sim::MachineResult r = run(kReset, profile, 100'000, 0);
        REQUIRE(r.ok);
        CHECK(r.end == "reset");
        CHECK(r.end_reason.find("reset") != std::string::npos);
    }
}

TEST_CASE("each way to reset the machine has its own reason", "[core][platform]")
{
    const std::pair<const std::vector<std::uint8_t>*, const char*> ways[] = {
        {&kReset, "port 0x92"}, {&kResetI8042, "the i8042"}, {&kResetCf9, "reset control register 0xcf9"}};
    for (const char* profile : {"skylake", "penryn"}) {
        for (const auto& [image, name] : ways) {
            INFO(profile << " " << name);
            const xeno::sim::MachineResult r = run(*image, profile, 100'000, 0);
            REQUIRE(r.ok);
            CHECK(r.end == "reset");
            CHECK(r.end_reason.find(name) != std::string::npos);
        }
        // A dword write to 0xcf9 is not the reset register (0xcf8-0xcfb is PCI's).
        const xeno::sim::MachineResult r = run(kCf9Dword, profile, 100'000, 0);
        REQUIRE(r.ok);
        CHECK(r.end == "exit");
        CHECK(r.status == 9);
    }
}

TEST_CASE("on_reset=restart boots the guest again, a bounded number of times", "[core][platform]")
{
    for (const char* profile : {"skylake", "penryn"}) {
        INFO(profile);
        xeno::sim::MachineConfig config;
        config.profile = profile;
        config.memory_bytes = 64 << 20;
        config.guest_image = kPrintThenReset;
        config.cmdline = "guest_mem_mb=16 guest_load=0x8000 guest_entry=0x8000 on_reset=restart";
        config.max_guest_instructions = 100'000;
        std::string console, log;
        xeno::sim::MachineOutput out;
        out.guest_console = [&](const char* b, std::size_t n) { console.append(b, n); };
        out.log = [&](const char* b, std::size_t n) { log.append(b, n); };
        const xeno::sim::MachineResult r = xeno::sim::run_machine(config, out);
        INFO(log);
        REQUIRE(r.ok);
        CHECK(console == std::string(16, 'b'));  // 16 boots, each printing once
        CHECK(r.end == "reset");
        CHECK(r.end_reason.find("restarting") != std::string::npos);
        CHECK(log.find("booting the guest again (boot 16)") != std::string::npos);
        CHECK(log.find("reset the machine 16 times: not booting it again") != std::string::npos);
    }
}

TEST_CASE("debug_exit=qemu: the status is (value << 1) | 1, as QEMU's isa-debug-exit", "[core][platform]")
{
    xeno::sim::MachineResult r = run(kExit21, "skylake", 1000, 0, nullptr, " debug_exit=qemu");
    REQUIRE(r.ok);
    CHECK(r.end == "exit");
    CHECK(r.status == 0x43);
    CHECK(r.end_reason.find("QEMU style") != std::string::npos);
    r = run(kExit21, "skylake", 1000, 0);
    CHECK(r.status == 0x21);
}

TEST_CASE("INIT to itself: an AP stops at once and waits for a SIPI; the BSP's is a reset", "[core][platform]")
{
    for (const char* profile : {"skylake", "penryn"}) {
        INFO(profile);
        std::string log;
        xeno::sim::MachineResult r = run(guest("init_self"), profile, 50'000'000, 0, &log, " smp=2");
        INFO(log);
        REQUIRE(r.ok);
        CHECK(r.end == "exit");
        CHECK(r.status == 0);  // started twice, never ran past its INIT
        r = run(guest("bsp_init_self"), profile, 1'000'000, 0);
        REQUIRE(r.ok);
        CHECK(r.end == "reset");
        CHECK(r.end_reason.find("INIT to the BSP") != std::string::npos);
    }
}

TEST_CASE("an 8 GiB guest (RAM above 4 GiB past the hole) starts and runs", "[core][platform][memory]")
{
    for (const char* profile : {"skylake", "penryn"}) {
        INFO(profile);
        xeno::sim::MachineConfig config;
        config.profile = profile;
        config.memory_bytes = (8ull << 30) + (128 << 20);  // the shadow structures of 8 GiB need more than 64 MiB
        config.guest_image = kExit21;
        config.cmdline = "guest_mem_mb=8192 guest_load=0x8000 guest_entry=0x8000";
        config.max_guest_instructions = 1000;
        std::string log;
        xeno::sim::MachineOutput out;
        out.log = [&](const char* b, std::size_t n) { log.append(b, n); };
        const xeno::sim::MachineResult r = xeno::sim::run_machine(config, out);
        INFO(log);
        REQUIRE(r.ok);
        CHECK(r.status == 0x21);
        CHECK(log.find("8192 MiB guest RAM (5120 MiB of it above 4 GiB)") != std::string::npos);
    }
}
