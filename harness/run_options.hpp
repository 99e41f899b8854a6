// What `xeno run` was asked to do, and how that becomes the simulated
// machine's configuration (memory size, boot modules, hypervisor command
// line, limits).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "harness/outcome.hpp"
#include "harness/scenario.hpp"
#include "sim/platform/machine.hpp"

namespace xeno::harness {

// Machine memory beyond the guest's: the hypervisor's heap, VMCS and bitmaps,
// and what grows with the guest: the p2m, EPT or the physical-mode tables and
// the shadow pool (8 bytes a guest page each, about 0.6% together): 64 MiB
// and 1/64 of the guest's memory (8 GiB: 192 MiB).
inline constexpr std::uint64_t kHypervisorMemoryBytes = std::uint64_t{64} << 20;
constexpr std::uint64_t hypervisor_memory_bytes(std::uint64_t guest_bytes)
{
    return kHypervisorMemoryBytes + ((guest_bytes / 64) & ~std::uint64_t{0xfff});
}

inline constexpr const char* kDefaultProfile = "skylake";

// --timeout: at most this many seconds (a day).
inline constexpr double kMaxTimeoutSeconds = 86400.0;

// The largest kernel or initrd xeno hands a guest.
inline constexpr std::uint64_t kMaxModuleBytes = std::uint64_t{1} << 30;

struct RunOptions {
    std::string scenario_dir;              // positional: scenarios/<name> (empty with --kernel)
    std::string profile = kDefaultProfile;
    std::optional<std::string> trace_file; // --trace: the TRACE channel goes here
    std::optional<std::string> paging;     // --paging ept|shadow (absent: the hypervisor picks)
    bool expect = false;                   // --expect: compare with [expect]
    std::optional<std::uint64_t> max_insns;  // --max-insns: overrides [run] max_instructions
    std::optional<std::string> log_file;   // --log: the LOG channel goes here
    bool verbose = false;                  // --verbose: the LOG channel also goes to stderr
    bool memhash = false;                  // --memhash: append memhash=0x... to the summary
    std::optional<std::uint32_t> smp;      // --smp: overrides [guest] smp
    std::optional<std::string> serial_in;  // --serial-in: bytes for the UART's receiver (overrides [guest] serial_in)
    std::optional<std::uint64_t> max_vtime_ms;  // --max-vtime-ms: overrides [run] max_vtime_ms
    std::optional<std::uint64_t> quantum_us;    // --quantum-us: overrides [run] quantum_us
    std::optional<double> timeout_seconds;      // --timeout: wall-time limit of the run
    bool stats = false;                         // --stats: exit statistics after the summary (exit_stats.hpp)
    std::optional<std::string> stats_json;      // --stats-json: the same as JSON to FILE
    std::optional<std::string> timeline;        // --timeline: Chrome trace-event JSON to FILE (timeline.hpp)
    std::optional<std::uint64_t> timeline_max_events;  // --timeline-max-events: its size bound

    // Booting a kernel as QEMU's -kernel does.
    std::optional<std::string> kernel;     // --kernel FILE: instead of a scenario directory
    std::optional<std::string> initrd;     // --initrd FILE
    std::optional<std::string> append;     // --append STRING: the kernel's command line
    std::optional<std::string> memory;     // -m: guest memory, MiB (or with an M or G suffix)
    std::optional<std::string> debug_exit; // --debug-exit xeno|qemu
    std::optional<std::string> on_reset;   // --on-reset exit|restart
    bool pvh = false;                      // --pvh: a bzImage's ELF payload, booted by its PVH entry

    // The GDB stub (harness/gdb_run.hpp).
    std::optional<std::string> gdb;        // --gdb [HOST:]PORT
    bool gdb_wait = false;                 // --gdb-wait: stopped before the first guest instruction until GDB attaches

    // Snapshots (harness/snapshot_run.hpp).
    std::vector<std::string> snapshot_at;  // --snapshot-at EXIT|VTIME FILE: the point and the file
    std::optional<std::string> restore;    // --restore FILE: re-execute to its point, verify, go on live
};

// "-m" values: "512" (MiB), "512M", "2G" (QEMU's suffixes, upper or lower case).
Outcome<std::uint64_t> parse_memory_mb(std::string_view text);

// The scenario a `--kernel FILE` run stands for: named after the file, every
// profile, QEMU's 128 MiB, no instruction limit (a kernel boots for billions
// of instructions; the virtual-time limit still holds), no [expect].
Scenario kernel_run_scenario(const RunOptions& options);

// Checks of the options alone and against the scenario: exactly one of a
// scenario and --kernel, the profile is one the scenario lists, the paging
// mode exists on the profile, --expect has an [expect] table, kernel options
// only for a kernel, -m within range. Empty when all is well.
std::optional<std::string> check_options(const Scenario& scenario, const RunOptions& options);

// The scenario with the options that override it applied: -m, --initrd,
// --append, --pvh, --debug-exit, --on-reset (after check_options).
Scenario with_overrides(Scenario scenario, const RunOptions& options);

// The hypervisor's command line (src/core/cmdline.hpp parses it): for a flat
// image "guest_mem_mb=<m> guest_load=0x<a> guest_entry=0x<e>", for a kernel
// "guest_mem_mb=<m>", then " smp=<n>" " quantum_us=<n>" (when not the
// default) " paging=<p>" " trace=on" " debug_exit=qemu" " on_reset=restart"
// (when asked for).
std::string build_cmdline(const Scenario& scenario, const RunOptions& options);

// The file the UART's input comes from (--serial-in, else the scenario's
// [guest] serial_in in its directory), or empty.
std::filesystem::path serial_input_path(const Scenario& scenario, const RunOptions& options);

// The machine for a run. A flat image is boot module 0 with string ""; a
// kernel is module 0 "kernel", then "initrd" (when the scenario has one) and
// "append" (the command line's bytes, no NUL, when given). Machine memory:
// guest memory + 64 MiB, plus for a kernel the modules' sizes.
sim::MachineConfig build_machine_config(const Scenario& scenario, const RunOptions& options,
                                        std::vector<std::uint8_t> guest_image,
                                        std::vector<std::uint8_t> serial_input = {},
                                        std::vector<std::uint8_t> initrd = {});

}  // namespace xeno::harness
