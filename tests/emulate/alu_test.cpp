// Exact flags of the arithmetic helpers (SDM Vol. 2 "Flags Affected"), and
// 64-bit decoding details checked against hand-computed results.
#include <catch2/catch.hpp>

#include "arch/x86/emulate/alu.hpp"
#include "fake_machine.hpp"

using namespace xeno;
using namespace xeno::emu;
using namespace xeno::emu::test;

namespace {
constexpr u64 kBase = flag::FIXED1;
u64 arith(u64 f) { return f & flag::ARITH; }
}  // namespace

TEST_CASE("add/sub/adc/sbb/cmp flags at the boundaries")
{
    u64 f = kBase;
    CHECK(alu::binary(alu::Op::ADD, 0xff, 0x01, 1, f) == 0);
    CHECK(arith(f) == (flag::CF | flag::ZF | flag::AF | flag::PF));
    f = kBase;
    CHECK(alu::binary(alu::Op::ADD, 0x7fffffff, 1, 4, f) == 0x80000000);
    CHECK(arith(f) == (flag::OF | flag::SF | flag::AF | flag::PF));
    f = kBase | flag::CF;
    CHECK(alu::binary(alu::Op::ADC, 0xffff, 0xffff, 2, f) == 0xffff);
    CHECK(arith(f) == (flag::CF | flag::SF | flag::AF | flag::PF));
    f = kBase;
    CHECK(alu::binary(alu::Op::SUB, 0, 1, 8, f) == ~u64{0});
    CHECK(arith(f) == (flag::CF | flag::SF | flag::AF | flag::PF));
    f = kBase | flag::CF;
    CHECK(alu::binary(alu::Op::SBB, 0x80, 0x00, 1, f) == 0x7f);
    CHECK(arith(f) == (flag::OF | flag::AF));
    f = kBase;
    CHECK(alu::binary(alu::Op::CMP, 5, 5, 4, f) == 0);
    CHECK(arith(f) == (flag::ZF | flag::PF));
    f = kBase | flag::OF | flag::CF | flag::AF;
    CHECK(alu::binary(alu::Op::AND, 0xf0, 0x0f, 1, f) == 0);
    CHECK(arith(f) == (flag::ZF | flag::PF));  // OF, CF cleared; AF documented as 0
}

TEST_CASE("inc/dec keep CF; neg sets CF for non-zero")
{
    u64 f = kBase | flag::CF;
    CHECK(alu::inc(0x7f, 1, f) == 0x80);
    CHECK(arith(f) == (flag::CF | flag::OF | flag::SF | flag::AF));
    f = kBase;
    CHECK(alu::dec(0, 2, f) == 0xffff);
    CHECK(arith(f) == (flag::SF | flag::AF | flag::PF));
    f = kBase;
    CHECK(alu::neg(0, 4, f) == 0);
    CHECK(arith(f) == (flag::ZF | flag::PF));
    f = kBase;
    CHECK(alu::neg(0x80, 1, f) == 0x80);
    CHECK(arith(f) == (flag::CF | flag::OF | flag::SF));
}

