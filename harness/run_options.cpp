#include "harness/run_options.hpp"

#include <charconv>
#include <cmath>

#include <fmt/core.h>
#include <fmt/format.h>

namespace xeno::harness {

namespace {

std::uint64_t page_round(std::uint64_t n)
{
    return (n + 0xfff) & ~std::uint64_t{0xfff};
}

}  // namespace

Outcome<std::uint64_t> parse_memory_mb(std::string_view text)
{
    std::uint64_t value = 0;
    const char* end = text.data() + text.size();
    auto [stop, ec] = std::from_chars(text.data(), end, value);
    std::string_view suffix(stop, static_cast<std::size_t>(end - stop));
    std::uint64_t scale = 1;
    if (suffix == "G" || suffix == "g") {
        scale = 1024;
    } else if (!suffix.empty() && suffix != "M" && suffix != "m") {
        ec = std::errc::invalid_argument;
    }
    if (ec != std::errc() || stop == text.data() || value == 0 || value > (std::uint64_t{1} << 40) / scale) {
        return Failure{fmt::format("-m: expected a memory size in MiB (128, 512M, 2G), got \"{}\"", text)};
    }
    return value * scale;
}

Scenario kernel_run_scenario(const RunOptions& options)
{
    Scenario s;
    const std::filesystem::path kernel = options.kernel.value_or("");
    s.name = kernel.filename().string();
    s.kernel = kernel.string();
    s.memory_mb = kDefaultKernelMemoryMb;
    s.profiles.assign(std::begin(kKnownProfiles), std::end(kKnownProfiles));
    s.max_instructions = 0;
    return s;
}

std::optional<std::string> check_options(const Scenario& scenario, const RunOptions& options)
{
    const bool cli_kernel = options.kernel.has_value();
    if (cli_kernel && !options.scenario_dir.empty()) {
        return fmt::format("give a scenario directory or --kernel, not both ({} and --kernel {})",
                           options.scenario_dir, *options.kernel);
    }
    if (!cli_kernel && options.scenario_dir.empty()) {
        return std::string("nothing to run: give a scenario directory (scenarios/<name>) or --kernel FILE");
    }
    if (cli_kernel && options.kernel->empty()) {
        return std::string("--kernel: the file name is empty");
    }
    if (!scenario.is_kernel()) {
        for (auto [given, name] : {std::pair{options.initrd.has_value(), "--initrd"},
                                   std::pair{options.append.has_value(), "--append"}, std::pair{options.pvh, "--pvh"}}) {
            if (given) {
                return fmt::format("{} is for a kernel (--kernel FILE, or a scenario with [guest] kernel); {} runs a "
                                   "flat image",
                                   name, scenario.name);
            }
        }
    }
    if (options.append && options.append->find('\0') != std::string::npos) {
        return std::string("--append: the command line must not contain a NUL character");
    }
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
        if (cli_kernel) {
            return std::string("--expect compares with a scenario's [expect]: a --kernel run has none");
        }
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
    if (options.timeout_seconds &&
        !(*options.timeout_seconds >= 0.001 && *options.timeout_seconds <= kMaxTimeoutSeconds)) {
        return fmt::format("--timeout must be 0.001 to {:.0f} seconds", kMaxTimeoutSeconds);
    }
    if (options.memory) {
        Outcome<std::uint64_t> mb = parse_memory_mb(*options.memory);
        if (!mb.ok()) {
            return mb.error();
        }
        const std::uint64_t max = scenario.is_kernel() ? kMaxKernelMemoryMb : kMaxGuestMemoryMb;
        if (mb.value() > max) {
            return fmt::format("-m: {} MiB is more than a {} may have ({} MiB)", mb.value(),
                               scenario.is_kernel() ? "kernel's guest" : "flat image's guest", max);
        }
        if (!scenario.is_kernel() && scenario.load_address >= mb.value() << 20) {
            return fmt::format("-m: {} MiB leaves the load address {:#x} outside guest memory", mb.value(),
                               scenario.load_address);
        }
    }
    if (options.debug_exit && *options.debug_exit != "xeno" && *options.debug_exit != "qemu") {
        return fmt::format("--debug-exit: expected xeno or qemu, got \"{}\"", *options.debug_exit);
    }
    if (options.on_reset && *options.on_reset != "exit" && *options.on_reset != "restart") {
        return fmt::format("--on-reset: expected exit or restart, got \"{}\"", *options.on_reset);
    }
    return std::nullopt;
}

Scenario with_overrides(Scenario s, const RunOptions& options)
{
    if (options.memory) {
        Outcome<std::uint64_t> mb = parse_memory_mb(*options.memory);
        if (mb.ok()) {
            s.memory_mb = mb.value();
        }
    }
    if (options.initrd) {
        s.initrd = *options.initrd;
    }
    if (options.append) {
        s.append = *options.append;
    }
    if (options.pvh) {
        s.pvh = true;
    }
    if (options.debug_exit) {
        s.debug_exit = *options.debug_exit;
    }
    if (options.on_reset) {
        s.on_reset = *options.on_reset;
    }
    return s;
}

std::string build_cmdline(const Scenario& scenario, const RunOptions& options)
{
    std::string line = scenario.is_kernel()
                           ? fmt::format("guest_mem_mb={}", scenario.memory_mb)
                           : fmt::format("guest_mem_mb={} guest_load={:#x} guest_entry={:#x}", scenario.memory_mb,
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
    if (scenario.debug_exit == "qemu") {
        line += " debug_exit=qemu";
    }
    if (scenario.on_reset == "restart") {
        line += " on_reset=restart";
    }
    return line;
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
                                        std::vector<std::uint8_t> guest_image, std::vector<std::uint8_t> serial_input,
                                        std::vector<std::uint8_t> initrd)
{
    sim::MachineConfig config;
    config.profile = options.profile;
    config.memory_bytes = scenario.memory_bytes() + hypervisor_memory_bytes(scenario.memory_bytes());
    if (scenario.is_kernel()) {
        config.guest_cmdline = "kernel";
        if (!scenario.initrd.empty()) {
            config.modules.push_back(sim::BootModuleData{"initrd", std::move(initrd)});
        }
        if (scenario.append) {
            config.modules.push_back(
                sim::BootModuleData{"append", std::vector<std::uint8_t>(scenario.append->begin(), scenario.append->end())});
        }
        // The modules sit in machine memory too (the hypervisor reserves them).
        config.memory_bytes += page_round(guest_image.size()) + page_round(serial_input.size());
        for (const sim::BootModuleData& m : config.modules) {
            config.memory_bytes += page_round(m.bytes.size());
        }
    } else {
        config.guest_cmdline = "";
    }
    config.guest_image = std::move(guest_image);
    config.cmdline = build_cmdline(scenario, options);
    config.max_guest_instructions = options.max_insns.value_or(scenario.max_instructions);
    config.max_vtime_ns = options.max_vtime_ms.value_or(scenario.max_vtime_ms) * 1'000'000;
    config.wall_timeout_ms =
        options.timeout_seconds ? static_cast<std::uint64_t>(std::llround(*options.timeout_seconds * 1000.0)) : 0;
    config.hash_memory = options.memhash;
    config.serial_input = std::move(serial_input);
    return config;
}

}  // namespace xeno::harness
