// The canonical exit trace (DESIGN.md "Traces"): one line per VM exit,
//   exit <seq>[ v<vcpu>] <REASON>[ async] qual=0x<q> rip=0x<rip> len=<n>[ info=0x<i>][ gpa=0x<a>][ gla=0x<a>]
// <seq> counts the exits of the vcpu; v<vcpu> names it in a domain with more
// than one (single-vcpu traces keep the shorter form).
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
// vcpu < 0: no vcpu field.
inline constexpr i32 kNoVcpuField = -1;
void format_trace_line(Writer& out, u64 seq, const vmx::ExitInfo& exit, i32 vcpu = kNoVcpuField);

// Format and write the line (with '\n') to hal::Channel::TRACE in one write.
void trace_exit(u64 seq, const vmx::ExitInfo& exit, i32 vcpu = kNoVcpuField);

}  // namespace xeno