TEST_CASE("shifts and rotates: count masking, CF/OF as the SDM defines, count 0 leaves flags")
{
    u64 f = kBase | flag::CF | flag::OF;
    CHECK(alu::shift(4, 0x81, 0, 1, f) == 0x81);  // SHL by 0
    CHECK(f == (kBase | flag::CF | flag::OF));
    f = kBase;
    CHECK(alu::shift(4, 0x80, 1, 1, f) == 0);  // SHL 0x80,1: CF=1, OF=MSB^CF=1
    CHECK(arith(f) == (flag::CF | flag::OF | flag::ZF | flag::PF));
    f = kBase;
    CHECK(alu::shift(4, 1, 33, 4, f) == 2);  // count masked to 1
    f = kBase;
    CHECK(alu::shift(5, 0x81, 1, 1, f) == 0x40);  // SHR: CF=1, OF=old MSB=1
    CHECK(arith(f) == (flag::CF | flag::OF));
    f = kBase;
    CHECK(alu::shift(7, 0x80, 7, 1, f) == 0xff);  // SAR
    CHECK((f & flag::CF) == 0);
    CHECK((f & flag::SF) != 0);
    f = kBase;
    CHECK(alu::shift(0, 0x80000001, 1, 4, f) == 3);  // ROL: CF=LSB of result, OF=MSB^CF
    CHECK((f & (flag::CF | flag::OF)) == (flag::CF | flag::OF));
    f = kBase;
    CHECK(alu::shift(1, 1, 1, 2, f) == 0x8000);  // ROR: CF=MSB, OF=MSB^MSB-1
    CHECK((f & (flag::CF | flag::OF)) == (flag::CF | flag::OF));
    f = kBase | flag::CF;
    CHECK(alu::shift(2, 0x80, 1, 1, f) == 0x01);  // RCL through CF
    CHECK((f & flag::CF) != 0);
    f = kBase | flag::CF;
    CHECK(alu::shift(3, 0x01, 9, 1, f) == 0x01);  // RCR by 9 on a byte: rotate by 0 (mod 9)
    CHECK((f & flag::CF) != 0);
    f = kBase;
    CHECK(alu::shift(4, 1, 63, 8, f) == (u64{1} << 63));  // 64-bit count masked to 6 bits
}

TEST_CASE("mul/imul overflow flags and div/idiv results and #DE conditions")
{
    u64 lo = 0, hi = 0, f = kBase;
    alu::mul(0xffffffffffffffff, 2, 8, false, lo, hi, f);
    CHECK(lo == 0xfffffffffffffffe);
    CHECK(hi == 1);
    CHECK((f & (flag::CF | flag::OF)) == (flag::CF | flag::OF));
    f = kBase;
    alu::mul(0xff, 0xff, 1, true, lo, hi, f);  // -1 * -1 = 1
    CHECK(lo == 1);
    CHECK(hi == 0);
    CHECK((f & (flag::CF | flag::OF)) == 0);
    f = kBase;
    CHECK(alu::imul_trunc(0x4000, 4, 2, f) == 0);
    CHECK((f & (flag::CF | flag::OF)) == (flag::CF | flag::OF));
    u64 q = 0, r = 0;
    CHECK(alu::div(0, 1, 2, 8, false, q, r));  // 2^64 / 2
    CHECK(q == u64{1} << 63);
    CHECK_FALSE(alu::div(0, 2, 2, 8, false, q, r));  // quotient too large
    CHECK(alu::div(static_cast<u64>(-7), ~u64{0}, 2, 8, true, q, r));
    CHECK(static_cast<i64>(q) == -3);
    CHECK(static_cast<i64>(r) == -1);
    CHECK_FALSE(alu::div(0, u64{1} << 63, ~u64{0}, 8, true, q, r));
    CHECK_FALSE(alu::div(0, 0x80000000, 0xffffffff, 4, true, q, r));  // INT64_MIN / -1 on the host
    CHECK_FALSE(alu::div(5, 0, 0, 4, false, q, r));
}

