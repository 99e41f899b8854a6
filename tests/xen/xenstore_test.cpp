// The XenStore server: each request type with Xen's semantics through
// handle_request, watch events and transactions, the arena running out, and
// the shared ring as a guest drives it (requests in pieces, wrapping the
// ring's end, replies longer than the response space, a hostile guest).
#include "xen/xenstore.hpp"

#include <catch2/catch.hpp>
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

using namespace xeno;
using namespace xeno::xen;

namespace {

using Events = std::vector<std::pair<std::string, std::string>>;

// A string with the NUL the protocol puts after each argument.
std::string z(const std::string& s) { return s + '\0'; }

struct Answer {
    u32 type = 0;
    u32 req_id = 0;
    u32 tx_id = 0;
    std::string payload;

    bool ok() const { return type != xs::ERROR; }
    // The error's name (its NUL checked), or a text no name equals.
    std::string error() const
    {
        if (type != xs::ERROR) return "(no error)";
        if (payload.empty() || payload.back() != '\0') return "(no NUL)";
        return payload.substr(0, payload.size() - 1);
    }
};

// A store over its own arena.
struct Store {
    std::vector<u8> arena;
    std::unique_ptr<XenStore> xs;

    explicit Store(usize bytes = 64 * 1024, u16 domid = 1)
        : arena(bytes), xs(std::make_unique<XenStore>(arena.data(), bytes, domid))
    {
    }

    Answer request(u32 type, const std::string& payload, u32 tx_id = 0, usize reply_capacity = 4096)
    {
        const xsd_sockmsg hdr{type, 77, tx_id, static_cast<u32>(payload.size())};
        std::vector<u8> out(reply_capacity);
        xsd_sockmsg reply{};
        const Result<usize> r =
            xs->handle_request(hdr, reinterpret_cast<const u8*>(payload.data()), out.data(), out.size(), &reply);
        REQUIRE(r.ok());
        REQUIRE(reply.len == r.value());
        CHECK(reply.req_id == 77);
        CHECK(reply.tx_id == tx_id);
        if (reply.type != xs::ERROR) CHECK(reply.type == type);
        return Answer{reply.type, reply.req_id, reply.tx_id,
                      std::string(reinterpret_cast<const char*>(out.data()), r.value())};
    }

    Answer read(const std::string& path, u32 tx = 0) { return request(xs::READ, z(path), tx); }
    Answer write(const std::string& path, const std::string& value, u32 tx = 0)
    {
        return request(xs::WRITE, z(path) + value, tx);
    }
    Answer dir(const std::string& path, u32 tx = 0) { return request(xs::DIRECTORY, z(path), tx); }
    Answer rm(const std::string& path, u32 tx = 0) { return request(xs::RM, z(path), tx); }
    Answer mkdir(const std::string& path, u32 tx = 0) { return request(xs::MKDIR, z(path), tx); }
    Answer watch(const std::string& path, const std::string& token)
    {
        return request(xs::WATCH, z(path) + z(token));
    }
    Answer unwatch(const std::string& path, const std::string& token)
    {
        return request(xs::UNWATCH, z(path) + z(token));
    }
    u32 start()
    {
        const Answer a = request(xs::TRANSACTION_START, z(""));
        REQUIRE(a.ok());
        REQUIRE(a.payload.size() >= 2);
        REQUIRE(a.payload.back() == '\0');
        return static_cast<u32>(std::stoul(a.payload.substr(0, a.payload.size() - 1)));
    }
    Answer end(u32 tx, bool commit) { return request(xs::TRANSACTION_END, z(commit ? "T" : "F"), tx); }

    // Every queued watch event, oldest first.
    Events events()
    {
        Events out;
        xsd_sockmsg hdr{};
        u8 payload[4096];
        for (;;) {
            const Result<usize> r = xs->next_event(&hdr, payload, sizeof payload);
            if (!r.ok()) {
                REQUIRE(r.status() == Status::NOT_FOUND);
                return out;
            }
            REQUIRE(hdr.type == xs::WATCH_EVENT);
            REQUIRE(hdr.req_id == 0);
            REQUIRE(hdr.tx_id == 0);
            REQUIRE(hdr.len == r.value());
            const std::string s(reinterpret_cast<const char*>(payload), r.value());
            const usize nul = s.find('\0');
            REQUIRE(nul != std::string::npos);
            REQUIRE(s.back() == '\0');
            out.emplace_back(s.substr(0, nul), s.substr(nul + 1, s.size() - nul - 2));
        }
    }
};

std::string listing(std::initializer_list<const char*> names)
{
    std::string s;
    for (const char* n : names) s += z(n);
    return s;
}

}  // namespace

