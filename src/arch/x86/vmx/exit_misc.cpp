// The smaller exits: triple fault, HLT, INVLPG, VMX instructions,
// INVD/WBINVD, MONITOR/MWAIT, RDPMC, GETSEC, entry failures, EPT violations,
// and everything unexpected.
#include "arch/x86/vmx/exit_handlers.hpp"
#include "arch/x86/vmx/guest_state.hpp"
#include "arch/x86/vmx/interrupt_injection.hpp"
#include "arch/x86/vmx/realmode_emulate.hpp"
#include "arch/x86/vmx/shadow_paging.hpp"
#include "core/domain.hpp"
#include "core/log.hpp"

namespace xeno::vmx {

namespace {
constexpr u64 kEptQualFetch = u64{1} << 2;  // SDM Vol. 3C Table 28-7: the access was an instruction fetch
}  // namespace

void handle_triple_fault(Vcpu& v, const ExitInfo& exit)
{
    FixedWriter<96> why;
    why.str("guest triple fault at rip=").hex(exit.rip);
    // A PC resets on a triple fault (the chipset turns the shutdown cycle
    // into a reset): with on_reset=restart the domain boots again.
    if (v.domain().on_reset() == ResetAction::RESTART) {
        v.domain().reset(why.c_str());
        return;
    }
    v.end_guest_fault(why.c_str());
}

void handle_hlt(Vcpu& v, const ExitInfo& exit)
{
    // HLT completes (RIP past it) and the vcpu blocks until an event it can
    // take arrives: an interrupt with IF=1, an NMI, INIT. One that is
    // already waiting makes HLT fall through at once. The scheduler ends
    // the domain when nothing could ever wake it (IF=0 and no NMI source,
    // or no timer at all).
    advance_rip(v, exit);
    const bool if_set = (vmcs_read(field::GUEST_RFLAGS) & kRflagsIF) != 0;
    if (has_wakeup_event(v, if_set)) return;
    v.run_state = VcpuRunState::HALTED;
    v.halted_with_if = if_set;
}

void handle_invlpg(Vcpu& v, const ExitInfo& exit)
{
    // Only with shadow paging (INVLPG exiting): the qualification is the
    // linear-address operand (SDM Vol. 3C Table 28-1).
    shadow_invlpg(v, exit.qualification);
    advance_rip(v, exit);
}

void handle_invd(Vcpu& v, const ExitInfo& exit)
{
    // INVD exits unconditionally. Dropping cache contents without writing
    // them back could corrupt other domains' memory: do what WBINVD would
    // (nothing a guest can observe here) and go on, as Xen does.
    advance_rip(v, exit);
}

void handle_wbinvd(Vcpu& v, const ExitInfo& exit)
{
    // WBINVD exiting (secondary controls): a guest must not write back and
    // flush the caches of a processor other domains share, and with
    // write-back memory types everywhere nothing it can observe depends on
    // it. As INVD: the instruction completes with no effect.
    advance_rip(v, exit);
}

void handle_monitor_mwait(Vcpu& v, const ExitInfo&)
{
    // MONITOR and MWAIT exiting: the guest's CPUID does not report
    // MONITOR/MWAIT (leaf 1 ECX[3] and leaf 5 cleared, exit_cpuid.cpp), and
    // a processor without them raises #UD (SDM Vol. 2B MONITOR, MWAIT). MWAIT
    // run natively would park the physical CPU the other vcpus need.
    inject_exception(v, vector::UD, 0);
}

void handle_rdpmc(Vcpu& v, const ExitInfo&)
{
    // RDPMC exiting: no performance counters are virtualized (the guest's
    // CPUID leaf 0AH reports version 0, no counters), and RDPMC of a counter
    // that does not exist raises #GP(0) (SDM Vol. 2B RDPMC). Natively it
    // would read the host's counters. The #GP for CPL > 0 without CR4.PCE
    // comes before the exit (SDM Vol. 3C 26.1.1).
    inject_exception(v, vector::GP, 0);
}

void handle_getsec(Vcpu& v, const ExitInfo&)
{
    // GETSEC exits unconditionally; the guest has no SMX (CPUID.1:ECX.SMX is
    // cleared), and GETSEC without CR4.SMXE raises #UD.
    inject_exception(v, vector::UD, 0);
}

void handle_vmx_instruction(Vcpu& v, const ExitInfo&)
{
    // No nested VMX (CPUID.1:ECX.VMX is clear for the guest): #UD, as the
    // instructions do when VMX is not enabled.
    inject_exception(v, vector::UD, 0);
}

void handle_entry_failure(Vcpu& v, const ExitInfo& exit)
{
    LogLine{}.str("vmx: VM-entry failure, reason ").str(exit_reason_name(exit.reason)).str(" qual=")
        .hex(exit.qualification);
    v.end_guest_fault("VM entry failed (invalid guest state or MSR loading)");
}

void handle_ept_violation(Vcpu& v, const ExitInfo& exit)
{
    // Guest RAM is mapped read/write/execute in full, so a violation is an
    // access outside it: MMIO space, left unmapped so that it exits here for
    // the device models. There are none yet, so the bus answers as a PC's
    // does where nothing decodes the address (reads all ones, writes
    // dropped), through the instruction emulator. An instruction fetch from
    // there, a misconfiguration, or a violation inside RAM ends the domain.
    const bool misconfig = exit.reason == static_cast<u16>(ExitReason::EPT_MISCONFIG);
    const bool fetch = !misconfig && (exit.qualification & kEptQualFetch);
    const bool in_ram = v.domain().p2m().mfn(exit.guest_physical >> kPageShift) != mm::P2m::kInvalidMfn;
    if (!misconfig && !fetch && !in_ram && !(exit.idt_vectoring_info & intr_info::VALID)) {
        emulate_guest_instruction(v);
        return;
    }
    FixedWriter<128> why;
    why.str(misconfig ? "EPT misconfiguration" : fetch ? "instruction fetch" : "guest access")
        .str(" at guest-physical ").hex(exit.guest_physical).str(" (qual ").hex(exit.qualification)
        .str(") rip=").hex(exit.rip);
    v.end_guest_fault(why.c_str());
}

void handle_unexpected(Vcpu& v, const ExitInfo& exit)
{
    FixedWriter<128> why;
    why.str("unexpected VM exit ").str(exit_reason_name(exit.reason)).str(" (").dec(exit.reason).str(") qual=")
        .hex(exit.qualification).str(" rip=").hex(exit.rip);
    v.end_guest_fault(why.c_str());
}

}  // namespace xeno::vmx
