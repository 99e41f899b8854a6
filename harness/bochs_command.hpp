// `xeno bochs`: boot a scenario's ISO of the hw build (build/hw/iso/<name>.iso)
// in Bochs through harness/bochs/run-bochs.sh, print the guest console and
// the same summary line as `xeno run`, check [expect].
//
// Bochs's COM1 carries both the hypervisor's LOG channel and the guest's
// console (src/hal/hw/serial.cpp); parse_com1 separates them (see there).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "harness/cli.hpp"

namespace CLI {
class App;
}

namespace xeno::harness {

inline constexpr unsigned kDefaultBochsTimeoutSeconds = 120;

struct BochsOptions {
    std::string scenario_dir;                 // positional: scenarios/<name>
    std::string profile = "skylake";          // --profile penryn|skylake
    std::optional<std::string> paging;        // --paging ept|shadow: boots <name>.<paging>.iso
    std::optional<std::string> trace_file;    // --trace: COM2 (the TRACE channel) is copied here
    std::optional<std::string> witness_file;  // --witness: Bochs's own VMX transition record
    std::optional<std::string> iso;           // --iso: instead of <exe_dir>/../hw/iso/<name>.iso
    std::optional<std::string> out_dir;       // --out: keep Bochs's files here (default: a temporary dir)
    bool expect = false;                      // --expect
    std::optional<unsigned> cpus;             // --cpus: processors of the Bochs machine (default: [run] bochs_cpus)
    unsigned timeout_seconds = kDefaultBochsTimeoutSeconds;  // --timeout
};

// What COM1 of a run says.
struct Com1Report {
    std::string console;                 // the guest's bytes, LOG lines removed
    std::optional<int> status;           // from the last "xeno: exit status <n>"
    std::optional<std::uint64_t> emulated;  // from the "exits: <n> emulated=<m> ..." stats line
    bool guest_started = false;          // the "domain: running guest at" line was seen
    std::string end;                     // from "domain: end=<kind> ..." (empty: not said)
    std::string end_reason;              // from "domain: ended (<kind>) with status <n>: <reason>"
};

// Splits COM1 into console and LOG. Everything up to and including the line
// "domain: running guest at ..." is LOG (boot, capabilities, VMCS set-up).
// After it, a line is LOG when it starts with one of the hypervisor's log
// tags (kLogTags: "domain: ", "exits: ", "vmx: ", "guest: ", "xeno: ", ...,
// the prefixes src/ writes its LogLines with); a LOG line that follows a
// console line without its newline is split off at the tag. The rest is the
// guest's console, bytes unchanged. Limitation: a guest line that itself
// starts with such a tag would be taken for LOG.
Com1Report parse_com1(std::string_view com1);

// The <exe_dir>/../hw/iso/<name>.iso the hw build makes for a scenario, or
// for a paging mode its [run] paging lists <name>.<paging>.iso (its command
// line has paging=<mode>, as `xeno run --paging <mode>` gives the sim).
std::filesystem::path default_iso_path(const std::filesystem::path& exe_dir, std::string_view scenario_name,
                                       const std::optional<std::string>& paging = std::nullopt);

// Registers the `bochs` subcommand on `app`, filling `options`.
CLI::App* add_bochs_command(CLI::App& app, BochsOptions& options);

// Returns the process exit status (cli.hpp): the guest's status, or with
// --expect 0/1; 1 when Bochs is missing, fails or times out; 2 for bad
// arguments, a bad scenario or a missing ISO.
int run_bochs(const BochsOptions& options, const CliEnv& env);

}  // namespace xeno::harness
