// The guest's initial state and small accessors used by the exit handlers.
#pragma once

#include "arch/x86/vmx/exit_info.hpp"
#include "arch/x86/vmx/vmcs.hpp"
#include "core/vcpu.hpp"

namespace xeno::vmx {

inline constexpr u64 kRflagsReserved1 = bit(1);
inline constexpr u64 kRflagsTF = bit(8);
inline constexpr u64 kRflagsIF = bit(9);
inline constexpr u64 kRflagsDF = bit(10);
inline constexpr u64 kRflagsIOPL = u64{3} << 12;
inline constexpr u64 kRflagsRF = bit(16);
inline constexpr u64 kRflagsVM = bit(17);
inline constexpr u64 kRflagsAC = bit(18);

// Real mode at cs:ip (CS base cs << 4, the other segments 0), SP=sp, the
// guest view CR0=ET. With unrestricted guest the state is real mode itself
// (SDM 26.3.1.2 real-mode rules); without it, the vm86 form (realmode.hpp).
// SDM 10.1.1 gives the reset values the rest follows.
void write_initial_guest_state(Vcpu& vcpu, VmcsWriter& w, u16 cs, u16 ip, u16 sp);

// General registers by x86 encoding; RSP (4) lives in the VMCS.
u64 read_gpr(Vcpu& vcpu, unsigned index);
void write_gpr(Vcpu& vcpu, unsigned index, u64 value);

// CR0/CR4 as the guest sees them: host-owned bits (guest/host mask) from the
// read shadow, the rest from the real register (SDM Vol. 3C 25.6.6).
u64 guest_cr0_view(Vcpu& vcpu);
u64 guest_cr4_view(Vcpu& vcpu);

// Complete an emulated instruction: RIP += its length, and the STI/MOV-SS
// blocking it may have had ends (SDM 26.3.1.5 / 25.4.2).
void advance_rip(Vcpu& vcpu, const ExitInfo& exit);

// Whether the guest runs in virtual-8086 mode for the hypervisor's sake
// (RFLAGS.VM with no unrestricted guest): what it sees is real mode.
bool guest_in_vm86(Vcpu& vcpu);

// The guest's CPL as its instructions see it: SS.DPL (SDM Vol. 3A 5.5), 0
// in the hypervisor's vm86 form of real mode.
unsigned guest_cpl(Vcpu& vcpu);

// 64-bit mode: IA-32e mode (the guest's EFER.LMA) with a 64-bit code
// segment (CS.L): 64-bit operands, RIP-relative addressing.
bool guest_in_64bit_mode(Vcpu& vcpu);

// Queue a hardware exception for the next VM entry (VM_ENTRY_INTR_INFO_FIELD,
// SDM 25.8.3). The error code goes with the vectors that have one, except in
// real mode where none is pushed. In the hypervisor's vm86 mode the exception
// is reflected through the guest's IVT instead (realmode.hpp).
void inject_exception(Vcpu& vcpu, u8 vector, u32 error_code);

// Log RIP, RSP, RFLAGS, control registers, segments and GPRs (one line each).
void dump_guest_state(Vcpu& vcpu);

}  // namespace xeno::vmx
