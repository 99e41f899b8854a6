// Real mode, the switch to protected mode and back, big real mode,
// real-mode interrupts: the subset the penryn profile depends on.
#include <catch2/catch.hpp>

#include "arch/x86/emulate/emulate.hpp"
#include "fake_machine.hpp"

using namespace xeno;
using namespace xeno::emu;
using namespace xeno::emu::test;

namespace {

u64 cs_ip(const CpuState& s) { return s.sreg(Seg::CS).base + s.rip; }

EmulateResult step(FakeMachine& m, CpuState& s)
{
    const EmulateOps ops = m.ops();
    return emulate_one(s, ops);
}

// Runs n instructions, requiring each to succeed.
void run_ok(FakeMachine& m, CpuState& s, unsigned n)
{
    for (unsigned i = 0; i < n; ++i) {
        const EmulateResult r = step(m, s);
        INFO("instruction " << i << " at 0x" << std::hex << cs_ip(s));
        REQUIRE(r.outcome == EmulateOutcome::OK);
    }
}

// The GDT used by the transition tests, at 0x7e10, with its pseudo-descriptor at 0x7e00.
void put_gdt(FakeMachine& m)
{
    m.set(0x7e00, 2, 0x2f);                  // limit: 6 entries
    m.set(0x7e02, 4, 0x7e10);                // base
    m.set(0x7e10, 8, 0);                     // null
    m.set(0x7e18, 8, 0x00cf9a000000ffffull);  // 0x08: code32, 4 GiB
    m.set(0x7e20, 8, 0x00cf92000000ffffull);  // 0x10: data32, 4 GiB
    m.set(0x7e28, 8, 0x00009a000000ffffull);  // 0x18: code16, 64 KiB
    m.set(0x7e30, 8, 0x000092000000ffffull);  // 0x20: data16, 64 KiB
    m.set(0x7e38, 8, 0x00cf12000000ffffull);  // 0x28: data32, not present
}

}  // namespace

TEST_CASE("real mode: mov, add, inc/dec, push/pop with exact flags and IP")
{
    FakeMachine m;
    CpuState s = real_mode_state(0x0000, 0x7c00);
    m.put(0x7c00, {0xb8, 0xff, 0x7f,   // mov ax, 0x7fff
                   0x05, 0x01, 0x00,   // add ax, 1     -> 0x8000, OF SF AF
                   0x48,               // dec ax        -> 0x7fff, OF AF
                   0x50,               // push ax
                   0x5b,               // pop bx
                   0x31, 0xc0,         // xor ax, ax    -> ZF PF
                   0x8e, 0xd8});       // mov ds, ax
    s.gpr[RSP] = 0x7000;
    run_ok(m, s, 2);
    CHECK(s.gpr[RAX] == 0x8000);
    CHECK((s.rflags & flag::ARITH) == (flag::OF | flag::SF | flag::AF | flag::PF));
    run_ok(m, s, 1);
    CHECK(s.gpr[RAX] == 0x7fff);
    CHECK((s.rflags & flag::ARITH) == (flag::OF | flag::AF | flag::PF));
    run_ok(m, s, 2);
    CHECK(s.gpr[RBX] == 0x7fff);
    CHECK(s.gpr[RSP] == 0x7000);
    CHECK(m.get(0x6ffe, 2) == 0x7fff);
    run_ok(m, s, 2);
    CHECK((s.rflags & flag::ARITH) == (flag::ZF | flag::PF));
    CHECK(s.rip == 0x7c0d);
    CHECK(s.sreg(Seg::DS).selector == 0);
}

