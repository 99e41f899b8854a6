// xeno-bench: figures measured in one run, printed as name=value lines; never
// a test (DESIGN.md: costs live in benchmarks, not in timed assertions).
//
//   busy_loop_ratio  guest instructions per second of bench/guests/busy_loop
//                    under Xeno (run_machine) over the same bytes on a bare
//                    Unicorn engine. >= 10^9 instructions (--quick: 10^8).
//   io_exit_ns       median host ns per synchronous I/O exit round trip
//                    (guest OUT, model, hypervisor handler, back), over batches.
//   realmode_compute_* guest, exit and emulated instructions per second of a
//                    16-bit checksum loop that stays in real mode (realmode.hpp).
//   realmode_softint_* the same for INT 0x40 service calls through the IVT,
//                    and realmode_softint_ns per INT/IRET round trip.
//   paging_*         guest #PFs per second, exits per fault and shadow counters of
//                    a demand-paging kernel on skylake/ept, skylake/shadow and
//                    penryn/shadow, and paging_wall_ratio_shadow_ept (paging.hpp).
//   timer_irq_ns     host ns per periodic PIT interrupt (I/O APIC, local APIC,
//                    handler with MMIO EOI) under a busy guest, minus the same
//                    loop without the timer; timer_irq_halted_ns with the guest
//                    in HLT between ticks (platform.hpp).
//   ipi_ns           host ns per IPI round trip BSP -> AP -> BSP (smp=2, both
//                    waiting in HLT): with one host thread each round trip
//                    includes two vcpu switches.
//   idle_virtual_per_host, idle_oneshot_virtual_per_host
//                    virtual seconds per host second of a 100-s HLT sleep
//                    woken at 100 Hz, and woken once by a one-shot timer.
//   smp4_insns_ratio guest instructions per host second of 4 vcpus running a
//                    compute loop without exits, over 1 vcpu doing the same work.
//   *_cpu            idle and smp4 again from the process's CPU time in the
//                    window: the figure without other processes' share of the CPU.
//   hypercall_ns     host ns per xen_version(XENVER_version) through the Xen
//                    hypercall page from a 64-bit guest, minus the same loop
//                    calling a stub without the VMCALL (hypercall_loop_ns);
//                    hypercall_virtual_ns, the same in the guest's virtual
//                    time; hypercall_exits_per_call (hypercall.hpp).
//   evtchn_send_to_upcall_ns host ns per EVTCHNOP_send on an IPI event
//                    channel bound to the sender and the upcall it raises
//                    through HVM_PARAM_CALLBACK_IRQ's vector;
//                    evtchn_exits_per_round (hypercall.hpp).
//   linux_*, pvh_*   Debian's kernel (build/linux, ci/fetch-linux.sh) with the
//                    test initramfs to /init and power-off, 256 MiB, in process
//                    as `xeno run --kernel` does; host wall time around
//                    run_machine, the fastest of 3 alternating runs (--quick:
//                    1) (linux_boot.hpp): linux_boot_s (the bzImage by the Linux
//                    boot protocol, an HVM guest, "console=ttyS0", skylake,
//                    EPT, 1 vcpu), pvh_boot_s (the same kernel by its PVH entry,
//                    a Xen PVH guest, "console=hvc0", `--pvh`) and
//                    pvh_vs_hvm_boot_ratio; linux_boot_smp2_s (HVM, 2 vcpus),
//                    linux_boot_shadow_ratio (HVM on penryn, shadow paging,
//                    over linux_boot_s; n/a with the reason when penryn does
//                    not power off), and of the 1-vcpu skylake boots
//                    {linux,pvh}_uptime_at_init_s (the guest's /proc/uptime at
//                    /init), _insns_per_s, _virtual_per_host and
//                    _exits_<REASON>; with qemu-system-x86_64 on PATH,
//                    linux_vs_qemu_{tcg,icount}_ratio (linux_boot_s over
//                    QEMU's bzImage boot) and pvh_vs_qemu_tcg_ratio (pvh_boot_s
//                    over QEMU's PVH boot of the same vmlinux), QEMU a child
//                    process timed from fork to exit. --profile does not
//                    apply; without the kernel one line says the figures are
//                    skipped.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "bare_unicorn.hpp"
#include "bench_guest.hpp"
#include "hypercall.hpp"
#include "linux_boot.hpp"
#include "paging.hpp"
#include "platform.hpp"
#include "realmode.hpp"
#include "sim/platform/machine.hpp"

