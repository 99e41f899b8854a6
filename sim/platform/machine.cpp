// run_machine: assemble the simulated machine (memory, host CPU of a profile,
// VMX model, guest engine), hand the hypervisor a boot information block as a
// boot loader would, and run xeno::start on it.
#include "sim/platform/machine.hpp"

#include <xxhash.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "core/boot_info.hpp"
#include "core/run_stats.hpp"
#include "sim/platform/machine_memory.hpp"
#include "sim/platform/sim_context.hpp"
#include "sim/vmx-model/cpu_profile.hpp"
#include "sim/vmx-model/engine/engine.hpp"
#include "sim/vmx-model/host_cpu.hpp"
#include "sim/vmx-model/vmx_cpu.hpp"

namespace xeno::sim {

namespace {

// Where the boot modules (the guest image first) sit in machine memory: above
// the first MiB like a multiboot loader would put them, each page aligned.
constexpr std::uint64_t kModuleBase = 0x100000;

std::uint64_t page_round(std::uint64_t n)
{
    return (n + 0xfff) & ~std::uint64_t{0xfff};
}

// Stops the engine once the run has taken `timeout` of host time (the
// harness's --timeout), and repeats the request until the run ends (one that
// arrives while Unicorn is not running is only seen at the engine's next
// check). Reads the host clock, and only here; does nothing before the time.
class WallWatchdog {
public:
    WallWatchdog(Engine& engine, std::uint64_t timeout_ms)
    {
        if (timeout_ms == 0) return;
        thread_ = std::thread([this, &engine, timeout_ms] {
            std::unique_lock<std::mutex> lock(mutex_);
            if (done_changed_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [this] { return done_; })) return;
            while (!done_) {
                engine.request_wall_stop();
                done_changed_.wait_for(lock, std::chrono::milliseconds(20), [this] { return done_; });
            }
        });
    }
    ~WallWatchdog() { finish(); }
    WallWatchdog(const WallWatchdog&) = delete;
    WallWatchdog& operator=(const WallWatchdog&) = delete;

    void finish()
    {
        if (!thread_.joinable()) return;
        {
            const std::lock_guard<std::mutex> lock(mutex_);
            done_ = true;
        }
        done_changed_.notify_all();
        thread_.join();
    }

private:
    std::mutex mutex_;
    std::condition_variable done_changed_;
    bool done_ = false;
    std::thread thread_;
};

std::string last_line(const std::string& text)
{
    std::size_t end = text.size();
    while (end > 0 && text[end - 1] == '\n') --end;
    const std::size_t begin = text.rfind('\n', end ? end - 1 : 0);
    return text.substr(begin == std::string::npos ? 0 : begin + 1, end - (begin == std::string::npos ? 0 : begin + 1));
}

// "2 s", "1.5 s", "0.25 s".
std::string wall_time_text(std::uint64_t ms)
{
    std::string text = std::to_string(ms / 1000);
    if (ms % 1000) {
        char frac[8];
        std::snprintf(frac, sizeof frac, ".%03u", static_cast<unsigned>(ms % 1000));
        std::string f(frac);
        while (f.back() == '0') f.pop_back();
        text += f;
    }
    return text + " s";
}

}  // namespace

