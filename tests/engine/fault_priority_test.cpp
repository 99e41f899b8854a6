// Faults that come before a VM exit (SDM Vol. 3C 26.1.1: invalid-opcode
// exceptions and faults based on privilege level) and the one exit that
// comes before them (MOV DR, 26.1.3), as each instruction's Operation
// section orders them (SDM Vol. 2 and Vol. 3C 31.3).
#include "tests/engine/fixture.hpp"

namespace xeno::sim::test {

using vmx::ExitReason;

namespace {

constexpr u32 kUd = vmx::vector::UD, kGp = vmx::vector::GP;

// Every exception exits, so a fault shows as EXCEPTION_NMI with its vector.
void fault_exits(Guest& g)
{
    g.vmcs.set(f::EXCEPTION_BITMAP, 0xffffffffu);
}

u32 vector_of(const RecordedExit& e) { return e.intr_info & 0xff; }

// Virtual-8086 mode (CPL 3) at 0x2000:ip: segments at 0x20000, AR 0xf3.
void vm86(Guest& g, u16 ip)
{
    g.flat32(0);
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
    g.vmcs.set(f::GUEST_RIP, ip);
    g.vmcs.set(f::GUEST_RSP, 0x1000);
}

// IA-32e mode with identity-mapped 2 MiB: 64-bit code (CS.L = 1) or
// compatibility mode (CS.L = 0, 32-bit).
void ia32e(Guest& g, u64 rip, bool long64)
{
    g.flat32(rip);
    g.vmcs.set(f::GUEST_CS_AR_BYTES, long64 ? 0xa09b : 0xc09b);
    g.vmcs.set(f::VM_ENTRY_CONTROLS, vmx::entry_ctl::IA32E_MODE_GUEST | vmx::entry_ctl::LOAD_EFER);
    g.vmcs.set(f::GUEST_IA32_EFER, 0x500);  // LMA, LME
    g.mem.store<u64>(0x30000, 0x31003);
    g.mem.store<u64>(0x31000, 0x32003);
    g.mem.store<u64>(0x32000, 0x000083);
    g.vmcs.set(f::GUEST_CR3, 0x30000);
    g.vmcs.set(f::GUEST_CR0, 0x80010031);
    g.vmcs.set(f::GUEST_CR4, 0x2020);
}

void with_secondary(Guest& g, u32 proc2)
{
    g.vmcs.set(f::CPU_BASED_VM_EXEC_CONTROL,
               g.vmcs.get(f::CPU_BASED_VM_EXEC_CONTROL) | vmx::proc::ACTIVATE_SECONDARY_CONTROLS);
    g.vmcs.set(f::SECONDARY_VM_EXEC_CONTROL, g.vmcs.get(f::SECONDARY_VM_EXEC_CONTROL) | proc2);
}

}  // namespace

TEST_CASE("VMX instructions raise #UD in real mode, virtual-8086 and compatibility mode; VMCALL exits",
          "[engine][fault-priority]")
{
    const std::initializer_list<u8> vmread = {0x0f, 0x78, 0xc8, 0xf4};  // vmread eax, ecx
    SECTION("real mode")
    {
        Guest g;
        g.real_mode(0x1000, 0x100);
        fault_exits(g);
        g.code(0x10100, vmread);
        REQUIRE(g.run() == hal::VmxResult::SUCCEED);
        REQUIRE(g.exits.size() == 1);
        CHECK(g.exits[0].reason == reason(ExitReason::EXCEPTION_NMI));
        CHECK(vector_of(g.exits[0]) == kUd);
    }
    SECTION("virtual-8086 mode: VMXON")
    {
        Guest g;
        vm86(g, 0x100);
        fault_exits(g);
        g.code(0x20100, {0xf3, 0x0f, 0xc7, 0x36, 0x00, 0x10});  // vmxon [0x1000]
        REQUIRE(g.run() == hal::VmxResult::SUCCEED);
        REQUIRE(g.exits.size() == 1);
        CHECK(g.exits[0].reason == reason(ExitReason::EXCEPTION_NMI));
        CHECK(vector_of(g.exits[0]) == kUd);
    }
    SECTION("compatibility mode: INVEPT")
    {
        Guest g;
        ia32e(g, 0x10000, false);
        fault_exits(g);
        g.code(0x10000, {0x66, 0x0f, 0x38, 0x80, 0x08, 0xf4});  // invept ecx, [eax]
        REQUIRE(g.run() == hal::VmxResult::SUCCEED);
        REQUIRE(g.exits.size() == 1);
        CHECK(g.exits[0].reason == reason(ExitReason::EXCEPTION_NMI));
        CHECK(vector_of(g.exits[0]) == kUd);
    }
    SECTION("64-bit mode and protected mode: the exit")
    {
        Guest g;
        ia32e(g, 0x10000, true);
        fault_exits(g);
        g.code(0x10000, {0x0f, 0x78, 0xc8, 0xf4});
        REQUIRE(g.run() == hal::VmxResult::SUCCEED);
        REQUIRE(g.exits.size() == 2);
        CHECK(g.exits[0].reason == reason(ExitReason::VMREAD));
        Guest p;
        p.flat32(0x10000);
        fault_exits(p);
        p.code(0x10000, vmread);
        REQUIRE(p.run() == hal::VmxResult::SUCCEED);
        CHECK(p.exits[0].reason == reason(ExitReason::VMREAD));
    }
    SECTION("VMCALL exits even in real mode")
    {
        Guest g;
        g.real_mode(0x1000, 0x100);
        fault_exits(g);
        g.code(0x10100, {0x0f, 0x01, 0xc1});
        REQUIRE(g.run() == hal::VmxResult::SUCCEED);
        CHECK(g.exits[0].reason == reason(ExitReason::VMCALL));
    }
}

TEST_CASE("VMFUNC raises #UD unless \"enable VM functions\" is set", "[engine][fault-priority]")
{
    Guest g;
    g.flat32(0x10000);
    fault_exits(g);
    g.code(0x10000, {0x31, 0xc0, 0x0f, 0x01, 0xd4, 0xf4});  // xor eax, eax; vmfunc
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    REQUIRE(g.exits.size() == 1);
    CHECK(g.exits[0].reason == reason(ExitReason::EXCEPTION_NMI));
    CHECK(vector_of(g.exits[0]) == kUd);
    CHECK(g.exits[0].rip == 0x10002);

    // Enabled, with no VM function enabled in the VM-function controls: exits.
    Guest h;
    h.flat32(0x10000);
    fault_exits(h);
    with_secondary(h, vmx::proc2::ENABLE_VMFUNC);
    h.code(0x10000, {0x31, 0xc0, 0x0f, 0x01, 0xd4, 0xf4});
    REQUIRE(h.run() == hal::VmxResult::SUCCEED);
    CHECK(h.exits[0].reason == reason(ExitReason::VMFUNC));
    CHECK(h.exits[0].length == 3);
}

TEST_CASE("XSETBV: #UD without CR4.OSXSAVE, #GP(0) at CPL 3, else the exit", "[engine][fault-priority]")
{
    const std::initializer_list<u8> xsetbv = {0x0f, 0x01, 0xd1, 0xf4};
    Guest g;
    g.flat32(0x10000);  // CR4 = VMXE only
    fault_exits(g);
    g.code(0x10000, xsetbv);
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    REQUIRE(g.exits.size() == 1);
    CHECK(vector_of(g.exits[0]) == kUd);

    Guest v;
    vm86(v, 0x100);
    v.vmcs.set(f::GUEST_CR4, 0x2000 | (1u << 18));
    fault_exits(v);
    v.code(0x20100, xsetbv);
    REQUIRE(v.run() == hal::VmxResult::SUCCEED);
    REQUIRE(v.exits.size() == 1);
    CHECK(vector_of(v.exits[0]) == kGp);
    CHECK(v.exits[0].intr_error == 0);

    Guest ok;
    ok.flat32(0x10000);
    ok.vmcs.set(f::GUEST_CR4, 0x2000 | (1u << 18));
    fault_exits(ok);
    ok.code(0x10000, xsetbv);
    REQUIRE(ok.run() == hal::VmxResult::SUCCEED);
    CHECK(ok.exits[0].reason == reason(ExitReason::XSETBV));
}

TEST_CASE("GETSEC raises #UD without CR4.SMXE", "[engine][fault-priority]")
{
    Guest g;
    g.flat32(0x10000);
    fault_exits(g);
    g.code(0x10000, {0x0f, 0x37, 0xf4});
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    REQUIRE(g.exits.size() == 1);
    CHECK(vector_of(g.exits[0]) == kUd);

    Guest s;
    s.flat32(0x10000);
    s.vmcs.set(f::GUEST_CR4, 0x2000 | (1u << 14));
    fault_exits(s);
    s.code(0x10000, {0x0f, 0x37, 0xf4});
    REQUIRE(s.run() == hal::VmxResult::SUCCEED);
    CHECK(s.exits[0].reason == reason(ExitReason::GETSEC));
}

TEST_CASE("MONITOR/MWAIT at CPL 3 raise #UD and RDPMC #GP(0) before their exits", "[engine][fault-priority]")
{
    const u32 exiting = vmx::proc::HLT_EXITING | vmx::proc::MONITOR_EXITING | vmx::proc::MWAIT_EXITING |
                        vmx::proc::RDPMC_EXITING;
    struct Case {
        std::initializer_list<u8> code;
        u32 vector;
    };
    for (const Case& c : {Case{{0x0f, 0x01, 0xc8}, kUd}, Case{{0x0f, 0x01, 0xc9}, kUd}, Case{{0x0f, 0x33}, kGp}}) {
        Guest g;
        vm86(g, 0x100);
        g.vmcs.set(f::CPU_BASED_VM_EXEC_CONTROL, exiting);
        fault_exits(g);
        g.code(0x20100, c.code);
        REQUIRE(g.run() == hal::VmxResult::SUCCEED);
        REQUIRE(g.exits.size() == 1);
        CHECK(g.exits[0].reason == reason(ExitReason::EXCEPTION_NMI));
        CHECK(vector_of(g.exits[0]) == c.vector);
    }
    // With CR4.PCE, RDPMC at CPL 3 reaches its exit.
    Guest p;
    vm86(p, 0x100);
    p.vmcs.set(f::GUEST_CR4, 0x2000 | (1u << 8));
    p.vmcs.set(f::CPU_BASED_VM_EXEC_CONTROL, exiting);
    fault_exits(p);
    p.code(0x20100, {0x0f, 0x33});
    REQUIRE(p.run() == hal::VmxResult::SUCCEED);
    CHECK(p.exits[0].reason == reason(ExitReason::RDPMC));
}

TEST_CASE("MOV DR exits before its #GP at CPL 3 and its #UD for DR4/DR5 (SDM 26.1.3)", "[engine][fault-priority]")
{
    Guest g;
    vm86(g, 0x100);
    g.vmcs.set(f::GUEST_CR4, 0x2000 | (1u << 3));  // CR4.DE: DR5 would be #UD
    g.vmcs.set(f::CPU_BASED_VM_EXEC_CONTROL, vmx::proc::HLT_EXITING | vmx::proc::MOV_DR_EXITING);
    fault_exits(g);
    g.code(0x20100, {0x0f, 0x21, 0xe8, 0x0f, 0x23, 0xc1});  // mov eax, dr5; mov dr0, ecx
    g.max_exits = 2;
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    REQUIRE(g.exits.size() == 2);
    CHECK(g.exits[0].reason == reason(ExitReason::DR_ACCESS));
    CHECK(g.exits[0].qualification == (5u | 0x10u));  // DR5, MOV from DR, EAX
    CHECK(g.exits[0].length == 3);
    CHECK(g.exits[1].reason == reason(ExitReason::DR_ACCESS));
    CHECK(g.exits[1].qualification == 0x100u);        // DR0, MOV to DR, ECX
}

}  // namespace xeno::sim::test
