#include "linux_boot.hpp"
#include "paging.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/core.h>

#include "harness/guest_image.hpp"
#include "harness/kernel_payload.hpp"
#include "harness/run_options.hpp"
#include "sim/platform/machine.hpp"

namespace xeno::bench {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// What `xeno run --kernel vmlinuz --initrd initramfs.cpio -m 256 --append
// "console=ttyS0"` boots (the bzImage, HVM), and with --pvh --append
// "console=hvc0" (the PVH entry, a Xen PVH guest on Xen's PV console); QEMU
// is given the serial console either way (it has no Xen console under TCG).
constexpr const char* kAppendHvm = "console=ttyS0";
constexpr const char* kAppendPvh = "console=hvc0";
constexpr const char* kAppendQemu = "console=ttyS0";
constexpr const char* kMemoryMb = "256";
// A boot that takes longer than this is stopped (the machine's watchdog, a
// SIGKILL for QEMU): about 100 times the normal boot.
constexpr double kTimeoutSeconds = 600;

// The boots of one invocation, alternating round by round so that a slow
// spell of the shared machine hits all of them alike.
struct Case {
    const char* what;     // for the detail line
    const char* profile;
    std::uint32_t smp;
    bool pvh;             // the PVH entry of the ELF inside the bzImage; else the bzImage (HVM)
};
constexpr Case kCases[] = {
    {"HVM bzImage, skylake, ept, 1 vcpu", "skylake", 1, false},
    {"PVH, skylake, ept, 1 vcpu", "skylake", 1, true},
    {"HVM bzImage, penryn, shadow, 1 vcpu", "penryn", 1, false},
    {"HVM bzImage, skylake, ept, 2 vcpus", "skylake", 2, false},
};
constexpr int kSkylake = 0, kPvh = 1, kPenryn = 2, kSmp2 = 3, kCaseCount = 4;

// Exits by reason from the "exits: <n> emulated=<n> [vcpu=<i>] <REASON>=<n>
// ..." lines the hypervisor logs per vcpu at the end of a run, summed over
// the vcpus, in the order the log names them (platform.cpp's parser keeps a
// map; this one keeps the hypervisor's order for the printed figures).
using ExitCounts = std::vector<std::pair<std::string, long long>>;

ExitCounts parse_exit_lines(const std::string& log)
{
    ExitCounts counts;
    std::size_t at = 0;
    while ((at = log.find("exits: ", at)) != std::string::npos) {
        const std::size_t end = log.find('\n', at);
        const std::string line = log.substr(at + 7, end == std::string::npos ? std::string::npos : end - at - 7);
        at = end;
        std::size_t pos = line.find(' ');  // past the total
        while (pos != std::string::npos) {
            const std::size_t start = pos + 1;
            pos = line.find(' ', start);
            const std::string word = line.substr(start, pos == std::string::npos ? std::string::npos : pos - start);
            const std::size_t eq = word.find('=');
            if (eq == std::string::npos) continue;
            const std::string reason = word.substr(0, eq);
            if (reason == "emulated" || reason == "vcpu") continue;
            const long long n = std::strtoll(word.c_str() + eq + 1, nullptr, 10);
            auto it = counts.begin();
            while (it != counts.end() && it->first != reason) ++it;
            if (it == counts.end()) {
                counts.emplace_back(reason, n);
            } else {
                it->second += n;
            }
        }
    }
    return counts;
}

struct BootRun {
    sim::MachineResult result;
    double seconds = 0;  // host time around run_machine
    std::string console;
    std::string log;
};

BootRun boot(const sim::MachineConfig& config)
{
    BootRun b;
    sim::MachineOutput out;
    out.guest_console = [&b](const char* bytes, std::size_t n) { b.console.append(bytes, n); };
    out.log = [&b](const char* bytes, std::size_t n) { b.log.append(bytes, n); };
    out.trace = [](const char*, std::size_t) {};
    const auto begin = Clock::now();
    b.result = sim::run_machine(config, out);
    b.seconds = std::chrono::duration<double>(Clock::now() - begin).count();
    return b;
}

// Empty when the boot counts: the guest powered off with status 0 after its
// /init ran and saw every vcpu; else why not, on one line.
std::string failure(const BootRun& b, std::uint32_t smp)
{
    const sim::MachineResult& r = b.result;
    if (!r.ok) return fmt::format("the run failed: {}", r.error);
    if (r.end != "poweroff" || r.status != 0) {
        return fmt::format("end={} status={}{}{}", r.end, r.status, r.end_reason.empty() ? "" : ": ", r.end_reason);
    }
    if (b.console.find("xeno-init: ok") == std::string::npos) return "powered off without /init's \"xeno-init: ok\"";
    if (b.console.find(fmt::format("xeno-init: cpus {} online", smp)) == std::string::npos) {
        return fmt::format("/init did not see {} vcpu(s) online", smp);
    }
    return {};
}

// The first field of "xeno-init: uptime <up> <idle>": the guest's /proc/uptime at /init.
std::optional<double> uptime_at_init(const std::string& console)
{
    constexpr const char* kKey = "xeno-init: uptime ";
    const std::size_t at = console.find(kKey);
    if (at == std::string::npos) return std::nullopt;
    const char* start = console.c_str() + at + std::string_view(kKey).size();
    char* end = nullptr;
    const double seconds = std::strtod(start, &end);
    if (end == start) return std::nullopt;
    return seconds;
}

bool same_counts(const sim::MachineResult& a, const sim::MachineResult& b)
{
    return a.exits == b.exits && a.guest_instructions == b.guest_instructions &&
           a.emulated_instructions == b.emulated_instructions && a.vtime_ns == b.vtime_ns;
}

// The machine `xeno run` builds for the same options (run_command.cpp), from
// the files already read: the bzImage, or for PVH the ELF `pvh_kernel` took
// out of it.
sim::MachineConfig machine_for(const Case& c, const fs::path& dir, const std::vector<std::uint8_t>& kernel,
                               const std::vector<std::uint8_t>& initrd)
{
    harness::RunOptions options;
    options.kernel = (dir / "vmlinuz").string();
    options.initrd = (dir / "initramfs.cpio").string();
    options.append = c.pvh ? kAppendPvh : kAppendHvm;
    options.memory = kMemoryMb;
    options.pvh = c.pvh;
    options.profile = c.profile;
    options.smp = c.smp;
    options.timeout_seconds = kTimeoutSeconds;
    harness::Scenario scenario = harness::kernel_run_scenario(options);
    if (auto problem = harness::check_options(scenario, options)) {
        std::fprintf(stderr, "xeno-bench: linux (%s): %s\n", c.what, problem->c_str());
        std::exit(1);
    }
    scenario = harness::with_overrides(std::move(scenario), options);
    return harness::build_machine_config(scenario, options, kernel, {}, initrd);
}

std::vector<std::uint8_t> read_or_exit(const fs::path& file, const char* what)
{
    auto bytes = harness::read_input_file(file, what, harness::kMaxModuleBytes);
    if (!bytes.ok()) {
        std::fprintf(stderr, "xeno-bench: linux: %s\n", bytes.error().c_str());
        std::exit(1);
    }
    return std::move(bytes).value();
}

// ci/fetch-linux.sh's VERSION file: the kernel package and its version.
std::string kernel_version(const fs::path& dir)
{
    std::ifstream in(dir / "VERSION");
    std::string line;
    if (!std::getline(in, line) || line.empty()) return "version unknown: no VERSION file";
    return line;
}

// ---- QEMU, for the comparison: a child process, timed from fork to exit ----

std::optional<std::string> find_on_path(const char* name)
{
    const char* path = std::getenv("PATH");
    std::string dirs = path != nullptr ? path : "";
    std::size_t start = 0;
    while (start <= dirs.size()) {
        std::size_t colon = dirs.find(':', start);
        if (colon == std::string::npos) colon = dirs.size();
        const std::string dir = dirs.substr(start, colon - start);
        const std::string file = (dir.empty() ? std::string(".") : dir) + "/" + name;
        if (access(file.c_str(), X_OK) == 0) return file;
        start = colon + 1;
    }
    return std::nullopt;
}

struct ChildRun {
    double seconds = 0;
    std::string why;  // empty: it exited 0 after /init printed "xeno-init: ok"
};

ChildRun time_child(const std::vector<std::string>& args)
{
    ChildRun run;
    int fds[2];
    if (pipe(fds) != 0) {
        run.why = "pipe() failed";
        return run;
    }
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const auto begin = Clock::now();
    const pid_t pid = fork();
    if (pid == 0) {
        const int null = open("/dev/null", O_RDONLY);
        dup2(null, 0);
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        execv(argv[0], argv.data());
        _exit(127);
    }
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        run.why = "fork() failed";
        return run;
    }
    std::string output;
    char buffer[4096];
    bool killed = false;
    for (;;) {
        const double left = kTimeoutSeconds - std::chrono::duration<double>(Clock::now() - begin).count();
        if (left <= 0) {
            kill(pid, SIGKILL);
            killed = true;
            break;
        }
        pollfd p{fds[0], POLLIN, 0};
        if (poll(&p, 1, static_cast<int>(left * 1000) + 1) <= 0) continue;
        const ssize_t n = read(fds[0], buffer, sizeof buffer);
        if (n <= 0) break;
        output.append(buffer, static_cast<std::size_t>(n));
    }
    int status = 0;
    waitpid(pid, &status, 0);
    run.seconds = std::chrono::duration<double>(Clock::now() - begin).count();
    close(fds[0]);
    if (killed) {
        run.why = fmt::format("killed after {:.0f} s", kTimeoutSeconds);
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        run.why = WIFEXITED(status) ? fmt::format("exit status {}", WEXITSTATUS(status))
                                    : fmt::format("killed by signal {}", WTERMSIG(status));
    } else if (output.find("xeno-init: ok") == std::string::npos) {
        run.why = "no \"xeno-init: ok\" on its console";
    }
    return run;
}

