// GDB's remote serial protocol on the wire (the GDB manual, "Remote Protocol
// Overview"): packets `$payload#cs`, cs the modulo-256 sum of the payload's
// bytes in two hex digits; '}' escapes '#', '$', '}' and '*' (the byte XOR
// 0x20); acknowledgements '+' / '-' until QStartNoAckMode; a lone 0x03 byte
// is an interrupt request (Ctrl-C). Pure functions and a byte-at-a-time
// parser, no I/O: the stub (gdb_server.cpp) feeds it what the socket reads.
//
// Run-length encoding is never sent (it is optional for a stub) and a
// received '*' is taken as a malformed packet: GDB does not send it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace xeno::harness::gdb {

// The largest payload the stub accepts (after unescaping) and announces as
// PacketSize in qSupported; longer packets are refused with an error reply.
inline constexpr std::size_t kMaxPacketPayload = 16384;

// "$<escaped payload>#<checksum>".
std::string encode_packet(std::string_view payload);

// Hex helpers for payloads: bytes as lowercase hex pairs, and back.
std::string to_hex(const void* bytes, std::size_t n);
std::string to_hex(std::string_view text);
// nullopt when `hex` has an odd length or a non-hex digit.
std::optional<std::string> from_hex(std::string_view hex);
// A hexadecimal number (no prefix, at most 16 digits); nullopt otherwise.
std::optional<std::uint64_t> parse_hex_u64(std::string_view hex);

// What one received byte completed.
struct ParseEvent {
    enum class Kind : std::uint8_t {
        NONE,        // nothing yet
        PACKET,      // a well-formed packet: payload (unescaped)
        BAD_CHECKSUM,// complete, but its checksum does not match (reply '-': GDB resends)
        TOO_LONG,    // complete, but its payload passed kMaxPacketPayload (an error reply)
        MALFORMED,   // complete, but a bad escape, a '*', a '$' inside, or a non-hex checksum
        INTERRUPT,   // 0x03 outside a packet
        ACK,         // '+'
        NAK,         // '-': resend the last packet
    };
    Kind kind = Kind::NONE;
    std::string payload;
};

// Assembles packets from bytes. Bytes between packets other than the ones
// above are ignored (line noise), as GDB's own stubs do.
class PacketParser {
public:
    ParseEvent feed(char byte);
    // Inside a packet (a disconnect now leaves it incomplete).
    bool in_packet() const { return state_ != State::IDLE; }

private:
    enum class State : std::uint8_t { IDLE, BODY, ESCAPE, CHECKSUM1, CHECKSUM2 };
    State state_ = State::IDLE;
    std::string payload_;
    std::uint8_t sum_ = 0;
    bool too_long_ = false;
    bool malformed_ = false;
    char checksum_high_ = 0;
    void reset();
};

}  // namespace xeno::harness::gdb
