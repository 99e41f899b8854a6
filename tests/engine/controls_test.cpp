// Exit conditions controlled by the VMCS: CR masks and shadows, I/O and MSR
// bitmaps, TSC offsetting, the exception bitmap.
#include "tests/engine/fixture.hpp"

namespace xeno::sim::test {

using vmx::ExitReason;

TEST_CASE("CR0 reads return the shadow for masked bits; writes changing them exit", "[engine]")
{
    Guest g;
    g.flat32(0x10000);
    g.vmcs.set(f::CR0_GUEST_HOST_MASK, 0x20);  // NE is the host's
    g.vmcs.set(f::CR0_READ_SHADOW, 0x11);      // the guest believes NE = 0
    g.code(0x10000, {
        0x0f, 0x20, 0xc0,        // 10000 mov eax, cr0   -> 0x11 (NE from the shadow)
        0x89, 0xc3,              // 10003 mov ebx, eax
        0x0f, 0x22, 0xc0,        // 10005 mov cr0, eax   NE=0 == shadow: no exit, NE stays 1
        0x83, 0xc8, 0x20,        // 10008 or eax, 0x20
        0x0f, 0x22, 0xc0,        // 1000b mov cr0, eax   NE=1 != shadow: exit
        0xf4,
    });
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    REQUIRE(g.exits.size() == 2);
    CHECK((g.regs.gpr[3] & 0xffffffff) == 0x11);
    CHECK(g.exits[0].reason == reason(ExitReason::CR_ACCESS));
    CHECK(g.exits[0].rip == 0x1000b);
    CHECK(g.exits[0].length == 3);
    CHECK(g.exits[0].qualification == 0);  // CR0, MOV to CR, EAX (Table 28-3)
    CHECK(g.vmcs.get(f::GUEST_CR0) == 0x31);
}

TEST_CASE("MOV from CR4 with mask, MOV to CR3 with CR3-load exiting and the target list", "[engine]")
{
    Guest g;
    g.flat32(0x10000);
    g.vmcs.set(f::CR4_GUEST_HOST_MASK, 0x2000);
    g.vmcs.set(f::CR4_READ_SHADOW, 0);
    g.vmcs.set(f::CPU_BASED_VM_EXEC_CONTROL, vmx::proc::HLT_EXITING | vmx::proc::CR3_LOAD_EXITING);
    g.vmcs.set(f::CR3_TARGET_COUNT, 1);
    g.vmcs.set(f::CR3_TARGET_VALUE0, 0x5000);
    g.code(0x10000, {
        0x0f, 0x20, 0xe1,              // mov ecx, cr4  -> 0 (VMXE hidden)
        0xba, 0x00, 0x50, 0x00, 0x00,  // mov edx, 0x5000
        0x0f, 0x22, 0xda,              // mov cr3, edx  (target: no exit)
        0xba, 0x00, 0x60, 0x00, 0x00,  // mov edx, 0x6000
        0x0f, 0x22, 0xda,              // 10010 mov cr3, edx  -> exit
        0xf4,
    });
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    REQUIRE(g.exits.size() == 2);
    CHECK((g.regs.gpr[1] & 0xffffffff) == 0);
    CHECK(g.exits[0].reason == reason(ExitReason::CR_ACCESS));
    CHECK(g.exits[0].rip == 0x10010);
    CHECK(g.exits[0].qualification == (3 | (2u << 8)));  // CR3, MOV to CR, EDX
    CHECK(g.vmcs.get(f::GUEST_CR3) == 0x5000);
}

TEST_CASE("I/O bitmaps: a set bit exits, a clear bit does not", "[engine]")
{
    Guest g;
    g.flat32(0x10000);
    g.vmcs.set(f::CPU_BASED_VM_EXEC_CONTROL, vmx::proc::HLT_EXITING | vmx::proc::USE_IO_BITMAPS);
    g.vmcs.set(f::IO_BITMAP_A, 0x3000);
    g.vmcs.set(f::IO_BITMAP_B, 0x4000);
    g.mem.store<u8>(0x3000 + 0x80 / 8, 1u << (0x80 % 8));
    g.mem.store<u8>(0x4000 + (0x8001 & 0x7fff) / 8, 1u << (0x8001 % 8));
    g.code(0x10000, {
        0xe6, 0x81,                    // out 0x81, al   (miss)
        0xe6, 0x80,                    // 10002 out 0x80, al   (hit)
        0x66, 0xba, 0x00, 0x80,        // mov dx, 0x8000
        0x66, 0xef,                    // 10008 out dx, ax  (ports 0x8000-0x8001: 0x8001 hits, bitmap B)
        0xf4,
    });
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    REQUIRE(g.exits.size() == 3);
    CHECK(g.exits[0].rip == 0x10002);
    CHECK(g.exits[0].qualification == 0x00800040);
    CHECK(g.exits[1].rip == 0x10008);
    CHECK(g.exits[1].qualification == 0x80000001);
    CHECK(g.exits[2].reason == reason(ExitReason::HLT));
}

TEST_CASE("MSR bitmap: low and high ranges, misses run, out-of-range MSRs exit", "[engine]")
{
    Guest g;
    g.flat32(0x10000);
    g.vmcs.set(f::CPU_BASED_VM_EXEC_CONTROL, vmx::proc::HLT_EXITING | vmx::proc::USE_MSR_BITMAPS);
    g.vmcs.set(f::MSR_BITMAP, 0x3000);
    g.mem.store<u8>(0x3000 + 0x10 / 8, 1u << (0x10 % 8));                 // read low: TSC
    g.mem.store<u8>(0x3000 + 0xc00 + 0x80 / 8, 1u << (0x80 % 8));         // write high: EFER
    g.vmcs.set(f::GUEST_SYSENTER_CS, 0x1234);
    g.code(0x10000, {
        0xb9, 0x74, 0x01, 0x00, 0x00, 0x0f, 0x32,  // mov ecx, 0x174; rdmsr  (miss: runs)
        0x89, 0xc6,                                // mov esi, eax
        0xb9, 0x10, 0x00, 0x00, 0x00, 0x0f, 0x32,  // 10009 mov ecx, 0x10; rdmsr (hit) @1000e
        0xb9, 0x80, 0x00, 0x00, 0xc0, 0x0f, 0x30,  // mov ecx, 0xc0000080; wrmsr (hit) @10015
        0xb9, 0x00, 0x00, 0x00, 0x40, 0x0f, 0x32,  // mov ecx, 0x40000000; rdmsr (outside) @1001c
        0xf4,
    });
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    REQUIRE(g.exits.size() == 4);
    CHECK((g.regs.gpr[6] & 0xffff) == 0x1234);
    CHECK(g.exits[0].reason == reason(ExitReason::MSR_READ));
    CHECK(g.exits[0].rip == 0x1000e);
    CHECK(g.exits[1].reason == reason(ExitReason::MSR_WRITE));
    CHECK(g.exits[1].rip == 0x10015);
    CHECK(g.exits[2].reason == reason(ExitReason::MSR_READ));
    CHECK(g.exits[2].rip == 0x1001c);
}

TEST_CASE("RDTSC: virtual TSC plus offset; RDTSC exiting", "[engine]")
{
    Guest g;
    g.flat32(0x10000);
    g.vmcs.set(f::CPU_BASED_VM_EXEC_CONTROL, vmx::proc::HLT_EXITING | vmx::proc::USE_TSC_OFFSETTING);
    g.vmcs.set(f::TSC_OFFSET, 1000000);
    g.code(0x10000, {0x90, 0x90, 0x0f, 0x31, 0xf4});
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    // Two NOPs retired before RDTSC, no exit yet: TSC = 2 ns at the
    // profile's 3.5 GHz (7 ticks) + offset.
    REQUIRE(g.profile.tsc_hz == 3'500'000'000);
    CHECK((g.regs.gpr[0] & 0xffffffff) == 1000007);
    CHECK((g.regs.gpr[2] & 0xffffffff) == 0);

    Guest h;
    h.flat32(0x10000);
    h.vmcs.set(f::CPU_BASED_VM_EXEC_CONTROL, vmx::proc::HLT_EXITING | vmx::proc::RDTSC_EXITING);
    h.code(0x10000, {0x90, 0x0f, 0x31, 0xf4});
    REQUIRE(h.run() == hal::VmxResult::SUCCEED);
    REQUIRE(h.exits.size() == 2);
    CHECK(h.exits[0].reason == reason(ExitReason::RDTSC));
    CHECK(h.exits[0].rip == 0x10001);
    CHECK(h.exits[0].length == 2);
}

TEST_CASE("exception bitmap: #UD exits with interruption info; #BP is a software exception", "[engine]")
{
    Guest g;
    g.flat32(0x10000);
    g.vmcs.set(f::EXCEPTION_BITMAP, (1u << vmx::vector::UD) | (1u << vmx::vector::BP));
    g.on_exit = [](Guest& gg, const RecordedExit& e) {
        if (e.intr_info == 0x80000306u) {
            gg.live_write(f::GUEST_RIP.kEncoding, e.rip + 2);  // skip UD2
            return hal::ExitAction::RESUME;
        }
        return hal::ExitAction::YIELD;
    };
    g.code(0x10000, {0x90, 0x0f, 0x0b, 0xcc, 0xf4});
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    for (auto& e : g.exits) UNSCOPED_INFO("exit " << e.reason << " rip " << std::hex << e.rip << " intr " << e.intr_info);
    REQUIRE(g.exits.size() == 2);
    CHECK(g.exits[0].reason == reason(ExitReason::EXCEPTION_NMI));
    CHECK(g.exits[0].rip == 0x10001);
    CHECK(g.exits[0].intr_info == 0x80000306u);  // valid, hardware exception, vector 6
    CHECK(g.exits[1].intr_info == 0x80000603u);  // valid, software exception, vector 3
    CHECK(g.exits[1].rip == 0x10003);
    CHECK(g.exits[1].length == 1);
}

TEST_CASE("a #GP not in the bitmap is delivered through the guest IDT", "[engine]")
{
    Guest g;
    g.flat32(0x10000);
    // IDT at 0: gate 13 -> 0x20000 (32-bit interrupt gate, selector 0x08).
    g.mem.store<u64>(13 * 8, 0x00008e0000080000ull | 0x0000);
    g.mem.store<u16>(13 * 8, 0x0000);
    g.mem.store<u16>(13 * 8 + 6, 0x0002);
    g.mem.store<u64>(0x508, 0x00cf9b000000ffffull);
    g.mem.store<u64>(0x510, 0x00cf93000000ffffull);
    g.code(0x10000, {0x66, 0xb8, 0xf8, 0x7f, 0x8e, 0xd8});  // mov ax, 0x7ff8; mov ds, ax  -> #GP(0x7ff8)
    g.code(0x20000, {0x5b, 0xf4});                          // pop ebx (error code); hlt
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    REQUIRE(g.exits.size() == 1);
    CHECK(g.exits[0].reason == reason(ExitReason::HLT));
    CHECK(g.exits[0].rip == 0x20001);
    CHECK((g.regs.gpr[3] & 0xffffffff) == 0x7ff8);
    CHECK(g.mem.load<u32>(0x8000 - 12) == 0x10004);  // EIP of the faulting MOV, above the error code
    CHECK(g.mem.load<u32>(0x8000 - 8) == 0x08);
}

}  // namespace xeno::sim::test
