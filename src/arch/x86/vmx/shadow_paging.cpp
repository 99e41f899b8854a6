#include "arch/x86/vmx/shadow_paging.hpp"

#include "arch/x86/paging/guest_walk_p2m.hpp"
#include "arch/x86/vmx/cr_values.hpp"
#include "arch/x86/vmx/guest_state.hpp"
#include "arch/x86/vmx/realmode_emulate.hpp"
#include "core/domain.hpp"
#include "core/log.hpp"
#include "hal/cpu.hpp"
#include "hal/memory.hpp"

namespace xeno::vmx {

namespace {

constexpr u64 kEferSce = bit(0), kEferLme = bit(8), kEferLma = bit(10), kEferNxe = bit(11);

// Consecutive fills of one and the same fault before the domain is ended.
constexpr u32 kMaxRepeatedFills = 64;

bool shadowing(const Vcpu& v) { return v.paging == GuestPaging::SHADOW; }

}  // namespace

Status shadow_setup(Vcpu& v, mm::FrameAllocator& frames)
{
    // The guest's CPUID is the host's for these leaves (exit_cpuid.cpp).
    const hal::CpuidResult max_ext = hal::cpuid(0x80000000, 0);
    if (max_ext.eax >= 0x80000008) v.guest_maxphyaddr = static_cast<u8>(hal::cpuid(0x80000008, 0).eax & 0xff);
    if (max_ext.eax >= 0x80000001) v.guest_1gb_pages = (hal::cpuid(0x80000001, 0).edx >> 26) & 1;
    if (!shadowing(v) || v.shadow.ready()) return Status::OK;  // the domain's cache: the first vcpu builds it
    return v.shadow.init(frames, &hal::machine_to_virt, v.domain().p2m(), v.shadow_max_pages);
}

void shadow_switch_in(Vcpu& v)
{
    // The shared cache activated another vcpu's address space last (or was
    // dropped because a vcpu with paging off ran: its physical-mode tables
    // map the guest's page tables writable): load this vcpu's root.
    // shadow_sync does exactly that, and a cached root is one look-up.
    shadow_sync(v);
}

u64 guest_efer_view(Vcpu& v)
{
    if (shadowing(v) || !v.ctl.load_efer) return v.msrs.efer;
    return vmcs_read(field::GUEST_IA32_EFER);
}

void set_guest_efer_view(Vcpu& v, u64 efer)
{
    if (shadowing(v) || !v.ctl.load_efer)
        v.msrs.efer = efer;
    else
        (void)vmcs_write(field::GUEST_IA32_EFER, efer);
}

paging::PagingState guest_paging_state(Vcpu& v)
{
    paging::PagingState s;
    s.cr0 = guest_cr0_view(v);
    s.cr4 = guest_cr4_view(v);
    s.cr3 = v.guest_cr3;
    s.efer = guest_efer_view(v);
    s.cpl = static_cast<u8>((vmcs_read(field::GUEST_SS_AR_BYTES) & ar::DPL_MASK) >> ar::DPL_SHIFT);
    if (guest_in_vm86(v)) s.cpl = 0;  // what the guest has is real mode
    s.rflags_ac = (vmcs_read(field::GUEST_RFLAGS) & kRflagsAC) != 0;
    s.maxphyaddr = v.guest_maxphyaddr;
    s.page_1gb = v.guest_1gb_pages;
    if (paging::paging_mode(s) == paging::PagingMode::PAE) {
        s.pdptes_loaded = true;
        for (unsigned i = 0; i < 4; ++i) s.pdptes[i] = v.pae_pdptes[i];
    }
    return s;
}

bool load_guest_pdptes(Vcpu& v, const paging::PagingState& candidate)
{
    if (paging::paging_mode(candidate) != paging::PagingMode::PAE) return true;
    paging::P2mGuestMemory memory(v.domain().p2m(), &hal::machine_to_virt, &hal::machine_memory_written);
    const paging::PdpteLoadResult r = paging::load_pae_pdptes(candidate, memory.memory());
    if (r.outcome != paging::PdpteLoad::OK) return false;
    for (unsigned i = 0; i < 4; ++i) v.pae_pdptes[i] = r.pdptes[i];
    return true;
}

void shadow_sync(Vcpu& v)
{
    if (!shadowing(v)) return;
    const paging::PagingState g = guest_paging_state(v);
    const paging::PagingMode mode = paging::paging_mode(g);
    Hpa root = v.phys_mode_root;
    if (mode == paging::PagingMode::NONE) {
        v.shadow.guest_paging_off();
    } else {
        v.shadow.set_guest_mode(g);
        const Result<Hpa> r = v.shadow.activate(g);
        if (!r.ok()) {
            v.end_guest_fault("no memory for a shadow page-table root");
            return;
        }
        root = r.value();
    }
    const bool pae = mode == paging::PagingMode::PAE || mode == paging::PagingMode::LEVEL4;
    const bool lma = mode == paging::PagingMode::LEVEL4;
    const CrPolicy p{false, true};
    // Only what changed is written: most syncs (after an emulated
    // instruction, a CR3 load of the same address space) change nothing.
    VmcsWriter w;
    if (vmcs_read(field::GUEST_CR3) != root.value()) w.set(field::GUEST_CR3, root.value());
    const u64 cr4 = cr4_real(g.cr4, v.caps(), p) | (pae ? cr4::PAE : 0);
    if (vmcs_read(field::GUEST_CR4) != cr4) w.set(field::GUEST_CR4, cr4);
    const u32 entry = lma ? v.ctl.entry | entry_ctl::IA32E_MODE_GUEST : v.ctl.entry & ~entry_ctl::IA32E_MODE_GUEST;
    if (entry != v.ctl.entry) {
        v.ctl.entry = entry;
        w.set(field::VM_ENTRY_CONTROLS, entry);
    }
    if (v.ctl.load_efer) {
        const u64 efer = (g.efer & (kEferSce | kEferNxe)) | (lma ? kEferLme | kEferLma : 0);
        if (vmcs_read(field::GUEST_IA32_EFER) != efer) w.set(field::GUEST_IA32_EFER, efer);
    }
    if (w.status() != Status::OK) v.end_guest_fault("writing the shadow paging state to the VMCS failed");
}

void inject_page_fault(Vcpu& v, u64 linear, u32 error_code)
{
    v.regs.cr2 = linear;
    const u32 pending = vmcs_read(field::VM_ENTRY_INTR_INFO_FIELD);
    if (pending & intr_info::VALID) {
        const auto type = static_cast<InterruptionType>((pending & intr_info::TYPE_MASK) >> intr_info::TYPE_SHIFT);
        const u8 vec = static_cast<u8>(pending & intr_info::VECTOR_MASK);
        if (type == InterruptionType::HARDWARE_EXCEPTION && vec == vector::DF) {
            v.end_guest_fault("page fault while delivering a double fault (the guest would triple fault)");
            return;
        }
        if (type == InterruptionType::HARDWARE_EXCEPTION && vec == vector::PF) {
            (void)vmcs_write(field::VM_ENTRY_INTR_INFO_FIELD, 0);
            inject_exception(v, vector::DF, 0);
            return;
        }
        // A software interrupt or a benign/contributory exception: the #PF
        // is delivered first; the INT n re-executes after the handler
        // returns (RIP still points at it), a fault recurs.
        (void)vmcs_write(field::VM_ENTRY_INTR_INFO_FIELD, 0);
    }
    inject_exception(v, vector::PF, error_code);
}

void handle_shadow_page_fault(Vcpu& v, const ExitInfo& exit)
{
    const u64 linear = exit.qualification;
    const paging::PagingState g = guest_paging_state(v);
    if (paging::paging_mode(g) == paging::PagingMode::NONE) {
        // Paging off: the physical-mode tables map all of guest RAM, so the
        // access went past it. Emulate it against the bus (reads all ones).
        // An event delivery that reached there (a stack past RAM) is not
        // emulated: the domain ends, as under EPT (handle_ept_violation).
        if (exit.idt_vectoring_info & intr_info::VALID) {
            FixedWriter<128> why;
            why.str("event delivery reached guest-physical memory outside RAM at ").hex(linear)
                .str(" rip=").hex(exit.rip);
            v.end_guest_fault(why.c_str());
            return;
        }
        emulate_guest_instruction(v);
        return;
    }
    paging::P2mGuestMemory memory(v.domain().p2m(), &hal::machine_to_virt, &hal::machine_memory_written);
    const paging::FaultResult r = v.shadow.handle_fault(g, Gla{linear}, exit.intr_error_code, memory.memory());
    // A full flush (pool exhausted) may have moved the active root.
    if (v.shadow.active_root().value() != vmcs_read(field::GUEST_CR3))
        (void)vmcs_write(field::GUEST_CR3, v.shadow.active_root().value());
    // Any other outcome is the guest getting on (a page-table write, MMIO, a
    // fault of its own): a fill that recurs after one is not a storm.
    if (r.action != paging::FaultAction::FIXED && r.action != paging::FaultAction::RETRY) v.shadow_fault_repeats = 0;
    switch (r.action) {
    case paging::FaultAction::FIXED:
    case paging::FaultAction::RETRY: {
        // The same fault again right after it was filled, with nothing but
        // fills in between, means the fill did not take (a hypervisor bug):
        // stop the exit storm instead of spinning forever. A guest that
        // rewrites the entry between the faults (Linux changing its kernel
        // mappings page by page: a page-table write, then a call through
        // the same page) is not caught, since the write resets the count.
        const u64 key[3] = {exit.rip, linear, exit.intr_error_code};
        const bool same = key[0] == v.shadow_last_fault[0] && key[1] == v.shadow_last_fault[1] &&
                          key[2] == v.shadow_last_fault[2];
        v.shadow_fault_repeats = same ? v.shadow_fault_repeats + 1 : 0;
        for (unsigned i = 0; i < 3; ++i) v.shadow_last_fault[i] = key[i];
        if (v.shadow_fault_repeats >= kMaxRepeatedFills) {
            FixedWriter<160> why;
            why.str("shadow paging: the #PF at guest-linear ").hex(linear).str(" (error code ")
                .hex(exit.intr_error_code).str(", rip=").hex(exit.rip).str(") recurs after ")
                .dec(kMaxRepeatedFills).str(" fills");
            v.end_guest_fault(why.c_str());
        }
        return;
    }
    case paging::FaultAction::GUEST_FAULT:
        inject_page_fault(v, linear, r.error_code);
        return;
    case paging::FaultAction::EMULATE_WRITE:
        if (exit.idt_vectoring_info & intr_info::VALID) {
            // The processor itself writes (an event frame onto a page still
            // shadowed as a page table, e.g. a freed page table reused as a
            // stack): the frame stops being a shadowed page table and the
            // event, already queued again, is delivered natively.
            if (v.shadow.unprotect(r.gpa.frame())) return;
            v.end_guest_fault("event delivery wrote to the guest's active page directory");
            return;
        }
        emulate_guest_instruction(v);
        return;
    case paging::FaultAction::MMIO:
        if (exit.idt_vectoring_info & intr_info::VALID) {
            v.end_guest_fault("event delivery wrote outside guest RAM");
            return;
        }
        emulate_guest_instruction(v);
        return;
    case paging::FaultAction::ERROR: break;
    }
    FixedWriter<128> why;
    why.str("shadow paging cannot map guest-linear ").hex(linear).str(" (error code ").hex(exit.intr_error_code)
        .str(") rip=").hex(exit.rip);
    v.end_guest_fault(why.c_str());
}

void shadow_invlpg(Vcpu& v, u64 linear)
{
    const paging::PagingState g = guest_paging_state(v);
    if (paging::paging_mode(g) == paging::PagingMode::NONE) return;
    v.shadow.invlpg(g, Gla{linear});
}

}  // namespace xeno::vmx
