#include "arch/x86/vmx/guest_state.hpp"

#include "arch/x86/vmx/cr_values.hpp"
#include "arch/x86/vmx/realmode.hpp"
#include "arch/x86/vmx/realmode_emulate.hpp"
#include "arch/x86/vmx/shadow_paging.hpp"
#include "core/log.hpp"

namespace xeno::vmx {

namespace {

// Real-mode segment with unrestricted guest: base = selector << 4, 64 KiB,
// present, accessed read/write data (0x93) or execute/read code (0x9b).
void real_segment(VmcsWriter& w, unsigned seg, u16 sel, u32 ar)
{
    const u64 base = u64{sel} << 4;
    switch (seg) {
    case 0: w.set(field::GUEST_ES_SELECTOR, sel).set(field::GUEST_ES_BASE, base).set(field::GUEST_ES_LIMIT, 0xffff).set(field::GUEST_ES_AR_BYTES, ar); break;
    case 1: w.set(field::GUEST_CS_SELECTOR, sel).set(field::GUEST_CS_BASE, base).set(field::GUEST_CS_LIMIT, 0xffff).set(field::GUEST_CS_AR_BYTES, ar); break;
    case 2: w.set(field::GUEST_SS_SELECTOR, sel).set(field::GUEST_SS_BASE, base).set(field::GUEST_SS_LIMIT, 0xffff).set(field::GUEST_SS_AR_BYTES, ar); break;
    case 3: w.set(field::GUEST_DS_SELECTOR, sel).set(field::GUEST_DS_BASE, base).set(field::GUEST_DS_LIMIT, 0xffff).set(field::GUEST_DS_AR_BYTES, ar); break;
    case 4: w.set(field::GUEST_FS_SELECTOR, sel).set(field::GUEST_FS_BASE, base).set(field::GUEST_FS_LIMIT, 0xffff).set(field::GUEST_FS_AR_BYTES, ar); break;
    default: w.set(field::GUEST_GS_SELECTOR, sel).set(field::GUEST_GS_BASE, base).set(field::GUEST_GS_LIMIT, 0xffff).set(field::GUEST_GS_AR_BYTES, ar); break;
    }
}

}  // namespace

void write_initial_guest_state(Vcpu& v, VmcsWriter& w, u16 cs, u16 ip, u16 sp)
{
    const bool vm86 = v.paging == GuestPaging::SHADOW;
    const CrPolicy p{v.unrestricted(), vm86};
    const u64 cr0_view = cr0::ET;
    w.set(field::CR0_READ_SHADOW, cr0_view).set(field::GUEST_CR0, cr0_real(cr0_view, v.caps(), p));
    w.set(field::CR4_READ_SHADOW, 0).set(field::GUEST_CR4, cr4_real(0, v.caps(), p));
    w.set(field::GUEST_CR3, vm86 ? v.phys_mode_root.value() : 0);
    w.set(field::GUEST_DR7, 0x400);

    // Segments: vm86 form (AR 0xf3: DPL 3 data, everything 64 KiB at sel<<4)
    // or real mode proper.
    for (unsigned seg = 0; seg < 6; ++seg)
        real_segment(w, seg, seg == 1 ? cs : 0, vm86 ? kVm86SegmentAr : (seg == 1 ? 0x9b : 0x93));

    w.set(field::GUEST_LDTR_SELECTOR, 0).set(field::GUEST_LDTR_BASE, 0).set(field::GUEST_LDTR_LIMIT, 0xffff);
    w.set(field::GUEST_LDTR_AR_BYTES, ar::UNUSABLE);
    // TR: a usable 32-bit busy TSS (type 11, present: AR 0x8b). In vm86 it is
    // the hypervisor's TSS with its interrupt-redirection and I/O bitmaps.
    w.set(field::GUEST_TR_SELECTOR, 0).set(field::GUEST_TR_AR_BYTES, 0x8b);
    if (vm86)
        w.set(field::GUEST_TR_BASE, v.vm86_tss.value()).set(field::GUEST_TR_LIMIT, kVm86TssLimit);
    else
        w.set(field::GUEST_TR_BASE, 0).set(field::GUEST_TR_LIMIT, 0xff);
    // GDTR/IDTR: base 0, limit 0xffff (the IVT at 0).
    w.set(field::GUEST_GDTR_BASE, 0).set(field::GUEST_GDTR_LIMIT, 0xffff);
    w.set(field::GUEST_IDTR_BASE, 0).set(field::GUEST_IDTR_LIMIT, 0xffff);

    w.set(field::GUEST_RIP, ip).set(field::GUEST_RSP, sp);
    w.set(field::GUEST_RFLAGS, vm86 ? kRflagsReserved1 | kRflagsVM | kRflagsIOPL : kRflagsReserved1);
    w.set(field::GUEST_ACTIVITY_STATE, static_cast<u32>(ActivityState::ACTIVE));
    w.set(field::GUEST_INTERRUPTIBILITY_INFO, 0).set(field::GUEST_PENDING_DBG_EXCEPTIONS, 0);
    w.set(field::VMCS_LINK_POINTER, ~u64{0});
    w.set(field::GUEST_IA32_DEBUGCTL, 0);
    w.set(field::GUEST_SYSENTER_CS, 0).set(field::GUEST_SYSENTER_ESP, 0).set(field::GUEST_SYSENTER_EIP, 0);
    if (v.ctl.entry & entry_ctl::LOAD_EFER) w.set(field::GUEST_IA32_EFER, 0);
    if (v.ctl.entry & entry_ctl::LOAD_PAT) w.set(field::GUEST_IA32_PAT, 0x0007040600070406ull);
}

u64 read_gpr(Vcpu& v, unsigned index)
{
    if (index == 4) return vmcs_read(field::GUEST_RSP);
    return v.regs.gpr[index & 15];
}

void write_gpr(Vcpu& v, unsigned index, u64 value)
{
    if (index == 4)
        (void)vmcs_write(field::GUEST_RSP, value);
    else
        v.regs.gpr[index & 15] = value;
}

u64 guest_cr0_view(Vcpu& v)
{
    return (vmcs_read(field::GUEST_CR0) & ~v.ctl.cr0_mask) | (vmcs_read(field::CR0_READ_SHADOW) & v.ctl.cr0_mask);
}

u64 guest_cr4_view(Vcpu& v)
{
    return (vmcs_read(field::GUEST_CR4) & ~v.ctl.cr4_mask) | (vmcs_read(field::CR4_READ_SHADOW) & v.ctl.cr4_mask);
}

void advance_rip(Vcpu&, const ExitInfo& exit)
{
    (void)vmcs_write(field::GUEST_RIP, exit.rip + exit.instruction_length);
    const u32 intr = vmcs_read(field::GUEST_INTERRUPTIBILITY_INFO);
    if (intr & (interruptibility::BLOCKING_BY_STI | interruptibility::BLOCKING_BY_MOV_SS))
        (void)vmcs_write(field::GUEST_INTERRUPTIBILITY_INFO,
                         intr & ~(interruptibility::BLOCKING_BY_STI | interruptibility::BLOCKING_BY_MOV_SS));
}

bool guest_in_vm86(Vcpu& v)
{
    return !v.unrestricted() && (vmcs_read(field::GUEST_RFLAGS) & kRflagsVM);
}

unsigned guest_cpl(Vcpu& v)
{
    if (guest_in_vm86(v)) return 0;
    return static_cast<unsigned>((vmcs_read(field::GUEST_SS_AR_BYTES) & ar::DPL_MASK) >> ar::DPL_SHIFT);
}

bool guest_in_64bit_mode(Vcpu& v)
{
    constexpr u64 kEferLma = bit(10);
    return (guest_efer_view(v) & kEferLma) && (vmcs_read(field::GUEST_CS_AR_BYTES) & ar::L);
}

void inject_exception(Vcpu& v, u8 vector, u32 error_code)
{
    if (guest_in_vm86(v)) {
        // The real-mode guest's IVT, not the IDT the CPU would use in vm86.
        // The faulting instruction is the return address (faults restart).
        reflect_realmode_interrupt(v, vector, vmcs_read(field::GUEST_RIP));
        return;
    }
    const bool pe = (vmcs_read(field::GUEST_CR0) & cr0::PE) != 0;
    const bool with_code = exception_has_error_code(vector) && (pe || !v.unrestricted());
    (void)vmcs_write(field::VM_ENTRY_INTR_INFO_FIELD, make_intr_info(vector, InterruptionType::HARDWARE_EXCEPTION, with_code));
    if (with_code) (void)vmcs_write(field::VM_ENTRY_EXCEPTION_ERROR_CODE, error_code);
}

void dump_guest_state(Vcpu& v)
{
    LogLine{}.str("guest: rip=").hex(vmcs_read(field::GUEST_RIP)).str(" rsp=").hex(vmcs_read(field::GUEST_RSP))
        .str(" rflags=").hex(vmcs_read(field::GUEST_RFLAGS)).str(" activity=").dec(vmcs_read(field::GUEST_ACTIVITY_STATE))
        .str(" intr=").hex(vmcs_read(field::GUEST_INTERRUPTIBILITY_INFO));
    LogLine{}.str("guest: cr0=").hex(vmcs_read(field::GUEST_CR0)).str(" (shadow ").hex(vmcs_read(field::CR0_READ_SHADOW))
        .str(") cr3=").hex(vmcs_read(field::GUEST_CR3)).str(" cr4=").hex(vmcs_read(field::GUEST_CR4)).str(" (shadow ")
        .hex(vmcs_read(field::CR4_READ_SHADOW)).ch(')');
    LogLine{}.str("guest: cs=").hex(vmcs_read(field::GUEST_CS_SELECTOR)).ch('/').hex(vmcs_read(field::GUEST_CS_BASE))
        .ch('/').hex(vmcs_read(field::GUEST_CS_LIMIT)).ch('/').hex(vmcs_read(field::GUEST_CS_AR_BYTES))
        .str(" ss=").hex(vmcs_read(field::GUEST_SS_SELECTOR)).ch('/').hex(vmcs_read(field::GUEST_SS_BASE))
        .ch('/').hex(vmcs_read(field::GUEST_SS_LIMIT)).ch('/').hex(vmcs_read(field::GUEST_SS_AR_BYTES))
        .str(" ds=").hex(vmcs_read(field::GUEST_DS_SELECTOR)).ch('/').hex(vmcs_read(field::GUEST_DS_BASE))
        .ch('/').hex(vmcs_read(field::GUEST_DS_AR_BYTES))
        .str(" tr=").hex(vmcs_read(field::GUEST_TR_BASE)).ch('/').hex(vmcs_read(field::GUEST_TR_LIMIT))
        .ch('/').hex(vmcs_read(field::GUEST_TR_AR_BYTES));
    static constexpr const char* kNames[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                               "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
    LogLine line;
    line.str("guest:");
    for (unsigned i = 0; i < 8; ++i) line.ch(' ').str(kNames[i]).ch('=').hex(read_gpr(v, i));
}

}  // namespace xeno::vmx