// The Xeno boot times QEMU's are compared with: the HVM (bzImage) boot, and
// the PVH boot when it powered off (empty: why not).
struct XenoTimes {
    double hvm_seconds = 0;
    double pvh_seconds = 0;
    std::string pvh_failed;
};

// vmlinux for QEMU's PVH boot: the ELF taken out of the bzImage, in a file
// of its own (QEMU's -kernel takes a path), removed when done.
struct TempFile {
    fs::path path;
    ~TempFile()
    {
        std::error_code ignored;
        if (!path.empty()) fs::remove(path, ignored);
    }
};

void qemu_ratios(const fs::path& dir, int rounds, const std::vector<std::uint8_t>& elf, const XenoTimes& xeno)
{
    const std::optional<std::string> qemu = find_on_path("qemu-system-x86_64");
    if (!qemu) {
        std::printf("linux: qemu-system-x86_64 is not installed (not on PATH): linux_vs_qemu_tcg_ratio, "
                    "linux_vs_qemu_icount_ratio and pvh_vs_qemu_tcg_ratio skipped\n");
        return;
    }
    TempFile vmlinux;
    std::string vmlinux_problem;
    {
        char name[] = "/tmp/xeno-bench-vmlinux-XXXXXX";
        const int fd = mkstemp(name);
        if (fd < 0) {
            vmlinux_problem = "could not create a temporary file for vmlinux";
        } else {
            vmlinux.path = name;
            std::size_t done = 0;
            while (done < elf.size()) {
                const ssize_t n = write(fd, elf.data() + done, elf.size() - done);
                if (n <= 0) break;
                done += static_cast<std::size_t>(n);
            }
            close(fd);
            if (done != elf.size()) vmlinux_problem = fmt::format("could not write {}", vmlinux.path.string());
        }
    }
    const std::vector<std::string> common = {"-accel", "tcg", "-m", kMemoryMb, "-initrd",
                                             (dir / "initramfs.cpio").string(), "-append", kAppendQemu,
                                             "-nographic", "-no-reboot"};
    std::vector<std::string> tcg = {*qemu, "-kernel", (dir / "vmlinuz").string()};
    tcg.insert(tcg.end(), common.begin(), common.end());
    std::vector<std::string> icount = tcg;
    icount.insert(icount.end(), {"-icount", "shift=0"});
    std::vector<std::string> pvh = {*qemu, "-kernel", vmlinux.path.string()};
    pvh.insert(pvh.end(), common.begin(), common.end());
    struct Mode {
        const char* figure;
        const std::vector<std::string>* args;
        double xeno_seconds;
        std::string xeno_failed;  // the Xeno boot it is compared with did not power off
        double best = 0;
        std::string why;  // the QEMU run did not count
    };
    Mode modes[3] = {{"linux_vs_qemu_tcg_ratio", &tcg, xeno.hvm_seconds, {}, 0, {}},
                     {"linux_vs_qemu_icount_ratio", &icount, xeno.hvm_seconds, {}, 0, {}},
                     {"pvh_vs_qemu_tcg_ratio", &pvh, xeno.pvh_seconds, xeno.pvh_failed, 0, vmlinux_problem}};
    for (int round = 0; round < rounds; ++round) {
        for (Mode& m : modes) {
            if (!m.why.empty()) continue;
            const ChildRun run = time_child(*m.args);
            m.why = run.why;
            if (m.why.empty() && (round == 0 || run.seconds < m.best)) m.best = run.seconds;
        }
    }
    const auto text = [](const Mode& m) { return m.why.empty() ? fmt::format("{:.3f} s", m.best) : m.why; };
    std::printf("linux: %s -accel tcg -m %s -initrd initramfs.cpio -append \"%s\" -nographic -no-reboot (a child "
                "process timed from fork to exit, best of %d): -kernel vmlinuz (the bzImage through QEMU's "
                "firmware) %s, with -icount shift=0 %s; -kernel vmlinux (the same ELF Xeno boots by PVH, QEMU's PVH "
                "entry) %s\n",
                qemu->c_str(), kMemoryMb, kAppendQemu, rounds, text(modes[0]).c_str(), text(modes[1]).c_str(),
                text(modes[2]).c_str());
    for (const Mode& m : modes) {
        if (!m.xeno_failed.empty()) {
            std::printf("%s=n/a (the Xeno boot did not power off: %s)\n", m.figure, m.xeno_failed.c_str());
        } else if (m.why.empty()) {
            std::printf("%s=%.3f\n", m.figure, m.xeno_seconds / m.best);
        } else {
            std::printf("%s=n/a (qemu run ended: %s)\n", m.figure, m.why.c_str());
        }
    }
}

