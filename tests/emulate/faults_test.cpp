// Faults the emulator must raise with the architectural vector and error
// code, leaving the state as it was; unknown instructions; I/O outcomes.
#include <catch2/catch.hpp>

#include "arch/x86/emulate/emulate.hpp"
#include "fake_machine.hpp"

using namespace xeno;
using namespace xeno::emu;
using namespace xeno::emu::test;

namespace {

EmulateResult run_bytes(FakeMachine& m, CpuState& s, std::initializer_list<u8> bytes)
{
    m.put(s.sreg(Seg::CS).base + s.rip, bytes);
    const EmulateOps ops = m.ops();
    return emulate_one(s, ops);
}

void expect_fault(const EmulateResult& r, u8 vector, u32 ec)
{
    REQUIRE(r.outcome == EmulateOutcome::EXCEPTION);
    CHECK(int(r.vector) == int(vector));
    CHECK(r.error_code == ec);
}

bool same_regs(const CpuState& a, const CpuState& b)
{
    for (unsigned i = 0; i < 16; ++i)
        if (a.gpr[i] != b.gpr[i]) return false;
    return a.rip == b.rip && a.rflags == b.rflags;
}

// A protected-mode GDT at 0x5000: flat code/data ring 0, data ring 3,
// a not-present data segment, a read-only data segment, code ring 3.
CpuState pm_with_gdt(FakeMachine& m)
{
    m.set(0x5000, 8, 0);
    m.set(0x5008, 8, 0x00cf9a000000ffffull);  // 0x08 code32
    m.set(0x5010, 8, 0x00cf92000000ffffull);  // 0x10 data32
    m.set(0x5018, 8, 0x00cff2000000ffffull);  // 0x18 data32 DPL3
    m.set(0x5020, 8, 0x00cf12000000ffffull);  // 0x20 data, not present
    m.set(0x5028, 8, 0x00cf90000000ffffull);  // 0x28 read-only data
    m.set(0x5030, 8, 0);                      // 0x30 unused
    m.set(0x5038, 8, 0x00cffa000000ffffull);  // 0x38 code32 DPL3
    CpuState s = flat32_state(0x1000);
    s.gdtr = {0x5000, 0x3f};
    return s;
}

}  // namespace

TEST_CASE("segment limit violations: #GP(0) for data, #SS(0) for the stack, in real mode too")
{
    FakeMachine m;
    CpuState s = real_mode_state(0, 0x1000);
    const CpuState before = s;
    expect_fault(run_bytes(m, s, {0x8b, 0x06, 0xff, 0xff}), 13, 0);  // mov ax, [0xffff]: word crosses the limit
    CHECK(same_regs(s, before));
    s.gpr[RBP] = 0;
    expect_fault(run_bytes(m, s, {0x8b, 0x46, 0xff}), 12, 0);  // mov ax, [bp-1] -> SS:0xffff
    s.gpr[RSP] = 1;
    expect_fault(run_bytes(m, s, {0x50}), 12, 0);  // push ax with SP=1: wraps to 0xffff
}

TEST_CASE("divide errors are #DE and change nothing")
{
    FakeMachine m;
    CpuState s = flat32_state(0x1000);
    s.gpr[RAX] = 100;
    s.gpr[RBX] = 0;
    const CpuState before = s;
    auto r = run_bytes(m, s, {0xf6, 0xf3});  // div bl
    REQUIRE(r.outcome == EmulateOutcome::EXCEPTION);
    CHECK(r.vector == 0);
    CHECK_FALSE(r.has_error_code);
    CHECK(same_regs(s, before));
    s.gpr[RAX] = 0x8000;
    s.gpr[RBX] = 0xff;  // idiv bl: -32768 / -1 overflows
    r = run_bytes(m, s, {0xf6, 0xfb});
    CHECK(r.outcome == EmulateOutcome::EXCEPTION);
    CHECK(r.vector == 0);
    s.gpr[RAX] = 1000;
    s.gpr[RDX] = 0;
    s.gpr[RBX] = 7;
    r = run_bytes(m, s, {0xf7, 0xf3});  // div ebx
    REQUIRE(r.outcome == EmulateOutcome::OK);
    CHECK(s.gpr[RAX] == 142);
    CHECK(s.gpr[RDX] == 6);
}

