// scenario.toml loading and validation (format: scenarios/README.md).
#include "harness/scenario.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <fmt/core.h>
#include <toml++/toml.h>

namespace xeno::harness {

namespace fs = std::filesystem;

bool is_known_profile(std::string_view profile)
{
    return std::find(std::begin(kKnownProfiles), std::end(kKnownProfiles), profile) != std::end(kKnownProfiles);
}

bool is_known_paging_mode(std::string_view mode)
{
    return std::find(std::begin(kKnownPagingModes), std::end(kKnownPagingModes), mode) !=
           std::end(kKnownPagingModes);
}

bool profile_has_paging(std::string_view profile, std::string_view mode)
{
    // IA32_VMX_PROCBASED_CTLS2 of penryn lacks "enable EPT".
    return mode == "shadow" || (mode == "ept" && profile != "penryn");
}

std::string_view default_paging(std::string_view profile)
{
    return profile_has_paging(profile, "ept") ? "ept" : "shadow";
}

bool Scenario::lists_profile(std::string_view profile) const
{
    return std::find(profiles.begin(), profiles.end(), profile) != profiles.end();
}

namespace {

// An error message is one line (outcome.hpp), but it may quote the file: a
// quoted key can hold a newline, and toml++ quotes the character a syntax
// error stopped at, newline included. Control characters are escaped.
std::string one_line(std::string_view text)
{
    std::string out;
    for (char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7f)
            out += fmt::format("\\x{:02x}", byte);
        else
            out += c;
    }
    return out;
}

const char* type_name(const toml::node& node)
{
    switch (node.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a floating-point number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::none: break;
    }
    return "nothing";
}

// Reads typed values out of one parsed file, remembering the first problem
// as "<file>: <key>: <what>".
class Reader {
public:
    explicit Reader(const fs::path& file) : file_(file.string()) {}

    bool failed() const { return !error_.empty(); }
    const std::string& error() const { return error_; }

    void fail(std::string_view key, std::string_view what)
    {
        if (error_.empty()) {
            error_ = one_line(fmt::format("{}: {}: {}", file_, key, what));
        }
    }

    // Only the keys in `allowed` may appear in `table` (a misspelt key is an
    // error, not a silently ignored setting).
    void only_keys(const toml::table& table, std::string_view prefix, std::initializer_list<std::string_view> allowed)
    {
        for (auto&& [key, node] : table) {
            (void)node;
            if (std::find(allowed.begin(), allowed.end(), key.str()) == allowed.end()) {
                std::string full = prefix.empty() ? std::string(key.str()) : fmt::format("{}.{}", prefix, key.str());
                fail(full, "unknown key");
            }
        }
    }

    const toml::table* table(const toml::table& parent, std::string_view key, bool required)
    {
        const toml::node* node = parent.get(key);
        if (node == nullptr) {
            if (required) {
                fail(key, "missing table (required)");
            }
            return nullptr;
        }
        if (!node->is_table()) {
            fail(key, fmt::format("expected a table, got {}", type_name(*node)));
            return nullptr;
        }
        return node->as_table();
    }

    std::optional<std::string> string(const toml::table& t, std::string_view prefix, std::string_view key,
                                      bool required)
    {
        const toml::node* node = t.get(key);
        std::string full = join(prefix, key);
        if (node == nullptr) {
            if (required) {
                fail(full, "missing (required)");
            }
            return std::nullopt;
        }
        if (!node->is_string()) {
            fail(full, fmt::format("expected a string, got {}", type_name(*node)));
            return std::nullopt;
        }
        return std::string(node->as_string()->get());
    }

