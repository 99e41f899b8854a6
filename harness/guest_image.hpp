// Finding and loading a scenario's guest image. CMake assembles
// scenarios/<name>/guest.asm into <build>/scenarios/<name>/guest.bin, next to
// the xeno executable; a prebuilt image inside the scenario directory is the
// fallback.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include "harness/outcome.hpp"
#include "harness/scenario.hpp"

namespace xeno::harness {

// The directory the running executable is in (/proc/self/exe), or empty.
std::filesystem::path executable_dir();

// <exe_dir>/scenarios/<name>/<image>, else <scenario dir>/<image>.
Outcome<std::filesystem::path> find_guest_image(const Scenario& scenario, const std::filesystem::path& exe_dir);

// Checks that `size` bytes loaded at the scenario's load address fit in its
// guest memory and that the entry point lies inside the image.
std::optional<std::string> check_image_fits(const Scenario& scenario, std::uint64_t size,
                                            const std::filesystem::path& image);

// Reads the image and checks that it fits.
Outcome<std::vector<std::uint8_t>> load_guest_image(const Scenario& scenario, const std::filesystem::path& image);

}  // namespace xeno::harness
