// harness/vcpu_activity.hpp, exit_stats.hpp and timeline.hpp fed entries and
// exits by hand: which slice each stretch of virtual time becomes, what the
// statistics attribute to each reason, and the timeline's JSON.
#include <cstdio>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "harness/exit_stats.hpp"
#include "harness/timeline.hpp"
#include "harness/vcpu_activity.hpp"
#include "temp_dir.hpp"

using namespace xeno::harness;
using xeno::sim::EntryEvent;
using xeno::sim::ExitEvent;

namespace {

constexpr std::uint32_t kIo = 30, kHlt = 12, kExternalInterrupt = 1;
constexpr std::uint32_t kInjectVector0x30 = 0x80000030;  // valid, external interrupt, vector 0x30

struct Slice {
    std::string kind;  // guest, exit:<reason>, halted, inject:<info>
    std::uint32_t vcpu;
    std::uint64_t begin, end;
};

struct Recorder : ActivityListener {
    std::vector<Slice> slices;
    void guest_ran(std::uint32_t vcpu, std::uint64_t b, std::uint64_t e, std::uint64_t, const ExitEvent* exit) override
    {
        slices.push_back({exit ? "guest" : "guest-unfinished", vcpu, b, e});
    }
    void exit_done(const ExitEvent& taken, const ExitEvent& handled, std::uint64_t b, std::uint64_t) override
    {
        slices.push_back({"exit:" + std::to_string(taken.reason), taken.vcpu, b, handled.vtime_ns});
    }
    void injected(std::uint32_t vcpu, std::uint64_t at, std::uint32_t info) override
    {
        slices.push_back({"inject:" + std::to_string(info), vcpu, at, at});
    }
    void halted(std::uint32_t vcpu, std::uint64_t b, std::uint64_t e) override
    {
        slices.push_back({"halted", vcpu, b, e});
    }
    void waited(std::uint32_t vcpu, std::uint64_t b, std::uint64_t e, std::uint32_t after) override
    {
        slices.push_back({"waiting:" + std::to_string(after), vcpu, b, e});
    }
};

EntryEvent entry(std::uint32_t vcpu, std::uint64_t ns, std::uint64_t insns, bool resumed, std::uint32_t inject = 0)
{
    EntryEvent e;
    e.vcpu = vcpu;
    e.vtime_ns = ns;
    e.guest_instructions = insns;
    e.resumed = resumed;
    e.entry_interruption = inject;
    return e;
}

ExitEvent exit_at(std::uint64_t number, std::uint32_t vcpu, std::uint32_t reason, std::uint64_t ns, std::uint64_t insns)
{
    ExitEvent e;
    e.number = number;
    e.vcpu = vcpu;
    e.reason = reason;
    e.vtime_ns = ns;
    e.guest_instructions = insns;
    e.rip = 0x8000 + number;
    return e;
}

// One exit taken and handled at once (handlers take no virtual time).
void exit_now(VcpuActivity& a, std::uint64_t number, std::uint32_t vcpu, std::uint32_t reason, std::uint64_t ns,
              std::uint64_t insns)
{
    const ExitEvent e = exit_at(number, vcpu, reason, ns, insns);
    a.exit_taken(e);
    a.exit_handled(e);
}

// A run on two vcpus: vcpu 0 does 500 instructions, an I/O exit, resumes,
// 200 more and halts; vcpu 1 runs 300 and a timer exit ends its slice; vcpu
// 0 is woken with an interrupt, runs 100, and the run stops in the guest
// (vcpu 1 waiting since its exit).
void feed(VcpuActivity& a)
{
    a.entered(entry(0, 0, 0, false));
    exit_now(a, 1, 0, kIo, 1500, 500);        // guest [0,500) exit [500,1500)
    a.entered(entry(0, 1500, 500, true));
    exit_now(a, 2, 0, kHlt, 2700, 700);       // guest [1500,1700) exit [1700,2700), then halted
    a.entered(entry(1, 2700, 700, false));
    exit_now(a, 3, 1, kExternalInterrupt, 4000, 1000);  // vcpu 1: guest [2700,3000) exit [3000,4000)
    a.entered(entry(0, 9000, 1000, false, kInjectVector0x30));  // idle to 9000; vcpu 0 halted [2700,9000)
    a.finish(9100, 1100);                     // vcpu 0 guest [9000,9100) unfinished
}

}  // namespace