TEST_CASE("real mode to 32-bit protected mode: lgdt, mov cr0, far jmp, mov ds/ss")
{
    FakeMachine m;
    put_gdt(m);
    CpuState s = real_mode_state(0x0000, 0x7c00);
    m.put(0x7c00, {0xfa,                          // cli
                   0x0f, 0x01, 0x16, 0x00, 0x7e,  // lgdt [0x7e00]
                   0x0f, 0x20, 0xc0,              // mov eax, cr0
                   0x0c, 0x01,                    // or al, 1
                   0x0f, 0x22, 0xc0,              // mov cr0, eax
                   0xea, 0x20, 0x7c, 0x08, 0x00}); // jmp 0x08:0x7c20
    m.put(0x7c20, {0x66, 0xb8, 0x10, 0x00,        // mov ax, 0x10
                   0x8e, 0xd8,                    // mov ds, ax
                   0x8e, 0xd0,                    // mov ss, ax
                   0xbc, 0x00, 0x00, 0x09, 0x00,  // mov esp, 0x90000
                   0xa1, 0x00, 0x00, 0x10, 0x00}); // mov eax, [0x100000]
    m.set(0x100000, 4, 0xdeadbeef);
    s.rflags |= flag::IF;
    run_ok(m, s, 1);
    CHECK_FALSE(s.rflags & flag::IF);
    auto r = step(m, s);
    REQUIRE(r.outcome == EmulateOutcome::OK);
    CHECK((r.effects & effect::DESC_TABLE) != 0);
    CHECK(s.gdtr.base == 0x7e10);
    CHECK(s.gdtr.limit == 0x2f);
    run_ok(m, s, 2);
    r = step(m, s);  // mov cr0, eax
    REQUIRE(r.outcome == EmulateOutcome::OK);
    CHECK((r.effects & effect::MODE_CHANGE) != 0);
    CHECK(cpu_mode(s) == CpuMode::PROTECTED);
    CHECK(s.sreg(Seg::CS).base == 0);  // stale real-mode cache until the far jump
    CHECK(s.rip == 0x7c0e);
    r = step(m, s);  // far jmp
    REQUIRE(r.outcome == EmulateOutcome::OK);
    CHECK(s.sreg(Seg::CS).selector == 0x08);
    CHECK(s.sreg(Seg::CS).base == 0);
    CHECK(s.sreg(Seg::CS).limit == 0xffffffff);
    CHECK(s.sreg(Seg::CS).ar == 0xc09b);
    CHECK(s.rip == 0x7c20);
    CHECK(m.get(0x7e18 + 5, 1) == 0x9b);  // accessed bit written back to the GDT
    run_ok(m, s, 1);
    CHECK((s.gpr[RAX] & 0xffff) == 0x10);
    r = step(m, s);
    REQUIRE(r.outcome == EmulateOutcome::OK);
    CHECK(s.sreg(Seg::DS).ar == 0xc093);
    CHECK(s.sreg(Seg::DS).limit == 0xffffffff);
    r = step(m, s);
    REQUIRE(r.outcome == EmulateOutcome::OK);
    CHECK((r.effects & effect::MOV_SS_SHADOW) != 0);
    CHECK(s.sreg(Seg::SS).selector == 0x10);
    run_ok(m, s, 2);
    CHECK(s.gpr[RSP] == 0x90000);
    CHECK(s.gpr[RAX] == 0xdeadbeef);
    CHECK(cpl(s) == 0);
}

TEST_CASE("stack pops and selector loads between mov cr0 and the far jump use the stale 16-bit caches")
{
    FakeMachine m;
    put_gdt(m);
    CpuState s = real_mode_state(0x0000, 0x7c00);
    s.sreg(Seg::SS) = Segment{0x0000, 0, 0xffff, kArData16};
    s.gpr[RSP] = 0x6ffc;
    m.set(0x6ffc, 2, 0x10);  // a selector left on the stack in real mode
    s.gdtr = {0x7e10, 0x2f};
    s.cr0 |= cr0::PE;        // mov cr0 already done
    m.put(0x7c00, {0x1f,                                  // pop ds (16-bit: real-mode cache, PM semantics)
                   0xea, 0x10, 0x7c, 0x18, 0x00});        // jmp 0x18:0x7c10 (16-bit code)
    run_ok(m, s, 1);
    CHECK(s.sreg(Seg::DS).selector == 0x10);
    CHECK(s.sreg(Seg::DS).limit == 0xffffffff);  // loaded from the GDT: protected-mode rules apply
    CHECK(s.gpr[RSP] == 0x6ffe);
    run_ok(m, s, 1);
    CHECK(s.sreg(Seg::CS).selector == 0x18);
    CHECK(s.sreg(Seg::CS).ar == 0x9b);
    CHECK(s.rip == 0x7c10);
}

