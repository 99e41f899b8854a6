// `xeno run --stats`, `--stats-json` and `--timeline` on real scenarios, in
// process (sim::run_machine): the statistics add up to the summary and agree
// with the exit trace of the same run, the JSON says what the table says, the
// timeline parses (nlohmann::json) with a thread per vcpu, one exit event per
// traced exit, slices in order and never overlapping, and the same bytes in
// two runs.
#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "harness/cli.hpp"
#include "harness/summary.hpp"
#include "sim/platform/machine.hpp"
#include "temp_dir.hpp"

using nlohmann::json;

namespace {

struct Ran {
    int status = -1;
    std::string out;
    std::string err;
};

Ran xeno_run(std::vector<std::string> args)
{
    std::ostringstream out, err;
    std::vector<const char*> argv{"xeno", "run"};
    for (const std::string& a : args) {
        argv.push_back(a.c_str());
    }
    xeno::harness::CliEnv env{out, err, XENO_BINARY_DIR, &xeno::sim::run_machine};
    const int status = xeno::harness::xeno_main(static_cast<int>(argv.size()), argv.data(), env);
    return Ran{status, out.str(), err.str()};
}

std::string scenario(const char* name)
{
    return std::string(XENO_SOURCE_DIR) + "/scenarios/" + name;
}

// summary: ... <key>=<n> ...
std::uint64_t summary_field(const std::string& out, const std::string& key)
{
    const std::size_t line = out.find("summary: ");
    REQUIRE(line != std::string::npos);
    const std::size_t at = out.find(" " + key + "=", line);
    REQUIRE(at != std::string::npos);
    return std::stoull(out.substr(at + key.size() + 2));
}

struct TraceExit {
    std::uint32_t vcpu;
    std::string reason;
};

// "exit <n> [v<k>] <REASON> ..." lines of a canonical trace.
std::vector<TraceExit> trace_exits(const std::string& text)
{
    std::vector<TraceExit> exits;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("exit ", 0) != 0) {
            continue;
        }
        std::istringstream words(line);
        std::string exit, number, word;
        words >> exit >> number >> word;
        std::uint32_t vcpu = 0;
        if (word.size() > 1 && word[0] == 'v' && std::isdigit(static_cast<unsigned char>(word[1]))) {
            vcpu = static_cast<std::uint32_t>(std::stoul(word.substr(1)));
            words >> word;
        }
        exits.push_back({vcpu, word});
    }
    return exits;
}

struct TableRow {
    std::string reason;
    std::uint64_t exits;
};

// The --stats rows between the "reason" header and "total" (inclusive).
std::vector<TableRow> table_rows(const std::string& out)
{
    std::vector<TableRow> rows;
    std::istringstream in(out.substr(out.find("exit statistics:")));
    bool in_table = false;
    for (std::string line; std::getline(in, line);) {
        std::istringstream words(line);
        std::string first;
        std::uint64_t exits = 0;
        words >> first;
        if (first == "reason") {
            in_table = true;
            continue;
        }
        if (!in_table) {
            continue;
        }
        words >> exits;
        rows.push_back({first, exits});
        if (first == "total") {
            break;
        }
    }
    return rows;
}

// Virtual nanoseconds back from the format's microseconds (three decimals).
std::uint64_t ns(const json& micros)
{
    return static_cast<std::uint64_t>(std::llround(micros.get<double>() * 1000.0));
}

struct Outputs {
    Ran ran;
    std::string trace;
    json stats;
    std::string timeline_text;
    json timeline;
};

Outputs run_with_everything(const char* name, const std::string& profile, const xeno::test::TempDir& tmp)
{
    const std::string trace = (tmp.path() / "t.trace").string();
    const std::string stats = (tmp.path() / "s.json").string();
    const std::string timeline = (tmp.path() / "timeline.json").string();
    Outputs o;
    o.ran = xeno_run({scenario(name), "--profile", profile, "--trace", trace, "--stats", "--stats-json", stats,
                      "--timeline", timeline});
    INFO(o.ran.err);
    o.trace = xeno::test::read_file(trace);
    o.stats = json::parse(xeno::test::read_file(stats));
    o.timeline_text = xeno::test::read_file(timeline);
    o.timeline = json::parse(o.timeline_text);
    return o;
}

