#include "sim/vmx-model/host_cpu.hpp"

#include <cinttypes>
#include <cstdio>

#include "arch/x86/vmx/vmx_arch.hpp"
#include "hal/panic.hpp"

namespace xeno::sim {

namespace {

// Long-mode reset state: CR0 = PE MP ET NE WP AM PG, CR4 = PAE PGE OSFXSR
// OSXMMEXCPT, EFER = SCE LME LMA NXE.
constexpr u64 kResetCr0 = 0x80050033;
constexpr u64 kResetCr4 = 0x6a0;
constexpr u64 kResetEfer = 0xd01;
constexpr u64 kCr4Osxsave = u64{1} << 18;
constexpr u64 kApicBaseReset = 0xfee00900;  // BSP, xAPIC global enable
constexpr u32 kMsrIa32ApicBase = 0x1b;

// Host selectors and bases as the hw build's boot GDT lays them out; the
// harness may replace them with set_segments.
constexpr hal::HostSegments kResetSegments = {
    0x08, 0x10, 0x10, 0x10, 0x00, 0x00, 0x18,  // cs ss ds es fs gs tr
    0, 0, 0x2000, 0x1000, 0x3000,              // fs, gs, tr, gdtr, idtr bases
};

bool is_plain_msr(u32 msr)
{
    using namespace vmx::msr;
    switch (msr) {
    case IA32_SYSENTER_CS:
    case IA32_SYSENTER_ESP:
    case IA32_SYSENTER_EIP:
    case IA32_DEBUGCTL:
    case IA32_PAT:
    case IA32_STAR:
    case IA32_LSTAR:
    case IA32_FMASK:
    case IA32_FS_BASE:
    case IA32_GS_BASE:
    case IA32_KERNEL_GS_BASE:
    case 0xC0000083:  // IA32_CSTAR
    case 0xC0000103:  // IA32_TSC_AUX (RDTSCP/RDPID; VM-exit MSR-load lists may restore it)
        return true;
    default: return false;
    }
}

}  // namespace

HostCpu::HostCpu(const CpuProfile& profile)
    : profile_(profile), cr0_(kResetCr0), cr3_(0), cr4_(kResetCr4), efer_(kResetEfer),
      feature_control_(profile.feature_control_reset), apic_base_(kApicBaseReset), segments_(kResetSegments)
{
    plain_msrs_[vmx::msr::IA32_PAT] = 0x0007040600070406;  // architectural reset value
}

bool HostCpu::fault(std::string why) const
{
    last_fault_ = std::move(why);
    return false;
}

hal::CpuidResult HostCpu::cpuid(u32 leaf, u32 subleaf) const
{
    const CpuidLeaf l = profile_.cpuid(leaf, subleaf);
    hal::CpuidResult r{l.eax, l.ebx, l.ecx, l.edx};
    if (l.leaf == 1) {
        // OSXSAVE mirrors CR4.OSXSAVE; the APIC bit the APIC global enable.
        if (cr4_ & kCr4Osxsave) r.ecx |= 1u << 27;
        if (apic_base_ & (1u << 11)) r.edx |= 1u << 9;
    }
    return r;
}

std::optional<u64> HostCpu::try_rdmsr(u32 msr) const
{
    if (const std::optional<u64> cap = profile_.capability_msr(msr)) return cap;
    if (msr == vmx::msr::IA32_FEATURE_CONTROL) return feature_control_;
    if (msr == vmx::msr::IA32_EFER) return efer_;
    if (msr == kMsrIa32ApicBase) return apic_base_;
    if (msr == vmx::msr::IA32_TSC) return tsc();
    if (is_plain_msr(msr)) {
        const auto it = plain_msrs_.find(msr);
        return it == plain_msrs_.end() ? 0 : it->second;
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "rdmsr 0x%" PRIx32 ": no such MSR (#GP)", msr);
    fault(buf);
    return std::nullopt;
}

bool HostCpu::try_wrmsr(u32 msr, u64 value)
{
    char buf[96];
    if (profile_.capability_msr(msr) || (msr >= vmx::msr::IA32_VMX_BASIC && msr <= vmx::msr::IA32_VMX_VMFUNC)) {
        std::snprintf(buf, sizeof buf, "wrmsr 0x%" PRIx32 ": VMX capability MSRs are read-only (#GP)", msr);
        return fault(buf);
    }
    if (msr == vmx::msr::IA32_FEATURE_CONTROL) {
        // SDM Vol. 3C, 24.7: once the lock bit is set, WRMSR faults until reset.
        if (feature_control_ & vmx::kFeatureControlLock)
            return fault("wrmsr IA32_FEATURE_CONTROL: the MSR is locked (#GP)");
        // Bits 0-2 (lock, VMX in SMX, VMX outside SMX); bit 1 needs SMX.
        if (value & ~u64{0x7}) return fault("wrmsr IA32_FEATURE_CONTROL: reserved bits set (#GP)");
        feature_control_ = value;
        return true;
    }
    if (msr == vmx::msr::IA32_EFER) {
        // SCE, LME, NXE are writable; LMA is read-only (set by paging activation).
        constexpr u64 kLma = u64{1} << 10;
        if (value & ~u64{0xd01}) return fault("wrmsr IA32_EFER: reserved bits set (#GP)");
        efer_ = (value & ~kLma) | (efer_ & kLma);
        return true;
    }
    if (msr == kMsrIa32ApicBase) {
        apic_base_ = value;
        return true;
    }
    if (msr == vmx::msr::IA32_TSC) {
        tsc_adjust_ += value - tsc();
        return true;
    }
    if (is_plain_msr(msr)) {
        plain_msrs_[msr] = value;
        return true;
    }
    std::snprintf(buf, sizeof buf, "wrmsr 0x%" PRIx32 ": no such MSR (#GP)", msr);
    return fault(buf);
}

u64 HostCpu::rdmsr(u32 msr) const
{
    const std::optional<u64> v = try_rdmsr(msr);
    if (!v) hal::panic(last_fault_.c_str());
    return *v;
}

void HostCpu::wrmsr(u32 msr, u64 value)
{
    if (!try_wrmsr(msr, value)) hal::panic(last_fault_.c_str());
}

bool HostCpu::try_write_cr0(u64 value)
{
    const VmxCapabilities& v = profile_.vmx;
    if (in_vmx_operation_ && ((value & v.cr0_fixed0) != v.cr0_fixed0 || (value & ~v.cr0_fixed1 & 0xffffffff) != 0))
        return fault("mov cr0: value violates IA32_VMX_CR0_FIXED0/1 in VMX operation (#GP)");
    if (value >> 32) return fault("mov cr0: reserved bits 63:32 set (#GP)");
    cr0_ = value;
    return true;
}

bool HostCpu::try_write_cr4(u64 value)
{
    const VmxCapabilities& v = profile_.vmx;
    if (in_vmx_operation_ && ((value & v.cr4_fixed0) != v.cr4_fixed0))
        return fault("mov cr4: value violates IA32_VMX_CR4_FIXED0 in VMX operation (#GP)");
    if (value & ~v.cr4_fixed1) return fault("mov cr4: bit not supported by this CPU (#GP)");
    cr4_ = value;
    return true;
}

void HostCpu::write_cr0(u64 value)
{
    if (!try_write_cr0(value)) hal::panic(last_fault_.c_str());
}

void HostCpu::write_cr4(u64 value)
{
    if (!try_write_cr4(value)) hal::panic(last_fault_.c_str());
}

}  // namespace xeno::sim