TEST_CASE("vcpu activity: guest, exit and halted slices from entries and exits", "[activity]")
{
    VcpuActivity a;
    Recorder r;
    a.add_listener(&r);
    feed(a);
    const std::vector<Slice> expected = {
        {"guest", 0, 0, 500},
        {"exit:30", 0, 500, 1500},
        {"guest", 0, 1500, 1700},
        {"exit:12", 0, 1700, 2700},
        {"guest", 1, 2700, 3000},
        {"exit:1", 1, 3000, 4000},
        {"halted", 0, 2700, 9000},
        {"inject:" + std::to_string(kInjectVector0x30), 0, 9000, 9000},
        {"guest-unfinished", 0, 9000, 9100},
        {"waiting:1", 1, 4000, 9100},
    };
    REQUIRE(r.slices.size() == expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
        INFO(i << ": " << r.slices[i].kind);
        CHECK(r.slices[i].kind == expected[i].kind);
        CHECK(r.slices[i].vcpu == expected[i].vcpu);
        CHECK(r.slices[i].begin == expected[i].begin);
        CHECK(r.slices[i].end == expected[i].end);
    }
}

TEST_CASE("vcpu activity: a HLT whose handler resumes the guest is no halt", "[activity]")
{
    VcpuActivity a;
    Recorder r;
    a.add_listener(&r);
    a.entered(entry(0, 0, 0, false));
    exit_now(a, 1, 0, kHlt, 1010, 10);
    a.entered(entry(0, 1010, 10, true, kInjectVector0x30));  // an interrupt was pending: injected at once
    exit_now(a, 2, 0, kIo, 2020, 20);
    a.finish(2020, 20);
    for (const Slice& s : r.slices) {
        CHECK(s.kind != "halted");
        CHECK(s.kind != "guest-unfinished");
    }
    CHECK(r.slices.size() == 5);  // guest, exit, inject, guest, exit
}

TEST_CASE("exit statistics: per reason the guest time each exit ended plus its cost, per vcpu the split",
          "[activity][stats]")
{
    VcpuActivity a;
    ExitStats stats;
    a.add_listener(&stats);
    feed(a);
    CHECK(stats.exits() == 3);
    CHECK(stats.reasons().at(kIo).vtime_ns == 500 + 1000);
    CHECK(stats.reasons().at(kIo).guest_instructions == 500);
    CHECK(stats.reasons().at(kHlt).vtime_ns == 200 + 1000);
    CHECK(stats.reasons().at(kExternalInterrupt).vtime_ns == 300 + 1000);
    REQUIRE(stats.vcpus().size() == 2);
    const VcpuStats& v0 = stats.vcpus()[0];
    CHECK(v0.exits == 2);
    CHECK(v0.guest_ns == 500 + 200 + 100);
    CHECK(v0.exit_ns == 2000);
    CHECK(v0.halted_ns == 6300);
    CHECK(v0.guest_instructions == 800);
    CHECK(v0.injections == 1);
    const VcpuStats& v1 = stats.vcpus()[1];
    CHECK(v1.exits == 1);
    CHECK(v1.guest_ns == 300);
    CHECK(v1.halted_ns == 0);
    CHECK(v1.waiting_ns == 5100);
    CHECK(v0.waiting_ns == 0);
    // Ties by name: EXTERNAL_INTERRUPT, HLT, IO_INSTRUCTION (one exit each).
    CHECK(stats.reasons_by_count() == std::vector<std::uint16_t>{kExternalInterrupt, kHlt, kIo});

    const RunTotals totals{9100, 0.5};
    const std::string table = format_exit_stats(stats, totals);
    CHECK_THAT(table, Catch::StartsWith("exit statistics: exits=3 vcpus=2 vtime=9100 ns"));
    CHECK_THAT(table, Catch::Contains("\nEXTERNAL_INTERRUPT "));
    CHECK_THAT(table, Catch::Contains("\ntotal "));
    const nlohmann::ordered_json j = exit_stats_json(stats, totals);
    CHECK(j["exits"] == 3);
    CHECK(j["reasons"][0]["reason"] == "EXTERNAL_INTERRUPT");
    CHECK(j["reasons"][0]["exits_per_vcpu"] == nlohmann::json::array({0, 1}));
    CHECK(j["reasons"][2]["vtime_share"].get<double>() == Approx(1500.0 / 9100.0));
    CHECK(j["per_vcpu"][0]["halted_ns"] == 6300);
    CHECK(j["per_vcpu"][1]["waiting_ns"] == 5100);
    CHECK(j["per_vcpu"][0]["exits_by_reason"]["HLT"] == 1);
}