TEST_CASE("unknown instructions are UNHANDLED with their bytes; 15-byte limit is #GP(0)")
{
    FakeMachine m;
    CpuState s = flat32_state(0x1000);
    const CpuState before = s;
    auto r = run_bytes(m, s, {0x0f, 0x0b});  // UD2
    REQUIRE(r.outcome == EmulateOutcome::UNHANDLED);
    CHECK(r.length == 2);
    CHECK(r.bytes[0] == 0x0f);
    CHECK(r.bytes[1] == 0x0b);
    CHECK(same_regs(s, before));
    r = run_bytes(m, s, {0x0f, 0xa2});  // CPUID: the caller's business, not the emulator's
    CHECK(r.outcome == EmulateOutcome::UNHANDLED);
    r = run_bytes(m, s, {0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
                         0x66, 0x90});
    expect_fault(r, 13, 0);
    r = run_bytes(m, s, {0xf0, 0x01, 0xc0});  // lock add eax, eax: register destination
    CHECK(r.outcome == EmulateOutcome::EXCEPTION);
    CHECK(r.vector == 6);
    r = run_bytes(m, s, {0xf0, 0x0f, 0xa2});  // lock cpuid
    CHECK(r.outcome == EmulateOutcome::EXCEPTION);
    CHECK(r.vector == 6);
    s.gpr[RBX] = 0x3000;
    s.gpr[RCX] = 7;
    s.gpr[RAX] = 0;
    r = run_bytes(m, s, {0xf0, 0x0f, 0xb1, 0x0b});  // lock cmpxchg [ebx], ecx
    REQUIRE(r.outcome == EmulateOutcome::OK);
    CHECK(m.get(0x3000, 4) == 7);
    CHECK((s.rflags & flag::ZF) != 0);
}

TEST_CASE("bad selectors: #GP(selector), #NP(selector), null SS, writes to read-only data")
{
    FakeMachine m;
    CpuState s = pm_with_gdt(m);
    s.gpr[RAX] = 0x48;  // beyond the GDT limit
    expect_fault(run_bytes(m, s, {0x8e, 0xd8}), 13, 0x48);
    s.gpr[RAX] = 0x20;
    expect_fault(run_bytes(m, s, {0x8e, 0xd8}), 11, 0x20);
    s.gpr[RAX] = 0x0;
    expect_fault(run_bytes(m, s, {0x8e, 0xd0}), 13, 0);  // mov ss, null
    s.gpr[RAX] = 0x18;
    expect_fault(run_bytes(m, s, {0x8e, 0xd0}), 13, 0x18);  // mov ss, RPL != CPL
    s.gpr[RAX] = 0x08;
    expect_fault(run_bytes(m, s, {0x8e, 0xd0}), 13, 0x08);  // mov ss, code segment
    s.gpr[RAX] = 0x0c;                                        // 0x08 with TI set: LDT is unusable
    expect_fault(run_bytes(m, s, {0x8e, 0xd8}), 13, 0x0c);

    // A null DS loads fine and then faults on use.
    s.gpr[RAX] = 0;
    REQUIRE(run_bytes(m, s, {0x8e, 0xd8}).outcome == EmulateOutcome::OK);
    CHECK((s.sreg(Seg::DS).ar & 0x10000) != 0);
    expect_fault(run_bytes(m, s, {0x8b, 0x03}), 13, 0);

    // Read-only data segment: reads work, writes #GP(0).
    s.gpr[RAX] = 0x28;
    REQUIRE(run_bytes(m, s, {0x8e, 0xd8}).outcome == EmulateOutcome::OK);
    s.gpr[RBX] = 0x100;
    CHECK(run_bytes(m, s, {0x8b, 0x03}).outcome == EmulateOutcome::OK);
    expect_fault(run_bytes(m, s, {0x89, 0x03}), 13, 0);
}

