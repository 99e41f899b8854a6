// The simulated machine, as the harness drives it: machine memory, a host CPU
// of one profile, the software VMX model, and the hypervisor's own start
// routine (xeno::start) running on top, exactly as on hardware.
//
// One Machine runs at a time in a process (the hal functions the hypervisor
// calls are free functions and reach the current Machine).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "arch/x86/paging/shadow.hpp"
#include "sim/platform/exit_event.hpp"
#include "sim/debug/machine_debugger.hpp"

namespace xeno::sim {

// A boot module after module 0: its string (how the hypervisor finds it:
// "initrd", "append", ...) and its bytes.
struct BootModuleData {
    std::string name;
    std::vector<std::uint8_t> bytes;
};

struct MachineConfig {
    std::string profile = "skylake";       // CPU profile name: "penryn" or "skylake"
    std::uint64_t memory_bytes = 64 << 20;  // machine memory, hypervisor and guests together
    std::vector<std::uint8_t> guest_image;  // boot module 0 (a flat guest image, or a kernel)
    std::string guest_cmdline;              // boot module 0's string ("" for a flat image, "kernel" for a kernel)
    std::string cmdline;                    // the hypervisor's command line (guest parameters)
    // Boot modules 1.. in this order (after the decoy when there is one,
    // before "serial-in"), each page aligned in machine memory after module 0.
    std::vector<BootModuleData> modules;
    // Instructions' worth of guest work (Engine::set_instruction_limit: the
    // guest's instructions plus the elements of REP INS/OUTS); 0: no limit;
    // else the run ends with an error past it.
    std::uint64_t max_guest_instructions = 0;
    std::uint64_t max_vtime_ns = 0;   // 0: no limit; else the run ends with an error past this virtual time
    // Host (wall) time the run may take, in milliseconds; 0: no limit. A
    // watchdog thread stops the engine when it passes; nothing else reads the
    // host clock, so a run that ends in time is not changed by it.
    std::uint64_t wall_timeout_ms = 0;
    // MachineResult::memory_hash: xxh64 of all of machine memory at the end.
    // Off by default: it reads (so faults in) every page of a buffer that is
    // otherwise touched only where the run used it. A run hashes the same in
    // any process, whether it ended or a limit stopped it: either way the
    // domain is torn down (a stop ends it through the hypervisor's normal
    // returns, hal::stop_requested), so no live state with pointers to the
    // host's stack and code (address randomisation) is left in it.
    bool hash_memory = false;
    // Bytes for the guest's UART receiver, handed over as the boot module
    // named "serial-in" (the hypervisor feeds them at the line rate).
    std::vector<std::uint8_t> serial_input;
    // Isolation check: this many bytes (a multiple of 4 KiB) of machine memory
    // after the guest image filled with a fixed pattern and handed to the
    // hypervisor as boot module 1, memory that belongs to someone else (as
    // another domain's would): the hypervisor never allocates it and no
    // guest mapping may reach it. MachineResult says whether it survived.
    std::uint64_t decoy_bytes = 0;
};

// Where the channels of hal/console.hpp go while the machine runs.
struct MachineOutput {
    std::function<void(const char*, std::size_t)> guest_console;  // GUEST_CONSOLE bytes
    std::function<void(const char*, std::size_t)> log;            // LOG bytes
    std::function<void(const char*, std::size_t)> trace;          // TRACE bytes (whole lines)
    // Observers of every VM exit (exit_event.hpp), unset: none (and no cost).
    std::function<void(const ExitEvent&)> exit_taken;    // before the hypervisor handles it
    std::function<void(const ExitEvent&)> exit_handled;  // after its handler returned
    std::function<void(const EntryEvent&)> vcpu_entered; // before every VM entry (hal::run's, and each resume)
    // A debugger attached to the run (sim/debug/machine_debugger.hpp), or none.
    MachineDebugger* debugger = nullptr;
};

struct MachineResult {
    int status = -1;                   // the guest's exit status (xeno::start's result), or -1
    // How the domain ended (core/domain.hpp DomainEnd): "exit" (the guest
    // wrote its status to the debug exit port), "poweroff" (status 0), or one
    // the hypervisor decided: "crash", "halted", "reset"; with its reason.
    std::string end;
    std::string end_reason;
    bool ok = false;                   // false: the run could not complete; see error
    std::string error;                 // one line, when !ok
    // What ended a run that could not complete (!ok): one of the run's
    // limits, or the hypervisor or the engine failing (refused the
    // configuration, a VM entry failed, Unicorn stopped, ...).
    enum class Failure : std::uint8_t { NONE, INSTRUCTION_LIMIT, VTIME_LIMIT, WALL_TIME_LIMIT, OTHER };
    Failure failure = Failure::NONE;
    std::uint64_t exits = 0;           // VM exits taken
    std::uint64_t guest_instructions = 0;
    std::uint64_t emulated_instructions = 0;  // instructions the hypervisor emulated
    std::uint64_t vtime_ns = 0;        // virtual time at the end
    std::uint64_t vcpu_switches = 0;   // the scheduler switched from one vcpu to another (RunStats)
    std::uint64_t memory_hash = 0;     // xxh64 of machine memory at the end (MachineConfig::hash_memory), else 0
    bool shadow_paging = false;        // the guest ran on shadow page tables
    paging::ShadowStats shadow;        // their counters at the end (xeno::last_run_stats)
    std::uint64_t decoy_hash_before = 0;  // xxh64 of the decoy before the run (0 without one)
    std::uint64_t decoy_hash_after = 0;   // ... and after it
};

MachineResult run_machine(const MachineConfig& config, const MachineOutput& output);

}  // namespace xeno::sim
