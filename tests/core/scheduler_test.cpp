// The schedulers' split of a domain's vcpus over the physical CPUs
// (core/scheduler.hpp): vcpu i belongs to CPU i % cpus, a scheduler hands
// its vcpus back when it ends, and kicks and the domain's end reach the
// schedulers. The runs themselves (one CPU in the sim build) are covered by
// the smp scenario; several CPUs by its Bochs run.
#include <catch2/catch.hpp>

#include <memory>
#include <vector>

#include "arch/x86/vmx/vmx_caps.hpp"
#include "core/cmdline.hpp"
#include "core/domain.hpp"
#include "core/scheduler.hpp"
#include "core/vcpu.hpp"
#include "tests/sim_parts.hpp"

using namespace xeno;

namespace {

struct Vcpus {
    test::SimParts machine;
    Options options;
    Domain domain;
    vmx::VmxCaps caps{};
    std::vector<std::unique_ptr<Vcpu>> vcpus;

    explicit Vcpus(u32 count) : options(with_smp(count)), domain(options)
    {
        for (u32 i = 0; i < count; ++i) {
            vcpus.push_back(std::make_unique<Vcpu>(domain, caps, i));
            REQUIRE(domain.add_vcpu(*vcpus.back()) == Status::OK);
        }
    }
    static Options with_smp(u32 count)
    {
        Options o;
        o.smp = count;
        return o;
    }
};

}  // namespace

TEST_CASE("each physical CPU's scheduler takes vcpus cpu, cpu + cpus, ...", "[scheduler]")
{
    Vcpus set(7);
    Domain& d = set.domain;
    {
        Scheduler cpu0(d, 0, 3, 1'000'000), cpu1(d, 1, 3, 1'000'000), cpu2(d, 2, 3, 1'000'000);
        Scheduler* const expected[7] = {&cpu0, &cpu1, &cpu2, &cpu0, &cpu1, &cpu2, &cpu0};
        for (u32 i = 0; i < 7; ++i) CHECK(d.vcpu(i).scheduler == expected[i]);
        // Kicks and the end go to the schedulers; in the sim build there is
        // one CPU, so none of them signals anything, and nothing breaks.
        d.kick(4);
        d.kick(99);  // no such vcpu: ignored
        d.end(DomainEnd::EXIT_PORT, 0, "test");
        CHECK(d.ended());
    }
    for (u32 i = 0; i < 7; ++i) CHECK(d.vcpu(i).scheduler == nullptr);  // handed back at the end of scope
}

TEST_CASE("one CPU takes every vcpu; a CPU count of 0 means one", "[scheduler]")
{
    Vcpus set(4);
    {
        Scheduler only(set.domain, 0, 1, 1'000'000);
        for (u32 i = 0; i < 4; ++i) CHECK(set.domain.vcpu(i).scheduler == &only);
    }
    {
        Scheduler zero(set.domain, 0, 0, 1'000'000);
        for (u32 i = 0; i < 4; ++i) CHECK(set.domain.vcpu(i).scheduler == &zero);
    }
}

TEST_CASE("a scheduler of a domain that already ended returns at once", "[scheduler]")
{
    Vcpus set(2);
    set.domain.end(DomainEnd::HALTED, kGuestCrashStatus, "test");
    Scheduler s(set.domain, 0, 1, 1'000'000);
    CHECK(s.run() == hal::VmxResult::SUCCEED);
    CHECK(s.current() == nullptr);
    CHECK(s.switches() == 0);
}
