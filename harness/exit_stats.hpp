// Exit statistics of a run, as kvm_stat shows a VM's: `xeno run --stats`
// prints a table after the summary, `--stats-json FILE` writes the same as
// JSON (README.md "Running a scenario" describes both).
//
// Per exit reason (the basic reason, bits 15:0): the exits, the virtual time
// they account for (the guest execution each ended plus its exit cost,
// vcpu_activity.hpp: what the guest ran for until it exited for this
// reason), the guest instructions in it, and the host time its handlers
// took. Per vcpu: exits, guest, exit, halted and waiting virtual time, instructions,
// injected events, handler host time, and exits by reason. Everything but the
// host time is the deterministic machine's: two runs give the same figures.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/vcpu_activity.hpp"

namespace xeno::harness {

struct ReasonStats {
    std::uint64_t exits = 0;
    std::uint64_t vtime_ns = 0;            // guest slices ended by these exits + the exits' cost
    std::uint64_t guest_instructions = 0;  // in those guest slices
    std::uint64_t host_ns = 0;             // host time in their handlers
};

struct VcpuStats {
    std::uint64_t exits = 0;
    std::uint64_t guest_ns = 0;   // every guest slice, the one the run stopped included
    std::uint64_t exit_ns = 0;
    std::uint64_t halted_ns = 0;
    std::uint64_t waiting_ns = 0;  // off the CPU after other exits (vcpu_activity.hpp)
    std::uint64_t guest_instructions = 0;
    std::uint64_t injections = 0;
    std::uint64_t host_ns = 0;
    std::map<std::uint16_t, std::uint64_t> exits_by_reason;  // basic reason -> exits
};

// The run as a whole, from its summary: what the shares are shares of.
struct RunTotals {
    std::uint64_t vtime_ns = 0;    // MachineResult::vtime_ns
    double wall_seconds = 0.0;     // the summary's wall= (host time)
};

class ExitStats : public ActivityListener {
public:
    void guest_ran(std::uint32_t vcpu, std::uint64_t begin_ns, std::uint64_t end_ns, std::uint64_t instructions,
                   const sim::ExitEvent* exit) override;
    void exit_done(const sim::ExitEvent& taken, const sim::ExitEvent& handled, std::uint64_t begin_ns,
                   std::uint64_t host_ns) override;
    void injected(std::uint32_t vcpu, std::uint64_t at_ns, std::uint32_t interruption) override;
    void halted(std::uint32_t vcpu, std::uint64_t begin_ns, std::uint64_t end_ns) override;
    void waited(std::uint32_t vcpu, std::uint64_t begin_ns, std::uint64_t end_ns, std::uint32_t after_reason) override;

    const std::map<std::uint16_t, ReasonStats>& reasons() const { return reasons_; }
    const std::vector<VcpuStats>& vcpus() const { return vcpus_; }
    std::uint64_t exits() const;

    // The reasons in the order the table lists them: most exits first,
    // then by name.
    std::vector<std::uint16_t> reasons_by_count() const;

private:
    VcpuStats& vcpu(std::uint32_t index);

    std::map<std::uint16_t, ReasonStats> reasons_;
    std::vector<VcpuStats> vcpus_;
    // The guest slice waiting for its exit's cost (guest_ran comes first).
    std::vector<std::uint64_t> pending_guest_ns_, pending_instructions_;
};

// The table --stats prints (lines ending in '\n'): a header line, a row per
// reason, a total, then a row per vcpu.
std::string format_exit_stats(const ExitStats& stats, const RunTotals& totals);

// The same as JSON (schema: README.md "Running a scenario").
nlohmann::ordered_json exit_stats_json(const ExitStats& stats, const RunTotals& totals);

}  // namespace xeno::harness
