// The core end to end on the software VMX model: tiny real-mode guests (their
// nasm source in the comments) through sim::run_machine, on both profiles.
//
// run_machine belongs to sim/platform; it is referenced weakly here so that
// this program links while it does not exist yet: the tests then WARN and
// check nothing.
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
    std::string console, log, trace;
};

bool have_machine()
{
    if (&xeno::sim::run_machine != nullptr) return true;
    WARN("sim::run_machine is not linked in: end-to-end core tests skipped");
    return false;
}

Run run_guest(const std::vector<std::uint8_t>& image, const std::string& profile, const std::string& extra = "")
{
    Run r;
    xeno::sim::MachineConfig config;
    config.profile = profile;
    config.memory_bytes = 64 << 20;
    config.guest_image = image;
    config.cmdline = "guest_mem_mb=16 guest_load=0x8000 guest_entry=0x8000 trace=on" + extra;
    config.max_guest_instructions = 100000;
    xeno::sim::MachineOutput out;
    out.guest_console = [&](const char* b, std::size_t n) { r.console.append(b, n); };
    out.log = [&](const char* b, std::size_t n) { r.log.append(b, n); };
    out.trace = [&](const char* b, std::size_t n) { r.trace.append(b, n); };
    r.result = xeno::sim::run_machine(config, out);
    return r;
}

// xor ax,ax; mov ds,ax; mov es,ax; cld; mov si,msg; mov cx,10; mov dx,0x3f8; rep outsb
// mov di,buf; mov cx,4; mov dx,0x3fd; rep insb; cmp dword [buf],0x60606060; jne bad
// cmp di,buf+4; jne bad; mov al,0; out 0xf4,al; bad: mov al,1; out 0xf4,al
// msg: db "string io",10; buf: dd 0
const std::vector<std::uint8_t> kStringIo = {
    0x31, 0xc0, 0x8e, 0xd8, 0x8e, 0xc0, 0xfc, 0xbe, 0x36, 0x80, 0xb9, 0x0a, 0x00, 0xba, 0xf8, 0x03, 0xf3,
    0x6e, 0xbf, 0x40, 0x80, 0xb9, 0x04, 0x00, 0xba, 0xfd, 0x03, 0xf3, 0x6c, 0x66, 0x81, 0x3e, 0x40, 0x80,
    0x60, 0x60, 0x60, 0x60, 0x75, 0x0a, 0x81, 0xff, 0x44, 0x80, 0x75, 0x04, 0xb0, 0x00, 0xe6, 0xf4, 0xb0,
    0x01, 0xe6, 0xf4, 0x73, 0x74, 0x72, 0x69, 0x6e, 0x67, 0x20, 0x69, 0x6f, 0x0a, 0x00, 0x00, 0x00, 0x00};
// xor ax,ax; mov ds,ax; mov word [6*4],ud; mov word [6*4+2],0; vmcall; jmp $; ud: mov al,6; out 0xf4,al
const std::vector<std::uint8_t> kVmcall = {0x31, 0xc0, 0x8e, 0xd8, 0xc7, 0x06, 0x18, 0x00, 0x15, 0x80, 0xc7, 0x06, 0x1a,
                                           0x00, 0x00, 0x00, 0x0f, 0x01, 0xc1, 0xeb, 0xfe, 0xb0, 0x06, 0xe6, 0xf4};
// lidt [idt0]; int3; jmp $; idt0: dw 0; dd 0
const std::vector<std::uint8_t> kTripleFault = {0x0f, 0x01, 0x1e, 0x08, 0x80, 0xcc, 0xeb, 0xfe,
                                                0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
// cli; hlt
const std::vector<std::uint8_t> kHalt = {0xfa, 0xf4};
// cpuid 0x40000000: ebx='XenV'; cpuid 1: ecx bit 5 clear, bit 31 set; then out 0xf4, 42 (else 1)
const std::vector<std::uint8_t> kCpuid = {
    0x66, 0xb8, 0x00, 0x00, 0x00, 0x40, 0x0f, 0xa2, 0x66, 0x81, 0xfb, 0x58, 0x65, 0x6e, 0x56, 0x75,
    0x1a, 0x66, 0xb8, 0x01, 0x00, 0x00, 0x00, 0x0f, 0xa2, 0x66, 0x0f, 0xba, 0xe1, 0x05, 0x72, 0x0b,
    0x66, 0x0f, 0xba, 0xe1, 0x1f, 0x73, 0x04, 0xb0, 0x2a, 0xe6, 0xf4, 0xb0, 0x01, 0xe6, 0xf4};
// IVT[13] = gp; mov ecx,0xc0001234; rdmsr; out 0xf4,1; gp: out 0xf4,13
const std::vector<std::uint8_t> kRdmsrGp = {0x31, 0xc0, 0x8e, 0xd8, 0xc7, 0x06, 0x34, 0x00, 0x1c, 0x80, 0xc7,
                                            0x06, 0x36, 0x00, 0x00, 0x00, 0x66, 0xb9, 0x34, 0x12, 0x00, 0xc0,
                                            0x0f, 0x32, 0xb0, 0x01, 0xe6, 0xf4, 0xb0, 0x0d, 0xe6, 0xf4};

bool contains(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }

}  // namespace