TEST_CASE("far jmp in protected mode checks the target code segment")
{
    FakeMachine m;
    CpuState s = pm_with_gdt(m);
    expect_fault(run_bytes(m, s, {0xea, 0x00, 0x20, 0x00, 0x00, 0x10, 0x00}), 13, 0x10);  // data segment
    expect_fault(run_bytes(m, s, {0xea, 0x00, 0x20, 0x00, 0x00, 0x38, 0x00}), 13, 0x38);  // DPL 3 != CPL 0
    expect_fault(run_bytes(m, s, {0xea, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00}), 13, 0);     // null
    auto r = run_bytes(m, s, {0xea, 0x00, 0x20, 0x00, 0x00, 0x08, 0x00});
    REQUIRE(r.outcome == EmulateOutcome::OK);
    CHECK(s.rip == 0x2000);
}

TEST_CASE("protected-mode far call, retf and iret at the same privilege")
{
    FakeMachine m;
    CpuState s = pm_with_gdt(m);
    s.gpr[RSP] = 0x8000;
    m.put(0x1000, {0x9a, 0x00, 0x30, 0x00, 0x00, 0x08, 0x00});  // call 0x08:0x3000
    m.put(0x3000, {0x9c,                                        // pushf
                   0x0e,                                        // push cs
                   0x68, 0x10, 0x30, 0x00, 0x00,                // push 0x3010
                   0xcf});                                      // iret
    m.put(0x3010, {0xcb});                                      // retf
    const EmulateOps ops = m.ops();
    for (int i = 0; i < 5; ++i) REQUIRE(emulate_one(s, ops).outcome == EmulateOutcome::OK);
    CHECK(s.rip == 0x3010);
    CHECK(s.gpr[RSP] == 0x7ff8);
    REQUIRE(emulate_one(s, ops).outcome == EmulateOutcome::OK);
    CHECK(s.rip == 0x1007);
    CHECK(s.gpr[RSP] == 0x8000);
    CHECK(s.sreg(Seg::CS).selector == 0x08);
}

TEST_CASE("INT n from ring 3 through a 32-bit trap gate switches to the ring-0 stack from the TSS")
{
    FakeMachine m;
    CpuState s = pm_with_gdt(m);
    // TSS at 0x6000: ESP0 = 0x9000, SS0 = 0x10.
    m.set(0x6004, 4, 0x9000);
    m.set(0x6008, 2, 0x10);
    s.tr = Segment{0x40, 0x6000, 0x67, 0x8b};
    // IDT at 0x7000: vector 0x80 is a DPL-3 32-bit trap gate to 0x08:0x4000.
    s.idtr = {0x7000, 0x7ff};
    m.set(0x7000 + 0x80 * 8, 8, 0x0000ef0000084000ull);
    s.sreg(Seg::CS) = Segment{0x3b, 0, 0xffffffff, 0xc0fb};
    s.sreg(Seg::SS) = Segment{0x1b, 0, 0xffffffff, 0xc0f3};
    s.sreg(Seg::DS) = Segment{0x1b, 0, 0xffffffff, 0xc0f3};
    s.gpr[RSP] = 0x5800;
    s.rflags = flag::FIXED1 | flag::IF;
    REQUIRE(cpl(s) == 3);
    m.put(0x1000, {0xcd, 0x80});
    const EmulateOps ops = m.ops();
    auto r = emulate_one(s, ops);
    REQUIRE(r.outcome == EmulateOutcome::OK);
    CHECK(cpl(s) == 0);
    CHECK(s.sreg(Seg::CS).selector == 0x08);
    CHECK(s.sreg(Seg::SS).selector == 0x10);
    CHECK(s.rip == 0x4000);
    CHECK(s.gpr[RSP] == 0x9000 - 20);
    CHECK(m.get(0x9000 - 4, 4) == 0x1b);      // old SS
    CHECK(m.get(0x9000 - 8, 4) == 0x5800);    // old ESP
    CHECK(m.get(0x9000 - 12, 4) == (flag::FIXED1 | flag::IF));
    CHECK(m.get(0x9000 - 16, 4) == 0x3b);     // old CS
    CHECK(m.get(0x9000 - 20, 4) == 0x1002);   // return EIP
    CHECK((s.rflags & flag::IF) != 0);        // trap gate keeps IF

    // IRET back to ring 3 pops SS:ESP too.
    m.put(0x4000, {0xcf});
    r = emulate_one(s, ops);
    REQUIRE(r.outcome == EmulateOutcome::OK);
    CHECK(cpl(s) == 3);
    CHECK(s.sreg(Seg::CS).selector == 0x3b);
    CHECK(s.gpr[RSP] == 0x5800);
    CHECK(s.rip == 0x1002);

    // A DPL-0 gate from ring 3 is #GP(vector*8+2).
    m.set(0x7000 + 0x81 * 8, 8, 0x00008f0000084000ull);
    m.put(0x1002, {0xcd, 0x81});
    r = emulate_one(s, ops);
    REQUIRE(r.outcome == EmulateOutcome::EXCEPTION);
    CHECK(r.error_code == 0x81 * 8 + 2);
}

