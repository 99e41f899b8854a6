#include "harness/vcpu_activity.hpp"

#include <algorithm>

#include "arch/x86/vmx/vmx_arch.hpp"
#include "sim/vmx-model/engine/vtime.hpp"

namespace xeno::harness {

namespace {

constexpr std::uint32_t kValid = 1u << 31;  // VM-entry interruption information: valid (SDM 24.8.3)

bool is_hlt(std::uint32_t reason)
{
    return (reason & 0xffff) == static_cast<std::uint32_t>(vmx::ExitReason::HLT);
}

}  // namespace

void VcpuActivity::attach(sim::MachineOutput& output)
{
    output.vcpu_entered = [this](const sim::EntryEvent& e) { entered(e); };
    output.exit_taken = [this](const sim::ExitEvent& e) { exit_taken(e); };
    output.exit_handled = [this](const sim::ExitEvent& e) { exit_handled(e); };
}

VcpuActivity::Vcpu& VcpuActivity::vcpu(std::uint32_t index)
{
    if (index >= vcpus_.size()) {
        vcpus_.resize(index + 1);
    }
    return vcpus_[index];
}

// The vcpu's time off its CPU ends at at_ns. A handler that resumed the
// guest left no gap (the entry is at the same virtual time): nothing.
void VcpuActivity::back_on_cpu(std::uint32_t index, Vcpu& v, std::uint64_t at_ns)
{
    if (!v.off_cpu) {
        return;
    }
    v.off_cpu = false;
    if (at_ns <= v.off_since_ns) {
        return;
    }
    for (ActivityListener* l : listeners_) {
        if (is_hlt(v.off_after_reason)) {
            l->halted(index, v.off_since_ns, at_ns);
        } else {
            l->waited(index, v.off_since_ns, at_ns, v.off_after_reason);
        }
    }
}

void VcpuActivity::entered(const sim::EntryEvent& e)
{
    Vcpu& v = vcpu(e.vcpu);
    back_on_cpu(e.vcpu, v, e.vtime_ns);
    // Entered again without an exit: the entry before failed (VMfail), so
    // the guest never ran; this entry starts the slice.
    v.in_guest = true;
    v.entered_ns = e.vtime_ns;
    v.entered_instructions = e.guest_instructions;
    if (e.entry_interruption & kValid) {
        for (ActivityListener* l : listeners_) l->injected(e.vcpu, e.vtime_ns, e.entry_interruption);
    }
}

void VcpuActivity::exit_taken(const sim::ExitEvent& e)
{
    Vcpu& v = vcpu(e.vcpu);
    // The exit's cost is already in its virtual time; the guest's own
    // instructions ended that much earlier (an exit straight at the entry,
    // a pending MTF or a failed entry, has less: clamp to the entry).
    std::uint64_t begin = e.vtime_ns >= sim::kExitCostNs ? e.vtime_ns - sim::kExitCostNs : 0;
    if (v.in_guest) {
        begin = std::max(begin, v.entered_ns);
        const std::uint64_t instructions = e.guest_instructions - v.entered_instructions;
        for (ActivityListener* l : listeners_) l->guest_ran(e.vcpu, v.entered_ns, begin, instructions, &e);
    }
    v.in_guest = false;
    v.in_handler = true;
    v.taken = e;
    v.taken.regs = nullptr;  // the run's, valid only during the call
    v.taken.memory = nullptr;
    v.exit_begin_ns = std::min(begin, e.vtime_ns);
    v.host_taken = std::chrono::steady_clock::now();
}

void VcpuActivity::exit_handled(const sim::ExitEvent& e)
{
    Vcpu& v = vcpu(e.vcpu);
    const auto host_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() -
                                                                              v.host_taken)
                             .count();
    if (v.in_handler && v.taken.number == e.number) {
        for (ActivityListener* l : listeners_) {
            l->exit_done(v.taken, e, v.exit_begin_ns, static_cast<std::uint64_t>(std::max<std::int64_t>(host_ns, 0)));
        }
    }
    v.in_handler = false;
    // Until the next entry; a handler that resumes the guest (a HLT with an
    // interrupt already pending) has it follow at once, and the gap is empty.
    v.off_cpu = true;
    v.off_since_ns = e.vtime_ns;
    v.off_after_reason = e.reason;
}

void VcpuActivity::finish(std::uint64_t end_ns, std::uint64_t end_instructions)
{
    for (std::uint32_t i = 0; i < vcpus_.size(); ++i) {
        Vcpu& v = vcpus_[i];
        if (v.in_guest && end_ns >= v.entered_ns) {
            const std::uint64_t instructions =
                end_instructions >= v.entered_instructions ? end_instructions - v.entered_instructions : 0;
            for (ActivityListener* l : listeners_) l->guest_ran(i, v.entered_ns, end_ns, instructions, nullptr);
        }
        v.in_guest = false;
        back_on_cpu(i, v, end_ns);
    }
}

}  // namespace xeno::harness
