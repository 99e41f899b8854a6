#include "arch/x86/vmx/vmcs_setup.hpp"

#include "arch/x86/paging/ept.hpp"
#include "arch/x86/paging/phys_mode_pt.hpp"
#include "arch/x86/vmx/controls.hpp"
#include "arch/x86/vmx/cr_values.hpp"
#include "arch/x86/vmx/guest_state.hpp"
#include "arch/x86/vmx/msr_load_list.hpp"
#include "arch/x86/vmx/realmode.hpp"
#include "arch/x86/vmx/realmode_emulate.hpp"
#include "arch/x86/vmx/shadow_paging.hpp"
#include "arch/x86/vmx/vmcs.hpp"
#include "arch/x86/vmx/vmx_cpu_setup.hpp"
#include "core/domain.hpp"
#include "core/log.hpp"
#include "hal/cpu.hpp"
#include "hal/memory.hpp"

namespace xeno::vmx {

namespace {

bool adjust(const char* what, u32 required, u32 optional, u64 msr, u32* out, Writer& error)
{
    const AdjustedControls a = adjust_controls(required, optional, msr);
    if (!a.ok()) {
        error.str("vmx: required ").str(what).str(" control(s) ").hex(a.missing).str(" not supported (capability ")
            .hex(msr).ch(')');
        return false;
    }
    *out = a.value;
    return true;
}

}  // namespace

Result<VcpuControls> compute_controls(const VmxCaps& caps, GuestPaging paging, Writer& error)
{
    VcpuControls c;
    const bool shadow = paging == GuestPaging::SHADOW;

    if (!adjust("pin-based", pin::EXTERNAL_INTERRUPT_EXITING | pin::NMI_EXITING, 0, caps.pinbased, &c.pin, error))
        return Status::UNSUPPORTED;

    // CR8 load/store exiting: without them (or a TPR shadow) a 64-bit guest's
    // MOV CR8 would read and write the host's own TPR; CR8 is the virtual
    // local APIC's TPR (exit_cr.cpp).
    // MWAIT would park the physical CPU the other vcpus need; MONITOR,
    // RDPMC and MOV DR would reach the host's monitor hardware, performance
    // counters and debug registers (exit_misc.cpp, exit_debug_regs.cpp).
    u32 proc_req = proc::HLT_EXITING | proc::USE_IO_BITMAPS | proc::USE_MSR_BITMAPS | proc::USE_TSC_OFFSETTING |
                   proc::CR8_LOAD_EXITING | proc::CR8_STORE_EXITING | proc::MWAIT_EXITING | proc::MONITOR_EXITING |
                   proc::RDPMC_EXITING | proc::MOV_DR_EXITING;
    if (shadow) proc_req |= proc::INVLPG_EXITING | proc::CR3_LOAD_EXITING | proc::CR3_STORE_EXITING;
    if (!shadow) proc_req |= proc::ACTIVATE_SECONDARY_CONTROLS;
    const u32 proc_opt = caps.secondary() ? proc::ACTIVATE_SECONDARY_CONTROLS : 0;
    if (!adjust("primary processor-based", proc_req, proc_opt, caps.procbased, &c.proc, error))
        return Status::UNSUPPORTED;

    if (c.proc & proc::ACTIVATE_SECONDARY_CONTROLS) {
        const u32 req2 = shadow ? 0 : proc2::ENABLE_EPT | proc2::UNRESTRICTED_GUEST;
        // WBINVD exiting where the CPU has it: a guest's WBINVD would write
        // back and flush caches the whole machine shares.
        // INVPCID raises #UD in the guest unless enabled (SDM Vol. 3C 25.3):
        // enabled where the CPU can under EPT, and hidden from CPUID where not
        // (exit_cpuid.cpp). Under shadow paging INVLPG exiting would make it
        // exit too, and the shadows keep no per-PCID translations to drop:
        // the guest does without it (INVLPG and CR3 loads), as on a CPU
        // without INVPCID.
        const u32 opt2 = (shadow ? 0 : proc2::ENABLE_VPID | proc2::ENABLE_INVPCID) | proc2::ENABLE_RDTSCP |
                         proc2::WBINVD_EXITING;
        if (!adjust("secondary processor-based", req2, opt2, caps.procbased2, &c.proc2, error))
            return Status::UNSUPPORTED;
    }

    // EFER/PAT switching is optional: CPUs without it (some Core 2) run the
    // guest with the host's EFER/PAT values and the MSR handlers keep the
    // guest's view in VcpuMsrs instead.
    // Debug controls: the guest's DR7 (and IA32_DEBUGCTL) are loaded at
    // entry and saved at exit, so GUEST_DR7 is the guest's DR7 (the MOV DR
    // handler emulates the register there). Default-1 in the non-TRUE MSRs.
    const u32 exit_req = exit_ctl::HOST_ADDRESS_SPACE_SIZE | exit_ctl::ACK_INTERRUPT_ON_EXIT;
    const u32 exit_opt = exit_ctl::SAVE_EFER | exit_ctl::LOAD_EFER | exit_ctl::SAVE_PAT | exit_ctl::LOAD_PAT |
                         exit_ctl::SAVE_DEBUG_CONTROLS;
    if (!adjust("VM-exit", exit_req, exit_opt, caps.exit, &c.exit, error)) return Status::UNSUPPORTED;
    if (!adjust("VM-entry", 0, entry_ctl::LOAD_EFER | entry_ctl::LOAD_PAT | entry_ctl::LOAD_DEBUG_CONTROLS, caps.entry,
                &c.entry, error))
        return Status::UNSUPPORTED;
    c.entry &= ~entry_ctl::IA32E_MODE_GUEST;  // the guest starts in real mode

    c.load_efer = (c.entry & entry_ctl::LOAD_EFER) && (c.exit & exit_ctl::LOAD_EFER) && (c.exit & exit_ctl::SAVE_EFER);
    c.load_pat = (c.entry & entry_ctl::LOAD_PAT) && (c.exit & exit_ctl::LOAD_PAT) && (c.exit & exit_ctl::SAVE_PAT);

    // Exceptions: none with unrestricted guest (the guest's own IVT/IDT
    // handles them); all of them in virtual-8086 mode, where the CPU would
    // deliver them through the protected-mode IDT the real-mode guest does not
    // have: the hypervisor reflects them through the IVT (realmode.hpp), and
    // #GP is where the privileged real-mode instructions arrive.
    c.exception_bitmap = shadow ? 0xffffffffu : 0;

    const CrPolicy p{(c.proc2 & proc2::UNRESTRICTED_GUEST) != 0, shadow};
    c.cr0_mask = cr0_mask(caps, p);
    c.cr4_mask = cr4_mask(caps, p);
    return c;
}

void msr_bitmap_set(u8* bitmap, u32 msr, bool intercept_read, bool intercept_write)
{
    u32 base;
    if (msr <= 0x1fff)
        base = 0;
    else if (msr >= 0xc0000000 && msr <= 0xc0001fff)
        base = 1024;
    else
        return;  // outside both ranges: always exits
    const u32 index = msr & 0x1fff;
    u8& r = bitmap[base + index / 8];
    u8& w = bitmap[2048 + base + index / 8];
    const u8 m = static_cast<u8>(1u << (index % 8));
    r = static_cast<u8>(intercept_read ? r | m : r & ~m);
    w = static_cast<u8>(intercept_write ? w | m : w & ~m);
}

bool msr_bitmap_intercepts(const u8* bitmap, u32 msr, bool write)
{
    u32 base;
    if (msr <= 0x1fff)
        base = 0;
    else if (msr >= 0xc0000000 && msr <= 0xc0001fff)
        base = 1024;
    else
        return true;
    const u32 index = msr & 0x1fff;
    return (bitmap[(write ? 2048 : 0) + base + index / 8] >> (index % 8)) & 1;
}

namespace {

Status setup_bitmaps(Vcpu& v, mm::FrameAllocator& frames)
{
    Result<Hpa> io = frames.allocate_run(2);
    if (!io.ok()) return io.status();
    v.io_bitmap_a = io.value();
    v.io_bitmap_b = io.value() + kPageSize;
    // Every port exits: the guest has no direct port access (25.6.4).
    __builtin_memset(hal::machine_to_virt(v.io_bitmap_a), 0xff, kPageSize);
    __builtin_memset(hal::machine_to_virt(v.io_bitmap_b), 0xff, kPageSize);

    Result<Hpa> msr = frames.allocate();
    if (!msr.ok()) return msr.status();
    v.msr_bitmap = msr.value();
    u8* m = static_cast<u8*>(hal::machine_to_virt(v.msr_bitmap));
    __builtin_memset(m, 0xff, kPageSize);
    for (u32 index : kPassThroughMsrs) msr_bitmap_set(m, index, false, false);
    return Status::OK;
}

}  // namespace

Status flush_ept(Vcpu& v)
{
    constexpr u64 kInveptSupported = bit(20), kInveptSingle = bit(25), kInveptAll = bit(26);
    if (!(v.caps().ept_vpid & kInveptSupported)) return Status::OK;
    const u64 type = (v.caps().ept_vpid & kInveptSingle) ? 1 : (v.caps().ept_vpid & kInveptAll) ? 2 : 0;
    if (type != 0 && hal::invept(type, hal::InveptDescriptor{v.eptp, 0}) != hal::VmxResult::SUCCEED) {
        LogLine{}.str("vmx: INVEPT type ").dec(type).str(" failed");
        return Status::VMX_FAIL;
    }
    return Status::OK;
}

namespace {

Status setup_ept(Vcpu& v, mm::FrameAllocator& frames)
{
    if (v.domain().eptp) {  // another vcpu of the domain built it
        v.eptp = v.domain().eptp;
        return Status::OK;
    }
    paging::EptBuilder ept(frames, &hal::machine_to_virt);
    XENO_TRY(ept.create_root());
    XENO_TRY(ept.map_p2m(v.domain().p2m()));
    v.eptp = paging::make_eptp(ept.root());
    v.domain().eptp = v.eptp;
    // Translations the processor may hold for this EPTP from an earlier
    // user of the same root frame must go before the first entry (SDM Vol.
    // 3C 29.4.3.1).
    XENO_TRY(flush_ept(v));
    LogLine{}.str("vmx: EPT root ").hex(ept.root().value()).str(", ").dec(ept.table_frames()).str(" table frames");
    return Status::OK;
}

Status setup_phys_mode(Vcpu& v, mm::FrameAllocator& frames)
{
    paging::PhysModeTables pt(frames, &hal::machine_to_virt);
    XENO_TRY(pt.create_root());
    XENO_TRY(pt.map_p2m(v.domain().p2m()));
    v.phys_mode_root = pt.root();
    XENO_TRY(vm86_tss_setup(v, frames, pt));
    return Status::OK;
}

void write_host_state(const Vcpu& v, VmcsWriter& w)
{
    const hal::HostSegments s = hal::host_segments();
    w.set(field::HOST_CR0, hal::read_cr0()).set(field::HOST_CR3, hal::read_cr3()).set(field::HOST_CR4, hal::read_cr4());
    w.set(field::HOST_ES_SELECTOR, s.es).set(field::HOST_CS_SELECTOR, s.cs).set(field::HOST_SS_SELECTOR, s.ss);
    w.set(field::HOST_DS_SELECTOR, s.ds).set(field::HOST_FS_SELECTOR, s.fs).set(field::HOST_GS_SELECTOR, s.gs);
    w.set(field::HOST_TR_SELECTOR, s.tr);
    w.set(field::HOST_FS_BASE, s.fs_base).set(field::HOST_GS_BASE, s.gs_base).set(field::HOST_TR_BASE, s.tr_base);
    w.set(field::HOST_GDTR_BASE, s.gdtr_base).set(field::HOST_IDTR_BASE, s.idtr_base);
    w.set(field::HOST_IA32_SYSENTER_CS, hal::rdmsr(msr::IA32_SYSENTER_CS));
    w.set(field::HOST_IA32_SYSENTER_ESP, hal::rdmsr(msr::IA32_SYSENTER_ESP));
    w.set(field::HOST_IA32_SYSENTER_EIP, hal::rdmsr(msr::IA32_SYSENTER_EIP));
    if (v.ctl.exit & exit_ctl::LOAD_EFER) w.set(field::HOST_IA32_EFER, hal::rdmsr(msr::IA32_EFER));
    if (v.ctl.exit & exit_ctl::LOAD_PAT) w.set(field::HOST_IA32_PAT, hal::rdmsr(msr::IA32_PAT));
    // HOST_RIP/HOST_RSP belong to hal::run: hw points them at its exit stub
    // and its own stack before each VMLAUNCH/VMRESUME; the sim model returns
    // to run() itself. Zero until then.
    w.set(field::HOST_RIP, 0).set(field::HOST_RSP, 0);
}

void write_controls(Vcpu& v, VmcsWriter& w, Hpa msr_load_list, u32 msr_load_count)
{
    w.set(field::PIN_BASED_VM_EXEC_CONTROL, v.ctl.pin).set(field::CPU_BASED_VM_EXEC_CONTROL, v.ctl.proc);
    if (v.ctl.proc & proc::ACTIVATE_SECONDARY_CONTROLS) w.set(field::SECONDARY_VM_EXEC_CONTROL, v.ctl.proc2);
    w.set(field::VM_EXIT_CONTROLS, v.ctl.exit).set(field::VM_ENTRY_CONTROLS, v.ctl.entry);
    w.set(field::EXCEPTION_BITMAP, v.ctl.exception_bitmap);
    w.set(field::PAGE_FAULT_ERROR_CODE_MASK, 0).set(field::PAGE_FAULT_ERROR_CODE_MATCH, 0);
    w.set(field::IO_BITMAP_A, v.io_bitmap_a.value()).set(field::IO_BITMAP_B, v.io_bitmap_b.value());
    w.set(field::MSR_BITMAP, v.msr_bitmap.value());
    w.set(field::TSC_OFFSET, v.domain().tsc_offset());
    w.set(field::CR3_TARGET_COUNT, 0);
    w.set(field::VM_EXIT_MSR_STORE_COUNT, 0).set(field::VM_EXIT_MSR_LOAD_COUNT, 0);
    w.set(field::VM_ENTRY_MSR_LOAD_ADDR, msr_load_list.value()).set(field::VM_ENTRY_MSR_LOAD_COUNT, msr_load_count);
    w.set(field::VM_ENTRY_INTR_INFO_FIELD, 0);
    w.set(field::CR0_GUEST_HOST_MASK, v.ctl.cr0_mask).set(field::CR4_GUEST_HOST_MASK, v.ctl.cr4_mask);
    if (v.ctl.proc2 & proc2::ENABLE_EPT) w.set(field::EPT_POINTER, v.eptp);
    // VPID 0 is the host's; each vcpu its own, so switching between them
    // keeps their translations apart without flushes.
    if (v.ctl.proc2 & proc2::ENABLE_VPID) w.set(field::VIRTUAL_PROCESSOR_ID, v.id() + 1);
}

}  // namespace

namespace {

// The boot protocols' entry state (GuestStart::FLAT32, LONG64).
emu::CpuState boot_entry_state(const GuestStart& start)
{
    emu::CpuState s;
    for (unsigned i = 0; i < 8; ++i) s.gpr[i] = start.gpr[i] & 0xffffffffu;
    s.gpr[4] = start.sp & 0xffffffffu;
    s.rip = start.ip & 0xffffffffu;
    s.rflags = emu::flag::FIXED1;
    s.cr0 = cr0::PE | cr0::ET;
    constexpr u32 kFlatCode = 0xc09b, kFlatData = 0xc093;  // G, D/B, present, DPL 0; execute/read, read/write (accessed)
    for (unsigned i = 0; i < emu::kSegCount; ++i) {
        emu::Segment& g = s.seg[i];
        const bool code = i == static_cast<unsigned>(emu::Seg::CS);
        g.selector = code ? 0x10 : 0x18;
        g.base = 0;
        g.limit = 0xffffffffu;
        g.ar = code ? kFlatCode : kFlatData;
    }
    s.ldtr.ar = ar::UNUSABLE;
    s.tr.limit = 0x67;
    s.tr.ar = 0x8b;  // a busy 32-bit TSS, as VM entry requires
    s.gdtr.base = start.gdt_base;
    s.gdtr.limit = start.gdt_limit;
    s.idtr.base = 0;
    s.idtr.limit = 0;
    s.dr[6] = 0xffff0ff0;
    if (start.mode == GuestStart::Mode::LONG64) {
        for (unsigned i = 0; i < 8; ++i) s.gpr[i] = start.gpr[i];
        s.gpr[4] = start.sp;
        s.rip = start.ip;
        s.cr0 |= cr0::PG;
        s.cr4 = cr4::PAE;
        s.cr3 = start.cr3;
        s.efer = emu::efer::LME | emu::efer::LMA;
        s.sreg(emu::Seg::CS).ar = 0xa09b;  // G, L (64-bit), present, DPL 0, execute/read (accessed)
    }
    s.dr[7] = 0x400;
    return s;
}

}  // namespace

Status vmcs_setup(Vcpu& v, mm::FrameAllocator& frames, const GuestStart& start)
{
    FixedWriter<200> error;
    Result<VcpuControls> c = compute_controls(v.caps(), v.paging, error);
    if (!c.ok()) {
        LogLine{}.str(error.c_str());
        return c.status();
    }
    v.ctl = c.value();
    // Several vcpus share a physical CPU: one that spins (PAUSE) yields it
    // (handle_pause).
    if (v.domain().planned_vcpus() > 1 && control_allowed(proc::PAUSE_EXITING, v.caps().procbased))
        v.ctl.proc |= proc::PAUSE_EXITING;

    // RDTSCP runs natively and returns IA32_TSC_AUX: the guest's value is
    // loaded at every entry (msr_load_list.hpp).
    Hpa msr_load_list{};
    u32 msr_load_count = 0;
    if (v.ctl.proc2 & proc2::ENABLE_RDTSCP) {
        Result<Hpa> list = msr_load_list_create(frames, &kMsrTscAux, 1);
        if (!list.ok()) {
            LogLine{}.str("vmx: no memory for the VM-entry MSR-load list");
            return list.status();
        }
        msr_load_list = list.value();
        msr_load_count = 1;
    }
    // XCR0 at reset: x87 only (SDM Vol. 3A Table 10-1), where the CPU has
    // XSAVE (vmx_cpu_enable then set CR4.OSXSAVE); hal::run loads it.
    v.regs.xcr0 = (hal::read_cr4() & bit(18)) ? 1 : 0;

    Status s = setup_bitmaps(v, frames);
    if (s == Status::OK) s = v.paging == GuestPaging::EPT ? setup_ept(v, frames) : setup_phys_mode(v, frames);
    if (s == Status::OK) s = shadow_setup(v, frames);
    if (s != Status::OK) {
        LogLine{}.str("vmx: building the vcpu's VMX structures failed: ").str(status_name(s));
        return s;
    }

    Result<Hpa> region = allocate_vmcs_region(frames, v.caps());
    if (!region.ok()) {
        LogLine{}.str("vmx: no memory for the VMCS");
        return region.status();
    }
    v.vmcs = region.value();
    if (hal::vmclear(v.vmcs) != hal::VmxResult::SUCCEED || hal::vmptrld(v.vmcs) != hal::VmxResult::SUCCEED) {
        LogLine{}.str("vmx: VMCLEAR/VMPTRLD of the VMCS at ").hex(v.vmcs.value()).str(" failed");
        return Status::VMX_FAIL;
    }

    VmcsWriter w;
    write_controls(v, w, msr_load_list, msr_load_count);
    write_host_state(v, w);
    write_initial_guest_state(v, w, 0, static_cast<u16>(start.ip), static_cast<u16>(start.sp));
    if (w.status() != Status::OK) {
        u64 err = 0;
        (void)hal::vmread(field::VM_INSTRUCTION_ERROR.kEncoding, &err);
        const char* name = vmcs_field_name(w.failed_encoding());
        LogLine{}.str("vmx: VMWRITE of ").str(name ? name : "?").ch(' ').hex(w.failed_encoding())
            .str(" failed, VM-instruction error ").dec(err);
        return w.status();
    }
    if (start.mode != GuestStart::Mode::REAL) {
        const emu::CpuState s32 = boot_entry_state(start);
        if (!v.unrestricted() && !protected_mode_segments_enterable(s32)) return Status::BAD_STATE;
        set_guest_cpu_state(v, s32);
        if (v.domain().ended()) return Status::VMX_FAIL;
    }
    LogLine{}.str("vmx: VMCS ready: pin ").hex(v.ctl.pin).str(" proc ").hex(v.ctl.proc).str(" proc2 ")
        .hex(v.ctl.proc2).str(" exit ").hex(v.ctl.exit).str(" entry ").hex(v.ctl.entry).str(" paging ")
        .str(v.paging == GuestPaging::EPT ? "ept" : "shadow");
    return Status::OK;
}

Status reset_to_real_mode(Vcpu& v, u16 cs, u16 ip)
{
    VmcsWriter w;
    write_initial_guest_state(v, w, cs, ip, 0);
    v.ctl.entry &= ~entry_ctl::IA32E_MODE_GUEST;
    w.set(field::VM_ENTRY_CONTROLS, v.ctl.entry).set(field::VM_ENTRY_INTR_INFO_FIELD, 0);
    for (u64& r : v.regs.gpr) r = 0;
    v.regs.cr2 = 0;
    // Debug registers after INIT (Table 10-1); DR7 is GUEST_DR7 (400H,
    // write_initial_guest_state). XCR0 keeps its value across INIT.
    for (u64& r : v.regs.dr) r = 0;
    v.regs.dr6 = 0xffff0ff0;
    v.regs.gpr[2] = hal::cpuid(1, 0).eax;  // EDX: family, model, stepping
    v.msrs.efer = 0;
    v.guest_cr3 = 0;
    for (u64& p : v.pae_pdptes) p = 0;
    v.cr8 = 0;
    v.vm86_guest_iopl = 0;
    if (v.paging == GuestPaging::SHADOW) {
        // Real mode runs in vm86 again: every exception is the hypervisor's
        // to reflect (protected mode had only #PF in the bitmap), and the TR
        // the guest had in protected mode is forgotten.
        v.ctl.exception_bitmap = 0xffffffffu;
        w.set(field::EXCEPTION_BITMAP, v.ctl.exception_bitmap);
        forget_stashed_tr(v);
    }
    if (w.status() != Status::OK) return w.status();
    shadow_sync(v);
    return Status::OK;
}

}  // namespace xeno::vmx
