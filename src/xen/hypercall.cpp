// VMCALL dispatch, the hypercall page and Xen's CPUID leaves.
#include "xen/hypercall.hpp"

#include "arch/x86/vmx/cr_values.hpp"
#include "arch/x86/vmx/exit_handlers.hpp"
#include "arch/x86/vmx/guest_state.hpp"
#include "arch/x86/vmx/vmcs.hpp"
#include "core/domain.hpp"
#include "core/log.hpp"
#include "hal/memory.hpp"
#include "public/xen.hpp"
#include "xen/guest_access.hpp"
#include "xen/xen_domain.hpp"

namespace xeno::xen {

namespace {

constexpr unsigned kRax = 0, kRcx = 1, kRdx = 2, kRbx = 3, kRsi = 6, kRdi = 7, kR8 = 8, kR10 = 10;
constexpr unsigned kArgs64[5] = {kRdi, kRsi, kRdx, kR10, kR8};
constexpr unsigned kArgs32[5] = {kRbx, kRcx, kRdx, kRsi, kRdi};

constexpr u32 kStubBytes = 32;
constexpr u32 kHypercallIret = 23;

i64 dispatch(Hypercall& call, u64 number)
{
    switch (number) {
    case hypercall::xen_version: return do_xen_version(call);
    case hypercall::console_io: return do_console_io(call);
    case hypercall::sched_op: return do_sched_op(call);
    case hypercall::memory_op: return do_memory_op(call);
    case hypercall::hvm_op: return do_hvm_op(call);
    case hypercall::vcpu_op: return do_vcpu_op(call);
    case hypercall::event_channel_op: return do_event_channel_op(call);
    case hypercall::grant_table_op: return do_grant_table_op(call);
    default: return -err::XEN_ENOSYS;
    }
}

}  // namespace

void cpuid_leaf(Vcpu& v, u32 leaf, u32 subleaf, u32 out[4])
{
    out[0] = out[1] = out[2] = out[3] = 0;
    switch (leaf - kCpuidBase) {
    case 3:
        // TSC: subleaf 0 ECX is the guest TSC's frequency in kHz (Xen's
        // tsc_mode default, no emulation, EAX/EBX/EDX 0).
        if (subleaf == 0) {
            const devices::GuestTsc& tsc = v.domain().guest_tsc();
            out[2] = static_cast<u32>((tsc.tsc_at(1'000'000'000) - tsc.tsc_at(0)) / 1000);
        }
        break;
    case 4:
        out[0] = cpuid::hvm::VCPU_ID_PRESENT | cpuid::hvm::DOMID_PRESENT;
        out[1] = v.id();
        out[2] = kDomainId;
        break;
    default: break;
    }
}

bool write_hypercall_page_msr(Vcpu& v, u64 value)
{
    // Bits 11:0 select the page of the hypercall area: Xen has one.
    const u64 gfn = value >> kPageShift;
    if ((value & (kPageSize - 1)) != 0 || !guest_ram_frame(v, gfn)) {
        LogLine{}.str("xen: vcpu ").dec(v.id()).str(": hypercall page MSR write ").hex(value)
            .str((value & (kPageSize - 1)) ? " selects a page past the one hypercall page: #GP"
                                           : " names no page of guest RAM: #GP");
        return false;
    }
    const Hpa frame = v.domain().p2m().translate(Gpa::from_frame(gfn)).value();
    u8* page = static_cast<u8*>(hal::machine_to_virt(frame));
    __builtin_memset(page, 0xcc, kPageSize);  // INT3 between the stubs
    for (u32 n = 0; n < kPageSize / kStubBytes; ++n) {
        u8* s = page + n * kStubBytes;
        if (n == kHypercallIret) {
            s[0] = 0x0f;  // ud2: HVM guests have no HYPERVISOR_iret
            s[1] = 0x0b;
            continue;
        }
        s[0] = 0xb8;  // mov eax, n
        s[1] = static_cast<u8>(n);
        s[2] = s[3] = s[4] = 0;
        s[5] = 0x0f;  // vmcall
        s[6] = 0x01;
        s[7] = 0xc1;
        s[8] = 0xc3;  // ret
    }
    hal::machine_memory_written(frame, kPageSize);  // the guest may have run code from it
    v.domain().xen().hypercall_page_msr = value;
    return true;
}

}  // namespace xeno::xen

namespace xeno::vmx {

void handle_vmcall(Vcpu& v, const ExitInfo& exit)
{
    // VMCALL outside protected mode (real mode, or the hypervisor's vm86
    // form of it) does nothing Xen defines: #UD, as outside VMX operation.
    if (guest_in_vm86(v) || !(guest_cr0_view(v) & cr0::PE)) {
        inject_exception(v, vector::UD, 0);
        return;
    }
    u64& rax = v.regs.gpr[xen::kRax];
    // Hypercalls are the guest kernel's: Xen answers user mode -EPERM, in
    // EAX zero-extended outside 64-bit mode as every other result.
    if (guest_cpl(v) != 0) {
        const i64 eperm = -i64{xen::err::XEN_EPERM};
        rax = guest_in_64bit_mode(v) ? static_cast<u64>(eperm) : static_cast<u64>(static_cast<u32>(eperm));
        advance_rip(v, exit);
        return;
    }
    xen::XenDomain& xd = v.domain().xen();
    if (xd.ensure_ready() != Status::OK) {
        v.end_guest_fault("xen: no hypervisor memory for the domain's event channels");
        return;
    }
    xen::Hypercall call{v};
    call.long_mode = guest_in_64bit_mode(v);
    const unsigned* regs = call.long_mode ? xen::kArgs64 : xen::kArgs32;
    const u64 number = call.long_mode ? rax : (rax & 0xffffffff);
    for (unsigned i = 0; i < 5; ++i) call.arg[i] = call.long_mode ? v.regs.gpr[regs[i]] : (v.regs.gpr[regs[i]] & 0xffffffff);
    const i64 result = xen::dispatch(call, number);
    if (call.preempted) {
        // Continuation: the same VMCALL again with the arguments left.
        for (unsigned i = 0; i < 5; ++i) v.regs.gpr[regs[i]] = call.arg[i];
        return;
    }
    rax = call.long_mode ? static_cast<u64>(result) : static_cast<u64>(static_cast<u32>(result));
    advance_rip(v, exit);
}

}  // namespace xeno::vmx
