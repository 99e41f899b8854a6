// Real mode without unrestricted guest (Penryn-class CPUs), the way
// production hypervisors did it before VT-x had unrestricted guest: the
// guest's real-mode code runs in virtual-8086 mode (RFLAGS.VM=1, IOPL=3) on
// the hypervisor's physical-mode page tables (phys_mode_pt.hpp), with CR4.VME
// so that INT n is redirected through the guest's real-mode IVT by the CPU
// itself (SDM Vol. 3A 20.3 "Interrupt and Exception Handling in Virtual-8086
// Mode", method 5: VME=1, IOPL=3, redirection bit clear).
//
// The TSS: hypervisor-owned frames mapped read-only at the reserved
// guest-physical pages just above guest RAM. Interrupt-redirection bitmap all
// clear (every INT n goes to the IVT); I/O permission bitmap all clear,
// because in vm86 the CPU checks it for every IN/OUT and its #GP has priority
// over the I/O-bitmap VM exit (SDM Vol. 3C 26.1.1): with all ports allowed,
// every port access reaches the I/O exit.
//
// Everything else a real-mode guest does that vm86 refuses (LGDT, MOV CR0,
// HLT, ... are privileged at CPL 3) arrives as #GP (exception bitmap) in
// handle_realmode_gp, where the x86 instruction emulator (src/arch/x86/emulate/)
// takes over: KVM's "emulate invalid guest state" approach, until the guest's
// segment state is valid for vm86 again or for VMX protected mode
// (realmode_emulate.hpp).
#pragma once

#include "arch/x86/paging/phys_mode_pt.hpp"
#include "arch/x86/vmx/exit_info.hpp"
#include "core/vcpu.hpp"
#include "lib/status.hpp"
#include "mm/frame_allocator.hpp"

namespace xeno::vmx {

// vm86 segment access rights: present, DPL 3, accessed read/write data
// (SDM 26.3.1.2, checks with RFLAGS.VM=1).
inline constexpr u32 kVm86SegmentAr = 0xf3;

// TSS layout (SDM Vol. 3A 8.2.1 and 20.3.3): the 104-byte 32-bit TSS, the
// 32-byte interrupt-redirection bitmap just below the I/O map base, the
// 8 KiB I/O bitmap, and the trailing 0xff byte the CPU may read past it.
inline constexpr u32 kVm86TssIoMapBase = 104 + 32;
inline constexpr u32 kVm86TssLimit = kVm86TssIoMapBase + 8192;  // the 0xff byte is the last one
inline constexpr u32 kVm86TssIoMapBaseOffset = 102;

// The guest's own TR while it is in real mode: vm86 needs the hypervisor's
// TSS in TR, but the guest's TR cache survives real mode architecturally (a
// guest that did LTR, went to real mode and came back still has it). It is
// kept in the spare bytes of the TSS frames, past the I/O bitmap: hypervisor
// memory that exists exactly once per vcpu in shadow mode.
inline constexpr u32 kVm86TssGuestTrOffset = 0x2200;
struct StashedTr {
    u32 valid;
    u16 selector;
    u16 reserved;
    u32 limit;
    u32 ar;
    u64 base;
};
static_assert(kVm86TssGuestTrOffset > kVm86TssLimit &&
              kVm86TssGuestTrOffset + sizeof(StashedTr) <= Vcpu::kVm86TssFrames * 4096);

// Build the vm86 TSS in machine frames and map it at the reserved gpa above
// guest RAM in the physical-mode tables; sets vcpu.vm86_tss*.
Status vm86_tss_setup(Vcpu& vcpu, mm::FrameAllocator& frames, paging::PhysModeTables& tables);


// #GP in the hypervisor's vm86 mode. HLT is recognised here (one opcode byte:
// not an emulator); everything else goes to the x86 emulator
// (realmode_emulate.hpp), which runs the guest until its state is enterable.
void handle_realmode_gp(Vcpu& vcpu, const ExitInfo& exit);

}  // namespace xeno::vmx
