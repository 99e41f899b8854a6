// The same linear address holding different code in two address spaces (two
// processes of one guest OS): the model decodes blocks to find the
// instructions that exit, and a decode made in one space must not stand for
// the code of another. Found by nothing else: a guest with one address space
// never notices.
#include "tests/engine/fixture.hpp"

namespace xeno::sim::test {

using vmx::ExitReason;

namespace {

constexpr u64 kPdA = 0x20000, kPtA = 0x21000, kPdB = 0x22000, kPtB = 0x23000;
constexpr u64 kCodeA = 0x50000, kCodeB = 0x60000;  // what 0x400000 maps to in each space
constexpr u64 kKernel = 0x10000;

// Two 32-bit address spaces, both with 0-4 MiB identity (a 4 MiB page), and
// 0x400000 -> kCodeA in the first, kCodeB in the second. The kernel runs the
// code at 0x400000 in A, loads B's CR3 (natively: no CR3-load exiting) and
// runs it again; each piece of code returns with JMP EBX.
void setup(Guest& g, std::initializer_list<u8> code_a, std::initializer_list<u8> code_b)
{
    g.flat32(kKernel);
    for (u64 pd : {kPdA, kPdB}) g.mem.store<u32>(pd, 0x00000083);
    g.mem.store<u32>(kPdA + 4, static_cast<u32>(kPtA) | 0x3);
    g.mem.store<u32>(kPdB + 4, static_cast<u32>(kPtB) | 0x3);
    g.mem.store<u32>(kPtA, static_cast<u32>(kCodeA) | 0x1);
    g.mem.store<u32>(kPtB, static_cast<u32>(kCodeB) | 0x1);
    g.vmcs.set(f::GUEST_CR3, kPdA);
    g.vmcs.set(f::GUEST_CR0, 0x80010031);  // PG, WP, NE, ET, PE
    g.vmcs.set(f::GUEST_CR4, 0x2010);      // VMXE, PSE
    g.code(kCodeA, code_a);
    g.code(kCodeB, code_b);
    g.code(kKernel, {
        0xbb, 0x0c, 0x00, 0x01, 0x00,  // mov ebx, kKernel + 0x0c
        0xb8, 0x00, 0x00, 0x40, 0x00,  // mov eax, 0x400000
        0xff, 0xe0,                    // jmp eax (A's code)
        0xb8, 0x00, 0x20, 0x02, 0x00,  // 0x0c: mov eax, kPdB
        0x0f, 0x22, 0xd8,              // mov cr3, eax
        0xbb, 0x20, 0x00, 0x01, 0x00,  // mov ebx, kKernel + 0x20
        0xb8, 0x00, 0x00, 0x40, 0x00,  // mov eax, 0x400000
        0xff, 0xe0,                    // jmp eax (B's code)
        0xf4,                          // 0x20: hlt
    });
}

}  // namespace

TEST_CASE("an exiting instruction where another address space had none at the same linear address exits",
          "[engine][paging]")
{
    Guest g;
    setup(g, {0x90, 0x90, 0xff, 0xe3},   // A: nop; nop; jmp ebx
             {0x0f, 0xa2, 0xff, 0xe3});  // B: cpuid; jmp ebx (the same block size)
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    REQUIRE(g.exits.size() == 2);
    CHECK(g.exits[0].reason == reason(ExitReason::CPUID));
    CHECK(g.exits[0].rip == 0x400000);
    CHECK(g.exits[1].reason == reason(ExitReason::HLT));
    CHECK(g.exits[1].rip == kKernel + 0x20);
}

TEST_CASE("an ordinary instruction where another address space had an exiting one runs natively",
          "[engine][paging]")
{
    Guest g;
    g.regs.gpr[0] = 0;
    setup(g, {0x0f, 0xa2, 0xff, 0xe3},   // A: cpuid; jmp ebx
             {0x40, 0x40, 0xff, 0xe3});  // B: inc eax; inc eax; jmp ebx
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    REQUIRE(g.exits.size() == 2);
    CHECK(g.exits[0].reason == reason(ExitReason::CPUID));
    CHECK(g.exits[1].reason == reason(ExitReason::HLT));
    CHECK((g.regs.gpr[0] & 0xffffffff) == 0x400002);  // B's two INCs ran
}

TEST_CASE("the guest instruction count follows the code of each address space", "[engine][paging]")
{
    Guest g;
    setup(g, {0x90, 0x90, 0x90, 0xff, 0xe3},   // A: nop x3; jmp ebx (4 instructions)
             {0x0f, 0x1f, 0x00, 0xff, 0xe3});  // B: nop dword [eax]; jmp ebx (2, the same 5 bytes)
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    REQUIRE(g.exits.size() == 1);
    // Kernel 3, A 4, kernel 5, B 2 (the HLT exits before it retires).
    CHECK(g.exits[0].instructions == 3 + 4 + 5 + 2);
}

}  // namespace xeno::sim::test

namespace xeno::sim::test {

// Guest self-modifying code (Linux patches its own text at boot, for one):
// a routine run once, then rewritten in place to a CPUID of the same size,
// then run again. Unicorn retranslates the rewritten block; the model must
// decode it again, or the CPUID runs without its exit.
TEST_CASE("code the guest rewrites in place is decoded again", "[engine][paging]")
{
    Guest g;
    g.flat32(kKernel);
    g.code(kKernel, {
        0xe8, 0x1b, 0x00, 0x00, 0x00,                    // call kKernel + 0x20
        0x66, 0xc7, 0x05, 0x20, 0x00, 0x01, 0x00, 0x0f, 0xa2,  // mov word [kKernel + 0x20], 0xa20f
        0xe8, 0x0d, 0x00, 0x00, 0x00,                    // call kKernel + 0x20
        0xf4,                                            // hlt
    });
    g.code(kKernel + 0x20, {0x66, 0x90, 0xc3});          // xchg ax, ax (a 2-byte NOP); ret
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    REQUIRE(g.exits.size() == 2);
    CHECK(g.exits[0].reason == reason(ExitReason::CPUID));
    CHECK(g.exits[0].rip == kKernel + 0x20);
    CHECK(g.exits[1].reason == reason(ExitReason::HLT));
    // call, nop, ret, mov, call, ret (an instruction that exits is the
    // handler's to complete: not counted as executed)
    CHECK(g.exits[1].instructions == 6);
}

}  // namespace xeno::sim::test