TEST_CASE("back to real mode keeps 4 GiB limits: big real mode")
{
    FakeMachine m(0x200000);
    put_gdt(m);
    CpuState s = flat32_state(0x7c00);
    s.gdtr = {0x7e10, 0x2f};
    // In 16-bit protected mode code with 4 GiB data segments, clear PE.
    s.sreg(Seg::CS) = Segment{0x18, 0, 0xffff, kArCode16};
    m.put(0x7c00, {0x0f, 0x20, 0xc0,        // mov eax, cr0 (16-bit code: 0F 20 is always 32-bit)
                   0x24, 0xfe,              // and al, 0xfe
                   0x0f, 0x22, 0xc0,        // mov cr0, eax
                   0xea, 0x10, 0x7c, 0x00, 0x00});  // jmp 0000:7c10
    m.put(0x7c10, {0x31, 0xc0,              // xor ax, ax
                   0x8e, 0xd8,              // mov ds, ax (real mode: base 0, limit stays 4 GiB)
                   0x66, 0xbe, 0x00, 0x00, 0x10, 0x00,  // mov esi, 0x100000
                   0x67, 0x66, 0x8b, 0x06,  // mov eax, [esi]
                   0x8b, 0x04});            // mov ax, [si] with si=0: fine
    m.set(0x100000, 4, 0x12345678);
    run_ok(m, s, 4);
    CHECK(cpu_mode(s) == CpuMode::REAL);
    CHECK(s.sreg(Seg::CS).base == 0);
    CHECK(s.rip == 0x7c10);
    run_ok(m, s, 2);
    CHECK(s.sreg(Seg::DS).limit == 0xffffffff);
    run_ok(m, s, 2);
    CHECK(s.gpr[RAX] == 0x12345678);

    // A real-mode segment with a 64 KiB limit faults on the same access.
    s.sreg(Seg::DS).limit = 0xffff;
    s.rip = 0x7c1a;
    const u64 rip = s.rip;
    const auto r = step(m, s);
    CHECK(r.outcome == EmulateOutcome::EXCEPTION);
    CHECK(r.vector == 13);
    CHECK(r.error_code == 0);
    CHECK(s.rip == rip);
}

TEST_CASE("real mode INT n goes through the IVT and IRET returns")
{
    FakeMachine m;
    CpuState s = real_mode_state(0x1000, 0x0100);
    s.gpr[RSP] = 0x8000;
    s.rflags = flag::FIXED1 | flag::IF | flag::CF;
    m.set(0x10 * 4, 2, 0x0200);  // IVT[0x10] = 2000:0200
    m.set(0x10 * 4 + 2, 2, 0x2000);
    m.put(0x10100, {0xcd, 0x10});
    m.put(0x20200, {0xcf});
    auto r = step(m, s);
    REQUIRE(r.outcome == EmulateOutcome::OK);
    CHECK((r.effects & effect::SOFT_INT) != 0);
    CHECK(s.sreg(Seg::CS).selector == 0x2000);
    CHECK(s.sreg(Seg::CS).base == 0x20000);
    CHECK(s.rip == 0x0200);
    CHECK(s.gpr[RSP] == 0x7ffa);
    CHECK(m.get(0x7ffa, 2) == 0x0102);  // IP after INT
    CHECK(m.get(0x7ffc, 2) == 0x1000);  // CS
    CHECK(m.get(0x7ffe, 2) == (flag::FIXED1 | flag::IF | flag::CF));
    CHECK_FALSE(s.rflags & flag::IF);
    r = step(m, s);
    REQUIRE(r.outcome == EmulateOutcome::OK);
    CHECK(s.sreg(Seg::CS).selector == 0x1000);
    CHECK(s.rip == 0x0102);
    CHECK(s.gpr[RSP] == 0x8000);
    CHECK((s.rflags & (flag::IF | flag::CF)) == (flag::IF | flag::CF));
}

TEST_CASE("real mode far call and retf, near call and ret, loop and jcxz")
{
    FakeMachine m;
    CpuState s = real_mode_state(0x0000, 0x1000);
    s.gpr[RSP] = 0x9000;
    m.put(0x1000, {0x9a, 0x00, 0x00, 0x00, 0x30});  // call 3000:0000
    m.put(0x30000, {0xe8, 0x02, 0x00,               // call +2
                    0xcb,                            // retf
                    0x00,
                    0xb9, 0x03, 0x00,                // mov cx, 3
                    0xe2, 0xfe,                      // loop $
                    0xe3, 0x00,                      // jcxz +0
                    0xc3});                          // ret
    run_ok(m, s, 1);
    CHECK(s.sreg(Seg::CS).base == 0x30000);
    CHECK(m.get(0x8ffc, 2) == 0x1005);
    CHECK(m.get(0x8ffe, 2) == 0x0000);
    run_ok(m, s, 1);
    CHECK(s.rip == 5);
    run_ok(m, s, 1 + 3 + 1);
    CHECK((s.gpr[RCX] & 0xffff) == 0);
    CHECK(s.rip == 0xc);
    run_ok(m, s, 1);  // ret -> 3
    CHECK(s.rip == 3);
    run_ok(m, s, 1);  // retf
    CHECK(s.sreg(Seg::CS).selector == 0);
    CHECK(s.rip == 0x1005);
    CHECK(s.gpr[RSP] == 0x9000);
}

