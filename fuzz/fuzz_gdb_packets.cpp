// fuzz-gdb-packets: the GDB stub (harness/gdb_*.cpp) fed arbitrary bytes
// as a client sends them: the packet framer, acknowledgements, NAK resends,
// Ctrl-C, every command (g/G, p/P, m/M, X, Z/z, H, T, q*, qXfer offsets,
// qRcmd monitor commands, v*, c/s, bc/bs, D, k), malformed, oversized and
// badly checksummed packets, and the client going away mid-packet.
//
// The stub is the real one (Connection, Server, Target) over a connected
// stream socket: one end of a Unix socketpair per input, which the stub's
// Connection adopts as its client (a loopback TCP connection per input cost
// most of a run in handshakes, teardowns and the TCP stack's sends). The
// input is written to the other end, whose write side is then shut down, and
// the stub serves it as it serves a stopped machine (Server::serve_stop,
// again after each resume: the machine stops again at once), until the
// client is gone, then as a run that ended (Server::run_ended). The Target is a real one over a simulated
// machine's parts (tests/sim_parts.hpp: memory, VMX model, Unicorn engine)
// stopped before any guest instruction: vcpu 0 live, vcpu 1 as its last
// slice left it, so register reads take both paths and memory reads and
// writes reach machine memory through the engine's translation.
//
// The machine is in VMX operation with vcpu 0's VMCS current, as whenever
// the stub has stopped a guest. One prototype Target is started on the
// engine once (its Unicorn hooks stay until the engine closes) and each
// input gets a fresh copy of it and a fresh Server; what GDB changed
// (memory, vcpu 0's general registers) is put back after an input.
//
// Properties: no crash, no sanitizer report, no hang (libFuzzer's
// -timeout); everything the stub sends is '+', '-' or a well-formed packet
// ("$payload#cs" with the right checksum, no escape or '*' errors), never
// cut off; every reply payload is text (printable ASCII, line breaks) no
// longer than the PacketSize the stub announces; an error reply is 'E' and
// two hex digits.
//
// FUZZ_GDB_TRACE=1 prints each reply (to see how deep a seed reaches).
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <thread>

#include <unicorn/unicorn.h>

#include "arch/x86/vmx/vmx_cpu_setup.hpp"
#include "hal/memory.hpp"
#include "hal/vmx.hpp"
#include "harness/gdb_connection.hpp"
#include "harness/gdb_packet.hpp"
#include "harness/gdb_server.hpp"
#include "harness/gdb_target.hpp"
#include "mm/frame_allocator.hpp"
#include "sim/vmx-model/vmcs_store.hpp"
#include "tests/sim_parts.hpp"

using namespace xeno;
using namespace xeno::harness::gdb;

namespace {

constexpr std::uint64_t kMachineBytes = 2u << 20;
constexpr std::uint64_t kVmcs0 = 0x10000, kVmcs1 = 0x11000;
constexpr std::size_t kMaxInput = 48 << 10;  // within a socketpair's buffer: sent before the stub reads

[[noreturn]] void fail(const char* what, const std::string& detail = {})
{
    std::fprintf(stderr, "fuzz-gdb-packets: %s: '%s'\n", what, detail.c_str());
    std::abort();
}

// What the client side receives, checked as it arrives: a reading of the
// stub's byte stream of its own (not the stub's PacketParser, which is code
// under test) and left out of coverage tracing (fuzz/coverage-ignore.txt):
// the replies -- hex memory dumps up to PacketSize -- are most of the bytes
// an input moves, and tracing each of them would cost most of the run.
class ReplyChecker {
public:
    void feed(const char* bytes, std::size_t n)
    {
        const char* const end = bytes + n;
        for (const char* p = bytes; p != end;) {
            if (state_ == State::PAYLOAD) p = plain_payload(p, end);
            if (p != end) byte(*p++);
        }
    }
    bool in_packet() const { return state_ != State::OUTSIDE; }

private:
    enum class State { OUTSIDE, PAYLOAD, ESCAPED, CHECKSUM_HIGH, CHECKSUM_LOW };

