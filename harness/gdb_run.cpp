#include "harness/gdb_run.hpp"

#include <fmt/core.h>

#include "harness/gdb_connection.hpp"
#include "harness/gdb_server.hpp"
#include "harness/gdb_target.hpp"

namespace xeno::harness::gdb {

namespace {

// How long the stub waits for GDB's last packets once the run has ended.
constexpr int kEndedTimeoutMs = 5000;

// One output channel across re-runs: each run writes the same bytes from
// the start (determinism), so only what goes past what was passed on before
// is new.
struct Channel {
    std::uint64_t* passed_on;  // shared with checkpoint processes (gdb_checkpoints.hpp)
    std::uint64_t this_run = 0;
    std::function<void(const char*, std::size_t)> sink;

    std::function<void(const char*, std::size_t)> wrap()
    {
        if (!sink) return nullptr;
        return [this](const char* bytes, std::size_t n) {
            const std::uint64_t begin = this_run, end = this_run + n;
            this_run = end;
            if (end <= *passed_on) return;
            const std::uint64_t skip = *passed_on > begin ? *passed_on - begin : 0;
            sink(bytes + skip, static_cast<std::size_t>(n - skip));
            *passed_on = end;
        };
    }
};

}  // namespace

sim::MachineResult run_under_gdb(const sim::MachineConfig& config, const sim::MachineOutput& output,
                                 const GdbRunOptions& options, std::ostream& err)
{
    sim::MachineResult failed;
    failed.failure = sim::MachineResult::Failure::OTHER;
    const Outcome<Endpoint> endpoint = parse_endpoint(options.endpoint);
    if (!endpoint.ok()) {
        failed.error = endpoint.error();
        return failed;
    }
    Connection connection;
    if (auto problem = connection.listen(endpoint.value())) {
        failed.error = *problem;
        return failed;
    }
    const std::string waiting = !options.wait                       ? std::string()
                                : options.first_stop_after_exit == 0 ? std::string(" (waiting for gdb)")
                                                                     : fmt::format(" (gdb is let in after exit {})",
                                                                                   options.first_stop_after_exit);
    err << fmt::format("gdb: listening on {}:{}{}\n", endpoint.value().host, connection.port(), waiting);
    err.flush();
    if (options.wait && options.first_stop_after_exit == 0 && !connection.accept_blocking()) {
        failed.error = "gdb: accepting a connection failed";
        return failed;
    }

    Server server(connection);
    Target target(server, options.wait);
    target.hold_first_stop_until_exit(options.first_stop_after_exit);
    // Shared with forked checkpoints; without shared memory, no checkpoints.
    SharedSession own;
    SharedSession* shared = map_shared_session();
    if (shared) {
        server.share_state(&shared->server);
        target.enable_checkpoints(shared, checkpoint_interval_from_environment());
    }
    SharedSession& session = shared ? *shared : own;
    Channel console{&session.passed_on[0], 0, output.guest_console}, log{&session.passed_on[1], 0, output.log},
        trace{&session.passed_on[2], 0, output.trace};
    sim::MachineOutput out = output;
    out.guest_console = console.wrap();
    out.log = log.wrap();
    out.trace = trace.wrap();
    out.exit_taken = [&target, &output](const sim::ExitEvent& e) {
        target.note_exit(e);
        if (output.exit_taken) output.exit_taken(e);
    };
    out.debugger = &target;
    // The wall-time watchdog would count the time GDB holds the machine
    // stopped, and the stub uses the same stop request to end runs itself.
    sim::MachineConfig cfg = config;
    cfg.wall_timeout_ms = 0;

    sim::MachineResult result;
    for (;;) {
        console.this_run = log.this_run = trace.this_run = 0;
        if (options.before_each_run) options.before_each_run();
        result = sim::run_machine(cfg, out);
        if (!target.rerun_requested() || target.killed()) break;
    }
    if (target.killed()) {
        result.ok = false;
        result.failure = sim::MachineResult::Failure::OTHER;
        result.error = "gdb killed the run";
        return result;
    }
    server.run_ended(result.ok ? fmt::format("W{:02x}", result.status & 0xff) : std::string("X09"), kEndedTimeoutMs);
    return result;
}

}  // namespace xeno::harness::gdb
