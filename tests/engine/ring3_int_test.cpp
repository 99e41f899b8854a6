// Privilege-level changes on event delivery from ring 3 (SDM Vol. 3A 6.12.1):
// a #PF taken in ring 3 and returned from, then INT n through a DPL-3 gate.
// The scenarios' ring-3 code returns to its kernel this way; the model once
// resumed at the INT in ring 0 instead of at the handler.
#include "tests/engine/fixture.hpp"

namespace xeno::sim::test {

using vmx::ExitReason;

namespace {

constexpr u64 kGdt = 0x500, kTss = 0x600;
constexpr u64 kPd = 0x20000, kPt = 0x21000;
constexpr u64 kKernel = 0x10000, kPfHandler = 0x11000, kIntHandler = 0x12000;
constexpr u64 kUserCode = 0x30000, kUserStackTop = 0x32000, kUserData = 0x33000;
constexpr u64 kPfCount = 0x34000;  // the #PF handler's count, last CR2; the INT handler's EIP seen
constexpr u32 kEsp0 = 0x9000;
constexpr u16 kKernelCs = 0x08, kKernelDs = 0x10, kUserCs = 0x23, kUserDs = 0x2b;

void interrupt_gate(Guest& g, u8 vector, u32 offset, unsigned dpl)
{
    const u64 at = vector * 8u;
    g.mem.store<u32>(at, (u32{kKernelCs} << 16) | (offset & 0xffff));
    g.mem.store<u32>(at + 4, (offset & 0xffff0000) | 0x8e00 | (dpl << 13));
}

// 32-bit paging over the first 4 MiB, identity, supervisor; the user code and
// stack pages are user pages and kUserData is not present until the #PF
// handler maps it. GDT with ring-0 and ring-3 flat segments and a TSS whose
// SS0:ESP0 is the ring-0 stack for the INT from ring 3.
void setup(Guest& g, bool ept)
{
    g.flat32(kKernel);
    for (u32 i = 0; i < 0x400; ++i) g.mem.store<u32>(kPt + i * 4, (i << 12) | 0x3);
    g.mem.store<u32>(kPt + (kUserCode >> 12) * 4, static_cast<u32>(kUserCode) | 0x7);
    g.mem.store<u32>(kPt + ((kUserStackTop - 1) >> 12) * 4, static_cast<u32>(kUserStackTop - 0x1000) | 0x7);
    g.mem.store<u32>(kPt + (kUserData >> 12) * 4, 0);
    g.mem.store<u32>(kPd, static_cast<u32>(kPt) | 0x7);
    g.vmcs.set(f::GUEST_CR3, kPd);
    g.vmcs.set(f::GUEST_CR0, 0x80010031);  // PG, WP, NE, ET, PE

    g.mem.store<u64>(kGdt + 0x08, 0x00cf9b000000ffffull);  // ring-0 code
    g.mem.store<u64>(kGdt + 0x10, 0x00cf93000000ffffull);  // ring-0 data
    g.mem.store<u64>(kGdt + 0x18, 0x00008b0006000067ull);  // busy TSS at kTss
    g.mem.store<u64>(kGdt + 0x20, 0x00cffb000000ffffull);  // ring-3 code
    g.mem.store<u64>(kGdt + 0x28, 0x00cff3000000ffffull);  // ring-3 data
    g.vmcs.set(f::GUEST_GDTR_LIMIT, 0x2f);
    g.vmcs.set(f::GUEST_TR_BASE, kTss);
    g.mem.store<u32>(kTss + 4, kEsp0);
    g.mem.store<u32>(kTss + 8, kKernelDs);

    interrupt_gate(g, vmx::vector::PF, kPfHandler, 0);
    interrupt_gate(g, 0x30, kIntHandler, 3);
    // Anything unexpected exits instead of running on.
    g.vmcs.set(f::EXCEPTION_BITMAP, (1u << vmx::vector::GP) | (1u << vmx::vector::UD) | (1u << vmx::vector::DF) |
                                        (1u << vmx::vector::NP) | (1u << vmx::vector::TS) | (1u << vmx::vector::SS));

    if (ept) {
        // Identity EPT over the first 2 MiB (RWX, write-back 2 MiB page).
        g.vmcs.set(f::CPU_BASED_VM_EXEC_CONTROL, vmx::proc::HLT_EXITING | vmx::proc::ACTIVATE_SECONDARY_CONTROLS);
        g.vmcs.set(f::SECONDARY_VM_EXEC_CONTROL, vmx::proc2::ENABLE_EPT);
        g.mem.store<u64>(0x100000, 0x101007);
        g.mem.store<u64>(0x101000, 0x102007);
        g.mem.store<u64>(0x102000, 0x000000 | 0x87 | (6u << 3));
        g.vmcs.set(f::EPT_POINTER, 0x100000 | 0x18 | 6);
    }

    g.code(kKernel, {
        0x6a, kUserDs,                                   // push USER_DS
        0x68, 0x00, 0x20, 0x03, 0x00,                    // push kUserStackTop
        0x6a, 0x02,                                      // push 2 (EFLAGS)
        0x6a, kUserCs,                                   // push USER_CS
        0x68, 0x00, 0x00, 0x03, 0x00,                    // push kUserCode
        0xcf,                                            // iretd -> ring 3
    });
    g.code(kPfHandler, {
        0xff, 0x05, 0x00, 0x40, 0x03, 0x00,                          // inc dword [kPfCount]
        0x0f, 0x20, 0xd0,                                            // mov eax, cr2
        0xa3, 0x04, 0x40, 0x03, 0x00,                                // mov [kPfCount + 4], eax
        0xc7, 0x05, 0xcc, 0x10, 0x02, 0x00, 0x07, 0x30, 0x03, 0x00,  // mov dword [PTE of kUserData], kUserData|URW P
        0x83, 0xc4, 0x04,                                            // add esp, 4 (error code)
        0xcf,                                                        // iretd -> ring 3, retry
    });
    g.code(kIntHandler, {
        0x60,                          // pushad: the handler's first accesses, to its stack
        0x8b, 0x44, 0x24, 0x20,        // mov eax, [esp + 32] (the frame's EIP)
        0xa3, 0x08, 0x40, 0x03, 0x00,  // mov [kPfCount + 8], eax
        0x61,                          // popad
        0xf4,                          // hlt: the exit shows where and at which CPL the INT arrived
    });
    g.code(kUserCode, {
        0xc7, 0x05, 0x00, 0x30, 0x03, 0x00, 0x34, 0x12, 0x00, 0x00,  // mov dword [kUserData], 0x1234 (#PF first)
        0xcd, 0x30,                                                  // int 0x30
        0x0f, 0x0b,                                                  // ud2: never reached
    });
}

}  // namespace

TEST_CASE("INT n from ring 3 after a ring-3 #PF was handled runs the handler at CPL 0 on the TSS stack",
          "[engine][events]")
{
    const bool ept = GENERATE(false, true);
    CAPTURE(ept);
    Guest g;
    g.max_exits = 8;
    setup(g, ept);
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    REQUIRE(g.exits.size() == 1);
    CHECK(g.exits[0].reason == reason(ExitReason::HLT));
    CHECK(g.exits[0].rip == kIntHandler + 11);
    CHECK(g.mem.load<u32>(kUserData) == 0x1234);  // the #PF was fixed and the store retried
    // Exactly one #PF, the user store's: nothing spurious while the handler runs.
    CHECK(g.mem.load<u32>(kPfCount) == 1);
    CHECK(g.mem.load<u32>(kPfCount + 4) == kUserData);
    CHECK(g.mem.load<u32>(kPfCount + 8) == kUserCode + 12);

    CHECK(g.vmcs.get(f::GUEST_CS_SELECTOR) == kKernelCs);
    CHECK((g.vmcs.get(f::GUEST_CS_AR_BYTES) & 0x60) == 0);  // DPL 0: CPL 0
    CHECK(g.vmcs.get(f::GUEST_SS_SELECTOR) == kKernelDs);
    CHECK((g.vmcs.get(f::GUEST_SS_AR_BYTES) & 0x60) == 0);
    const u64 esp = g.vmcs.get(f::GUEST_RSP);
    CHECK(esp == kEsp0 - 20);
    // The frame (6.12.1, Figure 6-4): EIP after the INT, CS, EFLAGS, ESP, SS of ring 3.
    CHECK(g.mem.load<u32>(kEsp0 - 20) == kUserCode + 12);
    CHECK(g.mem.load<u32>(kEsp0 - 16) == kUserCs);
    CHECK((g.mem.load<u32>(kEsp0 - 12) & 0x3) == 0x2);
    CHECK(g.mem.load<u32>(kEsp0 - 8) == kUserStackTop);
    CHECK(g.mem.load<u32>(kEsp0 - 4) == kUserDs);
    CHECK(!(g.vmcs.get(f::GUEST_RFLAGS) & 0x200));  // interrupt gate: IF clear
}

}  // namespace xeno::sim::test
