// The stub's protocol side: GDB's packets, answered from a stopped Target
// (gdb_target.hpp). Supports qSupported (PacketSize, qXfer:features:read,
// QStartNoAckMode, ReverseStep/ReverseContinue, swbreak/hwbreak), ?, g/G,
// p/P, m/M, Z0-Z4/z0-z4, c/s, bc/bs, H g/c, T, qfThreadInfo/qsThreadInfo,
// qC, qAttached, qThreadExtraInfo, qRcmd (monitor), k, D, and Ctrl-C. An
// unknown packet gets the empty reply (the protocol's "not supported"); a
// malformed, oversized or ill-formed one an error reply (E01 malformed or
// bad arguments, E02 too long, E03 not possible now); a client that goes
// away, even mid-packet, detaches (the run goes on to its end).
#pragma once

#include <cstdint>
#include <string>

#include "harness/gdb_checkpoints.hpp"
#include "harness/gdb_connection.hpp"
#include "harness/gdb_packet.hpp"
#include "harness/gdb_target.hpp"

namespace xeno::harness::gdb {

// Thread ids: vcpu N is thread N + 1 (GDB reserves 0 and -1).
inline std::uint64_t thread_of(std::uint32_t vcpu) { return std::uint64_t{vcpu} + 1; }

std::string stop_reply(const StopReport& report);

class Server {
public:
    explicit Server(Connection& connection) : connection_(connection) {}
    // Keep the protocol state in `shared` from now on.
    void share_state(ServerShared* shared)
    {
        *shared = *state_;
        state_ = shared;
    }

    bool connected() const { return connection_.connected(); }
    bool accept_if_waiting() { return connection_.accept_if_waiting(); }
    bool accept_blocking() { return connection_.accept_blocking(); }
    // While the guest runs: a Ctrl-C arrived (or the client went away,
    // which the next serve_stop sees as a detach).
    bool interrupt_requested();
    // The machine is stopped: send the stop reply GDB waits for (none at the
    // first stop: GDB asks with '?'), then answer packets until GDB resumes.
    Resume serve_stop(Target& target, const StopReport& report);
    // The run ended: tell GDB (W/X) if it waits for a stop, then answer its
    // last packets until it disconnects (at most timeout_ms between them).
    void run_ended(const std::string& reply, int timeout_ms);

    // One packet's answer while stopped (the unit tests call it directly):
    // the reply payload, and whether it resumes the machine (resume set).
    struct Answer {
        std::string reply;
        bool send = true;         // false: no reply (k, and resumes: their reply is the next stop)
        bool resumes = false;
        Resume resume;
    };
    Answer answer(Target* target, const std::string& packet);

private:
    bool send_packet(const std::string& payload);
    std::string handle_query(Target* target, const std::string& packet);
    std::string handle_memory(Target* target, const std::string& packet);
    std::string handle_point(Target* target, const std::string& packet);
    std::uint32_t selected_vcpu(Target& target, std::uint64_t thread) const;

    Connection& connection_;
    PacketParser parser_;
    // Protocol state a woken checkpoint must see as the live process left
    // it (gdb_checkpoints.hpp): here, or in shared memory.
    ServerShared own_;
    ServerShared* state_ = &own_;
    std::string last_sent_;          // for a '-' (resend)
    std::string last_stop_;          // for '?'
};

}  // namespace xeno::harness::gdb
