// Exits at the exact RIP with the SDM's qualification, length and info.
#include "tests/engine/fixture.hpp"

namespace xeno::sim::test {

using vmx::ExitReason;

TEST_CASE("32-bit guest: I/O, CPUID, MSR, VMCALL exits at precise RIPs", "[engine]")
{
    Guest g;
    g.flat32(0x10000);
    g.code(0x10000, {
        0x66, 0xba, 0xf8, 0x03,        // 10000 mov dx, 0x3f8
        0xb0, 0x41,                    // 10004 mov al, 'A'
        0xee,                          // 10006 out dx, al
        0xe4, 0x60,                    // 10007 in al, 0x60
        0x0f, 0xa2,                    // 10009 cpuid
        0xb9, 0x10, 0x00, 0x00, 0x00,  // 1000b mov ecx, 0x10
        0x0f, 0x32,                    // 10010 rdmsr
        0x66, 0xef,                    // 10012 out dx, ax
        0x0f, 0x01, 0xc1,              // 10014 vmcall
    });
    g.on_exit = [](Guest& gg, const RecordedExit& e) {
        if (e.reason == reason(ExitReason::IO_INSTRUCTION) && (e.qualification & 8)) gg.regs.gpr[0] = 0x99;
        if (e.reason == reason(ExitReason::VMCALL)) return hal::ExitAction::YIELD;
        gg.live_write(f::GUEST_RIP.kEncoding, e.rip + e.length);
        return hal::ExitAction::RESUME;
    };
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    REQUIRE(g.exits.size() == 6);
    CHECK(g.exits[0].reason == reason(ExitReason::IO_INSTRUCTION));
    CHECK(g.exits[0].rip == 0x10006);
    CHECK(g.exits[0].length == 1);
    CHECK(g.exits[0].qualification == 0x03f80000);  // OUT, 1 byte, DX
    CHECK(g.exits[1].rip == 0x10007);
    CHECK(g.exits[1].length == 2);
    CHECK(g.exits[1].qualification == 0x00600048);  // IN, 1 byte, immediate port 0x60
    CHECK(g.exits[2].reason == reason(ExitReason::CPUID));
    CHECK(g.exits[2].rip == 0x10009);
    CHECK(g.exits[2].length == 2);
    CHECK(g.exits[3].reason == reason(ExitReason::MSR_READ));
    CHECK(g.exits[3].rip == 0x10010);
    CHECK(g.exits[4].qualification == 0x03f80001);  // OUT, 2 bytes
    CHECK(g.exits[4].length == 2);
    CHECK(g.exits[5].reason == reason(ExitReason::VMCALL));
    CHECK(g.exits[5].rip == 0x10014);
    CHECK(g.exits[5].length == 3);
    // The IN result written by the handler reached the guest (AL = 0x99).
    CHECK((g.regs.gpr[0] & 0xff) == 0x99);
    CHECK(g.vmcs.get(f::GUEST_RIP) == 0x10014);
}

}  // namespace xeno::sim::test

namespace xeno::sim::test {

TEST_CASE("handler writes of segment state take the full re-entry path", "[engine]")
{
    Guest g;
    g.flat32(0x10000);
    g.mem.store<u32>(0x200010, 0xabcd1234);
    g.code(0x10000, {
        0xe6, 0x80,                    // out 0x80, al   -> handler sets DS.base = 0x200000
        0xa1, 0x10, 0x00, 0x00, 0x00,  // mov eax, [0x10]
        0xf4,
    });
    g.on_exit = [](Guest& gg, const RecordedExit& e) {
        if (e.reason == reason(vmx::ExitReason::HLT)) return hal::ExitAction::YIELD;
        CHECK(gg.live(f::GUEST_DS_BASE.kEncoding) == 0);
        gg.live_write(f::GUEST_DS_BASE.kEncoding, 0x200000);
        CHECK(gg.live(f::GUEST_DS_BASE.kEncoding) == 0x200000);
        gg.live_write(f::GUEST_RIP.kEncoding, e.rip + e.length);
        return hal::ExitAction::RESUME;
    };
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    REQUIRE(g.exits.size() == 2);
    CHECK((g.regs.gpr[0] & 0xffffffff) == 0xabcd1234);
    CHECK(g.vmcs.get(f::GUEST_DS_BASE) == 0x200000);
}

TEST_CASE("code rewritten by the hypervisor is decoded again", "[engine]")
{
    Guest g;
    g.flat32(0x10000);
    g.code(0x10000, {0xe6, 0x80, 0xf4});
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);  // OUT exit, then HLT
    REQUIRE(g.exits.size() == 2);
    g.code(0x10000, {0x0f, 0xa2, 0xf4});            // cpuid; hlt
    g.engine.memory_written(0x10000, 3);
    g.vmcs.set(f::GUEST_RIP, 0x10000);
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    REQUIRE(g.exits.size() == 4);
    CHECK(g.exits[2].reason == reason(vmx::ExitReason::CPUID));
    CHECK(g.exits[2].length == 2);
}

}  // namespace xeno::sim::test

namespace xeno::sim::test {

TEST_CASE("REP OUTSB: string I/O qualification, instruction info and linear address", "[engine]")
{
    Guest g;
    g.flat32(0x10000);
    g.regs.gpr[6] = 0x3000;  // ESI
    g.regs.gpr[1] = 5;       // ECX
    g.code(0x10000, {0x66, 0xba, 0xf8, 0x03, 0xf3, 0x6e, 0xf4});  // mov dx, 0x3f8; rep outsb; hlt
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    REQUIRE(g.exits.size() == 2);
    CHECK(g.exits[0].rip == 0x10004);
    CHECK(g.exits[0].length == 2);
    CHECK(g.exits[0].qualification == (0x03f80000u | 0x10 | 0x20));  // OUT, byte, string, REP, DX
    CHECK(g.exits[0].info == ((1u << 7) | (3u << 15)));             // 32-bit addresses, DS
    CHECK(g.exits[0].gla == 0x3000);
    CHECK(g.vmcs.get(f::IO_RCX) == 5);
}

TEST_CASE("a fault while delivering INT n exits with IDT-vectoring information", "[engine][events]")
{
    Guest g;
    g.flat32(0x10000);
    g.vmcs.set(f::GUEST_IDTR_LIMIT, 0xff);  // gate 0x40 lies beyond the limit
    g.vmcs.set(f::EXCEPTION_BITMAP, 1u << vmx::vector::GP);
    g.code(0x10000, {0x90, 0xcd, 0x40, 0xf4});
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    REQUIRE(g.exits.size() == 1);
    CHECK(g.exits[0].reason == reason(vmx::ExitReason::EXCEPTION_NMI));
    CHECK(g.exits[0].rip == 0x10001);
    CHECK(g.exits[0].intr_info == 0x80000b0du);       // #GP with error code
    CHECK(g.exits[0].intr_error == 0x40 * 8 + 2);      // IDT, not external
    CHECK(g.vmcs.get(f::IDT_VECTORING_INFO_FIELD) == 0x80000440u);  // software interrupt 0x40
}

}  // namespace xeno::sim::test
