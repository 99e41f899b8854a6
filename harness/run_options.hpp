// What `xeno run` was asked to do, and how that becomes the simulated
// machine's configuration (memory size, hypervisor command line, limits).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "harness/scenario.hpp"
#include "sim/platform/machine.hpp"

namespace xeno::harness {

// Machine memory beyond the guest's: the hypervisor's heap, VMCS and bitmaps,
// page tables (shadow or EPT).
inline constexpr std::uint64_t kHypervisorMemoryBytes = std::uint64_t{64} << 20;

inline constexpr const char* kDefaultProfile = "skylake";

struct RunOptions {
    std::string scenario_dir;              // positional: scenarios/<name>
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
};

// The hypervisor's command line: "guest_mem_mb=<m> guest_load=0x<a>
// guest_entry=0x<e> [smp=<n>] [quantum_us=<n>] [paging=<p>] [trace=on]"
// (src/core parses it; smp and quantum_us only when not the default).
std::string build_cmdline(const Scenario& scenario, const RunOptions& options);

// Checks that need both the scenario and the options: the profile is one the
// scenario lists, the paging mode exists on the profile, --expect has an
// [expect] table to compare with. Empty when all is well.
std::optional<std::string> check_options(const Scenario& scenario, const RunOptions& options);

// The file the UART's input comes from (--serial-in, else the scenario's
// [guest] serial_in in its directory), or empty.
std::filesystem::path serial_input_path(const Scenario& scenario, const RunOptions& options);

sim::MachineConfig build_machine_config(const Scenario& scenario, const RunOptions& options,
                                        std::vector<std::uint8_t> guest_image,
                                        std::vector<std::uint8_t> serial_input = {});

}  // namespace xeno::harness
