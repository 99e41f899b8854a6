// The adversarial table (rows.hpp) in the hw build, in Bochs: every row with
// a hardware path (no `no_bochs`: the rows that end only at one of the sim's
// limits have none) on one paging mode, all in ONE Bochs boot. The hw kernel's
// batch mode (src/hal/hw/batch.cpp) runs the rows one after another from a
// single module and checks a decoy of 8 MiB of its memory around each run.
// A run passes only when, as in the sim build,
//   - it ends as the table says (the guest's status, a crash / halt / reset
//     whose reason holds the table's words, or the builder's refusal line);
//   - its log shows no hypervisor-side error (kHypervisorErrors);
//   - the decoy afterwards has every word of its pattern, and its hash is
//     the one logged when it was filled.
// The tests are hidden from test-adversarial's default run (tag [.bochs]);
// tests/CMakeLists.txt registers them as CTest tests `bochs.adversarial.*`.
// They need the hw build's xeno.elf (XENO_HW_BUILD_DIR, default build/hw
// next to this build), bochs, grub-mkrescue and objcopy; without one they
// print "adversarial-bochs: SKIP" (the tests' skip expression).
// The ISO, the batch module, Bochs's files and com1.txt stay in
// <build>/tests/adversarial/bochs/<boot>/.
#include <catch2/catch.hpp>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <fstream>
#include <iostream>
#include <sstream>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rows.hpp"