TEST_CASE("xs_wire: Xen's numbers, names and layouts", "[xenstore]")
{
    CHECK(xs::CONTROL == 0);
    CHECK(xs::DEBUG == 0);
    CHECK(xs::DIRECTORY == 1);
    CHECK(xs::READ == 2);
    CHECK(xs::GET_PERMS == 3);
    CHECK(xs::WATCH == 4);
    CHECK(xs::UNWATCH == 5);
    CHECK(xs::TRANSACTION_START == 6);
    CHECK(xs::TRANSACTION_END == 7);
    CHECK(xs::INTRODUCE == 8);
    CHECK(xs::RELEASE == 9);
    CHECK(xs::GET_DOMAIN_PATH == 10);
    CHECK(xs::WRITE == 11);
    CHECK(xs::MKDIR == 12);
    CHECK(xs::RM == 13);
    CHECK(xs::SET_PERMS == 14);
    CHECK(xs::WATCH_EVENT == 15);
    CHECK(xs::ERROR == 16);
    CHECK(xs::IS_DOMAIN_INTRODUCED == 17);
    CHECK(xs::RESUME == 18);
    CHECK(xs::SET_TARGET == 19);
    CHECK(xs::RESET_WATCHES == 21);
    CHECK(xs::DIRECTORY_PART == 22);
    CHECK(std::string(xsd_error_name(xsd_error::XEN_EINVAL)) == "EINVAL");
    CHECK(std::string(xsd_error_name(xsd_error::XEN_ENOENT)) == "ENOENT");
    CHECK(std::string(xsd_error_name(xsd_error::XEN_EISCONN)) == "EISCONN");
    CHECK(std::string(xsd_error_name(xsd_error::XEN_E2BIG)) == "E2BIG");
    CHECK(std::string(xsd_error_name(xsd_error::XEN_EPERM)) == "EPERM");
    CHECK(static_cast<int>(xsd_error::XEN_EINVAL) == 0);  // xenstored relies on EINVAL first
    CHECK(sizeof(xsd_sockmsg) == 16);
    CHECK(sizeof(xenstore_domain_interface) == 2076);
    CHECK(xenstore::PAYLOAD_MAX == 4096);
    CHECK(xenstore::ABS_PATH_MAX == 3072);
    CHECK(xenstore::REL_PATH_MAX == 2048);
    CHECK(xenstore::MASK_IDX(1024 + 5) == 5);
}

TEST_CASE("xenstore: the domain's tree", "[xenstore]")
{
    Store s;
    REQUIRE(s.xs->populate_domain("guest-1", 2, 262144) == Status::OK);
    CHECK(s.read("name").payload == "guest-1");
    CHECK(s.read("/local/domain/1/domid").payload == "1");
    CHECK(s.read("memory/target").payload == "262144");
    CHECK(s.read("memory/static-max").payload == "262144");
    CHECK(s.read("cpu/0/availability").payload == "online");
    CHECK(s.read("cpu/1/availability").payload == "online");
    CHECK(s.read("cpu/2/availability").error() == "ENOENT");
    CHECK(s.read("control/platform-feature-xs_reset_watches").payload == "1");
    CHECK(s.dir("").error() == "EINVAL");
    CHECK(s.dir("/local/domain/1").payload ==
          listing({"console", "control", "cpu", "data", "device", "domid", "memory", "name"}));
    CHECK(s.dir("/local/domain").payload == listing({"1"}));
    CHECK(s.dir("/local").payload == listing({"domain"}));
    CHECK(s.dir("/").payload == listing({"local"}));
    CHECK(s.dir("device").payload.empty());
    CHECK(s.dir("cpu").payload == listing({"0", "1"}));
    CHECK(s.request(xs::GET_PERMS, z("name")).payload == z("r0"));    // the toolstack's, guest reads
    CHECK(s.request(xs::GET_PERMS, z("device")).payload == z("n1"));  // the guest's own

    // The hypervisor's side: console keys, read back with a NUL.
    REQUIRE(s.xs->write("console/ring-ref", "254") == Status::OK);
    REQUIRE(s.xs->write("/local/domain/1/console/port", "1") == Status::OK);
    CHECK(s.read("console/ring-ref").payload == "254");
    char buf[16];
    const Result<usize> r = s.xs->read("console/port", buf, sizeof buf);
    REQUIRE(r.ok());
    CHECK(r.value() == 1);
    CHECK(std::string(buf) == "1");
    CHECK(s.xs->read("console/nothing", buf, sizeof buf).status() == Status::NOT_FOUND);
    CHECK(s.xs->read("name", buf, 4).status() == Status::TOO_LARGE);
    CHECK(s.xs->read("bad//path", buf, sizeof buf).status() == Status::BAD_ARGUMENT);
    CHECK(s.xs->write("bad/", "x") == Status::BAD_ARGUMENT);
    CHECK(s.xs->domid() == 1);

    // Another domain id.
    Store t(16 * 1024, 7);
    REQUIRE(t.xs->populate_domain("seven", 1, 1024) == Status::OK);
    CHECK(t.read("/local/domain/7/domid").payload == "7");
    CHECK(t.read("domid").payload == "7");
}

TEST_CASE("xenstore: read, write, mkdir", "[xenstore]")
{
    Store s;
    CHECK(s.write("data/x", "hello").payload == z("OK"));
    Answer a = s.read("data/x");
    CHECK(a.ok());
    CHECK(a.payload == "hello");  // no NUL after a value
    CHECK(s.read("/local/domain/1/data/x").payload == "hello");
    CHECK(s.write("data/x", "").ok());
    CHECK(s.read("data/x").payload.empty());
    CHECK(s.read("data/x").ok());
    CHECK(s.write("data/x", std::string("bin\0ary", 7)).ok());  // values are bytes
    CHECK(s.read("data/x").payload == std::string("bin\0ary", 7));
    CHECK(s.read("data").payload.empty());  // parents come with empty values
    CHECK(s.read("/local/domain").ok());

    CHECK(s.read("data/none").error() == "ENOENT");
    CHECK(s.read("/nowhere/at/all").error() == "ENOENT");

    // mkdir: creates the parents, keeps an existing value.
    CHECK(s.mkdir("a/b/c").payload == z("OK"));
    CHECK(s.dir("a/b").payload == listing({"c"}));
    CHECK(s.read("a/b/c").payload.empty());
    CHECK(s.mkdir("data/x").ok());
    CHECK(s.read("data/x").payload == std::string("bin\0ary", 7));

    // Payloads without the NUL an argument needs.
    CHECK(s.request(xs::READ, "data/x").error() == "EINVAL");
    CHECK(s.request(xs::READ, "").error() == "EINVAL");
    CHECK(s.request(xs::WRITE, "data/x").error() == "EINVAL");
    CHECK(s.request(xs::MKDIR, z("a") + "b").error() == "EINVAL");
}

