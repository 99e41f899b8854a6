#include "arch/x86/vmx/realmode_emulate.hpp"

#include "arch/x86/paging/guest_walk_p2m.hpp"
#include "arch/x86/vmx/cr_values.hpp"
#include "arch/x86/vmx/exit_handlers.hpp"
#include "arch/x86/vmx/guest_state.hpp"
#include "arch/x86/vmx/realmode.hpp"
#include "arch/x86/vmx/shadow_paging.hpp"
#include "core/domain.hpp"
#include "core/log.hpp"
#include "hal/cpu.hpp"
#include "hal/memory.hpp"

namespace xeno::vmx {

namespace {

// A mode switch sequence (LGDT, MOV CR0, far JMP, MOV Sreg x5) needs a
// handful, but big real mode (4 GiB data segment caches kept in real mode,
// SDM 3A 20.1.1) is never vm86-representable: the guest stays in the emulator
// for as long as it stays there, which for firmware is a whole POST stage
// (KVM's emulate_invalid_guest_state does the same, without a bound). The
// bound keeps a guest that never leaves from holding the hypervisor forever:
// it is ended with a message that says so.
constexpr unsigned kMaxEmulatedPerExit = 1u << 20;

constexpr u32 ar_type(u32 a) { return a & ar::TYPE_MASK; }
constexpr u32 ar_dpl(u32 a) { return (a & ar::DPL_MASK) >> ar::DPL_SHIFT; }
constexpr bool ar_usable(u32 a) { return (a & ar::UNUSABLE) == 0; }

bool limit_granularity_ok(const emu::Segment& s)
{
    // SDM 26.3.1.2: limit bits 11:0 not all ones -> G=0; bits 31:20 not all zero -> G=1.
    if ((s.limit & 0xfff) != 0xfff && (s.ar & ar::G)) return false;
    if ((s.limit & 0xfff00000) && !(s.ar & ar::G)) return false;
    return true;
}

// ---- guest memory and ports for the emulator. With guest paging off a
// linear address is guest-physical; with it on, the guest's own tables are
// walked (A/D updates and #PF as the processor's). Guest-physical addresses
// outside guest RAM read as all ones and drop writes, as on a PC bus with
// nothing there. Writes are reported to the shadow MMU, which zaps the
// shadow entries of any guest page-table entry they changed.

struct EmuContext {
    Vcpu& v;
    const emu::CpuState& s;  // the state before the instruction (controls, CPL)
};

paging::PagingState paging_state_of(const EmuContext& c)
{
    paging::PagingState p;
    p.cr0 = c.s.cr0;
    p.cr3 = c.s.cr3;
    p.cr4 = c.s.cr4;
    p.efer = c.s.efer;
    p.cpl = static_cast<u8>(emu::cpl(c.s));
    p.rflags_ac = (c.s.rflags & emu::flag::AC) != 0;
    p.maxphyaddr = c.v.guest_maxphyaddr;
    p.page_1gb = c.v.guest_1gb_pages;
    if (paging::paging_mode(p) == paging::PagingMode::PAE && c.v.paging == GuestPaging::SHADOW &&
        c.s.cr3 == c.v.guest_cr3) {
        p.pdptes_loaded = true;
        for (unsigned i = 0; i < 4; ++i) p.pdptes[i] = c.v.pae_pdptes[i];
    }
    return p;
}

emu::AccessStatus translate(const EmuContext& c, u64 linear, paging::AccessType type, bool implicit, u64* gpa,
                            u32* pf_error_code)
{
    if (!(c.s.cr0 & cr0::PG)) {
        *gpa = linear & 0xffffffff;
        return emu::AccessStatus::OK;
    }
    const paging::PagingState p = paging_state_of(c);
    paging::P2mGuestMemory memory(c.v.domain().p2m(), &hal::machine_to_virt, &hal::machine_memory_written);
    const paging::Access access{type, implicit, true};
    for (unsigned attempt = 0; attempt < 8; ++attempt) {
        const paging::WalkResult w = paging::guest_walk(p, access, Gla{linear}, memory.memory());
        switch (w.outcome) {
        case paging::WalkOutcome::OK: *gpa = w.gpa.value(); return emu::AccessStatus::OK;
        case paging::WalkOutcome::PAGE_FAULT: *pf_error_code = w.error_code; return emu::AccessStatus::PAGE_FAULT;
        case paging::WalkOutcome::MEMORY_ERROR:
            // A paging structure outside guest RAM reads as all ones: present
            // with reserved bits set (SDM 4.7: RSVD).
            *pf_error_code = paging::pfec::P | paging::pfec::RSVD |
                             (type == paging::AccessType::WRITE ? paging::pfec::W : 0) |
                             (p.cpl == 3 && !implicit ? paging::pfec::U : 0);
            return emu::AccessStatus::PAGE_FAULT;
        case paging::WalkOutcome::RETRY: break;
        }
    }
    *pf_error_code = 0;  // entries changing forever under the walk: report not-present
    return emu::AccessStatus::PAGE_FAULT;
}

paging::AccessType access_type(emu::AccessKind k)
{
    return k == emu::AccessKind::WRITE ? paging::AccessType::WRITE
           : k == emu::AccessKind::EXECUTE ? paging::AccessType::FETCH : paging::AccessType::READ;
}

// Split [linear, linear + size) at page boundaries: each piece is translated
// on its own, as the processor does for an access that crosses pages.
template <typename Fn>
emu::AccessStatus for_each_page_piece(u64 linear, u32 size, Fn&& fn)
{
    u32 done = 0;
    while (done < size) {
        const u64 at = linear + done;
        const u32 in_page = static_cast<u32>(kPageSize - (at & (kPageSize - 1)));
        const u32 n = size - done < in_page ? size - done : in_page;
        const emu::AccessStatus st = fn(at, done, n);
        if (st != emu::AccessStatus::OK) return st;
        done += n;
    }
    return emu::AccessStatus::OK;
}

// Guest-physical addresses outside RAM go to the domain's MMIO bus (the
// local and I/O APICs; open bus where no device is), in naturally sized
// pieces, little-endian, from the vcpu that made the access. Instruction
// fetches never reach a device: they read open bus.
void mmio_read(Vcpu& v, u64 gpa, u8* d, u32 n, bool fetch)
{
    if (fetch) {
        for (u32 i = 0; i < n; ++i) d[i] = 0xff;
        return;
    }
    devices::MmioBus& bus = v.domain().mmio();
    if (n == 1 || n == 2 || n == 4 || n == 8) {
        const u64 value = bus.read(v.id(), gpa, static_cast<u8>(n));
        for (u32 i = 0; i < n; ++i) d[i] = static_cast<u8>(value >> (8 * i));
        return;
    }
    for (u32 i = 0; i < n; ++i) d[i] = static_cast<u8>(bus.read(v.id(), gpa + i, 1));
}

void mmio_write(Vcpu& v, u64 gpa, const u8* b, u32 n)
{
    devices::MmioBus& bus = v.domain().mmio();
    if (n == 1 || n == 2 || n == 4 || n == 8) {
        u64 value = 0;
        for (u32 i = 0; i < n; ++i) value |= u64{b[i]} << (8 * i);
        bus.write(v.id(), gpa, static_cast<u8>(n), value);
        return;
    }
    for (u32 i = 0; i < n; ++i) bus.write(v.id(), gpa + i, 1, b[i]);
}

emu::AccessStatus read_linear(void* ctx, u64 linear, void* dst, u32 size, emu::AccessKind kind, bool implicit,
                              u32* pf_error_code)
{
    const EmuContext& c = *static_cast<EmuContext*>(ctx);
    u8* d = static_cast<u8*>(dst);
    return for_each_page_piece(linear, size, [&](u64 at, u32 offset, u32 n) {
        u64 gpa = 0;
        const emu::AccessStatus st = translate(c, at, access_type(kind), implicit, &gpa, pf_error_code);
        if (st != emu::AccessStatus::OK) return st;
        if (c.v.domain().p2m().copy_from_guest(&d[offset], Gpa{gpa}, n) != Status::OK)
            mmio_read(c.v, gpa, &d[offset], n, kind == emu::AccessKind::EXECUTE);
        return emu::AccessStatus::OK;
    });
}

emu::AccessStatus write_linear(void* ctx, u64 linear, const void* src, u32 size, bool implicit, u32* pf_error_code)
{
    const EmuContext& c = *static_cast<EmuContext*>(ctx);
    const u8* b = static_cast<const u8*>(src);
    return for_each_page_piece(linear, size, [&](u64 at, u32 offset, u32 n) {
        u64 gpa = 0;
        const emu::AccessStatus st = translate(c, at, paging::AccessType::WRITE, implicit, &gpa, pf_error_code);
        if (st != emu::AccessStatus::OK) return st;
        if (c.v.domain().p2m().copy_to_guest(Gpa{gpa}, &b[offset], n, &hal::machine_memory_written) != Status::OK)
            mmio_write(c.v, gpa, &b[offset], n);
        else if (c.v.paging == GuestPaging::SHADOW)
            c.v.shadow.guest_wrote(Gpa{gpa}, n);
        return emu::AccessStatus::OK;
    });
}

emu::AccessStatus io_in(void* ctx, u16 port, u32 size, u32* value)
{
    *value = static_cast<EmuContext*>(ctx)->v.domain().io().read(port, static_cast<u8>(size));
    return emu::AccessStatus::OK;
}

emu::AccessStatus io_out(void* ctx, u16 port, u32 size, u32 value)
{
    static_cast<EmuContext*>(ctx)->v.domain().io().write(port, static_cast<u8>(size), value);
    return emu::AccessStatus::OK;
}

bool control_write(void* ctx, unsigned reg, u64 value)
{
    const EmuContext& c = *static_cast<EmuContext*>(ctx);
    if (reg == 4 && (value & ~cr4_guest_allowed(c.v.caps())) != 0) return false;
    if (reg != 0 && reg != 3 && reg != 4) return true;
    // A write that leaves the guest in PAE paging loads the PDPTEs (#GP on a
    // reserved bit, SDM Vol. 3A 4.4.1).
    paging::PagingState candidate = paging_state_of(c);
    candidate.pdptes_loaded = false;
    if (reg == 0) {
        candidate.cr0 = value;
        const bool paging_now = (value & cr0::PG) != 0;
        const bool paging_before = (c.s.cr0 & cr0::PG) != 0;
        if (paging_now == paging_before && !((value ^ c.s.cr0) & (cr0::CD | cr0::NW))) return true;
    } else if (reg == 3) {
        candidate.cr3 = value;
    } else {
        candidate.cr4 = value;
    }
    if (!(candidate.cr0 & cr0::PG)) return true;
    return load_guest_pdptes(c.v, candidate);
}

// ---- VMCS <-> emulator state

void read_segment(emu::Segment& s, u16 sel, u64 base, u32 limit, u32 ar_bytes)
{
    s.selector = sel;
    s.base = base;
    s.limit = limit;
    s.ar = ar_bytes;
}

StashedTr& stashed_tr(Vcpu& v)
{
    u8* frames = static_cast<u8*>(hal::machine_to_virt(v.vm86_tss_frames));
    return *reinterpret_cast<StashedTr*>(frames + kVm86TssGuestTrOffset);
}

}  // namespace

void forget_stashed_tr(Vcpu& v)
{
    stashed_tr(v).valid = 0;
}

namespace {

void load_state(Vcpu& v, emu::CpuState& s)
{
    for (unsigned i = 0; i < 16; ++i) s.gpr[i] = read_gpr(v, i);
    s.rip = vmcs_read(field::GUEST_RIP);
    const u64 rflags = vmcs_read(field::GUEST_RFLAGS);
    const bool vm86 = (rflags & kRflagsVM) != 0;
    s.rflags = vm86 ? (rflags & ~(kRflagsVM | kRflagsIOPL)) | v.vm86_guest_iopl : rflags;
    s.cr0 = guest_cr0_view(v);
    s.cr4 = guest_cr4_view(v);
    s.cr3 = v.paging == GuestPaging::SHADOW ? v.guest_cr3 : vmcs_read(field::GUEST_CR3);
    s.cr2 = v.regs.cr2;
    s.cr8 = v.cr8;
    s.efer = guest_efer_view(v);
    read_segment(s.seg[0], vmcs_read(field::GUEST_ES_SELECTOR), vmcs_read(field::GUEST_ES_BASE), vmcs_read(field::GUEST_ES_LIMIT), vmcs_read(field::GUEST_ES_AR_BYTES));
    read_segment(s.seg[1], vmcs_read(field::GUEST_CS_SELECTOR), vmcs_read(field::GUEST_CS_BASE), vmcs_read(field::GUEST_CS_LIMIT), vmcs_read(field::GUEST_CS_AR_BYTES));
    read_segment(s.seg[2], vmcs_read(field::GUEST_SS_SELECTOR), vmcs_read(field::GUEST_SS_BASE), vmcs_read(field::GUEST_SS_LIMIT), vmcs_read(field::GUEST_SS_AR_BYTES));
    read_segment(s.seg[3], vmcs_read(field::GUEST_DS_SELECTOR), vmcs_read(field::GUEST_DS_BASE), vmcs_read(field::GUEST_DS_LIMIT), vmcs_read(field::GUEST_DS_AR_BYTES));
    read_segment(s.seg[4], vmcs_read(field::GUEST_FS_SELECTOR), vmcs_read(field::GUEST_FS_BASE), vmcs_read(field::GUEST_FS_LIMIT), vmcs_read(field::GUEST_FS_AR_BYTES));
    read_segment(s.seg[5], vmcs_read(field::GUEST_GS_SELECTOR), vmcs_read(field::GUEST_GS_BASE), vmcs_read(field::GUEST_GS_LIMIT), vmcs_read(field::GUEST_GS_AR_BYTES));
    if (vm86) {
        // What the guest has is real mode: 16-bit, DPL 0 caches.
        for (unsigned i = 0; i < emu::kSegCount; ++i) s.seg[i].ar = i == 1 ? 0x9b : 0x93;
    }
    read_segment(s.ldtr, vmcs_read(field::GUEST_LDTR_SELECTOR), vmcs_read(field::GUEST_LDTR_BASE), vmcs_read(field::GUEST_LDTR_LIMIT), vmcs_read(field::GUEST_LDTR_AR_BYTES));
    read_segment(s.tr, vmcs_read(field::GUEST_TR_SELECTOR), vmcs_read(field::GUEST_TR_BASE), vmcs_read(field::GUEST_TR_LIMIT), vmcs_read(field::GUEST_TR_AR_BYTES));
    if (vm86) {
        // TR holds the hypervisor's vm86 TSS; the guest's is in the stash.
        const StashedTr& t = stashed_tr(v);
        if (t.valid) read_segment(s.tr, t.selector, t.base, t.limit, t.ar);
    }
    s.gdtr = {vmcs_read(field::GUEST_GDTR_BASE), vmcs_read(field::GUEST_GDTR_LIMIT)};
    s.idtr = {vmcs_read(field::GUEST_IDTR_BASE), vmcs_read(field::GUEST_IDTR_LIMIT)};
    // The debug registers as exit_debug_regs.cpp keeps them.
    for (unsigned i = 0; i < 4; ++i) s.dr[i] = v.regs.dr[i];
    s.dr[6] = v.regs.dr6;
    s.dr[7] = vmcs_read(field::GUEST_DR7);
}

// The emulator's debug registers back where the processor gets them.
void store_debug_registers(Vcpu& v, const emu::CpuState& s, VmcsWriter& w)
{
    for (unsigned i = 0; i < 4; ++i) v.regs.dr[i] = s.dr[i];
    v.regs.dr6 = s.dr[6];
    w.set(field::GUEST_DR7, s.dr[7]);
}

void store_segment(VmcsWriter& w, unsigned i, const emu::Segment& g, bool vm86)
{
    const u32 ar_bytes = vm86 ? kVm86SegmentAr : g.ar;
    switch (i) {
    case 0: w.set(field::GUEST_ES_SELECTOR, g.selector).set(field::GUEST_ES_BASE, g.base).set(field::GUEST_ES_LIMIT, g.limit).set(field::GUEST_ES_AR_BYTES, ar_bytes); break;
    case 1: w.set(field::GUEST_CS_SELECTOR, g.selector).set(field::GUEST_CS_BASE, g.base).set(field::GUEST_CS_LIMIT, g.limit).set(field::GUEST_CS_AR_BYTES, ar_bytes); break;
    case 2: w.set(field::GUEST_SS_SELECTOR, g.selector).set(field::GUEST_SS_BASE, g.base).set(field::GUEST_SS_LIMIT, g.limit).set(field::GUEST_SS_AR_BYTES, ar_bytes); break;
    case 3: w.set(field::GUEST_DS_SELECTOR, g.selector).set(field::GUEST_DS_BASE, g.base).set(field::GUEST_DS_LIMIT, g.limit).set(field::GUEST_DS_AR_BYTES, ar_bytes); break;
    case 4: w.set(field::GUEST_FS_SELECTOR, g.selector).set(field::GUEST_FS_BASE, g.base).set(field::GUEST_FS_LIMIT, g.limit).set(field::GUEST_FS_AR_BYTES, ar_bytes); break;
    default: w.set(field::GUEST_GS_SELECTOR, g.selector).set(field::GUEST_GS_BASE, g.base).set(field::GUEST_GS_LIMIT, g.limit).set(field::GUEST_GS_AR_BYTES, ar_bytes); break;
    }
}

// With unrestricted guest (EPT) the emulator only runs single instructions
// the processor could not complete (MMIO); the state goes back as it is.
void store_state_native(Vcpu& v, const emu::CpuState& s, u32 effects)
{
    for (unsigned i = 0; i < 16; ++i) write_gpr(v, i, s.gpr[i]);
    v.regs.cr2 = s.cr2;
    v.cr8 = s.cr8;
    VmcsWriter w;
    store_debug_registers(v, s, w);
    w.set(field::GUEST_RIP, s.rip).set(field::GUEST_RFLAGS, s.rflags);
    const CrPolicy p{true, false};
    w.set(field::CR0_READ_SHADOW, s.cr0).set(field::GUEST_CR0, cr0_real(s.cr0, v.caps(), p));
    w.set(field::CR4_READ_SHADOW, s.cr4).set(field::GUEST_CR4, cr4_real(s.cr4, v.caps(), p));
    w.set(field::GUEST_CR3, s.cr3);
    if ((effects & emu::effect::CR3_WRITE) && (s.cr0 & cr0::PG) &&
        (s.cr4 & cr4::PAE) && !(s.efer & emu::efer::LMA)) {
        // PAE paging under EPT: VM entry loads the PDPTEs from the VMCS
        // (SDM Vol. 3C 26.3.2.4); control_write loaded them from the CR3
        // written (v.pae_pdptes is current only after such a write).
        w.set(field::GUEST_PDPTE0, v.pae_pdptes[0]).set(field::GUEST_PDPTE1, v.pae_pdptes[1])
            .set(field::GUEST_PDPTE2, v.pae_pdptes[2]).set(field::GUEST_PDPTE3, v.pae_pdptes[3]);
    }
    set_guest_efer_view(v, s.efer);
    for (unsigned i = 0; i < emu::kSegCount; ++i) store_segment(w, i, s.seg[i], false);
    w.set(field::GUEST_LDTR_SELECTOR, s.ldtr.selector).set(field::GUEST_LDTR_BASE, s.ldtr.base)
        .set(field::GUEST_LDTR_LIMIT, s.ldtr.limit).set(field::GUEST_LDTR_AR_BYTES, s.ldtr.ar);
    w.set(field::GUEST_TR_SELECTOR, s.tr.selector).set(field::GUEST_TR_BASE, s.tr.base)
        .set(field::GUEST_TR_LIMIT, s.tr.limit).set(field::GUEST_TR_AR_BYTES, s.tr.ar);
    w.set(field::GUEST_GDTR_BASE, s.gdtr.base).set(field::GUEST_GDTR_LIMIT, s.gdtr.limit);
    w.set(field::GUEST_IDTR_BASE, s.idtr.base).set(field::GUEST_IDTR_LIMIT, s.idtr.limit);
    u32 intr = 0;
    if (effects & emu::effect::STI_SHADOW) intr |= interruptibility::BLOCKING_BY_STI;
    if (effects & emu::effect::MOV_SS_SHADOW) intr |= interruptibility::BLOCKING_BY_MOV_SS;
    w.set(field::GUEST_INTERRUPTIBILITY_INFO, intr);
    const bool lma = (s.efer & emu::efer::LMA) != 0;
    v.ctl.entry = lma ? v.ctl.entry | entry_ctl::IA32E_MODE_GUEST : v.ctl.entry & ~entry_ctl::IA32E_MODE_GUEST;
    w.set(field::VM_ENTRY_CONTROLS, v.ctl.entry);
    if (w.status() != Status::OK) v.end_guest_fault("writing the emulated state back to the VMCS failed");
}

void store_state(Vcpu& v, const emu::CpuState& s, u32 effects)
{
    if (v.unrestricted()) {
        store_state_native(v, s, effects);
        return;
    }
    const bool vm86 = (s.cr0 & cr0::PE) == 0;  // only called when enterable: real mode means vm86 form
    for (unsigned i = 0; i < 16; ++i) write_gpr(v, i, s.gpr[i]);
    v.regs.cr2 = s.cr2;
    v.cr8 = s.cr8;
    v.guest_cr3 = s.cr3;
    VmcsWriter w;
    store_debug_registers(v, s, w);
    w.set(field::GUEST_RIP, s.rip);
    if (vm86) {
        v.vm86_guest_iopl = s.rflags & kRflagsIOPL;
        w.set(field::GUEST_RFLAGS, s.rflags | kRflagsVM | kRflagsIOPL);
    } else {
        w.set(field::GUEST_RFLAGS, s.rflags & ~kRflagsVM);
    }
    const CrPolicy p{false, true};
    w.set(field::CR0_READ_SHADOW, s.cr0).set(field::GUEST_CR0, cr0_real(s.cr0, v.caps(), p));
    w.set(field::CR4_READ_SHADOW, s.cr4).set(field::GUEST_CR4, cr4_real(s.cr4, v.caps(), p));
    set_guest_efer_view(v, s.efer);
    for (unsigned i = 0; i < emu::kSegCount; ++i) store_segment(w, i, s.seg[i], vm86);
    w.set(field::GUEST_LDTR_SELECTOR, s.ldtr.selector).set(field::GUEST_LDTR_BASE, s.ldtr.base)
        .set(field::GUEST_LDTR_LIMIT, s.ldtr.limit).set(field::GUEST_LDTR_AR_BYTES, s.ldtr.ar);
    // A TR cache always holds a busy TSS (LTR marks it busy, SDM 3A 8.2.4),
    // which is also what VM entry requires (26.3.1.2).
    u32 tr_ar = s.tr.ar;
    if (ar_type(tr_ar) == 1 || ar_type(tr_ar) == 9) tr_ar |= 2;
    if (vm86) {
        if (s.tr.base != v.vm86_tss.value() || s.tr.limit != kVm86TssLimit) {
            StashedTr& t = stashed_tr(v);
            t.valid = 1;
            t.selector = s.tr.selector;
            t.base = s.tr.base;
            t.limit = s.tr.limit;
            t.ar = tr_ar;
        }
        w.set(field::GUEST_TR_SELECTOR, 0).set(field::GUEST_TR_BASE, v.vm86_tss.value())
            .set(field::GUEST_TR_LIMIT, kVm86TssLimit).set(field::GUEST_TR_AR_BYTES, 0x8b);
    } else {
        w.set(field::GUEST_TR_SELECTOR, s.tr.selector).set(field::GUEST_TR_BASE, s.tr.base)
            .set(field::GUEST_TR_LIMIT, s.tr.limit).set(field::GUEST_TR_AR_BYTES, tr_ar);
    }
    w.set(field::GUEST_GDTR_BASE, s.gdtr.base).set(field::GUEST_GDTR_LIMIT, s.gdtr.limit);
    w.set(field::GUEST_IDTR_BASE, s.idtr.base).set(field::GUEST_IDTR_LIMIT, s.idtr.limit);
    u32 intr = 0;
    if (effects & emu::effect::STI_SHADOW) intr |= interruptibility::BLOCKING_BY_STI;
    if (effects & emu::effect::MOV_SS_SHADOW) intr |= interruptibility::BLOCKING_BY_MOV_SS;
    w.set(field::GUEST_INTERRUPTIBILITY_INFO, intr);
    // vm86: every exception is the hypervisor's to reflect; protected mode:
    // the guest's IDT handles its own exceptions natively, except #PF, which
    // shadow paging must see first.
    v.ctl.exception_bitmap = vm86 ? 0xffffffffu : kShadowExceptionBitmap;
    w.set(field::EXCEPTION_BITMAP, v.ctl.exception_bitmap);
    if (w.status() != Status::OK) {
        v.end_guest_fault("writing the emulated state back to the VMCS failed");
        return;
    }
    shadow_sync(v);
}

bool enterable(const Vcpu& v, const emu::CpuState& s)
{
    if (v.unrestricted()) return true;
    if (!(s.cr0 & cr0::PE)) return realmode_vm86_representable(s);
    if (s.rflags & kRflagsVM) return false;  // a guest's own vm86 mode: not supported
    return protected_mode_segments_enterable(s);
}

}  // namespace

void set_guest_cpu_state(Vcpu& v, const emu::CpuState& s)
{
    store_state(v, s, 0);
}

bool realmode_vm86_representable(const emu::CpuState& s)
{
    for (const emu::Segment& g : s.seg) {
        if (g.base != u64{g.selector} << 4 || g.limit != 0xffff) return false;
        if (!ar_usable(g.ar) || (g.ar & (ar::DB | ar::G))) return false;
    }
    return true;
}

bool protected_mode_segments_enterable(const emu::CpuState& s)
{
    const emu::Segment& cs = s.sreg(emu::Seg::CS);
    const emu::Segment& ss = s.sreg(emu::Seg::SS);
    const u32 cst = ar_type(cs.ar);
    if (!ar_usable(cs.ar) || !(cs.ar & ar::S) || !(cs.ar & ar::P) || !limit_granularity_ok(cs)) return false;
    if (cst != 9 && cst != 11 && cst != 13 && cst != 15) return false;
    if (ar_usable(ss.ar)) {
        const u32 sst = ar_type(ss.ar);
        if ((sst != 3 && sst != 7) || !(ss.ar & ar::S) || !(ss.ar & ar::P) || !limit_granularity_ok(ss)) return false;
        if (ar_dpl(ss.ar) != (ss.selector & 3u)) return false;
    }
    if ((ss.selector & 3u) != (cs.selector & 3u)) return false;
    if ((cst == 9 || cst == 11) && ar_dpl(cs.ar) != ar_dpl(ss.ar)) return false;
    if ((cst == 13 || cst == 15) && ar_dpl(cs.ar) > ar_dpl(ss.ar)) return false;
    for (emu::Seg seg : {emu::Seg::DS, emu::Seg::ES, emu::Seg::FS, emu::Seg::GS}) {
        const emu::Segment& d = s.sreg(seg);
        if (!ar_usable(d.ar)) continue;
        const u32 t = ar_type(d.ar);
        if (!(t & 1) || ((t & 8) && !(t & 2))) return false;  // accessed; code must be readable
        if (!(d.ar & ar::S) || !(d.ar & ar::P) || !limit_granularity_ok(d)) return false;
        if (t <= 11 && ar_dpl(d.ar) < (d.selector & 3u)) return false;
    }
    // TR: a busy TSS (16- or 32-bit), LDTR unusable or an LDT.
    const u32 trt = ar_type(s.tr.ar);
    if (!ar_usable(s.tr.ar) || (trt != 3 && trt != 11) || (s.tr.ar & ar::S) || !(s.tr.ar & ar::P) ||
        (s.tr.selector & 4))
        return false;
    if (ar_usable(s.ldtr.ar) && (ar_type(s.ldtr.ar) != 2 || (s.ldtr.ar & ar::S) || !(s.ldtr.ar & ar::P)))
        return false;
    return true;
}

namespace {

emu::EmulateOps make_ops(EmuContext& c)
{
    emu::EmulateOps ops;
    ops.ctx = &c;
    ops.read_linear = &read_linear;
    ops.write_linear = &write_linear;
    ops.io_in = &io_in;
    ops.io_out = &io_out;
    ops.control_write = &control_write;
    return ops;
}

void log_unhandled(const emu::CpuState& s, const emu::EmulateResult& r)
{
    LogLine line;
    line.str("emulate: unhandled instruction at rip=").hex(s.rip).str(":");
    for (unsigned i = 0; i < r.length && i < 15; ++i) line.ch(' ').hex_digits(r.bytes[i], 2);
}

// The instructions that exit (CPUID, RDMSR, WRMSR, RDTSC) reached while the
// state is being emulated (a mode switch without unrestricted guest: Linux's
// AP trampoline reads EFER between protected and long mode). The emulator
// leaves them to the caller; they do here what their exit handlers do, on
// the emulated state. True: done (or a #GP delivered); false: not one of them.
bool exiting_instruction(Vcpu& v, emu::CpuState& s, const emu::EmulateResult& r, const emu::EmulateOps& ops)
{
    if (r.length < 2 || r.bytes[0] != 0x0f) return false;
    const u8 op = r.bytes[1];
    if (op != 0x30 && op != 0x31 && op != 0x32 && op != 0xa2) return false;
    const bool privileged = op == 0x30 || op == 0x32 || (op == 0x31 && (s.cr4 & cr4::TSD));
    bool ok = !(privileged && emu::cpl(s) != 0);
    const u32 ecx = static_cast<u32>(s.gpr[1]);
    u64 value = 0;
    if (ok && op == 0xa2) {
        const CpuidRegs c = vcpu_cpuid(v, static_cast<u32>(s.gpr[0]), ecx);
        s.gpr[0] = c.eax;
        s.gpr[3] = c.ebx;
        s.gpr[1] = c.ecx;
        s.gpr[2] = c.edx;
    } else if (ok && op == 0x31) {
        value = hal::rdmsr(msr::IA32_TSC) + v.domain().tsc_offset();
    } else if (ok && op == 0x32) {
        // EFER is part of the emulated state (store_state writes it back).
        if (ecx == msr::IA32_EFER)
            value = s.efer;
        else
            ok = guest_msr_read(v, ecx, &value);
    } else if (ok) {
        value = (s.gpr[0] & 0xffffffff) | (s.gpr[2] << 32);
        if (ecx == msr::IA32_EFER) {
            u64 next;
            ok = efer_after_write(s.efer, value, (s.cr0 & cr0::PG) != 0, &next);
            if (ok) s.efer = next;
        } else {
            ok = guest_msr_write(v, ecx, value);
        }
    }
    if (!ok) {
        const emu::EmulateResult d = emu::deliver_event(s, ops, vector::GP, true, 0, s.rip, false);
        if (d.outcome != emu::EmulateOutcome::OK) v.end_guest_fault("#GP from an emulated RDMSR/WRMSR could not be delivered");
        return true;
    }
    if (op == 0x31 || op == 0x32) {
        s.gpr[0] = value & 0xffffffff;
        s.gpr[2] = value >> 32;
    }
    s.rip += 2;
    return true;
}

// One instruction, with exceptions (and #UD for what the emulator does not
// know) delivered by the emulator itself through the guest's IVT or IDT.
// False: the domain ended (the reason logged).
bool step(Vcpu& v, emu::CpuState& s, const emu::EmulateOps& ops, u32* effects)
{
    emu::EmulateResult r = emu::emulate_one(s, ops);
    ++v.emulated_instructions;
    hal::instruction_emulated();
    *effects = 0;
    switch (r.outcome) {
    case emu::EmulateOutcome::OK: *effects = r.effects; return true;
    case emu::EmulateOutcome::EXCEPTION:
        if (r.vector == vector::PF) s.cr2 = r.cr2;
        r = emu::deliver_event(s, ops, r.vector, r.has_error_code, r.error_code, s.rip, false);
        if (r.outcome != emu::EmulateOutcome::OK) {
            v.end_guest_fault("an exception during emulation could not be delivered (the guest would triple fault)");
            return false;
        }
        return true;
    case emu::EmulateOutcome::UNHANDLED:
        if (exiting_instruction(v, s, r, ops)) return true;
        log_unhandled(s, r);
        r = emu::deliver_event(s, ops, vector::UD, false, 0, s.rip, false);
        if (r.outcome != emu::EmulateOutcome::OK) {
            v.end_guest_fault("#UD for an unhandled instruction could not be delivered");
            return false;
        }
        return true;
    case emu::EmulateOutcome::IO_NEEDED: break;
    }
    v.end_guest_fault("the emulator asked for port I/O the hypervisor could not complete");
    return false;
}

// Emulate from `s` (already advanced past zero or more instructions) until
// the state is enterable, then store it.
void emulate_from(Vcpu& v, emu::CpuState& s, const emu::EmulateOps& ops, u32 effects)
{
    for (unsigned n = 0; n < kMaxEmulatedPerExit; ++n) {
        if (v.domain().ended()) return;  // e.g. the debug exit port
        if (effects & emu::effect::HALT) {
            store_state(v, s, effects);
            FixedWriter<96> why;
            why.str("guest halted (emulated HLT) with no interrupt source at rip=").hex(s.rip);
            v.end_guest_fault(why.c_str());
            return;
        }
        if (enterable(v, s)) {
            store_state(v, s, effects);
            return;
        }
        if (!step(v, s, ops, &effects)) return;
    }
    FixedWriter<128> why;
    why.str("guest state still not enterable after ").dec(kMaxEmulatedPerExit).str(" emulated instructions, rip=")
        .hex(s.rip).str(" cr0=").hex(s.cr0);
    v.end_guest_fault(why.c_str());
}

}  // namespace

void reflect_realmode_interrupt(Vcpu& v, u8 vector, u64 return_ip)
{
    emu::CpuState s;
    load_state(v, s);
    EmuContext c{v, s};
    const emu::EmulateOps ops = make_ops(c);
    const emu::EmulateResult r = emu::deliver_event(s, ops, vector, false, 0, return_ip, false);
    if (r.outcome != emu::EmulateOutcome::OK) {
        FixedWriter<96> why;
        why.str("guest triple fault at rip=").hex(return_ip).str(" (vector ").dec(vector)
            .str(" undeliverable through the real-mode IVT)");
        v.end_guest_fault(why.c_str());
        return;
    }
    emulate_from(v, s, ops, 0);
}

void emulate_until_enterable(Vcpu& v)
{
    emu::CpuState s;
    load_state(v, s);
    EmuContext c{v, s};
    const emu::EmulateOps ops = make_ops(c);
    // The state is not enterable when this is called (or the instruction at
    // RIP must not run natively): emulate at least one instruction.
    u32 effects = 0;
    if (step(v, s, ops, &effects)) emulate_from(v, s, ops, effects);
}

TaskSwitchOutcome emulate_task_switch(Vcpu& v, const emu::TaskSwitchRequest& request)
{
    emu::CpuState s;
    load_state(v, s);
    EmuContext c{v, s};
    const emu::EmulateOps ops = make_ops(c);
    const emu::EmulateResult r = emu::task_switch(s, ops, request);
    TaskSwitchOutcome out;
    out.switched = (r.effects & emu::effect::TASK_SWITCHED) != 0;
    switch (r.outcome) {
    case emu::EmulateOutcome::OK:
        emulate_from(v, s, ops, r.effects);
        return out;
    case emu::EmulateOutcome::EXCEPTION:
        if (out.switched) store_state(v, s, r.effects & (emu::effect::CR3_WRITE | emu::effect::MODE_CHANGE));
        out.kind = TaskSwitchOutcome::Kind::FAULT;
        out.vector = r.vector;
        out.error_code = r.error_code;
        out.cr2 = r.cr2;
        return out;
    case emu::EmulateOutcome::UNHANDLED:
    case emu::EmulateOutcome::IO_NEEDED: break;
    }
    FixedWriter<96> why;
    why.str("task switch to TSS ").hex(request.selector).str(" at rip=").hex(s.rip)
        .str(": 16-bit TSSs are not supported");
    v.end_guest_fault(why.c_str());
    out.kind = TaskSwitchOutcome::Kind::ENDED;
    return out;
}

void emulate_guest_instruction(Vcpu& v)
{
    emu::CpuState s;
    load_state(v, s);
    EmuContext c{v, s};
    const emu::EmulateOps ops = make_ops(c);
    emu::EmulateResult r = emu::emulate_one(s, ops);
    ++v.emulated_instructions;
    hal::instruction_emulated();
    switch (r.outcome) {
    case emu::EmulateOutcome::OK: emulate_from(v, s, ops, r.effects); return;
    case emu::EmulateOutcome::EXCEPTION:
        // The guest runs natively (protected or long mode): the processor
        // delivers the fault at the next VM entry. REP string instructions
        // keep their completed iterations, so the state is stored first.
        store_state(v, s, 0);
        if (r.vector == vector::PF)
            inject_page_fault(v, r.cr2, r.error_code);
        else
            inject_exception(v, r.vector, r.error_code);
        return;
    case emu::EmulateOutcome::UNHANDLED:
        if (exiting_instruction(v, s, r, ops)) {
            emulate_from(v, s, ops, 0);
            return;
        }
        log_unhandled(s, r);
        inject_exception(v, vector::UD, 0);
        return;
    case emu::EmulateOutcome::IO_NEEDED:
        v.end_guest_fault("the emulator asked for port I/O the hypervisor could not complete");
        return;
    }
}

}  // namespace xeno::vmx
