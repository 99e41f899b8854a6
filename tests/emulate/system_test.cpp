// System instructions and the deliver_event entry point.
#include <catch2/catch.hpp>

#include "arch/x86/emulate/emulate.hpp"
#include "fake_machine.hpp"

using namespace xeno;
using namespace xeno::emu;
using namespace xeno::emu::test;

namespace {

CpuState with_gdt(FakeMachine& m)
{
    m.set(0x5000, 8, 0);
    m.set(0x5008, 8, 0x00cf9a000000ffffull);  // 0x08 code32
    m.set(0x5010, 8, 0x00cf92000000ffffull);  // 0x10 data32
    m.set(0x5018, 8, 0x0000890060000067ull);  // 0x18 available 32-bit TSS at 0x6000
    m.set(0x5020, 8, 0x0000820070000fffull);  // 0x20 LDT at 0x7000
    CpuState s = flat32_state(0x1000);
    s.gdtr = {0x5000, 0x27};
    s.tr = Segment{0, 0, 0, 0x10000};
    return s;
}

}  // namespace

TEST_CASE("LTR marks the TSS busy; LLDT loads the LDT; both #UD in real mode")
{
    FakeMachine m;
    CpuState s = with_gdt(m);
    const EmulateOps ops = m.ops();
    s.gpr[RAX] = 0x18;
    s.gpr[RBX] = 0x20;
    m.put(0x1000, {0x0f, 0x00, 0xd8,    // ltr ax
                   0x0f, 0x00, 0xd3,    // lldt bx
                   0x0f, 0x00, 0xc9});  // str cx
    REQUIRE(emulate_one(s, ops).outcome == EmulateOutcome::OK);
    CHECK(s.tr.selector == 0x18);
    CHECK(s.tr.base == 0x6000);
    CHECK(s.tr.limit == 0x67);
    CHECK(s.tr.ar == 0x8b);
    CHECK(m.get(0x5018 + 5, 1) == 0x8b);
    REQUIRE(emulate_one(s, ops).outcome == EmulateOutcome::OK);
    CHECK(s.ldtr.base == 0x7000);
    CHECK(s.ldtr.ar == 0x82);
    REQUIRE(emulate_one(s, ops).outcome == EmulateOutcome::OK);
    CHECK(s.gpr[RCX] == 0x18);
    // A busy TSS cannot be loaded again.
    s.rip = 0x1000;
    const auto r = emulate_one(s, ops);
    REQUIRE(r.outcome == EmulateOutcome::EXCEPTION);
    CHECK(r.error_code == 0x18);

    CpuState rm = real_mode_state(0, 0x1000);
    const auto r2 = emulate_one(rm, ops);
    REQUIRE(r2.outcome == EmulateOutcome::EXCEPTION);
    CHECK(r2.vector == 6);
}

TEST_CASE("deliver_event: a #GP with error code through a 32-bit interrupt gate, and through the IVT")
{
    FakeMachine m;
    CpuState s = with_gdt(m);
    const EmulateOps ops = m.ops();
    s.idtr = {0x8000, 0x7ff};
    m.set(0x8000 + 13 * 8, 8, 0x00008e0000082000ull);  // interrupt gate to 0x08:0x2000
    s.gpr[RSP] = 0x9000;
    s.rflags = flag::FIXED1 | flag::IF;
    auto r = deliver_event(s, ops, 13, true, 0x18, 0x1234, false);
    REQUIRE(r.outcome == EmulateOutcome::OK);
    CHECK(s.rip == 0x2000);
    CHECK(s.gpr[RSP] == 0x9000 - 16);
    CHECK(m.get(0x9000 - 16, 4) == 0x18);    // error code
    CHECK(m.get(0x9000 - 12, 4) == 0x1234);  // EIP
    CHECK(m.get(0x9000 - 8, 4) == 0x08);     // CS
    CHECK_FALSE(s.rflags & flag::IF);

    // A vector beyond the IDT limit: #GP(vector*8 + 2 + EXT) and no state change.
    s.idtr.limit = 0x7f;
    const CpuState before = s;
    r = deliver_event(s, ops, 0x20, false, 0, 0x2000, false);
    REQUIRE(r.outcome == EmulateOutcome::EXCEPTION);
    CHECK(r.error_code == 0x20 * 8 + 3);
    CHECK(s.rip == before.rip);
    CHECK(s.gpr[RSP] == before.gpr[RSP]);

    CpuState rs = real_mode_state(0x1000, 0x10);
    rs.gpr[RSP] = 0x7000;
    m.set(8 * 4, 4, 0xf000ff53);  // IVT[8] = f000:ff53
    r = deliver_event(rs, ops, 8, false, 0, 0x10, false);
    REQUIRE(r.outcome == EmulateOutcome::OK);
    CHECK(rs.sreg(Seg::CS).base == 0xf0000);
    CHECK(rs.rip == 0xff53);
    CHECK(m.get(0x6ffa, 2) == 0x10);
}

TEST_CASE("mov to and from debug registers and CR4/CR3; enter with nesting")
{
    FakeMachine m;
    CpuState s = flat32_state(0x1000);
    const EmulateOps ops = m.ops();
    s.gpr[RAX] = 0x400;
    s.gpr[RBX] = 0x12345000;
    m.put(0x1000, {0x0f, 0x23, 0xf8,    // mov dr7, eax
                   0x0f, 0x21, 0xf9,    // mov ecx, dr7
                   0x0f, 0x22, 0xdb,    // mov cr3, ebx
                   0x0f, 0x20, 0xda});  // mov edx, cr3
    REQUIRE(emulate_one(s, ops).outcome == EmulateOutcome::OK);
    REQUIRE(emulate_one(s, ops).outcome == EmulateOutcome::OK);
    CHECK(s.gpr[RCX] == 0x400);
    auto r = emulate_one(s, ops);
    REQUIRE(r.outcome == EmulateOutcome::OK);
    CHECK((r.effects & effect::CR3_WRITE) != 0);
    REQUIRE(emulate_one(s, ops).outcome == EmulateOutcome::OK);
    CHECK(s.gpr[RDX] == 0x12345000);

    // enter 4, 3 in 32-bit code: pushes EBP, two saved frame pointers, the new frame.
    s.gpr[RSP] = 0x9000;
    s.gpr[RBP] = 0x9100;
    m.set(0x9100 - 4, 4, 0xaaaa);
    m.set(0x9100 - 8, 4, 0xbbbb);
    m.put(0x100c, {0xc8, 0x04, 0x00, 0x03});
    REQUIRE(emulate_one(s, ops).outcome == EmulateOutcome::OK);
    CHECK(s.gpr[RBP] == 0x8ffc);
    CHECK(m.get(0x8ffc, 4) == 0x9100);
    CHECK(m.get(0x8ff8, 4) == 0xaaaa);
    CHECK(m.get(0x8ff4, 4) == 0xbbbb);
    CHECK(m.get(0x8ff0, 4) == 0x8ffc);
    CHECK(s.gpr[RSP] == 0x8ff0 - 4);
}
