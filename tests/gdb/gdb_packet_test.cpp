// The RSP codec (harness/gdb_packet.hpp): framing, checksums, escapes, the
// size limit, and malformed input.
#include <string>

#include <catch2/catch.hpp>

#include "harness/gdb_packet.hpp"

using namespace xeno::harness::gdb;

namespace {

// Feed every byte; the events other than NONE, in order.
std::vector<ParseEvent> feed_all(PacketParser& p, const std::string& bytes)
{
    std::vector<ParseEvent> out;
    for (char c : bytes) {
        ParseEvent e = p.feed(c);
        if (e.kind != ParseEvent::Kind::NONE) out.push_back(std::move(e));
    }
    return out;
}

}  // namespace

TEST_CASE("encode_packet frames the payload with its modulo-256 checksum", "[gdb]")
{
    CHECK(encode_packet("") == "$#00");
    CHECK(encode_packet("OK") == "$OK#9a");                // 'O' 0x4f + 'K' 0x4b = 0x9a
    CHECK(encode_packet("T05thread:1;") == "$T05thread:1;#d7");
}

TEST_CASE("encode_packet escapes # $ } * as } and the byte XOR 0x20, the checksum over what is sent", "[gdb]")
{
    const std::string sent = encode_packet(std::string("a#b$c}d*"));
    CHECK(sent.substr(0, sent.size() - 3) == "$a}\x03" "b}\x04" "c}]d}\x0a");
    // And the parser gives the original bytes back.
    PacketParser p;
    const auto events = feed_all(p, sent);
    REQUIRE(events.size() == 1);
    CHECK(events[0].kind == ParseEvent::Kind::PACKET);
    CHECK(events[0].payload == "a#b$c}d*");
}

TEST_CASE("the parser round-trips every byte value", "[gdb]")
{
    std::string all;
    for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
    PacketParser p;
    const auto events = feed_all(p, encode_packet(all));
    REQUIRE(events.size() == 1);
    CHECK(events[0].kind == ParseEvent::Kind::PACKET);
    CHECK(events[0].payload == all);
}

TEST_CASE("acks, naks and Ctrl-C outside packets; noise ignored", "[gdb]")
{
    PacketParser p;
    const auto events = feed_all(p, "+xyz-\x03$g#67");
    REQUIRE(events.size() == 4);
    CHECK(events[0].kind == ParseEvent::Kind::ACK);
    CHECK(events[1].kind == ParseEvent::Kind::NAK);
    CHECK(events[2].kind == ParseEvent::Kind::INTERRUPT);
    CHECK(events[3].kind == ParseEvent::Kind::PACKET);
    CHECK(events[3].payload == "g");
}

TEST_CASE("a wrong checksum, a bad checksum digit, a stray '*' or '$' are reported, and parsing goes on", "[gdb]")
{
    PacketParser p;
    auto events = feed_all(p, "$g#00$g#zz$a*b#00$g#67");
    REQUIRE(events.size() == 4);
    CHECK(events[0].kind == ParseEvent::Kind::BAD_CHECKSUM);
    CHECK(events[1].kind == ParseEvent::Kind::MALFORMED);
    CHECK(events[2].kind == ParseEvent::Kind::MALFORMED);
    CHECK(events[3].kind == ParseEvent::Kind::PACKET);
    // An escape may not end the packet.
    PacketParser q;
    events = feed_all(q, "$a}#00");
    REQUIRE(events.size() == 0);  // '}#' is an escaped byte: the packet goes on
    CHECK(q.in_packet());
    events = feed_all(q, "#00");
    REQUIRE(events.size() == 1);
    CHECK(events[0].kind == ParseEvent::Kind::MALFORMED);
    CHECK_FALSE(q.in_packet());
}

TEST_CASE("a payload longer than kMaxPacketPayload is TOO_LONG, never buffered whole", "[gdb]")
{
    PacketParser p;
    const std::string big(kMaxPacketPayload + 1, 'a');
    auto events = feed_all(p, encode_packet(big));
    REQUIRE(events.size() == 1);
    CHECK(events[0].kind == ParseEvent::Kind::TOO_LONG);
    CHECK(events[0].payload.empty());
    // Exactly the limit is fine.
    events = feed_all(p, encode_packet(std::string(kMaxPacketPayload, 'b')));
    REQUIRE(events.size() == 1);
    CHECK(events[0].kind == ParseEvent::Kind::PACKET);
}

TEST_CASE("hex helpers", "[gdb]")
{
    CHECK(to_hex(std::string_view("\x01\xab", 2)) == "01ab");
    CHECK(from_hex("01aB").value() == std::string("\x01\xab", 2));
    CHECK_FALSE(from_hex("abc").has_value());
    CHECK_FALSE(from_hex("zz").has_value());
    CHECK(parse_hex_u64("ffffffffffffffff").value() == ~std::uint64_t{0});
    CHECK_FALSE(parse_hex_u64("").has_value());
    CHECK_FALSE(parse_hex_u64("1ffffffffffffffff").has_value());
    CHECK_FALSE(parse_hex_u64("12g").has_value());
}