namespace xeno::bench {

namespace {

using Clock = std::chrono::steady_clock;

void busy_loop_ratio(std::uint64_t target_insns, const std::string& profile)
{
    BenchGuest guest = load_bench_guest("busy_loop");
    auto iterations = static_cast<std::uint32_t>(target_insns / guest.body_insns + 1);
    std::uint64_t kernel_insns = std::uint64_t{iterations} * guest.body_insns + guest.pre_insns;

    // The instruction count of the kernel, checked once on a short run.
    {
        BenchGuest small = guest;
        small.set_param(0, 1000);
        BareRun counted = run_bare_unicorn(small, true);
        std::uint64_t want = 1000ull * guest.body_insns + guest.pre_insns;
        if (counted.instructions != want) {
            std::fprintf(stderr, "xeno-bench: busy_loop executes %llu instructions for 1000 iterations, not %llu: "
                                 "fix body_insns/pre_insns in busy_loop.asm\n",
                         static_cast<unsigned long long>(counted.instructions), static_cast<unsigned long long>(want));
            std::exit(1);
        }
    }
    guest.set_param(0, iterations);

    // Bare and Xeno runs alternate, three of each, and the fastest of each
    // counts: on a shared machine a slow spell then hits both sides alike
    // instead of deciding the ratio.
    constexpr int kRounds = 3;
    double bare_seconds = 0, xeno_seconds = 0;
    BareRun bare;
    sim::MachineResult r;
    std::string console;
    for (int round = 0; round < kRounds; ++round) {
        BareRun b = run_bare_unicorn(guest, false);
        if (round == 0 || b.seconds < bare_seconds) bare_seconds = b.seconds;
        bare = b;

        std::string out_text;
        sim::MachineOutput out;
        out.guest_console = [&](const char* bytes, std::size_t n) { out_text.append(bytes, n); };
        out.log = [](const char*, std::size_t) {};
        out.trace = [](const char*, std::size_t) {};
        auto begin = Clock::now();
        sim::MachineResult run = sim::run_machine(machine_config(guest, profile, kernel_insns * 2 + 1000000), out);
        double seconds = std::chrono::duration<double>(Clock::now() - begin).count();
        require_ok(run, "busy_loop");
        if (round == 0 || seconds < xeno_seconds) xeno_seconds = seconds;
        r = run;
        console = out_text;
    }
    double bare_ips = static_cast<double>(kernel_insns) / bare_seconds;
    double xeno_ips = static_cast<double>(r.guest_instructions) / xeno_seconds;

    std::string want = fmt::format("{:08x}\n", bare.eax);
    if (console != want) {
        std::fprintf(stderr, "xeno-bench: busy_loop checksums differ: Xeno printed \"%s\", bare Unicorn %s",
                     console.c_str(), want.c_str());
        std::exit(1);
    }
    std::printf("busy_loop: %llu kernel instructions, best of %d alternating runs; bare unicorn %.3f s (%.1f M insns/s); "
                "xeno (%s) %llu guest instructions, %llu exits, %.3f s (%.1f M insns/s)\n",
                static_cast<unsigned long long>(kernel_insns), kRounds, bare_seconds, bare_ips / 1e6, profile.c_str(),
                static_cast<unsigned long long>(r.guest_instructions), static_cast<unsigned long long>(r.exits),
                xeno_seconds, xeno_ips / 1e6);
    std::printf("busy_loop_ratio=%.3f\n", xeno_ips / bare_ips);
}

void io_exit_ns(std::uint32_t batches, std::uint32_t per_batch, const std::string& profile)
{
    BenchGuest guest = load_bench_guest("io_exit");
    guest.set_param(0, batches);
    guest.set_param(1, per_batch);

    // A newline marks the start of each batch and the end of the last: the
    // host time between two is one batch of per_batch exits (plus the marker's
    // own exit and a few loop instructions).
    std::vector<Clock::time_point> marks;
    marks.reserve(batches + 1);
    sim::MachineOutput out;
    out.guest_console = [&](const char* b, std::size_t n) {
        auto now = Clock::now();
        marks.insert(marks.end(), static_cast<std::size_t>(std::count(b, b + n, '\n')), now);
    };
    out.log = [](const char*, std::size_t) {};
    out.trace = [](const char*, std::size_t) {};
    std::uint64_t insns = std::uint64_t{batches} * per_batch * guest.body_insns * 2 + 1000000;
    sim::MachineResult r = sim::run_machine(machine_config(guest, profile, insns), out);
    require_ok(r, "io_exit");
    if (marks.size() != batches + 1) {
        std::fprintf(stderr, "xeno-bench: io_exit: %zu batch marks on the console, expected %u\n", marks.size(),
                     batches + 1);
        std::exit(1);
    }
    std::vector<double> per_exit;
    for (std::size_t i = 1; i < marks.size(); ++i) {
        double ns = std::chrono::duration<double, std::nano>(marks[i] - marks[i - 1]).count();
        per_exit.push_back(ns / per_batch);
    }
    std::sort(per_exit.begin(), per_exit.end());
    double median = per_exit[per_exit.size() / 2];
    std::printf("io_exit: %u batches of %u exits on %s, %llu exits in all; per exit min %.0f ns, median %.0f ns, "
                "max %.0f ns\n",
                batches, per_batch, profile.c_str(), static_cast<unsigned long long>(r.exits), per_exit.front(),
                median, per_exit.back());
    std::printf("io_exit_ns=%.0f\n", median);
}

int usage()
{
    std::fprintf(stderr, "usage: xeno-bench [--quick] [--profile penryn|skylake] [busy_loop_ratio] [io_exit_ns] "
                         "[realmode_compute] [realmode_softint] [paging] [timer_irq] [ipi] [idle] [smp4] [hypercall] "
                         "[evtchn] [linux]\n");
    return 2;
}

}  // namespace

}  // namespace xeno::bench

