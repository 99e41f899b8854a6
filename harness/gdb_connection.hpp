// The stub's TCP side: one listening socket, at most one GDB client at a
// time, blocking reads while the guest is stopped and non-blocking polls
// (Ctrl-C, a client arriving) while it runs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "harness/outcome.hpp"

namespace xeno::harness::gdb {

// --gdb [HOST:]PORT: HOST an IPv4 address or "localhost" (default 127.0.0.1,
// loopback), PORT 0-65535 (0: any free port, printed when listening).
struct Endpoint {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
};
Outcome<Endpoint> parse_endpoint(std::string_view text);

class Connection {
public:
    Connection() = default;
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // Bind and listen; the error says why not.
    std::optional<std::string> listen(const Endpoint& endpoint);
    std::uint16_t port() const { return port_; }
    // Wait for a client (blocking), or take one if it is waiting (poll).
    bool accept_blocking();
    bool accept_if_waiting();
    // Take a connected stream socket made elsewhere as the client (one end
    // of a socketpair: the fuzz target, which would otherwise pay for a TCP
    // handshake and teardown per input). It is closed like an accepted one.
    void adopt_client(int fd);
    bool connected() const { return client_ >= 0; }

    // The next byte from the client, waiting at most timeout_ms (-1: no
    // limit); nullopt when it disconnected (or the wait passed: timed_out).
    std::optional<char> read_byte(int timeout_ms, bool* timed_out = nullptr);
    // A byte is waiting (never blocks); false when disconnected.
    bool readable();
    // Queue bytes for the client: they go out together (an acknowledgement
    // with its reply, several replies in one send) when the stub next waits
    // for input (read_byte, readable), on flush and on close_client, or once
    // kOutputFlushBytes are queued. False (and disconnected) when the client
    // went away.
    bool write(std::string_view bytes);
    // Send what is queued; false (and disconnected) when the client went away.
    bool flush();
    // Sends what is queued first.
    void close_client();

private:
    int listener_ = -1;
    int client_ = -1;
    std::uint16_t port_ = 0;
    static constexpr std::size_t kOutputFlushBytes = 64 << 10;
    char buffer_[4096];
    std::size_t buffered_ = 0, consumed_ = 0;
    std::string output_;  // written, not yet sent
};

}  // namespace xeno::harness::gdb