void check_stats(const Outputs& o, std::uint32_t vcpus)
{
    const std::uint64_t exits = summary_field(o.ran.out, "exits");
    const std::uint64_t vtime = summary_field(o.ran.out, "vtime");
    const std::vector<TraceExit> traced = trace_exits(o.trace);
    REQUIRE(traced.size() == exits);

    // The table: its rows add up to the summary's exits, most first.
    const std::vector<TableRow> rows = table_rows(o.ran.out);
    REQUIRE(rows.size() >= 2);
    REQUIRE(rows.back().reason == "total");
    CHECK(rows.back().exits == exits);
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i + 1 < rows.size(); ++i) {
        sum += rows[i].exits;
        if (i > 0) {
            CHECK(rows[i - 1].exits >= rows[i].exits);
        }
    }
    CHECK(sum == exits);

    // Per reason, as the trace counts them.
    std::map<std::string, std::uint64_t> traced_by_reason;
    std::map<std::uint32_t, std::uint64_t> traced_by_vcpu;
    for (const TraceExit& t : traced) {
        ++traced_by_reason[t.reason];
        ++traced_by_vcpu[t.vcpu];
    }

    // The JSON: the table's rows in the table's order, and the trace's counts.
    const json& s = o.stats;
    CHECK(s["exits"] == exits);
    CHECK(s["vtime_ns"] == vtime);
    CHECK(s["vcpus"] == vcpus);
    REQUIRE(s["reasons"].size() == rows.size() - 1);
    std::uint64_t reason_vtime = 0;
    for (std::size_t i = 0; i < s["reasons"].size(); ++i) {
        const json& r = s["reasons"][i];
        INFO(r.dump());
        CHECK(r["reason"] == rows[i].reason);
        CHECK(r["exits"] == rows[i].exits);
        CHECK(r["exits"] == traced_by_reason[r["reason"].get<std::string>()]);
        REQUIRE(r["exits_per_vcpu"].size() == vcpus);
        std::uint64_t per_vcpu = 0;
        for (const json& n : r["exits_per_vcpu"]) per_vcpu += n.get<std::uint64_t>();
        CHECK(per_vcpu == r["exits"]);
        CHECK(r["vtime_ns"].get<std::uint64_t>() >= r["exits"].get<std::uint64_t>() * 1000);  // 1 us an exit at least
        reason_vtime += r["vtime_ns"].get<std::uint64_t>();
    }
    CHECK(reason_vtime <= vtime);

    // Per vcpu: the trace's split, and time that adds up (vcpus share one
    // virtual clock, one at a time; halts overlap others' work).
    REQUIRE(s["per_vcpu"].size() == vcpus);
    std::uint64_t busy = 0;
    for (std::uint32_t v = 0; v < vcpus; ++v) {
        const json& p = s["per_vcpu"][v];
        INFO("vcpu " << v << ": " << p.dump());
        CHECK(p["vcpu"] == v);
        CHECK(p["exits"] == traced_by_vcpu[v]);
        CHECK(p["exits"].get<std::uint64_t>() > 0);
        CHECK(p["exit_ns"] == p["exits"].get<std::uint64_t>() * 1000);
        std::uint64_t by_reason = 0;
        for (const auto& [reason, n] : p["exits_by_reason"].items()) by_reason += n.get<std::uint64_t>();
        CHECK(by_reason == p["exits"]);
        busy += p["guest_ns"].get<std::uint64_t>() + p["exit_ns"].get<std::uint64_t>();
        CHECK(p["guest_ns"].get<std::uint64_t>() + p["exit_ns"].get<std::uint64_t>() +
                  p["halted_ns"].get<std::uint64_t>() + p["waiting_ns"].get<std::uint64_t>() <=
              vtime);
    }
    CHECK(busy <= vtime);
    std::uint64_t instructions = 0;
    for (const json& p : s["per_vcpu"]) instructions += p["guest_instructions"].get<std::uint64_t>();
    CHECK(instructions == summary_field(o.ran.out, "insns"));
}