TEST_CASE("64-bit decoding: RIP-relative, REX byte registers, 32-bit zero extension, movsxd")
{
    FakeMachine m;
    CpuState s = long64_state(0x1000);
    const EmulateOps ops = m.ops();
    // mov eax, [rip+0x10] ; the displacement is relative to the next instruction (0x1006).
    m.put(0x1000, {0x8b, 0x05, 0x10, 0x00, 0x00, 0x00});
    m.set(0x1016, 4, 0xcafef00d);
    s.gpr[RAX] = ~u64{0};
    REQUIRE(emulate_one(s, ops).outcome == EmulateOutcome::OK);
    CHECK(s.gpr[RAX] == 0xcafef00d);  // upper half zeroed
    // add dword [rip+0], 0x11223344: the immediate follows the displacement.
    m.put(0x1006, {0x81, 0x05, 0x00, 0x00, 0x00, 0x00, 0x44, 0x33, 0x22, 0x11});
    m.set(0x1010, 4, 1);
    REQUIRE(emulate_one(s, ops).outcome == EmulateOutcome::OK);
    CHECK(m.get(0x1010, 4) == 0x11223345);
    // mov sil, 0x7f (REX) vs mov dh, 0x7f (no REX)
    m.put(0x1010, {0x40, 0xb6, 0x7f, 0xb6, 0x7f});
    s.gpr[RSI] = 0x1100;
    s.gpr[RDX] = 0;
    REQUIRE(emulate_one(s, ops).outcome == EmulateOutcome::OK);
    REQUIRE(emulate_one(s, ops).outcome == EmulateOutcome::OK);
    CHECK(s.gpr[RSI] == 0x117f);
    CHECK(s.gpr[RDX] == 0x7f00);
    // movsxd rcx, eax; push/pop default to 64 bits
    m.put(0x1015, {0x48, 0x63, 0xc8, 0x51, 0x41, 0x5f});
    s.gpr[RSP] = 0x8000;
    REQUIRE(emulate_one(s, ops).outcome == EmulateOutcome::OK);
    CHECK(s.gpr[RCX] == 0xffffffffcafef00d);
    REQUIRE(emulate_one(s, ops).outcome == EmulateOutcome::OK);
    REQUIRE(emulate_one(s, ops).outcome == EmulateOutcome::OK);
    CHECK(s.gpr[R15] == 0xffffffffcafef00d);
    CHECK(s.gpr[RSP] == 0x8000);
    // A non-canonical address is #GP(0).
    m.put(0x101b, {0x48, 0x8b, 0x03});
    s.gpr[RBX] = 0x0000800000000000;
    const auto r = emulate_one(s, ops);
    CHECK(r.outcome == EmulateOutcome::EXCEPTION);
    CHECK(r.vector == 13);
}

TEST_CASE("long mode: INT through a 64-bit interrupt gate and IRETQ")
{
    FakeMachine m;
    CpuState s = long64_state(0x1000);
    const EmulateOps ops = m.ops();
    m.set(0x5000, 8, 0);
    m.set(0x5008, 8, 0x00af9a000000ffffull);  // 0x08: 64-bit code
    m.set(0x5010, 8, 0x00cf92000000ffffull);  // 0x10: data
    s.gdtr = {0x5000, 0x17};
    s.idtr = {0x6000, 0xfff};
    // Vector 0x30: 64-bit interrupt gate, DPL 0, target 0x08:0x3000.
    m.set(0x6000 + 0x30 * 16, 8, 0x00008e0000083000ull);
    m.set(0x6000 + 0x30 * 16 + 8, 8, 0);
    s.gpr[RSP] = 0x8008;
    s.rflags = flag::FIXED1 | flag::IF;
    m.put(0x1000, {0xcd, 0x30});
    m.put(0x3000, {0x48, 0xcf});
    auto r = emulate_one(s, ops);
    REQUIRE(r.outcome == EmulateOutcome::OK);
    CHECK(s.rip == 0x3000);
    CHECK(s.gpr[RSP] == 0x8000 - 40);  // aligned to 16, then SS, RSP, RFLAGS, CS, RIP
    CHECK(m.get(0x8000 - 8, 8) == 0x10);
    CHECK(m.get(0x8000 - 16, 8) == 0x8008);
    CHECK(m.get(0x8000 - 40, 8) == 0x1002);
    CHECK_FALSE(s.rflags & flag::IF);
    r = emulate_one(s, ops);
    REQUIRE(r.outcome == EmulateOutcome::OK);
    CHECK(s.rip == 0x1002);
    CHECK(s.gpr[RSP] == 0x8008);
    CHECK((s.rflags & flag::IF) != 0);
    CHECK(s.sreg(Seg::SS).selector == 0x10);
}
