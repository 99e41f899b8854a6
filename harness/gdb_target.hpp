// The machine side of the GDB stub: a MachineDebugger that stops a sim run
// at instruction boundaries and shows GDB the stopped guest.
//
// How it stops: a Unicorn UC_HOOK_CODE hook of its own over every address
// runs before each guest instruction (added before the engine's own
// per-site hooks, so it runs before an instruction that exits, too). When a
// stop condition holds (a step, a breakpoint, a watchpoint hit, Ctrl-C, the
// first instruction with --gdb-wait) the hook does not return: the stub
// serves GDB's packets from inside it, with the guest's state exactly as
// before that instruction, and returns when GDB resumes. Nothing else of
// the machine runs meanwhile, so nothing else needs to stop.
//
// Where it is: the hook's count of instructions since the run began (its
// "position"). The sim is deterministic, and this hook is installed the same
// way in every debugged run, so re-running the same configuration reaches
// the same state at the same position. Reverse execution re-runs the machine
// in the same process (run_under_gdb loops over run_machine) to an earlier
// position: reverse-step to the stepping vcpu's previous instruction (known
// while running forward: one re-run), reverse-continue by a first re-run that
// notes the last breakpoint or watchpoint hit before the current position and
// a second that stops there. Fork-based checkpoints (gdb_checkpoints.hpp)
// make those re-runs start from the nearest earlier stop instead of the
// start of the run.
//
// Breakpoints (Z0 and Z1 alike) are addresses the hook compares against:
// guest memory is never patched, so software breakpoints are invisible to
// the guest and survive its self-modifying code. They and watchpoints are on
// guest-linear addresses (CS base + RIP for code; in flat modes that is RIP).
// Watchpoints are a Unicorn memory hook over all addresses that compares
// each guest access with the watched ranges. Unicorn reports machine
// addresses there, so a watchpoint is translated when GDB inserts it, with
// the stopped vcpu's paging. Accesses the hypervisor makes on the guest's
// behalf (emulated MMIO, hypercall copies) are not seen.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include <unicorn/unicorn.h>

#include "harness/gdb_checkpoints.hpp"
#include "harness/gdb_stop.hpp"
#include "sim/debug/machine_debugger.hpp"
#include "sim/platform/exit_event.hpp"

namespace xeno::harness::gdb {

class Server;

// The register layout of the target description (gdb_target_xml.cpp):
// amd64 core (16 GPRs, rip, eflags, 6 selectors, x87), fs_base/gs_base,
// then cr0 cr2 cr3 cr4 efer.
inline constexpr int kRegisterCount = 47;
int register_size(int regno);  // bytes; 0: no such register
// VM exits kept for `monitor trace`.
inline constexpr std::size_t kRecentExits = 64;
const char* target_xml();

class Target final : public sim::MachineDebugger {
public:
    explicit Target(Server& server, bool stop_at_first_instruction);
    // Fork a checkpoint at a stop at most every `interval` instructions
    // (0: never), with the state the processes share (gdb_checkpoints.hpp).
    void enable_checkpoints(SharedSession* shared, std::uint64_t interval)
    {
        shared_ = shared;
        checkpoint_interval_ = interval;
    }

    // sim::MachineDebugger
    void machine_started(sim::Engine& engine, sim::MachineMemory& memory, sim::VmxCpu& vmx) override;
    void vcpu_entering(std::uint32_t vcpu, sim::VmcsStore& vmcs) override;
    void vcpu_left(std::uint32_t vcpu, sim::VmcsStore& vmcs, const hal::GuestRegs& regs) override;
    void machine_ending() override;

    // For run_under_gdb: the run ended because the stub wants it run again
    // (reverse execution) / because GDB killed it.
    bool rerun_requested() const { return rerun_; }
    bool killed() const { return killed_; }
    void note_exit(const sim::ExitEvent& e);  // for `monitor trace`
    // The first stop (--gdb-wait's, or GDB attaching) waits until the
    // machine has taken exit `exit` (xeno run --restore: the snapshot's point).
    void hold_first_stop_until_exit(std::uint64_t exit) { first_stop_exit_ = exit; }

