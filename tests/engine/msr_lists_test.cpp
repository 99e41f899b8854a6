// MSR loading and storing at VM entry and exit (SDM Vol. 3C 26.4, 28.4):
// the lists the model implements, and the entry failure for an MSR it cannot
// load (engine_msr_lists.cpp).
#include "tests/engine/control_demos.hpp"

namespace xeno::sim::test {

using vmx::ExitReason;

namespace {

constexpr u64 kEntryList = 0x70000, kStoreList = 0x71000, kLoadList = 0x72000;

void entry(Guest& g, u32 index, u32 msr, u64 value)
{
    g.mem.store<u32>(kEntryList + 16 * index, msr);
    g.mem.store<u32>(kEntryList + 16 * index + 4, 0);
    g.mem.store<u64>(kEntryList + 16 * index + 8, value);
}

}  // namespace

TEST_CASE("VM-entry MSR-load list: IA32_TSC_AUX for RDTSCP, loaded at every entry", "[engine][msr-lists]")
{
    Trial t(*find_cpu_profile("skylake"));
    t.control(CtlWord::PROC2, vmx::proc2::ENABLE_RDTSCP, true);
    entry(t.g, 0, 0xc0000103, 0x1234);
    t.g.vmcs.set(f::VM_ENTRY_MSR_LOAD_ADDR, kEntryList);
    t.g.vmcs.set(f::VM_ENTRY_MSR_LOAD_COUNT, 1);
    // rdtscp; mov esi, ecx; out 0x80, al; rdtscp; hlt
    t.code(0x10000, {0x0f, 0x01, 0xf9, 0x89, 0xce, 0xe6, 0x80, 0x0f, 0x01, 0xf9, 0xf4});
    t.g.on_exit = [](Guest& g, const RecordedExit& e) {
        if (e.reason != static_cast<u32>(ExitReason::IO_INSTRUCTION)) return hal::ExitAction::YIELD;
        g.mem.store<u64>(kEntryList + 8, 0x5678);  // the next entry loads the new value
        g.live_write(f::GUEST_RIP.kEncoding, e.rip + e.length);
        return hal::ExitAction::RESUME;
    };
    REQUIRE(t.run() == hal::VmxResult::SUCCEED);
    INFO(t.why);
    REQUIRE(t.reason(1) == static_cast<u32>(ExitReason::HLT));
    CHECK((t.g.regs.gpr[6] & 0xffffffff) == 0x1234);
    CHECK((t.g.regs.gpr[1] & 0xffffffff) == 0x5678);
}

TEST_CASE("VM-entry MSR-load list: an MSR the model cannot load fails the entry (reason 34)", "[engine][msr-lists]")
{
    Trial t(*find_cpu_profile("skylake"));
    entry(t.g, 0, 0x174, 0x8);
    entry(t.g, 1, 0x10, 0);  // IA32_TSC: not among the MSRs the model loads
    t.g.vmcs.set(f::VM_ENTRY_MSR_LOAD_ADDR, kEntryList);
    t.g.vmcs.set(f::VM_ENTRY_MSR_LOAD_COUNT, 2);
    t.code(0x10000, {0xf4});
    t.g.on_exit = [](Guest&, const RecordedExit&) { return hal::ExitAction::YIELD; };
    REQUIRE(t.run() == hal::VmxResult::SUCCEED);
    REQUIRE(t.g.exits.size() == 1);
    CHECK(t.reason(0) == (vmx::kExitReasonEntryFailure | static_cast<u32>(ExitReason::MSR_LOADING)));
    CHECK(t.g.exits[0].qualification == 2);  // the 1-based index of the entry
}

TEST_CASE("VM-exit MSR-store and MSR-load lists", "[engine][msr-lists]")
{
    Trial t(*find_cpu_profile("penryn"));
    // wrmsr IA32_STAR through a pass-through MSR bitmap, then HLT.
    t.g.vmcs.set(f::MSR_BITMAP, 0x62000);
    t.control(CtlWord::PROC, vmx::proc::USE_MSR_BITMAPS, true);
    t.g.regs.gpr[1] = 0xc0000081;
    t.g.regs.gpr[0] = 0x00100008;
    t.g.regs.gpr[2] = 0x00230010;
    t.g.mem.store<u32>(kStoreList, 0xc0000081);
    t.g.mem.store<u32>(kLoadList, 0xc0000103);
    t.g.mem.store<u64>(kLoadList + 8, 0x77);
    t.g.vmcs.set(f::VM_EXIT_MSR_STORE_ADDR, kStoreList);
    t.g.vmcs.set(f::VM_EXIT_MSR_STORE_COUNT, 1);
    t.g.vmcs.set(f::VM_EXIT_MSR_LOAD_ADDR, kLoadList);
    t.g.vmcs.set(f::VM_EXIT_MSR_LOAD_COUNT, 1);
    std::vector<std::pair<u32, u64>> host;
    t.g.engine.set_host_msr_writer([&host](u32 msr, u64 value) {
        host.emplace_back(msr, value);
        return true;
    });
    t.code(0x10000, {0x0f, 0x30, 0xf4});
    REQUIRE(t.run() == hal::VmxResult::SUCCEED);
    CHECK(t.reason(0) == static_cast<u32>(ExitReason::HLT));
    CHECK(t.g.mem.load<u64>(kStoreList + 8) == 0x0023001000100008ull);
    REQUIRE(host.size() == 1);
    CHECK(host[0] == std::make_pair(u32{0xc0000103}, u64{0x77}));
}

}  // namespace xeno::sim::test