    // An integer in [lo, hi]; a missing required key or a bad one fails.
    std::optional<std::uint64_t> integer(const toml::table& t, std::string_view prefix, std::string_view key,
                                         std::int64_t lo, std::int64_t hi, bool hex, bool required = true)
    {
        const toml::node* node = t.get(key);
        std::string full = join(prefix, key);
        if (node == nullptr) {
            if (required) {
                fail(full, "missing (required)");
            }
            return std::nullopt;
        }
        if (!node->is_integer()) {
            fail(full, fmt::format("expected an integer, got {}", type_name(*node)));
            return std::nullopt;
        }
        std::int64_t v = node->as_integer()->get();
        if (v < lo || v > hi) {
            if (hex) {
                fail(full, fmt::format("expected an integer from {:#x} to {:#x}, got {}", lo, hi,
                                       v < 0 ? fmt::format("{}", v) : fmt::format("{:#x}", v)));
            } else {
                fail(full, fmt::format("expected an integer from {} to {}, got {}", lo, hi, v));
            }
            return std::nullopt;
        }
        return static_cast<std::uint64_t>(v);
    }

    static std::string join(std::string_view prefix, std::string_view key)
    {
        return prefix.empty() ? std::string(key) : fmt::format("{}.{}", prefix, key);
    }

private:
    std::string file_;
    std::string error_;
};

// A file a scenario names: relative to its directory (or its build
// directory, where CMake puts what it builds), inside it.
bool is_scenario_relative(std::string_view name)
{
    if (name.empty() || name.front() == '/') {
        return false;
    }
    for (const auto& part : fs::path(name)) {
        if (part == "..") {
            return false;
        }
    }
    return true;
}

void read_kernel(Reader& r, const toml::table& guest, Scenario& s)
{
    for (const char* key : {"load_address", "entry"}) {
        if (guest.get(key) != nullptr) {
            r.fail(fmt::format("guest.{}", key), "only with guest.image (a kernel says where it goes)");
        }
    }
    if (auto kernel = r.string(guest, "guest", "kernel", true)) {
        if (!is_scenario_relative(*kernel)) {
            r.fail("guest.kernel", "must be a file in the scenario directory (or its build directory)");
        }
        s.kernel = *kernel;
    }
    if (auto initrd = r.string(guest, "guest", "initrd", false)) {
        if (!is_scenario_relative(*initrd)) {
            r.fail("guest.initrd", "must be a file in the scenario directory (or its build directory)");
        }
        s.initrd = *initrd;
    }
    if (auto append = r.string(guest, "guest", "append", false)) {
        if (append->find('\0') != std::string::npos) {
            r.fail("guest.append", "must not contain a NUL character");
        }
        s.append = *append;
    }
    if (const toml::node* pvh = guest.get("pvh")) {
        if (!pvh->is_boolean()) {
            r.fail("guest.pvh", fmt::format("expected a boolean, got {}", type_name(*pvh)));
        } else {
            s.pvh = pvh->as_boolean()->get();
        }
    }
    s.memory_mb = kDefaultKernelMemoryMb;
    if (auto mb = r.integer(guest, "guest", "memory_mb", 1, static_cast<std::int64_t>(kMaxKernelMemoryMb), false,
                            false)) {
        s.memory_mb = *mb;
    }
}

void read_image(Reader& r, const toml::table& guest, Scenario& s)
{
    for (const char* key : {"initrd", "append", "pvh"}) {
        if (guest.get(key) != nullptr) {
            r.fail(fmt::format("guest.{}", key), "only with guest.kernel");
        }
    }
    if (auto image = r.string(guest, "guest", "image", false)) {
        if (image->empty()) {
            r.fail("guest.image", "must not be empty");
        }
        s.image = *image;
    } else if (guest.get("image") == nullptr) {
        r.fail("guest.image", "missing (required unless guest.kernel names a kernel)");
    }
    if (auto mb = r.integer(guest, "guest", "memory_mb", 1, static_cast<std::int64_t>(kMaxGuestMemoryMb), false)) {
        s.memory_mb = *mb;
    }
    // The load address is checked against the memory size once both are known.
    if (auto load = r.integer(guest, "guest", "load_address", 0, (static_cast<std::int64_t>(kMaxGuestMemoryMb) << 20) - 1,
                              true)) {
        s.load_address = *load;
        if (s.memory_mb != 0 && s.load_address >= s.memory_bytes()) {
            r.fail("guest.load_address",
                   fmt::format("{:#x} is outside guest memory ({} MiB)", s.load_address, s.memory_mb));
        }
    }
    if (auto entry = r.integer(guest, "guest", "entry", 0, static_cast<std::int64_t>(kMaxRealModeEntry), true)) {
        s.entry = *entry;
        if (!r.failed() && s.entry < s.load_address) {
            r.fail("guest.entry", fmt::format("{:#x} is below the load address {:#x}", s.entry, s.load_address));
        }
    }
}

void read_guest(Reader& r, const toml::table& guest, Scenario& s)
{
    r.only_keys(guest, "guest", {"image", "load_address", "entry", "memory_mb", "smp", "serial_in", "kernel", "initrd",
                                 "append", "pvh", "debug_exit", "on_reset"});
    if (auto smp = r.integer(guest, "guest", "smp", 1, kMaxSmp, false, false)) {
        s.smp = static_cast<std::uint32_t>(*smp);
    }
    if (auto input = r.string(guest, "guest", "serial_in", false)) {
        if (input->empty() || input->find('/') != std::string::npos) {
            r.fail("guest.serial_in", "must be a file name in the scenario directory");
        } else {
            s.serial_in = *input;
        }
    }
    if (auto style = r.string(guest, "guest", "debug_exit", false)) {
        if (*style != "xeno" && *style != "qemu") {
            r.fail("guest.debug_exit", fmt::format("expected \"xeno\" or \"qemu\", got \"{}\"", *style));
        } else {
            s.debug_exit = *style;
        }
    }
    if (auto action = r.string(guest, "guest", "on_reset", false)) {
        if (*action != "exit" && *action != "restart") {
            r.fail("guest.on_reset", fmt::format("expected \"exit\" or \"restart\", got \"{}\"", *action));
        } else {
            s.on_reset = *action;
        }
    }
    const bool has_image = guest.get("image") != nullptr;
    const bool has_kernel = guest.get("kernel") != nullptr;
    if (has_image && has_kernel) {
        r.fail("guest.kernel", "guest.image and guest.kernel exclude each other (a flat image or a kernel)");
        return;
    }
    if (has_kernel) {
        read_kernel(r, guest, s);
    } else {
        read_image(r, guest, s);
    }
}

// What one [run] list holds: its key, what an element is called in errors,
// the known values, and what to say when the list is empty.
struct NameList {
    const char* key;    // "run.profiles"
    const char* noun;   // "profile"
    bool (*known)(std::string_view);
    const char* known_names;  // "penryn, skylake"
    const char* empty_message;
};

// An array of known names, each at most once; false after r.fail otherwise.
bool read_names(Reader& r, const toml::node& node, const NameList& list, std::vector<std::string>& out)
{
    if (!node.is_array()) {
        r.fail(list.key, fmt::format("expected an array of strings, got {}", type_name(node)));
        return false;
    }
    if (node.as_array()->empty()) {
        r.fail(list.key, list.empty_message);
        return false;
    }
    for (const toml::node& item : *node.as_array()) {
        if (!item.is_string()) {
            r.fail(list.key, fmt::format("expected an array of strings, found {}", type_name(item)));
            return false;
        }
        std::string name(item.as_string()->get());
        if (!list.known(name)) {
            r.fail(list.key, fmt::format("unknown {} \"{}\" (known: {})", list.noun, name, list.known_names));
            return false;
        }
        if (std::find(out.begin(), out.end(), name) != out.end()) {
            r.fail(list.key, fmt::format("{} \"{}\" listed twice", list.noun, name));
            return false;
        }
        out.push_back(std::move(name));
    }
    return true;
}

// [run] paging: optional; known modes, each once, and every listed profile
// must have one of them (else it would silently run nothing).
void read_paging(Reader& r, const toml::table& run, Scenario& s)
{
    const toml::node* node = run.get("paging");
    if (node == nullptr || r.failed()) {
        return;
    }
    const NameList list{"run.paging", "paging mode", &is_known_paging_mode, "ept, shadow",
                        "must list at least one paging mode (or leave the key out for the profile's default)"};
    if (!read_names(r, *node, list, s.paging)) {
        return;
    }
    for (const std::string& profile : s.profiles) {
        const bool any = std::any_of(s.paging.begin(), s.paging.end(),
                                     [&](const std::string& mode) { return profile_has_paging(profile, mode); });
        if (!any) {
            r.fail("run.paging", fmt::format("profile \"{}\" has none of these paging modes ({} has no EPT)",
                                             profile, profile));
            return;
        }
    }
}

void read_run(Reader& r, const toml::table& run, Scenario& s)
{
    r.only_keys(run, "run", {"profiles", "max_instructions", "paging", "max_vtime_ms", "quantum_us", "bochs_cpus"});
    if (auto cpus = r.integer(run, "run", "bochs_cpus", 1, kMaxBochsCpus, false, false)) {
        s.bochs_cpus = static_cast<std::uint32_t>(*cpus);
    }
    if (auto vtime = r.integer(run, "run", "max_vtime_ms", 1, 1000000000, false, false)) {
        s.max_vtime_ms = *vtime;
    }
    if (auto quantum = r.integer(run, "run", "quantum_us", 1, 1000000, false, false)) {
        s.quantum_us = *quantum;
    }
    const toml::node* node = run.get("profiles");
    if (node == nullptr) {
        r.fail("run.profiles", "missing (required)");
    } else {
        const NameList list{"run.profiles", "profile", &is_known_profile, "penryn, skylake",
                            "must list at least one profile"};
        read_names(r, *node, list, s.profiles);
    }
    // Required for a flat image (a guest that never ends must not hang CI);
    // a kernel may leave it out and rely on [run] max_vtime_ms.
    if (auto max = r.integer(run, "run", "max_instructions", 1, std::numeric_limits<std::int64_t>::max(), false,
                             !s.is_kernel())) {
        s.max_instructions = *max;
    }
    read_paging(r, run, s);
}

void read_expect(Reader& r, const toml::table& expect, Scenario& s)
{
    r.only_keys(expect, "expect", {"status", "console", "end"});
    Expectation e;
    if (auto status = r.integer(expect, "expect", "status", 0, 255, false)) {
        e.status = static_cast<int>(*status);
    }
    if (auto end = r.string(expect, "expect", "end", false)) {
        if (*end != "exit" && *end != "poweroff" && *end != "crash" && *end != "halted" && *end != "reset") {
            r.fail("expect.end", fmt::format("expected one of exit, poweroff, crash, halted, reset, got \"{}\"", *end));
        } else {
            e.end = *end;
        }
    }
    e.console = r.string(expect, "expect", "console", false);
    s.expect = std::move(e);
}

std::string dir_name(const fs::path& dir)
{
    fs::path p = dir.lexically_normal();
    if (!p.has_filename()) {
        p = p.parent_path();  // "scenarios/hello/" normalises to a trailing empty name
    }
    std::string name = p.filename().string();
    if (name.empty() || name == "." || name == "..") {
        name = fs::absolute(p).lexically_normal().filename().string();
    }
    return name;
}

}  // namespace