TEST_CASE("privileged instructions at CPL 3 and the IOPL rules")
{
    FakeMachine m;
    CpuState s = pm_with_gdt(m);
    s.sreg(Seg::CS) = Segment{0x3b, 0, 0xffffffff, 0xc0fb};
    s.sreg(Seg::SS) = Segment{0x1b, 0, 0xffffffff, 0xc0f3};
    s.tr = Segment{0x40, 0x6000, 0x67 + 0x2000, 0x8b};
    m.set(0x6000 + 102, 2, 0x68);  // I/O bitmap right after the TSS: all ports allowed, but 0x60
    m.set(0x6068 + 0x60 / 8, 1, 0x01);
    expect_fault(run_bytes(m, s, {0xf4}), 13, 0);                    // hlt
    expect_fault(run_bytes(m, s, {0xfa}), 13, 0);                    // cli with IOPL 0
    expect_fault(run_bytes(m, s, {0x0f, 0x01, 0x15, 0, 0, 0, 0}), 13, 0);  // lgdt
    expect_fault(run_bytes(m, s, {0x0f, 0x22, 0xc0}), 13, 0);        // mov cr0
    expect_fault(run_bytes(m, s, {0xe4, 0x60}), 13, 0);              // in al, 0x60: denied by the bitmap
    auto r = run_bytes(m, s, {0xe4, 0x61});                          // port 0x61 allowed
    CHECK(r.outcome == EmulateOutcome::OK);
    // POPF at CPL 3 cannot change IF or IOPL.
    s.gpr[RSP] = 0x8000;
    m.set(0x8000, 4, flag::FIXED1 | flag::IF | flag::IOPL | flag::CF);
    s.rip = 0x1000;
    r = run_bytes(m, s, {0x9d});
    REQUIRE(r.outcome == EmulateOutcome::OK);
    CHECK((s.rflags & (flag::IF | flag::IOPL)) == 0);
    CHECK((s.rflags & flag::CF) != 0);
}

