// The CPUID a guest sees promises only what the guest-execution engine runs:
// for each instruction-set extension in the guest's view of a profile (the
// hypervisor's guest_cpuid over the profile's host CPUID, which mirrors
// Bochs), a sample instruction executes on a bare Unicorn engine of the
// profile's CPU model; the extensions the hypervisor hides from guests
// (exit_cpuid.cpp) are ones that engine cannot execute, so hiding them is
// needed.
#include <catch2/catch.hpp>
#include <unicorn/unicorn.h>

#include <cstdint>
#include <string>
#include <vector>

#include "arch/x86/vmx/exit_handlers.hpp"
#include "sim/vmx-model/cpu_profile.hpp"

using namespace xeno;
using namespace xeno::sim;

namespace {

struct Sample {
    const char* name;
    u32 leaf, subleaf;
    int reg;  // 0 eax, 1 ebx, 2 ecx, 3 edx
    unsigned bit;
    std::vector<std::uint8_t> code;  // 64-bit code; RSI points at writable memory
};

const std::vector<Sample> kSamples = {
    {"SSE3 (haddps)", 1, 0, 2, 0, {0xf2, 0x0f, 0x7c, 0xc1}},
    {"PCLMULQDQ", 1, 0, 2, 1, {0x66, 0x0f, 0x3a, 0x44, 0xc1, 0x00}},
    {"SSSE3 (pshufb)", 1, 0, 2, 9, {0x66, 0x0f, 0x38, 0x00, 0xc1}},
    {"FMA (vfmadd132ps)", 1, 0, 2, 12, {0xc4, 0xe2, 0x79, 0x98, 0xc1}},
    {"CX16 (cmpxchg16b)", 1, 0, 2, 13, {0x48, 0x0f, 0xc7, 0x0e}},
    {"SSE4.1 (pmulld)", 1, 0, 2, 19, {0x66, 0x0f, 0x38, 0x40, 0xc1}},
    {"SSE4.2 (crc32)", 1, 0, 2, 20, {0xf2, 0x0f, 0x38, 0xf1, 0xc1}},
    {"MOVBE", 1, 0, 2, 22, {0x0f, 0x38, 0xf0, 0x06}},
    {"POPCNT", 1, 0, 2, 23, {0xf3, 0x0f, 0xb8, 0xc1}},
    {"AES (aesenc)", 1, 0, 2, 25, {0x66, 0x0f, 0x38, 0xdc, 0xc1}},
    {"XSAVE (xsave)", 1, 0, 2, 26, {0x0f, 0xae, 0x26}},
    {"AVX (vxorps ymm)", 1, 0, 2, 28, {0xc5, 0xfc, 0x57, 0xc0}},
    {"F16C (vcvtph2ps)", 1, 0, 2, 29, {0xc4, 0xe2, 0x79, 0x13, 0xc1}},
    {"RDRAND", 1, 0, 2, 30, {0x0f, 0xc7, 0xf0}},
    {"FSGSBASE (rdfsbase)", 7, 0, 1, 0, {0xf3, 0x48, 0x0f, 0xae, 0xc0}},
    {"BMI1 (andn)", 7, 0, 1, 3, {0xc4, 0xe2, 0x78, 0xf2, 0xc1}},
    {"AVX2 (vpaddd ymm)", 7, 0, 1, 5, {0xc5, 0xfd, 0xfe, 0xc0}},
    {"BMI2 (shlx)", 7, 0, 1, 8, {0xc4, 0xe2, 0x71, 0xf7, 0xc0}},
    {"AVX512F (vpaddd zmm)", 7, 0, 1, 16, {0x62, 0xf1, 0x7d, 0x48, 0xfe, 0xc0}},
    {"RDSEED", 7, 0, 1, 18, {0x0f, 0xc7, 0xf8}},
    {"ADX (adcx)", 7, 0, 1, 19, {0x66, 0x0f, 0x38, 0xf6, 0xc1}},
    {"CLFLUSHOPT", 7, 0, 1, 23, {0x66, 0x0f, 0xae, 0x3e}},
    {"CLWB", 7, 0, 1, 24, {0x66, 0x0f, 0xae, 0x36}},
    {"XSAVEOPT", 0xd, 1, 0, 0, {0x0f, 0xae, 0x36}},
    {"XSAVEC", 0xd, 1, 0, 1, {0x0f, 0xc7, 0x26}},
    {"XSAVES", 0xd, 1, 0, 3, {0x0f, 0xc7, 0x2e}},
    {"LZCNT", 0x80000001, 0, 2, 5, {0xf3, 0x0f, 0xbd, 0xc1}},
    {"RDTSCP", 0x80000001, 0, 3, 27, {0x0f, 0x01, 0xf9}},
};

// One instruction at 0x1000 in 64-bit mode with CR4.OSXSAVE/OSFXSR/FSGSBASE
// set (EAX:EDX = 3 for XSAVE's mask, RSI = 0x2000 writable).
bool executes(int cpu_model, const std::vector<std::uint8_t>& code)
{
    uc_engine* uc = nullptr;
    REQUIRE(uc_open(UC_ARCH_X86, UC_MODE_64, &uc) == UC_ERR_OK);
    REQUIRE(uc_ctl_set_cpu_model(uc, cpu_model) == UC_ERR_OK);
    REQUIRE(uc_mem_map(uc, 0x1000, 0x3000, UC_PROT_ALL) == UC_ERR_OK);
    REQUIRE(uc_mem_write(uc, 0x1000, code.data(), code.size()) == UC_ERR_OK);
    std::uint64_t rsi = 0x2000, rax = 3, rdx = 0, cr4 = 0;
    uc_reg_write(uc, UC_X86_REG_RSI, &rsi);
    uc_reg_write(uc, UC_X86_REG_RAX, &rax);
    uc_reg_write(uc, UC_X86_REG_RDX, &rdx);
    uc_reg_read(uc, UC_X86_REG_CR4, &cr4);
    cr4 |= (1u << 9) | (1u << 16) | (1u << 18);
    uc_reg_write(uc, UC_X86_REG_CR4, &cr4);
    const uc_err e = uc_emu_start(uc, 0x1000, 0x1000 + code.size(), 0, 1);
    uc_close(uc);
    return e == UC_ERR_OK;
}

u32 reg_of(const vmx::CpuidRegs& r, int reg)
{
    switch (reg) {
    case 0: return r.eax;
    case 1: return r.ebx;
    case 2: return r.ecx;
    default: return r.edx;
    }
}

vmx::CpuidRegs host_view(const CpuProfile& p, u32 leaf, u32 subleaf)
{
    const CpuidLeaf l = p.cpuid(leaf, subleaf);
    return {l.eax, l.ebx, l.ecx, l.edx};
}

vmx::CpuidRegs guest_view(const CpuProfile& p, u32 leaf, u32 subleaf)
{
    return vmx::guest_cpuid(leaf, subleaf, host_view(p, leaf, subleaf));
}

}  // namespace