namespace {

using namespace xeno::adversarial;
namespace fs = std::filesystem;

// The batch module's layout: src/hal/hw/batch.cpp (BatchHeader, BatchRun).
struct BatchHeader {
    char magic[16];
    std::uint32_t run_count;
    std::uint32_t entry_size;
    std::uint64_t decoy_bytes;
};
struct BatchRun {
    char name[64];
    char cmdline[224];
    char module[16];
    std::uint64_t image_offset;
    std::uint64_t image_size;
};
static_assert(sizeof(BatchHeader) == 32 && sizeof(BatchRun) == 320, "src/hal/hw/batch.cpp's layout");

constexpr std::uint64_t kDecoyBytes = std::uint64_t{8} << 20;  // as the sim build's table runs
constexpr std::uint64_t kPage = 4096;

struct Run {
    const Row* row;
    const char* paging;
    std::string name() const { return std::string(row->name) + "/" + paging; }
};

std::optional<std::string> read_file(const fs::path& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream bytes;
    bytes << in.rdbuf();
    return std::move(bytes).str();
}

std::optional<fs::path> find_program(const char* name)
{
    const char* path = std::getenv("PATH");
    std::string_view rest = path ? path : "/usr/bin:/bin:/usr/sbin:/sbin";
    while (!rest.empty()) {
        const std::size_t colon = rest.find(':');
        const fs::path candidate = fs::path(std::string(rest.substr(0, colon))) / name;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
        rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
    }
    return std::nullopt;
}

Bytes row_image(const Row& row)
{
    if (row.kernel) return row.kernel();
    const std::string path = std::string(row.guests_dir) + "/" + row.name + ".bin";
    const std::optional<std::string> bytes = read_file(path);
    INFO("guest image " << path);
    REQUIRE(bytes);
    return Bytes(bytes->begin(), bytes->end());
}

// The hypervisor's command line of a run: the sim table's (adversarial_test.cpp).
std::string run_cmdline(const Run& run)
{
    std::string c = run.row->kernel ? "guest_mem_mb=16" : "guest_mem_mb=16 guest_load=0x8000 guest_entry=0x8000";
    c += std::string(" paging=") + run.paging;
    if (run.row->smp > 1) c += " smp=" + std::to_string(run.row->smp);
    if (*run.row->extra) c += std::string(" ") + run.row->extra;
    return c;
}

template <std::size_t N>
void put_string(char (&field)[N], const std::string& s)
{
    REQUIRE(s.size() < N);
    std::memcpy(field, s.c_str(), s.size() + 1);
}

// The "xeno-batch" module: header, entries, then each row's image once
// (rows that run on several modes share it), 4 KiB aligned.
Bytes batch_module(const std::vector<Run>& runs)
{
    std::vector<const Row*> rows;
    std::vector<std::uint64_t> offsets;
    std::vector<Bytes> images;
    std::uint64_t at = (sizeof(BatchHeader) + runs.size() * sizeof(BatchRun) + kPage - 1) / kPage * kPage;
    for (const Run& run : runs) {
        bool seen = false;
        for (const Row* r : rows) seen = seen || r == run.row;
        if (seen) continue;
        rows.push_back(run.row);
        images.push_back(row_image(*run.row));
        offsets.push_back(at);
        at += (images.back().size() + kPage - 1) / kPage * kPage;
    }
    Bytes out(at, 0);
    BatchHeader header{};
    std::memcpy(header.magic, "XENO-BATCH-1", 13);
    header.run_count = static_cast<std::uint32_t>(runs.size());
    header.entry_size = sizeof(BatchRun);
    header.decoy_bytes = kDecoyBytes;
    std::memcpy(out.data(), &header, sizeof header);
    for (std::size_t i = 0; i < runs.size(); ++i) {
        BatchRun entry{};
        put_string(entry.name, runs[i].name());
        put_string(entry.cmdline, run_cmdline(runs[i]));
        put_string(entry.module, runs[i].row->kernel ? "kernel" : "guest");
        for (std::size_t r = 0; r < rows.size(); ++r)
            if (rows[r] == runs[i].row) {
                entry.image_offset = offsets[r];
                entry.image_size = images[r].size();
            }
        std::memcpy(out.data() + sizeof(BatchHeader) + i * sizeof(BatchRun), &entry, sizeof entry);
    }
    for (std::size_t r = 0; r < rows.size(); ++r)
        std::memcpy(out.data() + offsets[r], images[r].data(), images[r].size());
    return out;
}

bool write_file(const fs::path& path, std::string_view bytes)
{
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return static_cast<bool>(out);
}

std::string shell_quoted(const fs::path& p) { return "'" + p.string() + "'"; }

// One run's part of COM1: from its "batch: run" line to its decoy line.
struct RunLog {
    std::string text;          // every line, NUL bytes (a guest's console) dropped
    std::optional<int> result; // batch: result <name> status <n> after <t> us
    long long machine_us = 0;  // ... <t>: the run's time on the Bochs machine's clock
    std::string end;           // domain: end=<end> ...
    int end_status = 0;        // ... status <n>
    std::string end_reason;    // domain: ended (<end>) with status <n>: <reason>
    std::string decoy;         // batch: decoy hash 0x<h> (<k> words changed...)
};

std::string_view from(std::string_view line, std::string_view marker)
{
    const std::size_t at = line.find(marker);
    return at == std::string_view::npos ? std::string_view() : line.substr(at);
}

// One line of a run's part of COM1; `current` becomes null at its last line.
void note_run_line(std::string_view v, const std::string& line, RunLog*& current)
{
    current->text += line + "\n";
    if (auto result = from(v, "batch: result "); !result.empty()) {
        const std::size_t st = result.find(" status ");
        if (st != std::string_view::npos) current->result = std::atoi(std::string(result.substr(st + 8)).c_str());
        const std::size_t after = result.find(" after ");
        if (after != std::string_view::npos)
            current->machine_us = std::atoll(std::string(result.substr(after + 7)).c_str());
    } else if (auto end = from(v, "domain: end="); !end.empty()) {
        end.remove_prefix(12);
        current->end = std::string(end.substr(0, end.find(' ')));
        const std::size_t st = end.find(" status ");
        if (st != std::string_view::npos) current->end_status = std::atoi(std::string(end.substr(st + 8)).c_str());
    } else if (const auto ended = from(v, "domain: ended ("); !ended.empty()) {
        const std::size_t colon = ended.find(": ", 14);
        if (colon != std::string_view::npos) current->end_reason = std::string(ended.substr(colon + 2));
    } else if (const auto decoy = from(v, "batch: decoy hash "); !decoy.empty()) {
        current->decoy = std::string(decoy.substr(18));
        current = nullptr;
    }
}

std::vector<RunLog> split_runs(const std::string& com1, const std::vector<Run>& runs, std::string& decoy_hash,
                               bool& done)
{
    std::vector<RunLog> logs;
    logs.reserve(runs.size());  // `current` points into it
    RunLog* current = nullptr;
    std::size_t at = 0;
    while (at < com1.size()) {
        std::size_t nl = com1.find('\n', at);
        if (nl == std::string::npos) nl = com1.size();
        std::string line;
        for (std::size_t i = at; i < nl; ++i)
            if (com1[i] != '\0' && com1[i] != '\r') line += com1[i];
        at = nl + 1;
        const std::string_view v(line);
        if (const auto decoy = from(v, "batch: decoy at "); !decoy.empty()) {
            decoy_hash = std::string(decoy.substr(decoy.rfind(' ') + 1));
        } else if (const auto start = from(v, "batch: run ");
                   !start.empty() && logs.size() < runs.size() &&
                   start.find(" " + runs[logs.size()].name() + ": ") != std::string_view::npos) {
            logs.emplace_back();
            current = &logs.back();
        } else if (!from(v, "batch: done ").empty()) {
            done = true;
            current = nullptr;
        }
        if (current) note_run_line(v, line, current);
    }
    return logs;
}

// Whether one run's log shows the table's ending; `why` says what differs.
bool run_as_table_says(const Run& run, const RunLog& log, const std::string& decoy_hash, std::string& why)
{
    const Row& row = *run.row;
    const bool shadow = std::string(run.paging) == "shadow" && row.shadow_end != End::AS_EPT;
    const End end = shadow ? row.shadow_end : row.end;
    const int status = shadow ? row.shadow_status : row.status;
    const std::string reason = shadow ? row.shadow_reason : row.reason;
    if (!log.result || log.decoy.empty()) {
        why = "the run did not finish (no 'batch: result' and decoy line)";
        return false;
    }
    if (log.decoy != decoy_hash + " (0 words changed)") {
        why = "the decoy changed: " + log.decoy + ", filled with hash " + decoy_hash;
        return false;
    }
    for (const char* bad : kHypervisorErrors)
        if (log.text.find(bad) != std::string::npos) {
            why = std::string("a hypervisor-side error in the log: '") + bad + "'";
            return false;
        }
    if (end == End::REFUSED) {
        const std::string line = "domain: kernel refused: " + reason + "\n";
        if (log.text.find(line) == std::string::npos || log.text.find("domain: running guest") != std::string::npos) {
            why = "expected the line '" + line.substr(0, line.size() - 1) + "' and no guest run";
            return false;
        }
        return true;
    }
    if (log.end != end_name(end)) {
        why = "ended '" + log.end + "' (" + log.end_reason + "), the table says '" + end_name(end) + "'";
        return false;
    }
    if (end == End::STATUS) {
        if (log.end_status != status || *log.result != status) {
            why = "status " + std::to_string(log.end_status) + " (start() returned " + std::to_string(*log.result) +
                  "), the table says " + std::to_string(status);
            return false;
        }
    } else if (log.end_reason.find(reason) == std::string::npos) {
        why = "reason '" + log.end_reason + "', the table says '" + reason + "'";
        return false;
    }
    return true;
}

struct Tools {
    fs::path xeno_elf, bochs, grub_mkrescue, objcopy;
};

std::optional<Tools> find_tools()
{
    const char* hw = std::getenv("XENO_HW_BUILD_DIR");
    Tools t;
    t.xeno_elf = fs::path(hw && *hw ? hw : XENO_BINARY_DIR "/../hw") / "xeno.elf";
    const auto bochs = find_program("bochs");
    const auto mkrescue = find_program("grub-mkrescue");
    const auto objcopy = find_program("objcopy");
    std::string missing;
    if (!fs::is_regular_file(t.xeno_elf)) missing += " " + t.xeno_elf.lexically_normal().string() + " (the hw build)";
    if (!bochs) missing += " bochs";
    if (!mkrescue) missing += " grub-mkrescue";
    if (!objcopy) missing += " objcopy";
    if (!missing.empty()) {
        std::cout << "adversarial-bochs: SKIP: missing" << missing << std::endl;
        return std::nullopt;
    }
    t.bochs = *bochs;
    t.grub_mkrescue = *mkrescue;
    t.objcopy = *objcopy;
    return t;
}

// The ISO: GRUB boots xeno.elf (debug info stripped: GRUB reads less from
// the CD) with the batch as its one module.
void make_iso(const Tools& tools, const fs::path& dir, const Bytes& batch)
{
    const fs::path stage = dir / "iso";
    fs::remove_all(stage);
    fs::create_directories(stage / "boot" / "grub");
    REQUIRE(std::system(("'" + tools.objcopy.string() + "' --strip-debug " + shell_quoted(tools.xeno_elf) + " " +
                         shell_quoted(stage / "boot" / "xeno.elf")).c_str()) == 0);
    REQUIRE(write_file(stage / "boot" / "batch.bin",
                       std::string_view(reinterpret_cast<const char*>(batch.data()), batch.size())));
    REQUIRE(write_file(stage / "boot" / "grub" / "grub.cfg",
                       "set timeout=0\nset timeout_style=hidden\nset default=0\n"
                       "menuentry \"xeno adversarial batch\" {\n  multiboot2 /boot/xeno.elf\n"
                       "  module2 /boot/batch.bin xeno-batch\n  boot\n"
                       "  serial --unit=0 --speed=115200\n  terminal_output serial\n"
                       "  echo \"xeno-grub: could not boot /boot/xeno.elf\"\n}\n"));
    // The flags of src/hal/hw/CMakeLists.txt's xeno_hw_iso: BIOS GRUB with the modules the boot needs.
    const std::string cmd = shell_quoted(tools.grub_mkrescue) + " -o " + shell_quoted(dir / "adversarial.iso") +
                            " '--install-modules=normal multiboot2 iso9660 biosdisk configfile boot serial "
                            "terminal echo' --locales= --fonts= --themes= --compress=no " +
                            shell_quoted(stage) + " 2> " + shell_quoted(dir / "grub-mkrescue.log");
    REQUIRE(std::system(cmd.c_str()) == 0);
}

// A run in the batch that makes no progress for this long has hung (the
// longest rows take tens of seconds, several times that on a loaded machine).
constexpr int kStallSeconds = 300;

std::size_t count_of(const std::string& text, std::string_view what)
{
    std::size_t n = 0;
    for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

// Sends `sig` to the children of `parent` (run-bochs.sh's `timeout`, which
// passes it on to Bochs; the script then still collects its files).
void signal_children(pid_t parent, int sig)
{
    for (const fs::directory_entry& e : fs::directory_iterator("/proc")) {
        const std::string name = e.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        const std::string stat = read_file(e.path() / "stat").value_or("");
        const std::size_t close = stat.rfind(')');
        if (close == std::string::npos) continue;
        int ppid = 0;
        char state = 0;
        if (std::sscanf(stat.c_str() + close + 1, " %c %d", &state, &ppid) == 2 && ppid == parent)
            ::kill(std::stoi(name), sig);
    }
}

struct BootResult {
    std::string com1;
    std::string said;  // run-bochs.sh's last line
    int rc = -1;
    bool stalled = false;
    double wall = 0;
};

// One Bochs boot of `iso` through run-bochs.sh; ended early when no run of
// the batch finishes for kStallSeconds.
BootResult boot_bochs(const fs::path& iso, const char* profile, const fs::path& dir)
{
    const char* ips = std::getenv("XENO_BOCHS_IPS");
    const std::string rig = std::string(XENO_SOURCE_DIR) + "/harness/bochs/run-bochs.sh";
    const std::string cmd = std::string("XENO_BOCHS_CPUS=1 XENO_BOCHS_IPS=") + (ips && *ips ? ips : "100000000") +
                            " exec sh " + shell_quoted(rig) + " " + shell_quoted(iso) + " " + profile + " " +
                            shell_quoted(dir / "rig") + " 3600 > " + shell_quoted(dir / "run-bochs.txt") + " 2>&1";
    BootResult r;
    const auto begin = std::chrono::steady_clock::now();
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    std::size_t finished = 0;
    auto progress = std::chrono::steady_clock::now();
    int status = 0;
    for (;;) {
        const pid_t done = ::waitpid(pid, &status, WNOHANG);
        if (done == pid) break;
        ::sleep(1);
        const std::size_t now_finished =
            count_of(read_file(dir / "rig" / "com1.txt").value_or(""), "batch: decoy hash ");
        if (now_finished != finished) {
            finished = now_finished;
            progress = std::chrono::steady_clock::now();
        } else if (!r.stalled && std::chrono::steady_clock::now() - progress > std::chrono::seconds(kStallSeconds)) {
            r.stalled = true;
            signal_children(pid, SIGTERM);
        }
    }
    r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
    r.said = read_file(dir / "run-bochs.txt").value_or("");
    r.com1 = read_file(dir / "rig" / "com1.txt").value_or("");
    return r;
}

// Boots the runs (all on `profile`) in Bochs and checks each against the
// table. A run that hangs fails; the runs after it get a boot of their own.
void run_in_bochs(const char* boot, const char* profile, const std::vector<Run>& runs)
{
    const std::optional<Tools> tools = find_tools();
    if (!tools) return;
    const fs::path top = fs::path(XENO_BINARY_DIR) / "tests" / "adversarial" / "bochs" / boot;
    fs::remove_all(top);

    std::size_t passed = 0, next = 0, boots = 0;
    double wall = 0;
    while (next < runs.size()) {
        const std::vector<Run> rest(runs.begin() + static_cast<std::ptrdiff_t>(next), runs.end());
        const fs::path dir = boots == 0 ? top : top / ("after-" + std::to_string(next));
        fs::create_directories(dir);
        make_iso(*tools, dir, batch_module(rest));
        const BootResult b = boot_bochs(dir / "adversarial.iso", profile, dir);
        ++boots;
        wall += b.wall;
        INFO("Bochs (" << profile << "): " << b.said << "files in " << dir.string());
        std::string decoy_hash;
        bool done = false;
        const std::vector<RunLog> logs = split_runs(b.com1, rest, decoy_hash, done);
        CHECK(!decoy_hash.empty());
        // The runs that finished, then the one that hung (if any).
        std::size_t checked = 0;
        for (; checked < rest.size() && checked < logs.size(); ++checked) {
            std::string why;
            bool ok = run_as_table_says(rest[checked], logs[checked], decoy_hash, why);
            if (!logs[checked].result && b.stalled)
                why = "no end in Bochs within " + std::to_string(kStallSeconds) + " s (hung)";
            std::cout << "adversarial-bochs: " << profile << " " << rest[checked].name() << ": "
                      << (ok ? "ok" : "FAIL: " + why) << " (" << logs[checked].machine_us / 1000
                      << " ms of machine time)" << std::endl;
            INFO(rest[checked].name() << " on " << profile << ": " << why << "\nlog:\n" << logs[checked].text);
            CHECK(ok);
            passed += ok;
            if (!logs[checked].result) {
                ++checked;
                break;
            }
        }
        if (done && checked == rest.size()) {
            CHECK(b.rc == 0);  // run-bochs.sh: "xeno: exit status 0"
            next = runs.size();
        } else if (checked == 0) {
            FAIL_CHECK("the batch started no run: " << b.said);
            next = runs.size();
        } else {
            CHECK(b.stalled);  // else the kernel died: the rest are not run
            next = b.stalled ? next + checked : runs.size();
        }
    }
    std::cout << "adversarial-bochs: " << boot << ": " << passed << " of " << runs.size()
              << " runs as the table says, " << boots << " Bochs boot(s), " << wall << " s" << std::endl;
    CHECK(passed == runs.size());
}

// XENO_ADVERSARIAL_ROWS=name,name,...: only those rows (to look into one
// row in Bochs without the whole table's boot); unset or empty: all.
bool row_selected(const Row& row)
{
    const char* only = std::getenv("XENO_ADVERSARIAL_ROWS");
    if (!only || !*only) return true;
    std::string_view list(only);
    while (!list.empty()) {
        const std::size_t comma = list.find(',');
        if (list.substr(0, comma) == row.name) return true;
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
    return false;
}

// Every row that runs in Bochs, on one mode.
std::vector<Run> all_runs(const char* paging)
{
    std::vector<Run> runs;
    for (const Row& row : kRows)
        if (!row.no_bochs && row_selected(row)) runs.push_back(Run{&row, paging});
    return runs;
}

// The CI's share (label bochs without slow): rows of each group of the
// table and each kind of ending (status, crash with each paging mode's own
// reason, triple fault, halted, a timer's crash, SMP, the builder's
// refusals), without the longest storms (I/O ports, the MMIO hole, CR3,
// SIPIs, self IPIs: 1.5-4 s of machine time each, the others 0.25-0.8 s).
constexpr const char* kSubset[] = {
    "ram_past_end", "exec_mmio", "vmx_long", "msr_noncanonical", "msr_scan", "pt_wild_frames",
    "pt_reserved_bits", "smc_cross_page", "cr3_past_ram", "pae_pdpt_past_ram", "stack_mmio", "idt_limit_zero", "triple_fault_paged",
    "lapic_timer_storm", "rtc_storm", "ipi_storm_smp", "hypercall_misuse", "evtchn_abuse", "grant_abuse",
    "vcpu_down_self", "sched_block_forever", "sched_watchdog", "elf_overlapping_segments", "bzimage_old_protocol",
    "multiboot_bad_checksum",
};

const Row& row_named(std::string_view name)
{
    for (const Row& row : kRows)
        if (name == row.name) return row;
    FAIL("no row " << name);
    return kRows[0];
}

std::vector<Run> subset_runs(std::initializer_list<const char*> pagings)
{
    std::vector<Run> runs;
    for (const char* paging : pagings)
        for (const char* name : kSubset) {
            const Row& row = row_named(name);
            REQUIRE(row.no_bochs == nullptr);
            runs.push_back(Run{&row, paging});
        }
    return runs;
}

}  // namespace

TEST_CASE("adversarial in Bochs: penryn/shadow", "[.bochs]") { run_in_bochs("penryn", "penryn", all_runs("shadow")); }

TEST_CASE("adversarial in Bochs: skylake/ept", "[.bochs]") { run_in_bochs("skylake", "skylake", all_runs("ept")); }

TEST_CASE("adversarial in Bochs: skylake/shadow", "[.bochs]")
{
    run_in_bochs("skylake-shadow", "skylake", all_runs("shadow"));
}

TEST_CASE("adversarial in Bochs (subset): penryn/shadow", "[.bochs]")
{
    run_in_bochs("subset-penryn", "penryn", subset_runs({"shadow"}));
}

// One boot for both of skylake's modes: the batch's command lines name the paging.
TEST_CASE("adversarial in Bochs (subset): skylake/ept and skylake/shadow", "[.bochs]")
{
    run_in_bochs("subset-skylake", "skylake", subset_runs({"ept", "shadow"}));
}

TEST_CASE("every row runs in Bochs or says why not", "[adversarial]")
{
    std::size_t in_bochs = 0;
    for (const Row& row : kRows) {
        const bool limit_end = row.end == End::INSN_LIMIT || row.end == End::VTIME_LIMIT ||
                               row.shadow_end == End::INSN_LIMIT || row.shadow_end == End::VTIME_LIMIT;
        INFO(row.name);
        // A row that ends at a sim-only limit cannot end in Bochs.
        if (limit_end) CHECK(row.no_bochs != nullptr);
        in_bochs += row.no_bochs == nullptr;
    }
    CHECK(in_bochs >= 50);
    for (const char* name : kSubset) CHECK(row_named(name).no_bochs == nullptr);
}
