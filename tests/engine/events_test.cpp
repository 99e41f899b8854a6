// VM-entry event injection, external interrupts at a virtual deadline,
// interrupt-window exits, VM-entry failures.
#include "tests/engine/fixture.hpp"

namespace xeno::sim::test {

using vmx::ExitReason;
using vmx::InterruptionType;

TEST_CASE("injection at VM entry goes through the real-mode IVT; the valid bit is cleared", "[engine][events]")
{
    Guest g;
    g.real_mode(0x1000, 0x0000);
    g.mem.store<u16>(0x21 * 4, 0x0200);      // IVT[0x21] = 0x2000:0x0200
    g.mem.store<u16>(0x21 * 4 + 2, 0x2000);
    g.code(0x10000, {0x90, 0xf4});
    g.code(0x20200, {0xe6, 0x99, 0xcf});     // out 0x99, al; iret
    g.vmcs.set(f::VM_ENTRY_INTR_INFO_FIELD, vmx::make_intr_info(0x21, InterruptionType::EXTERNAL_INTERRUPT, false));
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    REQUIRE(g.exits.size() == 2);
    CHECK(g.exits[0].reason == reason(ExitReason::IO_INSTRUCTION));
    CHECK(g.exits[0].rip == 0x200);
    CHECK(g.exits[1].reason == reason(ExitReason::HLT));
    CHECK(g.exits[1].rip == 0x1);  // IRET returned to 0x1000:0000, NOP ran
    CHECK((g.vmcs.get(f::VM_ENTRY_INTR_INFO_FIELD) & vmx::intr_info::VALID) == 0);
    CHECK(g.mem.load<u16>(0x7000 - 2) == 0x0002);  // FLAGS pushed
    CHECK(g.mem.load<u16>(0x7000 - 4) == 0x1000);  // CS
    CHECK(g.mem.load<u16>(0x7000 - 6) == 0x0000);  // IP
}

TEST_CASE("software interrupt injection uses VM_ENTRY_INSTRUCTION_LEN", "[engine][events]")
{
    Guest g;
    g.real_mode(0x1000, 0x0010);
    g.mem.store<u16>(0x10 * 4, 0x0300);
    g.mem.store<u16>(0x10 * 4 + 2, 0x2000);
    g.code(0x20300, {0xf4});
    g.vmcs.set(f::VM_ENTRY_INTR_INFO_FIELD, vmx::make_intr_info(0x10, InterruptionType::SOFTWARE_INTERRUPT, false));
    g.vmcs.set(f::VM_ENTRY_INSTRUCTION_LEN, 2);
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    REQUIRE(g.exits.size() == 1);
    CHECK(g.exits[0].rip == 0x300);
    CHECK(g.mem.load<u16>(0x7000 - 6) == 0x0012);  // return IP past the (virtual) INT 10h
}

TEST_CASE("guest INT n in real mode is delivered through the IVT by the model", "[engine][events]")
{
    Guest g;
    g.real_mode(0x1000, 0x0000);
    g.mem.store<u16>(0x13 * 4, 0x0400);
    g.mem.store<u16>(0x13 * 4 + 2, 0x2000);
    g.code(0x10000, {0xcd, 0x13, 0xf4});   // int 0x13; hlt
    g.code(0x20400, {0xb3, 0x77, 0xcf});   // mov bl, 0x77; iret
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    REQUIRE(g.exits.size() == 1);
    CHECK(g.exits[0].rip == 0x2);
    CHECK((g.regs.gpr[3] & 0xff) == 0x77);
    CHECK(g.engine.guest_instructions() == 3);  // INT, MOV, IRET
}

TEST_CASE("external interrupt at a virtual deadline; HLT without exiting waits for it", "[engine][events]")
{
    Guest g;
    g.flat32(0x10000);
    g.vmcs.set(f::PIN_BASED_VM_EXEC_CONTROL, vmx::pin::EXTERNAL_INTERRUPT_EXITING);
    g.vmcs.set(f::VM_EXIT_CONTROLS, vmx::exit_ctl::ACK_INTERRUPT_ON_EXIT);
    g.vmcs.set(f::CPU_BASED_VM_EXEC_CONTROL, 0);
    g.code(0x10000, {0x90, 0x90, 0xf4, 0x90, 0xeb, 0xfe});  // nop; nop; hlt; nop; jmp $
    g.engine.raise_external_interrupt_at(5000, 0x30);
    g.on_exit = [](Guest&, const RecordedExit&) { return hal::ExitAction::YIELD; };
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    REQUIRE(g.exits.size() == 1);
    CHECK(g.exits[0].reason == reason(ExitReason::EXTERNAL_INTERRUPT));
    CHECK(g.exits[0].intr_info == 0x80000030u);
    CHECK(g.exits[0].rip == 0x10003);
    CHECK(g.engine.vtime_ns() >= 5000);
    CHECK(g.vmcs.get(f::GUEST_ACTIVITY_STATE) == 0);
}

TEST_CASE("interrupt-window exiting exits before the first instruction when IF=1", "[engine][events]")
{
    Guest g;
    g.flat32(0x10000);
    g.vmcs.set(f::GUEST_RFLAGS, 0x202);
    g.vmcs.set(f::CPU_BASED_VM_EXEC_CONTROL, vmx::proc::HLT_EXITING | vmx::proc::INTERRUPT_WINDOW_EXITING);
    g.code(0x10000, {0x90, 0xf4});
    g.on_exit = [](Guest&, const RecordedExit&) { return hal::ExitAction::YIELD; };
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    REQUIRE(g.exits.size() == 1);
    CHECK(g.exits[0].reason == reason(ExitReason::INTERRUPT_WINDOW));
    CHECK(g.exits[0].rip == 0x10000);
    CHECK(g.engine.guest_instructions() == 0);
}

TEST_CASE("entry checks: VMfailValid and VM-entry failure exits", "[engine][events]")
{
    Guest g;
    g.flat32(0x10000);
    g.code(0x10000, {0xf4});
    g.engine.set_entry_check([](const VmcsStore&) {
        EntryOutcome o;
        o.kind = EntryOutcome::Kind::VMFAIL_VALID;
        o.error = 7;
        return o;
    });
    CHECK(g.run() == hal::VmxResult::FAIL_VALID);
    CHECK(g.vmcs.get(f::VM_INSTRUCTION_ERROR) == 7);
    CHECK(g.exits.empty());

    g.engine.set_entry_check([](const VmcsStore&) {
        EntryOutcome o;
        o.kind = EntryOutcome::Kind::ENTRY_FAILURE;
        o.reason = 33;
        o.qualification = 0;
        return o;
    });
    g.on_exit = [](Guest&, const RecordedExit&) { return hal::ExitAction::YIELD; };
    CHECK(g.run() == hal::VmxResult::SUCCEED);
    REQUIRE(g.exits.size() == 1);
    CHECK(g.exits[0].reason == (0x80000000u | 33));
    CHECK(g.exits[0].rip == 0x10000);  // VMREAD sees the VMCS: nothing was loaded
}

}  // namespace xeno::sim::test

