#include "harness/guest_image.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

#include <fmt/core.h>

extern char** environ;

namespace xeno::harness {

namespace fs = std::filesystem;

namespace {

std::string errno_text(int error)
{
    return std::strerror(error);
}

// A directory of its own under $TMPDIR, removed at the end of the scope.
class ScratchDir {
public:
    ScratchDir()
    {
        std::string pattern = (fs::temp_directory_path() / "xeno-nasm-XXXXXX").string();
        if (::mkdtemp(pattern.data()) != nullptr) {
            path_ = pattern;
        }
    }
    ~ScratchDir()
    {
        std::error_code ec;
        if (!path_.empty()) {
            fs::remove_all(path_, ec);
        }
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

std::string first_line(const std::string& text)
{
    std::string line = text.substr(0, text.find('\n'));
    return line.empty() ? std::string("no message") : line;
}

// nasm -f bin, as scenarios/CMakeLists.txt runs it: the scenario's own
// directory and the tree's scenarios/include/ on the include path.
Outcome<std::vector<std::uint8_t>> assemble(const fs::path& source, const fs::path& image_name)
{
    ScratchDir scratch;
    if (scratch.path().empty()) {
        return Failure{fmt::format("cannot assemble {}: no temporary directory ({})", source.string(),
                                   errno_text(errno))};
    }
    std::string nasm = XENO_NASM_PATH;
    std::error_code ec;
    if (nasm.empty() || !fs::exists(nasm, ec)) {
        nasm = "nasm";  // the one on PATH
    }
    const fs::path out = scratch.path() / image_name;
    const fs::path messages = scratch.path() / "nasm.txt";
    std::vector<std::string> argv = {nasm,
                                     "-f",
                                     "bin",
                                     "-w+all",
                                     "-I" + (source.parent_path().empty() ? std::string(".") : source.parent_path().string()) + "/",
                                     std::string("-I") + XENO_SCENARIO_INCLUDE_DIR + "/",
                                     "-o",
                                     out.string(),
                                     source.string()};
    std::vector<char*> args;
    for (std::string& a : argv) {
        args.push_back(a.data());
    }
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, messages.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    pid_t pid = 0;
    const int spawned = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (spawned != 0) {
        return Failure{fmt::format("cannot assemble {}: cannot run {} ({})", source.string(), nasm,
                                   errno_text(spawned))};
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return Failure{fmt::format("cannot assemble {}: lost {} ({})", source.string(), nasm, errno_text(errno))};
        }
    }
    std::ifstream said_in(messages);
    std::ostringstream said;
    said << said_in.rdbuf();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
            return Failure{fmt::format("cannot assemble {}: {} is not installed", source.string(), nasm)};
        }
        return Failure{fmt::format("cannot assemble {}: {}", source.string(), first_line(said.str()))};
    }
    std::ifstream in(out, std::ios::binary);
    if (!in) {
        return Failure{fmt::format("cannot assemble {}: nasm wrote no {}", source.string(), out.string())};
    }
    return std::vector<std::uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

fs::path executable_dir()
{
    std::error_code ec;
    fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    return ec ? fs::path() : exe.parent_path();
}

bool built_from(const Scenario& scenario, const fs::path& exe_dir)
{
    if (exe_dir.empty()) {
        return false;
    }
    std::ifstream in(exe_dir / "scenarios" / scenario.name / kSourceDirMarker);
    std::string recorded;
    if (!in || !std::getline(in, recorded) || recorded.empty()) {
        return false;
    }
    std::error_code ec;
    return fs::equivalent(recorded, scenario.dir.empty() ? fs::path(".") : scenario.dir, ec) && !ec;
}

Outcome<fs::path> find_scenario_file(const Scenario& scenario, std::string_view file, std::string_view what,
                                     const fs::path& exe_dir)
{
    std::error_code ec;
    fs::path built;
    if (built_from(scenario, exe_dir)) {
        built = exe_dir / "scenarios" / scenario.name / file;
        if (fs::is_regular_file(built, ec)) {
            return built;
        }
    }
    fs::path local = scenario.dir / file;
    if (fs::is_regular_file(local, ec)) {
        return local;
    }
    if (built.empty()) {
        return Failure{fmt::format("{} {} not found", what, local.string())};
    }
    return Failure{fmt::format("{} not found: neither {} nor {} exists (build the sim build first)", what,
                               built.string(), local.string())};
}

Outcome<GuestImageSource> find_guest_image(const Scenario& scenario, const fs::path& exe_dir)
{
    std::error_code ec;
    fs::path built;
    if (built_from(scenario, exe_dir)) {
        built = exe_dir / "scenarios" / scenario.name / scenario.image;
        if (fs::is_regular_file(built, ec)) {
            return GuestImageSource{built, false};
        }
    }
    fs::path local = scenario.dir / scenario.image;
    if (fs::is_regular_file(local, ec)) {
        return GuestImageSource{local, false};
    }
    fs::path source = local;
    source.replace_extension(".asm");
    if (fs::is_regular_file(source, ec)) {
        return GuestImageSource{source, true};
    }
    if (!built.empty()) {
        return Failure{fmt::format("guest image not found: neither {} nor {} exists, nor {} to assemble it from "
                                   "(build the sim build first)",
                                   built.string(), local.string(), source.filename().string())};
    }
    return Failure{fmt::format("guest image {} not found, nor {} to assemble it from (no build of xeno made this "
                               "scenario directory's files)",
                               local.string(), source.string())};
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

Outcome<std::vector<std::uint8_t>> load_guest_image(const Scenario& scenario, const GuestImageSource& source)
{
    if (source.assemble) {
        Outcome<std::vector<std::uint8_t>> bytes = assemble(source.path, fs::path(scenario.image).filename());
        if (bytes.ok()) {
            if (auto problem = check_image_fits(scenario, bytes.value().size(), source.path)) {
                return Failure{*problem};
            }
        }
        return bytes;
    }
    const fs::path& image = source.path;
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
        return Failure{fmt::format("cannot read guest image {}: {}", image.string(), errno_text(errno))};
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

Outcome<std::vector<std::uint8_t>> read_input_file(const fs::path& file, std::string_view what,
                                                   std::uint64_t max_bytes)
{
    std::error_code ec;
    if (fs::is_directory(file, ec)) {
        return Failure{fmt::format("cannot read the {} {}: it is a directory", what, file.string())};
    }
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        return Failure{fmt::format("cannot read the {} {}: {}", what, file.string(), errno_text(errno))};
    }
    const std::uintmax_t size = fs::file_size(file, ec);
    if (!ec && size > max_bytes) {
        return Failure{fmt::format("the {} {} has {} bytes, more than xeno hands a guest ({} MiB)", what,
                                   file.string(), size, max_bytes >> 20)};
    }
    std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) {
        return Failure{fmt::format("error reading the {} {}", what, file.string())};
    }
    return bytes;
}

}  // namespace xeno::harness