// One boot's figures, named <prefix>_<name>: the uptime at /init, guest
// instructions and virtual seconds per host second, exits by reason.
void print_boot_figures(const char* prefix, const BootRun& b)
{
    if (const std::optional<double> up = uptime_at_init(b.console)) {
        std::printf("%s_uptime_at_init_s=%.2f\n", prefix, *up);
    } else {
        std::printf("%s_uptime_at_init_s=n/a (no \"xeno-init: uptime\" line on the console)\n", prefix);
    }
    std::printf("%s_insns_per_s=%.0f\n", prefix, static_cast<double>(b.result.guest_instructions) / b.seconds);
    std::printf("%s_virtual_per_host=%.3f\n", prefix, static_cast<double>(b.result.vtime_ns) / 1e9 / b.seconds);
    for (const auto& [reason, n] : parse_exit_lines(b.log)) std::printf("%s_exits_%s=%lld\n", prefix, reason.c_str(), n);
}

}  // namespace

void linux_boot(const fs::path& dir, int rounds)
{
    for (const char* name : {"vmlinuz", "initramfs.cpio"}) {
        if (!fs::exists(dir / name)) {
            std::printf("linux figures skipped: no %s (ci/fetch-linux.sh fetches Debian's kernel and builds the "
                        "initramfs)\n",
                        (dir / name).c_str());
            return;
        }
    }
    // Read and decompressed once, outside the timed runs (as `xeno run` does
    // before its clock starts).
    const auto load_begin = Clock::now();
    const std::vector<std::uint8_t> bzimage = read_or_exit(dir / "vmlinuz", "kernel");
    auto elf = harness::pvh_kernel(bzimage, fmt::format("kernel {}", (dir / "vmlinuz").string()));
    if (!elf.ok()) {
        std::fprintf(stderr, "xeno-bench: linux: %s\n", elf.error().c_str());
        std::exit(1);
    }
    const std::vector<std::uint8_t> initrd = read_or_exit(dir / "initramfs.cpio", "initrd");
    const double load_seconds = std::chrono::duration<double>(Clock::now() - load_begin).count();

    sim::MachineConfig configs[kCaseCount];
    for (int i = 0; i < kCaseCount; ++i)
        configs[i] = machine_for(kCases[i], dir, kCases[i].pvh ? elf.value() : bzimage, initrd);

    BootRun best[kCaseCount];
    std::vector<double> walls[kCaseCount];
    std::string failed[kCaseCount];  // why a case's run did not count (and was not repeated)
    bool deterministic[kCaseCount] = {true, true, true, true};
    for (int round = 0; round < rounds; ++round) {
        for (int i = 0; i < kCaseCount; ++i) {
            // A failed boot fails again the same way (the model is
            // deterministic): not worth another run.
            if (!failed[i].empty()) continue;
            BootRun b = boot(configs[i]);
            walls[i].push_back(b.seconds);
            failed[i] = failure(b, kCases[i].smp);
            if (!failed[i].empty()) {
                best[i] = std::move(b);  // for its detail line
                continue;
            }
            if (round > 0) deterministic[i] = deterministic[i] && same_counts(b.result, best[i].result);
            if (round == 0 || b.seconds < best[i].seconds) best[i] = std::move(b);
        }
    }
    for (int i : {kSkylake, kSmp2}) {
        if (!failed[i].empty()) {
            std::fprintf(stderr, "xeno-bench: linux (%s): the boot failed: %s\n",
                         kCases[i].what, failed[i].c_str());
            std::exit(1);
        }
    }

    std::printf("linux: %s (%s): %zu-byte bzImage, its ELF payload (%zu bytes) and the %zu-byte initramfs read and "
                "decompressed in %.3f s, outside the timed runs; %s MiB; HVM: the bzImage by the Linux boot "
                "protocol, \"%s\"; PVH: the ELF by its PVH entry, a Xen guest, \"%s\"\n",
                (dir / "vmlinuz").c_str(), kernel_version(dir).c_str(), bzimage.size(), elf.value().size(),
                initrd.size(), load_seconds, kMemoryMb, kAppendHvm, kAppendPvh);
    for (int i = 0; i < kCaseCount; ++i) {
        const BootRun& b = best[i];
        const sim::MachineResult& r = b.result;
        std::string times;
        for (double w : walls[i]) times += fmt::format("{}{:.3f}", times.empty() ? "" : " ", w);
        if (!failed[i].empty()) {
            std::printf("linux (%s): the boot did not power off (%s) after %.3f s, %llu guest instructions, %.3f "
                        "virtual s, %llu exits\n",
                        kCases[i].what, failed[i].c_str(), b.seconds,
                        static_cast<unsigned long long>(r.guest_instructions), static_cast<double>(r.vtime_ns) / 1e9,
                        static_cast<unsigned long long>(r.exits));
            continue;
        }
        const std::optional<double> up = uptime_at_init(b.console);
        std::printf("linux (%s): power-off after %.3f s (best of %d: %s), %llu guest instructions (%.1f M/s), %.3f "
                    "virtual s (uptime at /init %s), %llu exits, %llu emulated, %llu vcpu switches; counts %s",
                    kCases[i].what, b.seconds, static_cast<int>(walls[i].size()), times.c_str(),
                    static_cast<unsigned long long>(r.guest_instructions),
                    static_cast<double>(r.guest_instructions) / b.seconds / 1e6,
                    static_cast<double>(r.vtime_ns) / 1e9, up ? fmt::format("{:.2f} s", *up).c_str() : "not printed",
                    static_cast<unsigned long long>(r.exits), static_cast<unsigned long long>(r.emulated_instructions),
                    static_cast<unsigned long long>(r.vcpu_switches),
                    walls[i].size() < 2 ? "from one run"
                                        : (deterministic[i] ? "identical in every run" : "DIFFER between runs"));
        if (r.shadow_paging) {
            const paging::ShadowStats& s = r.shadow;
            print_shadow_counters(s);
        }
        std::printf("\n");
    }

    const BootRun& sky = best[kSkylake];
    const BootRun& pvh = best[kPvh];
    std::printf("linux_boot_s=%.3f\n", sky.seconds);
    if (failed[kPvh].empty()) {
        std::printf("pvh_boot_s=%.3f\n", pvh.seconds);
        std::printf("pvh_vs_hvm_boot_ratio=%.3f\n", pvh.seconds / sky.seconds);
    } else {
        std::printf("pvh_boot_s=n/a (PVH run ended: %s)\n", failed[kPvh].c_str());
        std::printf("pvh_vs_hvm_boot_ratio=n/a (PVH run ended: %s)\n", failed[kPvh].c_str());
    }
    std::printf("linux_boot_smp2_s=%.3f\n", best[kSmp2].seconds);
    if (failed[kPenryn].empty()) {
        std::printf("linux_boot_shadow_ratio=%.3f\n", best[kPenryn].seconds / sky.seconds);
    } else {
        std::printf("linux_boot_shadow_ratio=n/a (penryn run ended: %s)\n", failed[kPenryn].c_str());
    }
    print_boot_figures("linux", sky);
    if (failed[kPvh].empty()) print_boot_figures("pvh", pvh);
    std::fflush(stdout);

    qemu_ratios(dir, rounds, elf.value(), XenoTimes{sky.seconds, pvh.seconds, failed[kPvh]});
}

}  // namespace xeno::bench