TEST_CASE("core on the model: string I/O through guest memory", "[core][e2e]")
{
    if (!have_machine()) return;
    for (const char* profile : {"skylake", "penryn"}) {
        INFO(profile);
        const Run r = run_guest(kStringIo, profile);
        REQUIRE(r.result.ok);
        CHECK(r.result.status == 0);
        CHECK(r.console == "string io\n");
        CHECK(contains(r.trace, "exit 0 IO_INSTRUCTION qual=0x3f80030 rip=0x8010 len=2"));
        CHECK(contains(r.trace, "exit 1 IO_INSTRUCTION qual=0x3fd0038 rip=0x801b len=2"));
        CHECK(contains(r.trace, "exit 2 IO_INSTRUCTION qual=0xf40040 rip=0x8030 len=2\n"));
    }
}

TEST_CASE("core on the model: VMCALL raises #UD through the guest's IVT", "[core][e2e]")
{
    if (!have_machine()) return;
    for (const char* profile : {"skylake", "penryn"}) {
        INFO(profile);
        const Run r = run_guest(kVmcall, profile);
        REQUIRE(r.result.ok);
        CHECK(r.result.status == 6);
        CHECK(contains(r.trace, "exit 0 VMCALL qual=0x0 rip=0x8010 len=3"));
    }
}

TEST_CASE("core on the model: triple fault and halt end only the domain", "[core][e2e]")
{
    if (!have_machine()) return;
    for (const char* profile : {"skylake", "penryn"}) {
        INFO(profile);
        Run r = run_guest(kTripleFault, profile);
        REQUIRE(r.result.ok);
        CHECK(r.result.status == 255);
        CHECK(contains(r.log, "guest triple fault at rip="));
        CHECK(r.result.end == "crash");
        r = run_guest(kHalt, profile);
        REQUIRE(r.result.ok);
        CHECK(r.result.status == 255);
        CHECK(r.result.end == "halted");
        CHECK(r.result.end_reason == "halted with interrupts disabled");
        // In vm86 (penryn) HLT at CPL 3 raises #GP, which has priority over
        // HLT exiting (SDM 26.1.1); the hypervisor then emulates the HLT.
        if (std::string(profile) == "skylake")
            CHECK(r.trace == "exit 0 HLT qual=0x0 rip=0x8001 len=1\n");
        else
            CHECK(r.trace == "exit 0 EXCEPTION_NMI qual=0x0 rip=0x8001 len=0 info=0x80000b0d\n");
    }
}

TEST_CASE("core on the model: CPUID view and #GP for an absent MSR", "[core][e2e]")
{
    if (!have_machine()) return;
    for (const char* profile : {"skylake", "penryn"}) {
        INFO(profile);
        const Run r = run_guest(kCpuid, profile);
        REQUIRE(r.result.ok);
        CHECK(r.result.status == 42);
    }
    // Real-mode RDMSR exits only with unrestricted guest (in vm86 it is a #GP at CPL 3).
    const Run r = run_guest(kRdmsrGp, "skylake");
    REQUIRE(r.result.ok);
    CHECK(r.result.status == 13);
    CHECK(contains(r.trace, "MSR_READ qual=0x0 rip=0x8016 len=2"));
}

TEST_CASE("core on the model: bad command lines fail before any guest runs", "[core][e2e]")
{
    if (!have_machine()) return;
    Run r = run_guest(kHalt, "skylake", " colour=blue");
    CHECK(r.result.status < 0);
    CHECK(contains(r.log, "cmdline: unknown key: 'colour=blue'"));
    r = run_guest(kHalt, "penryn", " paging=ept");
    CHECK(r.result.status < 0);
    CHECK(contains(r.log, "paging=ept: this CPU lacks EPT"));
    r = run_guest(kHalt, "skylake", " guest_mem_mb=1 guest_load=0xfffff guest_entry=0");
    CHECK(r.result.status < 0);
    CHECK(contains(r.log, "does not fit"));
}

TEST_CASE("core on the model: shadow paging on skylake takes the vm86 path; runs repeat exactly", "[core][e2e]")
{
    if (!have_machine()) return;
    const Run a = run_guest(kStringIo, "skylake", " paging=shadow");
    REQUIRE(a.result.ok);
    CHECK(a.result.status == 0);
    CHECK(a.console == "string io\n");
    CHECK(contains(a.log, "paging shadow"));
    const Run b = run_guest(kStringIo, "skylake", " paging=shadow");
    CHECK(a.trace == b.trace);
    CHECK(a.log == b.log);
    CHECK(a.result.guest_instructions == b.result.guest_instructions);
}

TEST_CASE("core on the model: a guest that never ends is switched off at its instruction limit", "[core][e2e]")
{
    if (!have_machine()) return;
    // jmp $
    const std::vector<std::uint8_t> kSpin = {0xeb, 0xfe};
    for (const char* profile : {"skylake", "penryn"}) {
        INFO(profile);
        const Run r = run_guest(kSpin, profile);
        CHECK_FALSE(r.result.ok);
        CHECK(r.result.error == "the guest ran past its limit of 100000 instructions (at rip 0x8000)");
        CHECK(r.result.guest_instructions > 100000);
        CHECK(r.result.guest_instructions < 100100);
        // The machine can run again after an abort.
        const Run again = run_guest(kSpin, profile);
        CHECK(again.result.error == r.result.error);
        CHECK(again.result.guest_instructions == r.result.guest_instructions);
    }
}