void check_timeline(const Outputs& o, std::uint32_t vcpus, const std::string& profile)
{
    const json& t = o.timeline;
    REQUIRE(t.contains("traceEvents"));
    REQUIRE(t["traceEvents"].is_array());
    CHECK(t["displayTimeUnit"] == "ns");
    const std::vector<TraceExit> traced = trace_exits(o.trace);

    std::map<std::uint32_t, std::string> thread_names;
    std::uint64_t processes = 0;
    std::map<std::uint32_t, std::vector<std::string>> exit_names;  // per vcpu, in order
    std::map<std::uint32_t, std::uint64_t> last_end;                // per vcpu
    std::map<std::uint32_t, std::uint64_t> injections, halts;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> busy;      // guest and exit slices, all vcpus
    std::uint64_t events = 0;
    for (const json& e : t["traceEvents"]) {
        REQUIRE(e.contains("ph"));
        REQUIRE(e["pid"] == 1);
        const std::string ph = e["ph"];
        const auto tid = e["tid"].get<std::uint32_t>();
        if (ph == "M") {
            if (e["name"] == "process_name") {
                ++processes;
                CHECK(e["args"]["name"].get<std::string>().find("(" + profile + ")") != std::string::npos);
            } else if (e["name"] == "thread_name") {
                CHECK(thread_names.count(tid) == 0);
                thread_names[tid] = e["args"]["name"];
            }
            continue;
        }
        ++events;
        const std::string cat = e["cat"];
        REQUIRE(thread_names.count(tid) == 1);  // named before its first event
        if (ph == "i") {
            REQUIRE(cat == "interrupt");
            CHECK(e["s"] == "t");
            CHECK(e["args"]["vector"].get<unsigned>() < 256);
            CHECK(ns(e["ts"]) >= last_end[tid]);
            ++injections[tid];
            continue;
        }
        REQUIRE(ph == "X");
        const std::uint64_t begin = ns(e["ts"]), end = begin + ns(e["dur"]);
        INFO(e.dump());
        CHECK(begin >= last_end[tid]);  // in order and not overlapping, per vcpu
        last_end[tid] = end;
        if (cat == "exit") {
            exit_names[tid].push_back(e["name"]);
            CHECK(e["args"]["exit"].get<std::uint64_t>() >= 1);
            CHECK(e["args"]["rip"].get<std::string>().rfind("0x", 0) == 0);
            CHECK(e["args"]["qualification"].get<std::string>().rfind("0x", 0) == 0);
            CHECK(e["dur"].get<double>() > 0);
            busy.emplace_back(begin, end);
        } else if (cat == "guest") {
            CHECK(e["dur"].get<double>() > 0);
            busy.emplace_back(begin, end);
        } else if (cat == "wait") {
            CHECK(e["name"] == "waiting");
            CHECK(e["args"]["after"].is_string());
            CHECK(e["args"]["after"] != "HLT");
        } else {
            REQUIRE(cat == "halt");
            CHECK(e["name"] == "halted");
            ++halts[tid];
        }
    }
    CHECK(processes == 1);
    REQUIRE(thread_names.size() == vcpus);
    for (std::uint32_t v = 0; v < vcpus; ++v) {
        CHECK(thread_names[v] == "vcpu " + std::to_string(v));
    }
    CHECK(t["otherData"]["events"] == events);
    CHECK_FALSE(t["otherData"].contains("truncated_after_ns"));

    // One exit event per traced exit, each vcpu's in the trace's order.
    std::map<std::uint32_t, std::vector<std::string>> traced_names;
    for (const TraceExit& x : traced) traced_names[x.vcpu].push_back(x.reason);
    std::uint64_t exit_events = 0;
    for (const auto& [vcpu, names] : exit_names) exit_events += names.size();
    CHECK(exit_events == traced.size());
    CHECK(exit_names == traced_names);

    // One CPU: no two vcpus' guest or exit slices overlap.
    std::sort(busy.begin(), busy.end());
    for (std::size_t i = 1; i < busy.size(); ++i) {
        CHECK(busy[i].first >= busy[i - 1].second);
    }

    // The statistics of the same run count the same injections.
    for (std::uint32_t v = 0; v < vcpus; ++v) {
        CHECK(o.stats["per_vcpu"][v]["injections"] == injections[v]);
        if (o.stats["per_vcpu"][v]["halted_ns"].get<std::uint64_t>() > 0) {
            CHECK(halts[v] > 0);
        }
    }
}

}  // namespace

