// The built xeno with --gdb, driven by a raw socket client: bad input
// (malformed, oversized, wrong-checksum packets) gets error replies and
// the stub goes on serving; a client that disconnects mid-packet detaches
// and the run goes on to its normal end. Everything time-bounded.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "harness/gdb_packet.hpp"

using namespace xeno::harness::gdb;

namespace {

std::string read_text(const std::filesystem::path& path)
{
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// `xeno run <args> --gdb 127.0.0.1:0` in the background.
class StubProcess {
public:
    explicit StubProcess(std::vector<std::string> args = {"tests/gdb/guest", "--gdb-wait"})
    {
        dir_ = std::filesystem::temp_directory_path() / ("xeno-gdb-test-" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir_);
        const std::string xeno = (std::filesystem::path(XENO_BINARY_DIR) / "xeno").string();
        REQUIRE(std::filesystem::exists(xeno));
        pid_ = ::fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            std::freopen((dir_ / "out").c_str(), "w", stdout);
            std::freopen((dir_ / "err").c_str(), "w", stderr);
            ::chdir(XENO_SOURCE_DIR);
            std::vector<std::string> all = {"xeno", "run", "--gdb", "127.0.0.1:0"};
            all.insert(all.end(), args.begin(), args.end());
            std::vector<char*> argv;
            for (std::string& a : all) argv.push_back(a.data());
            argv.push_back(nullptr);
            ::execv(xeno.c_str(), argv.data());
            ::_exit(127);
        }
        const std::regex listening("gdb: listening on 127\\.0\\.0\\.1:([0-9]+)");
        for (int i = 0; i < 200 && port_ == 0; ++i) {
            std::smatch m;
            const std::string err = read_text(dir_ / "err");
            if (std::regex_search(err, m, listening)) port_ = std::stoi(m[1]);
            else std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        REQUIRE(port_ != 0);
    }
    ~StubProcess()
    {
        if (pid_ > 0 && !reaped_) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    int port() const { return port_; }
    // The exit status within timeout, or -1 (then killed).
    int wait_exit(int timeout_ms)
    {
        for (int waited = 0; waited < timeout_ms; waited += 20) {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                reaped_ = true;
                return WIFEXITED(status) ? WEXITSTATUS(status) : -2;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        return -1;
    }
    std::string out() const { return read_text(dir_ / "out"); }

private:
    std::filesystem::path dir_;
    pid_t pid_ = -1;
    int port_ = 0;
    bool reaped_ = false;
};

class Client {
public:
    explicit Client(int port)
    {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        REQUIRE(fd_ >= 0);
        timeval tv{10, 0};  // no reply in 10 s: a hang, the test fails
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<std::uint16_t>(port));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    }
    ~Client() { close(); }
    void close()
    {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    void send(const std::string& bytes) { REQUIRE(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size())); }
    // The next ack byte.
    char ack()
    {
        char c = 0;
        REQUIRE(::recv(fd_, &c, 1, 0) == 1);
        return c;
    }
    // The next packet's payload (checked framing and checksum).
    std::string packet()
    {
        PacketParser p;
        for (;;) {
            char c = 0;
            REQUIRE(::recv(fd_, &c, 1, 0) == 1);
            ParseEvent e = p.feed(c);
            if (e.kind == ParseEvent::Kind::NONE) continue;
            REQUIRE(e.kind == ParseEvent::Kind::PACKET);
            return e.payload;
        }
    }

private:
    int fd_ = -1;
};

}  // namespace

TEST_CASE("bad packets get error replies, then a disconnect mid-packet detaches and the run ends normally", "[gdb]")
{
    StubProcess stub;
    Client c(stub.port());

    c.send(encode_packet("qSupported"));
    CHECK(c.ack() == '+');
    CHECK(c.packet().find("PacketSize=") == 0);

    c.send("$g#00");  // wrong checksum: '-', GDB would resend
    CHECK(c.ack() == '-');
    c.send("$a*b#" + encode_packet("a*b").substr(6));  // run-length encoding: not accepted
    CHECK(c.ack() == '+');
    CHECK(c.packet() == "E01");
    c.send("$g#zz");  // not a checksum
    CHECK(c.ack() == '+');
    CHECK(c.packet() == "E01");
    c.send(encode_packet(std::string(kMaxPacketPayload + 100, 'm')));
    CHECK(c.ack() == '+');
    CHECK(c.packet() == "E02");
    c.send(encode_packet("m8000,zz"));
    CHECK(c.ack() == '+');
    CHECK(c.packet() == "E01");
    c.send(encode_packet("vUnknownThing"));
    CHECK(c.ack() == '+');
    CHECK(c.packet().empty());
    c.send("\x03");  // Ctrl-C while stopped: nothing to do, nothing sent

    // Still serving: the stopped guest's registers and memory.
    c.send(encode_packet("g"));
    CHECK(c.ack() == '+');
    const std::string regs = c.packet();
    CHECK(regs.size() == 2 * 332);
    CHECK(regs.substr(2 * 16 * 8, 16) == "0080000000000000");  // rip 0x8000: the first instruction
    c.send(encode_packet("m8100,5"));
    CHECK(c.ack() == '+');
    CHECK(c.packet() == "b811111111");  // mov eax, 0x11111111
    c.send(encode_packet("m7ffffffffff000,4"));  // not mapped
    CHECK(c.ack() == '+');
    CHECK(c.packet() == "E03");

    c.send("$m8100,");  // and gone, mid-packet
    c.close();
    CHECK(stub.wait_exit(30000) == 0);
    CHECK(stub.out().find("gdb guest done") != std::string::npos);
}

TEST_CASE("a client that connects and leaves at once detaches; the run ends normally", "[gdb]")
{
    StubProcess stub;
    {
        Client c(stub.port());
    }
    CHECK(stub.wait_exit(30000) == 0);
    CHECK(stub.out().find("gdb guest done") != std::string::npos);
}

TEST_CASE("Ctrl-C stops a running guest (T02); without --gdb-wait a client arriving mid-run stops it", "[gdb]")
{
    // scenarios/smp with 2 of the 4 vcpus it expects waits for the missing
    // ones until its instruction limit, minutes under the stub: time enough
    // to arrive and interrupt.
    StubProcess stub({"scenarios/smp", "--smp", "2"});
    Client c(stub.port());
    c.send(encode_packet("?"));
    CHECK(c.ack() == '+');
    CHECK(c.packet().rfind("T05thread:", 0) == 0);
    c.send(encode_packet("c"));
    CHECK(c.ack() == '+');
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    c.send("\x03");
    CHECK(c.packet().rfind("T02thread:", 0) == 0);
    c.send(encode_packet("qfThreadInfo"));
    CHECK(c.ack() == '+');
    CHECK(c.packet().rfind("m1", 0) == 0);
    c.send(encode_packet("k"));
    CHECK(c.ack() == '+');
    CHECK(stub.wait_exit(30000) == 206);  // the run did not complete: gdb killed it
}