TEST_CASE("xenstore: path rules", "[xenstore]")
{
    Store s;
    CHECK(s.write("ok/path-with_all@chars09", "v").ok());
    CHECK(s.write("a/", "v").error() == "EINVAL");          // trailing slash
    CHECK(s.write("a//b", "v").error() == "EINVAL");        // empty component
    CHECK(s.write("/local//x", "v").error() == "EINVAL");
    CHECK(s.write("", "v").error() == "EINVAL");            // empty path
    CHECK(s.write("a b", "v").error() == "EINVAL");         // bad character
    CHECK(s.write("a.b", "v").error() == "EINVAL");
    CHECK(s.write("@special", "v").error() == "EINVAL");    // only for watches
    CHECK(s.read("/").ok());
    CHECK(s.read("/x/").error() == "EINVAL");
    // REL_PATH_MAX bytes after /local/domain/<id>/, and 2048 for other paths.
    const std::string longest(2048, 'a');
    CHECK(s.write(longest, "v").ok());
    CHECK(s.read("/local/domain/1/" + longest).payload == "v");
    CHECK(s.write(longest + "b", "v").error() == "EINVAL");
    CHECK(s.write("/" + std::string(2047, 'a'), "v").ok());
    CHECK(s.write("/" + std::string(2048, 'a'), "v").error() == "EINVAL");
    CHECK(s.write(std::string(4000, 'a'), "v").error() == "EINVAL");
}

TEST_CASE("xenstore: directory order", "[xenstore]")
{
    Store s;
    for (const char* p : {"d/b", "d/a/x", "d/c", "d/a-b", "d/a", "d/B", "d/a0", "d/_"}) REQUIRE(s.write(p, "v").ok());
    // Byte order of the names (as strcmp), grandchildren not listed.
    CHECK(s.dir("d").payload == listing({"B", "_", "a", "a-b", "a0", "b", "c"}));
    CHECK(s.dir("d/a").payload == listing({"x"}));
    CHECK(s.dir("d/a/x").payload.empty());
    CHECK(s.dir("d/none").error() == "ENOENT");
    CHECK(s.dir("d/").error() == "EINVAL");
}

TEST_CASE("xenstore: rm is recursive", "[xenstore]")
{
    Store s;
    for (const char* p : {"t/a/x", "t/a/y/z", "t/ab", "t/b"}) REQUIRE(s.write(p, "v").ok());
    const usize nodes = s.xs->node_count();
    CHECK(s.rm("t/a").payload == z("OK"));
    CHECK(s.xs->node_count() == nodes - 4);  // a, a/x, a/y, a/y/z
    CHECK(s.read("t/a/y/z").error() == "ENOENT");
    CHECK(s.read("t/a").error() == "ENOENT");
    CHECK(s.read("t/ab").payload == "v");  // a sibling sharing the prefix stays
    CHECK(s.dir("t").payload == listing({"ab", "b"}));
    // Missing but the parent exists: fine (xenstored); no parent: ENOENT.
    CHECK(s.rm("t/a").ok());
    CHECK(s.rm("t/a/y").error() == "ENOENT");
    CHECK(s.rm("/").error() == "EINVAL");
    CHECK(s.rm("t").ok());
    CHECK(s.dir("").error() == "EINVAL");
    CHECK(s.dir("/local/domain/1").payload.empty());
}

TEST_CASE("xenstore: permissions", "[xenstore]")
{
    Store s;
    REQUIRE(s.write("p", "v").ok());
    CHECK(s.request(xs::GET_PERMS, z("p")).payload == z("n1"));
    CHECK(s.request(xs::SET_PERMS, z("p") + z("b0") + z("r1")).payload == z("OK"));
    CHECK(s.request(xs::GET_PERMS, z("p")).payload == z("b0"));
    CHECK(s.request(xs::SET_PERMS, z("p") + z("w65535")).ok());
    CHECK(s.request(xs::GET_PERMS, z("p")).payload == z("w65535"));
    CHECK(s.request(xs::SET_PERMS, z("p") + z("x1")).error() == "EINVAL");
    CHECK(s.request(xs::SET_PERMS, z("p") + z("r")).error() == "EINVAL");
    CHECK(s.request(xs::SET_PERMS, z("p") + z("r65536")).error() == "EINVAL");
    CHECK(s.request(xs::SET_PERMS, z("p")).error() == "EINVAL");
    CHECK(s.request(xs::SET_PERMS, z("q") + z("n1")).error() == "ENOENT");
    CHECK(s.request(xs::GET_PERMS, z("q")).error() == "ENOENT");
    CHECK(s.request(xs::GET_PERMS, z("/")).payload == z("n0"));
}