TEST_CASE("port I/O: in/out reach the callbacks; a declined access is IO_NEEDED with nothing changed")
{
    FakeMachine m;
    CpuState s = real_mode_state(0, 0x1000);
    m.port_values[0x71] = 0x42;
    s.gpr[RDX] = 0x3f8;
    s.gpr[RAX] = 0x1234'5678;
    REQUIRE(run_bytes(m, s, {0xee}).outcome == EmulateOutcome::OK);  // out dx, al
    REQUIRE(m.port_log.size() == 1);
    CHECK(m.port_log[0].port == 0x3f8);
    CHECK(m.port_log[0].value == 0x78);
    CHECK(m.port_log[0].write);
    REQUIRE(run_bytes(m, s, {0xe4, 0x71}).outcome == EmulateOutcome::OK);  // in al, 0x71
    CHECK(s.gpr[RAX] == 0x1234'5642);
    REQUIRE(run_bytes(m, s, {0x66, 0xef}).outcome == EmulateOutcome::OK);  // out dx, eax
    CHECK(m.port_log.back().size == 4);
    m.decline_io = true;
    const CpuState before = s;
    const auto r = run_bytes(m, s, {0xec});
    REQUIRE(r.outcome == EmulateOutcome::IO_NEEDED);
    CHECK(r.io_port == 0x3f8);
    CHECK(r.io_size == 1);
    CHECK_FALSE(r.io_write);
    CHECK(same_regs(s, before));
}

TEST_CASE("string instructions: rep movsb/stosw/insb/outsb and repe cmpsb in real mode")
{
    FakeMachine m;
    CpuState s = real_mode_state(0, 0x1000);
    s.sreg(Seg::DS) = Segment{0x2000, 0x20000, 0xffff, kArData16};
    s.sreg(Seg::ES) = Segment{0x3000, 0x30000, 0xffff, kArData16};
    for (unsigned i = 0; i < 8; ++i) m.set(0x20010 + i, 1, 0xa0 + i);
    s.gpr[RSI] = 0x10;
    s.gpr[RDI] = 0x20;
    s.gpr[RCX] = 8;
    REQUIRE(run_bytes(m, s, {0xf3, 0xa4}).outcome == EmulateOutcome::OK);
    CHECK(m.get(0x30020, 4) == 0xa3a2a1a0);
    CHECK(m.get(0x30024, 4) == 0xa7a6a5a4);
    CHECK(s.gpr[RCX] == 0);
    CHECK(s.gpr[RSI] == 0x18);
    CHECK(s.gpr[RDI] == 0x28);
    CHECK(s.rip == 0x1002);

    s.rip = 0x1000;
    s.gpr[RAX] = 0xbeef;
    s.gpr[RCX] = 3;
    s.rflags |= flag::DF;  // backwards
    s.gpr[RDI] = 0x104;
    REQUIRE(run_bytes(m, s, {0xf3, 0xab}).outcome == EmulateOutcome::OK);
    CHECK(m.get(0x30100, 2) == 0xbeef);
    CHECK(m.get(0x30104, 2) == 0xbeef);
    CHECK(s.gpr[RDI] == 0xfe);
    s.rflags &= ~flag::DF;

    s.rip = 0x1000;
    m.port_values[0x60] = 0x5a;
    s.gpr[RDX] = 0x60;
    s.gpr[RCX] = 2;
    s.gpr[RDI] = 0x200;
    REQUIRE(run_bytes(m, s, {0xf3, 0x6c}).outcome == EmulateOutcome::OK);
    CHECK(m.get(0x30200, 2) == 0x5a5a);
    s.rip = 0x1000;
    s.gpr[RCX] = 2;
    s.gpr[RSI] = 0x10;
    s.gpr[RDX] = 0xe9;
    m.port_log.clear();
    REQUIRE(run_bytes(m, s, {0xf3, 0x6e}).outcome == EmulateOutcome::OK);
    REQUIRE(m.port_log.size() == 2);
    CHECK(m.port_log[1].value == 0xa1);

    // repe cmpsb stops at the first difference.
    s.rip = 0x1000;
    s.gpr[RSI] = 0x10;
    s.gpr[RDI] = 0x20;
    s.gpr[RCX] = 8;
    m.set(0x30023, 1, 0);
    REQUIRE(run_bytes(m, s, {0xf3, 0xa6}).outcome == EmulateOutcome::OK);
    CHECK(s.gpr[RCX] == 4);
    CHECK_FALSE(s.rflags & flag::ZF);
    CHECK(s.gpr[RSI] == 0x14);
}

TEST_CASE("a #PF in the middle of rep movs keeps the completed iterations")
{
    FakeMachine m(0x40000);
    CpuState s = flat32_state(0x1000);
    m.fault_from = 0x30002;  // the 3rd byte of the destination faults
    s.gpr[RSI] = 0x20000;
    s.gpr[RDI] = 0x30000;
    s.gpr[RCX] = 8;
    const auto r = run_bytes(m, s, {0xf3, 0xa4});
    REQUIRE(r.outcome == EmulateOutcome::EXCEPTION);
    CHECK(r.vector == 14);
    CHECK(r.cr2 == 0x30002);
    CHECK(r.error_code == 2);
    CHECK(s.gpr[RCX] == 6);
    CHECK(s.gpr[RDI] == 0x30002);
    CHECK(s.rip == 0x1000);
}

TEST_CASE("cli/sti report the interrupt shadow; hlt; mov ss shadow")
{
    FakeMachine m;
    CpuState s = real_mode_state(0, 0x1000);
    s.rflags &= ~flag::IF;
    auto r = run_bytes(m, s, {0xfb});
    REQUIRE(r.outcome == EmulateOutcome::OK);
    CHECK(r.effects == effect::STI_SHADOW);
    r = run_bytes(m, s, {0xfb});  // IF already set: no new shadow
    CHECK(r.effects == 0);
    r = run_bytes(m, s, {0xf4});
    CHECK(r.effects == effect::HALT);
    CHECK(s.rip == 0x1003);
}
