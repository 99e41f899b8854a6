#include "harness/gdb_server.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/core.h>

namespace xeno::harness::gdb {

namespace {

constexpr const char* kMalformed = "E01";
constexpr const char* kTooLong = "E02";
constexpr const char* kNotNow = "E03";
constexpr std::uint64_t kAllThreads = ~std::uint64_t{0};

// "-1" (all), else hex.
std::optional<std::uint64_t> parse_thread(std::string_view text)
{
    if (text == "-1") return kAllThreads;
    return parse_hex_u64(text);
}

// "ADDR,LEN" (hex).
bool parse_address_length(std::string_view text, std::uint64_t* address, std::uint64_t* length)
{
    const std::size_t comma = text.find(',');
    if (comma == std::string_view::npos) return false;
    const auto a = parse_hex_u64(text.substr(0, comma));
    const auto l = parse_hex_u64(text.substr(comma + 1));
    if (!a || !l) return false;
    *address = *a;
    *length = *l;
    return true;
}

}  // namespace

std::string stop_reply(const StopReport& r)
{
    using Why = StopReport::Why;
    std::string out = fmt::format("T{:02x}thread:{:x};", r.why == Why::INTERRUPT ? 2 : 5, thread_of(r.vcpu));
    switch (r.why) {
    case Why::SWBREAK: out += "swbreak:;"; break;
    case Why::HWBREAK: out += "hwbreak:;"; break;
    case Why::WATCH: out += fmt::format("watch:{:x};", r.data_address); break;
    case Why::RWATCH: out += fmt::format("rwatch:{:x};", r.data_address); break;
    case Why::AWATCH: out += fmt::format("awatch:{:x};", r.data_address); break;
    case Why::HISTORY_BEGIN: out += "replaylog:begin;"; break;
    case Why::INITIAL:
    case Why::STEP:
    case Why::INTERRUPT: break;
    }
    return out;
}

bool Server::send_packet(const std::string& payload)
{
    last_sent_ = encode_packet(payload);
    return connection_.write(last_sent_);
}

bool Server::interrupt_requested()
{
    while (connection_.readable()) {
        const std::optional<char> byte = connection_.read_byte(0);
        if (!byte) break;
        if (parser_.feed(*byte).kind == ParseEvent::Kind::INTERRUPT) return true;
        // Anything else while running is not something GDB sends in
        // all-stop mode: dropped.
    }
    return !connection_.connected();  // gone: stop, and the stop detaches
}

Resume Server::serve_stop(Target& target, const StopReport& report)
{
    last_stop_ = stop_reply(report);
    if (state_->resume_pending) {
        state_->resume_pending = false;
        send_packet(last_stop_);
    }
    for (;;) {
        const std::optional<char> byte = connection_.read_byte(-1);
        if (!byte) return Resume{Resume::Kind::DETACH, 0};  // disconnected (mid-packet too)
        ParseEvent ev = parser_.feed(*byte);
        switch (ev.kind) {
        case ParseEvent::Kind::NONE:
        case ParseEvent::Kind::ACK:
        case ParseEvent::Kind::INTERRUPT: continue;  // already stopped
        case ParseEvent::Kind::NAK:
            if (!last_sent_.empty()) connection_.write(last_sent_);
            continue;
        case ParseEvent::Kind::BAD_CHECKSUM:
            if (state_->ack_mode) connection_.write("-");  // GDB sends it again
            else send_packet(kMalformed);
            continue;
        case ParseEvent::Kind::TOO_LONG:
        case ParseEvent::Kind::MALFORMED:
            if (state_->ack_mode) connection_.write("+");
            send_packet(ev.kind == ParseEvent::Kind::TOO_LONG ? kTooLong : kMalformed);
            continue;
        case ParseEvent::Kind::PACKET: break;
        }
        if (state_->ack_mode) connection_.write("+");
        const bool no_ack_request = ev.payload == "QStartNoAckMode";
        Answer a = answer(&target, ev.payload);
        if (a.send) send_packet(a.reply);
        if (no_ack_request) state_->ack_mode = false;  // from after this OK on
        if (a.resumes) {
            state_->resume_pending = a.resume.kind != Resume::Kind::DETACH && a.resume.kind != Resume::Kind::KILL;
            // The acknowledgement of a continue or step goes out now, not at
            // the run's first poll: GDB resends a packet it sees no '+' for.
            connection_.flush();
            return a.resume;
        }
    }
}

void Server::run_ended(const std::string& reply, int timeout_ms)
{
    if (!connection_.connected()) return;
    if (state_->resume_pending) {
        state_->resume_pending = false;
        send_packet(reply);
    }
    last_stop_ = reply;
    for (;;) {
        bool timed_out = false;
        const std::optional<char> byte = connection_.read_byte(timeout_ms, &timed_out);
        if (!byte) break;
        ParseEvent ev = parser_.feed(*byte);
        if (ev.kind != ParseEvent::Kind::PACKET) continue;
        if (state_->ack_mode) connection_.write("+");
        Answer a = answer(nullptr, ev.payload);
        if (a.send) send_packet(a.reply);
        if (a.resumes) {
            if (a.resume.kind == Resume::Kind::KILL || a.resume.kind == Resume::Kind::DETACH) break;
            send_packet(reply);  // nothing runs any more: it ended
        }
    }
    connection_.close_client();
}

std::uint32_t Server::selected_vcpu(Target& target, std::uint64_t thread) const
{
    if (thread == 0 || thread == kAllThreads) return target.stopped_vcpu();
    return static_cast<std::uint32_t>(thread - 1);
}

Server::Answer Server::answer(Target* target, const std::string& packet)
{
    Answer a;
    if (packet.empty()) return a;  // the empty reply
    const char kind = packet[0];
    const std::string_view args = std::string_view(packet).substr(1);
    switch (kind) {
    case '?': a.reply = last_stop_.empty() ? std::string("W00") : last_stop_; return a;
    case 'q':
    case 'Q': a.reply = handle_query(target, packet); return a;
    case 'm':
    case 'M': a.reply = handle_memory(target, packet); return a;
    case 'Z':
    case 'z': a.reply = handle_point(target, packet); return a;
    case 'H': {
        if (args.empty() || (args[0] != 'g' && args[0] != 'c')) {
            a.reply = kMalformed;
            return a;
        }
        const auto thread = parse_thread(args.substr(1));
        if (!thread) {
            a.reply = kMalformed;
            return a;
        }
        if (*thread != 0 && *thread != kAllThreads && (!target || !target->has_vcpu(static_cast<std::uint32_t>(*thread - 1)))) {
            a.reply = kNotNow;
            return a;
        }
        (args[0] == 'g' ? state_->general_thread : state_->continue_thread) = *thread;
        a.reply = "OK";
        return a;
    }
    case 'T': {
        const auto thread = parse_thread(args);
        a.reply = thread && *thread != 0 && *thread != kAllThreads && target &&
                          target->has_vcpu(static_cast<std::uint32_t>(*thread - 1))
                      ? "OK"
                      : kNotNow;
        return a;
    }
    case 'g': {
        if (!args.empty()) {
            a.reply = kMalformed;
            return a;
        }
        const auto regs = target ? target->read_registers(selected_vcpu(*target, state_->general_thread)) : std::nullopt;
        a.reply = regs ? to_hex(regs->data(), regs->size()) : std::string(kNotNow);
        return a;
    }
    case 'G': {
        if (!target) {
            a.reply = kNotNow;
            return a;
        }
        const std::uint32_t vcpu = selected_vcpu(*target, state_->general_thread);
        const auto bytes = from_hex(args);
        const auto now = target->read_registers(vcpu);
        if (!bytes || !now || bytes->size() != now->size()) {
            a.reply = kMalformed;
            return a;
        }
        // Only the general registers can change (Target::write_register).
        std::size_t offset = 0;
        for (int r = 0; r < kRegisterCount; offset += register_size(r), ++r) {
            const std::string want = bytes->substr(offset, register_size(r));
            if (want == now->substr(offset, register_size(r))) continue;
            if (!target->write_register(vcpu, r, want)) {
                a.reply = kNotNow;
                return a;
            }
        }
        a.reply = "OK";
        return a;
    }
    case 'p':
    case 'P': {
        const std::size_t eq = args.find('=');
        const auto regno = parse_hex_u64(kind == 'p' ? args : args.substr(0, eq));
        if (!regno || *regno >= static_cast<std::uint64_t>(kRegisterCount) || (kind == 'P' && eq == std::string_view::npos)) {
            a.reply = kMalformed;
            return a;
        }
        if (!target) {
            a.reply = kNotNow;
            return a;
        }
        const std::uint32_t vcpu = selected_vcpu(*target, state_->general_thread);
        if (kind == 'p') {
            const auto regs = target->read_registers(vcpu);
            if (!regs) {
                a.reply = kNotNow;
                return a;
            }
            std::size_t offset = 0;
            for (int r = 0; r < static_cast<int>(*regno); ++r) offset += register_size(r);
            a.reply = to_hex(regs->data() + offset, register_size(static_cast<int>(*regno)));
            return a;
        }
        const auto bytes = from_hex(args.substr(eq + 1));
        if (!bytes || bytes->size() != static_cast<std::size_t>(register_size(static_cast<int>(*regno)))) {
            a.reply = kMalformed;
            return a;
        }
        a.reply = target->write_register(vcpu, static_cast<int>(*regno), *bytes) ? "OK" : kNotNow;
        return a;
    }
    case 'c':
    case 's': {
        if (!args.empty()) {  // resuming at another address: not offered
            a.reply = kMalformed;
            return a;
        }
        if (!target) {
            a.reply = "W00";
            return a;
        }
        a.send = false;
        a.resumes = true;
        a.resume.kind = kind == 'c' ? Resume::Kind::CONTINUE : Resume::Kind::STEP;
        const std::uint64_t thread =
            state_->continue_thread != 0 && state_->continue_thread != kAllThreads ? state_->continue_thread : state_->general_thread;
        a.resume.vcpu = selected_vcpu(*target, thread);
        return a;
    }
    case 'b': {
        if (args != "c" && args != "s") {
            a.reply = "";  // bc and bs only
            return a;
        }
        if (!target || !target->history_valid()) {
            a.reply = kNotNow;  // GDB changed registers or memory: that past cannot be re-executed
            return a;
        }
        a.send = false;
        a.resumes = true;
        a.resume.kind = args == "c" ? Resume::Kind::REVERSE_CONTINUE : Resume::Kind::REVERSE_STEP;
        const std::uint64_t thread =
            state_->continue_thread != 0 && state_->continue_thread != kAllThreads ? state_->continue_thread : state_->general_thread;
        a.resume.vcpu = selected_vcpu(*target, thread);
        return a;
    }
    case 'k':
        a.send = false;
        a.resumes = true;
        a.resume.kind = Resume::Kind::KILL;
        return a;
    case 'D':
        a.reply = "OK";
        a.resumes = true;
        a.resume.kind = Resume::Kind::DETACH;
        return a;
    default: return a;  // not supported: the empty reply (vCont, X, ...)
    }
}

std::string Server::handle_query(Target* target, const std::string& packet)
{
    const auto starts = [&packet](std::string_view prefix) { return packet.rfind(prefix, 0) == 0; };
    if (starts("qSupported")) {
        return fmt::format("PacketSize={:x};qXfer:features:read+;QStartNoAckMode+;ReverseStep+;ReverseContinue+;"
                           "swbreak+;hwbreak+",
                           kMaxPacketPayload);
    }
    if (packet == "QStartNoAckMode") return "OK";
    if (starts("qXfer:features:read:")) {
        const std::string_view rest = std::string_view(packet).substr(std::strlen("qXfer:features:read:"));
        const std::size_t colon = rest.find(':');
        std::uint64_t offset = 0, length = 0;
        if (colon == std::string_view::npos || !parse_address_length(rest.substr(colon + 1), &offset, &length))
            return kMalformed;
        if (rest.substr(0, colon) != "target.xml") return "E00";  // no such annex
        const std::string_view xml = target_xml();
        if (offset > xml.size()) return kMalformed;
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(
            {length, std::uint64_t{xml.size() - offset}, std::uint64_t{kMaxPacketPayload / 2}}));
        return (offset + n >= xml.size() ? "l" : "m") + std::string(xml.substr(offset, n));
    }
    if (packet == "qfThreadInfo") {
        if (!target) return "l";
        std::string out = "m";
        for (std::uint32_t v : target->vcpus()) out += fmt::format("{}{:x}", out.size() > 1 ? "," : "", thread_of(v));
        return out;
    }
    if (packet == "qsThreadInfo") return "l";
    if (packet == "qC") return target ? fmt::format("QC{:x}", thread_of(target->stopped_vcpu())) : std::string("");
    if (starts("qAttached")) return "1";
    if (starts("qThreadExtraInfo,")) {
        const auto thread = parse_thread(std::string_view(packet).substr(std::strlen("qThreadExtraInfo,")));
        if (!thread || *thread == 0 || *thread == kAllThreads) return kMalformed;
        return to_hex(fmt::format("vcpu {}", *thread - 1));
    }
    if (starts("qRcmd,")) {
        const auto command = from_hex(std::string_view(packet).substr(std::strlen("qRcmd,")));
        if (!command) return kMalformed;
        if (!target) return to_hex(std::string_view("the run has ended\n"));
        return to_hex(target->monitor(*command, selected_vcpu(*target, state_->general_thread)));
    }
    return "";  // qOffsets, qSymbol, qTStatus, ...: not supported
}