TEST_CASE("xenstore: other requests", "[xenstore]")
{
    Store s;
    CHECK(s.request(xs::GET_DOMAIN_PATH, z("1")).payload == z("/local/domain/1"));
    CHECK(s.request(xs::GET_DOMAIN_PATH, z("0")).payload == z("/local/domain/0"));
    CHECK(s.request(xs::GET_DOMAIN_PATH, z("12x")).error() == "EINVAL");
    CHECK(s.request(xs::GET_DOMAIN_PATH, "1").error() == "EINVAL");
    CHECK(s.request(xs::IS_DOMAIN_INTRODUCED, z("1")).payload == z("T"));
    CHECK(s.request(xs::IS_DOMAIN_INTRODUCED, z("32752")).payload == z("T"));  // DOMID_SELF
    CHECK(s.request(xs::IS_DOMAIN_INTRODUCED, z("3")).payload == z("F"));
    // dom0's requests are refused as xenstored refuses them to a domU.
    for (u32 type : {xs::CONTROL, xs::INTRODUCE, xs::RELEASE, xs::RESUME, xs::SET_TARGET})
        CHECK(s.request(type, z("1")).error() == "EACCES");
    for (u32 type : {xs::WATCH_EVENT, xs::ERROR, u32{20}, xs::TYPE_COUNT, xs::INVALID, u32{0xffffffff}})
        CHECK(s.request(type, z("x")).error() == "ENOSYS");

    // handle_request's own misuse.
    xsd_sockmsg hdr{xs::READ, 1, 0, 4097}, reply{};
    std::vector<u8> payload(5000, 'a'), out(4096);
    CHECK(s.xs->handle_request(hdr, payload.data(), out.data(), out.size(), &reply).status() == Status::BAD_ARGUMENT);
    hdr.len = 2;
    CHECK(s.xs->handle_request(hdr, payload.data(), out.data(), 15, &reply).status() == Status::BAD_ARGUMENT);
    CHECK(s.xs->handle_request(hdr, nullptr, out.data(), out.size(), &reply).status() == Status::BAD_ARGUMENT);
    CHECK(s.xs->handle_request(hdr, payload.data(), out.data(), out.size(), nullptr).status() ==
          Status::BAD_ARGUMENT);
}

TEST_CASE("xenstore: replies over the limit are E2BIG; DIRECTORY_PART pages", "[xenstore]")
{
    Store s(256 * 1024);
    std::vector<std::string> names;
    for (int i = 0; i < 60; ++i) {
        std::string name = std::to_string(100 + i) + std::string(97, 'n');  // 100 bytes, sorted by number
        names.push_back(name);
        REQUIRE(s.mkdir("big/" + name).ok());
    }
    CHECK(s.dir("big").error() == "E2BIG");  // 60 * 101 bytes > PAYLOAD_MAX

    // DIRECTORY_PART: generation, whole names from the offset, a NUL; the
    // last part is the NUL alone.
    std::string all;
    usize offset = 0;
    std::string generation;
    for (int part = 0; part < 10; ++part) {
        const Answer a = s.request(xs::DIRECTORY_PART, z("big") + z(std::to_string(offset)));
        REQUIRE(a.ok());
        REQUIRE(a.payload.size() <= 4096);
        const usize g = a.payload.find('\0');
        if (generation.empty()) generation = a.payload.substr(0, g);
        CHECK(a.payload.substr(0, g) == generation);
        const std::string chunk = a.payload.substr(g + 1, a.payload.size() - g - 2);
        CHECK(a.payload.back() == '\0');
        if (chunk.empty()) break;
        all += chunk;
        offset += chunk.size();
    }
    std::string expected;
    for (const std::string& n : names) expected += z(n);
    CHECK(all == expected);
    CHECK(s.request(xs::DIRECTORY_PART, z("big") + z(std::to_string(expected.size() + 1))).error() == "EINVAL");
    CHECK(s.request(xs::DIRECTORY_PART, z("big") + z("x")).error() == "EINVAL");
    CHECK(s.request(xs::DIRECTORY_PART, z("big")).error() == "EINVAL");

    // A reply buffer smaller than the answer.
    REQUIRE(s.write("long", std::string(100, 'v')).ok());
    CHECK(s.request(xs::READ, z("long"), 0, 64).error() == "E2BIG");
    CHECK(s.request(xs::READ, z("long"), 0, 100).payload == std::string(100, 'v'));
}

