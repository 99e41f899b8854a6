// Task switches in VMX non-root operation (SDM Vol. 3C 25.4.2): the model
// exits with reason 9 for a far JMP/CALL to a TSS or task gate, an IRET with
// NT and an event through a task gate in the IDT, after the checks that
// come first; ordinary far transfers still run in Unicorn.
#include "tests/engine/fixture.hpp"

namespace xeno::sim::test {

using vmx::ExitReason;

namespace {

constexpr u64 kGdt = 0x500, kTssA = 0x600, kTssB = 0x700, kCode = 0x10000;
constexpr u16 kSelA = 0x18, kSelB = 0x20, kSelGate = 0x28, kSelBusy = 0x30;

u64 tss_descriptor(u64 base, bool busy)
{
    return 0x67 | (base & 0xffffff) << 16 | u64{busy ? 0x8bu : 0x89u} << 40;
}

void setup(Guest& g, std::initializer_list<u8> code)
{
    g.flat32(kCode);
    g.mem.store<u64>(kGdt + 0x08, 0x00cf9b000000ffffull);
    g.mem.store<u64>(kGdt + 0x10, 0x00cf93000000ffffull);
    g.mem.store<u64>(kGdt + kSelA, tss_descriptor(kTssA, true));
    g.mem.store<u64>(kGdt + kSelB, tss_descriptor(kTssB, false));
    g.mem.store<u64>(kGdt + kSelGate, u64{kSelB} << 16 | u64{0x85} << 40);  // task gate to B, DPL 0
    g.mem.store<u64>(kGdt + kSelBusy, tss_descriptor(0x800, true));
    g.vmcs.set(f::GUEST_GDTR_LIMIT, 0x37);
    g.vmcs.set(f::GUEST_TR_BASE, kTssA);
    g.vmcs.set(f::EXCEPTION_BITMAP, 1u << vmx::vector::GP);
    g.code(kCode, code);
    g.max_exits = 1;  // the VMCS then still holds the first exit's information
}

}  // namespace

TEST_CASE("far JMP to a TSS and far CALL through a task gate exit for the task switch", "[engine][tasks]")
{
    SECTION("JMP ptr16:32 to the TSS")
    {
        Guest g;
        setup(g, {0xea, 0x00, 0x00, 0x00, 0x00, kSelB, 0x00});  // jmp 0x20:0
        REQUIRE(g.run() == hal::VmxResult::SUCCEED);
        REQUIRE(g.exits.size() >= 1);
        CHECK(g.exits[0].reason == reason(ExitReason::TASK_SWITCH));
        CHECK(g.exits[0].qualification == (kSelB | (2u << 30)));
        CHECK(g.exits[0].rip == kCode);
        CHECK(g.exits[0].length == 7);
        CHECK((g.vmcs.get(f::IDT_VECTORING_INFO_FIELD) & 0x80000000u) == 0);
    }
    SECTION("CALL m16:32 through the task gate: the gate's TSS in the qualification")
    {
        Guest g;
        g.mem.store<u32>(0x2004, kSelGate);
        setup(g, {0xff, 0x1d, 0x00, 0x20, 0x00, 0x00});  // call far [0x2000]
        REQUIRE(g.run() == hal::VmxResult::SUCCEED);
        CHECK(g.exits[0].reason == reason(ExitReason::TASK_SWITCH));
        CHECK(g.exits[0].qualification == kSelB);  // source 0: CALL
        CHECK(g.exits[0].length == 6);
    }
    SECTION("an ordinary far JMP to a code segment runs in Unicorn")
    {
        Guest g;
        setup(g, {0xea, 0x07, 0x00, 0x01, 0x00, 0x08, 0x00, 0xf4});  // jmp 0x08:0x10007; hlt
        REQUIRE(g.run() == hal::VmxResult::SUCCEED);
        REQUIRE(g.exits.size() == 1);
        CHECK(g.exits[0].reason == reason(ExitReason::HLT));
    }
    SECTION("a busy TSS is #GP(selector) before any exit for the switch")
    {
        Guest g;
        setup(g, {0xea, 0x00, 0x00, 0x00, 0x00, kSelBusy, 0x00});
        REQUIRE(g.run() == hal::VmxResult::SUCCEED);
        CHECK(g.exits[0].reason == reason(ExitReason::EXCEPTION_NMI));
        CHECK((g.exits[0].intr_info & 0xff) == vmx::vector::GP);
        CHECK(g.exits[0].intr_error == kSelBusy);
    }
}

TEST_CASE("IRET with NT exits with the back link; without NT it returns as usual", "[engine][tasks]")
{
    Guest g;
    g.mem.store<u16>(kTssA, kSelB);  // A's back link: B (available: IRET wants a busy TSS)
    g.mem.store<u64>(kGdt + kSelB, tss_descriptor(kTssB, true));
    setup(g, {0xcf});  // iretd
    g.mem.store<u64>(kGdt + kSelB, tss_descriptor(kTssB, true));
    g.vmcs.set(f::GUEST_RFLAGS, 0x4002);  // NT
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    CHECK(g.exits[0].reason == reason(ExitReason::TASK_SWITCH));
    CHECK(g.exits[0].qualification == (kSelB | (1u << 30)));
    CHECK(g.exits[0].length == 1);
}

TEST_CASE("INT n and an exception through a task gate in the IDT exit with the event in IDT-vectoring info",
          "[engine][tasks]")
{
    SECTION("INT 0x40")
    {
        Guest g;
        setup(g, {0x90, 0xcd, 0x40});
        g.mem.store<u64>(0x40 * 8, u64{kSelB} << 16 | u64{0xe5} << 40);  // task gate, DPL 3
        REQUIRE(g.run() == hal::VmxResult::SUCCEED);
        CHECK(g.exits[0].reason == reason(ExitReason::TASK_SWITCH));
        CHECK(g.exits[0].qualification == (kSelB | (3u << 30)));
        CHECK(g.exits[0].rip == kCode + 1);
        CHECK(g.exits[0].length == 2);
        CHECK(g.vmcs.get(f::IDT_VECTORING_INFO_FIELD) == (0x80000000u | (4u << 8) | 0x40));
    }
    SECTION("#UD from UD2")
    {
        Guest g;
        setup(g, {0x0f, 0x0b});
        g.mem.store<u64>(6 * 8, u64{kSelB} << 16 | u64{0x85} << 40);
        REQUIRE(g.run() == hal::VmxResult::SUCCEED);
        CHECK(g.exits[0].reason == reason(ExitReason::TASK_SWITCH));
        CHECK(g.exits[0].qualification == (kSelB | (3u << 30)));
        CHECK(g.exits[0].rip == kCode);
        CHECK(g.vmcs.get(f::IDT_VECTORING_INFO_FIELD) == (0x80000000u | (3u << 8) | 6));
    }
}

}  // namespace xeno::sim::test
