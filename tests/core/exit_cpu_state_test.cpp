// Exits for processor state a guest must not reach natively (XSETBV, MOV DR,
// MONITOR/MWAIT, RDPMC, WBINVD), the guest's TSC and IA32_TSC_AUX, and the
// pure helpers behind them. The guests (tests/core/guests/*.asm, assembled
// by CMake) run through sim::run_machine on the profiles that have what they
// test and report through the debug exit port: 0 = every check passed, n =
// check n failed (the asm says which).
#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "arch/x86/vmx/exit_handlers.hpp"
#include "arch/x86/vmx/exit_qualification.hpp"
#include "arch/x86/vmx/xcr0.hpp"
#include "sim/platform/machine.hpp"
#include "sim/vmx-model/cpu_profile.hpp"

using namespace xeno;

namespace {

struct Run {
    sim::MachineResult result;
    std::string console, log, trace;
};

std::vector<std::uint8_t> guest(const std::string& name)
{
    std::ifstream in(std::string(XENO_TEST_GUESTS_DIR) + "/" + name + ".bin", std::ios::binary);
    REQUIRE(in.good());
    return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), {});
}

Run run(const std::string& name, const std::string& profile)
{
    Run r;
    sim::MachineConfig config;
    config.profile = profile;
    config.memory_bytes = 64 << 20;
    config.guest_image = guest(name);
    config.cmdline = "guest_mem_mb=16 guest_load=0x8000 guest_entry=0x8000 trace=on";
    config.max_guest_instructions = 10'000'000;
    sim::MachineOutput out;
    out.guest_console = [&](const char* b, std::size_t n) { r.console.append(b, n); };
    out.log = [&](const char* b, std::size_t n) { r.log.append(b, n); };
    out.trace = [&](const char* b, std::size_t n) { r.trace.append(b, n); };
    r.result = sim::run_machine(config, out);
    return r;
}

bool contains(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }

}  // namespace

TEST_CASE("IN EAX writes EAX zero-extended into RAX; IN AL/AX merge", "[vmx][io]")
{
    // In 64-bit mode a 32-bit destination clears RAX[63:32] (SDM Vol. 1 3.4.1.1).
    CHECK(vmx::io_in_rax(0xdeadbeef00000000ull, 0x12345678, 4) == 0x12345678);
    CHECK(vmx::io_in_rax(0xdeadbeefcafef00dull, 0x42, 1) == 0xdeadbeefcafef042ull);
    CHECK(vmx::io_in_rax(0xdeadbeefcafef00dull, 0x4243, 2) == 0xdeadbeefcafe4243ull);
    CHECK(vmx::io_in_rax(0, 0xffffffff, 4) == 0xffffffffull);
}

TEST_CASE("XCR0 values XSETBV accepts (SDM Vol. 1 13.3)", "[vmx][xsetbv]")
{
    using namespace vmx;
    const u64 skylake = 0xe7;  // x87 SSE AVX opmask ZMM_Hi256 Hi16_ZMM
    CHECK(xcr0_valid(0x1, skylake));
    CHECK(xcr0_valid(0x3, skylake));
    CHECK(xcr0_valid(0x7, skylake));
    CHECK(xcr0_valid(0xe7, skylake));
    CHECK_FALSE(xcr0_valid(0x0, skylake));         // x87 must stay set
    CHECK_FALSE(xcr0_valid(0x2, skylake));
    CHECK_FALSE(xcr0_valid(0x5, skylake));         // AVX without SSE
    CHECK_FALSE(xcr0_valid(0x27, skylake));        // one AVX-512 component alone
    CHECK_FALSE(xcr0_valid(0xe3, skylake));        // AVX-512 without AVX
    CHECK_FALSE(xcr0_valid(0x203, skylake));       // PKRU: not supported here
    CHECK_FALSE(xcr0_valid(0x7, 0x3));             // AVX where only x87/SSE exist
    CHECK_FALSE(xcr0_valid(0xb, 0x1f));            // BNDREGS without BNDCSR
    CHECK(xcr0_valid(0x1b, 0x1f));
    CHECK_FALSE(xcr0_valid(u64{1} << 17 | 0x3, ~u64{0}));  // TILECFG without TILEDATA
}

