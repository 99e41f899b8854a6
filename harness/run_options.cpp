#include "harness/run_options.hpp"

#include <fmt/core.h>
#include <fmt/format.h>

namespace xeno::harness {

std::string build_cmdline(const Scenario& scenario, const RunOptions& options)
{
    std::string line = fmt::format("guest_mem_mb={} guest_load={:#x} guest_entry={:#x}", scenario.memory_mb,
                                   scenario.load_address, scenario.entry);
    const std::uint32_t smp = options.smp.value_or(scenario.smp);
    if (smp != 1) {
        line += fmt::format(" smp={}", smp);
    }
    const std::uint64_t quantum = options.quantum_us.value_or(scenario.quantum_us);
    if (quantum != 0) {
        line += fmt::format(" quantum_us={}", quantum);
    }
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
    if (options.smp && (*options.smp == 0 || *options.smp > kMaxSmp)) {
        return fmt::format("--smp must be 1 to {}", kMaxSmp);
    }
    if (options.max_vtime_ms && *options.max_vtime_ms == 0) {
        return std::string("--max-vtime-ms must be at least 1");
    }
    if (options.quantum_us && (*options.quantum_us == 0 || *options.quantum_us > 1'000'000)) {
        return std::string("--quantum-us must be 1 to 1000000");
    }
    return std::nullopt;
}

std::filesystem::path serial_input_path(const Scenario& scenario, const RunOptions& options)
{
    if (options.serial_in) {
        return *options.serial_in;
    }
    if (!scenario.serial_in.empty()) {
        return scenario.dir / scenario.serial_in;
    }
    return {};
}

sim::MachineConfig build_machine_config(const Scenario& scenario, const RunOptions& options,
                                        std::vector<std::uint8_t> guest_image, std::vector<std::uint8_t> serial_input)
{
    sim::MachineConfig config;
    config.profile = options.profile;
    config.memory_bytes = scenario.memory_bytes() + kHypervisorMemoryBytes;
    config.guest_image = std::move(guest_image);
    config.guest_cmdline = "";
    config.cmdline = build_cmdline(scenario, options);
    config.max_guest_instructions = options.max_insns.value_or(scenario.max_instructions);
    config.max_vtime_ns = options.max_vtime_ms.value_or(scenario.max_vtime_ms) * 1'000'000;
    config.serial_input = std::move(serial_input);
    return config;
}

}  // namespace xeno::harness
