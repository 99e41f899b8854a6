#include "core/cmdline.hpp"

#include <catch2/catch.hpp>
#include <string>

using namespace xeno;

namespace {

Status parse(const char* s, Options* o, std::string* err)
{
    FixedWriter<200> w;
    const Status st = parse_cmdline(s, o, w);
    *err = w.c_str();
    return st;
}

}  // namespace

TEST_CASE("cmdline: defaults", "[cmdline]")
{
    Options o;
    std::string err;
    REQUIRE(parse("", &o, &err) == Status::OK);
    CHECK(o.guest_mem_mb == 16);
    CHECK(o.guest_load == 0x7c00);
    CHECK(o.guest_entry == 0x7c00);
    CHECK(o.paging == PagingMode::AUTO);
    CHECK(o.shadow_pages == kDefaultShadowPages);
    CHECK_FALSE(o.trace);
    CHECK(o.smp == 1);
    CHECK(o.maxcpus == kMaxHostCpus);
    CHECK(o.quantum_us == kDefaultQuantumUs);
    CHECK(o.rtc_epoch == kDefaultRtcEpoch);
    REQUIRE(parse(nullptr, &o, &err) == Status::OK);
}

TEST_CASE("cmdline: every key, hex and decimal", "[cmdline]")
{
    Options o;
    std::string err;
    REQUIRE(parse("  guest_mem_mb=32 guest_load=0x1000  guest_entry=4112 paging=shadow trace=on ", &o, &err) == Status::OK);
    CHECK(o.guest_mem_mb == 32);
    CHECK(o.guest_load == 0x1000);
    CHECK(o.guest_entry == 0x1010);
    CHECK(o.paging == PagingMode::SHADOW);
    CHECK(o.trace);
    REQUIRE(parse("paging=ept trace=off guest_load=0X7C00", &o, &err) == Status::OK);
    CHECK(o.paging == PagingMode::EPT);
    CHECK(o.guest_load == 0x7c00);
    CHECK(o.guest_entry == 0x7c00);
    REQUIRE(parse("smp=16 maxcpus=2 quantum_us=250 rtc_epoch=0", &o, &err) == Status::OK);
    CHECK(o.smp == 16);
    CHECK(o.maxcpus == 2);
    CHECK(o.quantum_us == 250);
    CHECK(o.rtc_epoch == 0);
}

TEST_CASE("cmdline: bad values and unknown keys", "[cmdline]")
{
    Options o;
    o.guest_mem_mb = 99;
    std::string err;
    CHECK(parse("guest_mem_mb=0", &o, &err) == Status::BAD_ARGUMENT);
    CHECK(err == "cmdline: guest_mem_mb must be 1..65536: 'guest_mem_mb=0'");
    CHECK(o.guest_mem_mb == 99);  // untouched on error
    CHECK(parse("guest_mem_mb=12x", &o, &err) == Status::BAD_ARGUMENT);
    CHECK(parse("guest_load=0x", &o, &err) == Status::BAD_ARGUMENT);
    CHECK(parse("guest_load=", &o, &err) == Status::BAD_ARGUMENT);
    CHECK(parse("guest_entry=0x10000", &o, &err) == Status::BAD_ARGUMENT);
    CHECK(parse("paging=nested", &o, &err) == Status::BAD_ARGUMENT);
    CHECK(err == "cmdline: paging must be ept or shadow: 'paging=nested'");
    CHECK(parse("shadow_pages=8", &o, &err) == Status::BAD_ARGUMENT);
    CHECK(err == "cmdline: shadow_pages must be 16..65536: 'shadow_pages=8'");
    CHECK(parse("trace=yes", &o, &err) == Status::BAD_ARGUMENT);
    CHECK(parse("colour=blue", &o, &err) == Status::BAD_ARGUMENT);
    CHECK(err == "cmdline: unknown key: 'colour=blue'");
    CHECK(parse("trace", &o, &err) == Status::BAD_ARGUMENT);
    CHECK(err == "cmdline: expected key=value: 'trace'");
    CHECK(parse("smp=0", &o, &err) == Status::BAD_ARGUMENT);
    CHECK(parse("smp=33", &o, &err) == Status::BAD_ARGUMENT);
    CHECK(parse("maxcpus=0", &o, &err) == Status::BAD_ARGUMENT);
    CHECK(parse("maxcpus=9", &o, &err) == Status::BAD_ARGUMENT);
    CHECK(err == "cmdline: maxcpus must be 1..8: 'maxcpus=9'");
    CHECK(parse("quantum_us=0", &o, &err) == Status::BAD_ARGUMENT);
    CHECK(parse("guest_load=0x20000", &o, &err) == Status::BAD_ARGUMENT);  // no entry below 64 KiB
    CHECK(parse("guest_load=99999999999999999999", &o, &err) == Status::BAD_ARGUMENT);  // overflow
}

TEST_CASE("cmdline: parse_number", "[cmdline]")
{
    u64 v = 0;
    CHECK(parse_number("0", 1, &v));
    CHECK(v == 0);
    CHECK(parse_number("0xffffffffffffffff", 18, &v));
    CHECK(v == ~u64{0});
    CHECK_FALSE(parse_number("0x10000000000000000", 19, &v));
    CHECK(parse_number("18446744073709551615", 20, &v));
    CHECK_FALSE(parse_number("18446744073709551616", 20, &v));
    CHECK_FALSE(parse_number("-1", 2, &v));
    CHECK_FALSE(parse_number("", 0, &v));
}