TEST_CASE("--stats and --stats-json on 4 vcpus: they add up to the summary and split as the trace does",
          "[stats][smp]")
{
    xeno::test::TempDir tmp;
    const Outputs o = run_with_everything("smp", "skylake", tmp);
    INFO(o.ran.err);
    REQUIRE(o.ran.status == 0);
    check_stats(o, 4);
    // The APs halt and are woken by IPIs: halted time and injected events.
    for (std::uint32_t v = 1; v < 4; ++v) {
        CHECK(o.stats["per_vcpu"][v]["halted_ns"].get<std::uint64_t>() > 0);
        CHECK(o.stats["per_vcpu"][v]["injections"].get<std::uint64_t>() > 0);
    }
}

TEST_CASE("--timeline on 4 vcpus: a thread per vcpu, an exit event per traced exit, slices in order",
          "[timeline][smp]")
{
    xeno::test::TempDir tmp;
    const Outputs o = run_with_everything("smp", "skylake", tmp);
    INFO(o.ran.err);
    REQUIRE(o.ran.status == 0);
    check_timeline(o, 4, "skylake");
}

TEST_CASE("one vcpu: guest, exit, halted and waiting time add up to the run's virtual time", "[stats][timeline]")
{
    // idle: a 10 s HLT woken by the APIC timer, then HLT with interrupts
    // off; lapic-timer: timers in every mode, busy waits and HLTs.
    for (const char* name : {"idle", "lapic-timer"}) {
        for (const char* profile : {"penryn", "skylake"}) {
            INFO(name << " " << profile);
            xeno::test::TempDir tmp;
            const Outputs o = run_with_everything(name, profile, tmp);
            INFO(o.ran.err);
            REQUIRE(o.ran.out.find(std::string(name) == "idle" ? "end=halted" : "end=exit") != std::string::npos);
            check_stats(o, 1);
            check_timeline(o, 1, profile);
            const json& v = o.stats["per_vcpu"][0];
            CHECK(v["guest_ns"].get<std::uint64_t>() + v["exit_ns"].get<std::uint64_t>() +
                      v["halted_ns"].get<std::uint64_t>() + v["waiting_ns"].get<std::uint64_t>() ==
                  summary_field(o.ran.out, "vtime"));
            if (std::string(name) == "idle") {
                CHECK(v["halted_ns"].get<std::uint64_t>() >= 9'000'000'000u);  // the sleep
            }
        }
    }
}

TEST_CASE("two runs write byte-identical timelines and the same deterministic statistics", "[timeline][determinism]")
{
    for (const char* profile : {"penryn", "skylake"}) {
        INFO(profile);
        xeno::test::TempDir a, b;
        const Outputs first = run_with_everything("smp", profile, a);
        const Outputs second = run_with_everything("smp", profile, b);
        REQUIRE(first.ran.status == 0);
        REQUIRE(second.ran.status == 0);
        CHECK(first.timeline_text == second.timeline_text);
        // Host time apart, the statistics are the same.
        auto deterministic = [](json s) {
            s.erase("wall_seconds");
            for (json& r : s["reasons"]) {
                r.erase("host_ns");
                r.erase("host_share");
            }
            for (json& v : s["per_vcpu"]) v.erase("host_ns");
            return s;
        };
        CHECK(deterministic(first.stats) == deterministic(second.stats));
    }
}

TEST_CASE("--timeline-max-events bounds the timeline and says where it stopped", "[timeline]")
{
    xeno::test::TempDir tmp;
    const std::string timeline = (tmp.path() / "t.json").string();
    const Ran r = xeno_run({scenario("smp"), "--timeline", timeline, "--timeline-max-events", "25"});
    INFO(r.err);
    REQUIRE(r.status == 0);
    const json t = json::parse(xeno::test::read_file(timeline));
    std::uint64_t events = 0;
    for (const json& e : t["traceEvents"]) events += e["ph"] != "M";
    CHECK(events == 25);
    CHECK(t["otherData"]["events"] == 25);
    CHECK(t["otherData"]["truncated_after_events"] == 25);
    CHECK(t["otherData"]["truncated_after_ns"].get<std::uint64_t>() > 0);
}

TEST_CASE("--stats-json and --timeline: a file that cannot be written or is another output is a usage error",
          "[stats][timeline]")
{
    xeno::test::TempDir tmp;
    const std::string same = (tmp.path() / "same.json").string();
    const std::string toml = scenario("hello") + "/scenario.toml";
    for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
             {scenario("hello"), "--stats-json", "/nonexistent/dir/s.json"},
             {scenario("hello"), "--timeline", "/nonexistent/dir/t.json"},
             {scenario("hello"), "--timeline", same, "--stats-json", same},
             {scenario("hello"), "--timeline", same, "--trace", same},
             {scenario("hello"), "--stats-json", toml},
             {scenario("hello"), "--timeline-max-events", "10"},
             {scenario("hello"), "--timeline", same, "--timeline-max-events", "0"},
         }) {
        const Ran r = xeno_run(args);
        INFO(args.back() << " -> " << r.err);
        CHECK(r.status == 2);
        CHECK(r.err.rfind("xeno: error: ", 0) == 0);
        CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
        CHECK(r.out.empty());
    }
    CHECK_FALSE(std::filesystem::exists(same));
}

