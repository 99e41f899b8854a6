// CPUID exits: the host's answer with the guest's view applied.
#include "arch/x86/vmx/cpuid_topology.hpp"
#include "arch/x86/vmx/cr_values.hpp"
#include "arch/x86/vmx/exit_handlers.hpp"
#include "arch/x86/vmx/guest_state.hpp"
#include "arch/x86/vmx/xcr0.hpp"
#include "core/domain.hpp"
#include "hal/cpu.hpp"
#include "xen/hypercall.hpp"

namespace xeno::vmx {

// Xen's hypervisor leaves (xen/include/public/arch-x86/cpuid.h, docs/
// xen-abi.md): 0x40000000 gives the highest hypervisor leaf and the
// signature "XenVMMXenVMM", 0x40000001 the version (major << 16 | minor):
// Xeno reports Xen 4.19; 0x40000002 the hypercall page count and MSR. The
// vcpu-dependent leaves (TSC, vcpu and domain ids) come from
// xen::cpuid_leaf in vcpu_cpuid.
inline constexpr u32 kHypervisorLeafBase = xen::kCpuidBase;
inline constexpr u32 kXenSignatureEbx = 0x566e6558;  // "XenV"
inline constexpr u32 kXenSignatureEcx = 0x65584d4d;  // "MMXe"
inline constexpr u32 kXenSignatureEdx = 0x4d4d566e;  // "nVMM"
inline constexpr u32 kXenVersion = (4u << 16) | 19u;

// The vector extensions guests are not offered: VEX- and EVEX-encoded AVX,
// AVX2, FMA, F16C, AVX-512, and the XSAVE state components and compacted
// formats (XSAVEC, XSAVES) that go with them. A guest must take the same
// paths on every machine that runs Xeno, and the sim build's execution
// engine (Unicorn 2.1.4) executes none of them (tests/engine/
// instruction_set_test.cpp): told about them, a guest would choose code
// (glibc's string functions, the kernel's checksums) that raises #UD there.
// Guests keep x87, SSE to SSE4.2, AES-NI, PCLMULQDQ and XSAVE/XSAVEOPT of
// x87 and SSE state.
inline constexpr u32 kHidden1Ecx = (1u << 12) | (1u << 28) | (1u << 29);  // FMA, AVX, F16C
// AVX2, AVX512F, AVX512DQ, AVX512_IFMA, AVX512PF, AVX512ER, AVX512CD, AVX512BW, AVX512VL
inline constexpr u32 kHidden7Ebx = (1u << 5) | (1u << 16) | (1u << 17) | (1u << 21) | (1u << 26) | (1u << 27) |
                                   (1u << 28) | (1u << 30) | (1u << 31);
// AVX512_VBMI, AVX512_VBMI2, VAES, VPCLMULQDQ, AVX512_VNNI, AVX512_BITALG, AVX512_VPOPCNTDQ
inline constexpr u32 kHidden7Ecx = (1u << 1) | (1u << 6) | (1u << 9) | (1u << 10) | (1u << 11) | (1u << 12) | (1u << 14);
// AVX512_4VNNIW, AVX512_4FMAPS, AVX512_VP2INTERSECT, AVX512_FP16
inline constexpr u32 kHidden7Edx = (1u << 2) | (1u << 3) | (1u << 8) | (1u << 23);
// Processor-specific power, thermal and debug-store features: their MSRs
// (IA32_THERM_INTERRUPT and _STATUS, IA32_PERF_CTL, IA32_DS_AREA,
// IA32_PERF_CAPABILITIES, the xTPR bit of MISC_ENABLE) are not virtualized,
// and a guest told about them writes them expecting no fault (Linux's
// thermal throttling code does). Hidden: DTES64, DS-CPL, EST, TM2, xTPR,
// PDCM (IA32_PERF_CAPABILITIES); DS, ACPI (thermal monitor MSRs), TM, PBE.
inline constexpr u32 kHidden1Ecx2 = (1u << 2) | (1u << 4) | (1u << 7) | (1u << 8) | (1u << 14) | (1u << 15);
inline constexpr u32 kHidden1Edx = (1u << 21) | (1u << 22) | (1u << 29) | (1u << 31);
// Leaf 1 ECX[18], DCA: its MSR (IA32_PLATFORM_DCA_CAP) is not virtualized.
inline constexpr u32 kHidden1EcxDca = 1u << 18;
// Leaf 7 features whose MSRs or instructions a guest cannot use here:
// EBX[25] Intel PT (its MSRs); ECX[5] WAITPKG (UMWAIT/TPAUSE need a
// VM-execution control Xeno leaves off: #UD), ECX[7] CET shadow stacks and
// EDX[20] CET IBT (IA32_S_CET, IA32_PL*_SSP), ECX[13] TME (IA32_TME_*);
// EDX[26..31] IBRS/IBPB, STIBP, L1D_FLUSH, ARCH_CAPABILITIES,
// CORE_CAPABILITIES, SSBD (IA32_SPEC_CTRL, PRED_CMD, FLUSH_CMD,
// ARCH_CAPABILITIES, CORE_CAPABILITIES are not virtualized). A kernel told
// about them reads or writes those MSRs expecting no fault.
inline constexpr u32 kHidden7EbxMsrs = 1u << 25;
inline constexpr u32 kHidden7EcxMsrs = (1u << 5) | (1u << 7) | (1u << 13);
inline constexpr u32 kHidden7EdxMsrs = (1u << 20) | (0x3fu << 26);
// Leaf 7 subleaf 1: the vector extensions of the policy above (EAX[4]
// AVX-VNNI, EAX[5] AVX512_BF16, EAX[23] AVX-IFMA; EDX[4] AVX-VNNI-INT8,
// EDX[5] AVX-NE-CONVERT, EDX[10] AVX-VNNI-INT16, EDX[19] AVX10).
inline constexpr u32 kHidden7s1Eax = (1u << 4) | (1u << 5) | (1u << 23);
inline constexpr u32 kHidden7s1Edx = (1u << 4) | (1u << 5) | (1u << 10) | (1u << 19);
// IA32_TSC_ADJUST (CPUID.07H:EBX[1]) is per logical processor and moves its
// TSC; the domain's vcpus share one TSC offset, so it is not offered.
inline constexpr u32 kHidden7EbxTscAdjust = 1u << 1;
// Leaf 6 (thermal and power management): only ARAT (EAX[2]), that the local
// APIC timer runs in every C-state, which holds for the emulated one.
inline constexpr u32 kLeaf6Arat = 1u << 2;
inline constexpr u32 kOfferedXcr0 = 0x3;                  // x87 | SSE
inline constexpr u32 kOfferedXsaveFeatures = (1u << 0) | (1u << 2);  // XSAVEOPT, XGETBV with ECX = 1

CpuidRegs guest_cpuid(u32 leaf, u32 subleaf, CpuidRegs host)
{
    if (leaf >= kHypervisorLeafBase && leaf <= kHypervisorLeafBase + 0xff) {
        if (leaf == kHypervisorLeafBase) return {xen::kCpuidLast, kXenSignatureEbx, kXenSignatureEcx, kXenSignatureEdx};
        if (leaf == kHypervisorLeafBase + 1) return {kXenVersion, 0, 0, 0};
        if (leaf == kHypervisorLeafBase + 2) return {1, xen::kHypercallPageMsr, 0, 0};
        return {0, 0, 0, 0};
    }
    if (leaf == 1) {
        host.ecx &= ~(1u << 3);  // MONITOR/MWAIT: they raise #UD (exit_misc.cpp)
        host.ecx &= ~(1u << 5);  // VMX: no nested virtualization
        host.ecx &= ~(1u << 6);  // SMX
        host.ecx |= 1u << 31;    // hypervisor present
        host.ecx &= ~(kHidden1Ecx | kHidden1Ecx2 | kHidden1EcxDca);
        host.edx &= ~kHidden1Edx;
    }
    if (leaf == 7 && subleaf == 0) {
        host.ebx &= ~(kHidden7Ebx | kHidden7EbxTscAdjust | kHidden7EbxMsrs);
        host.ecx &= ~(kHidden7Ecx | kHidden7EcxMsrs);
        host.edx &= ~(kHidden7Edx | kHidden7EdxMsrs);
    }
    if (leaf == 7 && subleaf == 1) {
        host.eax &= ~kHidden7s1Eax;
        host.edx &= ~kHidden7s1Edx;
    }
    if (leaf == 0xd) {
        // Subleaf 0: the XCR0 bits XSETBV accepts (EDX:EAX) and the largest
        // XSAVE area they need (ECX; EBX follows the guest's XCR0, below).
        // Subleaf 1: the XSAVE variants. Subleaves 2 and up describe the
        // hidden components.
        if (subleaf == 0) return {host.eax & kOfferedXcr0, host.ebx, kXsaveLegacyAndHeader, 0};
        if (subleaf == 1) return {host.eax & kOfferedXsaveFeatures, 0, 0, 0};
        return {0, 0, 0, 0};
    }
    // MONITOR/MWAIT parameters, and architectural performance monitoring:
    // version 0, no counters (RDPMC raises #GP, exit_misc.cpp).
    if (leaf == 5 || leaf == 0xa) return {0, 0, 0, 0};
    if (leaf == 6) return {host.eax & kLeaf6Arat, 0, 0, 0};
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

CpuidRegs vcpu_cpuid(Vcpu& v, u32 leaf, u32 subleaf)
{
    if (leaf == kHypervisorLeafBase + 3 || leaf == kHypervisorLeafBase + 4) {
        u32 x[4] = {};
        xen::cpuid_leaf(v, leaf, subleaf, x);
        return {x[0], x[1], x[2], x[3]};
    }
    const hal::CpuidResult h = hal::cpuid(leaf, subleaf);
    CpuidRegs r = guest_cpuid(leaf, subleaf, CpuidRegs{h.eax, h.ebx, h.ecx, h.edx});
    // The bits that follow the guest's own state: OSXSAVE is its CR4.OSXSAVE
    // (the host's CR4 has it for XSETBV, vmx_cpu_setup.cpp), the XSAVE size
    // follows its XCR0.
    if (leaf == 1) r.ecx = (guest_cr4_view(v) & cr4::OSXSAVE) ? r.ecx | (1u << 27) : r.ecx & ~(1u << 27);
    if (leaf == 0xd && subleaf == 0 && v.regs.xcr0) r.ebx = xsave_size_for(v.regs.xcr0);
    // The domain's topology and the vcpu's own APIC ID where CPUID reports
    // them (cpuid_topology.hpp; SDM Vol. 3A 10.4.6, 10.12.8.1): the host's
    // would describe the machine, and give every vcpu the ID of whichever
    // processor runs it.
    if (leaf == 1 || leaf == 4 || leaf == 0xb || leaf == 0x1f) {
        const bool extended = (leaf == 0xb || leaf == 0x1f) && hal::cpuid(0, 0).eax >= leaf &&
                              (hal::cpuid(leaf, 0).ebx & 0xffffu) != 0;
        const u32 vcpus = v.domain().planned_vcpus() ? v.domain().planned_vcpus() : 1;
        r = topology_cpuid(leaf, subleaf, r, CpuTopology{vcpus, v.lapic().x2apic_id(), extended});
    }
    // Instructions that raise #UD in the guest unless a VM-execution control
    // enables them (SDM Vol. 3C 25.3): hidden when the control is off.
    if (leaf == 7 && subleaf == 0 && !(v.ctl.proc2 & proc2::ENABLE_INVPCID)) r.ebx &= ~(1u << 10);
    if (leaf == 0xd && subleaf == 1 && !(v.ctl.proc2 & proc2::ENABLE_XSAVES)) r.eax &= ~(1u << 3);
    if (leaf == 0x80000001 && !(v.ctl.proc2 & proc2::ENABLE_RDTSCP)) r.edx &= ~(1u << 27);
    return r;
}

void handle_cpuid(Vcpu& v, const ExitInfo& exit)
{
    const CpuidRegs r = vcpu_cpuid(v, static_cast<u32>(v.regs.gpr[0]), static_cast<u32>(v.regs.gpr[1]));
    // CPUID writes EAX..EDX zero-extended (bits 63:32 cleared).
    v.regs.gpr[0] = r.eax;
    v.regs.gpr[3] = r.ebx;
    v.regs.gpr[1] = r.ecx;
    v.regs.gpr[2] = r.edx;
    advance_rip(v, exit);
}

}  // namespace xeno::vmx
