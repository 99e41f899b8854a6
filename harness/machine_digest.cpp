#include "harness/machine_digest.hpp"

#include <xxhash.h>

#include <cstring>

#include <fmt/core.h>

#include "arch/x86/vmx/vmx_arch.hpp"
#include "core/cmdline.hpp"
#include "core/run_stats.hpp"
#include "sim/platform/sim_context.hpp"
#include "sim/vmx-model/engine/engine.hpp"

namespace xeno::harness {

InputDigest digest_input(std::string name, const std::vector<std::uint8_t>& bytes)
{
    const XXH128_hash_t h = XXH3_128bits(bytes.data(), bytes.size());
    return InputDigest{std::move(name), bytes.size(), h.low64, h.high64};
}

std::uint64_t rtc_epoch_of(const std::string& cmdline)
{
    Options options;
    char buffer[256];
    Writer error(buffer, sizeof buffer);
    if (parse_cmdline(cmdline.c_str(), &options, error) != Status::OK) {
        return kDefaultRtcEpoch;  // the hypervisor refuses the line; the run says why
    }
    return options.rtc_epoch;
}

RecordedConfig describe_machine(const sim::MachineConfig& config)
{
    RecordedConfig r;
    r.profile = config.profile;
    r.memory_bytes = config.memory_bytes;
    r.guest_cmdline = config.guest_cmdline;
    r.cmdline = config.cmdline;
    r.max_guest_instructions = config.max_guest_instructions;
    r.max_vtime_ns = config.max_vtime_ns;
    r.wall_timeout_ms = config.wall_timeout_ms;
    r.decoy_bytes = config.decoy_bytes;
    r.rtc_epoch = rtc_epoch_of(config.cmdline);
    r.inputs.push_back(digest_input(config.guest_cmdline.empty() ? "the guest image (boot module 0)"
                                                                 : "the " + config.guest_cmdline + " (boot module 0)",
                                    config.guest_image));
    for (const sim::BootModuleData& m : config.modules) {
        r.inputs.push_back(digest_input("boot module \"" + m.name + "\"", m.bytes));
    }
    r.inputs.push_back(digest_input("the serial input", config.serial_input));
    r.serial_input = config.serial_input;
    return r;
}

namespace {

std::string hash_text(const InputDigest& d)
{
    return fmt::format("{} bytes, xxh128 {:016x}{:016x}", d.size, d.hash_high, d.hash_low);
}

}  // namespace

std::optional<std::string> machine_difference(const RecordedConfig& recorded, const RecordedConfig& now)
{
    // The inputs first: a changed file is the likeliest reason, and the one
    // to name (the command line and memory size follow from the files).
    for (const InputDigest& was : recorded.inputs) {
        const InputDigest* is = nullptr;
        for (const InputDigest& d : now.inputs) {
            if (d.name == was.name) is = &d;
        }
        if (is == nullptr) {
            return fmt::format("{} was an input of the recorded run and is not one now", was.name);
        }
        if (!(*is == was)) {
            return fmt::format("{} changed since the recording ({} when recorded, now {})", was.name, hash_text(was),
                               hash_text(*is));
        }
    }
    for (const InputDigest& d : now.inputs) {
        bool known = false;
        for (const InputDigest& was : recorded.inputs) known = known || was.name == d.name;
        if (!known) return fmt::format("{} is an input now and was not one of the recorded run", d.name);
    }
    const auto differs = [](const char* what, const auto& was, const auto& is) -> std::optional<std::string> {
        if (was == is) return std::nullopt;
        return fmt::format("the {} differs from the recording's (recorded \"{}\", now \"{}\")", what, was, is);
    };
    if (auto d = differs("CPU profile", recorded.profile, now.profile)) return d;
    if (auto d = differs("machine memory size", recorded.memory_bytes, now.memory_bytes)) return d;
    if (auto d = differs("boot module 0 string", recorded.guest_cmdline, now.guest_cmdline)) return d;
    if (auto d = differs("hypervisor command line", recorded.cmdline, now.cmdline)) return d;
    if (auto d = differs("instruction limit", recorded.max_guest_instructions, now.max_guest_instructions)) return d;
    if (auto d = differs("virtual-time limit (ns)", recorded.max_vtime_ns, now.max_vtime_ns)) return d;
    if (auto d = differs("wall-time limit (ms)", recorded.wall_timeout_ms, now.wall_timeout_ms)) return d;
    if (auto d = differs("decoy size", recorded.decoy_bytes, now.decoy_bytes)) return d;
    return std::nullopt;
}

GuestState guest_state(const sim::ExitEvent& e)
{
    GuestState s{};
    const hal::GuestRegs& r = *e.regs;
    std::size_t i = 0;
    for (unsigned g = 0; g < 16; ++g) {
        if (g != 4) s[i++] = r.gpr[g];  // RSP: the VMCS's, below
    }
    for (std::uint64_t v : {e.rip, e.rsp, e.rflags, e.cr0, e.cr3, e.cr4, r.cr2, r.dr[0], r.dr[1], r.dr[2], r.dr[3],
                            r.dr6, r.xcr0, r.star, r.lstar, r.cstar, r.fmask, r.kernel_gs_base}) {
        s[i++] = v;
    }
    // The FXSAVE image as hal::run last saved it (the engine holds the live
    // registers while the vcpu runs): one hash stands for its 512 bytes.
    s[i++] = XXH64(r.fpu.bytes, sizeof r.fpu.bytes, 0);
    return s;
}

ExitRecord exit_taken_record(const sim::ExitEvent& e)
{
    ExitRecord r;
    r.number = e.number;
    r.vcpu = e.vcpu;
    r.reason = e.reason;
    r.qualification = e.qualification;
    r.vtime_ns = e.vtime_ns;
    r.guest_instructions = e.guest_instructions;
    r.taken = guest_state(e);
    return r;
}

std::string reason_text(std::uint32_t reason)
{
    std::string name = vmx::exit_reason_name(reason & 0xffff);
    if (reason & 0x80000000u) name = "VM-entry failure " + name;
    return fmt::format("{} ({})", name, reason & 0xffff);
}

std::string exit_text(std::uint64_t number, std::uint32_t reason, std::uint32_t vcpu, std::uint64_t rip)
{
    return fmt::format("exit {} {} on vcpu {} at rip {:#x}", number, reason_text(reason), vcpu, rip);
}

void compare_state(const GuestState& was, const GuestState& now, const char* was_word, std::vector<std::string>& out)
{
    for (std::size_t i = 0; i < kStateFields; ++i) {
        if (was[i] != now[i])
            out.push_back(fmt::format("{}: {} {:#x}, now {:#x}", kStateFieldNames[i], was_word, was[i], now[i]));
    }
}

void stop_machine(const sim::ExitEvent& e, const std::string& why)
{
    if (e.memory == nullptr) return;
    sim::Engine* engine = sim::sim_context().engine;
    if (engine == nullptr) return;
    engine->set_wall_stop_reason(why);
    engine->request_wall_stop();
}

void hash_guest_pages(const sim::ExitEvent& e, std::vector<std::uint64_t>& hashes)
{
    const RunStats& domain = last_run_stats();
    const std::uint64_t frames = domain.p2m_frames;
    hashes.assign(frames, kNoPageHash);
    const std::uint64_t pages = e.memory_bytes / kPageBytes;
    if (e.memory == nullptr || domain.p2m_table > e.memory_bytes || frames > (e.memory_bytes - domain.p2m_table) / 8) {
        return;
    }
    for (std::uint64_t gfn = 0; gfn < frames; ++gfn) {
        std::uint64_t mfn = 0;
        std::memcpy(&mfn, e.memory + domain.p2m_table + gfn * 8, sizeof mfn);
        if (mfn < pages) hashes[gfn] = XXH3_64bits(e.memory + mfn * kPageBytes, kPageBytes);
    }
}

EndRecord end_record(const sim::MachineResult& r, const std::string& console)
{
    EndRecord e;
    e.ok = r.ok;
    e.failure = static_cast<std::uint8_t>(r.failure);
    e.status = r.status;
    e.end = r.end;
    e.end_reason = r.end_reason;
    e.error = r.error;
    e.exits = r.exits;
    e.guest_instructions = r.guest_instructions;
    e.emulated_instructions = r.emulated_instructions;
    e.vtime_ns = r.vtime_ns;
    e.memory_hash = r.memory_hash;
    e.console_bytes = console.size();
    e.console_hash = hash_bytes(console.data(), console.size());
    return e;
}

std::uint64_t zero_page_hash()
{
    static const std::uint64_t hash = [] {
        static const std::uint8_t zero[kPageBytes] = {};
        return XXH3_64bits(zero, sizeof zero);
    }();
    return hash;
}

std::uint64_t hash_bytes(const void* data, std::size_t size)
{
    return XXH64(data, size, 0);
}

}  // namespace xeno::harness
