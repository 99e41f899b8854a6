#include "arch/x86/vmx/realmode.hpp"

#include "arch/x86/vmx/exit_handlers.hpp"
#include "arch/x86/vmx/guest_state.hpp"
#include "arch/x86/vmx/realmode_emulate.hpp"
#include "core/domain.hpp"
#include "core/log.hpp"
#include "hal/memory.hpp"

namespace xeno::vmx {

Status vm86_tss_setup(Vcpu& v, mm::FrameAllocator& frames, paging::PhysModeTables& tables)
{
    Result<Hpa> t = frames.allocate_run_below(Vcpu::kVm86TssFrames, u64{1} << 32);
    if (!t.ok()) return t.status();
    frames.zero(t.value(), Vcpu::kVm86TssFrames);
    u8* tss = static_cast<u8*>(hal::machine_to_virt(t.value()));
    tss[kVm86TssIoMapBaseOffset] = static_cast<u8>(kVm86TssIoMapBase & 0xff);
    tss[kVm86TssIoMapBaseOffset + 1] = static_cast<u8>(kVm86TssIoMapBase >> 8);
    tss[kVm86TssLimit] = 0xff;
    // In the hole past the low RAM, where no RAM and no device is (guest_layout.hpp).
    const u64 first_gfn = v.domain().layout().hole_frame();
    for (u64 i = 0; i < Vcpu::kVm86TssFrames; ++i) {
        XENO_TRY(tables.map_page(first_gfn + i, t.value().frame() + i));
    }
    // The CPU only reads the TSS in vm86 (redirection and I/O checks), so the
    // guest gets it read-only: clear RW in the PTEs just made.
    for (u64 i = 0; i < Vcpu::kVm86TssFrames; ++i) {
        const u64 gfn = first_gfn + i;
        const u32 pde = static_cast<u32*>(hal::machine_to_virt(tables.root()))[gfn >> 10];
        u32* pt = static_cast<u32*>(hal::machine_to_virt(Hpa{pde & paging::pt32::ADDRESS_MASK}));
        pt[gfn & 0x3ff] &= ~paging::pt32::RW;
    }
    v.vm86_tss = Gpa::from_frame(first_gfn);
    v.vm86_tss_frames = t.value();
    return Status::OK;
}

void handle_realmode_gp(Vcpu& v, const ExitInfo& exit)
{
    const u64 linear = vmcs_read(field::GUEST_CS_BASE) + (exit.rip & 0xffff);
    u8 insn[15] = {};
    usize got = 0;
    while (got < sizeof insn && v.domain().p2m().copy_from_guest(&insn[got], Gpa{linear + got}, 1) == Status::OK) ++got;
    if (got == 0) {
        v.end_guest_fault("#GP in vm86 with the instruction outside guest RAM");
        return;
    }
    if (insn[0] == 0xf4) {  // HLT: privileged at CPL 3; handled as the HLT exit would be
        ExitInfo hlt = exit;
        hlt.instruction_length = 1;
        handle_hlt(v, hlt);
        return;
    }
    // Everything else (LGDT/LIDT, MOV CRn, LMSW, far JMP, MOV Sreg, ...) goes
    // to the x86 instruction emulator until the guest's state can be entered
    // again: KVM's "emulate invalid guest state".
    emulate_until_enterable(v);
}

}  // namespace xeno::vmx
