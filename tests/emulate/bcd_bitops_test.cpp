// Edge cases of the BCD adjusts, SHLD/SHRD, BSF/BSR and CMPXCHG8B/16B, with
// results computed by hand from the SDM "Operation" sections. The random
// comparison against Unicorn is in differential_test.cpp; these pin down the
// cases it cannot reach or does not compare (undefined results, #DE, #UD).
#include <catch2/catch.hpp>

#include "arch/x86/emulate/alu.hpp"
#include "fake_machine.hpp"

using namespace xeno;
using namespace xeno::emu;
using namespace xeno::emu::test;

namespace {

constexpr u64 kCodeAt = 0x1000;

EmulateResult run_bytes(FakeMachine& m, CpuState& s, std::initializer_list<u8> bytes)
{
    s.rip = kCodeAt;
    m.put(s.sreg(Seg::CS).base + s.rip, bytes);
    const EmulateOps ops = m.ops();
    return emulate_one(s, ops);
}

u64 arith(const CpuState& s) { return s.rflags & flag::ARITH; }

void expect_fault(const EmulateResult& r, u8 vector)
{
    REQUIRE(r.outcome == EmulateOutcome::EXCEPTION);
    CHECK(int(r.vector) == int(vector));
}

}  // namespace

TEST_CASE("DAA and DAS adjust AL after packed BCD addition and subtraction")
{
    FakeMachine m;
    CpuState s = flat32_state(kCodeAt);
    s.gpr[RAX] = 0x123400ae;  // 0x79 + 0x35 = 0xae, AF = CF = 0
    REQUIRE(run_bytes(m, s, {0x27}).outcome == EmulateOutcome::OK);
    CHECK(s.gpr[RAX] == 0x12340014);  // 114 decimal: AL = 0x14, CF = 1
    CHECK(arith(s) == (flag::CF | flag::AF | flag::PF));
    CHECK(s.rip == kCodeAt + 1);

    s.gpr[RAX] = 0x99;
    s.rflags = flag::FIXED1;
    REQUIRE(run_bytes(m, s, {0x27}).outcome == EmulateOutcome::OK);
    CHECK(s.gpr[RAX] == 0x99);  // already valid BCD
    CHECK(arith(s) == (flag::SF | flag::PF));

    s.gpr[RAX] = 0x9a;  // high adjust only when AL > 0x99: 0x9a + 6 + 0x60 = 0x100
    REQUIRE(run_bytes(m, s, {0x27}).outcome == EmulateOutcome::OK);
    CHECK(s.gpr[RAX] == 0x00);
    CHECK(arith(s) == (flag::CF | flag::AF | flag::ZF | flag::PF));

    // DAS: AL - 6 borrows (AL < 6 with AF set) and sets CF without the high adjust.
    s.gpr[RAX] = 0x03;
    s.rflags = flag::FIXED1 | flag::AF;
    REQUIRE(run_bytes(m, s, {0x2f}).outcome == EmulateOutcome::OK);
    CHECK(s.gpr[RAX] == 0xfd);
    CHECK(arith(s) == (flag::CF | flag::AF | flag::SF));

    s.gpr[RAX] = 0xee;  // 0x35 - 0x47 = 0xee with AF = CF = 1 -> 0x88 (35 - 47 = -12 -> 88 borrow)
    s.rflags = flag::FIXED1 | flag::AF | flag::CF;
    REQUIRE(run_bytes(m, s, {0x2f}).outcome == EmulateOutcome::OK);
    CHECK(s.gpr[RAX] == 0x88);
    CHECK(arith(s) == (flag::CF | flag::AF | flag::SF | flag::PF));
}

