#include "harness/timeline.hpp"

#include <iterator>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "arch/x86/vmx/vmx_arch.hpp"

namespace xeno::harness {

namespace {

constexpr int kPid = 1;

// Virtual nanoseconds as the format's microseconds, exactly: "12.345".
std::string micros(std::uint64_t ns)
{
    return fmt::format("{}.{:03}", ns / 1000, ns % 1000);
}

// VM-entry interruption information, bits 10:8 (SDM 24.8.3).
const char* interruption_type(std::uint32_t info)
{
    switch ((info >> 8) & 7) {
    case 0: return "external interrupt";
    case 2: return "NMI";
    case 3: return "hardware exception";
    case 4: return "software interrupt";
    case 5: return "privileged software exception";
    case 6: return "software exception";
    case 7: return "other event";
    default: return "reserved";
    }
}

}  // namespace

Timeline::Timeline(std::FILE* file, const std::string& process, std::uint64_t max_events)
    : file_(file), max_events_(max_events)
{
    buffer_.append(std::string_view("{\"traceEvents\":[\n"));
    emit(R"({{"name":"process_name","ph":"M","pid":{},"tid":0,"args":{{"name":{}}}}})", kPid,
                     nlohmann::json(process).dump());
}


void Timeline::flush()
{
    if (buffer_.size() != 0) {
        std::fwrite(buffer_.data(), 1, buffer_.size(), file_);
        buffer_.clear();
    }
}

bool Timeline::admit(std::uint32_t vcpu, std::uint64_t at_ns)
{
    if (truncated_) {
        return false;
    }
    if (events_ >= max_events_) {
        truncated_ = true;
        truncated_after_ns_ = at_ns;
        return false;
    }
    if (vcpu >= named_.size()) {
        named_.resize(vcpu + 1, false);
    }
    if (!named_[vcpu]) {
        named_[vcpu] = true;
        emit(R"({{"name":"thread_name","ph":"M","pid":{},"tid":{},"args":{{"name":"vcpu {}"}}}})", kPid,
                         vcpu, vcpu);
        emit(R"({{"name":"thread_sort_index","ph":"M","pid":{},"tid":{},"args":{{"sort_index":{}}}}})",
                         kPid, vcpu, vcpu);
    }
    ++events_;
    return true;
}

void Timeline::guest_ran(std::uint32_t vcpu, std::uint64_t begin_ns, std::uint64_t end_ns,
                         std::uint64_t instructions, const sim::ExitEvent*)
{
    // An exit straight at the entry leaves no guest time: nothing to show.
    if (end_ns <= begin_ns || !admit(vcpu, begin_ns)) {
        return;
    }
    emit(R"({{"name":"guest","cat":"guest","ph":"X","ts":{},"dur":{},"pid":{},"tid":{},"args":{{"instructions":{}}}}})",
        micros(begin_ns), micros(end_ns - begin_ns), kPid, vcpu, instructions);
}

void Timeline::exit_done(const sim::ExitEvent& taken, const sim::ExitEvent& handled, std::uint64_t begin_ns,
                         std::uint64_t)
{
    if (!admit(taken.vcpu, begin_ns)) {
        return;
    }
    const std::uint16_t basic = vmx::exit_basic_reason(taken.reason);
    const char* entry_failure = (taken.reason & vmx::kExitReasonEntryFailure) ? ",\"entry_failure\":true" : "";
    emit(R"({{"name":"{}","cat":"exit","ph":"X","ts":{},"dur":{},"pid":{},"tid":{},)"
                     R"("args":{{"exit":{},"reason":{},"rip":"{:#x}","qualification":"{:#x}"{}}}}})",
                     vmx::exit_reason_name(basic), micros(begin_ns), micros(handled.vtime_ns - begin_ns), kPid,
                     taken.vcpu, taken.number, basic, taken.rip, taken.qualification, entry_failure);
}

void Timeline::injected(std::uint32_t vcpu, std::uint64_t at_ns, std::uint32_t interruption)
{
    if (!admit(vcpu, at_ns)) {
        return;
    }
    const std::uint32_t vector = interruption & 0xff;
    emit(R"({{"name":"inject {} {:#04x}","cat":"interrupt","ph":"i","s":"t","ts":{},"pid":{},"tid":{},)"
                     R"("args":{{"vector":{},"type":"{}"}}}})",
                     interruption_type(interruption), vector, micros(at_ns), kPid, vcpu, vector,
                     interruption_type(interruption));
}

void Timeline::halted(std::uint32_t vcpu, std::uint64_t begin_ns, std::uint64_t end_ns)
{
    if (!admit(vcpu, begin_ns)) {
        return;
    }
    emit(R"({{"name":"halted","cat":"halt","ph":"X","ts":{},"dur":{},"pid":{},"tid":{}}})",
                     micros(begin_ns), micros(end_ns - begin_ns), kPid, vcpu);
}

void Timeline::waited(std::uint32_t vcpu, std::uint64_t begin_ns, std::uint64_t end_ns, std::uint32_t after_reason)
{
    if (!admit(vcpu, begin_ns)) {
        return;
    }
    emit(R"({{"name":"waiting","cat":"wait","ph":"X","ts":{},"dur":{},"pid":{},"tid":{},)"
                     R"("args":{{"after":"{}"}}}})",
                     micros(begin_ns), micros(end_ns - begin_ns), kPid, vcpu,
                     vmx::exit_reason_name(vmx::exit_basic_reason(after_reason)));
}

void Timeline::close()
{
    auto out = std::back_inserter(buffer_);
    fmt::format_to(out, "\n],\n\"displayTimeUnit\":\"ns\",\n");
    fmt::format_to(out, R"("otherData":{{"generator":"xeno run --timeline","clock":"virtual","events":{})",
                           events_);
    if (truncated_) {
        fmt::format_to(out, R"(,"truncated_after_events":{},"truncated_after_ns":{})", max_events_,
                               truncated_after_ns_);
    }
    fmt::format_to(out, "}}}}\n");
    flush();
    std::fflush(file_);
}

}  // namespace xeno::harness