std::optional<std::string> check_toml_shape(std::string_view text)
{
    if (text.size() > kMaxScenarioFileBytes) {
        return fmt::format("{} bytes, more than a scenario file may have ({} KiB)", text.size(),
                           kMaxScenarioFileBytes >> 10);
    }
    // A scan of what toml++ recurses on: dots (dotted keys: table headers,
    // keys, inline tables) and [ { nesting, outside strings and comments.
    // Scenario files have no floating-point values, so a dot outside a
    // string is a key's.
    enum class In { CODE, COMMENT, BASIC, LITERAL, ML_BASIC, ML_LITERAL };
    In in = In::CODE;
    unsigned line = 1;
    unsigned dots = 0;
    unsigned depth = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        const bool triple = i + 2 < text.size() && text[i + 1] == c && text[i + 2] == c;
        if (c == '\n') {
            ++line;
            dots = 0;
            if (in == In::COMMENT || in == In::BASIC || in == In::LITERAL) {
                in = In::CODE;  // single-line strings end here (toml++ reports the error)
            }
            continue;
        }
        switch (in) {
        case In::CODE:
            if (c == '#') {
                in = In::COMMENT;
            } else if (c == '"') {
                in = triple ? In::ML_BASIC : In::BASIC;
                i += triple ? 2 : 0;
            } else if (c == '\'') {
                in = triple ? In::ML_LITERAL : In::LITERAL;
                i += triple ? 2 : 0;
            } else if (c == '.') {
                if (++dots > kMaxTomlDotsPerLine) {
                    return fmt::format("line {}: more than {} dots outside strings (a dotted key that long is not "
                                       "a scenario's)",
                                       line, kMaxTomlDotsPerLine);
                }
            } else if (c == '[' || c == '{') {
                if (++depth > kMaxTomlNesting) {
                    return fmt::format("line {}: arrays or inline tables nested more than {} deep", line,
                                       kMaxTomlNesting);
                }
            } else if ((c == ']' || c == '}') && depth > 0) {
                --depth;
            }
            break;
        case In::COMMENT: break;
        case In::BASIC:
        case In::ML_BASIC:
            if (c == '\\') {
                ++i;  // the escaped character (a newline after a backslash in a """ string is a line too)
                if (i < text.size() && text[i] == '\n') {
                    ++line;
                }
            } else if (c == '"' && (in == In::BASIC || triple)) {
                i += in == In::BASIC ? 0 : 2;
                in = In::CODE;
            }
            break;
        case In::LITERAL:
        case In::ML_LITERAL:
            if (c == '\'' && (in == In::LITERAL || triple)) {
                i += in == In::LITERAL ? 0 : 2;
                in = In::CODE;
            }
            break;
        }
    }
    return std::nullopt;
}

