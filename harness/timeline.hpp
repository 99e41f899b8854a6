// `xeno run --timeline FILE`: the run as a Chrome trace-event JSON file
// (the "JSON Array/Object Format" that chrome://tracing and Perfetto's UI
// open): {"traceEvents":[...],"displayTimeUnit":"ns"}, one process (the run)
// with a thread per vcpu ("vcpu N", tid N), on which
//   "guest"          complete events ("ph":"X"): guest execution, entry to exit
//   <exit reason>    complete events: each VM exit (its 1 us cost up to its
//                    handler's return), args exit (the machine's exit number),
//                    rip, qualification (hex strings), vcpu
//   "halted"         complete events: a vcpu halted after a HLT exit
//   "waiting"        complete events: off its CPU after another exit, args
//                    after (that exit's reason)
//   "inject ..."     instant events ("ph":"i", thread scope): an event a VM
//                    entry injects, args vector, type
// Slices are vcpu_activity.hpp's. Timestamps are virtual microseconds with
// three decimals (nanosecond precision), so two runs write the same bytes.
//
// Size: about 150 bytes an event (two or three an exit). Past max_events events (default
// kDefaultMaxTimelineEvents) the timeline stops and says so in its
// metadata ("truncated_after_ns"); --stats still counts every exit.
#pragma once

#include <cstdint>
#include <cstdio>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "harness/vcpu_activity.hpp"

namespace xeno::harness {

inline constexpr std::uint64_t kDefaultMaxTimelineEvents = 4'000'000;  // ~600 MB of JSON

class Timeline : public ActivityListener {
public:
    // Writes to `file` (not owned; it stays open until close()). `process`
    // names the run in the viewer ("hello (skylake)").
    Timeline(std::FILE* file, const std::string& process, std::uint64_t max_events = kDefaultMaxTimelineEvents);

    void guest_ran(std::uint32_t vcpu, std::uint64_t begin_ns, std::uint64_t end_ns, std::uint64_t instructions,
                   const sim::ExitEvent* exit) override;
    void exit_done(const sim::ExitEvent& taken, const sim::ExitEvent& handled, std::uint64_t begin_ns,
                   std::uint64_t host_ns) override;
    void injected(std::uint32_t vcpu, std::uint64_t at_ns, std::uint32_t interruption) override;
    void halted(std::uint32_t vcpu, std::uint64_t begin_ns, std::uint64_t end_ns) override;
    void waited(std::uint32_t vcpu, std::uint64_t begin_ns, std::uint64_t end_ns, std::uint32_t after_reason) override;

    // Ends the JSON document (after VcpuActivity::finish) and flushes it.
    void close();

    std::uint64_t events() const { return events_; }
    bool truncated() const { return truncated_; }

private:
    // Room for one more event; names the vcpu's thread the first time.
    bool admit(std::uint32_t vcpu, std::uint64_t at_ns);
    // One event, formatted straight into the buffer (a Linux boot writes
    // tens of thousands).
    template <typename... Args>
    void emit(fmt::format_string<Args...> format, Args&&... args)
    {
        if (!first_) {
            buffer_.append(std::string_view(",\n"));
        }
        first_ = false;
        fmt::format_to(std::back_inserter(buffer_), format, std::forward<Args>(args)...);
        if (buffer_.size() >= kFlushBytes) {
            flush();
        }
    }
    void flush();

    static constexpr std::size_t kFlushBytes = 1 << 20;

    std::FILE* file_;
    std::uint64_t max_events_;
    std::uint64_t events_ = 0;
    bool truncated_ = false;
    std::uint64_t truncated_after_ns_ = 0;
    std::vector<bool> named_;  // vcpu -> its thread_name is written
    fmt::memory_buffer buffer_;
    bool first_ = true;
};

}  // namespace xeno::harness