TEST_CASE("xenstore: watches", "[xenstore]")
{
    Store s;
    REQUIRE(s.xs->populate_domain("g", 1, 1024) == Status::OK);

    // The reply, then the event at once with the path as given.
    CHECK(s.watch("device", "dev-token").payload == z("OK"));
    CHECK(s.events() == Events{{"device", "dev-token"}});
    CHECK(s.watch("/local/domain/1/memory/target", "balloon").ok());
    CHECK(s.events() == Events{{"/local/domain/1/memory/target", "balloon"}});
    CHECK(s.xs->watch_count() == 2);

    // A write at or below a watch fires it; relative watches get relative paths.
    CHECK(s.write("device/vif/0/state", "1").ok());
    CHECK(s.events() == Events{{"device/vif/0/state", "dev-token"}});
    CHECK(s.write("data/elsewhere", "1").ok());
    CHECK(s.write("devices", "1").ok());  // shares the prefix, not below
    CHECK(s.events().empty());
    CHECK(s.mkdir("device/vbd").ok());
    CHECK(s.events() == Events{{"device/vbd", "dev-token"}});
    CHECK(s.mkdir("device/vbd").ok());  // exists: no change, no event
    CHECK(s.events().empty());
    CHECK(s.request(xs::SET_PERMS, z("device/vbd") + z("b1")).ok());
    CHECK(s.events() == Events{{"device/vbd", "dev-token"}});

    // The hypervisor's writes fire too (the balloon driver's target).
    REQUIRE(s.xs->write("memory/target", "512") == Status::OK);
    CHECK(s.events() == Events{{"/local/domain/1/memory/target", "balloon"}});

    // rm fires watches on the path, above it, and below it (with their path).
    CHECK(s.watch("device/vif/0/state", "state").ok());
    CHECK(s.watch("/", "root").ok());
    CHECK(s.events() == Events{{"device/vif/0/state", "state"}, {"/", "root"}});
    CHECK(s.rm("device/vif").ok());
    CHECK(s.events() == Events{{"device/vif", "dev-token"},
                               {"device/vif/0/state", "state"},
                               {"/local/domain/1/device/vif", "root"}});
    CHECK(s.rm("device/vif").ok());  // nothing removed: no events
    CHECK(s.events().empty());

    // Duplicates, unwatch, special paths.
    CHECK(s.watch("device", "dev-token").error() == "EEXIST");
    CHECK(s.watch("/local/domain/1/device", "dev-token").error() == "EEXIST");  // the same path
    CHECK(s.watch("device", "other").ok());
    CHECK(s.events() == Events{{"device", "other"}});
    CHECK(s.unwatch("device", "other").payload == z("OK"));
    CHECK(s.unwatch("device", "other").error() == "ENOENT");
    CHECK(s.unwatch("/", "root").ok());
    CHECK(s.unwatch("device/vif/0/state", "state").ok());
    CHECK(s.watch("@releaseDomain", "rel").ok());
    CHECK(s.events() == Events{{"@releaseDomain", "rel"}});
    CHECK(s.write("device/x", "1").ok());
    CHECK(s.events() == Events{{"device/x", "dev-token"}});  // no @releaseDomain event
    CHECK(s.watch("bad//path", "t").error() == "EINVAL");
    CHECK(s.request(xs::WATCH, z("device")).error() == "EINVAL");  // no token
    CHECK(s.request(xs::WATCH, z("device") + "tok").error() == "EINVAL");
    CHECK(s.watch("data", "").ok());  // an empty token is a token
    CHECK(s.events() == Events{{"data", ""}});

    // RESET_WATCHES drops every watch and transaction.
    const u32 tx = s.start();
    CHECK(s.xs->open_transactions() == 1);
    CHECK(s.request(xs::RESET_WATCHES, z("")).payload == z("OK"));
    CHECK(s.xs->watch_count() == 0);
    CHECK(s.xs->open_transactions() == 0);
    CHECK(s.read("name", tx).error() == "ENOENT");  // the transaction is gone
    CHECK(s.write("device/y", "1").ok());
    CHECK(s.events().empty());
}

TEST_CASE("xenstore: watch quota and dropped events", "[xenstore]")
{
    Store s(256 * 1024);
    // Tokens long enough that 128 events overflow the event queue.
    const std::string pad(40, 'x');
    for (usize i = 0; i < XenStore::kMaxWatches; ++i) REQUIRE(s.watch("w", "t" + std::to_string(i) + pad).ok());
    CHECK(s.watch("w", "one-more").error() == "E2BIG");
    (void)s.events();  // the initial events that fit; the rest were dropped
    CHECK(s.xs->dropped_events() > 0);
    const u64 dropped = s.xs->dropped_events();
    CHECK(s.write("w", "x").ok());  // 128 events, more than the queue holds
    const Events e = s.events();
    CHECK(!e.empty());
    CHECK(e.size() < XenStore::kMaxWatches);
    CHECK(e.front() == std::make_pair(std::string("w"), "t0" + pad));
    CHECK(s.xs->dropped_events() == dropped + (XenStore::kMaxWatches - e.size()));
}

