#include "harness/run_options.hpp"

#include <fmt/core.h>
#include <fmt/format.h>

namespace xeno::harness {

std::string build_cmdline(const Scenario& scenario, const RunOptions& options)
{
    std::string line = fmt::format("guest_mem_mb={} guest_load={:#x} guest_entry={:#x}", scenario.memory_mb,
                                   scenario.load_address, scenario.entry);
    if (options.paging) {
        line += fmt::format(" paging={}", *options.paging);
    }
    if (options.trace_file) {
        line += " trace=on";
    }
    return line;
}

std::optional<std::string> check_options(const Scenario& scenario, const RunOptions& options)
{
    if (!is_known_profile(options.profile)) {
        return fmt::format("unknown profile \"{}\" (known: penryn, skylake)", options.profile);
    }
    if (!scenario.lists_profile(options.profile)) {
        return fmt::format("scenario {} does not run on profile {} (its [run] profiles: {})", scenario.name,
                           options.profile, fmt::join(scenario.profiles, ", "));
    }
    if (options.paging && *options.paging != "ept" && *options.paging != "shadow") {
        return fmt::format("unknown paging mode \"{}\" (known: ept, shadow)", *options.paging);
    }
    // Penryn-class CPUs have no EPT (IA32_VMX_PROCBASED_CTLS2 lacks "enable EPT").
    if (options.paging == "ept" && options.profile == "penryn") {
        return std::string("profile penryn has no EPT: use --paging shadow");
    }
    if (options.expect && !scenario.expect) {
        return fmt::format("--expect: {} has no [expect] table", scenario.file.string());
    }
    if (options.max_insns && *options.max_insns == 0) {
        return std::string("--max-insns must be at least 1");
    }
    return std::nullopt;
}

sim::MachineConfig build_machine_config(const Scenario& scenario, const RunOptions& options,
                                        std::vector<std::uint8_t> guest_image)
{
    sim::MachineConfig config;
    config.profile = options.profile;
    config.memory_bytes = scenario.memory_bytes() + kHypervisorMemoryBytes;
    config.guest_image = std::move(guest_image);
    config.guest_cmdline = "";
    config.cmdline = build_cmdline(scenario, options);
    config.max_guest_instructions = options.max_insns.value_or(scenario.max_instructions);
    return config;
}

}  // namespace xeno::harness
