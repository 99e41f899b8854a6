// RDMSR/WRMSR exits (MSR bitmap: everything but the pass-through MSRs of
// vmcs_setup.hpp exits). A small per-vcpu table; any MSR it does not know
// raises #GP(0) in the guest, as an absent MSR does on hardware.
#include "arch/x86/vmx/exit_handlers.hpp"
#include "arch/x86/vmx/guest_mtrr.hpp"
#include "arch/x86/vmx/guest_state.hpp"
#include "arch/x86/vmx/msr_load_list.hpp"
#include "arch/x86/vmx/shadow_paging.hpp"
#include "core/domain.hpp"
#include "core/log.hpp"
#include "hal/cpu.hpp"
#include "xen/hypercall.hpp"

namespace xeno::vmx {

namespace {

constexpr u32 kMiscEnable = 0x1a0;
constexpr u32 kTscAux = kMsrTscAux;
constexpr u32 kTscDeadline = 0x6e0;
// Machine-check architecture (SDM Vol. 3B 16.3.1): the guest's CPUID has MCE
// and MCA, so the global registers exist; MCG_CAP reports no error-reporting
// banks and no MCG_CTL, so there is nothing else to model. MCG_STATUS reads
// 0 (no machine check in progress) and takes only 0.
constexpr u32 kMcgCap = 0x179;
constexpr u32 kMcgStatus = 0x17a;
constexpr u32 kBiosSignId = 0x8b;

// A 48-bit linear address sign-extended to 64 bits (SDM Vol. 1 3.3.7.1).
constexpr bool canonical(u64 address)
{
    const u64 upper = address >> 47;
    return upper == 0 || upper == 0x1ffff;
}

// IA32_TSC_DEADLINE exists where CPUID.01H:ECX[24] says so (the guest's
// CPUID is the host's for this bit).
bool tsc_deadline_available() { return (hal::cpuid(1, 0).ecx & (1u << 24)) != 0; }
// EFER bits a guest may set: SCE, LME, NXE (LMA is the CPU's).
constexpr u64 kEferSce = bit(0), kEferLme = bit(8), kEferLma = bit(10), kEferNxe = bit(11);

bool pat_valid(u64 pat)
{
    for (unsigned i = 0; i < 8; ++i) {
        const u64 t = (pat >> (8 * i)) & 0xff;
        if (t == 2 || t == 3 || t > 7) return false;  // reserved memory types
    }
    return true;
}

u64 guest_efer(Vcpu& v) { return guest_efer_view(v); }

}  // namespace

bool efer_after_write(u64 old, u64 value, bool paging, u64* next)
{
    if (value & ~(kEferSce | kEferLme | kEferLma | kEferNxe)) return false;
    // LMA is not writable; LME cannot change while paging is on (SDM Vol. 3A 10.8.5).
    *next = (value & ~kEferLma) | (old & kEferLma);
    return !(((*next ^ old) & kEferLme) && paging);
}

// Returns false when the access must #GP.
bool guest_msr_read(Vcpu& v, u32 msr, u64* value)
{
    switch (msr) {
    case msr::IA32_TSC: *value = hal::rdmsr(msr::IA32_TSC) + v.domain().tsc_offset(); return true;
    case msr::IA32_APIC_BASE: *value = v.lapic().apic_base(); return true;
    case kTscDeadline:
        if (!tsc_deadline_available()) return false;
        *value = v.lapic().tsc_deadline();
        return true;
    case msr::IA32_FEATURE_CONTROL: *value = kFeatureControlLock; return true;  // locked, VMX off: no nesting
    case kMsrMtrrCap: *value = kMtrrCapValue; return true;
    case kMcgCap: *value = 0; return true;
    case kMcgStatus: *value = 0; return true;
    case kMiscEnable: *value = v.msrs.misc_enable; return true;
    case msr::IA32_PAT: *value = v.ctl.load_pat ? vmcs_read(field::GUEST_IA32_PAT) : v.msrs.pat; return true;
    case msr::IA32_EFER: *value = guest_efer(v); return true;
    case kTscAux: *value = v.msrs.tsc_aux; return true;
    // Normally passed through by the MSR bitmap; VMCS guest state either way.
    case msr::IA32_SYSENTER_CS: *value = vmcs_read(field::GUEST_SYSENTER_CS); return true;
    case msr::IA32_SYSENTER_ESP: *value = vmcs_read(field::GUEST_SYSENTER_ESP); return true;
    case msr::IA32_SYSENTER_EIP: *value = vmcs_read(field::GUEST_SYSENTER_EIP); return true;
    case msr::IA32_FS_BASE: *value = vmcs_read(field::GUEST_FS_BASE); return true;
    case msr::IA32_STAR: *value = v.regs.star; return true;
    case msr::IA32_LSTAR: *value = v.regs.lstar; return true;
    case msr::IA32_CSTAR: *value = v.regs.cstar; return true;
    case msr::IA32_FMASK: *value = v.regs.fmask; return true;
    case kBiosSignId: *value = 0; return true;  // no microcode update loaded
    case msr::IA32_GS_BASE: *value = vmcs_read(field::GUEST_GS_BASE); return true;
    default:
        if (is_mtrr_msr(msr)) {
            *value = mtrr_read(v.msrs.mtrrs, msr);
            return true;
        }
        if (devices::LocalApic::is_x2apic_msr(msr)) return v.lapic().msr_read(msr, value);
        return false;
    }
}

bool guest_msr_write(Vcpu& v, u32 msr, u64 value)
{
    switch (msr) {
    case xen::kHypercallPageMsr: return xen::write_hypercall_page_msr(v, value);
    case msr::IA32_TSC:
        // Writing the TSC moves this domain's offset: guest TSC = host TSC + offset.
        v.domain().set_tsc_offset(value - hal::rdmsr(msr::IA32_TSC));
        (void)vmcs_write(field::TSC_OFFSET, v.domain().tsc_offset());
        return true;
    case msr::IA32_APIC_BASE: {
        // x2APIC mode only where the guest's CPUID has it (CPUID.01H:ECX[21]).
        constexpr u64 kExtd = bit(10);
        if ((value & kExtd) && !(hal::cpuid(1, 0).ecx & (1u << 21))) return false;
        if ((value & ~u64{0xfff}) != devices::LocalApic::kDefaultBase && (value & bit(11))) {
            // The APIC page is an MMIO range of the domain's bus at
            // 0xfee00000 for every vcpu: relocation is refused (#GP), which
            // the SDM allows no guest to count on anyway.
            LogLine{}.str("domain: vcpu ").dec(v.id()).str(": the guest moved its local APIC to ").hex(value & ~u64{0xfff})
                .str(": refused (#GP)");
            return false;
        }
        return v.lapic().write_apic_base(value);
    }
    case kTscDeadline:
        if (!tsc_deadline_available()) return false;
        v.lapic().write_tsc_deadline(value);
        return true;
    case kMiscEnable: v.msrs.misc_enable = value; return true;
    case kMcgStatus: return value == 0;
    case msr::IA32_PAT:
        if (!pat_valid(value)) return false;
        if (v.ctl.load_pat)
            (void)vmcs_write(field::GUEST_IA32_PAT, value);
        else
            v.msrs.pat = value;
        return true;
    case msr::IA32_EFER: {
        u64 next;
        if (!efer_after_write(guest_efer(v), value, (guest_cr0_view(v) & bit(31)) != 0, &next)) return false;
        set_guest_efer_view(v, next);
        shadow_sync(v);  // NXE changes what shadow entries mean
        return true;
    }
    case kTscAux:
        // Bits 63:32 are reserved (#GP). RDTSCP, native with "enable
        // RDTSCP", reads the value the entry MSR-load list gives the
        // processor (msr_load_list.hpp); the model reads it there too.
        if (value >> 32) return false;
        v.msrs.tsc_aux = value;
        (void)msr_load_list_set(kMsrTscAux, value);
        return true;
    // SYSENTER_ESP/EIP and the FS/GS bases hold linear addresses: #GP unless
    // canonical (SDM Vol. 2B WRMSR), in every mode. Taken into the VMCS
    // unchecked (an emulated WRMSR in real mode), a non-canonical one would
    // fail the next VM entry (SDM Vol. 3C 27.3.1.2).
    case msr::IA32_SYSENTER_CS: (void)vmcs_write(field::GUEST_SYSENTER_CS, value & 0xffffffff); return true;
    case msr::IA32_SYSENTER_ESP:
        if (!canonical(value)) return false;
        (void)vmcs_write(field::GUEST_SYSENTER_ESP, value);
        return true;
    case msr::IA32_SYSENTER_EIP:
        if (!canonical(value)) return false;
        (void)vmcs_write(field::GUEST_SYSENTER_EIP, value);
        return true;
    case msr::IA32_FS_BASE:
        if (!canonical(value)) return false;
        (void)vmcs_write(field::GUEST_FS_BASE, value);
        return true;
    // The SYSCALL MSRs: hal::run loads them before the next entry. LSTAR
    // and CSTAR hold linear addresses (#GP unless canonical); FMASK's
    // upper half is reserved (SDM Vol. 4 Table 2-2).
    case msr::IA32_STAR: v.regs.star = value; return true;
    case msr::IA32_LSTAR:
        if (!canonical(value)) return false;
        v.regs.lstar = value;
        return true;
    case msr::IA32_CSTAR:
        if (!canonical(value)) return false;
        v.regs.cstar = value;
        return true;
    case msr::IA32_FMASK:
        if (value >> 32) return false;
        v.regs.fmask = value;
        return true;
    // IA32_BIOS_SIGN_ID: software writes 0 before CPUID to learn the
    // microcode revision; nothing is loaded, so the write changes nothing.
    case kBiosSignId: return true;
    case msr::IA32_GS_BASE:
        if (!canonical(value)) return false;
        (void)vmcs_write(field::GUEST_GS_BASE, value);
        return true;
    default:
        if (is_mtrr_msr(msr)) return mtrr_write(v.msrs.mtrrs, msr, value, v.guest_maxphyaddr);
        if (devices::LocalApic::is_x2apic_msr(msr)) return v.lapic().msr_write(msr, value);
        return false;
    }
}

void handle_msr_read(Vcpu& v, const ExitInfo& exit)
{
    u64 value = 0;
    if (!guest_msr_read(v, static_cast<u32>(v.regs.gpr[1]), &value)) {
        inject_exception(v, vector::GP, 0);
        return;
    }
    v.regs.gpr[0] = value & 0xffffffff;
    v.regs.gpr[2] = value >> 32;
    advance_rip(v, exit);
}

void handle_msr_write(Vcpu& v, const ExitInfo& exit)
{
    const u64 value = (v.regs.gpr[0] & 0xffffffff) | (v.regs.gpr[2] << 32);
    if (!guest_msr_write(v, static_cast<u32>(v.regs.gpr[1]), value)) {
        inject_exception(v, vector::GP, 0);
        return;
    }
    advance_rip(v, exit);
}

void handle_rdtsc(Vcpu& v, const ExitInfo& exit)
{
    // Only with RDTSC exiting, which Xeno does not enable: TSC offsetting
    // does the work in hardware. Kept so the reason has a defined meaning.
    const u64 tsc = hal::rdmsr(msr::IA32_TSC) + v.domain().tsc_offset();
    v.regs.gpr[0] = tsc & 0xffffffff;
    v.regs.gpr[2] = tsc >> 32;
    if (exit.reason == static_cast<u16>(ExitReason::RDTSCP)) v.regs.gpr[1] = v.msrs.tsc_aux;
    advance_rip(v, exit);
}

}  // namespace xeno::vmx
