// Real mode and protected mode execution with the segment state of the VMCS;
// exact instruction counts; the state saved back into the VMCS.
#include "tests/engine/fixture.hpp"

namespace xeno::sim::test {

using vmx::ExitReason;

TEST_CASE("real-mode guest runs at CS:IP with real-mode segment semantics", "[engine]")
{
    Guest g;
    g.real_mode(0x1000, 0x0100);  // linear 0x10100
    g.mem.store<u16>(0x2345 * 16 + 0x10, 0xbeef);
    g.code(0x10100, {
        0xb8, 0x45, 0x23,        // 0100 mov ax, 0x2345
        0x8e, 0xd8,              // 0103 mov ds, ax
        0xa1, 0x10, 0x00,        // 0105 mov ax, [0x10]   -> 0xbeef through DS base 0x23450
        0xe6, 0x80,              // 0108 out 0x80, al
        0xf4,                    // 010a hlt
    });
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    REQUIRE(g.exits.size() == 2);
    CHECK(g.exits[0].reason == reason(ExitReason::IO_INSTRUCTION));
    CHECK(g.exits[0].rip == 0x108);
    CHECK(g.exits[0].qualification == 0x00800040);
    CHECK(g.exits[1].reason == reason(ExitReason::HLT));
    CHECK(g.exits[1].rip == 0x10a);
    CHECK(g.exits[1].length == 1);
    CHECK((g.regs.gpr[0] & 0xffff) == 0xbeef);
    // State saved to the VMCS: DS loaded real-mode style.
    CHECK(g.vmcs.get(f::GUEST_DS_SELECTOR) == 0x2345);
    CHECK(g.vmcs.get(f::GUEST_DS_BASE) == 0x23450);
    CHECK(g.vmcs.get(f::GUEST_CS_BASE) == 0x10000);
    CHECK(g.vmcs.get(f::GUEST_CS_AR_BYTES) == 0x9b);
    CHECK(g.vmcs.get(f::GUEST_RIP) == 0x10a);
    CHECK(g.engine.guest_instructions() == 3);  // the OUT and HLT exited: not executed
}

TEST_CASE("segment hidden state round-trips through the VMCS", "[engine]")
{
    Guest g;
    g.flat32(0x10000);
    g.vmcs.set(f::GUEST_FS_BASE, 0x123000);
    g.vmcs.set(f::GUEST_FS_LIMIT, 0xfff);
    g.vmcs.set(f::GUEST_GS_AR_BYTES, vmx::ar::UNUSABLE | 0x93);
    g.code(0x10000, {0xf4});
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    CHECK(g.vmcs.get(f::GUEST_FS_BASE) == 0x123000);
    CHECK(g.vmcs.get(f::GUEST_FS_LIMIT) == 0xfff);
    CHECK(g.vmcs.get(f::GUEST_CS_AR_BYTES) == 0xc09b);
    CHECK((g.vmcs.get(f::GUEST_GS_AR_BYTES) & vmx::ar::UNUSABLE) != 0);
    CHECK(g.vmcs.get(f::GUEST_TR_AR_BYTES) == 0x8b);
    CHECK((g.vmcs.get(f::GUEST_LDTR_AR_BYTES) & vmx::ar::UNUSABLE) != 0);
    CHECK(g.vmcs.get(f::GUEST_GDTR_BASE) == 0x500);
    CHECK(g.vmcs.get(f::GUEST_IDTR_LIMIT) == 0x3ff);
}

TEST_CASE("instruction counts are exact and two runs are identical", "[engine]")
{
    auto once = [] {
        Guest g;
        g.flat32(0x10000);
        g.code(0x10000, {
            0xb9, 0xe8, 0x03, 0x00, 0x00,  // mov ecx, 1000
            0x49,                          // l: dec ecx
            0x75, 0xfd,                    // jnz l
            0xe6, 0x80,                    // out 0x80, al
            0xb9, 0x0a, 0x00, 0x00, 0x00,  // mov ecx, 10
            0x49, 0x75, 0xfd,              // l2: dec ecx; jnz l2
            0xf4,                          // hlt
        });
        REQUIRE(g.run() == hal::VmxResult::SUCCEED);
        REQUIRE(g.exits.size() == 2);
        CHECK(g.exits[0].instructions == 2001);
        CHECK(g.engine.guest_instructions() == 2001 + 1 + 20);
        CHECK(g.engine.exit_count() == 2);
        return std::vector<u64>{g.engine.guest_instructions(), g.engine.vtime_ns(), g.exits[0].instructions};
    };
    CHECK(once() == once());
}

TEST_CASE("a 32-bit guest switches itself to real mode and back", "[engine]")
{
    Guest g;
    g.flat32(0x10000);
    // GDT at 0x500: null, code32 (0x08), data32 (0x10), code16 (0x18), data16 (0x20).
    g.mem.store<u64>(0x508, 0x00cf9b000000ffffull);
    g.mem.store<u64>(0x510, 0x00cf93000000ffffull);
    g.mem.store<u64>(0x518, 0x00009b010000ffffull);  // base 0x10000
    g.mem.store<u64>(0x520, 0x000093000000ffffull);
    g.vmcs.set(f::GUEST_GDTR_LIMIT, 0x27);
    g.vmcs.set(f::CPU_BASED_VM_EXEC_CONTROL, vmx::proc::HLT_EXITING | vmx::proc::UNCONDITIONAL_IO_EXITING |
                                              vmx::proc::ACTIVATE_SECONDARY_CONTROLS);
    g.vmcs.set(f::SECONDARY_VM_EXEC_CONTROL, vmx::proc2::UNRESTRICTED_GUEST);
    g.code(0x10000, {
        0xea, 0x07, 0x00, 0x00, 0x00, 0x18, 0x00,  // 10000 jmp far 0x18:0x0007 (16-bit code)
        // 16-bit protected mode now
        0xb8, 0x20, 0x00,                          // 10007 mov ax, 0x20
        0x8e, 0xd8,                                // 1000a mov ds, ax
        0x0f, 0x20, 0xc0,                          // 1000c mov eax, cr0
        0x66, 0x83, 0xe0, 0xfe,                    // 1000f and eax, ~1
        0x0f, 0x22, 0xc0,                          // 10013 mov cr0, eax   (real mode)
        0xea, 0x1d, 0x00, 0x00, 0x10,              // 10016 jmp far 0x1000:0x001d
        0x90, 0x90,                                // 1001b
        0xe6, 0x81,                                // 1001d out 0x81, al (real mode, CS=0x1000)
        0xf4,                                      // 1001f hlt
    });
    g.vmcs.set(f::CR0_GUEST_HOST_MASK, 0);
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    for (auto& e : g.exits) UNSCOPED_INFO("exit " << e.reason << " rip " << std::hex << e.rip << " intr " << e.intr_info);
    REQUIRE(g.exits.size() == 2);
    CHECK(g.exits[0].reason == reason(ExitReason::IO_INSTRUCTION));
    CHECK(g.exits[0].rip == 0x1d);
    CHECK(g.exits[1].rip == 0x1f);
    CHECK(g.vmcs.get(f::GUEST_CS_SELECTOR) == 0x1000);
    CHECK(g.vmcs.get(f::GUEST_CS_BASE) == 0x10000);
    CHECK((g.vmcs.get(f::GUEST_CR0) & 1) == 0);
}

}  // namespace xeno::sim::test