    void byte(char c)
    {
        const auto u = static_cast<std::uint8_t>(c);
        switch (state_) {
        case State::OUTSIDE:
            if (c == '$') {
                state_ = State::PAYLOAD;
                sum_ = 0;
                length_ = 0;
                head_.clear();
            } else if (c != '+' && c != '-') {
                fail("a byte outside a packet that is no acknowledgement", std::string(1, c));
            }
            return;
        case State::PAYLOAD:
            if (c == '#') {
                state_ = State::CHECKSUM_HIGH;
                return;
            }
            sum_ = static_cast<std::uint8_t>(sum_ + u);
            if (c == '}') {
                state_ = State::ESCAPED;
                return;
            }
            // '$' (an abandoned packet) and '*' (run-length encoding) are never sent bare.
            if (c == '$' || c == '*') fail("a malformed reply", head_);
            payload_char(c);
            return;
        case State::ESCAPED:
            sum_ = static_cast<std::uint8_t>(sum_ + u);
            state_ = State::PAYLOAD;
            payload_char(static_cast<char>(u ^ 0x20));
            return;
        case State::CHECKSUM_HIGH:
            checksum_ = static_cast<std::uint8_t>(hex_value(c) << 4);
            state_ = State::CHECKSUM_LOW;
            return;
        case State::CHECKSUM_LOW:
            checksum_ = static_cast<std::uint8_t>(checksum_ | hex_value(c));
            state_ = State::OUTSIDE;
            if (checksum_ != sum_) fail("a reply with a bad checksum", head_);
            end_of_payload();
            return;
        }
    }

    // A run of payload bytes that are not framing ('#', '}', '$', '*'), the
    // bulk of every hex dump, checked without the state machine; returns
    // where the run ends.
    const char* plain_payload(const char* p, const char* end)
    {
        for (; p != end; ++p) {
            const char c = *p;
            if (c == '#' || c == '}' || c == '$' || c == '*') break;
            sum_ = static_cast<std::uint8_t>(sum_ + static_cast<std::uint8_t>(c));
            if (head_.size() < 100 || c < 0x20 || c > 0x7e || length_ >= kMaxPacketPayload) {
                payload_char(c);
            } else {
                ++length_;
            }
        }
        return p;
    }

    void payload_char(char c)
    {
        // Text: printable ASCII and, in qXfer's target.xml, line breaks and tabs.
        if ((c < 0x20 || c > 0x7e) && c != '\n' && c != '\t')
            fail("a reply with a byte that is neither printable ASCII nor a line break", head_ + c);
        if (++length_ > kMaxPacketPayload) fail("a reply longer than the PacketSize announced", head_);
        if (head_.size() < 100) head_.push_back(c);
    }

    void end_of_payload()
    {
        // FUZZ_GDB_TRACE=1: each reply on stderr (to see how deep a seed reaches).
        static const bool trace = std::getenv("FUZZ_GDB_TRACE") != nullptr;
        if (trace) std::fprintf(stderr, "reply: %s\n", head_.c_str());
        if (length_ == 3 && head_[0] == 'E' &&
            !(std::isxdigit(static_cast<unsigned char>(head_[1])) && std::isxdigit(static_cast<unsigned char>(head_[2]))))
            fail("an error reply without two hex digits", head_);
    }

    static int hex_value(char c)
    {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        fail("a reply whose checksum is not two hex digits", std::string(1, c));
    }

    State state_ = State::OUTSIDE;
    std::uint8_t sum_ = 0, checksum_ = 0;
    std::size_t length_ = 0;
    std::string head_;  // the payload's first 100 characters, for messages and tracing
};

void check_stream(int fd)
{
    ReplyChecker checker;
    char buffer[16384];
    for (;;) {
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n < 0 && errno == EINTR) continue;
        // A Unix socket hands over everything queued before it reports a
        // reset (the stub closing with client bytes unread), and the stub
        // sends what it queued before it closes: a cut-off packet is a bug.
        if (n <= 0) break;
        checker.feed(buffer, static_cast<std::size_t>(n));
    }
    if (checker.in_packet()) fail("the stub's last packet was cut off");
}

