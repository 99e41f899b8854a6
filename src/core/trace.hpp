// The canonical exit trace (DESIGN.md "Traces"): one line per VM exit,
//   exit <seq> <REASON>[ async] qual=0x<q> rip=0x<rip> len=<n>[ info=0x<i>][ gpa=0x<a>][ gla=0x<a>]
// REASON is vmx::exit_reason_name(reason), ENTRY_FAIL_<name> for VM-entry
// failures. info appears when the exit interruption information is valid, gpa
// for EPT violations/misconfigurations, gla when the guest-linear field is.
// len is 0 where the SDM leaves the instruction length undefined
// (vmx::exit_length_defined): hardware exceptions, interrupts, triple faults,
// EPT violations outside software-interrupt delivery, entry failures.
#pragma once

#include "arch/x86/vmx/exit_info.hpp"
#include "lib/format.hpp"

namespace xeno {

// The line without its '\n'. Pure: unit tested.
void format_trace_line(Writer& out, u64 seq, const vmx::ExitInfo& exit);

// Format and write the line (with '\n') to hal::Channel::TRACE in one write.
void trace_exit(u64 seq, const vmx::ExitInfo& exit);

}  // namespace xeno
