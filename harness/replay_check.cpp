#include "harness/replay_check.hpp"

#include <fmt/core.h>

#include "arch/x86/vmx/vmx_arch.hpp"
#include "harness/machine_digest.hpp"
#include "sim/platform/sim_context.hpp"
#include "sim/vmx-model/engine/engine.hpp"

namespace xeno::harness {

namespace {

// At most this many differing pages are named (the count is always given).
constexpr std::size_t kPagesNamed = 16;

}  // namespace

ReplayChecker::ReplayChecker(RecordingReader& reader, EndRecord recorded_end)
    : reader_(reader), recorded_end_(std::move(recorded_end))
{
}

bool ReplayChecker::peek(RecordTag& tag)
{
    if (!pending_) {
        Outcome<RecordTag> next = reader_.next();
        if (!next.ok()) {
            // It read to the end before (check_recording): it changed since.
            if (!refused_) refused_ = next.error() + " (the file changed during the replay)";
            done_ = true;
            return false;
        }
        pending_ = next.value();
    }
    tag = *pending_;
    return true;
}

void ReplayChecker::diverge(ExitDivergence d, const sim::ExitEvent& e)
{
    exit_divergence_ = std::move(d);
    done_ = true;
    in_exit_ = false;
    stopped_ = true;
    stop_machine(e, "replay: stopped after its first divergent exit");
}

void ReplayChecker::on_taken(const sim::ExitEvent& e)
{
    if (done_) return;
    RecordTag tag{};
    if (!peek(tag)) return;
    if (tag == RecordTag::END) {
        done_ = true;
        if (recorded_end_.failure == static_cast<std::uint8_t>(sim::MachineResult::Failure::WALL_TIME_LIMIT)) {
            // The recorded run was cut by host time: all of it agreed.
            stopped_ = true;
            stop_machine(e, "replay: stopped after its first divergent exit");
            return;
        }
        ExitDivergence d;
        d.exit = e.number;
        d.where = "an exit the recorded run did not take";
        d.recorded = fmt::format("the recorded run ended after {} exits ({})", recorded_end_.exits,
                                 recorded_end_.end.empty() ? recorded_end_.error : "end=" + recorded_end_.end);
        d.replayed = exit_text(e.number, e.reason, e.vcpu, e.rip);
        diverge(std::move(d), e);
        return;
    }
    if (tag != RecordTag::EXIT) {
        refused_ = "the recording has a checkpoint where an exit belongs";
        done_ = true;
        return;
    }
    pending_.reset();
    current_ = reader_.exit();
    const GuestState now = guest_state(e);
    std::vector<std::string> differences;
    const auto field = [&differences](const char* name, std::uint64_t recorded, std::uint64_t replayed, bool hex) {
        if (recorded == replayed) return;
        differences.push_back(hex ? fmt::format("{}: recorded {:#x}, now {:#x}", name, recorded, replayed)
                                  : fmt::format("{}: recorded {}, now {}", name, recorded, replayed));
    };
    field("exit number", current_.number, e.number, false);
    if (current_.reason != e.reason) {
        differences.push_back(
            fmt::format("reason: recorded {}, now {}", reason_text(current_.reason), reason_text(e.reason)));
    }
    field("vcpu", current_.vcpu, e.vcpu, false);
    field("qualification", current_.qualification, e.qualification, true);
    field("guest instructions", current_.guest_instructions, e.guest_instructions, false);
    field("virtual time (ns)", current_.vtime_ns, e.vtime_ns, false);
    compare_state(current_.taken, now, "recorded", differences);
    if (!differences.empty()) {
        ExitDivergence d;
        d.exit = e.number;
        d.where = "when it was taken";
        d.recorded = exit_text(current_.number, current_.reason, current_.vcpu, current_.taken[kRipField]);
        d.replayed = exit_text(e.number, e.reason, e.vcpu, e.rip);
        d.differences = std::move(differences);
        diverge(std::move(d), e);
        return;
    }
    in_exit_ = true;
}

void ReplayChecker::on_handled(const sim::ExitEvent& e)
{
    if (done_ || !in_exit_) return;
    in_exit_ = false;
    std::vector<std::string> differences;
    compare_state(current_.handled, guest_state(e), "recorded", differences);
    if (!differences.empty()) {
        ExitDivergence d;
        d.exit = e.number;
        d.where = "after its handler";
        d.recorded = exit_text(current_.number, current_.reason, current_.vcpu, current_.taken[kRipField]);
        d.replayed = d.recorded;
        d.differences = std::move(differences);
        diverge(std::move(d), e);
        return;
    }
    ++exits_compared_;
    RecordTag tag{};
    if (!peek(tag) || tag != RecordTag::CHECKPOINT) return;
    pending_.reset();
    const CheckpointRecord& k = reader_.checkpoint();
    ++checkpoints_compared_;
    if (checkpoint_divergence_ || e.memory == nullptr) return;  // the first one is the one to name
    hash_guest_pages(e, pages_);
    if (pages_ == k.page_hashes) return;
    // (A different page count, another guest memory size, is caught with
    // the configuration; compare what both have.)
    CheckpointDivergence c;
    c.number = checkpoints_compared_;
    c.after_exit = k.after_exit;
    c.vtime_ns = k.vtime_ns;
    c.pages = k.page_hashes.size();
    for (std::size_t p = 0; p < pages_.size() && p < k.page_hashes.size(); ++p) {
        if (pages_[p] != k.page_hashes[p]) c.differing.push_back(p * kPageBytes);
    }
    checkpoint_divergence_ = std::move(c);
}

void ReplayChecker::compare_end(const sim::MachineResult& result, const std::string& console)
{
    RecordTag tag{};
    if (!peek(tag)) return;
    if (tag == RecordTag::EXIT) {
        const ExitRecord& missing = reader_.exit();
        ExitDivergence d;
        d.exit = missing.number;
        d.where = "an exit the replay did not take";
        d.recorded = exit_text(missing.number, missing.reason, missing.vcpu, missing.taken[kRipField]);
        d.replayed = fmt::format("the replay ended after {} exits ({})", result.exits,
                                 result.ok ? "end=" + result.end : result.error);
        exit_divergence_ = std::move(d);
        return;
    }
    if (tag != RecordTag::END) return;
    const EndRecord& was = reader_.end();
    const EndRecord now = end_record(result, console);
    std::vector<std::string>& out = end_differences_;
    const auto text = [&out](const char* name, const std::string& a, const std::string& b) {
        if (a != b) out.push_back(fmt::format("{}: recorded \"{}\", now \"{}\"", name, a, b));
    };
    const auto number = [&out](const char* name, auto a, auto b) {
        if (a != b) out.push_back(fmt::format("{}: recorded {}, now {}", name, a, b));
    };
    number("ok", was.ok, now.ok);
    number("status", was.status, now.status);
    text("end", was.end, now.end);
    text("end reason", was.end_reason, now.end_reason);
    text("error", was.error, now.error);
    number("exits", was.exits, now.exits);
    number("guest instructions", was.guest_instructions, now.guest_instructions);
    number("emulated instructions", was.emulated_instructions, now.emulated_instructions);
    number("virtual time (ns)", was.vtime_ns, now.vtime_ns);
    if (was.memory_hash != now.memory_hash) {
        out.push_back(fmt::format("machine memory at the end: recorded xxh64 {:#018x}, now {:#018x}",
                                  was.memory_hash, now.memory_hash));
    }
    if (was.console_bytes != now.console_bytes || was.console_hash != now.console_hash) {
        out.push_back(fmt::format("guest console: recorded {} bytes (xxh64 {:#018x}), now {} bytes (xxh64 {:#018x})",
                                  was.console_bytes, was.console_hash, now.console_bytes, now.console_hash));
    }
}

sim::MachineResult ReplayChecker::run(const Runner& inner, const sim::MachineConfig& config,
                                      const sim::MachineOutput& output)
{
    sim::MachineResult refused;
    refused.failure = sim::MachineResult::Failure::OTHER;
    if (ran_) {
        refused_ = "the recorded arguments started a second machine; a recording holds one";
        refused.error = *refused_;
        return refused;
    }
    ran_ = true;
    const RecordedConfig& recorded = reader_.config();
    const RecordedConfig now = describe_machine(config);
    if (auto difference = machine_difference(recorded, now)) {
        refused_ = *difference;
        refused.error = *difference;
        return refused;
    }
    if (recorded.xeno_version != XENO_VERSION) {
        notes_.push_back(fmt::format("recorded by xeno {}, replayed by xeno {}", recorded.xeno_version, XENO_VERSION));
    }
    sim::MachineConfig replayed = config;
    replayed.hash_memory = true;  // END's witness (RunRecorder)
    if (now.rtc_epoch != recorded.rtc_epoch) {
        // The same command line, so this xeno's default epoch differs: the
        // epoch is an input, and the guest gets the recorded one.
        replayed.cmdline += fmt::format(" rtc_epoch={}", recorded.rtc_epoch);
        notes_.push_back(fmt::format("the RTC epoch is the recorded {} (this xeno's default is {})",
                                     recorded.rtc_epoch, now.rtc_epoch));
    }
    if (recorded_end_.failure == static_cast<std::uint8_t>(sim::MachineResult::Failure::WALL_TIME_LIMIT)) {
        notes_.push_back(fmt::format("the recorded run was cut by its wall-time limit after {} exits: only those "
                                     "are compared",
                                     recorded_end_.exits));
    }

    std::string console;
    sim::MachineOutput observed = output;
    observed.guest_console = [&output, &console](const char* bytes, std::size_t n) {
        console.append(bytes, n);
        if (output.guest_console) output.guest_console(bytes, n);
    };
    observed.exit_taken = [this, &output](const sim::ExitEvent& e) {
        if (output.exit_taken) output.exit_taken(e);
        on_taken(e);
    };
    observed.exit_handled = [this, &output](const sim::ExitEvent& e) {
        if (output.exit_handled) output.exit_handled(e);
        on_handled(e);
    };
    sim::MachineResult result = inner(replayed, observed);
    if (!done_ && !refused_) compare_end(result, console);
    if (!config.hash_memory) result.memory_hash = 0;  // as the run would have it (the summary's --memhash)
    return result;
}

std::string format_replay_report(const ReplayChecker& c)
{
    std::string out;
    for (const std::string& note : c.notes()) out += "replay: note: " + note + "\n";
    if (!c.diverged()) {
        out += fmt::format("replay: identical ({} exits, {} checkpoints)\n", c.exits_compared(),
                           c.checkpoints_compared());
        return out;
    }
    out += fmt::format("replay: DIVERGED (after {} identical exits)\n", c.exits_compared());
    if (const auto& k = c.checkpoint_divergence()) {
        out += fmt::format("replay: first divergent checkpoint: {} (after exit {}, vtime {} ns): {} of {} pages of "
                           "guest RAM differ, at guest-physical",
                           k->number, k->after_exit, k->vtime_ns, k->differing.size(), k->pages);
        for (std::size_t i = 0; i < k->differing.size() && i < kPagesNamed; ++i) {
            out += fmt::format(" {:#x}", k->differing[i]);
        }
        if (k->differing.size() > kPagesNamed) out += fmt::format(" (and {} more)", k->differing.size() - kPagesNamed);
        out += "\n";
    }
    if (const auto& d = c.exit_divergence()) {
        out += fmt::format("replay: first divergent exit: {}, {}\n", d->exit, d->where);
        out += fmt::format("replay:   recorded: {}\n", d->recorded);
        if (d->replayed != d->recorded) out += fmt::format("replay:   now:      {}\n", d->replayed);
        for (const std::string& line : d->differences) out += "replay:   " + line + "\n";
    } else if (c.checkpoint_divergence()) {
        out += "replay: first divergent exit: none (every exit's registers agree with the recording)\n";
    }
    if (!c.end_differences().empty()) {
        out += "replay: the run ended differently:\n";
        for (const std::string& line : c.end_differences()) out += "replay:   " + line + "\n";
    }
    return out;
}

}  // namespace xeno::harness
