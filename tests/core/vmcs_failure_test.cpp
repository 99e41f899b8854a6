// A failed VMREAD or VMWRITE is a hypervisor bug (vmx/vmcs.hpp): the run
// fails loudly with it as its reason, whatever the guest did, as a hypervisor
// error (the harness's exit status 206), and a limit that stopped the run
// does not hide it. No guest can make one fail: every scenario runs with
// this check (scenarios/CMakeLists.txt makes the words a test failure too).
// Here the test makes one fail itself, a VMWRITE before the hypervisor has
// made any VMCS current (VMfailInvalid), from the log sink while the
// hypervisor runs.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "arch/x86/vmx/vmcs.hpp"
#include "sim/platform/machine.hpp"

using xeno::sim::MachineResult;

namespace {

// mov al, 7; out 0xf4, al
const std::vector<std::uint8_t> kExit7 = {0xb0, 0x07, 0xe6, 0xf4};
// jmp $
const std::vector<std::uint8_t> kSpin = {0xeb, 0xfe};

struct Ran {
    MachineResult result;
    std::string log;
};

Ran run(const std::vector<std::uint8_t>& image, const char* profile, bool fail_a_vmwrite)
{
    xeno::sim::MachineConfig config;
    config.profile = profile;
    config.memory_bytes = std::uint64_t{64} << 20;
    config.guest_image = image;
    config.cmdline = "guest_mem_mb=16 guest_load=0x8000 guest_entry=0x8000";
    config.max_guest_instructions = 10000;
    Ran r;
    xeno::sim::MachineOutput out;
    out.guest_console = [](const char*, std::size_t) {};
    out.trace = [](const char*, std::size_t) {};
    out.log = [&r, fail_a_vmwrite](const char* b, std::size_t n) {
        const std::string line(b, n);
        r.log += line;
        // Before the vcpus' VMCSs are set up: no current VMCS.
        if (fail_a_vmwrite && line.find("domain: running guest") != std::string::npos)
            (void)xeno::vmx::vmcs_write(xeno::vmx::field::GUEST_RIP, 0x8000);
    };
    r.result = xeno::sim::run_machine(config, out);
    return r;
}

}  // namespace

TEST_CASE("a failed VMWRITE fails the run as a hypervisor error, with the failure as its reason", "[core][vmx]")
{
    for (const char* profile : {"skylake", "penryn"}) {
        INFO(profile);
        const Ran clean = run(kExit7, profile, false);
        REQUIRE(clean.result.ok);
        CHECK(clean.result.status == 7);
        CHECK(clean.log.find("VMREAD/VMWRITE") == std::string::npos);

        const Ran failed = run(kExit7, profile, true);
        CHECK_FALSE(failed.result.ok);
        CHECK(failed.result.failure == MachineResult::Failure::OTHER);
        CHECK(failed.result.status == -1);
        const std::string want = "vmx: 1 VMREAD/VMWRITE failures (a hypervisor bug), last field " +
                                 std::string("0x681e");  // GUEST_RIP
        CHECK(failed.result.error == want);
        CHECK(failed.log.find(want + "\n") != std::string::npos);

        // A run stopped at its instruction limit reports the hypervisor
        // error, not the limit: the limit must not hide the bug.
        const Ran stopped = run(kSpin, profile, true);
        CHECK_FALSE(stopped.result.ok);
        CHECK(stopped.result.failure == MachineResult::Failure::OTHER);
        CHECK(stopped.result.error == want);
        CHECK(stopped.log.find("the guest ran past its limit of 10000 instructions") != std::string::npos);

        // The counter starts again with each run.
        const Ran again = run(kExit7, profile, false);
        CHECK(again.result.ok);
        CHECK(again.result.status == 7);
    }
}
