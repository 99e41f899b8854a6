// Finding and loading the files a scenario names: its guest image, or its
// kernel and initrd. CMake builds a scenario's files into
// <build>/scenarios/<name>/, next to the xeno executable, and records there
// which directory they were built from (the file `source-dir`); a built file
// is used only for that directory, so a scenario folder elsewhere that has
// the same name runs its own guest. Otherwise the file comes from the
// scenario directory, and a guest image missing there is assembled from the
// folder's <image stem>.asm with nasm, as CMake would.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>
#include <vector>

#include "harness/outcome.hpp"
#include "harness/scenario.hpp"

namespace xeno::harness {

// The directory the running executable is in (/proc/self/exe), or empty.
std::filesystem::path executable_dir();

// The name of the file in <exe_dir>/scenarios/<name>/ that says which
// scenario directory CMake built that folder's files from (an absolute path,
// one line).
inline constexpr const char* kSourceDirMarker = "source-dir";

// Whether <exe_dir>/scenarios/<scenario.name>/ holds what CMake built from
// this very scenario directory.
bool built_from(const Scenario& scenario, const std::filesystem::path& exe_dir);

// A file the scenario names (`file`, relative): built by CMake for this
// directory, else in the scenario directory. `what` ("kernel", "initrd")
// names it in the error.
Outcome<std::filesystem::path> find_scenario_file(const Scenario& scenario, std::string_view file,
                                                  std::string_view what, const std::filesystem::path& exe_dir);

// Where the guest image comes from: a file, or the assembly source to
// assemble (nothing built it and the scenario directory has no image).
struct GuestImageSource {
    std::filesystem::path path;
    bool assemble = false;  // path is <dir>/<image stem>.asm
};

// Built, else <scenario dir>/<image>, else <scenario dir>/<stem>.asm.
Outcome<GuestImageSource> find_guest_image(const Scenario& scenario, const std::filesystem::path& exe_dir);

// Checks that `size` bytes loaded at the scenario's load address fit in its
// guest memory and that the entry point lies inside the image.
std::optional<std::string> check_image_fits(const Scenario& scenario, std::uint64_t size,
                                            const std::filesystem::path& image);

// Reads (or assembles) the image and checks that it fits.
Outcome<std::vector<std::uint8_t>> load_guest_image(const Scenario& scenario, const GuestImageSource& source);

// Reads a whole file, refusing one larger than `max_bytes`; `what` names it
// in messages ("kernel", "initrd").
Outcome<std::vector<std::uint8_t>> read_input_file(const std::filesystem::path& file, std::string_view what,
                                                   std::uint64_t max_bytes);

}  // namespace xeno::harness