namespace xeno::sim::test {

TEST_CASE("virtual-8086 guest: segment arithmetic, privileged HLT faults before exiting", "[engine]")
{
    Guest g;
    g.flat32(0x0);
    // v8086: RFLAGS.VM, every segment AR 0xf3 with base = selector << 4.
    const u32 seg[6][4] = {
        {f::GUEST_ES_SELECTOR.kEncoding, f::GUEST_ES_BASE.kEncoding, f::GUEST_ES_LIMIT.kEncoding, f::GUEST_ES_AR_BYTES.kEncoding},
        {f::GUEST_CS_SELECTOR.kEncoding, f::GUEST_CS_BASE.kEncoding, f::GUEST_CS_LIMIT.kEncoding, f::GUEST_CS_AR_BYTES.kEncoding},
        {f::GUEST_SS_SELECTOR.kEncoding, f::GUEST_SS_BASE.kEncoding, f::GUEST_SS_LIMIT.kEncoding, f::GUEST_SS_AR_BYTES.kEncoding},
        {f::GUEST_DS_SELECTOR.kEncoding, f::GUEST_DS_BASE.kEncoding, f::GUEST_DS_LIMIT.kEncoding, f::GUEST_DS_AR_BYTES.kEncoding},
        {f::GUEST_FS_SELECTOR.kEncoding, f::GUEST_FS_BASE.kEncoding, f::GUEST_FS_LIMIT.kEncoding, f::GUEST_FS_AR_BYTES.kEncoding},
        {f::GUEST_GS_SELECTOR.kEncoding, f::GUEST_GS_BASE.kEncoding, f::GUEST_GS_LIMIT.kEncoding, f::GUEST_GS_AR_BYTES.kEncoding},
    };
    for (auto& s : seg) g.segment(s[0], s[1], s[2], s[3], 0x2000, 0x20000, 0xffff, 0xf3);
    g.vmcs.set(f::GUEST_RFLAGS, 0x20002);
    g.vmcs.set(f::GUEST_RIP, 0x100);
    g.vmcs.set(f::GUEST_RSP, 0x1000);
    g.vmcs.set(f::EXCEPTION_BITMAP, 1u << vmx::vector::GP);
    g.mem.store<u16>(0x20050, 0x4242);
    g.code(0x20100, {0xa1, 0x50, 0x00, 0xf4});  // mov ax, [0x50]; hlt (CPL 3: #GP)
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    REQUIRE(g.exits.size() == 1);
    CHECK((g.regs.gpr[0] & 0xffff) == 0x4242);
    CHECK(g.exits[0].reason == reason(ExitReason::EXCEPTION_NMI));
    CHECK(g.exits[0].intr_info == 0x80000b0du);
    CHECK(g.exits[0].rip == 0x103);
    CHECK(g.vmcs.get(f::GUEST_RFLAGS) & 0x20000);
    CHECK(g.vmcs.get(f::GUEST_CS_AR_BYTES) == 0xf3);
}

}  // namespace xeno::sim::test