namespace xeno::sim::test {

TEST_CASE("VMX-preemption timer exits after value << rate virtual TSC ticks", "[engine][events]")
{
    Guest g;
    g.flat32(0x10000);
    g.vmcs.set(f::PIN_BASED_VM_EXEC_CONTROL, vmx::pin::PREEMPTION_TIMER);
    g.vmcs.set(f::VMX_PREEMPTION_TIMER_VALUE, 100);
    g.vmcs.set(f::VM_EXIT_CONTROLS, vmx::exit_ctl::SAVE_PREEMPTION_TIMER);
    g.code(0x10000, {0x49, 0xeb, 0xfd});  // l: dec ecx; jmp l
    g.on_exit = [](Guest&, const RecordedExit&) { return hal::ExitAction::YIELD; };
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    REQUIRE(g.exits.size() == 1);
    CHECK(g.exits[0].reason == reason(vmx::ExitReason::PREEMPTION_TIMER));
    // value << rate TSC ticks at the profile's TSC rate: one instruction is
    // 1 ns of virtual time, 3.5 ticks on skylake.
    const u64 ticks = u64{100} << g.profile.preemption_timer_rate();
    const u64 ns = (ticks * 1'000'000'000 + g.profile.tsc_hz - 1) / g.profile.tsc_hz;
    CHECK(g.exits[0].instructions >= ns);
    CHECK(g.exits[0].instructions < ns + 4);  // checked at block boundaries (2-instruction blocks)
    CHECK(g.vmcs.get(f::VMX_PREEMPTION_TIMER_VALUE) == 0);
}

TEST_CASE("EPT misconfiguration (write without read) exits with the GPA", "[engine][ept]")
{
    Guest g;
    g.flat32(0x10000);
    g.vmcs.set(f::CPU_BASED_VM_EXEC_CONTROL, vmx::proc::HLT_EXITING | vmx::proc::ACTIVATE_SECONDARY_CONTROLS);
    g.vmcs.set(f::SECONDARY_VM_EXEC_CONTROL, vmx::proc2::ENABLE_EPT);
    g.mem.store<u64>(0x100000, 0x101007);
    g.mem.store<u64>(0x101000, 0x102007);
    g.mem.store<u64>(0x102000, 0x000000 | 0x87 | (6u << 3));
    g.mem.store<u64>(0x102008, 0x200000 | 0x82 | (6u << 3));  // W without R
    g.vmcs.set(f::EPT_POINTER, 0x100000 | 0x18 | 6);
    g.code(0x10000, {0xa1, 0x44, 0x00, 0x20, 0x00});  // mov eax, [0x200044]
    g.on_exit = [](Guest&, const RecordedExit&) { return hal::ExitAction::YIELD; };
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    REQUIRE(g.exits.size() == 1);
    CHECK(g.exits[0].reason == reason(vmx::ExitReason::EPT_MISCONFIG));
    CHECK(g.exits[0].rip == 0x10000);
    CHECK(g.exits[0].gpa == 0x200000);
}

}  // namespace xeno::sim::test

namespace xeno::sim::test {

// The external interrupt is recognised at the instruction boundary where
// virtual time reaches its deadline, inside a block too: the number of
// guest instructions retired before the exit is exactly the deadline minus
// the time at entry (1 ns per instruction), wherever the block boundaries
// fall, and the guest state at the exit is the one before that instruction.
TEST_CASE("external interrupt exits at exactly the instruction where the deadline falls", "[engine][events]")
{
    for (u64 deadline : {u64{1}, u64{2}, u64{3}, u64{7}, u64{1000}, u64{1001}, u64{12345}}) {
        Guest g;
        g.flat32(0x10000);
        g.vmcs.set(f::PIN_BASED_VM_EXEC_CONTROL, vmx::pin::EXTERNAL_INTERRUPT_EXITING);
        g.vmcs.set(f::VM_EXIT_CONTROLS, vmx::exit_ctl::ACK_INTERRUPT_ON_EXIT);
        g.vmcs.set(f::CPU_BASED_VM_EXEC_CONTROL, 0);
        // l: inc eax; inc ebx; inc ecx; inc edx; jmp l  (a 5-instruction block)
        g.code(0x10000, {0x40, 0x43, 0x41, 0x42, 0xeb, 0xfa});
        g.engine.raise_external_interrupt_at(deadline, 0x30);
        g.on_exit = [](Guest&, const RecordedExit&) { return hal::ExitAction::YIELD; };
        REQUIRE(g.run() == hal::VmxResult::SUCCEED);
        REQUIRE(g.exits.size() == 1);
        CHECK(g.exits[0].reason == reason(ExitReason::EXTERNAL_INTERRUPT));
        CHECK(g.exits[0].instructions == deadline);
        const u64 k = deadline % 5;  // the instruction of the loop the exit comes before
        const u64 rounds = deadline / 5;
        CHECK(g.exits[0].rip == 0x10000 + k);
        CHECK(g.regs.gpr[0] == rounds + (k > 0));
        CHECK(g.regs.gpr[3] == rounds + (k > 1));
        CHECK(g.regs.gpr[1] == rounds + (k > 2));
        CHECK(g.regs.gpr[2] == rounds + (k > 3));
    }
}

TEST_CASE("the host idles until the pending external interrupt: virtual time jumps to it", "[engine][events]")
{
    Guest g;
    CHECK_FALSE(g.engine.idle_until_external_interrupt());
    g.engine.raise_external_interrupt_at(10'000'000'000, 0xf0);
    CHECK(g.engine.external_interrupt_pending());
    CHECK(g.engine.idle_until_external_interrupt());
    CHECK(g.engine.vtime_ns() == 10'000'000'000);
    CHECK_FALSE(g.engine.external_interrupt_pending());
    g.engine.raise_external_interrupt_at(5, 0xf0);  // already past: no time passes
    CHECK(g.engine.idle_until_external_interrupt());
    CHECK(g.engine.vtime_ns() == 10'000'000'000);
    g.engine.raise_external_interrupt_at(20, 0xf0);
    g.engine.cancel_external_interrupt();
    CHECK_FALSE(g.engine.external_interrupt_pending());
}

}  // namespace xeno::sim::test

namespace xeno::sim::test {

// SDM Vol. 3C 25.4.2 / Vol. 2B STI: an STI that sets IF blocks interrupts
// until the instruction after it has run; interrupt-window exiting waits for
// that boundary, and a VM exit at the covered instruction reports the
// blocking in the interruptibility state.
TEST_CASE("interrupt window: after the instruction STI covers, not before", "[engine][events]")
{
    Guest g;
    g.flat32(0x10000);
    g.vmcs.set(f::GUEST_RFLAGS, 0x2);  // IF=0
    g.vmcs.set(f::CPU_BASED_VM_EXEC_CONTROL, vmx::proc::HLT_EXITING | vmx::proc::INTERRUPT_WINDOW_EXITING);
    // sti; inc eax; inc ebx; inc ecx; hlt
    g.code(0x10000, {0xfb, 0x40, 0x43, 0x41, 0xf4});
    g.on_exit = [](Guest&, const RecordedExit&) { return hal::ExitAction::YIELD; };
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    REQUIRE(g.exits.size() == 1);
    CHECK(g.exits[0].reason == reason(ExitReason::INTERRUPT_WINDOW));
    CHECK(g.exits[0].rip == 0x10002);  // INC EAX (covered by STI) ran, INC EBX did not
    CHECK(g.regs.gpr[0] == 1);
    CHECK(g.regs.gpr[3] == 0);
    CHECK((g.vmcs.get(f::GUEST_INTERRUPTIBILITY_INFO) & vmx::interruptibility::BLOCKING_BY_STI) == 0);
}

TEST_CASE("STI; HLT: the HLT exit comes first and reports blocking by STI", "[engine][events]")
{
    Guest g;
    g.flat32(0x10000);
    g.vmcs.set(f::GUEST_RFLAGS, 0x2);
    g.vmcs.set(f::CPU_BASED_VM_EXEC_CONTROL, vmx::proc::HLT_EXITING | vmx::proc::INTERRUPT_WINDOW_EXITING);
    g.code(0x10000, {0xfb, 0xf4, 0x90});  // sti; hlt; nop
    g.on_exit = [](Guest&, const RecordedExit&) { return hal::ExitAction::YIELD; };
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    REQUIRE(g.exits.size() == 1);
    CHECK(g.exits[0].reason == reason(ExitReason::HLT));
    CHECK(g.exits[0].rip == 0x10001);
    CHECK((g.vmcs.get(f::GUEST_INTERRUPTIBILITY_INFO) & vmx::interruptibility::BLOCKING_BY_STI) != 0);
}

TEST_CASE("an STI with IF already set opens no shadow; POPF that sets IF opens the window at once", "[engine][events]")
{
    {
        Guest g;
        g.flat32(0x10000);
        g.vmcs.set(f::GUEST_RFLAGS, 0x202);  // IF=1 already: STI has no shadow
        g.vmcs.set(f::CPU_BASED_VM_EXEC_CONTROL, vmx::proc::HLT_EXITING);
        g.code(0x10000, {0xfb, 0xf4});  // sti; hlt
        g.on_exit = [](Guest&, const RecordedExit&) { return hal::ExitAction::YIELD; };
        REQUIRE(g.run() == hal::VmxResult::SUCCEED);
        REQUIRE(g.exits.size() == 1);
        CHECK(g.exits[0].reason == reason(ExitReason::HLT));
        CHECK((g.vmcs.get(f::GUEST_INTERRUPTIBILITY_INFO) & vmx::interruptibility::BLOCKING_BY_STI) == 0);
    }
    {
        Guest g;
        g.flat32(0x10000);
        g.vmcs.set(f::GUEST_RFLAGS, 0x2);
        g.vmcs.set(f::CPU_BASED_VM_EXEC_CONTROL, vmx::proc::HLT_EXITING | vmx::proc::INTERRUPT_WINDOW_EXITING);
        // push 0x202; popf; inc eax; inc ebx; hlt
        g.code(0x10000, {0x68, 0x02, 0x02, 0x00, 0x00, 0x9d, 0x40, 0x43, 0xf4});
        g.on_exit = [](Guest&, const RecordedExit&) { return hal::ExitAction::YIELD; };
        REQUIRE(g.run() == hal::VmxResult::SUCCEED);
        REQUIRE(g.exits.size() == 1);
        CHECK(g.exits[0].reason == reason(ExitReason::INTERRUPT_WINDOW));
        CHECK(g.exits[0].rip == 0x10006);  // right after POPF: no shadow
        CHECK(g.regs.gpr[0] == 0);
    }
}

TEST_CASE("MOV SS blocks the interrupt window for one instruction", "[engine][events]")
{
    Guest g;
    g.flat32(0x10000);
    g.vmcs.set(f::GUEST_RFLAGS, 0x202);
    g.vmcs.set(f::CPU_BASED_VM_EXEC_CONTROL, vmx::proc::HLT_EXITING);
    g.mem.store<u64>(0x500 + 0x10, 0x00cf93000000ffff);  // GDT[2]: flat data
    // mov ax, 0x10; mov ss, ax; hlt: the HLT exit reports blocking by MOV SS
    g.code(0x10000, {0x66, 0xb8, 0x10, 0x00, 0x8e, 0xd0, 0xf4});
    g.on_exit = [](Guest&, const RecordedExit&) { return hal::ExitAction::YIELD; };
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    REQUIRE(g.exits.size() == 1);
    CHECK(g.exits[0].reason == reason(ExitReason::HLT));
    CHECK((g.vmcs.get(f::GUEST_INTERRUPTIBILITY_INFO) & vmx::interruptibility::BLOCKING_BY_MOV_SS) != 0);
}

}  // namespace xeno::sim::test