int main(int argc, char** argv)
{
    using namespace xeno::bench;
    bool quick = false;
    std::string profile = "skylake";
    std::vector<std::string> which;
    bool failed = false;  // a figure the guest's failure left n/a: the exit status says so
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--quick") {
            quick = true;
        } else if (a == "--profile" && i + 1 < argc) {
            profile = argv[++i];
        } else if (a == "busy_loop_ratio" || a == "io_exit_ns" || a == "realmode_compute" ||
                   a == "realmode_softint" || a == "paging" || a == "timer_irq" || a == "ipi" || a == "idle" ||
                   a == "smp4" || a == "hypercall" || a == "evtchn" || a == "linux") {
            which.push_back(a);
        } else {
            return usage();
        }
    }
    if (which.empty()) {
        which = {"busy_loop_ratio", "io_exit_ns", "realmode_compute", "realmode_softint", "paging",
                 "timer_irq", "ipi", "idle", "smp4", "hypercall", "evtchn", "linux"};
    }
    for (const std::string& w : which) {
        if (w == "busy_loop_ratio") {
            busy_loop_ratio(quick ? 100'000'000ull : 1'000'000'000ull, profile);
        } else if (w == "io_exit_ns") {
            io_exit_ns(quick ? 5 : 11, quick ? 10'000 : 50'000, profile);
        } else if (w == "realmode_compute") {
            realmode_compute(quick ? 100'000 : 500'000, profile);
        } else if (w == "paging") {
            paging(quick ? 20 : 100);
        } else if (w == "timer_irq") {
            timer_irq(quick ? 10'000 : 50'000, profile);
        } else if (w == "ipi") {
            ipi(quick ? 10'000 : 50'000, profile);
        } else if (w == "idle") {
            idle(quick ? 2'000 : 10'000, profile);  // 20 s or 100 s of virtual sleep
        } else if (w == "smp4") {
            smp4(quick ? 1'000'000 : 5'000'000, profile);  // per vcpu; 1 vcpu runs 4 x
        } else if (w == "hypercall") {
            failed |= !hypercall(quick ? 40'000 : 200'000, profile);
        } else if (w == "evtchn") {
            failed |= !evtchn(quick ? 20'000 : 100'000, profile);
        } else if (w == "linux") {
            linux_boot(XENO_LINUX_DIR, quick ? 1 : 3);
        } else {
            realmode_softint(quick ? 20'000 : 100'000, profile);
        }
        std::fflush(stdout);
    }
    return failed ? 1 : 0;
}
