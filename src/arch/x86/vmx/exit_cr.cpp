// Control-register access exits (SDM Vol. 3C 28.2.1 Table 28-3; which
// accesses exit: 26.1.3 and the guest/host masks of 25.6.6).
#include "arch/x86/vmx/cr_values.hpp"
#include "arch/x86/vmx/exit_handlers.hpp"
#include "arch/x86/vmx/guest_state.hpp"
#include "arch/x86/vmx/realmode_emulate.hpp"
#include "core/domain.hpp"

namespace xeno::vmx {

namespace {

CrPolicy policy(Vcpu& v) { return CrPolicy{v.unrestricted(), v.paging == GuestPaging::SHADOW}; }

// A new guest view of CR0. False: the write #GPs (SDM Vol. 3A 2.5, MOV CR0).
// Sets *emulated when the instruction was handed to the emulator instead.
bool set_cr0(Vcpu& v, u64 value, bool* emulated)
{
    if (value >> 32) return false;
    if ((value & cr0::PG) && !(value & cr0::PE)) return false;
    if ((value & cr0::NW) && !(value & cr0::CD)) return false;
    const u64 old = guest_cr0_view(v);
    if (!v.unrestricted() && ((old ^ value) & cr0::PG)) {
        v.end_guest_fault("guest enabled paging: shadow page tables are not implemented yet");
        return true;
    }
    if (!v.unrestricted() && ((old ^ value) & cr0::PE)) {
        // Protected mode back to real mode without unrestricted guest: the
        // segment state must become the vm86 form, which is the emulator's
        // job (it re-executes this instruction itself).
        emulate_until_enterable(v);
        *emulated = true;
        return true;
    }
    (void)vmcs_write(field::CR0_READ_SHADOW, value);
    (void)vmcs_write(field::GUEST_CR0, cr0_real(value, v.caps(), policy(v)));
    return true;
}

bool set_cr4(Vcpu& v, u64 value)
{
    if (value & ~cr4_guest_allowed(v.caps())) return false;
    (void)vmcs_write(field::CR4_READ_SHADOW, value);
    (void)vmcs_write(field::GUEST_CR4, cr4_real(value, v.caps(), policy(v)));
    return true;
}

void set_cr3(Vcpu& v, u64 value)
{
    if (v.paging == GuestPaging::SHADOW)
        v.guest_cr3 = value;  // paging is off for the guest: just remembered
    else
        (void)vmcs_write(field::GUEST_CR3, value);
}

u64 get_cr3(Vcpu& v) { return v.paging == GuestPaging::SHADOW ? v.guest_cr3 : vmcs_read(field::GUEST_CR3); }

}  // namespace

void handle_cr_access(Vcpu& v, const ExitInfo& exit)
{
    const CrQualification q = decode_cr_qualification(exit.qualification);
    bool ok = true;
    bool emulated = false;
    switch (q.type) {
    case CrAccessType::MOV_TO_CR: {
        const u64 value = read_gpr(v, q.gpr);
        switch (q.cr) {
        case 0: ok = set_cr0(v, value, &emulated); break;
        case 3: set_cr3(v, value); break;
        case 4: ok = set_cr4(v, value); break;
        case 8:
            if (value & ~u64{0xf}) ok = false;
            v.cr8 = value;
            break;
        default: handle_unexpected(v, exit); return;
        }
        break;
    }
    case CrAccessType::MOV_FROM_CR:
        if (q.cr == 3)
            write_gpr(v, q.gpr, get_cr3(v));
        else if (q.cr == 8)
            write_gpr(v, q.gpr, v.cr8);
        else {
            handle_unexpected(v, exit);
            return;
        }
        break;
    case CrAccessType::CLTS: ok = set_cr0(v, guest_cr0_view(v) & ~cr0::TS, &emulated); break;
    case CrAccessType::LMSW: {
        // LMSW loads CR0 bits 3:0 but cannot clear PE (SDM Vol. 2A LMSW).
        const u64 old = guest_cr0_view(v);
        const u64 value = (old & ~u64{0xe}) | (q.lmsw_source & 0xf) | (old & cr0::PE);
        ok = set_cr0(v, value, &emulated);
        break;
    }
    }
    if (v.domain().ended() || emulated) return;
    if (!ok) {
        inject_exception(v, vector::GP, 0);
        return;
    }
    advance_rip(v, exit);
}

}  // namespace xeno::vmx