MachineResult run_machine(const MachineConfig& config, const MachineOutput& output)
{
    MachineResult result;
    const CpuProfile* profile = find_cpu_profile(config.profile);
    if (!profile) {
        result.error = "unknown CPU profile '" + config.profile + "'";
        result.failure = MachineResult::Failure::OTHER;
        return result;
    }
    if (config.memory_bytes < 16 * 1024 * 1024 || config.memory_bytes % 4096) {
        result.error = "machine memory must be a multiple of 4 KiB and at least 16 MiB";
        result.failure = MachineResult::Failure::OTHER;
        return result;
    }
    // Machine memory from kModuleBase: module 0, the decoy, the extra
    // modules, the serial input, each page aligned.
    if (config.modules.size() + 3 > BootInfo::kMaxModules) {
        result.error = "too many boot modules (at most " + std::to_string(BootInfo::kMaxModules - 3) + " extra ones)";
        result.failure = MachineResult::Failure::OTHER;
        return result;
    }
    const std::uint64_t decoy_base = kModuleBase + page_round(config.guest_image.size());
    std::uint64_t next = decoy_base + page_round(config.decoy_bytes);
    std::vector<std::uint64_t> module_bases;
    for (const BootModuleData& m : config.modules) {
        module_bases.push_back(next);
        next += page_round(m.bytes.size());
    }
    const std::uint64_t input_base = next;
    next += page_round(config.serial_input.size());
    if (config.decoy_bytes % 4096 || next - kModuleBase > config.memory_bytes - kModuleBase - 8 * 1024 * 1024) {
        // (tests/core/isolation_test.cpp expects these words)
        result.error = config.modules.empty()
                           ? "guest image (with decoy and serial input) does not fit in machine memory"
                           : "guest image (with decoy, boot modules and serial input) does not fit in machine memory";
        result.failure = MachineResult::Failure::OTHER;
        return result;
    }

    MachineMemory memory(config.memory_bytes);
    std::memcpy(memory.data() + kModuleBase, config.guest_image.data(), config.guest_image.size());
    // The decoy: a pattern no allocator or zeroing would produce (each
    // 8-byte word its own address mixed), hashed before and after.
    for (std::uint64_t off = 0; off < config.decoy_bytes; off += 8) {
        const std::uint64_t word = (decoy_base + off) * 0x9e3779b97f4a7c15ull ^ 0xd1b54a32d192ed03ull;
        std::memcpy(memory.data() + decoy_base + off, &word, 8);
    }
    if (config.decoy_bytes) result.decoy_hash_before = XXH64(memory.data() + decoy_base, config.decoy_bytes, 0);

    // Capture LOG so a failed run can say why in one line, and pass it on.
    std::string log;
    MachineOutput out = output;
    out.log = [&log, &output](const char* bytes, std::size_t n) {
        log.append(bytes, n);
        if (output.log) output.log(bytes, n);
    };

    HostCpu host(*profile);
    VmxCpu vmx(memory, host, *profile);
    Engine engine(memory, *profile);
    if (config.max_guest_instructions) engine.set_instruction_limit(config.max_guest_instructions);
    if (config.max_vtime_ns) engine.set_vtime_limit(config.max_vtime_ns);
    if (config.wall_timeout_ms) {
        engine.set_wall_stop_reason("the run passed its wall-time limit of " + wall_time_text(config.wall_timeout_ms) +
                                    " (host time, --timeout)");
    }
    vmx.set_tlb_flush_hook([&engine] { engine.flush_tlb(); });

    SimContext ctx;
    ctx.memory = &memory;
    ctx.profile = profile;
    ctx.host = &host;
    ctx.vmx = &vmx;
    ctx.engine = &engine;
    ctx.output = &out;
    ctx.debugger = output.debugger;
    set_sim_context(&ctx);
    if (ctx.debugger) ctx.debugger->machine_started(engine, memory, vmx);

    BootInfo boot{};
    boot.regions[0] = MemoryRegion{0, config.memory_bytes, MemoryRegion::Type::USABLE};
    boot.region_count = 1;
    boot.modules[0] = BootModule{Hpa{kModuleBase}, config.guest_image.size(), config.guest_cmdline.c_str()};
    boot.module_count = 1;
    if (config.decoy_bytes) boot.modules[boot.module_count++] = BootModule{Hpa{decoy_base}, config.decoy_bytes, "decoy"};
    for (std::size_t i = 0; i < config.modules.size(); ++i) {
        const BootModuleData& m = config.modules[i];
        if (!m.bytes.empty()) std::memcpy(memory.data() + module_bases[i], m.bytes.data(), m.bytes.size());
        boot.modules[boot.module_count++] = BootModule{Hpa{module_bases[i]}, m.bytes.size(), m.name.c_str()};
    }
    if (!config.serial_input.empty()) {
        std::memcpy(memory.data() + input_base, config.serial_input.data(), config.serial_input.size());
        boot.modules[boot.module_count++] = BootModule{Hpa{input_base}, config.serial_input.size(), "serial-in"};
    }
    boot.cmdline = config.cmdline.c_str();
    boot.memory_zeroed = true;  // MachineMemory is fresh anonymous memory; the modules are reserved

    // A run the engine stops (a limit, or the model cannot go on) comes back
    // from xeno::start like any other: the engine leaves Unicorn, the
    // hypervisor's scheduler sees hal::stop_requested and ends the domain
    // with the stop's reason, and start() returns through its normal path,
    // so every destructor on the way runs (engine.hpp, Engine::stopped). Not
    // a long jump out of the engine (it skipped the destructors of
    // start()'s frames: the heap scope, the vcpus, VMX off) nor an exception
    // (src/ is built without them: one cannot unwind its frames), nor a
    // thread per machine to abandon (its frames would never be unwound
    // either). A hypervisor panic (a hypervisor bug) still ends the process.
    WallWatchdog watchdog(engine, config.wall_timeout_ms);
    const int status = xeno::start(boot);
    watchdog.finish();
    if (ctx.debugger) ctx.debugger->machine_ending();
    // Reported as the stop, unless the hypervisor failed as well (status < 0:
    // a failed VM entry, a failed VMWRITE): a limit must not hide a
    // hypervisor bug. (The status of a stopped domain is not the guest's.)
    const bool aborted = engine.stopped() && status >= 0;

    result.exits = engine.exit_count();
    result.guest_instructions = engine.guest_instructions();
    result.vtime_ns = engine.vtime_ns();
    if (!aborted) {
        result.emulated_instructions = last_run_stats().emulated_instructions;
        result.vcpu_switches = last_run_stats().vcpu_switches;
        result.shadow_paging = last_run_stats().shadow_paging;
        result.shadow = last_run_stats().shadow;
        result.end = domain_end_name(last_run_stats().end);
        result.end_reason = last_run_stats().end_reason;
    }
    if (config.hash_memory) result.memory_hash = XXH64(memory.data(), memory.size(), 0);
    if (config.decoy_bytes) result.decoy_hash_after = XXH64(memory.data() + decoy_base, config.decoy_bytes, 0);
    set_sim_context(nullptr);

    if (aborted) {
        result.error = engine.stop_reason();
        switch (engine.stop_cause()) {
        case Engine::StopCause::INSTRUCTION_LIMIT: result.failure = MachineResult::Failure::INSTRUCTION_LIMIT; break;
        case Engine::StopCause::VTIME_LIMIT: result.failure = MachineResult::Failure::VTIME_LIMIT; break;
        case Engine::StopCause::WALL_TIME_LIMIT: result.failure = MachineResult::Failure::WALL_TIME_LIMIT; break;
        case Engine::StopCause::NONE:
        case Engine::StopCause::ENGINE_FAILURE: result.failure = MachineResult::Failure::OTHER; break;
        }
    } else if (status < 0) {
        // The domain's own reason when it has one (a vcpu that could not be
        // set up), else the log's last line.
        const std::string why = !result.end_reason.empty() ? result.end_reason : last_line(log);
        result.error = why.empty() ? "the hypervisor could not run the guest" : why;
        result.failure = MachineResult::Failure::OTHER;
    } else {
        result.ok = true;
        result.status = status;
    }
    return result;
}

}  // namespace xeno::sim
