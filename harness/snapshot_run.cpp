#include "harness/snapshot_run.hpp"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <ostream>

#include <fmt/core.h>

#include "arch/x86/vmx/vmx_arch.hpp"
#include "harness/machine_digest.hpp"
#include "sim/platform/sim_context.hpp"
#include "sim/vmx-model/engine/engine.hpp"

namespace xeno::harness {

namespace fs = std::filesystem;

namespace {

std::string absolute(const std::string& path)
{
    std::error_code ec;
    const fs::path a = fs::absolute(path, ec);
    return ec ? path : a.lexically_normal().string();
}

// A temporary file the recording code reads and writes by name: an
// unlinked file, named through /proc/self/fd (no file left behind).
std::string fd_path(std::FILE* file)
{
    return fmt::format("/proc/self/fd/{}", ::fileno(file));
}

std::vector<std::uint8_t> read_all(std::FILE* file)
{
    std::vector<std::uint8_t> bytes;
    std::rewind(file);
    std::uint8_t chunk[1 << 16];
    std::size_t got = 0;
    while ((got = std::fread(chunk, 1, sizeof chunk, file)) > 0) bytes.insert(bytes.end(), chunk, chunk + got);
    return bytes;
}

// The trace channel on or off does not change the run (it is output); a
// restore may add or drop --trace.
std::string without_trace(std::string cmdline)
{
    for (std::size_t at; (at = cmdline.find(" trace=on")) != std::string::npos;) cmdline.erase(at, 9);
    return cmdline;
}

std::string joined(const std::vector<std::string>& items)
{
    std::string out;
    for (const std::string& item : items) out += (out.empty() ? "" : "; ") + item;
    return out;
}

}  // namespace

std::vector<std::string> snapshot_machine_args(const RunOptions& o)
{
    std::vector<std::string> args;
    if (!o.scenario_dir.empty()) args.push_back(absolute(o.scenario_dir));
    const auto add = [&args](const char* flag, const std::optional<std::string>& value, bool path = false) {
        if (value) {
            args.push_back(flag);
            args.push_back(path ? absolute(*value) : *value);
        }
    };
    const auto add_number = [&args](const char* flag, const auto& value) {
        if (value) {
            args.push_back(flag);
            args.push_back(std::to_string(*value));
        }
    };
    add("--kernel", o.kernel, true);
    add("--initrd", o.initrd, true);
    add("--append", o.append);
    add("-m", o.memory);
    if (o.pvh) args.push_back("--pvh");
    add("--debug-exit", o.debug_exit);
    add("--on-reset", o.on_reset);
    args.push_back("--profile");
    args.push_back(o.profile);
    add("--paging", o.paging);
    add_number("--max-insns", o.max_insns);
    add_number("--max-vtime-ms", o.max_vtime_ms);
    add_number("--smp", o.smp);
    add("--serial-in", o.serial_in, true);
    add_number("--quantum-us", o.quantum_us);
    return args;
}

Outcome<RunOptions> restored_run_options(const std::vector<std::string>& args, const RunOptions& given)
{
    RunOptions o = given;
    o.restore.reset();
    const auto bad = [](const std::string& what) {
        return Failure{fmt::format("the snapshot's run arguments are not ones this xeno takes ({})", what)};
    };
    const auto number = [](const std::string& text, auto& out) {
        std::uint64_t v = 0;
        const auto [stop, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (ec != std::errc() || stop != text.data() + text.size()) return false;
        out = static_cast<std::remove_reference_t<decltype(*out)>>(v);
        return true;
    };
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (i == 0 && !a.empty() && a[0] != '-') {
            o.scenario_dir = a;
            continue;
        }
        if (a == "--pvh") {
            o.pvh = true;
            continue;
        }
        if (i + 1 == args.size()) return bad(a + " without its value");
        const std::string& v = args[++i];
        if (a == "--kernel") o.kernel = v;
        else if (a == "--initrd") o.initrd = v;
        else if (a == "--append") o.append = v;
        else if (a == "-m") o.memory = v;
        else if (a == "--debug-exit") o.debug_exit = v;
        else if (a == "--on-reset") o.on_reset = v;
        else if (a == "--profile") o.profile = v;
        else if (a == "--paging") o.paging = v;
        else if (a == "--serial-in") o.serial_in = v;
        else if (a == "--max-insns") {
            if (!given.max_insns && !number(v, o.max_insns)) return bad(a + " " + v);
        } else if (a == "--max-vtime-ms") {
            if (!given.max_vtime_ms && !number(v, o.max_vtime_ms)) return bad(a + " " + v);
        } else if (a == "--smp") {
            if (!number(v, o.smp)) return bad(a + " " + v);
        } else if (a == "--quantum-us") {
            if (!number(v, o.quantum_us)) return bad(a + " " + v);
        } else {
            return bad(a);
        }
    }
    return o;
}

// ---- taking a snapshot ----

SnapshotTaker::SnapshotTaker(fs::path file, SnapshotPoint point, std::vector<std::string> machine_args)
    : file_(std::move(file)), point_(point), machine_args_(std::move(machine_args))
{
}

std::optional<std::string> SnapshotTaker::check_writable() const
{
    std::error_code ec;
    if (fs::is_directory(file_, ec)) return fmt::format("--snapshot-at: {} is a directory", file_.string());
    const bool existed = fs::exists(file_, ec);
    std::FILE* probe = std::fopen(file_.c_str(), "ab");
    if (probe == nullptr) {
        return fmt::format("--snapshot-at: cannot write {}: {}", file_.string(), std::strerror(errno));
    }
    std::fclose(probe);
    if (!existed) fs::remove(file_, ec);
    return std::nullopt;
}

std::string SnapshotTaker::report() const
{
    const std::string asked =
        point_.kind == SnapshotPoint::Kind::VTIME ? format_snapshot_point(point_) + ": " : std::string();
    return fmt::format("snapshot: {}: {}after exit {} (vtime {} ns, {} guest instructions), {} bytes",
                       file_.string(), asked, state_.exit, state_.vtime_ns, state_.guest_instructions, bytes_);
}

void SnapshotTaker::take(const sim::ExitEvent& e, const std::string& console)
{
    written_ = true;  // whatever happens, once
    state_.exit = e.number;
    state_.vtime_ns = e.vtime_ns;
    state_.guest_instructions = e.guest_instructions;
    state_.console_bytes = console.size();
    state_.console_hash = hash_bytes(console.data(), console.size());
    state_.vcpus = vcpus_;
    if (e.memory != nullptr) hash_guest_pages(e, state_.pages);

    EndRecord end;
    end.failure = static_cast<std::uint8_t>(sim::MachineResult::Failure::OTHER);
    end.end = "snapshot";
    end.end_reason = format_snapshot_point(point_);
    end.exits = e.number;
    end.guest_instructions = e.guest_instructions;
    end.vtime_ns = e.vtime_ns;
    end.console_bytes = state_.console_bytes;
    end.console_hash = state_.console_hash;
    Outcome<std::uint64_t> finished = writer_->finish(end);
    writer_.reset();
    if (!finished.ok()) {
        error_ = "--snapshot-at: " + finished.error();
        return;
    }
    Snapshot s;
    s.xeno_version = XENO_VERSION;
    s.build_id = this_build_id();
    s.point = point_;
    s.state = state_;
    s.recording = read_all(recording_file_);
    Outcome<std::uint64_t> written = write_snapshot(file_, s);
    if (!written.ok()) {
        error_ = "--snapshot-at: " + written.error();
        return;
    }
    bytes_ = written.value();
}

sim::MachineResult SnapshotTaker::run(const Runner& inner, const sim::MachineConfig& config,
                                      const sim::MachineOutput& output)
{
    sim::MachineResult refused;
    refused.failure = sim::MachineResult::Failure::OTHER;
    if (recording_file_ != nullptr) {
        error_ = "--snapshot-at: the run started a second machine; a snapshot holds one";
        refused.error = *error_;
        return refused;
    }
    recording_file_ = std::tmpfile();
    if (recording_file_ == nullptr) {
        error_ = fmt::format("--snapshot-at: cannot make a temporary file: {}", std::strerror(errno));
        refused.error = *error_;
        return refused;
    }
    RecordedConfig recorded = describe_machine(config);
    recorded.xeno_version = XENO_VERSION;
    recorded.run_args = machine_args_;
    Outcome<std::unique_ptr<RecordingWriter>> created = RecordingWriter::create(fd_path(recording_file_), recorded);
    if (!created.ok()) {
        error_ = "--snapshot-at: " + created.error();
        refused.error = *error_;
        return refused;
    }
    writer_ = std::move(created).value();

    ExitRecord pending;
    std::string console;
    sim::MachineOutput observed = output;
    observed.guest_console = [&output, &console](const char* bytes, std::size_t n) {
        console.append(bytes, n);
        if (output.guest_console) output.guest_console(bytes, n);
    };
    observed.exit_taken = [this, &output, &pending](const sim::ExitEvent& e) {
        if (output.exit_taken) output.exit_taken(e);
        if (written_) return;
        pending = exit_taken_record(e);
    };
    observed.exit_handled = [this, &output, &pending, &console](const sim::ExitEvent& e) {
        if (output.exit_handled) output.exit_handled(e);
        last_exit_ = e.number;
        if (written_) return;
        pending.handled = guest_state(e);
        writer_->exit(pending);
        if (vcpus_.size() <= e.vcpu) vcpus_.resize(e.vcpu + std::size_t{1});
        vcpus_[e.vcpu] = SnapshotVcpu{e.number, pending.handled};
        const bool due = point_.kind == SnapshotPoint::Kind::EXIT ? e.number >= point_.value
                                                                   : e.vtime_ns >= point_.value;
        if (due) take(e, console);
    };
    sim::MachineResult result = inner(config, observed);
    if (!written_ && !error_) {
        error_ = fmt::format("--snapshot-at {}: the run ended after {} exits (virtual time {} ns) before reaching "
                             "it; no snapshot written",
                             point_.kind == SnapshotPoint::Kind::EXIT ? std::to_string(point_.value)
                                                                      : format_snapshot_point(point_),
                             last_exit_, result.vtime_ns);
    }
    writer_.reset();
    std::fclose(recording_file_);
    return result;
}

// ---- restoring one ----

SnapshotRestorer::SnapshotRestorer(fs::path file) : file_(std::move(file))
{
    Outcome<Snapshot> read = read_snapshot(file_);
    if (!read.ok()) {
        error_ = read.error();
        return;
    }
    snapshot_ = std::move(read).value();
    recording_file_ = std::tmpfile();
    if (recording_file_ == nullptr ||
        std::fwrite(snapshot_.recording.data(), 1, snapshot_.recording.size(), recording_file_) !=
            snapshot_.recording.size() ||
        std::fflush(recording_file_) != 0) {
        error_ = fmt::format("cannot make a temporary file: {}", std::strerror(errno));
        return;
    }
    Outcome<RecordingSummary> checked = check_recording(fd_path(recording_file_));
    if (!checked.ok()) {
        error_ = fmt::format("{}: corrupted snapshot (its recording: {})", file_.string(), checked.error());
        return;
    }
    recorded_ = std::move(checked).value();
    if (recorded_.end.end != "snapshot" || recorded_.end.exits != snapshot_.state.exit) {
        error_ = fmt::format("{}: corrupted snapshot (its recording does not end at exit {})", file_.string(),
                             snapshot_.state.exit);
        return;
    }
    machine_args_ = recorded_.config.run_args;
    if (snapshot_.build_id != this_build_id() || snapshot_.xeno_version != XENO_VERSION) {
        another_build_ = fmt::format("written by another build of xeno (version {}, build {:016x}; this is {}, build "
                                     "{:016x})",
                                     snapshot_.xeno_version, snapshot_.build_id, XENO_VERSION, this_build_id());
    }
}

SnapshotRestorer::~SnapshotRestorer()
{
    reader_.reset();
    if (recording_file_ != nullptr) std::fclose(recording_file_);
}

void SnapshotRestorer::fail(std::string why)
{
    if (error_) return;
    if (!another_build_.empty()) why += fmt::format(" (the snapshot was {})", another_build_);
    error_ = std::move(why);
}

std::optional<std::string> SnapshotRestorer::check_config(const sim::MachineConfig& config)
{
    if (error_) return error_;
    RecordedConfig saved = recorded_.config;
    RecordedConfig now = describe_machine(config);
    // Output and limits may change from the snapshot's run to the restore.
    saved.cmdline = without_trace(saved.cmdline);
    now.cmdline = without_trace(now.cmdline);
    saved.max_guest_instructions = now.max_guest_instructions;
    saved.max_vtime_ns = now.max_vtime_ns;
    saved.wall_timeout_ms = now.wall_timeout_ms;
    if (auto difference = machine_difference(saved, now)) {
        fail(fmt::format("{}: not restored: {}", file_.string(), *difference));
    }
    return error_;
}

void SnapshotRestorer::begin_run()
{
    live_ = false;
    reached_ = false;
    console_.clear();
    vcpus_.clear();
    reader_.reset();
    if (error_) return;
    Outcome<std::unique_ptr<RecordingReader>> opened = RecordingReader::open(fd_path(recording_file_));
    if (!opened.ok()) {
        fail(fmt::format("{}: {}", file_.string(), opened.error()));
        return;
    }
    reader_ = std::move(opened).value();
}

void SnapshotRestorer::on_taken(const sim::ExitEvent& e)
{
    if (error_ || !reader_) return;
    Outcome<RecordTag> next = reader_->next();
    if (!next.ok() || next.value() != RecordTag::EXIT) {
        fail(fmt::format("{}: its recording has no exit {}", file_.string(), e.number));
        stop_machine(e, "restore: stopped at a difference from the snapshot");
        return;
    }
    current_ = reader_->exit();
    std::vector<std::string> differences;
    const auto field = [&differences](const char* name, std::uint64_t saved, std::uint64_t now) {
        if (saved != now) differences.push_back(fmt::format("{}: saved {:#x}, now {:#x}", name, saved, now));
    };
    field("exit number", current_.number, e.number);
    field("reason", current_.reason, e.reason);
    field("vcpu", current_.vcpu, e.vcpu);
    field("qualification", current_.qualification, e.qualification);
    field("guest instructions", current_.guest_instructions, e.guest_instructions);
    field("virtual time (ns)", current_.vtime_ns, e.vtime_ns);
    compare_state(current_.taken, guest_state(e), "saved", differences);
    if (!differences.empty()) {
        fail(fmt::format("{}: the re-execution differs from the snapshot's run at {}, before the point (exit {}): "
                         "{}",
                         file_.string(), exit_text(current_.number, current_.reason, current_.vcpu,
                                                   current_.taken[kRipField]),
                         snapshot_.state.exit, joined(differences)));
        stop_machine(e, "restore: stopped at a difference from the snapshot");
    }
}

void SnapshotRestorer::on_handled(const sim::ExitEvent& e)
{
    if (error_ || !reader_) return;
    const GuestState now = guest_state(e);
    std::vector<std::string> differences;
    compare_state(current_.handled, now, "saved", differences);
    if (!differences.empty()) {
        fail(fmt::format("{}: the re-execution differs from the snapshot's run after the handler of {}: {}",
                         file_.string(), exit_text(current_.number, current_.reason, current_.vcpu,
                                                   current_.taken[kRipField]),
                         joined(differences)));
        stop_machine(e, "restore: stopped at a difference from the snapshot");
        return;
    }
    if (vcpus_.size() <= e.vcpu) vcpus_.resize(e.vcpu + std::size_t{1});
    vcpus_[e.vcpu] = SnapshotVcpu{e.number, now};
    if (e.number == snapshot_.state.exit) verify(e);
}

void SnapshotRestorer::verify(const sim::ExitEvent& e)
{
    SnapshotState now;
    now.exit = e.number;
    now.vtime_ns = e.vtime_ns;
    now.guest_instructions = e.guest_instructions;
    now.console_bytes = console_.size();
    now.console_hash = hash_bytes(console_.data(), console_.size());
    if (noted_) {
        // A re-run for the GDB stub's reverse execution: its console
        // channel passes on only what it had not passed on before (none of
        // the prefix), and the first run verified it.
        now.console_bytes = snapshot_.state.console_bytes;
        now.console_hash = snapshot_.state.console_hash;
    }
    now.vcpus = vcpus_;
    if (e.memory != nullptr) hash_guest_pages(e, now.pages);
    const std::vector<std::string> differences = state_differences(snapshot_.state, now);
    if (!differences.empty()) {
        fail(fmt::format("{}: the machine state at exit {} differs from the snapshot's: {}", file_.string(), e.number,
                         joined(differences)));
        stop_machine(e, "restore: stopped at a difference from the snapshot");
        return;
    }
    live_ = true;
    reached_ = true;
    reader_.reset();
    if (notes_ != nullptr && !noted_) {
        noted_ = true;
        if (!another_build_.empty()) {
            *notes_ << "restore: note: " << file_.string() << " was " << another_build_
                    << "; its state verified\n";
        }
        *notes_ << fmt::format("restore: {}: re-executed to exit {} (vtime {} ns, {} guest instructions); machine "
                               "state verified ({} vcpus, {} pages of guest RAM); live from here\n",
                               file_.string(), e.number, e.vtime_ns, e.guest_instructions, now.vcpus.size(),
                               now.pages.size());
        notes_->flush();
    }
}

sim::MachineOutput SnapshotRestorer::observe(const sim::MachineOutput& output)
{
    sim::MachineOutput gated = output;
    const auto channel = [this](const std::function<void(const char*, std::size_t)>& sink, bool console) {
        return [this, sink, console](const char* bytes, std::size_t n) {
            if (live_) {
                if (sink) sink(bytes, n);
            } else if (console) {
                console_.append(bytes, n);
            }
        };
    };
    gated.guest_console = channel(output.guest_console, true);
    if (output.log) gated.log = channel(output.log, false);
    if (output.trace) gated.trace = channel(output.trace, false);
    gated.exit_taken = [this, sink = output.exit_taken](const sim::ExitEvent& e) {
        if (live_) {
            if (sink) sink(e);
        } else {
            on_taken(e);
        }
    };
    gated.exit_handled = [this, sink = output.exit_handled](const sim::ExitEvent& e) {
        if (live_) {
            if (sink) sink(e);
        } else {
            on_handled(e);  // the point's own exit is not passed on: its taken half was not
        }
    };
    if (output.vcpu_entered) {
        gated.vcpu_entered = [this, sink = output.vcpu_entered](const sim::EntryEvent& e) {
            if (live_) sink(e);
        };
    }
    return gated;
}

sim::MachineResult SnapshotRestorer::run(const Runner& inner, const sim::MachineConfig& config,
                                         const sim::MachineOutput& output)
{
    sim::MachineResult refused;
    refused.failure = sim::MachineResult::Failure::OTHER;
    if (check_config(config)) {
        refused.error = *error_;
        return refused;
    }
    begin_run();
    const sim::MachineResult result = inner(config, observe(output));
    finish(result);
    return result;
}

void SnapshotRestorer::finish(const sim::MachineResult& result)
{
    if (error_ || reached_) return;
    fail(fmt::format("{}: the re-executed run ended ({}) after {} exits, before the snapshot's exit {}",
                     file_.string(), result.ok ? "end=" + result.end : result.error, result.exits,
                     snapshot_.state.exit));
}

}  // namespace xeno::harness