TEST_CASE("AAA and AAS carry and borrow through the whole of AX")
{
    FakeMachine m;
    CpuState s = flat32_state(kCodeAt);
    s.gpr[RAX] = 0xabcd01fa;  // AX + 0x106: the carry out of AL reaches AH as well
    REQUIRE(run_bytes(m, s, {0x37}).outcome == EmulateOutcome::OK);
    CHECK(s.gpr[RAX] == 0xabcd0300);
    CHECK((s.rflags & (flag::CF | flag::AF)) == (flag::CF | flag::AF));

    s.gpr[RAX] = 0x0235;
    s.rflags = flag::FIXED1 | flag::CF;
    REQUIRE(run_bytes(m, s, {0x37}).outcome == EmulateOutcome::OK);
    CHECK(s.gpr[RAX] == 0x0205);  // no adjust: AL masked to its low nibble
    CHECK((s.rflags & (flag::CF | flag::AF)) == 0);

    s.gpr[RAX] = 0x0203;  // AX - 6 borrows from AH, then AH - 1
    s.rflags = flag::FIXED1 | flag::AF;
    REQUIRE(run_bytes(m, s, {0x3f}).outcome == EmulateOutcome::OK);
    CHECK(s.gpr[RAX] == 0x000d);
    CHECK((s.rflags & (flag::CF | flag::AF)) == (flag::CF | flag::AF));
}

TEST_CASE("AAM and AAD take any base; AAM 0 is #DE and changes nothing")
{
    FakeMachine m;
    CpuState s = real_mode_state(0, kCodeAt);
    s.gpr[RAX] = 0x004f;  // 79
    REQUIRE(run_bytes(m, s, {0xd4, 0x0a}).outcome == EmulateOutcome::OK);
    CHECK(s.gpr[RAX] == 0x0709);
    CHECK(s.rip == kCodeAt + 2);
    REQUIRE(run_bytes(m, s, {0xd5, 0x0a}).outcome == EmulateOutcome::OK);  // back to binary
    CHECK(s.gpr[RAX] == 0x004f);
    CHECK(arith(s) == 0);  // 0x4f: five bits set, PF = 0

    s.gpr[RAX] = 0x00ab;
    REQUIRE(run_bytes(m, s, {0xd4, 0x10}).outcome == EmulateOutcome::OK);
    CHECK(s.gpr[RAX] == 0x0a0b);

    s.gpr[RAX] = 0x0709;
    REQUIRE(run_bytes(m, s, {0xd5, 0x00}).outcome == EmulateOutcome::OK);  // AAD 0: AH contributes nothing
    CHECK(s.gpr[RAX] == 0x0009);

    s.gpr[RAX] = 0x1234;
    s.rflags = flag::FIXED1 | flag::CF | flag::OF;
    s.rip = kCodeAt;
    const CpuState before = s;
    const auto r = run_bytes(m, s, {0xd4, 0x00});
    expect_fault(r, 0);
    CHECK_FALSE(r.has_error_code);
    CHECK(s.gpr[RAX] == before.gpr[RAX]);
    CHECK(s.rflags == before.rflags);
    CHECK(s.rip == before.rip);
}

TEST_CASE("BCD instructions are #UD in 64-bit mode")
{
    FakeMachine m;
    for (u8 op : {0x27, 0x2f, 0x37, 0x3f}) {
        CpuState s = long64_state(kCodeAt);
        expect_fault(run_bytes(m, s, {op}), 6);
    }
    CpuState s = long64_state(kCodeAt);
    expect_fault(run_bytes(m, s, {0xd4, 0x0a}), 6);
    expect_fault(run_bytes(m, s, {0xd5, 0x0a}), 6);
}

