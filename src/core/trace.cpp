#include "core/trace.hpp"

#include "hal/console.hpp"

namespace xeno {

void format_trace_line(Writer& out, u64 seq, const vmx::ExitInfo& e, i32 vcpu)
{
    out.str("exit ").dec(seq).ch(' ');
    if (vcpu >= 0) out.ch('v').dec(static_cast<u64>(vcpu)).ch(' ');
    if (e.entry_failure) out.str("ENTRY_FAIL_");
    out.str(vmx::exit_reason_name(e.reason));
    if (vmx::exit_is_async(e.reason)) out.str(" async");
    const bool len_defined =
        !e.entry_failure && vmx::exit_length_defined(e.reason, e.qualification, e.intr_info, e.idt_vectoring_info);
    out.str(" qual=").hex(e.qualification).str(" rip=").hex(e.rip).str(" len=").dec(len_defined ? e.instruction_length : 0);
    if (e.intr_info_valid()) out.str(" info=").hex(e.intr_info);
    if (e.guest_physical_valid) out.str(" gpa=").hex(e.guest_physical);
    if (e.guest_linear_valid) out.str(" gla=").hex(e.guest_linear);
}

void trace_exit(u64 seq, const vmx::ExitInfo& exit, i32 vcpu)
{
    FixedWriter<192> line;
    format_trace_line(line, seq, exit, vcpu);
    line.ch('\n');
    hal::console_write(hal::Channel::TRACE, line.c_str(), line.size());
}

}  // namespace xeno
