// The scenario guests on an ideal reference platform: a bare Unicorn engine
// whose hooks answer as the hypervisor should (UART, debug exit port, CPUID,
// MSRs, RDTSC = 1 << 40 + instructions, #GP for absent MSRs), then as a wrong
// one. This checks the guests' own logic (their checks, reports and fault
// handlers) independently of Xeno: a scenario failing under Xeno but passing
// here points at the hypervisor or the model.
//
// The engine is a UC_MODE_32 one started at the guest's 32-bit entry (the far
// jump's target, with the guest's GDT loaded): the real-mode prologue is what
// Xeno's scenario runs cover.
#include <cstring>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <unicorn/unicorn.h>

#include "harness/scenario.hpp"
#include "temp_dir.hpp"

namespace {

struct Platform {
    bool honest = true;           // false: answers a hypervisor must not give
    std::string console;
    int status = -1;
    std::uint64_t instructions = 0;
    std::uint32_t sysenter_cs = 0;
    std::uint32_t mtrr_physbase0 = 0;
    std::string exception;        // an exception Unicorn itself raised
};

std::uint32_t get(uc_engine* uc, int reg)
{
    std::uint32_t v = 0;
    uc_reg_read(uc, reg, &v);
    return v;
}

void set(uc_engine* uc, int reg, std::uint32_t v)
{
    uc_reg_write(uc, reg, &v);
}

std::uint32_t chars(const char* s)
{
    std::uint32_t v = 0;
    std::memcpy(&v, s, 4);
    return v;
}

std::uint32_t on_in(uc_engine*, std::uint32_t port, int, void*)
{
    return port == 0x3fd ? 0x20 : 0xff;  // LSR: THR empty
}

void on_out(uc_engine* uc, std::uint32_t port, int, std::uint32_t value, void* user)
{
    auto* p = static_cast<Platform*>(user);
    if (port == 0x3f8) {
        p->console += static_cast<char>(value);
    } else if (port == 0xf4) {
        p->status = static_cast<int>(value & 0xff);
        uc_emu_stop(uc);
    }
}

int on_cpuid(uc_engine* uc, void* user)
{
    auto* p = static_cast<Platform*>(user);
    std::uint32_t a = 0, b = 0, c = 0, d = 0;
    switch (get(uc, UC_X86_REG_EAX)) {
    case 0: a = 0xd; b = chars(p->honest ? "Genu" : "Auth"); d = chars(p->honest ? "ineI" : "enti");
            c = chars(p->honest ? "ntel" : "cAMD"); break;
    case 1:
        c = p->honest ? 1u << 31 : 1u << 5;
        d = p->honest ? 0 : 1u << 22;  // ACPI: thermal monitor MSRs
        break;
    case 0x40000000: a = 0x40000005; b = chars("XenV"); c = chars("MMXe"); d = chars(p->honest ? "nVMM" : "nVMX");
            break;
    default: break;
    }
    set(uc, UC_X86_REG_EAX, a);
    set(uc, UC_X86_REG_EBX, b);
    set(uc, UC_X86_REG_ECX, c);
    set(uc, UC_X86_REG_EDX, d);
    return 1;
}

int on_rdtsc(uc_engine* uc, void* user)
{
    auto* p = static_cast<Platform*>(user);
    std::uint64_t tsc = p->honest ? (std::uint64_t{1} << 40) + p->instructions : 5;
    set(uc, UC_X86_REG_EAX, static_cast<std::uint32_t>(tsc));
    set(uc, UC_X86_REG_EDX, static_cast<std::uint32_t>(tsc >> 32));
    return 1;
}

// Deliver #GP(0) through the guest's 32-bit IDT as the processor would
// (same privilege level: EFLAGS, CS, EIP, error code).
void inject_gp(uc_engine* uc, std::uint32_t eip)
{
    uc_x86_mmr idtr{};
    uc_reg_read(uc, UC_X86_REG_IDTR, &idtr);
    std::uint8_t gate[8];
    uc_mem_read(uc, idtr.base + 13 * 8, gate, sizeof gate);
    std::uint32_t handler = gate[0] | gate[1] << 8 | gate[6] << 16 | static_cast<std::uint32_t>(gate[7]) << 24;
    std::uint32_t frame[4] = {0, eip, 0x08, get(uc, UC_X86_REG_EFLAGS)};
    std::uint32_t esp = get(uc, UC_X86_REG_ESP) - sizeof frame;
    uc_mem_write(uc, esp, frame, sizeof frame);
    set(uc, UC_X86_REG_ESP, esp);
    set(uc, UC_X86_REG_EIP, handler);
}

// RDMSR/WRMSR are handled here, before they execute: writing EIP from a code
// hook skips the instruction or enters the #GP handler.
void on_code(uc_engine* uc, std::uint64_t address, std::uint32_t, void* user)
{
    auto* p = static_cast<Platform*>(user);
    ++p->instructions;
    std::uint8_t op[2];
    uc_mem_read(uc, address, op, sizeof op);
    if (op[0] != 0x0f || (op[1] != 0x32 && op[1] != 0x30)) {
        return;
    }
    auto eip = static_cast<std::uint32_t>(address);
    std::uint32_t msr = get(uc, UC_X86_REG_ECX);
    bool read = op[1] == 0x32;
    if (msr == 0x174) {  // IA32_SYSENTER_CS
        if (read) {
            set(uc, UC_X86_REG_EAX, p->sysenter_cs);
            set(uc, UC_X86_REG_EDX, 0);
        } else {
            p->sysenter_cs = get(uc, UC_X86_REG_EAX);
        }
    } else if (msr == 0xfe && read) {  // MTRRcap: 8 variable ranges (the wrong one: none)
        set(uc, UC_X86_REG_EAX, p->honest ? 0x508 : 0);
        set(uc, UC_X86_REG_EDX, 0);
    } else if (msr == 0x200) {  // MTRR PHYSBASE0: #GP for a reserved memory type (the wrong one takes it)
        if (read) {
            set(uc, UC_X86_REG_EAX, p->mtrr_physbase0);
            set(uc, UC_X86_REG_EDX, 0);
        } else {
            const std::uint32_t type = get(uc, UC_X86_REG_EAX) & 0xff;
            if (p->honest && (type == 2 || type == 3 || type > 6)) {
                inject_gp(uc, eip);
                return;
            }
            p->mtrr_physbase0 = get(uc, UC_X86_REG_EAX);
        }
    } else if (msr == 0x1b && read) {  // IA32_APIC_BASE
        set(uc, UC_X86_REG_EAX, p->honest ? 0xfee00900 : 0xfee00800);
        set(uc, UC_X86_REG_EDX, 0);
    } else if (p->honest) {
        inject_gp(uc, eip);
        return;
    } else if (read) {
        set(uc, UC_X86_REG_EAX, 0);
        set(uc, UC_X86_REG_EDX, 0);
    }
    set(uc, UC_X86_REG_EIP, eip + 2);
}

bool on_interrupt(uc_engine* uc, std::uint32_t vector, void* user)
{
    static_cast<Platform*>(user)->exception = "vector " + std::to_string(vector) + " at " +
                                              std::to_string(get(uc, UC_X86_REG_EIP));
    uc_emu_stop(uc);
    return true;
}

Platform run_guest(const std::string& scenario, bool honest)
{
    std::string text = xeno::test::read_file(std::filesystem::path(XENO_BINARY_DIR) / "scenarios" / scenario /
                                             "guest.bin");
    std::vector<std::uint8_t> image(text.begin(), text.end());
    REQUIRE(image.size() > 16);

    // The 32-bit entry: LGDT [disp16] (0F 01 16) gives the GDT descriptor,
    // the following far JMP ptr16:16 (EA) the protected-mode target.
    std::size_t at = 0;
    while (at + 5 < image.size() && !(image[at] == 0x0f && image[at + 1] == 0x01 && image[at + 2] == 0x16)) {
        ++at;
    }
    REQUIRE(at + 5 < image.size());
    std::uint32_t descriptor = image[at + 3] | image[at + 4] << 8;
    while (at + 3 < image.size() && image[at] != 0xea) {
        ++at;
    }
    REQUIRE(at + 3 < image.size());
    std::uint32_t pm32 = image[at + 1] | image[at + 2] << 8;

    Platform p;
    p.honest = honest;
    uc_engine* uc = nullptr;
    REQUIRE(uc_open(UC_ARCH_X86, UC_MODE_32, &uc) == UC_ERR_OK);
    REQUIRE(uc_mem_map(uc, 0, 16 << 20, UC_PROT_ALL) == UC_ERR_OK);
    REQUIRE(uc_mem_write(uc, 0x8000, image.data(), image.size()) == UC_ERR_OK);
    std::uint16_t limit = 0;
    std::uint32_t base = 0;
    uc_mem_read(uc, descriptor, &limit, 2);
    uc_mem_read(uc, descriptor + 2, &base, 4);
    uc_x86_mmr gdtr{0, base, limit, 0};
    uc_reg_write(uc, UC_X86_REG_GDTR, &gdtr);

    uc_hook h{};
    uc_hook_add(uc, &h, UC_HOOK_INSN, reinterpret_cast<void*>(&on_in), &p, 1, 0, UC_X86_INS_IN);
    uc_hook_add(uc, &h, UC_HOOK_INSN, reinterpret_cast<void*>(&on_out), &p, 1, 0, UC_X86_INS_OUT);
    uc_hook_add(uc, &h, UC_HOOK_INSN, reinterpret_cast<void*>(&on_cpuid), &p, 1, 0, UC_X86_INS_CPUID);
    uc_hook_add(uc, &h, UC_HOOK_INSN, reinterpret_cast<void*>(&on_rdtsc), &p, 1, 0, UC_X86_INS_RDTSC);
    uc_hook_add(uc, &h, UC_HOOK_CODE, reinterpret_cast<void*>(&on_code), &p, 1, 0);
    uc_hook_add(uc, &h, UC_HOOK_INTR, reinterpret_cast<void*>(&on_interrupt), &p, 1, 0);
    uc_err err = uc_emu_start(uc, pm32, 0xffffffff, 0, 5'000'000);
    uc_close(uc);
    CHECK(err == UC_ERR_OK);
    CHECK(p.exception.empty());
    return p;
}

}  // namespace