TEST_CASE("SHLD/SHRD: results, CF/OF, count masking, count 0 leaves the flags alone")
{
    FakeMachine m;
    CpuState s = flat32_state(kCodeAt);
    s.gpr[RAX] = 0x12345678;
    s.gpr[RBX] = 0x9abcdef0;
    s.rflags = flag::FIXED1 | flag::ARITH;
    REQUIRE(run_bytes(m, s, {0x0f, 0xa4, 0xd8, 0x00}).outcome == EmulateOutcome::OK);  // shld eax, ebx, 0
    CHECK(s.gpr[RAX] == 0x12345678);
    CHECK(arith(s) == flag::ARITH);
    s.gpr[RCX] = 0x20;  // masked to 0 for a 32-bit operand
    REQUIRE(run_bytes(m, s, {0x0f, 0xa5, 0xd8}).outcome == EmulateOutcome::OK);  // shld eax, ebx, cl
    CHECK(s.gpr[RAX] == 0x12345678);
    CHECK(arith(s) == flag::ARITH);

    REQUIRE(run_bytes(m, s, {0x0f, 0xa4, 0xd8, 0x04}).outcome == EmulateOutcome::OK);
    CHECK(s.gpr[RAX] == 0x23456789);
    CHECK((s.rflags & (flag::CF | flag::ZF | flag::SF)) == flag::CF);  // bit 28 of 0x12345678 went out

    s.gpr[RAX] = 0x12345678;
    REQUIRE(run_bytes(m, s, {0x0f, 0xac, 0xd8, 0x08}).outcome == EmulateOutcome::OK);  // shrd eax, ebx, 8
    CHECK(s.gpr[RAX] == 0xf0123456);
    CHECK((s.rflags & (flag::CF | flag::SF)) == flag::SF);  // bit 7 of 0x78 is 0

    // Count 1: OF reports a sign change.
    s.gpr[RAX] = 0x0001;
    s.gpr[RBX] = 0x0001;
    REQUIRE(run_bytes(m, s, {0x66, 0x0f, 0xac, 0xd8, 0x01}).outcome == EmulateOutcome::OK);  // shrd ax, bx, 1
    CHECK((s.gpr[RAX] & 0xffff) == 0x8000);
    CHECK((s.rflags & (flag::CF | flag::OF | flag::SF | flag::ZF)) == (flag::CF | flag::OF | flag::SF));

    // 16-bit count 16: the source replaces the destination (defined).
    s.gpr[RAX] = 0xaaaa1234;
    s.gpr[RBX] = 0x5678;
    s.gpr[RCX] = 16;
    REQUIRE(run_bytes(m, s, {0x66, 0x0f, 0xa5, 0xd8}).outcome == EmulateOutcome::OK);  // shld ax, bx, cl
    CHECK(s.gpr[RAX] == 0xaaaa5678);
    CHECK((s.rflags & flag::CF) == 0);  // bit 0 of 0x1234

    // 16-bit counts 17..31 are undefined; the emulator shifts dest:src:dest (alu.hpp).
    s.gpr[RAX] = 0x1234;
    s.gpr[RCX] = 20;
    REQUIRE(run_bytes(m, s, {0x66, 0x0f, 0xa5, 0xd8}).outcome == EmulateOutcome::OK);
    CHECK(s.gpr[RAX] == 0x6781);
    s.gpr[RAX] = 0x1234;
    REQUIRE(run_bytes(m, s, {0x66, 0x0f, 0xad, 0xd8}).outcome == EmulateOutcome::OK);  // shrd ax, bx, cl
    CHECK(s.gpr[RAX] == 0x4567);

    // Memory destination with an immediate count.
    m.set(0x3000, 4, 0x80000001);
    s.gpr[RSI] = 0x3000;
    s.gpr[RBX] = 0xffffffff;
    REQUIRE(run_bytes(m, s, {0x0f, 0xa4, 0x1e, 0x01}).outcome == EmulateOutcome::OK);  // shld [esi], ebx, 1
    CHECK(m.get(0x3000, 4) == 0x00000003);
    CHECK((s.rflags & (flag::CF | flag::OF)) == (flag::CF | flag::OF));
}

TEST_CASE("SHLD/SHRD with 64-bit operands mask the count to 6 bits")
{
    FakeMachine m;
    CpuState s = long64_state(kCodeAt);
    s.gpr[RAX] = 0x1;
    s.gpr[RBX] = 0x8000000000000000ull;
    s.gpr[RCX] = 127;  // -> 63
    REQUIRE(run_bytes(m, s, {0x48, 0x0f, 0xa5, 0xd8}).outcome == EmulateOutcome::OK);  // shld rax, rbx, cl
    CHECK(s.gpr[RAX] == 0xc000000000000000ull);
    s.gpr[RAX] = 0xffffffff00000005ull;
    s.rflags = flag::FIXED1 | flag::ARITH;
    REQUIRE(run_bytes(m, s, {0x0f, 0xac, 0xd8, 0x00}).outcome == EmulateOutcome::OK);  // shrd eax, ebx, 0
    CHECK(s.gpr[RAX] == 0x5);  // the 32-bit write-back zero-extends; flags untouched
    CHECK(arith(s) == flag::ARITH);
}

