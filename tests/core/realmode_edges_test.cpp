// Real-mode edge cases of the hypervisor on the model, end to end: big real
// mode that never ends (the emulator's bound on penryn) and System Control
// Port A (A20) on the domain's I/O bus. The scenarios modes and bios-style
// cover the ordinary paths; these are the ends of them.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "sim/platform/machine.hpp"

namespace xeno::sim {
[[gnu::weak]] MachineResult run_machine(const MachineConfig& config, const MachineOutput& output);
}

namespace {

struct Run {
    xeno::sim::MachineResult result;
    std::string console, log;
};

bool have_machine()
{
    if (&xeno::sim::run_machine != nullptr) return true;
    WARN("sim::run_machine is not linked in: end-to-end tests skipped");
    return false;
}

Run run_guest(const std::vector<std::uint8_t>& image, const std::string& profile)
{
    Run r;
    xeno::sim::MachineConfig config;
    config.profile = profile;
    config.memory_bytes = 64 << 20;
    config.guest_image = image;
    config.cmdline = "guest_mem_mb=16 guest_load=0x8000 guest_entry=0x8000";
    config.max_guest_instructions = 100000;
    xeno::sim::MachineOutput out;
    out.guest_console = [&](const char* b, std::size_t n) { r.console.append(b, n); };
    out.log = [&](const char* b, std::size_t n) { r.log.append(b, n); };
    r.result = xeno::sim::run_machine(config, out);
    return r;
}

// cli; xor ax,ax; mov ds,ax; lgdt [gdtd]; mov eax,cr0; or al,1; mov cr0,eax; jmp 0x08:pm
// pm: mov ax,0x10; mov ds,ax (4 GiB); mov eax,cr0; and al,0xfe; mov cr0,eax; jmp 0:rm
// rm: xor ax,ax; mov ds,ax (keeps the 4 GiB limit); spin: jmp spin
// gdt: dq 0, 0x00009b000000ffff, 0x00cf93000000ffff; gdtd: dw 23; dd gdt
const std::vector<std::uint8_t> kBigRealForever = {
    0xfa, 0x31, 0xc0, 0x8e, 0xd8, 0x0f, 0x01, 0x16, 0x48, 0x80, 0x0f, 0x20, 0xc0, 0x0c, 0x01, 0x0f, 0x22,
    0xc0, 0xea, 0x17, 0x80, 0x08, 0x00, 0xb8, 0x10, 0x00, 0x8e, 0xd8, 0x0f, 0x20, 0xc0, 0x24, 0xfe, 0x0f,
    0x22, 0xc0, 0xea, 0x29, 0x80, 0x00, 0x00, 0x31, 0xc0, 0x8e, 0xd8, 0xeb, 0xfe, 0x90, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00, 0x9b, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00,
    0x00, 0x93, 0xcf, 0x00, 0x17, 0x00, 0x30, 0x80, 0x00, 0x00};
// in al, 0x92; out 0xf4, al
const std::vector<std::uint8_t> kReadPort92 = {0xe4, 0x92, 0xe6, 0xf4};

bool contains(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }

}  // namespace

TEST_CASE("penryn: a guest that never leaves big real mode is ended after the emulation bound", "[realmode][e2e]")
{
    if (!have_machine()) return;
    const Run r = run_guest(kBigRealForever, "penryn");
    REQUIRE(r.result.ok);
    CHECK(r.result.status == 255);
    CHECK(contains(r.log, "guest state still not enterable after 1048576 emulated instructions, rip=0x802d"));
}

TEST_CASE("port 0x92 on the domain: A20 reads as on from reset", "[devices][a20][e2e]")
{
    if (!have_machine()) return;
    for (const char* profile : {"skylake", "penryn"}) {
        INFO(profile);
        const Run r = run_guest(kReadPort92, profile);
        REQUIRE(r.result.ok);
        CHECK(r.result.status == 2);
    }
}