TEST_CASE("xenstore: transactions", "[xenstore]")
{
    Store s;
    REQUIRE(s.xs->populate_domain("g", 1, 1024) == Status::OK);
    REQUIRE(s.watch("device", "tok").ok());
    REQUIRE(s.watch("data/sub", "below").ok());  // below a node a transaction removes
    (void)s.events();

    SECTION("commit applies the changes and fires the watches then")
    {
        const u32 tx = s.start();
        CHECK(tx != 0);
        CHECK(s.write("device/vif/0/state", "4", tx).ok());
        CHECK(s.rm("data", tx).ok());
        CHECK(s.read("device/vif/0/state", tx).payload == "4");
        CHECK(s.dir("device", tx).payload == listing({"vif"}));
        CHECK(s.read("device/vif/0/state").error() == "ENOENT");  // not outside
        CHECK(s.read("data").ok());
        CHECK(s.events().empty());
        const u64 generation = s.xs->generation();
        CHECK(s.end(tx, true).payload == z("OK"));
        CHECK(s.xs->generation() == generation + 1);
        CHECK(s.read("device/vif/0/state").payload == "4");
        CHECK(s.read("data").error() == "ENOENT");
        CHECK(s.events() == Events{{"data/sub", "below"},
                                   {"device/vif", "tok"},
                                   {"device/vif/0", "tok"},
                                   {"device/vif/0/state", "tok"}});
        CHECK(s.xs->open_transactions() == 0);
        CHECK(s.end(tx, true).error() == "ENOENT");  // ended
    }
    SECTION("abort drops them")
    {
        const usize used = s.xs->bytes_used();
        const u32 tx = s.start();
        CHECK(s.xs->bytes_used() > used);  // the copy
        CHECK(s.write("device/x", "1", tx).ok());
        CHECK(s.end(tx, false).payload == z("OK"));
        CHECK(s.read("device/x").error() == "ENOENT");
        CHECK(s.events().empty());
        CHECK(s.xs->bytes_used() == used);
    }
    SECTION("a change to the tree meanwhile: EAGAIN, and the retry works")
    {
        u32 tx = s.start();
        CHECK(s.write("device/x", "1", tx).ok());
        CHECK(s.write("data/other", "1").ok());  // outside the transaction
        CHECK(s.end(tx, true).error() == "EAGAIN");
        CHECK(s.read("device/x").error() == "ENOENT");
        CHECK(s.xs->open_transactions() == 0);
        tx = s.start();
        CHECK(s.write("device/x", "1", tx).ok());
        CHECK(s.end(tx, true).ok());
        CHECK(s.read("device/x").payload == "1");
        CHECK(s.read("data/other").payload == "1");
    }
    SECTION("read-only transactions commit whatever happened meanwhile")
    {
        const u32 tx = s.start();
        CHECK(s.read("name", tx).payload == "g");
        CHECK(s.write("name", "changed").ok());
        CHECK(s.read("name", tx).payload == "g");  // its snapshot
        CHECK(s.end(tx, true).ok());
    }
    SECTION("concurrent transactions: the second commit conflicts")
    {
        const u32 a = s.start(), b = s.start();
        CHECK(a != b);
        CHECK(s.write("device/a", "1", a).ok());
        CHECK(s.write("device/b", "1", b).ok());
        CHECK(s.read("device/b", a).error() == "ENOENT");
        CHECK(s.end(a, true).ok());
        CHECK(s.end(b, true).error() == "EAGAIN");
        CHECK(s.dir("device").payload == listing({"a"}));
    }
    SECTION("errors")
    {
        CHECK(s.read("name", 999).error() == "ENOENT");
        CHECK(s.write("x", "1", 999).error() == "ENOENT");
        CHECK(s.end(999, true).error() == "ENOENT");
        const u32 tx = s.start();
        CHECK(s.request(xs::TRANSACTION_START, z(""), tx).error() == "EBUSY");
        CHECK(s.request(xs::TRANSACTION_END, z("X"), tx).error() == "EINVAL");
        CHECK(s.request(xs::TRANSACTION_END, "T", tx).error() == "EINVAL");
        CHECK(s.xs->open_transactions() == 1);  // still open
        CHECK(s.end(tx, false).ok());
        std::vector<u32> open;
        for (usize i = 0; i < XenStore::kMaxTransactions; ++i) open.push_back(s.start());
        CHECK(s.request(xs::TRANSACTION_START, z("")).error() == "ENOSPC");
        for (u32 id : open) CHECK(s.end(id, false).ok());
        CHECK(s.xs->open_transactions() == 0);
    }
}

TEST_CASE("xenstore: a full arena answers ENOSPC and changes nothing", "[xenstore]")
{
    Store s(600);
    int written = 0;
    for (; written < 100; ++written) {
        const Answer a = s.write("k" + std::to_string(written), std::string(20, 'v'));
        if (!a.ok()) {
            CHECK(a.error() == "ENOSPC");
            break;
        }
    }
    CHECK(written > 3);
    CHECK(written < 100);
    const usize used = s.xs->bytes_used(), nodes = s.xs->node_count();
    CHECK(used <= s.xs->arena_bytes());
    // Neither a deep path (whose parents would fit) nor a longer value.
    CHECK(s.write("deep/er/and/deeper/" + std::string(200, 'p'), "v").error() == "ENOSPC");
    CHECK(s.write("k0", std::string(400, 'v')).error() == "ENOSPC");
    CHECK(s.xs->bytes_used() == used);
    CHECK(s.xs->node_count() == nodes);
    CHECK(s.read("k0").payload == std::string(20, 'v'));
    CHECK(s.read("deep").error() == "ENOENT");
    CHECK(s.request(xs::TRANSACTION_START, z("")).error() == "ENOMEM");  // no room for the copy
    CHECK(s.watch("k0", std::string(500, 't')).error() == "ENOSPC");
    REQUIRE(s.xs->write("k1", "x") == Status::OK);  // shrinking fits
    CHECK(s.xs->write("k1", std::string(500, 'x').c_str()) == Status::NO_MEMORY);
    // Space comes back.
    CHECK(s.rm("k0").ok());
    CHECK(s.write("k0", std::string(20, 'v')).ok());
    // The arena's unused tail is kept zero.
    for (usize i = s.xs->bytes_used(); i < s.arena.size(); ++i) REQUIRE(s.arena[i] == 0);

    Store tiny(64);
    CHECK(tiny.xs->populate_domain("g", 4, 1024) == Status::NO_MEMORY);
    CHECK(tiny.write("a", "b").error() == "ENOSPC");
    Store none(0);
    CHECK(none.xs->node_count() == 0);
    CHECK(none.read("/").error() == "ENOENT");
    CHECK(none.write("a", "b").error() == "ENOSPC");
    XenStore null_arena(nullptr, 4096, 1);
    CHECK(null_arena.write("a", "b") == Status::NO_MEMORY);
}