// The client's reading side: one thread for the whole run (a thread per
// input cost its stack's page faults each time), handed each input's socket.
// The replies are read and checked as they come, so the stub never blocks on
// a full socket buffer.
class ReplyReader {
public:
    ReplyReader() : thread_([this] { loop(); }) {}

    void start(int fd)
    {
        std::lock_guard lock(mutex_);
        fd_ = fd;
        changed_.notify_all();
    }
    // Returns when the stub's side is closed and every reply was read.
    void wait()
    {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [this] { return fd_ < 0; });
    }

private:
    [[noreturn]] void loop()
    {
        for (;;) {
            int fd;
            {
                std::unique_lock lock(mutex_);
                changed_.wait(lock, [this] { return fd_ >= 0; });
                fd = fd_;
            }
            check_stream(fd);
            std::lock_guard lock(mutex_);
            fd_ = -1;
            changed_.notify_all();
        }
    }

    std::mutex mutex_;
    std::condition_variable changed_;
    int fd_ = -1;
    std::thread thread_;  // last: starts once the rest is built
};

// The parts that live across inputs. A Target registers its Unicorn hooks
// in machine_started, for good (Unicorn keeps them until the engine closes,
// and opening an engine per input would cost milliseconds), so one
// prototype Target is started once and each input gets a fresh copy of it
// (its state as at the stop: no points, nothing modified), beside a fresh
// Server built at the same address (the Target keeps a reference to it).
struct Rig {
    test::SimParts parts{"skylake", kMachineBytes};
    Connection connection;  // the stub's side: adopts each input's socket
    ReplyReader reader;
    std::string snapshot;
    alignas(Server) unsigned char server_storage[sizeof(Server)];
    alignas(Target) unsigned char target_storage[sizeof(Target)];
    Server* server = nullptr;
    Target* prototype = nullptr;
    mm::FrameAllocator frames;
    sim::VmcsStore vmcs0{parts.memory, Hpa{kVmcs0}}, vmcs1{parts.memory, Hpa{kVmcs1}};

    Rig()
    {
        // Something to read: a recognisable pattern.
        for (std::size_t a = 0; a < kMachineBytes; ++a)
            parts.memory.data()[a] = static_cast<std::uint8_t>(a * 7 + (a >> 12));
        // In VMX operation with vcpu 0's VMCS current, as whenever the
        // stub has stopped the guest (monitor vmcs reads it with VMREAD).
        MemoryRegion regions[1] = {MemoryRegion{0, kMachineBytes, MemoryRegion::Type::USABLE}};
        vmx::VmxCaps caps;
        if (frames.init(regions, 1, nullptr, 0, &hal::machine_to_virt, false) != Status::OK ||
            vmx::vmx_cpu_enable(frames, caps, vmx::CapsLog::QUIET) != Status::OK)
            fail("VMXON");
        for (const std::uint64_t vmcs : {kVmcs0, kVmcs1}) {
            const std::uint32_t revision = parts.profile.vmcs_revision();
            std::memcpy(parts.memory.data() + vmcs, &revision, 4);
            if (hal::vmclear(Hpa{vmcs}) != hal::VmxResult::SUCCEED) fail("VMCLEAR");
        }
        if (hal::vmptrld(Hpa{kVmcs0}) != hal::VmxResult::SUCCEED) fail("VMPTRLD");
        server = new (server_storage) Server(connection);
        prototype = new Target(*server, false);
        prototype->machine_started(parts.engine, parts.memory, parts.vmx);
        hal::GuestRegs regs1{};
        for (unsigned i = 0; i < 16; ++i) regs1.gpr[i] = 0x1111111111111111ull * i;
        regs1.fpu.bytes[0] = 0x7f;
        regs1.fpu.bytes[4] = 0x81;  // ST0 and ST7 valid
        regs1.cr2 = 0xdead000;
        prototype->vcpu_entering(1, vmcs1);
        prototype->vcpu_left(1, vmcs1, regs1);
        prototype->vcpu_entering(0, vmcs0);
        snapshot.assign(reinterpret_cast<const char*>(parts.memory.data()), kMachineBytes);
    }

