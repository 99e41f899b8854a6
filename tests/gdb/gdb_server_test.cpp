// The stub's packet answers that need no running machine
// (Server::answer with no target): what GDB's connection sequence asks, and
// error replies for ill-formed arguments.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include <catch2/catch.hpp>
#include <fmt/core.h>

#include "harness/gdb_connection.hpp"
#include "harness/gdb_server.hpp"
#include "harness/gdb_target.hpp"

using namespace xeno::harness::gdb;

TEST_CASE("qSupported offers what the stub does", "[gdb]")
{
    Connection c;
    Server s(c);
    const std::string r = s.answer(nullptr, "qSupported:multiprocess+;swbreak+;hwbreak+").reply;
    CHECK(r.find("PacketSize=4000") != std::string::npos);
    for (const char* feature : {"qXfer:features:read+", "QStartNoAckMode+", "ReverseStep+", "ReverseContinue+",
                                "swbreak+", "hwbreak+"})
        CHECK(r.find(feature) != std::string::npos);
}

TEST_CASE("qXfer:features:read serves target.xml in pieces", "[gdb]")
{
    Connection c;
    Server s(c);
    const std::string xml = target_xml();
    std::string got;
    for (std::size_t offset = 0;; offset += 64) {
        const std::string r = s.answer(nullptr, fmt::format("qXfer:features:read:target.xml:{:x},40", offset)).reply;
        REQUIRE(!r.empty());
        REQUIRE(r.size() <= 65);
        got += r.substr(1);
        if (r[0] == 'l') break;
        REQUIRE(r[0] == 'm');
        REQUIRE(offset < xml.size());
    }
    CHECK(got == xml);
    CHECK(xml.find("<architecture>i386:x86-64</architecture>") != std::string::npos);
    CHECK(xml.find("org.gnu.gdb.i386.core") != std::string::npos);
    CHECK(xml.find("name=\"cr3\"") != std::string::npos);
    CHECK(s.answer(nullptr, "qXfer:features:read:other.xml:0,10").reply == "E00");
    CHECK(s.answer(nullptr, "qXfer:features:read:target.xml:zz").reply == "E01");
}

TEST_CASE("the register layout adds up to the target description's", "[gdb]")
{
    int bytes = 0;
    for (int r = 0; r < kRegisterCount; ++r) bytes += register_size(r);
    CHECK(bytes == 16 * 8 + 8 + 4 + 6 * 4 + 8 * 10 + 8 * 4 + 2 * 8 + 5 * 8);
    CHECK(register_size(kRegisterCount) == 0);
    CHECK(register_size(-1) == 0);
}

TEST_CASE("ill-formed arguments get error replies, unknown packets the empty reply", "[gdb]")
{
    Connection c;
    Server s(c);
    for (const char* packet : {"m", "m1000", "m10,zz", "mzz,10", "M1000,2:zz", "M1000,2:00", "Z0", "Z0,1000",
                               "Hx1", "Hgzz", "pzz", "p1000", "P0", "G00", "qThreadExtraInfo,zz", "qRcmd,z"}) {
        INFO(packet);
        const std::string r = s.answer(nullptr, packet).reply;
        CHECK(r.size() == 3);
        CHECK(r[0] == 'E');
    }
    CHECK(s.answer(nullptr, "m0,99999").reply == "E02");  // longer than a reply can carry
    for (const char* packet : {"vCont?", "X1000,0:", "Z9,1000,1", "qOffsets", "bq", "!"}) {
        INFO(packet);
        CHECK(s.answer(nullptr, packet).reply.empty());
    }
}

TEST_CASE("without a stopped machine nothing is read or resumed", "[gdb]")
{
    Connection c;
    Server s(c);
    CHECK(s.answer(nullptr, "g").reply == "E03");
    CHECK(s.answer(nullptr, "m1000,4").reply == "E03");
    CHECK(s.answer(nullptr, "Z0,1000,1").reply == "E03");
    CHECK(s.answer(nullptr, "bs").reply == "E03");
    const Server::Answer k = s.answer(nullptr, "k");
    CHECK(k.resumes);
    CHECK(k.resume.kind == Resume::Kind::KILL);
    CHECK_FALSE(k.send);
}

TEST_CASE("stop replies name the thread (vcpu + 1) and the reason", "[gdb]")
{
    using Why = StopReport::Why;
    CHECK(stop_reply(StopReport{Why::STEP, 0, 0}) == "T05thread:1;");
    CHECK(stop_reply(StopReport{Why::SWBREAK, 1, 0}) == "T05thread:2;swbreak:;");
    CHECK(stop_reply(StopReport{Why::HWBREAK, 0, 0}) == "T05thread:1;hwbreak:;");
    CHECK(stop_reply(StopReport{Why::WATCH, 0, 0x9000}) == "T05thread:1;watch:9000;");
    CHECK(stop_reply(StopReport{Why::RWATCH, 0, 0x10}) == "T05thread:1;rwatch:10;");
    CHECK(stop_reply(StopReport{Why::AWATCH, 0, 0x10}) == "T05thread:1;awatch:10;");
    CHECK(stop_reply(StopReport{Why::INTERRUPT, 2, 0}) == "T02thread:3;");
    CHECK(stop_reply(StopReport{Why::HISTORY_BEGIN, 0, 0}) == "T05thread:1;replaylog:begin;");
}

