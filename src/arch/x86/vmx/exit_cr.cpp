// Control-register access exits (SDM Vol. 3C 28.2.1 Table 28-3; which
// accesses exit: 26.1.3 and the guest/host masks of 25.6.6).
#include "arch/x86/vmx/cr_values.hpp"
#include "arch/x86/vmx/exit_handlers.hpp"
#include "arch/x86/vmx/guest_state.hpp"
#include "arch/x86/vmx/realmode_emulate.hpp"
#include "arch/x86/vmx/shadow_paging.hpp"
#include "core/domain.hpp"

namespace xeno::vmx {

namespace {

constexpr u64 kCr4Smep = bit(20), kCr4Smap = bit(21);

CrPolicy policy(Vcpu& v) { return CrPolicy{v.unrestricted(), v.paging == GuestPaging::SHADOW}; }

constexpr u64 kEferLme = bit(8), kEferLma = bit(10);

bool guest_cs_long() { return (vmcs_read(field::GUEST_CS_AR_BYTES) & ar::L) != 0; }

// Under EPT the processor holds the guest's own paging state; what an
// emulated MOV CR0/CR4 changed beyond the register must reach the VMCS: the
// "IA-32e mode guest" entry control follows EFER.LMA (SDM Vol. 3C 26.2.1.3:
// entry checks it against EFER), and with PAE paging VM entry loads the
// PDPTEs from the VMCS (26.3.2.4), so the ones the write loaded go there.
void ept_paging_sync(Vcpu& v, u64 efer, bool pdptes_loaded)
{
    if (v.paging == GuestPaging::SHADOW) return;
    VmcsWriter w;
    const u32 entry = (efer & kEferLma) ? v.ctl.entry | entry_ctl::IA32E_MODE_GUEST
                                        : v.ctl.entry & ~entry_ctl::IA32E_MODE_GUEST;
    if (entry != v.ctl.entry) {
        v.ctl.entry = entry;
        w.set(field::VM_ENTRY_CONTROLS, entry);
    }
    if (pdptes_loaded && paging::paging_mode(guest_paging_state(v)) == paging::PagingMode::PAE) {
        w.set(field::GUEST_PDPTE0, v.pae_pdptes[0]).set(field::GUEST_PDPTE1, v.pae_pdptes[1]);
        w.set(field::GUEST_PDPTE2, v.pae_pdptes[2]).set(field::GUEST_PDPTE3, v.pae_pdptes[3]);
    }
    if (w.status() != Status::OK) v.end_guest_fault("writing the guest's paging state to the VMCS failed");
}

// A CR0 write that keeps PE (or any, with unrestricted guest). Paging
// on/off, WP, CD/NW: the guest view changes and the real state follows
// (shadow_sync, ept_paging_sync). The IA-32e mode rules of MOV CR0 (SDM
// Vol. 3A 10.8.5, MOV CR0 #GP conditions) and the PDPTE load when PAE
// paging is entered (4.4.1) are the processor's.
bool set_cr0_paging(Vcpu& v, u64 old, u64 value)
{
    u64 efer = guest_efer_view(v);
    const bool pg_on = (value & cr0::PG) && !(old & cr0::PG);
    const bool pg_off = !(value & cr0::PG) && (old & cr0::PG);
    if (pg_on && (efer & kEferLme)) {
        if (!(guest_cr4_view(v) & cr4::PAE) || guest_cs_long()) return false;
        efer |= kEferLma;
    }
    if (pg_off && (efer & kEferLma)) {
        if (guest_cs_long()) return false;  // paging cannot be turned off in 64-bit mode
        efer &= ~kEferLma;
    }
    paging::PagingState candidate = guest_paging_state(v);
    candidate.cr0 = value;
    candidate.efer = efer;
    candidate.pdptes_loaded = false;
    const bool reload = pg_on || ((old ^ value) & (cr0::CD | cr0::NW));
    const bool load_pdptes = (value & cr0::PG) && reload;
    if (load_pdptes && !load_guest_pdptes(v, candidate)) return false;
    (void)vmcs_write(field::CR0_READ_SHADOW, value);
    (void)vmcs_write(field::GUEST_CR0, cr0_real(value, v.caps(), policy(v)));
    set_guest_efer_view(v, efer);
    shadow_sync(v);
    ept_paging_sync(v, efer, load_pdptes);
    return true;
}

// A new guest view of CR0. False: the write #GPs (SDM Vol. 3A 2.5, MOV CR0).
// Sets *emulated when the instruction was handed to the emulator instead.
bool set_cr0(Vcpu& v, u64 value, bool* emulated)
{
    if (value >> 32) return false;
    if ((value & cr0::PG) && !(value & cr0::PE)) return false;
    if ((value & cr0::NW) && !(value & cr0::CD)) return false;
    const u64 old = guest_cr0_view(v);
    if (!v.unrestricted() && ((old ^ value) & cr0::PE)) {
        // Into or out of protected mode without unrestricted guest: the
        // segment state must change form (vm86 <-> protected), which is the
        // emulator's job (it re-executes this instruction itself).
        emulate_until_enterable(v);
        *emulated = true;
        return true;
    }
    return set_cr0_paging(v, old, value);
}

bool set_cr4(Vcpu& v, u64 value)
{
    if (value & ~cr4_guest_allowed(v.caps())) return false;
    const u64 old = guest_cr4_view(v);
    const u64 efer = guest_efer_view(v);
    if ((efer & kEferLma) && !(value & cr4::PAE)) return false;
    paging::PagingState candidate = guest_paging_state(v);
    candidate.cr4 = value;
    candidate.pdptes_loaded = false;
    const bool reload = (old ^ value) & (cr4::PAE | cr4::PSE | cr4::PGE | kCr4Smep | kCr4Smap);
    const bool load_pdptes = (candidate.cr0 & cr0::PG) && reload;
    if (load_pdptes && !load_guest_pdptes(v, candidate)) return false;
    (void)vmcs_write(field::CR4_READ_SHADOW, value);
    (void)vmcs_write(field::GUEST_CR4, cr4_real(value, v.caps(), policy(v)));
    shadow_sync(v);
    ept_paging_sync(v, efer, load_pdptes);
    return true;
}

bool set_cr3(Vcpu& v, u64 value)
{
    if (v.paging != GuestPaging::SHADOW) {
        (void)vmcs_write(field::GUEST_CR3, value);
        return true;
    }
    paging::PagingState candidate = guest_paging_state(v);
    // With CR4.PCIDE, bit 63 of the source only says "do not invalidate"
    // and is not written to CR3 (SDM Vol. 3A 4.10.4.1); shadow paging keeps
    // no per-PCID translations, so there is nothing to keep either way.
    if ((candidate.cr4 & cr4::PCIDE) && (value >> 63)) value &= ~(u64{1} << 63);
    // In IA-32e mode bits above MAXPHYADDR are reserved.
    if ((candidate.efer & kEferLma) && (value >> v.guest_maxphyaddr)) return false;
    candidate.cr3 = value;
    candidate.pdptes_loaded = false;
    if ((candidate.cr0 & cr0::PG) && !load_guest_pdptes(v, candidate)) return false;
    v.guest_cr3 = value;
    shadow_sync(v);
    return true;
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
        case 3: ok = set_cr3(v, value); break;
        case 4: ok = set_cr4(v, value); break;
        case 8:
            // CR8 is the local APIC's TPR bits 7:4 (SDM Vol. 3A 11.8.6.1):
            // a lower TPR may unmask a pending interrupt, which the
            // injection before the re-entry then delivers.
            if (value & ~u64{0xf}) {
                ok = false;
                break;
            }
            v.lapic().set_tpr(static_cast<u8>(value << 4));
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
            write_gpr(v, q.gpr, v.lapic().tpr() >> 4);
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