TEST_CASE("every extension a guest's CPUID reports executes on the engine's CPU model", "[engine][cpuid]")
{
    for (const char* name : {"penryn", "skylake"}) {
        const CpuProfile& p = *find_cpu_profile(name);
        for (const Sample& s : kSamples) {
            if (!((reg_of(guest_view(p, s.leaf, s.subleaf), s.reg) >> s.bit) & 1)) continue;
            INFO(name << ": " << s.name);
            CHECK(executes(p.unicorn_cpu_model, s.code));
        }
    }
}

TEST_CASE("the extensions guests are not offered are in Bochs's Skylake and do not execute on the engine", "[engine][cpuid]")
{
    const CpuProfile& p = *find_cpu_profile("skylake");
    for (const char* left_out : {"FMA (vfmadd132ps)", "AVX (vxorps ymm)", "F16C (vcvtph2ps)", "AVX2 (vpaddd ymm)",
                                 "AVX512F (vpaddd zmm)", "XSAVEC", "XSAVES"}) {
        INFO(left_out);
        bool found = false;
        for (const Sample& s : kSamples) {
            if (std::string(s.name) != left_out) continue;
            found = true;
            CHECK((reg_of(host_view(p, s.leaf, s.subleaf), s.reg) >> s.bit) & 1);
            CHECK_FALSE((reg_of(guest_view(p, s.leaf, s.subleaf), s.reg) >> s.bit) & 1);
            CHECK_FALSE(executes(p.unicorn_cpu_model, s.code));
        }
        CHECK(found);
    }
    // XSAVE components: x87 and SSE only (no AVX or AVX-512 state to save).
    CHECK(guest_view(p, 0xd, 0).eax == 0x3);
    CHECK(guest_view(p, 0xd, 0).ecx == 0x240);
}