namespace {

bool client_can_read(int fd)
{
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 0) == 1;
}

// A connected socketpair whose one end `c` adopts as its client; returns the other end.
int adopt_socketpair(Connection& c)
{
    int ends[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, ends) == 0);
    c.adopt_client(ends[1]);
    return ends[0];
}

std::string client_read(int fd)
{
    char buffer[256];
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
    return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : std::string();
}

}  // namespace

TEST_CASE("the stub's writes go out together when it waits for input and before a close", "[gdb]")
{
    Connection c;
    const int client = adopt_socketpair(c);
    REQUIRE(c.connected());

    // An acknowledgement and a reply: queued, not yet sent.
    CHECK(c.write("+"));
    CHECK(c.write("$OK#9a"));
    CHECK_FALSE(client_can_read(client));
    // Waiting for the client's next byte sends them first (a stub that
    // waited with its reply queued would wait for ever).
    bool timed_out = false;
    CHECK_FALSE(c.read_byte(0, &timed_out).has_value());
    CHECK(timed_out);
    CHECK(client_read(client) == "+$OK#9a");

    // readable() (the poll while a guest runs) sends too.
    CHECK(c.write("$S05#b8"));
    CHECK_FALSE(c.readable());
    CHECK(client_read(client) == "$S05#b8");

    // An explicit flush, and the client's bytes come back in order.
    CHECK(c.write("+"));
    CHECK(c.flush());
    CHECK(client_read(client) == "+");
    REQUIRE(::send(client, "$g#67", 5, 0) == 5);
    CHECK(c.read_byte(0) == '$');
    CHECK(c.read_byte(0) == 'g');

    // A reply before a close (D's OK) still reaches the client.
    CHECK(c.write("$OK#9a"));
    c.close_client();
    CHECK_FALSE(c.connected());
    CHECK(client_read(client) == "$OK#9a");
    CHECK_FALSE(c.write("+"));  // nobody to write to
    ::close(client);
}

TEST_CASE("a continue's acknowledgement reaches the client before the guest runs", "[gdb]")
{
    // GDB resends a packet it sees no '+' for: the '+' of c must not wait
    // for the run's first poll of the connection.
    Connection c;
    const int client = adopt_socketpair(c);
    Server s(c);
    Target target(s, false);
    REQUIRE(::send(client, "$c#63", 5, 0) == 5);
    const Resume r = s.serve_stop(target, StopReport{});
    CHECK(r.kind == Resume::Kind::CONTINUE);
    CHECK(client_read(client) == "+");  // sent by the time serve_stop returned
    ::close(client);
}

TEST_CASE("a client that went away: queued output is dropped and the stub disconnects", "[gdb]")
{
    Connection c;
    ::close(adopt_socketpair(c));
    CHECK(c.write("$OK#9a"));  // queued: the failure shows when it is sent
    CHECK_FALSE(c.flush());
    CHECK_FALSE(c.connected());
    CHECK_FALSE(c.read_byte(0).has_value());
}

TEST_CASE("--gdb endpoints", "[gdb]")
{
    CHECK(parse_endpoint("1234").value().host == "127.0.0.1");
    CHECK(parse_endpoint("1234").value().port == 1234);
    CHECK(parse_endpoint("localhost:0").value().host == "127.0.0.1");
    CHECK(parse_endpoint("0.0.0.0:65535").value().port == 65535);
    for (const char* bad : {"", "x", "65536", "host:1", ":", "1.2.3:4", "127.0.0.1:", "127.0.0.1:-1"}) {
        INFO(bad);
        CHECK_FALSE(parse_endpoint(bad).ok());
    }
}

TEST_CASE("random bytes and random packets: the parser and the replies never fail badly", "[gdb]")
{
    // A fixed seed: the same inputs every run.
    std::uint64_t state = 0x9e3779b97f4a7c15ull;
    const auto next = [&state] {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    };
    Connection c;
    Server s(c);
    PacketParser p;
    static const char kAlphabet[] = "$#}*+-\x03gGmMpPzZqQcsbkDHT?v0123456789abcdef,:;=xX";
    for (int round = 0; round < 20000; ++round) {
        std::string packet;
        const std::size_t n = next() % 40;
        for (std::size_t i = 0; i < n; ++i) packet.push_back(kAlphabet[next() % (sizeof kAlphabet - 1)]);
        // As bytes on the wire: whatever the parser makes of them.
        for (char ch : packet) (void)p.feed(ch);
        // As a payload: an answer that is an error, empty, OK, or a
        // well-formed reply, never a resume without a machine except k/D.
        const Server::Answer a = s.answer(nullptr, packet);
        if (a.resumes) {
            CHECK((packet[0] == 'k' || packet[0] == 'D'));
        }
        CHECK(a.reply.size() <= kMaxPacketPayload);
    }
}