    // What GDB may change (memory, vcpu 0's general registers) back as it was.
    void restore()
    {
        // Page by page, only the pages GDB wrote: dropping the engine's
        // translations of all of memory would cost more than the input.
        constexpr std::size_t kPage = 4096;
        for (std::size_t at = 0; at < kMachineBytes; at += kPage) {
            if (std::memcmp(parts.memory.data() + at, snapshot.data() + at, kPage) == 0) continue;
            std::memcpy(parts.memory.data() + at, snapshot.data() + at, kPage);
            parts.engine.memory_written(at, kPage);
        }
        static constexpr int kGprs[16] = {UC_X86_REG_RAX, UC_X86_REG_RBX, UC_X86_REG_RCX, UC_X86_REG_RDX,
                                          UC_X86_REG_RSI, UC_X86_REG_RDI, UC_X86_REG_RBP, UC_X86_REG_RSP,
                                          UC_X86_REG_R8,  UC_X86_REG_R9,  UC_X86_REG_R10, UC_X86_REG_R11,
                                          UC_X86_REG_R12, UC_X86_REG_R13, UC_X86_REG_R14, UC_X86_REG_R15};
        const std::uint64_t zero = 0;
        for (int id : kGprs) uc_reg_write(parts.engine.unicorn(), id, &zero);
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    static Rig* rig = new Rig;
    // The whole input is in the socket before the stub reads (so what the
    // stub reads at once does not depend on timing): keep it within what a
    // socketpair's buffer holds.
    if (size > kMaxInput) return 0;

    int ends[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) fail("socketpair", std::strerror(errno));
    const int client = ends[0];
    rig->connection.adopt_client(ends[1]);
    std::size_t sent = 0;
    while (sent < size) {
        const ssize_t n = ::send(client, data + sent, size - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) fail("send", std::strerror(errno));
        sent += static_cast<std::size_t>(n);
    }
    ::shutdown(client, SHUT_WR);  // the client goes away when its bytes are read, mid-packet or not
    rig->reader.start(client);

    rig->server->~Server();
    Server& server = *new (rig->server_storage) Server(rig->connection);
    Target& target = *new (rig->target_storage) Target(*rig->prototype);
    StopReport report;
    for (unsigned stops = 0; server.connected() && stops < 100000; ++stops) {
        const Resume r = server.serve_stop(target, report);
        static const bool trace = std::getenv("FUZZ_GDB_TRACE") != nullptr;
        if (trace)
            std::fprintf(stderr, "resume: kind %d vcpu %u connected %d\n", static_cast<int>(r.kind), r.vcpu,
                         server.connected());
        if (r.kind == Resume::Kind::KILL) break;
        // The machine stops again at once: after a step, or at a breakpoint
        // right after a continue. (Not Server::interrupt_requested, the poll
        // while the guest runs: what it finds already arrived depends on
        // socket timing, and an input would not replay the same.)
        report = StopReport{};
        report.vcpu = r.kind == Resume::Kind::STEP && r.vcpu <= 1 ? r.vcpu : 0;
        report.why = r.kind == Resume::Kind::STEP ? StopReport::Why::STEP : StopReport::Why::HWBREAK;
    }
    // Reads what is left, to the client's end (it has shut down its side:
    // the wait ends at once unless the machine is loaded).
    server.run_ended("W00", 10000);
    const bool modified = !target.history_valid();
    target.~Target();
    rig->connection.close_client();
    rig->reader.wait();
    ::close(client);
    if (modified) rig->restore();
    return 0;
}