TEST_CASE("a run a limit stops still gets its statistics and a complete timeline", "[stats][timeline]")
{
    xeno::test::TempDir tmp;
    const std::string stats = (tmp.path() / "s.json").string();
    const std::string timeline = (tmp.path() / "t.json").string();
    const Ran r = xeno_run({scenario("smp"), "--max-insns", "300000", "--stats", "--stats-json", stats, "--timeline",
                            timeline});
    CHECK(r.status == xeno::harness::kExitLimit);
    CHECK_THAT(r.err, Catch::StartsWith("xeno: error: "));
    const std::uint64_t exits = summary_field(r.out, "exits");
    REQUIRE(exits > 0);
    const std::vector<TableRow> rows = table_rows(r.out);
    REQUIRE(!rows.empty());
    CHECK(rows.back().reason == "total");
    CHECK(rows.back().exits == exits);
    const json s = json::parse(xeno::test::read_file(stats));
    CHECK(s["exits"] == exits);
    // The guest time the limit cut off is the vcpu's too.
    std::uint64_t instructions = 0;
    for (const json& v : s["per_vcpu"]) instructions += v["guest_instructions"].get<std::uint64_t>();
    CHECK(instructions == summary_field(r.out, "insns"));
    const json t = json::parse(xeno::test::read_file(timeline));
    std::uint64_t exit_events = 0;
    for (const json& e : t["traceEvents"]) exit_events += e.value("cat", "") == "exit";
    CHECK(exit_events == exits);
}

TEST_CASE("xeno run --help lists --stats, --stats-json and --timeline", "[stats][timeline]")
{
    const Ran r = xeno_run({"--help"});
    CHECK(r.status == 0);
    CHECK_THAT(r.out, Catch::Contains("--stats ") && Catch::Contains("--stats-json") &&
                          Catch::Contains("--timeline ") && Catch::Contains("--timeline-max-events"));
}

TEST_CASE("watching a run changes nothing in it: the same summary and trace without the options", "[stats][timeline]")
{
    xeno::test::TempDir tmp;
    const std::string plain_trace = (tmp.path() / "plain.trace").string();
    const Ran plain = xeno_run({scenario("smp"), "--trace", plain_trace, "--memhash"});
    const std::string watched_trace = (tmp.path() / "watched.trace").string();
    const Ran watched = xeno_run({scenario("smp"), "--trace", watched_trace, "--memhash", "--stats", "--stats-json",
                                  (tmp.path() / "s.json").string(), "--timeline", (tmp.path() / "t.json").string()});
    REQUIRE(plain.status == 0);
    REQUIRE(watched.status == 0);
    auto summary_line = [](const std::string& out) {
        const std::size_t at = out.find("summary: ");
        return xeno::harness::strip_wall(out.substr(at, out.find('\n', at) - at));
    };
    CHECK(summary_line(plain.out) == summary_line(watched.out));
    CHECK(xeno::test::read_file(plain_trace) == xeno::test::read_file(watched_trace));
}
