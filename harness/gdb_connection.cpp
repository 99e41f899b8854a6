#include "harness/gdb_connection.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include <fmt/core.h>

namespace xeno::harness::gdb {

Outcome<Endpoint> parse_endpoint(std::string_view text)
{
    Endpoint e;
    std::string_view port = text;
    if (const std::size_t colon = text.rfind(':'); colon != std::string_view::npos) {
        e.host = std::string(text.substr(0, colon));
        port = text.substr(colon + 1);
        if (e.host == "localhost") e.host = "127.0.0.1";
        in_addr probe{};
        if (inet_pton(AF_INET, e.host.c_str(), &probe) != 1) {
            return Failure{fmt::format("{}: the host must be an IPv4 address or localhost", text)};
        }
    }
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535) {
        return Failure{fmt::format("{}: expected [HOST:]PORT with PORT 0-65535", text)};
    }
    e.port = static_cast<std::uint16_t>(value);
    return e;
}

Connection::~Connection()
{
    close_client();
    if (listener_ >= 0) ::close(listener_);
}

std::optional<std::string> Connection::listen(const Endpoint& endpoint)
{
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener_ < 0) return fmt::format("gdb: socket: {}", std::strerror(errno));
    const int one = 1;
    ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(endpoint.port);
    inet_pton(AF_INET, endpoint.host.c_str(), &addr.sin_addr);
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener_, 1) != 0) {
        return fmt::format("gdb: cannot listen on {}:{}: {}", endpoint.host, endpoint.port, std::strerror(errno));
    }
    socklen_t len = sizeof addr;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    return std::nullopt;
}

bool Connection::accept_blocking()
{
    if (listener_ < 0) return false;
    for (;;) {
        const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0) {
            const int one = 1;
            ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // small packets, answered one by one
            client_ = fd;
            buffered_ = consumed_ = 0;
            return true;
        }
        if (errno != EINTR) return false;
    }
}

bool Connection::accept_if_waiting()
{
    if (listener_ < 0 || client_ >= 0) return false;
    pollfd p{listener_, POLLIN, 0};
    if (::poll(&p, 1, 0) != 1) return false;
    return accept_blocking();
}

void Connection::adopt_client(int fd)
{
    close_client();
    client_ = fd;
}

std::optional<char> Connection::read_byte(int timeout_ms, bool* timed_out)
{
    if (timed_out) *timed_out = false;
    if (client_ < 0) return std::nullopt;
    if (consumed_ < buffered_) return buffer_[consumed_++];
    if (!flush()) return std::nullopt;  // the client sees every reply before the stub waits
    pollfd p{client_, POLLIN, 0};
    int ready;
    do {
        ready = ::poll(&p, 1, timeout_ms);
    } while (ready < 0 && errno == EINTR);
    if (ready == 0) {
        if (timed_out) *timed_out = true;
        return std::nullopt;
    }
    ssize_t n;
    do {
        n = ::recv(client_, buffer_, sizeof buffer_, 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
        close_client();
        return std::nullopt;
    }
    buffered_ = static_cast<std::size_t>(n);
    consumed_ = 1;
    return buffer_[0];
}

bool Connection::readable()
{
    if (client_ < 0) return false;
    if (consumed_ < buffered_) return true;
    if (!flush()) return false;
    pollfd p{client_, POLLIN, 0};
    return ::poll(&p, 1, 0) == 1;
}

bool Connection::write(std::string_view bytes)
{
    if (client_ < 0) return false;
    output_.append(bytes);
    return output_.size() < kOutputFlushBytes || flush();
}

bool Connection::flush()
{
    std::string_view pending = output_;
    while (!pending.empty() && client_ >= 0) {
        const ssize_t n = ::send(client_, pending.data(), pending.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            output_.clear();
            close_client();
            return false;
        }
        pending.remove_prefix(static_cast<std::size_t>(n));
    }
    output_.clear();
    return client_ >= 0;
}

void Connection::close_client()
{
    if (client_ >= 0) {
        flush();  // a reply before a close (D's OK) is still sent
        ::close(client_);
    }
    client_ = -1;
    buffered_ = consumed_ = 0;
    output_.clear();
}

}  // namespace xeno::harness::gdb