TEST_CASE("BSF/BSR: index of the lowest/highest set bit; a zero source sets ZF and keeps the destination")
{
    FakeMachine m;
    CpuState s = long64_state(kCodeAt);
    s.gpr[RBX] = 0x00f0;
    s.rflags = flag::FIXED1 | flag::ZF | flag::CF | flag::SF;
    REQUIRE(run_bytes(m, s, {0x0f, 0xbc, 0xc3}).outcome == EmulateOutcome::OK);  // bsf eax, ebx
    CHECK(s.gpr[RAX] == 4);
    CHECK(arith(s) == (flag::CF | flag::SF));  // ZF cleared; the undefined flags are kept
    REQUIRE(run_bytes(m, s, {0x0f, 0xbd, 0xc3}).outcome == EmulateOutcome::OK);  // bsr eax, ebx
    CHECK(s.gpr[RAX] == 7);
    s.gpr[RBX] = 0x8000000000000001ull;
    REQUIRE(run_bytes(m, s, {0x48, 0x0f, 0xbd, 0xc3}).outcome == EmulateOutcome::OK);  // bsr rax, rbx
    CHECK(s.gpr[RAX] == 63);
    REQUIRE(run_bytes(m, s, {0x48, 0x0f, 0xbc, 0xc3}).outcome == EmulateOutcome::OK);  // bsf rax, rbx
    CHECK(s.gpr[RAX] == 0);
    CHECK((s.rflags & flag::ZF) == 0);

    s.gpr[RBX] = 0xffff0000;  // zero in the low 16 bits
    s.gpr[RAX] = 0xdeadbeefcafef00dull;
    s.rflags = flag::FIXED1;
    REQUIRE(run_bytes(m, s, {0x66, 0x0f, 0xbc, 0xc3}).outcome == EmulateOutcome::OK);  // bsf ax, bx
    CHECK(s.gpr[RAX] == 0xdeadbeefcafef00dull);
    CHECK(arith(s) == flag::ZF);
    s.gpr[RBX] = 0;
    REQUIRE(run_bytes(m, s, {0x48, 0x0f, 0xbd, 0xc3}).outcome == EmulateOutcome::OK);  // bsr rax, rbx
    CHECK(s.gpr[RAX] == 0xdeadbeefcafef00dull);
    CHECK(arith(s) == flag::ZF);
    // A 32-bit destination is still written: the upper half is cleared (Intel).
    REQUIRE(run_bytes(m, s, {0x0f, 0xbc, 0xc3}).outcome == EmulateOutcome::OK);  // bsf eax, ebx
    CHECK(s.gpr[RAX] == 0xcafef00d);
    CHECK(arith(s) == flag::ZF);

    // Memory source.
    m.set(0x3000, 2, 0x0100);
    s.gpr[RSI] = 0x3000;
    REQUIRE(run_bytes(m, s, {0x66, 0x0f, 0xbd, 0x06}).outcome == EmulateOutcome::OK);  // bsr ax, [rsi]
    CHECK((s.gpr[RAX] & 0xffff) == 8);

    // TZCNT/LZCNT encodings are left to the caller.
    CHECK(run_bytes(m, s, {0xf3, 0x0f, 0xbc, 0xc3}).outcome == EmulateOutcome::UNHANDLED);
}