    // For the server, while stopped.
    std::vector<std::uint32_t> vcpus() const;
    bool has_vcpu(std::uint32_t vcpu) const;
    std::uint32_t stopped_vcpu() const { return current_vcpu_; }
    std::optional<std::string> read_registers(std::uint32_t vcpu);  // raw bytes, target order
    bool write_register(std::uint32_t vcpu, int regno, const std::string& bytes);
    // Reads what is mapped from `address` on (empty: nothing is).
    std::string read_memory(std::uint64_t address, std::size_t length);
    bool write_memory(std::uint64_t address, const std::string& bytes);
    bool insert_point(PointType type, std::uint64_t address, std::uint64_t length);
    bool remove_point(PointType type, std::uint64_t address, std::uint64_t length);
    std::string monitor(const std::string& command, std::uint32_t vcpu);
    std::string physical_dump(const std::string& arg);  // monitor phys ADDR [LEN]
    // State changed by GDB (registers, memory): history before it cannot be
    // reproduced by re-execution, so reverse execution is refused from then.
    bool history_valid() const { return !modified_; }

private:
    struct Point {
        PointType type;
        std::uint64_t address, length;  // guest-linear, as GDB gave them
        std::vector<std::pair<std::uint64_t, std::uint64_t>> machine;  // watchpoints: machine ranges (begin, length)
    };
    struct VcpuSnapshot {
        bool valid = false;
        hal::GuestRegs regs{};
        std::uint64_t rip = 0, rsp = 0, rflags = 0, cr0 = 0, cr3 = 0, cr4 = 0, efer = 0, fs_base = 0, gs_base = 0;
        std::uint16_t sel[6] = {};
    };
    // What this run is for.
    enum class Plan : std::uint8_t { LIVE, REPLAY_TO, SCAN };

    static void code_hook(uc_engine* uc, std::uint64_t address, std::uint32_t size, void* self);
    static void memory_hook(uc_engine* uc, uc_mem_type type, std::uint64_t address, int size, std::int64_t value,
                            void* self);
    void on_instruction(std::uint64_t address);
    void on_access(bool write, std::uint64_t address, std::uint64_t size);
    const Point* watch_hit(bool write, std::uint64_t address, std::uint64_t size) const;
    void update_watching();  // after points_ changed
    bool breakpoint_at(std::uint64_t address, StopReport::Why* why) const;
    StopReport::Why plain_unless_flat(std::uint64_t linear, StopReport::Why why);
    // Stop here: serve GDB until it resumes, then act on what it asked.
    void stop(const StopReport& report);
    bool stop_once(const StopReport& report);  // true: stop again at once (immediate_stop_)
    // Go back: to a position (reverse-step, a found hit), or to the last
    // breakpoint or watchpoint hit before a position (reverse-continue).
    void rewind_to(std::uint64_t position, const StopReport& report);
    void scan_before(std::uint64_t position);
    // gdb_target_checkpoints.cpp.
    void checkpoint_if_due();
    [[noreturn]] void leave_to_checkpoint(CheckpointMessage::Kind kind, std::uint64_t position,
                                          const StopReport& report);
    void publish_points();
    void load_points();
    void end_run_for_rerun();
    void poll_client();

    Server& server_;
    bool stop_at_first_;
    sim::Engine* engine_ = nullptr;
    sim::MachineMemory* memory_ = nullptr;
    sim::VmxCpu* vmx_ = nullptr;
    uc_engine* uc_ = nullptr;

    // This run.
    std::uint64_t position_ = 0;
    std::uint32_t current_vcpu_ = 0;
    std::vector<std::uint64_t> last_position_, previous_position_;  // per vcpu
    std::vector<VcpuSnapshot> snapshots_;
    std::vector<sim::VmcsStore*> vmcs_;
    bool ending_ = false;  // the run is being ended (rerun, kill): the hook does nothing
    bool rerun_ = false;
    std::vector<std::string> recent_exits_;

    std::uint64_t current_address_ = 0;  // the linear address of the instruction at position_

    // Checkpoints (gdb_target_checkpoints.cpp): this process's place in the
    // chain of forked copies, and where its nearest checkpoint stands.
    SharedSession* shared_ = nullptr;
    std::uint64_t checkpoint_interval_ = 0;  // 0: none
    unsigned depth_ = 0;
    std::uint64_t checkpoint_position_ = 0;
    std::optional<StopReport> immediate_stop_;

    // Across runs.
    Plan plan_ = Plan::LIVE;
    std::uint64_t plan_position_ = 0;    // REPLAY_TO: stop at; SCAN: look before
    StopReport plan_report_;             // REPLAY_TO: what to report there
    bool scan_found_ = false;
    std::uint64_t scan_best_ = 0;
    StopReport scan_report_;
    bool first_stop_done_ = false;
    std::uint64_t first_stop_exit_ = 0;  // hold_first_stop_until_exit
    std::uint64_t exits_seen_ = 0;       // this run's exits so far
    bool stepping_ = false;
    std::uint32_t step_vcpu_ = 0;
    bool detached_ = false;
    bool killed_ = false;
    bool modified_ = false;
    std::optional<StopReport> pending_watch_;
    std::vector<Point> points_;
    bool watching_ = false;  // a watchpoint among points_ (the memory hook's test)
};

}  // namespace xeno::harness::gdb