TEST_CASE("reference platform: hello prints its line and exits 0", "[guests]")
{
    Platform p = run_guest("hello", true);
    CHECK(p.console == "hello from xeno\n");
    CHECK(p.status == 0);
}

TEST_CASE("reference platform: cpuid-msr-tsc passes every check and prints what scenario.toml expects", "[guests]")
{
    auto scenario = xeno::harness::load_scenario(std::filesystem::path(XENO_SOURCE_DIR) / "scenarios/cpuid-msr-tsc");
    REQUIRE(scenario.ok());
    Platform p = run_guest("cpuid-msr-tsc", true);
    CHECK(p.console == scenario.value().expect->console.value());
    CHECK(p.status == 0);
    CHECK(p.instructions > 200000);
}

TEST_CASE("reference platform: cpuid-msr-tsc reports each wrong answer and exits 1", "[guests]")
{
    Platform p = run_guest("cpuid-msr-tsc", false);
    CHECK(p.status == 1);
    CHECK(p.console == "FAIL cpuid0-vendor vendor=AuthenticAMD\n"
                       "ok cpuid0-max-leaf\n"
                       "FAIL cpuid1-vmx-clear ecx=0x00000020\n"
                       "FAIL cpuid1-hypervisor-bit ecx=0x00000020\n"
                       "FAIL cpuid1-no-thermal-msrs edx=0x00400000\n"
                       "FAIL cpuid-xen-signature signature=XenVMMXenVMX\n"
                       "ok cpuid-xen-max-leaf\n"
                       "ok msr-sysenter-cs-roundtrip\n"
                       "FAIL msr-apic-base edx=0x00000000 eax=0xfee00800\n"
                       "FAIL msr-absent-high-gp vector=0xffffffff error=0xffffffff\n"
                       "FAIL msr-absent-beyond-bitmap-gp vector=0xffffffff error=0xffffffff\n"
                       "FAIL msr-mtrr-roundtrip eax=0x00000000\n"
                       "FAIL msr-mtrr-reserved-type-gp vector=0xffffffff\n"
                       "FAIL rdtsc-monotonic first=0x0000000000000005 second=0x0000000000000005\n"
                       "FAIL rdtsc-offset tsc=0x0000000000000005\n"
                       "FAIL rdtsc-counts-instructions delta=0x00000000\n"
                       "FAIL no-unexpected-faults faults=0x00000000\n");
}