// ---- the ring ----

namespace {

// The guest's side of the ring.
struct Guest {
    std::unique_ptr<xenstore_domain_interface> ring = std::make_unique<xenstore_domain_interface>();
    std::string received;  // rsp bytes read so far

    Guest() { XenStore::init_ring(*ring); }

    // Start all four indices at `index` (to test wrapping).
    void at(u32 index) { ring->req_cons = ring->req_prod = ring->rsp_cons = ring->rsp_prod = index; }

    usize req_space() const { return xenstore::RING_SIZE - (ring->req_prod - ring->req_cons); }
    void put(const std::string& bytes)
    {
        REQUIRE(bytes.size() <= req_space());
        for (char c : bytes) ring->req[xenstore::MASK_IDX(ring->req_prod++)] = static_cast<u8>(c);
    }
    static std::string message(u32 type, u32 req_id, const std::string& payload, u32 tx = 0)
    {
        const xsd_sockmsg hdr{type, req_id, tx, static_cast<u32>(payload.size())};
        return std::string(reinterpret_cast<const char*>(&hdr), sizeof hdr) + payload;
    }
    // Read everything on rsp (up to `max` bytes).
    void take(usize max = ~usize{0})
    {
        while (ring->rsp_cons != ring->rsp_prod && max--)
            received += static_cast<char>(ring->rsp[xenstore::MASK_IDX(ring->rsp_cons++)]);
    }
    // The next complete message out of `received`.
    bool next(xsd_sockmsg* hdr, std::string* payload)
    {
        if (received.size() < sizeof *hdr) return false;
        std::memcpy(hdr, received.data(), sizeof *hdr);
        if (received.size() < sizeof *hdr + hdr->len) return false;
        *payload = received.substr(sizeof *hdr, hdr->len);
        received.erase(0, sizeof *hdr + hdr->len);
        return true;
    }
};

}  // namespace

TEST_CASE("xenstore ring: requests and replies", "[xenstore]")
{
    Store s;
    REQUIRE(s.xs->populate_domain("ring-guest", 1, 1024) == Status::OK);
    Guest g;
    CHECK(g.ring->server_features == xenstore::SERVER_FEATURE_ERROR);
    CHECK(g.ring->connection == xenstore::CONNECTED);
    CHECK_FALSE(s.xs->service(*g.ring));  // nothing to do

    g.put(Guest::message(xs::READ, 5, z("name")));
    CHECK(s.xs->service(*g.ring));
    CHECK(g.ring->req_cons == g.ring->req_prod);
    g.take();
    xsd_sockmsg hdr{};
    std::string payload;
    REQUIRE(g.next(&hdr, &payload));
    CHECK(hdr.type == xs::READ);
    CHECK(hdr.req_id == 5);
    CHECK(payload == "ring-guest");

    // Two at once, answered in order; a watch's event after its reply.
    g.put(Guest::message(xs::WATCH, 6, z("device") + z("tok")) + Guest::message(xs::WRITE, 7, z("device/a") + "1"));
    CHECK(s.xs->service(*g.ring));
    g.take();
    REQUIRE(g.next(&hdr, &payload));
    CHECK((hdr.type == xs::WATCH && hdr.req_id == 6 && payload == z("OK")));
    REQUIRE(g.next(&hdr, &payload));
    CHECK((hdr.type == xs::WATCH_EVENT && hdr.req_id == 0 && payload == z("device") + z("tok")));
    REQUIRE(g.next(&hdr, &payload));
    CHECK((hdr.type == xs::WRITE && hdr.req_id == 7 && payload == z("OK")));
    REQUIRE(g.next(&hdr, &payload));
    CHECK((hdr.type == xs::WATCH_EVENT && payload == z("device/a") + z("tok")));
    CHECK_FALSE(g.next(&hdr, &payload));

    // An error reply; then an event the hypervisor caused goes out on the
    // next service.
    g.put(Guest::message(xs::READ, 8, z("nothing")));
    CHECK(s.xs->service(*g.ring));
    REQUIRE(s.xs->write("device/b", "2") == Status::OK);
    CHECK(s.xs->service(*g.ring));
    g.take();
    REQUIRE(g.next(&hdr, &payload));
    CHECK((hdr.type == xs::ERROR && hdr.req_id == 8 && payload == z("ENOENT")));
    REQUIRE(g.next(&hdr, &payload));
    CHECK((hdr.type == xs::WATCH_EVENT && payload == z("device/b") + z("tok")));
    CHECK(s.xs->queued_event_bytes() == 0);
}

TEST_CASE("xenstore ring: a request in pieces, and one wrapping the ring's end", "[xenstore]")
{
    Store s;
    REQUIRE(s.write("data/k", "value").ok());
    Guest g;
    xsd_sockmsg hdr{};
    std::string payload;
    const std::string msg = Guest::message(xs::READ, 9, z("data/k"));

    SECTION("split inside the header, then inside the payload")
    {
        g.put(msg.substr(0, 10));
        CHECK(s.xs->service(*g.ring));  // consumed: the guest may write more
        CHECK(g.ring->rsp_prod == 0);
        g.put(msg.substr(10, 8));
        CHECK(s.xs->service(*g.ring));
        CHECK(g.ring->rsp_prod == 0);
        CHECK_FALSE(s.xs->service(*g.ring));  // nothing new
        g.put(msg.substr(18));
        CHECK(s.xs->service(*g.ring));
        g.take();
        REQUIRE(g.next(&hdr, &payload));
        CHECK((hdr.req_id == 9 && payload == "value"));
    }
    SECTION("wrapping the ring's end, and the u32 indices")
    {
        for (u32 start : {u32{1024 - 7}, u32{1024 - 16}, u32{0xfffffff9}}) {
            g.at(start);
            g.put(msg);
            CHECK(s.xs->service(*g.ring));
            CHECK(g.ring->req_cons == static_cast<u32>(start + msg.size()));
            g.take();
            REQUIRE(g.next(&hdr, &payload));
            CHECK((hdr.req_id == 9 && payload == "value"));
        }
    }
}