TEST_CASE("MOV DR qualification (SDM Table 28-4)", "[vmx][qual]")
{
    const vmx::DrQualification q = vmx::decode_dr_qualification(0x0000000000000317ull);
    CHECK(q.dr == 7);
    CHECK(q.from_dr);
    CHECK(q.gpr == 3);
    CHECK_FALSE(vmx::decode_dr_qualification(0x0a00).from_dr);
    CHECK(vmx::decode_dr_qualification(0x0a00).gpr == 10);
}

TEST_CASE("MOV DR, MONITOR/MWAIT, RDPMC, WBINVD: emulated or refused, never native", "[core][e2e]")
{
    for (const char* profile : {"skylake", "penryn"}) {
        INFO(profile);
        const Run r = run("debug_regs", profile);
        REQUIRE(r.result.ok);
        CHECK(r.result.status == 0);
        // They reached the hypervisor (skylake: real mode runs natively;
        // penryn: vm86, where MONITOR/MWAIT/RDPMC fault before their exits).
        CHECK(contains(r.trace, " DR_ACCESS "));
        if (std::string(profile) == "skylake") {
            CHECK(contains(r.trace, " MONITOR_INSTRUCTION "));
            CHECK(contains(r.trace, " MWAIT_INSTRUCTION "));
            CHECK(contains(r.trace, " RDPMC "));
            CHECK(contains(r.trace, " WBINVD "));
        }
    }
}

TEST_CASE("XSETBV: checked against CPUID leaf 0DH, loaded as the guest's XCR0", "[core][e2e]")
{
    // Real mode with unrestricted guest: XSETBV exits at CPL 0.
    const Run r = run("xsetbv", "skylake");
    REQUIRE(r.result.ok);
    CHECK(r.result.status == 0);
    CHECK(contains(r.trace, " XSETBV "));
    CHECK_FALSE(contains(r.log, "unexpected VM exit"));
}

TEST_CASE("RDTSCP returns the guest's IA32_TSC_AUX", "[core][e2e]")
{
    const Run r = run("tsc_aux", "skylake");
    REQUIRE(r.result.ok);
    CHECK(r.result.status == 0);
}

TEST_CASE("The guest's TSC runs at the frequency its CPUID states, against the ACPI PM timer", "[core][e2e]")
{
    for (const char* name : {"skylake", "penryn"}) {
        INFO(name);
        const sim::CpuProfile& profile = *sim::find_cpu_profile(name);
        const Run r = run("tsc_rate", name);
        REQUIRE(r.result.ok);
        REQUIRE(r.result.status == 0);
        std::istringstream words(r.console);
        std::string base_mhz, pm_ticks, tsc_ticks;
        REQUIRE(words >> base_mhz >> pm_ticks >> tsc_ticks);
        INFO(r.console);
        // What the CPUID says: leaf 16H's base frequency on skylake; penryn
        // has no leaf 16H (0) and states it in its brand string (@ 2.80GHz).
        const u64 stated = std::stoull(base_mhz, nullptr, 16) != 0 ? std::stoull(base_mhz, nullptr, 16) * 1'000'000
                                                                   : 2'800'000'000ull;
        CHECK(stated == profile.tsc_hz);
        const double pm = static_cast<double>(std::stoull(pm_ticks, nullptr, 16));
        const double tsc = static_cast<double>(std::stoull(tsc_ticks, nullptr, 16));
        REQUIRE(pm > 10000);  // a few milliseconds: the PM timer's resolution is 1/3579545 s
        const double measured = tsc * 3579545.0 / pm;
        CHECK(measured / static_cast<double>(stated) == Approx(1.0).epsilon(0.001));
    }
}