TEST_CASE("timeline: the events of a run as Chrome trace-event JSON", "[activity][timeline]")
{
    xeno::test::TempDir tmp;
    const std::string path = (tmp.path() / "t.json").string();
    std::FILE* file = std::fopen(path.c_str(), "wb");
    REQUIRE(file != nullptr);
    {
        VcpuActivity a;
        Timeline timeline(file, "demo \"quoted\" (skylake)");
        a.add_listener(&timeline);
        feed(a);
        timeline.close();
        CHECK(timeline.events() == 10);
        CHECK_FALSE(timeline.truncated());
    }
    std::fclose(file);
    const nlohmann::json t = nlohmann::json::parse(xeno::test::read_file(path));
    const nlohmann::json& ev = t["traceEvents"];
    REQUIRE(ev.size() == 1 + 2 * 2 + 10);  // process name, 2 metadata per vcpu, the events
    CHECK(ev[0]["args"]["name"] == "demo \"quoted\" (skylake)");
    CHECK(ev[1]["name"] == "thread_name");
    CHECK(ev[1]["args"]["name"] == "vcpu 0");
    // The I/O exit: [0.5 us, 1.5 us), its number, RIP and reason.
    const nlohmann::json* io = nullptr;
    for (const nlohmann::json& e : ev) {
        if (e.value("name", "") == "IO_INSTRUCTION") io = &e;
    }
    REQUIRE(io != nullptr);
    CHECK((*io)["ph"] == "X");
    CHECK((*io)["ts"].get<double>() == Approx(0.5));
    CHECK((*io)["dur"].get<double>() == Approx(1.0));
    CHECK((*io)["args"]["exit"] == 1);
    CHECK((*io)["args"]["rip"] == "0x8001");
    CHECK((*io)["args"]["reason"] == 30);
    bool saw_inject = false, saw_halt = false, saw_wait = false;
    for (const nlohmann::json& e : ev) {
        if (e.value("cat", "") == "interrupt") {
            saw_inject = true;
            CHECK(e["ph"] == "i");
            CHECK(e["args"]["vector"] == 0x30);
            CHECK(e["args"]["type"] == "external interrupt");
            CHECK(e["ts"].get<double>() == Approx(9.0));
        }
        if (e.value("cat", "") == "halt") {
            saw_halt = true;
            CHECK(e["ts"].get<double>() == Approx(2.7));
            CHECK(e["dur"].get<double>() == Approx(6.3));
        }
        if (e.value("cat", "") == "wait") {
            saw_wait = true;
            CHECK(e["name"] == "waiting");
            CHECK(e["tid"] == 1);
            CHECK(e["args"]["after"] == "EXTERNAL_INTERRUPT");
        }
    }
    CHECK(saw_inject);
    CHECK(saw_halt);
    CHECK(saw_wait);
}