TEST_CASE("xenstore ring: replies longer than the response space", "[xenstore]")
{
    Store s;
    std::string big;
    for (int i = 0; i < 3000; ++i) big += static_cast<char>('a' + i % 26);
    REQUIRE(s.write("big", big).ok());
    Guest g;
    g.at(1000);
    xsd_sockmsg hdr{};
    std::string payload;

    // The guest reads 300 bytes per round: the reply (3016 bytes) comes over
    // several service calls.
    g.put(Guest::message(xs::READ, 1, z("big")));
    int rounds = 0;
    while (!g.next(&hdr, &payload) && rounds < 50) {
        s.xs->service(*g.ring);
        CHECK(g.ring->rsp_prod - g.ring->rsp_cons <= xenstore::RING_SIZE);
        g.take(300);
        ++rounds;
    }
    CHECK(rounds > 3);
    CHECK((hdr.req_id == 1 && payload == big));

    // A guest that reads nothing: the store stops taking requests once its
    // output queue cannot hold another full reply, and resumes as the guest
    // reads.
    for (u32 i = 0; i < 40; ++i) g.put(Guest::message(xs::READ, 100 + i, z("big")));
    for (int i = 0; i < 5; ++i) s.xs->service(*g.ring);
    CHECK(g.ring->req_cons != g.ring->req_prod);  // waiting
    CHECK(g.ring->rsp_prod - g.ring->rsp_cons == xenstore::RING_SIZE);
    u32 next = 100;
    for (rounds = 0; next < 140 && rounds < 1000; ++rounds) {
        s.xs->service(*g.ring);
        g.take();
        while (g.next(&hdr, &payload)) {
            CHECK(hdr.req_id == next++);
            CHECK(payload == big);
        }
    }
    CHECK(next == 140);
    CHECK(g.ring->req_cons == g.ring->req_prod);
    CHECK_FALSE(s.xs->broken());
}

TEST_CASE("xenstore ring: a hostile guest ends the connection", "[xenstore]")
{
    Store s;
    Guest g;

    SECTION("producer far ahead of the consumer")
    {
        g.ring->req_prod = 5000;
        CHECK(s.xs->service(*g.ring));
        CHECK(s.xs->broken());
        CHECK(g.ring->error == xenstore::ERROR_RINGIDX);
        CHECK(g.ring->req_cons == 0);
        CHECK(g.ring->rsp_prod == 0);
        g.ring->req_prod = 0;
        CHECK_FALSE(s.xs->service(*g.ring));  // dead from now on
    }
    SECTION("a payload length over PAYLOAD_MAX")
    {
        for (u32 len : {u32{0xffffffff}, xenstore::PAYLOAD_MAX + 1}) {
            Store t;
            Guest h;
            const xsd_sockmsg hdr{xs::WRITE, 1, 0, len};
            h.put(std::string(reinterpret_cast<const char*>(&hdr), sizeof hdr) + std::string(100, 'x'));
            CHECK(t.xs->service(*h.ring));
            CHECK(t.xs->broken());
            CHECK(h.ring->error == xenstore::ERROR_PROTO);
            CHECK(h.ring->rsp_prod == 0);
        }
    }
    SECTION("a response consumer index past the producer")
    {
        g.ring->rsp_cons = 3000;
        g.put(Guest::message(xs::READ, 1, z("/")));
        CHECK(s.xs->service(*g.ring));
        CHECK(s.xs->broken());
        CHECK(g.ring->error == xenstore::ERROR_RINGIDX);
        CHECK(g.ring->rsp_prod == 0);
    }
    SECTION("well-framed garbage is answered; a PAYLOAD_MAX request arrives over rounds")
    {
        g.put(Guest::message(0x1234, 1, "\x01\x02\x03"));
        const std::string big = Guest::message(xs::WRITE, 2, z("big") + std::string(4092, 'v'));
        usize sent = 0;
        for (int i = 0; i < 20 && sent < big.size(); ++i) {
            const usize n = std::min(g.req_space(), big.size() - sent);
            g.put(big.substr(sent, n));
            sent += n;
            s.xs->service(*g.ring);
            g.take();
        }
        REQUIRE(sent == big.size());
        s.xs->service(*g.ring);
        g.take();
        xsd_sockmsg hdr{};
        std::string payload;
        REQUIRE(g.next(&hdr, &payload));
        CHECK((hdr.type == xs::ERROR && hdr.req_id == 1 && payload == z("ENOSYS")));
        REQUIRE(g.next(&hdr, &payload));
        CHECK((hdr.type == xs::WRITE && hdr.req_id == 2 && payload == z("OK")));
        CHECK(s.read("big").payload == std::string(4092, 'v'));
        CHECK_FALSE(s.xs->broken());
    }
}
