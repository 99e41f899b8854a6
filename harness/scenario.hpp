// A scenario: scenarios/<name>/scenario.toml, the guest it runs and what the
// run must produce. The file format is documented in scenarios/README.md;
// every error names the file and the key (or the line and column of a TOML
// syntax error).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "harness/outcome.hpp"

namespace xeno::harness {

// The CPU profiles the sim build knows (sim/vmx-model's profiles).
inline constexpr std::string_view kKnownProfiles[] = {"penryn", "skylake"};
bool is_known_profile(std::string_view profile);

// Guest paging modes (the hypervisor's paging=ept|shadow). Penryn-class CPUs
// have no EPT; skylake has both and uses EPT when left to choose.
inline constexpr std::string_view kKnownPagingModes[] = {"ept", "shadow"};
bool is_known_paging_mode(std::string_view mode);
bool profile_has_paging(std::string_view profile, std::string_view mode);
std::string_view default_paging(std::string_view profile);

// Ranges the loader enforces. A flat image's guest memory stays below the
// 4 GiB boundary (a 32-bit guest can reach all of it); the entry point is
// real-mode CS=0:IP. A kernel's memory may be larger: the hypervisor puts
// what is above 3 GiB past 4 GiB (the PCI hole), as QEMU does.
inline constexpr std::uint64_t kMaxGuestMemoryMb = 3072;
inline constexpr std::uint64_t kMaxKernelMemoryMb = 8192;
// QEMU's default -m.
inline constexpr std::uint64_t kDefaultKernelMemoryMb = 128;
inline constexpr std::uint64_t kMaxRealModeEntry = 0xffff;
inline constexpr std::uint32_t kMaxSmp = 32;
inline constexpr std::uint32_t kMaxBochsCpus = 8;  // the hypervisor uses at most 8 physical CPUs
// Virtual time a run may take unless its scenario says otherwise: a guest
// that idles on a timer forever (no instructions, so no instruction limit)
// still ends, with a clear reason.
inline constexpr std::uint64_t kDefaultMaxVtimeMs = 120'000;

struct Expectation {
    int status = 0;                      // the guest's exit status, 0-255 (compared when end is exit or poweroff)
    std::optional<std::string> console;  // exact console output; absent: not compared
    std::string end = "exit";            // how the domain must end: exit, poweroff, crash, halted, reset
};

struct Scenario {
    std::string name;                // the directory's name
    std::filesystem::path dir;       // the scenario directory
    std::filesystem::path file;      // dir / "scenario.toml"
    std::string description;

    // The guest is a flat image or a kernel, never both.
    std::string image;               // [guest] image: file name of the guest image (empty for a kernel)
    std::uint64_t load_address = 0;  // [guest] load_address: guest-physical (image only)
    std::uint64_t entry = 0;         // [guest] entry: real-mode IP with CS=0 (image only)
    // A kernel booted as QEMU's -kernel boots it (boot module 0, "kernel"):
    // the hypervisor's domain builder reads its format (ELF, multiboot, PVH
    // note, bzImage).
    std::string kernel;              // [guest] kernel: a file (relative to the scenario, or as given to --kernel)
    std::string initrd;              // [guest] initrd: a file, or empty (module "initrd")
    std::optional<std::string> append;  // [guest] append: the kernel's command line (module "append")
    bool pvh = false;                // [guest] pvh: a bzImage's ELF payload instead of the bzImage
    std::string debug_exit;          // [guest] debug_exit: "xeno" or "qemu" (empty: the hypervisor's default, xeno)
    std::string on_reset;            // [guest] on_reset: "exit" or "restart" (empty: the hypervisor's default, exit)
    std::uint64_t memory_mb = 0;     // [guest] memory_mb
    std::uint32_t smp = 1;           // [guest] smp: vcpus (the others wait for INIT-SIPI-SIPI)
    std::string serial_in;           // [guest] serial_in: a file in the scenario directory fed to the UART, or empty

    std::vector<std::string> profiles;  // [run] profiles, in file order
    std::uint64_t max_instructions = 0; // [run] max_instructions (0: none; required for an image)
    std::uint64_t max_vtime_ms = kDefaultMaxVtimeMs;  // [run] max_vtime_ms: the run fails past this much virtual time
    std::uint64_t quantum_us = 0;       // [run] quantum_us: a vcpu's time slice (0: the hypervisor's default)
    std::uint32_t bochs_cpus = 1;       // [run] bochs_cpus: processors of the Bochs machine (xeno bochs; sim has one)
    // [run] paging, in file order: each listed profile runs in each of these
    // modes it has. Empty (the key is absent): in the profile's default only.
    std::vector<std::string> paging;

    std::optional<Expectation> expect;  // [expect], when the file has one

    std::uint64_t memory_bytes() const { return memory_mb << 20; }
    bool lists_profile(std::string_view profile) const;
    bool is_kernel() const { return !kernel.empty(); }
};

// Limits on a scenario.toml checked before TOML parsing: toml++ parses
// recursively, so a dotted key of thousands of parts or arrays nested
// thousands deep would overflow the stack instead of being an error.
inline constexpr std::uint64_t kMaxScenarioFileBytes = 1 << 20;
inline constexpr unsigned kMaxTomlDotsPerLine = 64;   // outside strings and comments
inline constexpr unsigned kMaxTomlNesting = 32;       // [ and { nested (arrays, inline tables)

// Empty when `text` is within those limits; else what is wrong (with the
// line for the dots and the nesting), without the file name.
std::optional<std::string> check_toml_shape(std::string_view text);

// Parse scenario.toml text. `file` is only used in messages and to fill
// Scenario::file/dir/name (the name is the directory's last component).
Outcome<Scenario> parse_scenario(std::string_view text, const std::filesystem::path& file);

// Load <dir>/scenario.toml. `dir` may end with a slash.
Outcome<Scenario> load_scenario(const std::filesystem::path& dir);

}  // namespace xeno::harness
