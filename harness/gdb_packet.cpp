#include "harness/gdb_packet.hpp"

#include <cstring>

namespace xeno::harness::gdb {

namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool needs_escape(char c)
{
    return c == '#' || c == '$' || c == '}' || c == '*';
}

// Whether any byte of the payload needs escaping: four memchr scans, which
// run at memory speed. Replies are mostly hex (memory and register dumps up
// to PacketSize) and never need it, so they take the copying path below.
bool any_needs_escape(std::string_view payload)
{
    for (const char c : {'#', '$', '}', '*'})
        if (std::memchr(payload.data(), c, payload.size())) return true;
    return false;
}

// The modulo-256 sum of the bytes. A pointer loop: no per-byte integer
// comparison, which a coverage-instrumented build (the fuzz preset) would
// trace on every byte of a reply.
std::uint8_t checksum(const char* begin, const char* end)
{
    unsigned sum = 0;
    for (const char* p = begin; p != end; ++p) sum += static_cast<std::uint8_t>(*p);
    return static_cast<std::uint8_t>(sum);
}

// "00" .. "ff": one table lookup per byte of a hex dump.
struct HexPairs {
    char pairs[256][2];
    constexpr HexPairs() : pairs{}
    {
        for (unsigned b = 0; b < 256; ++b) {
            pairs[b][0] = kHexDigits[b >> 4];
            pairs[b][1] = kHexDigits[b & 15];
        }
    }
};
constexpr HexPairs kHexPairs;

}  // namespace

std::string encode_packet(std::string_view payload)
{
    // Written into a string sized for the worst case (every byte escaped)
    // and cut to length: replies are up to PacketSize, and growing one a
    // character at a time is most of their cost.
    std::string out(2 * payload.size() + 4, '\0');
    std::size_t at = 0;
    out[at++] = '$';
    std::uint8_t sum = 0;
    if (!any_needs_escape(payload)) {
        std::memcpy(out.data() + at, payload.data(), payload.size());
        at += payload.size();
        sum = checksum(payload.data(), payload.data() + payload.size());
    } else {
        for (char c : payload) {
            if (needs_escape(c)) {
                out[at++] = '}';
                sum = static_cast<std::uint8_t>(sum + '}');
                c = static_cast<char>(c ^ 0x20);
            }
            out[at++] = c;
            sum = static_cast<std::uint8_t>(sum + static_cast<std::uint8_t>(c));
        }
    }
    out[at++] = '#';
    out[at++] = kHexDigits[sum >> 4];
    out[at++] = kHexDigits[sum & 15];
    out.resize(at);
    return out;
}

std::string to_hex(const void* bytes, std::size_t n)
{
    const auto* p = static_cast<const std::uint8_t*>(bytes);
    std::string out(2 * n, '\0');
    char* d = out.data();
    for (const std::uint8_t* s = p; s != p + n; ++s, d += 2) std::memcpy(d, kHexPairs.pairs[*s], 2);
    return out;
}

std::string to_hex(std::string_view text)
{
    return to_hex(text.data(), text.size());
}

std::optional<std::string> from_hex(std::string_view hex)
{
    if (hex.size() % 2) return std::nullopt;
    std::string out;
    out.reserve(hex.size() / 2);
    for (std::size_t i = 0; i < hex.size(); i += 2) {
        const int hi = hex_value(hex[i]), lo = hex_value(hex[i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out.push_back(static_cast<char>(hi << 4 | lo));
    }
    return out;
}

std::optional<std::uint64_t> parse_hex_u64(std::string_view hex)
{
    if (hex.empty() || hex.size() > 16) return std::nullopt;
    std::uint64_t v = 0;
    for (char c : hex) {
        const int d = hex_value(c);
        if (d < 0) return std::nullopt;
        v = v << 4 | static_cast<std::uint64_t>(d);
    }
    return v;
}

void PacketParser::reset()
{
    state_ = State::IDLE;
    payload_.clear();
    sum_ = 0;
    too_long_ = false;
    malformed_ = false;
}

ParseEvent PacketParser::feed(char byte)
{
    ParseEvent ev;
    const auto add = [this](char c) {
        if (payload_.size() >= kMaxPacketPayload) {
            too_long_ = true;  // keep counting the checksum, drop the bytes
            return;
        }
        payload_.push_back(c);
    };
    switch (state_) {
    case State::IDLE:
        if (byte == '$') {
            reset();
            state_ = State::BODY;
        } else if (byte == '\x03') {
            ev.kind = ParseEvent::Kind::INTERRUPT;
        } else if (byte == '+') {
            ev.kind = ParseEvent::Kind::ACK;
        } else if (byte == '-') {
            ev.kind = ParseEvent::Kind::NAK;
        }
        return ev;
    case State::BODY:
        if (byte == '#') {
            state_ = State::CHECKSUM1;
            return ev;
        }
        sum_ = static_cast<std::uint8_t>(sum_ + static_cast<std::uint8_t>(byte));
        if (byte == '}') {
            state_ = State::ESCAPE;
        } else {
            // A '$' here is a packet GDB abandoned, '*' run-length encoding
            // (never sent to a stub): both malformed, answered once the
            // packet ends.
            if (byte == '$' || byte == '*') malformed_ = true;
            add(byte);
        }
        return ev;
    case State::ESCAPE:
        sum_ = static_cast<std::uint8_t>(sum_ + static_cast<std::uint8_t>(byte));
        if (byte == '#') malformed_ = true;  // nothing may end an escape
        add(static_cast<char>(byte ^ 0x20));
        state_ = State::BODY;
        return ev;
    case State::CHECKSUM1:
        checksum_high_ = byte;
        state_ = State::CHECKSUM2;
        return ev;
    case State::CHECKSUM2: {
        const int hi = hex_value(checksum_high_), lo = hex_value(byte);
        if (hi < 0 || lo < 0 || malformed_) {
            ev.kind = ParseEvent::Kind::MALFORMED;
        } else if (static_cast<std::uint8_t>(hi << 4 | lo) != sum_) {
            ev.kind = ParseEvent::Kind::BAD_CHECKSUM;
        } else if (too_long_) {
            ev.kind = ParseEvent::Kind::TOO_LONG;
        } else {
            ev.kind = ParseEvent::Kind::PACKET;
            ev.payload = std::move(payload_);
        }
        reset();
        return ev;
    }
    }
    return ev;
}

}  // namespace xeno::harness::gdb
