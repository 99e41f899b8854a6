// Logs the CPU's identity as the hw build sees it, one fact a line, so that
// the sim build's CPU profiles can be checked against a real implementation
// (Bochs's CPU models; tests/data/bochs-vmx-msrs-*.txt):
//   hw-caps: cpuid 0x<leaf> 0x<subleaf> 0x<eax> 0x<ebx> 0x<ecx> 0x<edx>
//   hw-caps: 0x<msr> 0x<value>
// Only MSRs that the CPU reports it has are read (rdmsr of a missing MSR is #GP):
// SDM Vol. 3D, Appendix A.1-A.11 says which capability bit guards each.
#include "arch/x86/vmx/vmx_arch.hpp"
#include "hal/cpu.hpp"
#include "hal/hw/hw.hpp"
#include "lib/format.hpp"

namespace xeno::hw {
namespace {

void log_cpuid(u32 leaf, u32 subleaf)
{
    const auto r = hal::cpuid(leaf, subleaf);
    FixedWriter<128> w;
    w.str("hw-caps: cpuid ").hex(leaf).str(" ").hex(subleaf).str(" ").hex(r.eax).str(" ").hex(r.ebx)
        .str(" ").hex(r.ecx).str(" ").hex(r.edx).str("\n");
    log_str(w.c_str());
}

u64 log_msr(u32 msr)
{
    const u64 value = hal::rdmsr(msr);
    FixedWriter<64> w;
    w.str("hw-caps: ").hex(msr).str(" ").hex(value).str("\n");
    log_str(w.c_str());
    return value;
}

}  // namespace

void log_capabilities()
{
    const u32 max_leaf = hal::cpuid(0, 0).eax;
    log_cpuid(0, 0);
    log_cpuid(1, 0);
    // MONITOR/MWAIT (5), performance monitoring (0xA), XSAVE state
    // components (0xD: subleaf 0, 1 and one per state component 2..9), TSC
    // and crystal clock (0x15), processor frequency (0x16): what the
    // hypervisor's guest CPUID view and the sim's TSC rate derive from.
    if (max_leaf >= 5) log_cpuid(5, 0);
    if (max_leaf >= 7) {
        const u32 max_sub7 = hal::cpuid(7, 0).eax;
        for (u32 sub = 0; sub <= max_sub7 && sub < 4; ++sub) log_cpuid(7, sub);
    }
    if (max_leaf >= 0xa) log_cpuid(0xa, 0);
    if (max_leaf >= 0xd)
        for (u32 sub = 0; sub <= 9; ++sub) log_cpuid(0xd, sub);
    if (max_leaf >= 0x15) log_cpuid(0x15, 0);
    if (max_leaf >= 0x16) log_cpuid(0x16, 0);
    const u32 max_ext = hal::cpuid(0x80000000, 0).eax;
    for (u32 leaf = 0x80000000; leaf <= max_ext && leaf <= 0x80000008; ++leaf) log_cpuid(leaf, 0);

    const bool has_vmx = (hal::cpuid(1, 0).ecx & (1u << 5)) != 0;  // CPUID.1:ECX.VMX[5]
    if (!has_vmx) {
        log_str("hw-caps: no vmx\n");
        return;
    }
    log_msr(0x3a);  // IA32_FEATURE_CONTROL, as the firmware left it
    const u64 basic = log_msr(vmx::msr::IA32_VMX_BASIC);
    log_msr(vmx::msr::IA32_VMX_PINBASED_CTLS);
    const u64 procbased = log_msr(vmx::msr::IA32_VMX_PROCBASED_CTLS);
    log_msr(vmx::msr::IA32_VMX_EXIT_CTLS);
    log_msr(vmx::msr::IA32_VMX_ENTRY_CTLS);
    log_msr(vmx::msr::IA32_VMX_MISC);
    log_msr(vmx::msr::IA32_VMX_CR0_FIXED0);
    log_msr(vmx::msr::IA32_VMX_CR0_FIXED1);
    log_msr(vmx::msr::IA32_VMX_CR4_FIXED0);
    log_msr(vmx::msr::IA32_VMX_CR4_FIXED1);
    log_msr(vmx::msr::IA32_VMX_VMCS_ENUM);
    u64 procbased2 = 0;
    if (procbased & (1ull << (32 + 31))) {  // activate secondary controls may be 1
        procbased2 = log_msr(vmx::msr::IA32_VMX_PROCBASED_CTLS2);
        // EPT (bit 1) or VPID (bit 5) may be 1: IA32_VMX_EPT_VPID_CAP exists.
        if (procbased2 & ((1ull << (32 + 1)) | (1ull << (32 + 5)))) log_msr(vmx::msr::IA32_VMX_EPT_VPID_CAP);
    }
    if (basic & (1ull << 55)) {  // TRUE_* controls
        log_msr(vmx::msr::IA32_VMX_TRUE_PINBASED_CTLS);
        log_msr(vmx::msr::IA32_VMX_TRUE_PROCBASED_CTLS);
        log_msr(vmx::msr::IA32_VMX_TRUE_EXIT_CTLS);
        log_msr(0x490);  // IA32_VMX_TRUE_ENTRY_CTLS
    }
    if (procbased2 & (1ull << (32 + 13))) log_msr(0x491);  // enable VM functions: IA32_VMX_VMFUNC
}

}  // namespace xeno::hw