std::string Server::handle_memory(Target* target, const std::string& packet)
{
    const std::string_view args = std::string_view(packet).substr(1);
    std::uint64_t address = 0, length = 0;
    if (packet[0] == 'm') {
        if (!parse_address_length(args, &address, &length)) return kMalformed;
        if (length > kMaxPacketPayload / 2) return kTooLong;
        if (!target) return kNotNow;
        const std::string bytes = target->read_memory(address, length);
        return bytes.empty() && length ? std::string(kNotNow) : to_hex(bytes.data(), bytes.size());
    }
    const std::size_t colon = args.find(':');
    if (colon == std::string_view::npos || !parse_address_length(args.substr(0, colon), &address, &length))
        return kMalformed;
    const auto bytes = from_hex(args.substr(colon + 1));
    if (!bytes || bytes->size() != length) return kMalformed;
    if (!target) return kNotNow;
    return target->write_memory(address, *bytes) ? "OK" : kNotNow;
}

std::string Server::handle_point(Target* target, const std::string& packet)
{
    // Z<type>,<addr>,<kind>[;cond...]: conditions are not offered.
    const std::string_view args = std::string_view(packet).substr(1);
    if (args.size() < 2 || args[1] != ',') return kMalformed;
    if (args[0] < '0' || args[0] > '4') return "";  // a point type the stub does not offer
    std::string_view rest = args.substr(2);
    if (const std::size_t semi = rest.find(';'); semi != std::string_view::npos) return "";
    std::uint64_t address = 0, length = 0;
    if (!parse_address_length(rest, &address, &length)) return kMalformed;
    if (!target) return kNotNow;
    const auto type = static_cast<PointType>(args[0] - '0');
    const bool ok = packet[0] == 'Z' ? target->insert_point(type, address, length)
                                     : target->remove_point(type, address, length);
    return ok ? "OK" : kNotNow;
}

}  // namespace xeno::harness::gdb
