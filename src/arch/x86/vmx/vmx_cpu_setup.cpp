#include "arch/x86/vmx/vmx_cpu_setup.hpp"

#include "core/log.hpp"
#include "hal/cpu.hpp"
#include "hal/memory.hpp"
#include "hal/vmx.hpp"

namespace xeno::vmx {

namespace {

void log_msr(u32 index, u64 value) { LogLine{}.str("vmx-msr ").hex(index).ch(' ').hex(value); }

VmxCaps read_caps()
{
    VmxCaps c;
    c.basic = hal::rdmsr(msr::IA32_VMX_BASIC);
    const bool tc = c.true_controls();
    c.pinbased = hal::rdmsr(tc ? msr::IA32_VMX_TRUE_PINBASED_CTLS : msr::IA32_VMX_PINBASED_CTLS);
    c.procbased = hal::rdmsr(tc ? msr::IA32_VMX_TRUE_PROCBASED_CTLS : msr::IA32_VMX_PROCBASED_CTLS);
    c.exit = hal::rdmsr(tc ? msr::IA32_VMX_TRUE_EXIT_CTLS : msr::IA32_VMX_EXIT_CTLS);
    c.entry = hal::rdmsr(tc ? msr::IA32_VMX_TRUE_ENTRY_CTLS : msr::IA32_VMX_ENTRY_CTLS);
    c.misc = hal::rdmsr(msr::IA32_VMX_MISC);
    c.cr0_fixed0 = hal::rdmsr(msr::IA32_VMX_CR0_FIXED0);
    c.cr0_fixed1 = hal::rdmsr(msr::IA32_VMX_CR0_FIXED1);
    c.cr4_fixed0 = hal::rdmsr(msr::IA32_VMX_CR4_FIXED0);
    c.cr4_fixed1 = hal::rdmsr(msr::IA32_VMX_CR4_FIXED1);
    c.vmcs_enum = hal::rdmsr(msr::IA32_VMX_VMCS_ENUM);
    // IA32_VMX_PROCBASED_CTLS2 exists only when secondary controls can be
    // activated; IA32_VMX_EPT_VPID_CAP only when EPT or VPID can be enabled
    // (Appendix A.3.3, A.10).
    if (c.secondary()) c.procbased2 = hal::rdmsr(msr::IA32_VMX_PROCBASED_CTLS2);
    if (c.ept() || c.vpid()) c.ept_vpid = hal::rdmsr(msr::IA32_VMX_EPT_VPID_CAP);
    return c;
}

void log_caps(const VmxCaps& c)
{
    // All MSRs the CPU has, legacy and TRUE_*, in index order: the hw build's
    // log of these is how the sim profiles are checked against Bochs.
    log_msr(msr::IA32_VMX_BASIC, c.basic);
    for (u32 m = msr::IA32_VMX_PINBASED_CTLS; m <= msr::IA32_VMX_VMCS_ENUM; ++m) log_msr(m, hal::rdmsr(m));
    if (c.secondary()) log_msr(msr::IA32_VMX_PROCBASED_CTLS2, c.procbased2);
    if (c.ept() || c.vpid()) log_msr(msr::IA32_VMX_EPT_VPID_CAP, c.ept_vpid);
    if (c.true_controls())
        for (u32 m = msr::IA32_VMX_TRUE_PINBASED_CTLS; m <= msr::IA32_VMX_TRUE_ENTRY_CTLS; ++m)
            log_msr(m, hal::rdmsr(m));
}

}  // namespace

Result<Hpa> allocate_vmcs_region(mm::FrameAllocator& frames, const VmxCaps& caps)
{
    Result<Hpa> r = frames.allocate_zeroed();
    if (!r.ok()) return r;
    // The first 32 bits: revision identifier, bit 31 clear (shadow-VMCS
    // indicator) (SDM 25.2 "Format of the VMCS Region").
    *static_cast<u32*>(hal::machine_to_virt(r.value())) = caps.revision();
    return r;
}

Status vmx_cpu_enable(mm::FrameAllocator& frames, VmxCaps& caps, CapsLog log)
{
    if (!test_bit(hal::cpuid(1, 0).ecx, 5)) {
        LogLine{}.str("vmx: this CPU has no VMX (CPUID.1:ECX bit 5 clear)");
        return Status::UNSUPPORTED;
    }

    // IA32_FEATURE_CONTROL (SDM 24.7): VMXON #GPs unless it is locked with
    // "enable VMX outside SMX". Firmware normally locks it; if it did not,
    // set the bit and lock it ourselves.
    u64 fc = hal::rdmsr(msr::IA32_FEATURE_CONTROL);
    if (!(fc & kFeatureControlLock)) {
        fc |= kFeatureControlLock | kFeatureControlVmxOutsideSmx;
        hal::wrmsr(msr::IA32_FEATURE_CONTROL, fc);
        fc = hal::rdmsr(msr::IA32_FEATURE_CONTROL);
    }
    if (!(fc & kFeatureControlVmxOutsideSmx)) {
        LogLine{}.str("vmx: IA32_FEATURE_CONTROL is locked with VMX outside SMX disabled (")
            .hex(fc).str("): enable VT-x in the firmware");
        return Status::UNSUPPORTED;
    }

    caps = read_caps();
    if (log == CapsLog::ALL) log_caps(caps);
    if (caps.vmcs_size() == 0 || caps.vmcs_size() > kPageSize) {
        LogLine{}.str("vmx: IA32_VMX_BASIC reports a VMCS size of ").dec(caps.vmcs_size()).str(" bytes");
        return Status::UNSUPPORTED;
    }
    // Bit 48: VMX structures limited to 32-bit physical addresses.
    const bool phys32 = test_bit(caps.basic, 48);

    // CR0/CR4 as VMX operation requires (SDM 24.8, Appendix A.7/A.8), with
    // the caches on (CD and NW clear): a loader may leave them as the reset
    // state has them (Bochs's does), and VM entry does not load CD and NW
    // (SDM Vol. 3C 26.3.2.1), so a guest would start with the host's.
    constexpr u64 kCr0Nw = bit(29), kCr0Cd = bit(30);
    const u64 cr0 = ((hal::read_cr0() | caps.cr0_fixed0) & caps.cr0_fixed1) & ~(kCr0Cd | kCr0Nw);
    // CR4.OSXSAVE (bit 18) where the CPU has XSAVE (CPUID.1:ECX[26]): XCR0
    // is shared by root and non-root operation, and hal::run loads each
    // guest's XCR0 with XSETBV, which needs it (SDM Vol. 2B XSETBV; hal/vmx.hpp).
    const u64 osxsave = test_bit(hal::cpuid(1, 0).ecx, 26) ? bit(18) : 0;
    // CR4.OSFXSR (bit 9): hal::run saves and restores each guest's x87/SSE
    // registers with FXSAVE/FXRSTOR, which include XMM and MXCSR only with it.
    const u64 cr4 = (hal::read_cr4() | caps.cr4_fixed0 | bit(13) | bit(9) | osxsave) & caps.cr4_fixed1;  // bit 13: CR4.VMXE
    if (!(cr4 & bit(13))) {
        LogLine{}.str("vmx: IA32_VMX_CR4_FIXED1 does not allow CR4.VMXE");
        return Status::UNSUPPORTED;
    }
    hal::write_cr0(cr0);
    hal::write_cr4(cr4);

    Result<Hpa> region = allocate_vmcs_region(frames, caps);
    if (!region.ok()) {
        LogLine{}.str("vmx: no memory for the VMXON region");
        return region.status();
    }
    if (phys32 && region.value().value() >= (u64{1} << 32)) {
        LogLine{}.str("vmx: VMXON region above 4 GiB on a CPU limited to 32-bit VMX addresses");
        return Status::UNSUPPORTED;
    }
    const hal::VmxResult r = hal::vmxon(region.value());
    if (r != hal::VmxResult::SUCCEED) {
        LogLine{}.str("vmx: VMXON failed (")
            .str(r == hal::VmxResult::FAIL_INVALID ? "VMfailInvalid" : "VMfailValid")
            .str(") with VMXON region at ").hex(region.value().value());
        return Status::VMX_FAIL;
    }
    if (log == CapsLog::QUIET) return Status::OK;
    LogLine{}.str("vmx: VMXON ok, revision ").hex(caps.revision()).str(", VMCS size ").dec(caps.vmcs_size())
        .str(caps.ept_usable() ? ", EPT" : "").str(caps.unrestricted_guest() ? ", unrestricted guest" : "")
        .str(caps.vpid() ? ", VPID" : "");
    return Status::OK;
}

void vmx_cpu_disable()
{
    if (hal::vmxoff() != hal::VmxResult::SUCCEED) LogLine{}.str("vmx: VMXOFF failed");
}

}  // namespace xeno::vmx