TEST_CASE("CMPXCHG8B/16B: store on match, load and write back on mismatch, #UD/#GP cases")
{
    FakeMachine m;
    CpuState s = long64_state(kCodeAt);
    m.set(0x3000, 8, 0x1111111122222222ull);
    s.gpr[RSI] = 0x3000;
    s.gpr[RAX] = 0xffffffff22222222ull;  // only EAX/EDX take part
    s.gpr[RDX] = 0x11111111;
    s.gpr[RBX] = 0xbbbbbbbb;
    s.gpr[RCX] = 0xcccccccc;
    REQUIRE(run_bytes(m, s, {0xf0, 0x0f, 0xc7, 0x0e}).outcome == EmulateOutcome::OK);  // lock cmpxchg8b [rsi]
    CHECK(m.get(0x3000, 8) == 0xccccccccbbbbbbbbull);
    CHECK((s.rflags & flag::ZF) != 0);
    CHECK(s.gpr[RAX] == 0xffffffff22222222ull);  // not written on a match

    const unsigned writes = m.writes;
    REQUIRE(run_bytes(m, s, {0x0f, 0xc7, 0x0e}).outcome == EmulateOutcome::OK);  // now mismatched
    CHECK((s.rflags & flag::ZF) == 0);
    CHECK(s.gpr[RAX] == 0xbbbbbbbb);  // 32-bit loads zero-extend
    CHECK(s.gpr[RDX] == 0xcccccccc);
    CHECK(m.get(0x3000, 8) == 0xccccccccbbbbbbbbull);
    CHECK(m.writes == writes + 1);  // the old value is written back

    // CMPXCHG16B: 16-byte aligned operand, RDX:RAX against m128.
    m.set(0x3010, 8, 1);
    m.set(0x3018, 8, 2);
    s.gpr[RSI] = 0x3010;
    s.gpr[RAX] = 1;
    s.gpr[RDX] = 2;
    s.gpr[RBX] = 0x3333333333333333ull;
    s.gpr[RCX] = 0x4444444444444444ull;
    REQUIRE(run_bytes(m, s, {0x48, 0x0f, 0xc7, 0x0e}).outcome == EmulateOutcome::OK);
    CHECK(m.get(0x3010, 8) == 0x3333333333333333ull);
    CHECK(m.get(0x3018, 8) == 0x4444444444444444ull);
    CHECK((s.rflags & flag::ZF) != 0);
    REQUIRE(run_bytes(m, s, {0x48, 0x0f, 0xc7, 0x0e}).outcome == EmulateOutcome::OK);
    CHECK(s.gpr[RAX] == 0x3333333333333333ull);
    CHECK(s.gpr[RDX] == 0x4444444444444444ull);
    CHECK((s.rflags & flag::ZF) == 0);

    s.gpr[RSI] = 0x3008;
    const CpuState before = s;
    auto r = run_bytes(m, s, {0x48, 0x0f, 0xc7, 0x0e});
    expect_fault(r, 13);
    CHECK(r.error_code == 0);
    CHECK(s.gpr[RAX] == before.gpr[RAX]);
    expect_fault(run_bytes(m, s, {0x0f, 0xc7, 0xc8}), 6);  // register operand
    CHECK(run_bytes(m, s, {0x0f, 0xc7, 0x06}).outcome == EmulateOutcome::UNHANDLED);  // 0F C7 /0
}

TEST_CASE("alu::double_shift and alu::bit_scan directly")
{
    u64 f = flag::FIXED1;
    CHECK(alu::double_shift(false, 0x8000, 0xffff, 1, 2, f) == 0x0001);
    CHECK((f & (flag::CF | flag::OF | flag::ZF)) == (flag::CF | flag::OF));
    f = flag::FIXED1;
    CHECK(alu::double_shift(true, 0x1, 0x0, 1, 8, f) == 0);
    CHECK((f & (flag::CF | flag::ZF | flag::PF)) == (flag::CF | flag::ZF | flag::PF));
    u64 index = 99;
    f = flag::FIXED1;
    CHECK_FALSE(alu::bit_scan(false, 0xffff0000, 2, index, f));
    CHECK(index == 99);
    CHECK((f & flag::ZF) != 0);
    CHECK(alu::bit_scan(true, 0xffff0000, 4, index, f));
    CHECK(index == 31);
    CHECK((f & flag::ZF) == 0);
}
