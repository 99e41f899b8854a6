// Shadow paging in the VMX layer (vcpus with GuestPaging::SHADOW): keeps the
// real paging state the processor runs the guest with in step with the
// guest's own view of it, and handles the exits shadow paging needs.
//
// What the guest sees (its CR0/CR4 read shadows, Vcpu::guest_cr3,
// Vcpu::pae_pdptes, its EFER in VcpuMsrs::efer) is the authority; the real
// values are derived from it by shadow_sync():
//   guest paging off -> the physical-mode tables (32-bit, CR4.PAE=0)
//   32-bit paging    -> 32-bit shadow tables (CR4.PAE=0)
//   PAE paging       -> PAE shadow tables (CR4.PAE=1)
//   4-level paging   -> 4-level shadow tables, "IA-32e mode guest" entry
//                       control and EFER.LMA/LME set
// with CR0.PE/PG/WP forced on (cr_values.hpp) and CR4.PGE off.
//
// Exits: every #PF (exception bitmap bit 14; the error-code mask/match stays
// 0/0 because a fault the shadow must fill and a fault that is the guest's
// own carry the same error code: only the guest walk can tell them apart),
// MOV to/from CR3, INVLPG, and writes to CR0/CR4/EFER.
#pragma once

#include "arch/x86/paging/guest_walk.hpp"
#include "arch/x86/vmx/exit_info.hpp"
#include "core/vcpu.hpp"
#include "mm/frame_allocator.hpp"

namespace xeno::vmx {

// Shadow MMU and the guest-visible CPUID facts the walker needs.
Status shadow_setup(Vcpu& vcpu, mm::FrameAllocator& frames);

// The guest's paging controls as it sees them (CPL from SS.DPL).
paging::PagingState guest_paging_state(Vcpu& vcpu);

// The vcpu is about to run on this CPU after another vcpu of its domain
// (whose VMCS is current now): activate its own address space in the
// domain's shared shadow cache and point its VMCS at the root.
void shadow_switch_in(Vcpu& vcpu);

// The guest's EFER as it sees it (shadow: VcpuMsrs::efer; the VMCS holds the
// real one).
u64 guest_efer_view(Vcpu& vcpu);
// Set the guest's EFER view (LMA included: the caller computes it). Under
// shadow paging the caller then calls shadow_sync.
void set_guest_efer_view(Vcpu& vcpu, u64 efer);

// PDPTE load for a candidate guest state that selects PAE paging, as MOV to
// CR3 (or the CR0/CR4 write that enters PAE paging) does (SDM Vol. 3A 4.4.1):
// stores them in vcpu.pae_pdptes. False: a present PDPTE has a reserved bit
// set (or is outside guest RAM) and the instruction must raise #GP(0)
// without changing anything. True without loading for other modes.
bool load_guest_pdptes(Vcpu& vcpu, const paging::PagingState& candidate);

// Re-derive the real CR3, CR4.PAE, IA-32e mode entry control and EFER from
// the guest's view; activates the shadow address space for the guest's CR3.
// Ends the domain when there is no memory for a shadow root.
void shadow_sync(Vcpu& vcpu);

// Exception-bitmap value for a guest not in the hypervisor's vm86 mode.
inline constexpr u32 kShadowExceptionBitmap = 1u << 14;  // #PF

// #PF exit (exception bitmap): fill the shadow, reflect the guest's own
// fault, or emulate a write to a guest page table.
void handle_shadow_page_fault(Vcpu& vcpu, const ExitInfo& exit);

// INVLPG exit: drop the shadow translation of `linear`.
void shadow_invlpg(Vcpu& vcpu, u64 linear);

// Queue #PF(error_code) with CR2 = linear for the next VM entry, combined
// with an event whose delivery the fault interrupted (re-injected by the
// dispatcher) as the processor would (SDM Vol. 3A Table 6-5): #PF during #PF
// delivery becomes #DF, during #DF delivery a triple fault.
void inject_page_fault(Vcpu& vcpu, u64 linear, u32 error_code);

}  // namespace xeno::vmx
