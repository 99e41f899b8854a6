// The Xen-interface figures of xeno-bench (bench/guests/xen_hypercall.asm,
// xen_evtchn_upcall.asm on xen64.inc): what a hypercall and an event-channel
// upcall cost a 64-bit guest (docs/xen-abi.md), on the --profile given.
#pragma once

#include <cstdint>
#include <string>

namespace xeno::bench {

// hypercall_ns: host ns per xen_version(XENVER_version) through the
// hypercall page (call, VMCALL exit, dispatch, back, ret, result checked),
// over `calls` calls, minus the same loop calling a stub of the same shape
// without the VMCALL (hypercall_loop_ns, that loop per iteration);
// hypercall_virtual_ns: the same difference in the guest's virtual time
// (its TSC); hypercall_exits_per_call.
// A guest that sees a result docs/xen-abi.md does not give, or an event
// that does not arrive, says so and fails: then the figures are printed as
// n/a with its report, and the function returns false.
bool hypercall(std::uint32_t calls, const std::string& profile);

// evtchn_send_to_upcall_ns: host ns per round of EVTCHNOP_send on an IPI
// channel bound to the sending vcpu and the upcall it raises through
// HVM_PARAM_CALLBACK_IRQ's vector (handler clearing evtchn_upcall_pending,
// the selector and the pending bit, IRETQ), over `rounds` rounds;
// evtchn_exits_per_round. False as hypercall().
bool evtchn(std::uint32_t rounds, const std::string& profile);

}  // namespace xeno::bench
