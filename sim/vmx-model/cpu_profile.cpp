// The CPU profiles. Values follow how Bochs 2.7 computes its VMX capability
// MSRs for a CPU model (the model's VMX extension set applied to the
// architectural default-1 classes of SDM Vol. 3D, Appendix A), not the real
// CPU's: the hw build is tested inside Bochs and both builds must agree.
// tests/vmx-model/profile_test.cpp compares them with what the hw build logs
// from inside Bochs (tests/data/bochs-vmx-msrs-<model>.txt) when that exists.
#include "sim/vmx-model/cpu_profile.hpp"

#include <unicorn/unicorn.h>

#include <array>

#include "arch/x86/vmx/vmx_arch.hpp"
#include "sim/vmx-model/model_controls.hpp"
#include "sim/vmx-model/vmcs_store.hpp"

namespace xeno::sim {

namespace {

using namespace xeno::vmx;

constexpr u32 b32(unsigned n) { return 1u << n; }

constexpr u64 ctls(u32 allowed1_bits, u32 allowed0_bits)
{
    return (u64{allowed1_bits | allowed0_bits} << 32) | allowed0_bits;
}

// Default-1 classes (Vol. 3D, A.2): bits that are 1 in the non-TRUE MSRs'
// allowed-0 settings. The TRUE MSRs may clear some of them.
constexpr u32 kPinDefault1 = 0x00000016;
constexpr u32 kProcDefault1 = 0x0401E172;
constexpr u32 kProcTrueDefault1 = 0x04006172;  // CR3-load/store exiting may be 0
constexpr u32 kExitDefault1 = 0x00036DFF;
constexpr u32 kExitTrueDefault1 = 0x00036DFB;  // "save debug controls" may be 0
constexpr u32 kEntryDefault1 = 0x000011FF;
constexpr u32 kEntryTrueDefault1 = 0x000011FB;  // "load debug controls" may be 0

// IA32_VMX_BASIC high half (A.1): 4 KiB VMCS region (bits 44:32), WB VMCS
// memory type (53:50 = 6), INS/OUTS instruction information (54), TRUE
// controls (55).
constexpr u64 kBasicHigh = (u64{0x1000} << 32) | (u64{6} << 50) | (u64{1} << 54) | (u64{1} << 55);
// VMCS revision identifier and highest VMCS field index (bits 9:1): Bochs's
// own, as logged from inside Bochs 2.7 (tests/data/bochs-vmx-msrs-*.txt).
constexpr u32 kBochsVmcsRevision = 0x0000002b;
constexpr u64 kBochsVmcsEnum = 0x34;

// Controls every Bochs VMX CPU has (primary processor-based).
constexpr u32 kProcCommon = proc::INTERRUPT_WINDOW_EXITING | proc::USE_TSC_OFFSETTING | proc::HLT_EXITING |
                            proc::INVLPG_EXITING | proc::RDPMC_EXITING | proc::RDTSC_EXITING |
                            proc::CR3_LOAD_EXITING | proc::CR3_STORE_EXITING | proc::MOV_DR_EXITING |
                            proc::UNCONDITIONAL_IO_EXITING | proc::USE_IO_BITMAPS | proc::USE_MSR_BITMAPS |
                            proc::PAUSE_EXITING | proc::MWAIT_EXITING | proc::MONITOR_EXITING |
                            // TPR shadow (with CR8 exiting on x86-64) and virtual NMIs
                            proc::USE_TPR_SHADOW | proc::CR8_LOAD_EXITING | proc::CR8_STORE_EXITING |
                            proc::NMI_WINDOW_EXITING | proc::ACTIVATE_SECONDARY_CONTROLS;

// MISC (A.6): preemption-timer rate 0, LMA stored on exit, HLT/shutdown/
// wait-for-SIPI activity states, 4 CR3 targets.
constexpr u64 kMiscCommon = misc_cap::STORE_LMA_ON_EXIT | misc_cap::ACTIVITY_HLT | misc_cap::ACTIVITY_SHUTDOWN |
                            misc_cap::ACTIVITY_WAIT_FOR_SIPI | (u64{4} << 16);

// CR4 bits a CPU supports (CR4_FIXED1 is Bochs's CR4 support mask).
constexpr u64 kCr4Base = 0x7ff;  // VME PVI TSD DE PSE PAE MCE PGE PCE OSFXSR OSXMMEXCPT
constexpr u64 kCr4Vmxe = b32(13), kCr4Smxe = b32(14), kCr4Fsgsbase = b32(16), kCr4Pcide = b32(17),
              kCr4Osxsave = b32(18), kCr4Smep = b32(20), kCr4Smap = b32(21);

constexpr u32 str4(const char (&s)[5]) { return u32(u8(s[0])) | u32(u8(s[1])) << 8 | u32(u8(s[2])) << 16 | u32(u8(s[3])) << 24; }

// Leaf 0 / 0x80000002-4 helpers.
void add_vendor(std::vector<CpuidLeaf>& leaves, u32 max_leaf)
{
    leaves.push_back({0, 0, false, max_leaf, str4("Genu"), str4("ntel"), str4("ineI")});
}
void add_brand(std::vector<CpuidLeaf>& leaves, const char* brand)
{
    std::array<char, 48> b{};
    for (usize i = 0; i < b.size() && brand[i]; ++i) b[i] = brand[i];
    for (u32 l = 0; l < 3; ++l) {
        u32 r[4];
        for (u32 k = 0; k < 4; ++k) {
            const usize o = l * 16 + k * 4;
            r[k] = u32(u8(b[o])) | u32(u8(b[o + 1])) << 8 | u32(u8(b[o + 2])) << 16 | u32(u8(b[o + 3])) << 24;
        }
        leaves.push_back({0x80000002 + l, 0, false, r[0], r[1], r[2], r[3]});
    }
}

// CPUID.1:EDX common to both models (the APIC bit 9 is dynamic: HostCpu).
// FPU VME DE PSE TSC MSR PAE MCE CX8, SEP MTRR PGE MCA CMOV PAT PSE36, CLFSH,
// DS ACPI MMX FXSR SSE SSE2 SS HTT TM, PBE.
constexpr u32 kStd1Edx = 0xbfebf9ff;
constexpr u32 kStd1EcxVmx = 1u << 5;

CpuProfile make_penryn()
{
    CpuProfile p{};
    p.name = "penryn";
    p.bochs_model = "core2_penryn_t9600";
    // Unicorn's Penryn model lacks XSAVE, which Bochs's has: the smallest superset.
    p.unicorn_cpu_model = UC_CPU_X86_SANDYBRIDGE;
    // VMX extensions of the Bochs model: TPR shadow, virtual NMIs, PERF_GLOBAL_CTRL,
    // APIC-access virtualization, WBINVD exiting. No EPT, VPID, unrestricted
    // guest, preemption timer, PAT/EFER controls.
    const u32 pin = pin::EXTERNAL_INTERRUPT_EXITING | pin::NMI_EXITING | pin::VIRTUAL_NMIS;
    const u32 proc2 = proc2::VIRTUALIZE_APIC_ACCESSES | proc2::WBINVD_EXITING;
    const u32 exit = exit_ctl::SAVE_DEBUG_CONTROLS | exit_ctl::HOST_ADDRESS_SPACE_SIZE |
                     exit_ctl::LOAD_PERF_GLOBAL_CTRL | exit_ctl::ACK_INTERRUPT_ON_EXIT;
    const u32 entry = entry_ctl::LOAD_DEBUG_CONTROLS | entry_ctl::IA32E_MODE_GUEST | entry_ctl::ENTRY_TO_SMM |
                      entry_ctl::DEACTIVATE_DUAL_MONITOR | entry_ctl::LOAD_PERF_GLOBAL_CTRL;
    VmxCapabilities& v = p.vmx;
    v.basic = kBasicHigh | kBochsVmcsRevision;
    v.pinbased_ctls = ctls(pin, kPinDefault1);
    v.procbased_ctls = ctls(kProcCommon, kProcDefault1);
    v.exit_ctls = ctls(exit, kExitDefault1);
    v.entry_ctls = ctls(entry, kEntryDefault1);
    v.misc = kMiscCommon;
    v.cr0_fixed0 = 0x80000021;  // PE, NE, PG
    v.cr0_fixed1 = 0xffffffff;
    v.cr4_fixed0 = kCr4Vmxe;
    v.cr4_fixed1 = kCr4Base | kCr4Vmxe | kCr4Smxe | kCr4Osxsave;
    v.vmcs_enum = kBochsVmcsEnum;
    v.procbased_ctls2 = ctls(proc2, 0);
    v.ept_vpid_cap = 0;
    v.true_pinbased_ctls = v.pinbased_ctls;
    v.true_procbased_ctls = ctls(kProcCommon, kProcTrueDefault1);
    v.true_exit_ctls = ctls(exit | kExitDefault1, kExitTrueDefault1);
    v.true_entry_ctls = ctls(entry | kEntryDefault1, kEntryTrueDefault1);
    v.vmfunc = 0;
    p.feature_control_reset = kFeatureControlLock | kFeatureControlVmxOutsideSmx;
    p.phys_addr_width = 40;
    p.linear_addr_width = 48;

    auto& c = p.cpuid_leaves;
    add_vendor(c, 0xd);
    // Family 6 model 0x17 stepping 0xa; CLFLUSH line 64 bytes, 1 logical processor.
    const u32 ecx1 = b32(0) | b32(2) | b32(3) | b32(4) | kStd1EcxVmx | b32(6) | b32(7) | b32(8) | b32(9) | b32(13) |
                     b32(14) | b32(15) | b32(19) | b32(26);
    c.push_back({1, 0, false, 0x0001067a, 0x00010800, ecx1, kStd1Edx});
    c.push_back({2, 0, false, 0x05B0B101, 0x005657F0, 0x00000000, 0x2CB4304E});
    c.push_back({4, 0, true, 0x04000121, 0x01C0003F, 0x0000003F, 0x00000001});
    c.push_back({4, 1, true, 0x04000122, 0x01C0003F, 0x0000003F, 0x00000001});
    c.push_back({4, 2, true, 0x04004143, 0x05C0003F, 0x00000FFF, 0x00000001});
    c.push_back({4, 3, true, 0, 0, 0, 0});
    c.push_back({5, 0, false, 0x40, 0x40, 0x3, 0x03122220});  // MONITOR/MWAIT: 64-byte lines, C-states
    c.push_back({7, 0, true, 0, 0, 0, 0});  // reserved on this model
    c.push_back({0xa, 0, false, 0x07280202, 0, 0, 0x503});  // perfmon v2: 2 counters, 40 bits; 3 fixed
    // XSAVE: x87 and SSE state, 576 bytes (EBX for XCR0 = 1, as at reset).
    c.push_back({0xd, 0, true, 0x3, 0x240, 0x240, 0});
    c.push_back({0x80000000, 0, false, 0x80000008, 0, 0, 0});
    c.push_back({0x80000001, 0, false, 0, 0, b32(0), b32(11) | b32(20) | b32(29)});  // LAHF; SYSCALL NX LM
    add_brand(c, "Intel(R) Core(TM)2 Duo CPU     T9600  @ 2.80GHz");
    c.push_back({0x80000005, 0, false, 0, 0, 0, 0});
    c.push_back({0x80000006, 0, false, 0, 0, 0x18008040, 0});
    c.push_back({0x80000007, 0, false, 0, 0, 0, 0});
    c.push_back({0x80000008, 0, false, 0x00003028, 0, 0, 0});  // 40-bit physical, 48-bit linear
    // No leaf 15H/16H (maximum leaf 0DH): the frequency of the brand string.
    p.tsc_hz = 2'800'000'000;
    p.implemented = model_controls(p.vmx);
    return p;
}

CpuProfile make_skylake()
{
    CpuProfile p{};
    p.name = "skylake";
    p.bochs_model = "corei7_skylake_x";
    p.unicorn_cpu_model = UC_CPU_X86_SKYLAKE_SERVER;
    const u32 pin = pin::EXTERNAL_INTERRUPT_EXITING | pin::NMI_EXITING | pin::VIRTUAL_NMIS | pin::PREEMPTION_TIMER;
    const u32 proc2 = proc2::VIRTUALIZE_APIC_ACCESSES | proc2::ENABLE_EPT | proc2::DESCRIPTOR_TABLE_EXITING |
                      proc2::ENABLE_RDTSCP | proc2::VIRTUALIZE_X2APIC | proc2::ENABLE_VPID | proc2::WBINVD_EXITING |
                      proc2::UNRESTRICTED_GUEST | proc2::APIC_REGISTER_VIRTUALIZATION |
                      proc2::VIRTUAL_INTERRUPT_DELIVERY | proc2::PAUSE_LOOP_EXITING | proc2::RDRAND_EXITING |
                      proc2::ENABLE_INVPCID | proc2::ENABLE_VMFUNC | proc2::VMCS_SHADOWING |
                      proc2::RDSEED_EXITING | proc2::ENABLE_PML | proc2::EPT_VIOLATION_VE | proc2::ENABLE_XSAVES |
                      proc2::TSC_SCALING;
    const u32 exit = exit_ctl::SAVE_DEBUG_CONTROLS | exit_ctl::HOST_ADDRESS_SPACE_SIZE |
                     exit_ctl::LOAD_PERF_GLOBAL_CTRL | exit_ctl::ACK_INTERRUPT_ON_EXIT | exit_ctl::SAVE_PAT |
                     exit_ctl::LOAD_PAT | exit_ctl::SAVE_EFER | exit_ctl::LOAD_EFER | exit_ctl::SAVE_PREEMPTION_TIMER;
    const u32 entry = entry_ctl::LOAD_DEBUG_CONTROLS | entry_ctl::IA32E_MODE_GUEST | entry_ctl::ENTRY_TO_SMM |
                      entry_ctl::DEACTIVATE_DUAL_MONITOR | entry_ctl::LOAD_PERF_GLOBAL_CTRL | entry_ctl::LOAD_PAT |
                      entry_ctl::LOAD_EFER;
    VmxCapabilities& v = p.vmx;
    v.basic = kBasicHigh | kBochsVmcsRevision;
    v.pinbased_ctls = ctls(pin, kPinDefault1);
    v.procbased_ctls = ctls(kProcCommon, kProcDefault1);
    v.exit_ctls = ctls(exit, kExitDefault1);
    v.entry_ctls = ctls(entry, kEntryDefault1);
    v.misc = kMiscCommon | misc_cap::VMWRITE_ANY_FIELD | misc_cap::INJECT_ILEN_0;
    v.cr0_fixed0 = 0x80000021;
    v.cr0_fixed1 = 0xffffffff;
    v.cr4_fixed0 = kCr4Vmxe;
    v.cr4_fixed1 = kCr4Base | kCr4Vmxe | kCr4Fsgsbase | kCr4Pcide | kCr4Osxsave | kCr4Smep | kCr4Smap;
    v.vmcs_enum = kBochsVmcsEnum;
    v.procbased_ctls2 = ctls(proc2, 0);
    // EPT: execute-only, 4-level walk, UC and WB paging-structure types, 2 MiB
    // and 1 GiB pages, INVEPT single/all context, accessed/dirty flags.
    // VPID: INVVPID with all four types.
    v.ept_vpid_cap = ept_cap::EXECUTE_ONLY | ept_cap::WALK_LENGTH_4 | ept_cap::MEMTYPE_UC | ept_cap::MEMTYPE_WB |
                     ept_cap::PDE_2MB | ept_cap::PDPTE_1GB | ept_cap::INVEPT | ept_cap::ACCESSED_DIRTY |
                     ept_cap::INVEPT_SINGLE_CONTEXT | ept_cap::INVEPT_ALL_CONTEXT | ept_cap::INVVPID |
                     ept_cap::INVVPID_INDIVIDUAL_ADDRESS | ept_cap::INVVPID_SINGLE_CONTEXT |
                     ept_cap::INVVPID_ALL_CONTEXT | ept_cap::INVVPID_SINGLE_CONTEXT_RETAINING_GLOBALS;
    v.true_pinbased_ctls = v.pinbased_ctls;
    v.true_procbased_ctls = ctls(kProcCommon, kProcTrueDefault1);
    v.true_exit_ctls = ctls(exit | kExitDefault1, kExitTrueDefault1);
    v.true_entry_ctls = ctls(entry | kEntryDefault1, kEntryTrueDefault1);
    v.vmfunc = 1;  // EPTP switching
    p.feature_control_reset = kFeatureControlLock | kFeatureControlVmxOutsideSmx;
    p.phys_addr_width = 40;
    p.linear_addr_width = 48;

    auto& c = p.cpuid_leaves;
    add_vendor(c, 0x16);
    // Family 6 model 0x55 stepping 4.
    // SSE3 PCLMULQDQ DTES64 MONITOR DS-CPL VMX EST TM2 SSSE3 FMA CX16 xTPR PDCM
    // PCID SSE4.1 SSE4.2 x2APIC MOVBE POPCNT TSC-deadline AES XSAVE AVX F16C RDRAND
    // (the value Bochs reports; OSXSAVE is dynamic).
    const u32 ecx1 = 0x77faf3bf;
    c.push_back({1, 0, false, 0x00050654, 0x00010800, ecx1, kStd1Edx});
    c.push_back({2, 0, false, 0x76036301, 0x00f0b5ff, 0x00000000, 0x00c30000});
    c.push_back({4, 0, true, 0x1c004121, 0x01c0003f, 0x0000003f, 0x00000000});
    c.push_back({4, 1, true, 0x1c004122, 0x01c0003f, 0x0000003f, 0x00000000});
    c.push_back({4, 2, true, 0x1c004143, 0x03c0003f, 0x000003ff, 0x00000000});
    c.push_back({4, 3, true, 0x1c03c163, 0x0280003f, 0x00002fff, 0x00000004});
    c.push_back({4, 4, true, 0, 0, 0, 0});
    // Leaf 7: FSGSBASE TSC_ADJUST BMI1 AVX2 FDP SMEP BMI2 ERMS INVPCID FCS/FDS
    // AVX512F/DQ RDSEED ADX SMAP CLFLUSHOPT CLWB AVX512CD/BW/VL (as Bochs reports).
    const u32 ebx7 = 0xd19f27eb;
    c.push_back({5, 0, false, 0x40, 0x40, 0x3, 0x2020});  // MONITOR/MWAIT
    c.push_back({7, 0, true, 0, ebx7, 0, 0});
    c.push_back({0xa, 0, false, 0x07300404, 0, 0, 0x603});  // perfmon v4: 4 counters, 48 bits; 3 fixed
    // XSAVE: x87, SSE, AVX, AVX-512 (opmask, ZMM_Hi256, Hi16_ZMM); EBX for
    // XCR0 = 1 (reset); subleaf 1: XSAVEOPT, XSAVEC, XGETBV with ECX=1,
    // XSAVES; then size and offset of each component.
    c.push_back({0xd, 0, true, 0xe7, 0x240, 0xa80, 0});
    c.push_back({0xd, 1, true, 0xf, 0, 0, 0});
    c.push_back({0xd, 2, true, 0x100, 0x240, 0, 0});
    c.push_back({0xd, 5, true, 0x40, 0x440, 0, 0});
    c.push_back({0xd, 6, true, 0x200, 0x480, 0, 0});
    c.push_back({0xd, 7, true, 0x400, 0x680, 0, 0});
    // TSC/crystal ratio 292/2 with the crystal frequency not enumerated;
    // base 3500 MHz, maximum 4000 MHz, bus 100 MHz.
    c.push_back({0x15, 0, false, 2, 0x124, 0, 0});
    c.push_back({0x16, 0, false, 0xdac, 0xfa0, 0x64, 0});
    c.push_back({0x80000000, 0, false, 0x80000008, 0, 0, 0});
    // LAHF LZCNT PREFETCHW; SYSCALL NX 1G-pages RDTSCP LM
    c.push_back({0x80000001, 0, false, 0, 0, b32(0) | b32(5) | b32(8),
                 b32(11) | b32(20) | b32(26) | b32(27) | b32(29)});
    add_brand(c, "Intel(R) Core(TM) i7-7800X CPU @ 3.50GHz");
    c.push_back({0x80000005, 0, false, 0, 0, 0, 0});
    c.push_back({0x80000006, 0, false, 0, 0, 0x01006040, 0});
    c.push_back({0x80000007, 0, false, 0, 0, 0, b32(8)});  // invariant TSC
    c.push_back({0x80000008, 0, false, 0x00003028, 0, 0, 0});
    // Leaf 16H's base frequency. Leaf 15H gives the TSC as 146 times a
    // crystal whose frequency it leaves out (ECX = 0); software then takes
    // the crystal from the base frequency (3500 MHz * 2 / 292), which gives
    // the same 3.5 GHz.
    p.tsc_hz = 3'500'000'000;
    p.implemented = model_controls(p.vmx);
    return p;
}

const std::vector<CpuProfile>& profiles()
{
    static const std::vector<CpuProfile> all = {make_penryn(), make_skylake()};
    return all;
}

}  // namespace

std::optional<u64> CpuProfile::capability_msr(u32 msr) const
{
    switch (msr) {
    case vmx::msr::IA32_VMX_BASIC: return vmx.basic;
    case vmx::msr::IA32_VMX_PINBASED_CTLS: return vmx.pinbased_ctls;
    case vmx::msr::IA32_VMX_PROCBASED_CTLS: return vmx.procbased_ctls;
    case vmx::msr::IA32_VMX_EXIT_CTLS: return vmx.exit_ctls;
    case vmx::msr::IA32_VMX_ENTRY_CTLS: return vmx.entry_ctls;
    case vmx::msr::IA32_VMX_MISC: return vmx.misc;
    case vmx::msr::IA32_VMX_CR0_FIXED0: return vmx.cr0_fixed0;
    case vmx::msr::IA32_VMX_CR0_FIXED1: return vmx.cr0_fixed1;
    case vmx::msr::IA32_VMX_CR4_FIXED0: return vmx.cr4_fixed0;
    case vmx::msr::IA32_VMX_CR4_FIXED1: return vmx.cr4_fixed1;
    case vmx::msr::IA32_VMX_VMCS_ENUM: return vmx.vmcs_enum;
    case vmx::msr::IA32_VMX_PROCBASED_CTLS2:
        if (!has_secondary_controls()) return std::nullopt;
        return vmx.procbased_ctls2;
    case vmx::msr::IA32_VMX_EPT_VPID_CAP:
        if (!has_ept_vpid_cap()) return std::nullopt;
        return vmx.ept_vpid_cap;
    case vmx::msr::IA32_VMX_TRUE_PINBASED_CTLS:
        if (!has_true_controls()) return std::nullopt;
        return vmx.true_pinbased_ctls;
    case vmx::msr::IA32_VMX_TRUE_PROCBASED_CTLS:
        if (!has_true_controls()) return std::nullopt;
        return vmx.true_procbased_ctls;
    case vmx::msr::IA32_VMX_TRUE_EXIT_CTLS:
        if (!has_true_controls()) return std::nullopt;
        return vmx.true_exit_ctls;
    case vmx::msr::IA32_VMX_TRUE_ENTRY_CTLS:
        if (!has_true_controls()) return std::nullopt;
        return vmx.true_entry_ctls;
    case vmx::msr::IA32_VMX_VMFUNC:
        if (!has_vmfunc()) return std::nullopt;
        return vmx.vmfunc;
    default: return std::nullopt;
    }
}

CpuidLeaf CpuProfile::cpuid(u32 leaf, u32 subleaf) const
{
    u32 max_basic = 0, max_ext = 0x80000000;
    for (const CpuidLeaf& l : cpuid_leaves) {
        if (l.leaf == 0) max_basic = l.eax;
        if (l.leaf == 0x80000000) max_ext = l.eax;
    }
    // Intel: a leaf beyond the maximum returns the highest basic leaf's data.
    if ((leaf < 0x80000000 && leaf > max_basic) || (leaf >= 0x80000000 && leaf > max_ext)) leaf = max_basic;
    for (const CpuidLeaf& l : cpuid_leaves)
        if (l.leaf == leaf && (!l.indexed || l.subleaf == subleaf)) return l;
    // Indexed leaf beyond its last subleaf, or a reserved leaf: zeros.
    return CpuidLeaf{leaf, subleaf, false, 0, 0, 0, 0};
}

bool CpuProfile::has_secondary_controls() const { return proc_allows(vmx::proc::ACTIVATE_SECONDARY_CONTROLS); }
bool CpuProfile::has_ept() const { return proc2_allows(vmx::proc2::ENABLE_EPT); }
bool CpuProfile::has_vpid() const { return proc2_allows(vmx::proc2::ENABLE_VPID); }
bool CpuProfile::has_unrestricted_guest() const { return proc2_allows(vmx::proc2::UNRESTRICTED_GUEST); }
bool CpuProfile::has_preemption_timer() const { return pin_allows(vmx::pin::PREEMPTION_TIMER); }
bool CpuProfile::has_vmfunc() const { return proc2_allows(vmx::proc2::ENABLE_VMFUNC); }

bool CpuProfile::phys_addr_valid(u64 address) const
{
    if ((address & ~phys_addr_mask()) != 0) return false;
    return !vmx_addresses_32bit() || (address >> 32) == 0;
}

bool CpuProfile::supports_feature(vmx::VmcsFeature feature) const
{
    using F = vmx::VmcsFeature;
    namespace p2 = vmx::proc2;
    switch (feature) {
    case F::BASE: return true;
    case F::VPID: return proc2_allows(p2::ENABLE_VPID);
    case F::POSTED_INTERRUPTS: return pin_allows(vmx::pin::POSTED_INTERRUPTS);
    case F::EPT_VE: return proc2_allows(p2::EPT_VIOLATION_VE);
    case F::VIRTUAL_INTR_DELIVERY: return proc2_allows(p2::VIRTUAL_INTERRUPT_DELIVERY);
    case F::PML: return proc2_allows(p2::ENABLE_PML);
    case F::MSR_BITMAPS: return proc_allows(vmx::proc::USE_MSR_BITMAPS);
    case F::TPR_SHADOW: return proc_allows(vmx::proc::USE_TPR_SHADOW);
    case F::APIC_ACCESS: return proc2_allows(p2::VIRTUALIZE_APIC_ACCESSES);
    case F::VMFUNC: return proc2_allows(p2::ENABLE_VMFUNC);
    case F::EPT: return proc2_allows(p2::ENABLE_EPT);
    case F::VMCS_SHADOWING: return proc2_allows(p2::VMCS_SHADOWING);
    case F::XSAVES: return proc2_allows(p2::ENABLE_XSAVES);
    case F::ENCLS: return proc2_allows(1u << 15);
    case F::TSC_SCALING: return proc2_allows(p2::TSC_SCALING);
    case F::PAT: return entry_allows(vmx::entry_ctl::LOAD_PAT) || exit_allows(vmx::exit_ctl::LOAD_PAT);
    case F::EFER: return entry_allows(vmx::entry_ctl::LOAD_EFER) || exit_allows(vmx::exit_ctl::LOAD_EFER);
    case F::PERF_GLOBAL_CTRL:
        return entry_allows(vmx::entry_ctl::LOAD_PERF_GLOBAL_CTRL) ||
               exit_allows(vmx::exit_ctl::LOAD_PERF_GLOBAL_CTRL);
    case F::BNDCFGS: return entry_allows(vmx::entry_ctl::LOAD_BNDCFGS) || exit_allows(vmx::exit_ctl::CLEAR_BNDCFGS);
    case F::SECONDARY_CONTROLS: return has_secondary_controls();
    case F::PAUSE_LOOP_EXITING: return proc2_allows(p2::PAUSE_LOOP_EXITING);
    case F::PREEMPTION_TIMER: return has_preemption_timer();
    }
    return false;
}

bool CpuProfile::supports_field(u64 encoding) const
{
    // Bits 63:32 of the encoding operand and bits 31:15 must be zero.
    if ((encoding >> 15) != 0) return false;
    const bool high = vmx::encoding_is_high(encoding);
    if (high && vmx::encoding_width(encoding) != vmx::VmcsWidth::W64) return false;
    const int index = VmcsStore::field_index(encoding & ~u64{1});
    if (index < 0) return false;
    return supports_feature(vmx::kVmcsFieldTable[index].feature);
}

const CpuProfile* find_cpu_profile(std::string_view name)
{
    for (const CpuProfile& p : profiles())
        if (name == p.name) return &p;
    return nullptr;
}

const std::vector<std::string_view>& cpu_profile_names()
{
    static const std::vector<std::string_view> names = [] {
        std::vector<std::string_view> n;
        for (const CpuProfile& p : profiles()) n.emplace_back(p.name);
        return n;
    }();
    return names;
}

}  // namespace xeno::sim
