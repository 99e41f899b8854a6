// What each vcpu of a run was doing, in virtual time, reconstructed from the
// machine's entry and exit observers (sim/platform/exit_event.hpp) for the
// host-side tools that show it: exit statistics (exit_stats.hpp) and the
// timeline (timeline.hpp).
//
// A vcpu's virtual time falls into slices that never overlap:
//   guest   from a VM entry to the start of the exit that ends it: the guest's
//           own instructions (1 ns each, sim/vmx-model/engine/vtime.hpp)
//   exit    the exit's fixed cost (1 us: the exit and the entry after it)
//           up to the moment its handler returns; handlers take no virtual
//           time of their own, so this is the cost
//   halted  from the return of a HLT exit's handler that did not resume the
//           guest to the vcpu's next entry (the hypervisor blocked it until
//           an interrupt, or for good)
//   waiting the same after any other exit whose handler did not resume the
//           guest: its time slice was over, a hypercall blocked it, or the
//           hypervisor emulated a HLT (virtual-8086 mode on penryn: a #GP
//           exit); which one, the observers cannot tell
// Before its first entry a vcpu is in none of them. Vcpus share one virtual
// clock and run one at a time, so the guest and exit slices of all vcpus
// never overlap either; halted and waiting slices overlap other vcpus' work.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "sim/platform/machine.hpp"

namespace xeno::harness {

// Gets the slices as they end, in the order the run produces them.
class ActivityListener {
public:
    virtual ~ActivityListener() = default;
    // Guest execution of `vcpu` in [begin_ns, end_ns), `instructions` of
    // them; `exit` is the exit that ended it, or null when the run ended
    // while the guest ran (a limit, a stop). Called at exit_taken.
    virtual void guest_ran(std::uint32_t vcpu, std::uint64_t begin_ns, std::uint64_t end_ns,
                           std::uint64_t instructions, const sim::ExitEvent* exit) = 0;
    // An exit from `begin_ns` (its cost started) to handled.vtime_ns, and
    // the host time its handler took (host_ns: steady_clock, not
    // deterministic). `taken` is as exit_taken saw it (regs and memory null).
    virtual void exit_done(const sim::ExitEvent& taken, const sim::ExitEvent& handled, std::uint64_t begin_ns,
                           std::uint64_t host_ns) = 0;
    // A VM entry of `vcpu` at at_ns injects `interruption`
    // (VM_ENTRY_INTR_INFO_FIELD, valid bit set).
    virtual void injected(std::uint32_t vcpu, std::uint64_t at_ns, std::uint32_t interruption) = 0;
    // `vcpu` was halted in [begin_ns, end_ns) (never empty).
    virtual void halted(std::uint32_t vcpu, std::uint64_t begin_ns, std::uint64_t end_ns) = 0;
    // `vcpu` was off its CPU in [begin_ns, end_ns) (never empty) after an
    // exit of `after_reason` (VM_EXIT_REASON) other than HLT.
    virtual void waited(std::uint32_t vcpu, std::uint64_t begin_ns, std::uint64_t end_ns,
                        std::uint32_t after_reason) = 0;
};

class VcpuActivity {
public:
    void add_listener(ActivityListener* listener) { listeners_.push_back(listener); }
    bool has_listeners() const { return !listeners_.empty(); }

    // Points output's exit_taken, exit_handled and vcpu_entered here. The
    // VcpuActivity must outlive the run.
    void attach(sim::MachineOutput& output);

    // The observers, public for tests that feed events by hand.
    void entered(const sim::EntryEvent& e);
    void exit_taken(const sim::ExitEvent& e);
    void exit_handled(const sim::ExitEvent& e);

    // The run is over at end_ns with end_instructions executed (its
    // MachineResult): closes what is still open (a guest slice the run
    // stopped, a halt or wait that lasted to the end).
    void finish(std::uint64_t end_ns, std::uint64_t end_instructions);

private:
    struct Vcpu {
        bool in_guest = false;          // entered, no exit yet
        std::uint64_t entered_ns = 0;
        std::uint64_t entered_instructions = 0;
        bool in_handler = false;        // exit taken, not handled yet
        sim::ExitEvent taken;
        std::uint64_t exit_begin_ns = 0;
        std::chrono::steady_clock::time_point host_taken;
        bool off_cpu = false;           // an exit's handler returned; off the CPU until the next entry
        std::uint64_t off_since_ns = 0;
        std::uint32_t off_after_reason = 0;
    };
    Vcpu& vcpu(std::uint32_t index);
    void back_on_cpu(std::uint32_t index, Vcpu& v, std::uint64_t at_ns);

    std::vector<ActivityListener*> listeners_;
    std::vector<Vcpu> vcpus_;
};

}  // namespace xeno::harness
