// Interrupt delivery to a vcpu (DESIGN.md "The platform a guest sees"): before
// every VM entry the hypervisor asks the vcpu's local APIC (and, for the BSP,
// the 8259A behind LINT0) for the highest-priority pending event and injects
// it through the VM-entry interruption-information field (SDM Vol. 3C 26.6)
// when the guest can take it now; otherwise it turns on interrupt-window
// (or NMI-window) exiting, and the exit that follows is the moment to try
// again (SDM 25.3, 26.7.5/26.7.6). An event already queued for the entry (a
// re-injected IDT-vectoring event, an exception a handler raised) goes
// first: the window brings the interrupt right after it.
//
// In the hypervisor's virtual-8086 form of real mode (CPUs without
// unrestricted guest) an external interrupt is reflected through the
// guest's IVT by the hypervisor, as its exceptions are (realmode.hpp).
#pragma once

#include "core/vcpu.hpp"

namespace xeno::vmx {

// Inject what can be delivered now, or arm the window exits; the vcpu's
// VMCS is current. Called on every entry path (after an exit handler, and
// before hal::run).
void inject_pending_events(Vcpu& vcpu);

// Whether an interrupt, NMI or INIT waits for the vcpu that it could take
// with RFLAGS.IF = `interrupts_enabled` (what wakes a halted vcpu). Pure
// with respect to the VMCS: works for any vcpu.
bool has_wakeup_event(Vcpu& vcpu, bool interrupts_enabled);

// INIT (the vcpu goes to wait-for-SIPI, its state reset) and SIPI (it starts
// in real mode at vector << 12): what the local APIC has received, applied
// to the vcpu whose VMCS is current. Returns true when the vcpu's run state
// changed.
bool apply_init_sipi(Vcpu& vcpu);

}  // namespace xeno::vmx
