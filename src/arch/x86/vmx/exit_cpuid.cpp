// CPUID exits: the host's answer with the guest's view applied.
#include "arch/x86/vmx/cr_values.hpp"
#include "arch/x86/vmx/exit_handlers.hpp"
#include "arch/x86/vmx/guest_state.hpp"
#include "arch/x86/vmx/xcr0.hpp"
#include "hal/cpu.hpp"

namespace xeno::vmx {

// Xen's hypervisor leaves (xen/include/public/arch-x86/cpuid.h): 0x40000000
// gives the highest hypervisor leaf and the signature "XenVMMXenVMM",
// 0x40000001 the version (major << 16 | minor): Xeno reports Xen 4.19.
inline constexpr u32 kHypervisorLeafBase = 0x40000000;
inline constexpr u32 kXenSignatureEbx = 0x566e6558;  // "XenV"
inline constexpr u32 kXenSignatureEcx = 0x65584d4d;  // "MMXe"
inline constexpr u32 kXenSignatureEdx = 0x4d4d566e;  // "nVMM"
inline constexpr u32 kXenVersion = (4u << 16) | 19u;

CpuidRegs guest_cpuid(u32 leaf, u32, CpuidRegs host)
{
    if (leaf >= kHypervisorLeafBase && leaf <= kHypervisorLeafBase + 0xff) {
        if (leaf == kHypervisorLeafBase) return {kHypervisorLeafBase + 1, kXenSignatureEbx, kXenSignatureEcx, kXenSignatureEdx};
        if (leaf == kHypervisorLeafBase + 1) return {kXenVersion, 0, 0, 0};
        return {0, 0, 0, 0};
    }
    if (leaf == 1) {
        host.ecx &= ~(1u << 3);  // MONITOR/MWAIT: they raise #UD (exit_misc.cpp)
        host.ecx &= ~(1u << 5);  // VMX: no nested virtualization
        host.ecx &= ~(1u << 6);  // SMX
        host.ecx |= 1u << 31;    // hypervisor present
    }
    // MONITOR/MWAIT parameters, and architectural performance monitoring:
    // version 0, no counters (RDPMC raises #GP, exit_misc.cpp).
    if (leaf == 5 || leaf == 0xa) return {0, 0, 0, 0};
    return host;
}

namespace {

// CPUID.(EAX=0DH,ECX=0):EBX, the XSAVE area size for the features enabled
// in XCR0 (SDM Vol. 1 13.2): the end of the furthest enabled component
// (subleaf i: size in EAX, offset in EBX), at least the legacy region and
// header. The processor computes it for its current XCR0; the guest's is
// the vcpu's (hal::run loads it only before the next entry).
u32 xsave_size_for(u64 xcr0)
{
    u32 size = kXsaveLegacyAndHeader;
    for (u32 i = 2; i < 63; ++i) {
        if (!(xcr0 & bit(i))) continue;
        const hal::CpuidResult c = hal::cpuid(0xd, i);
        if (c.eax + c.ebx > size) size = c.eax + c.ebx;
    }
    return size;
}

}  // namespace

void handle_cpuid(Vcpu& v, const ExitInfo& exit)
{
    const u32 leaf = static_cast<u32>(v.regs.gpr[0]);
    const u32 subleaf = static_cast<u32>(v.regs.gpr[1]);
    const hal::CpuidResult h = hal::cpuid(leaf, subleaf);
    CpuidRegs r = guest_cpuid(leaf, subleaf, CpuidRegs{h.eax, h.ebx, h.ecx, h.edx});
    // The bits that follow the guest's own state: OSXSAVE is its CR4.OSXSAVE
    // (the host's CR4 has it for XSETBV, vmx_cpu_setup.cpp), the XSAVE size
    // follows its XCR0.
    if (leaf == 1) r.ecx = (guest_cr4_view(v) & cr4::OSXSAVE) ? r.ecx | (1u << 27) : r.ecx & ~(1u << 27);
    if (leaf == 0xd && subleaf == 0 && v.regs.xcr0) r.ebx = xsave_size_for(v.regs.xcr0);
    // CPUID writes EAX..EDX zero-extended (bits 63:32 cleared).
    v.regs.gpr[0] = r.eax;
    v.regs.gpr[3] = r.ebx;
    v.regs.gpr[1] = r.ecx;
    v.regs.gpr[2] = r.edx;
    advance_rip(v, exit);
}

}  // namespace xeno::vmx
