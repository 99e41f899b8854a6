// CMPXCHG8B and CMPXCHG16B, which the model executes itself
// (sim/vmx-model/engine/engine_cmpxchg.cpp): Unicorn's own leaves RFLAGS
// holding the source operand of the last flag-setting instruction of the
// block (here ADD's 0x7ffa0000: VM, IOPL, VIF... set). Each case leaves the
// guest at a HLT right after, whose exit saves RFLAGS in the VMCS.
#include "tests/engine/fixture.hpp"

namespace xeno::sim::test {

using vmx::ExitReason;

namespace {

constexpr u64 kSource = 0x7ffa0000;  // what ADD adds: its bits must not reach RFLAGS
constexpr u64 kAddFlags = 0x6;       // 0 + kSource: PF (low byte 0), reserved bit 1
constexpr u64 kZf = 0x40;
constexpr u64 kOperand = 0x20000;    // the memory operand, 16-byte aligned

enum Gpr { RAX = 0, RCX = 1, RDX = 2, RBX = 3, RDI = 7, R8 = 8, R9 = 9 };

// 64-bit mode, the first 2 MiB identity-mapped and writable, the next 2 MiB
// read-only (CR0.WP set).
void long_mode(Guest& g)
{
    g.flat32(0x10000);
    g.vmcs.set(f::GUEST_CS_AR_BYTES, 0xa09b);  // L=1
    g.vmcs.set(f::VM_ENTRY_CONTROLS, vmx::entry_ctl::IA32E_MODE_GUEST | vmx::entry_ctl::LOAD_EFER);
    g.vmcs.set(f::GUEST_IA32_EFER, 0xd00);
    g.mem.store<u64>(0x30000, 0x31003);
    g.mem.store<u64>(0x31000, 0x32003);
    g.mem.store<u64>(0x32000, 0x000083);
    g.mem.store<u64>(0x32008, 0x200081);  // read-only
    g.vmcs.set(f::GUEST_CR3, 0x30000);
    g.vmcs.set(f::GUEST_CR0, 0x80010031);
    g.vmcs.set(f::GUEST_CR4, 0x2020);
}

void cmpxchg16b_guest(Guest& g, u64 operand)
{
    long_mode(g);
    g.code(0x10000, {
        0x4d, 0x01, 0xc1,        // add r9, r8
        0x48, 0x0f, 0xc7, 0x0f,  // cmpxchg16b [rdi]
        0xf4,                    // hlt
    });
    g.regs.gpr[R8] = kSource;
    g.regs.gpr[R9] = 0;
    g.regs.gpr[RDI] = operand;
    g.regs.gpr[RAX] = 0x1111;
    g.regs.gpr[RDX] = 0x2222;
    g.regs.gpr[RBX] = 0x3333;
    g.regs.gpr[RCX] = 0x4444;
}

}  // namespace

TEST_CASE("CMPXCHG16B: equal operands store RCX:RBX and set ZF; the other flags stay as ADD left them",
          "[engine][cmpxchg]")
{
    Guest g;
    cmpxchg16b_guest(g, kOperand);
    g.mem.store<u64>(kOperand, 0x1111);
    g.mem.store<u64>(kOperand + 8, 0x2222);
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    REQUIRE(g.exits.size() == 1);
    CHECK(g.exits[0].reason == reason(ExitReason::HLT));
    CHECK(g.vmcs.get(f::GUEST_RFLAGS) == (kAddFlags | kZf));
    CHECK(g.mem.load<u64>(kOperand) == 0x3333);
    CHECK(g.mem.load<u64>(kOperand + 8) == 0x4444);
    CHECK(g.regs.gpr[RAX] == 0x1111);
    CHECK(g.regs.gpr[RDX] == 0x2222);
}

TEST_CASE("CMPXCHG16B: different operands load RDX:RAX and clear ZF; memory keeps its value", "[engine][cmpxchg]")
{
    Guest g;
    cmpxchg16b_guest(g, kOperand);
    g.mem.store<u64>(kOperand, 0xaaaa5555aaaa5555ull);
    g.mem.store<u64>(kOperand + 8, 0x2222);
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    REQUIRE(g.exits.size() == 1);
    CHECK(g.vmcs.get(f::GUEST_RFLAGS) == kAddFlags);
    CHECK(g.regs.gpr[RAX] == 0xaaaa5555aaaa5555ull);
    CHECK(g.regs.gpr[RDX] == 0x2222);
    CHECK(g.mem.load<u64>(kOperand) == 0xaaaa5555aaaa5555ull);
    CHECK(g.mem.load<u64>(kOperand + 8) == 0x2222);
}

TEST_CASE("CMPXCHG16B: a misaligned operand raises #GP(0), a read-only page #PF with W set", "[engine][cmpxchg]")
{
    Guest g;
    g.vmcs.set(f::EXCEPTION_BITMAP, (1u << 13) | (1u << 14));
    SECTION("misaligned")
    {
        cmpxchg16b_guest(g, kOperand + 8);
        REQUIRE(g.run() == hal::VmxResult::SUCCEED);
        REQUIRE(g.exits.size() == 1);
        CHECK(g.exits[0].reason == reason(ExitReason::EXCEPTION_NMI));
        CHECK((g.exits[0].intr_info & 0xff) == 13);
        CHECK(g.exits[0].intr_error == 0);
        CHECK(g.exits[0].rip == 0x10003);
    }
    SECTION("read-only")
    {
        cmpxchg16b_guest(g, 0x200000);
        g.mem.store<u64>(0x200000, 0x1111);
        g.mem.store<u64>(0x200008, 0x2222);
        REQUIRE(g.run() == hal::VmxResult::SUCCEED);
        REQUIRE(g.exits.size() == 1);
        CHECK(g.exits[0].reason == reason(ExitReason::EXCEPTION_NMI));
        CHECK((g.exits[0].intr_info & 0xff) == 14);
        CHECK(g.exits[0].intr_error == 0x3);  // present, write
        CHECK(g.exits[0].qualification == 0x200000);
        CHECK(g.mem.load<u64>(0x200000) == 0x1111);
        CHECK(g.regs.gpr[RAX] == 0x1111);
    }
}

TEST_CASE("CMPXCHG8B in 32-bit mode: EDX:EAX against the operand, ECX:EBX stored, the flags ADD left", "[engine][cmpxchg]")
{
    for (const bool equal : {true, false}) {
        INFO("equal " << equal);
        Guest g;
        g.flat32(0x10000);
        g.code(0x10000, {
            0x01, 0xee,        // add esi, ebp
            0x0f, 0xc7, 0x0f,  // cmpxchg8b [edi]
            0xf4,              // hlt
        });
        g.regs.gpr[5] = kSource;  // ebp
        g.regs.gpr[6] = 0;        // esi
        g.regs.gpr[RDI] = kOperand;
        g.regs.gpr[RAX] = 0x1111;
        g.regs.gpr[RDX] = 0x2222;
        g.regs.gpr[RBX] = 0x3333;
        g.regs.gpr[RCX] = 0x4444;
        g.mem.store<u64>(kOperand, equal ? 0x0000222200001111ull : 0x0000777700006666ull);
        REQUIRE(g.run() == hal::VmxResult::SUCCEED);
        REQUIRE(g.exits.size() == 1);
        CHECK(g.exits[0].reason == reason(ExitReason::HLT));
        CHECK(g.vmcs.get(f::GUEST_RFLAGS) == (equal ? kAddFlags | kZf : kAddFlags));
        CHECK(g.mem.load<u64>(kOperand) == (equal ? 0x0000444400003333ull : 0x0000777700006666ull));
        CHECK(g.regs.gpr[RAX] == (equal ? 0x1111u : 0x6666u));
        CHECK(g.regs.gpr[RDX] == (equal ? 0x2222u : 0x7777u));
    }
}

}  // namespace xeno::sim::test
