// A virtual CPU: its VMCS, the VMX structures it uses (I/O and MSR bitmaps,
// EPT or physical-mode tables, the vm86 TSS), its general registers and the
// per-vcpu MSR state the exit handlers emulate.
#pragma once

#include "arch/x86/paging/shadow.hpp"
#include "arch/x86/vmx/guest_mtrr.hpp"
#include "arch/x86/vmx/vmx_caps.hpp"
#include "core/cmdline.hpp"
#include "devices/local_apic.hpp"
#include "hal/vmx.hpp"
#include "lib/status.hpp"
#include "lib/types.hpp"

namespace xeno {

class Domain;
class Scheduler;

// How the guest's memory is virtualized for this vcpu.
enum class GuestPaging : u8 {
    EPT,     // EPT + unrestricted guest: real mode runs natively
    SHADOW,  // no EPT: hypervisor tables in CR3; real mode runs in virtual-8086 mode
};

// Emulated MSRs that are not VMCS guest state (exit_msr.cpp).
struct VcpuMsrs {
    u64 misc_enable = 0x1801;    // fast strings; BTS and PEBS unavailable (bits 11, 12)
    vmx::GuestMtrrs mtrrs;       // guest_mtrr.hpp
    u64 pat = 0x0007040600070406;  // power-on PAT, when the CPU cannot switch PAT in the VMCS
    u64 efer = 0;                // guest EFER, when the CPU cannot switch EFER in the VMCS or under shadow paging
    u64 tsc_aux = 0;
};

// Whether the scheduler may run a vcpu (scheduler.hpp).
enum class VcpuRunState : u8 {
    RUNNABLE,
    HALTED,         // executed HLT: waits for an interrupt it can take (or NMI, INIT)
    WAIT_FOR_SIPI,  // an AP before its first SIPI, or any vcpu after INIT
};

// The controls actually in effect (after adjustment against the capability MSRs).
struct VcpuControls {
    u32 pin = 0, proc = 0, proc2 = 0, exit = 0, entry = 0;
    u32 exception_bitmap = 0;
    u64 cr0_mask = 0, cr4_mask = 0;  // guest/host masks: host-owned bits
    bool load_efer = false, load_pat = false;
};

class Vcpu {
public:
    static constexpr usize kExitReasons = 65;
    // The reserved guest-physical page(s) just above guest RAM that hold the
    // vm86 TSS (shadow mode only): see realmode.hpp.
    static constexpr u64 kVm86TssFrames = 3;

    // Vcpu `id` of `domain` (0: the BSP), with its local APIC (APIC ID = id).
    Vcpu(Domain& domain, const vmx::VmxCaps& caps, u32 id);
    Vcpu(const Vcpu&) = delete;
    Vcpu& operator=(const Vcpu&) = delete;

    Domain& domain() { return domain_; }
    const vmx::VmxCaps& caps() const { return caps_; }
    u32 id() const { return id_; }
    bool is_bsp() const { return id_ == 0; }
    devices::LocalApic& lapic() { return lapic_; }

    // The scheduler of the physical CPU that runs this vcpu (null in unit
    // tests that drive exits directly): the exit path asks it before every
    // re-entry, and kicks go to its CPU.
    Scheduler* scheduler = nullptr;
    VcpuRunState run_state = VcpuRunState::RUNNABLE;
    bool halted_with_if = false;  // HALTED: RFLAGS.IF at the HLT (what can wake it)
    bool yield_requested = false; // the guest spins (PAUSE): give the CPU to another runnable vcpu
    bool window_exiting = false;  // interrupt-window exiting is on in the VMCS
    bool nmi_window_exiting = false;

    // The domain's physmap generation (mm::Reservation) this vcpu's CPU has
    // invalidated its EPT translations for, and whether the vcpu is in
    // guest mode: from the scheduler's last check before an entry until its
    // exit handler takes the big lock (both changed with the lock held).
    u64 physmap_seen = 0;
    bool in_guest = false;

    hal::GuestRegs regs{};
    Hpa vmcs{};
    Hpa io_bitmap_a{}, io_bitmap_b{}, msr_bitmap{};
    GuestPaging paging = GuestPaging::EPT;
    u64 eptp = 0;
    Hpa phys_mode_root{};   // shadow: the real CR3 while the guest has paging off
    Gpa vm86_tss{};         // shadow: guest-physical address of the vm86 TSS
    Hpa vm86_tss_frames{};  // shadow: its machine frames
    u64 guest_cr3 = 0;      // shadow: the guest's CR3 (the real one is the shadow root or phys_mode_root)
    u64 pae_pdptes[4] = {}; // shadow: the guest's PDPTE registers (PAE paging), loaded as MOV CR3 does
    // shadow: the shadow page tables, the domain's (one cache for all its
    // vcpus: a guest page table is write-protected for every vcpu, and each
    // vcpu switched in activates its own root: shadow_switch_in).
    paging::ShadowMmu& shadow;
    u32 shadow_max_pages = 0;  // shadow: the bound given to `shadow`
    // shadow: the last #PF exit the shadow filled, and how many times in a
    // row exactly that one came back (a fill that does not stick).
    u64 shadow_last_fault[3] = {};  // rip, linear address, error code
    u32 shadow_fault_repeats = 0;
    // The last exit that interrupted an event delivery (IDT-vectoring
    // information valid), and how many times in a row exactly that one came
    // back: an event that can never be delivered (exit_dispatch.cpp).
    u64 vectoring_last[5] = {};  // reason, qualification, rip, vectoring info and error code, linear/physical address
    u32 vectoring_repeats = 0;
    u8 guest_maxphyaddr = 36;  // what the guest's CPUID reports (bounds reserved bits in its page tables)
    bool guest_1gb_pages = false;
    u64 cr8 = 0;
    u64 vm86_guest_iopl = 0;  // shadow: the IOPL bits the real-mode guest set (vm86 runs with IOPL=3)
    u64 emulated_instructions = 0;
    VcpuControls ctl;
    VcpuMsrs msrs;
    bool trace = false;

    u64 exit_seq = 0;  // exits taken (the next trace sequence number)
    u64 exit_counts[kExitReasons] = {};
    u64 entry_failures = 0;

    bool unrestricted() const { return (ctl.proc2 & vmx::proc2::UNRESTRICTED_GUEST) != 0; }

    // End the domain because of what its guest did (kGuestCrashStatus), with
    // a one-line reason, and dump the guest state.
    void end_guest_fault(const char* why);

private:
    static void notify(void* context, u32 vcpu);
    static void send_ipi(void* context, u32 source_vcpu, const devices::ApicMessage& message);
    static void eoi(void* context, u8 vector);

    Domain& domain_;
    const vmx::VmxCaps& caps_;
    u32 id_;
    devices::LocalApic lapic_;
};

}  // namespace xeno
