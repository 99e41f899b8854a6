// VM-exit dispatch: one table from basic exit reason to handler
// (exit_handlers.hpp), per-reason counters, the trace line.
#pragma once

#include "arch/x86/vmx/exit_handlers.hpp"
#include "hal/vmx.hpp"

namespace xeno::vmx {

// The handler for a basic exit reason (handle_unexpected for reasons the
// hypervisor does not expect with its controls). Entry failures (bit 31 of
// the exit reason) go to handle_entry_failure whatever the basic reason.
ExitHandlerFn exit_handler_for(u32 reason_field);

// Count, trace (when vcpu.trace), dispatch. Returns YIELD once the domain
// has ended.
hal::ExitAction dispatch_exit(Vcpu& vcpu, const ExitInfo& exit);

// The hal::ExitHandler for hal::run (context: the Vcpu).
hal::ExitAction on_vm_exit(void* context, hal::GuestRegs& regs);

}  // namespace xeno::vmx