namespace xeno::sim::test {

// SDM Vol. 3A 10.8.5: setting CR0.PG with EFER.LME = 1 and CR4.PAE = 0 is
// #GP(0); CR0 and EFER.LMA stay as they were.
TEST_CASE("MOV CR0 that turns paging on with EFER.LME and without CR4.PAE is #GP", "[engine]")
{
    Guest g;
    g.flat32(0x10000);
    g.vmcs.set(f::CPU_BASED_VM_EXEC_CONTROL, vmx::proc::HLT_EXITING | vmx::proc::ACTIVATE_SECONDARY_CONTROLS);
    g.vmcs.set(f::SECONDARY_VM_EXEC_CONTROL, vmx::proc2::UNRESTRICTED_GUEST);
    g.vmcs.set(f::CR0_GUEST_HOST_MASK, 0);
    g.vmcs.set(f::VM_ENTRY_CONTROLS, g.vmcs.get(f::VM_ENTRY_CONTROLS) | vmx::entry_ctl::LOAD_EFER);
    g.vmcs.set(f::GUEST_IA32_EFER, 0x100);  // LME
    g.vmcs.set(f::EXCEPTION_BITMAP, 1u << vmx::vector::GP);
    g.code(0x10000, {
        0x0f, 0x20, 0xc0,              // mov eax, cr0
        0x0d, 0x00, 0x00, 0x00, 0x80,  // or eax, 0x80000000
        0x0f, 0x22, 0xc0,              // mov cr0, eax
        0xf4,
    });
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    REQUIRE(g.exits.size() == 1);
    CHECK(g.exits[0].reason == reason(ExitReason::EXCEPTION_NMI));
    CHECK((g.exits[0].intr_info & 0xff) == vmx::vector::GP);
    CHECK(g.exits[0].rip == 0x10008);
    CHECK((g.vmcs.get(f::GUEST_CR0) & (u64{1} << 31)) == 0);
    CHECK((g.vmcs.get(f::GUEST_IA32_EFER) & 0x400) == 0);
}

}  // namespace xeno::sim::test
