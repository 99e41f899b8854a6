#include "harness/guest_image.hpp"

#include <fstream>
#include <iterator>

#include <fmt/core.h>

namespace xeno::harness {

namespace fs = std::filesystem;

fs::path executable_dir()
{
    std::error_code ec;
    fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    return ec ? fs::path() : exe.parent_path();
}

Outcome<fs::path> find_guest_image(const Scenario& scenario, const fs::path& exe_dir)
{
    std::error_code ec;
    fs::path built;
    if (!exe_dir.empty()) {
        built = exe_dir / "scenarios" / scenario.name / scenario.image;
        if (fs::is_regular_file(built, ec)) {
            return built;
        }
    }
    fs::path local = scenario.dir / scenario.image;
    if (fs::is_regular_file(local, ec)) {
        return local;
    }
    if (built.empty()) {
        return Failure{fmt::format("guest image {} not found", local.string())};
    }
    return Failure{fmt::format("guest image not found: neither {} nor {} exists (build the sim build first)",
                               built.string(), local.string())};
}

std::optional<std::string> check_image_fits(const Scenario& scenario, std::uint64_t size, const fs::path& image)
{
    if (size == 0) {
        return fmt::format("guest image {} is empty", image.string());
    }
    std::uint64_t end = scenario.load_address + size;
    if (end > scenario.memory_bytes()) {
        return fmt::format("guest image {} ({} bytes) does not fit in guest memory: loaded at {:#x} it ends at "
                           "{:#x}, past the {} MiB of guest memory ({:#x})",
                           image.string(), size, scenario.load_address, end, scenario.memory_mb,
                           scenario.memory_bytes());
    }
    if (scenario.entry < scenario.load_address || scenario.entry >= end) {
        return fmt::format("{}: guest.entry: {:#x} is outside the guest image (loaded at {:#x}-{:#x})",
                           scenario.file.string(), scenario.entry, scenario.load_address, end - 1);
    }
    return std::nullopt;
}

Outcome<std::vector<std::uint8_t>> load_guest_image(const Scenario& scenario, const fs::path& image)
{
    // Refuse an oversized file before reading it all.
    std::error_code ec;
    std::uintmax_t size = fs::file_size(image, ec);
    if (!ec) {
        if (auto problem = check_image_fits(scenario, size, image)) {
            return Failure{*problem};
        }
    }
    std::ifstream in(image, std::ios::binary);
    if (!in) {
        return Failure{fmt::format("cannot read guest image {}", image.string())};
    }
    std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) {
        return Failure{fmt::format("error reading guest image {}", image.string())};
    }
    if (auto problem = check_image_fits(scenario, bytes.size(), image)) {
        return Failure{*problem};
    }
    return bytes;
}

}  // namespace xeno::harness