Outcome<Scenario> parse_scenario(std::string_view text, const fs::path& file)
{
    if (auto problem = check_toml_shape(text)) {
        return Failure{fmt::format("{}: {}", file.string(), *problem)};
    }
    toml::table root;
    try {
        root = toml::parse(text, file.string());
    } catch (const toml::parse_error& e) {
        const toml::source_region& where = e.source();
        return Failure{fmt::format("{}:{}:{}: {}", file.string(), where.begin.line, where.begin.column,
                                   one_line(e.description()))};
    }

    Scenario s;
    s.file = file;
    s.dir = file.parent_path();
    s.name = dir_name(s.dir.empty() ? fs::path(".") : s.dir);

    Reader r(file);
    r.only_keys(root, "", {"description", "guest", "run", "expect"});
    if (auto d = r.string(root, "", "description", false)) {
        s.description = *d;
    }
    if (const toml::table* guest = r.table(root, "guest", true)) {
        read_guest(r, *guest, s);
    }
    if (const toml::table* run = r.table(root, "run", true)) {
        read_run(r, *run, s);
    }
    if (const toml::table* expect = r.table(root, "expect", false)) {
        read_expect(r, *expect, s);
    }
    if (r.failed()) {
        return Failure{r.error()};
    }
    return s;
}

Outcome<Scenario> load_scenario(const fs::path& dir)
{
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
        return Failure{fmt::format("no scenario at {}: not a directory", dir.string())};
    }
    fs::path file = dir / "scenario.toml";
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        return Failure{fmt::format("no scenario at {}: cannot read {}", dir.string(), file.string())};
    }
    // Refuse a huge file before reading it all.
    if (std::uintmax_t size = fs::file_size(file, ec); !ec && size > kMaxScenarioFileBytes) {
        return Failure{fmt::format("{}: {} bytes, more than a scenario file may have ({} KiB)", file.string(), size,
                                   kMaxScenarioFileBytes >> 10)};
    }
    std::ostringstream text;
    text << in.rdbuf();
    Outcome<Scenario> s = parse_scenario(text.str(), file);
    if (s.ok()) {
        s.value().name = dir_name(dir);
        s.value().dir = dir;
    }
    return s;
}

}  // namespace xeno::harness