TEST_CASE("real mode pusha/popa, pushf/popf, enter/leave, les")
{
    FakeMachine m;
    CpuState s = real_mode_state(0x0000, 0x1000);
    s.gpr[RSP] = 0x9000;
    for (unsigned i = 0; i < 8; ++i)
        if (i != RSP) s.gpr[i] = 0x1111 * (i + 1);
    m.put(0x1000, {0x60,                    // pusha
                   0x31, 0xc0, 0x31, 0xdb,  // xor ax,ax; xor bx,bx
                   0x61,                    // popa
                   0x9c, 0x9d,              // pushf, popf
                   0xc8, 0x08, 0x00, 0x00,  // enter 8, 0
                   0xc9,                    // leave
                   0xc4, 0x1e, 0x00, 0x05}); // les bx, [0x500]
    m.set(0x500, 2, 0x1234);
    m.set(0x502, 2, 0xb800);
    run_ok(m, s, 1);
    CHECK(s.gpr[RSP] == 0x8ff0);
    CHECK(m.get(0x8ff0 + 6, 2) == 0x9000);  // SP as it was before PUSHA
    run_ok(m, s, 3);
    CHECK(s.gpr[RAX] == 0x1111);
    CHECK(s.gpr[RBX] == 0x4444);
    CHECK(s.gpr[RSP] == 0x9000);
    run_ok(m, s, 2);
    const u64 bp = s.gpr[RBP];
    run_ok(m, s, 1);
    CHECK(s.gpr[RBP] == 0x8ffe);
    CHECK(s.gpr[RSP] == 0x8ff6);
    run_ok(m, s, 1);
    CHECK(s.gpr[RBP] == bp);
    CHECK(s.gpr[RSP] == 0x9000);
    run_ok(m, s, 1);
    CHECK((s.gpr[RBX] & 0xffff) == 0x1234);
    CHECK(s.sreg(Seg::ES).base == 0xb8000);
}

TEST_CASE("lmsw sets PE but cannot clear it; smsw; mov cr0 checks")
{
    FakeMachine m;
    CpuState s = real_mode_state(0, 0x1000);
    s.gpr[RAX] = 0x1;
    m.put(0x1000, {0x0f, 0x01, 0xf0,   // lmsw ax
                   0x31, 0xc0,         // xor ax, ax
                   0x0f, 0x01, 0xf0,   // lmsw ax: PE stays
                   0x0f, 0x01, 0xe3,   // smsw bx
                   0x66, 0xb8, 0x00, 0x00, 0x00, 0x80,  // mov eax, 0x80000000
                   0x0f, 0x22, 0xc0}); // mov cr0, eax: PG without PE -> #GP(0)
    run_ok(m, s, 1);
    CHECK((s.cr0 & cr0::PE) != 0);
    run_ok(m, s, 2);
    CHECK((s.cr0 & cr0::PE) != 0);
    run_ok(m, s, 1);
    CHECK((s.gpr[RBX] & 0xffff) == (s.cr0 & 0xffff));
    run_ok(m, s, 1);
    const CpuState before = s;
    const auto r = step(m, s);
    CHECK(r.outcome == EmulateOutcome::EXCEPTION);
    CHECK(r.vector == 13);
    CHECK(s.cr0 == before.cr0);
    CHECK(s.rip == before.rip);
}

TEST_CASE("enabling paging with EFER.LME activates IA-32e mode")
{
    FakeMachine m;
    CpuState s = flat32_state(0x1000);
    s.cr4 = 1u << 5;  // PAE
    s.efer = efer::LME;
    s.gpr[RAX] = cr0::PE | cr0::ET | cr0::PG;
    m.put(0x1000, {0x0f, 0x22, 0xc0});
    const auto r = step(m, s);
    REQUIRE(r.outcome == EmulateOutcome::OK);
    CHECK((s.efer & efer::LMA) != 0);
    CHECK(cpu_mode(s) == CpuMode::COMPAT);

    // Without PAE the same write is #GP(0).
    CpuState t = flat32_state(0x1000);
    t.efer = efer::LME;
    t.gpr[RAX] = cr0::PE | cr0::ET | cr0::PG;
    const auto r2 = step(m, t);
    CHECK(r2.outcome == EmulateOutcome::EXCEPTION);
    CHECK(r2.vector == 13);
}
