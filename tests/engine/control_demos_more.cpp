// The demonstrations for the secondary processor-based, VM-exit and
// VM-entry controls (control_demos.hpp); the pin-based and primary ones are
// in control_demos.cpp.
#include "tests/engine/control_demos.hpp"

#include <functional>
#include <vector>

namespace xeno::sim::test {

namespace {

using vmx::ExitReason;
namespace pin = vmx::pin;
namespace proc = vmx::proc;
namespace proc2 = vmx::proc2;
namespace exit_ctl = vmx::exit_ctl;
namespace entry_ctl = vmx::entry_ctl;

// ---- secondary processor-based ----

void demo_ept(const CpuProfile& p)
{
    // The EPT maps 2 MiB; the guest reads at 3 MiB.
    Trial on(p), off(p);
    ept(on);
    on.code(0x10000, {0xa1, 0x00, 0x00, 0x30, 0x00, 0xf4});
    off.code(0x10000, {0xa1, 0x00, 0x00, 0x30, 0x00, 0xf4});
    on.run();
    off.run();
    CHECK(on.reason(0) == static_cast<u32>(ExitReason::EPT_VIOLATION));
    CHECK(on.g.exits[0].gpa == 0x300000);
    CHECK(off.reason(0) == static_cast<u32>(ExitReason::HLT));
}

void demo_descriptor_table(const CpuProfile& p)
{
    const Pair r = both(p, CtlWord::PROC2, proc2::DESCRIPTOR_TABLE_EXITING, [](Trial&) {},
                        {0x0f, 0x01, 0x05, 0x00, 0x20, 0x00, 0x00, 0xf4});  // sgdt [0x2000]
    REQUIRE(r.on->reason(0) == static_cast<u32>(ExitReason::GDTR_IDTR));
    CHECK(r.on->g.exits[0].qualification == 0x2000);
    // SGDT (identity 0), 32-bit operand and address size, DS, no base, no index.
    CHECK(r.on->g.exits[0].info == ((1u << 7) | (1u << 11) | (3u << 15) | (1u << 22) | (1u << 27)));
    CHECK(r.off->reason(0) == static_cast<u32>(ExitReason::HLT));
    CHECK(r.off->g.mem.load<u16>(0x2000) == 0x1f);  // it stored the GDTR
}

void demo_rdtscp(const CpuProfile& p)
{
    const Pair r = both(p, CtlWord::PROC2, proc2::ENABLE_RDTSCP, [](Trial&) {}, {0x0f, 0x01, 0xf9, 0xf4});
    CHECK(r.on->reason(0) == static_cast<u32>(ExitReason::HLT));
    CHECK(r.off->reason(0) == static_cast<u32>(ExitReason::EXCEPTION_NMI));
    CHECK((r.off->g.exits[0].intr_info & 0xff) == vmx::vector::UD);
}

void demo_vpid(const CpuProfile& p)
{
    // The handler of the OUT moves the guest's page at 4 MiB to another
    // frame without INVLPG: with a VPID the entry keeps the translation
    // (29.4.3.1), without one every entry drops it.
    const Pair r = both(p, CtlWord::PROC2, proc2::ENABLE_VPID, [](Trial& t) {
        t.g.vmcs.set(f::VIRTUAL_PROCESSOR_ID, 1);
        t.g.mem.store<u32>(0x20000 + 4, 0x21003);   // PDE 1: a page table
        t.g.mem.store<u32>(0x21000, 0x50003);       // 4 MiB -> 0x50000
        t.g.mem.store<u32>(0x50000, 0x1111);
        t.g.mem.store<u32>(0x51000, 0x2222);
        t.g.on_exit = [](Guest& g, const RecordedExit& e) {
            if (e.reason != static_cast<u32>(ExitReason::IO_INSTRUCTION)) return hal::ExitAction::YIELD;
            g.mem.store<u32>(0x21000, 0x51003);
            g.live_write(f::GUEST_RIP.kEncoding, e.rip + e.length);
            return hal::ExitAction::RESUME;
        };
    }, {0xa1, 0x00, 0x00, 0x40, 0x00, 0xe6, 0x80, 0xa1, 0x00, 0x00, 0x40, 0x00, 0xf4});
    CHECK((r.on->g.regs.gpr[0] & 0xffff) == 0x1111);
    CHECK((r.off->g.regs.gpr[0] & 0xffff) == 0x2222);
}

void demo_wbinvd(const CpuProfile& p)
{
    exits_only_with(p, CtlWord::PROC2, proc2::WBINVD_EXITING, ExitReason::WBINVD, {0x0f, 0x09, 0xf4});
}

void demo_unrestricted_guest(const CpuProfile& p)
{
    // Real mode (CR0.PE = 0) enters only with unrestricted guest (26.3.1.1).
    Trial on(p), off(p);
    for (Trial* t : {&on, &off}) {
        ept(*t);
        const u32 procc = static_cast<u32>(t->g.vmcs.get(f::CPU_BASED_VM_EXEC_CONTROL));
        t->g.real_mode(0x1000, 0x100);
        t->g.vmcs.set(f::CPU_BASED_VM_EXEC_CONTROL, procc);
        t->g.vmcs.set(f::SECONDARY_VM_EXEC_CONTROL, proc2::ENABLE_EPT);
        t->code(0x10100, {0xf4});
    }
    on.control(CtlWord::PROC2, proc2::UNRESTRICTED_GUEST, true);
    on.run();
    off.run();
    CHECK(on.reason(0) == static_cast<u32>(ExitReason::HLT));
    CHECK(off.reason(0) == (vmx::kExitReasonEntryFailure | static_cast<u32>(ExitReason::INVALID_GUEST_STATE)));
}

void demo_rdrand_like(const CpuProfile& p, u32 control, ExitReason reason, u8 modrm)
{
    const Pair r = both(p, CtlWord::PROC2, control, [](Trial&) {}, {0x0f, 0xc7, modrm, 0xf4});
    REQUIRE(r.on->reason(0) == static_cast<u32>(reason));
    CHECK(r.on->g.exits[0].info == ((0u << 3) | (1u << 11)));  // EAX, 32-bit
    CHECK(r.off->reason(0) == static_cast<u32>(ExitReason::HLT));
}

void demo_rdrand(const CpuProfile& p) { demo_rdrand_like(p, proc2::RDRAND_EXITING, ExitReason::RDRAND, 0xf0); }
void demo_rdseed(const CpuProfile& p) { demo_rdrand_like(p, proc2::RDSEED_EXITING, ExitReason::RDSEED, 0xf8); }

void demo_invpcid(const CpuProfile& p)
{
    // invpcid eax, [0x2000] with type 2 (all contexts): runs only with the control.
    const Pair r = both(p, CtlWord::PROC2, proc2::ENABLE_INVPCID, [](Trial& t) { t.g.regs.gpr[0] = 2; },
                        {0x66, 0x0f, 0x38, 0x82, 0x05, 0x00, 0x20, 0x00, 0x00, 0xf4});
    CHECK(r.on->reason(0) == static_cast<u32>(ExitReason::HLT));
    CHECK(r.off->reason(0) == static_cast<u32>(ExitReason::EXCEPTION_NMI));
    CHECK((r.off->g.exits[0].intr_info & 0xff) == vmx::vector::UD);
}

void demo_vmfunc(const CpuProfile& p)
{
    // EPTP switching to entry 1 of the EPTP list (the same tables, A/D on).
    constexpr u64 kOther = kDemoEptp | (1u << 6);
    const Pair r = both(p, CtlWord::PROC2, proc2::ENABLE_VMFUNC, [](Trial& t) {
        ept(t);
        t.g.vmcs.set(f::VM_FUNCTION_CONTROL, 1);
        t.g.vmcs.set(f::EPTP_LIST_ADDRESS, 0x43000);
        t.g.mem.store<u64>(0x43000 + 8, kOther);
        t.g.regs.gpr[1] = 1;
    }, {0x31, 0xc0, 0x0f, 0x01, 0xd4, 0xf4});  // xor eax, eax; vmfunc
    CHECK(r.on->reason(0) == static_cast<u32>(ExitReason::HLT));
    CHECK(r.on->g.vmcs.get(f::EPT_POINTER) == kOther);
    CHECK((r.off->g.exits[0].intr_info & 0xff) == vmx::vector::UD);
}

void demo_tsc_scaling(const CpuProfile& p)
{
    const Pair r = both(p, CtlWord::PROC2, proc2::TSC_SCALING,
                        [](Trial& t) { t.g.vmcs.set(f::TSC_MULTIPLIER, u64{2} << 48); },
                        {0xb9, 0x00, 0x01, 0x00, 0x00, 0x49, 0x75, 0xfd, 0x0f, 0x31, 0xf4});
    const u64 off = r.off->g.regs.gpr[0] & 0xffffffff;
    CHECK(off > 0);
    CHECK((r.on->g.regs.gpr[0] & 0xffffffff) == 2 * off);
}

// ---- VM-exit controls ----

void demo_save_debug_controls(const CpuProfile& p)
{
    const Pair r = both(p, CtlWord::EXIT, exit_ctl::SAVE_DEBUG_CONTROLS, [](Trial& t) { t.g.vmcs.set(f::GUEST_DR7, 0x400); },
                        {0xb8, 0x01, 0x04, 0x00, 0x00, 0x0f, 0x23, 0xf8, 0xf4});  // mov eax, 0x401; mov dr7, eax
    CHECK(r.on->g.vmcs.get(f::GUEST_DR7) == 0x401);
    CHECK(r.off->g.vmcs.get(f::GUEST_DR7) == 0x400);
}

void demo_host_address_space(const CpuProfile& p)
{
    // The host runs in 64-bit mode: VM entry requires the control (27.2.2).
    const Pair r = both(p, CtlWord::EXIT, exit_ctl::HOST_ADDRESS_SPACE_SIZE, [](Trial&) {}, {0xf4});
    CHECK(r.on->reason(0) == static_cast<u32>(ExitReason::HLT));
    CHECK(r.off->g.exits.empty());
    CHECK(r.off->g.vmcs.get(f::VM_INSTRUCTION_ERROR) == 8);
}

void demo_ack_interrupt(const CpuProfile& p)
{
    const Pair r = both(p, CtlWord::EXIT, exit_ctl::ACK_INTERRUPT_ON_EXIT, [](Trial& t) {
        t.control(CtlWord::PIN, pin::EXTERNAL_INTERRUPT_EXITING, true);
        t.g.engine.raise_external_interrupt_at(20, 0x30);
    }, {0xb9, 0x00, 0x01, 0x00, 0x00, 0x49, 0x75, 0xfd, 0xf4});
    REQUIRE(r.on->reason(0) == static_cast<u32>(ExitReason::EXTERNAL_INTERRUPT));
    CHECK(r.on->g.exits[0].intr_info == 0x80000030u);
    CHECK(r.off->g.exits[0].intr_info == 0);
}

// wrmsr of `msr` with EDX:EAX = value through a pass-through MSR bitmap.
std::initializer_list<u8> kWrmsr = {0x0f, 0x30, 0xf4};

void demo_save_pat(const CpuProfile& p)
{
    const Pair r = both(p, CtlWord::EXIT, exit_ctl::SAVE_PAT, [](Trial& t) {
        msr_passthrough(t);
        t.g.regs.gpr[1] = 0x277;
        t.g.regs.gpr[0] = t.g.regs.gpr[2] = 0x06060606;
    }, kWrmsr);
    CHECK(r.on->g.vmcs.get(f::GUEST_IA32_PAT) == 0x0606060606060606ull);
    CHECK(r.off->g.vmcs.get(f::GUEST_IA32_PAT) == 0);
}

void demo_save_efer(const CpuProfile& p)
{
    const Pair r = both(p, CtlWord::EXIT, exit_ctl::SAVE_EFER, [](Trial& t) {
        msr_passthrough(t);
        t.g.regs.gpr[1] = 0xc0000080;
        t.g.regs.gpr[0] = 0x800;  // NXE
    }, kWrmsr);
    CHECK(r.on->g.vmcs.get(f::GUEST_IA32_EFER) == 0x800);
    CHECK(r.off->g.vmcs.get(f::GUEST_IA32_EFER) == 0);
}

// The host MSR writes the model makes at the guest's exits.
void demo_host_load(const CpuProfile& p, u32 control, u32 msr, u32 field, u64 value)
{
    std::vector<std::pair<u32, u64>> on_writes, off_writes;
    const Pair r = both(p, CtlWord::EXIT, control, [&](Trial& t) {
        t.g.vmcs.set(field, value);
        t.g.engine.set_host_msr_writer([&t, &on_writes, &off_writes, control](u32 m, u64 v) {
            (t.g.vmcs.get(f::VM_EXIT_CONTROLS) & control ? on_writes : off_writes).emplace_back(m, v);
            return true;
        });
    }, {0xf4});
    CHECK(r.on->reason(0) == static_cast<u32>(ExitReason::HLT));
    REQUIRE(on_writes.size() == 1);
    CHECK(on_writes[0] == std::make_pair(msr, value));
    CHECK(off_writes.empty());
}

void demo_load_pat_exit(const CpuProfile& p)
{
    demo_host_load(p, exit_ctl::LOAD_PAT, 0x277, f::HOST_IA32_PAT.kEncoding, 0x0007040600070406ull);
}

void demo_load_efer_exit(const CpuProfile& p)
{
    demo_host_load(p, exit_ctl::LOAD_EFER, 0xc0000080, f::HOST_IA32_EFER.kEncoding, 0xd01);
}

void demo_save_preemption_timer(const CpuProfile& p)
{
    const Pair r = both(p, CtlWord::EXIT, exit_ctl::SAVE_PREEMPTION_TIMER, [](Trial& t) {
        t.control(CtlWord::PIN, pin::PREEMPTION_TIMER, true);
        t.g.vmcs.set(f::VMX_PREEMPTION_TIMER_VALUE, 1000000);
    }, {0xb9, 0x00, 0x01, 0x00, 0x00, 0x49, 0x75, 0xfd, 0xf4});
    CHECK(r.on->g.vmcs.get(f::VMX_PREEMPTION_TIMER_VALUE) < 1000000);
    CHECK(r.off->g.vmcs.get(f::VMX_PREEMPTION_TIMER_VALUE) == 1000000);
}

// ---- VM-entry controls ----

void demo_load_debug_controls(const CpuProfile& p)
{
    const Pair r = both(p, CtlWord::ENTRY, entry_ctl::LOAD_DEBUG_CONTROLS, [](Trial& t) { t.g.vmcs.set(f::GUEST_DR7, 0x401); },
                        {0x0f, 0x21, 0xf8, 0xf4});  // mov eax, dr7
    CHECK((r.on->g.regs.gpr[0] & 0xffffffff) == 0x401);
    CHECK((r.off->g.regs.gpr[0] & 0xffffffff) == 0x400);
}

void demo_ia32e_guest(const CpuProfile& p)
{
    // mov rax, 0x1122334455667788: a 64-bit operand only in 64-bit mode.
    const Pair r = both(p, CtlWord::ENTRY, entry_ctl::IA32E_MODE_GUEST, [](Trial& t) { t.long64(); },
                        {0x48, 0xb8, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0xf4});
    CHECK(r.on->reason(0) == static_cast<u32>(ExitReason::HLT));
    CHECK(r.on->g.regs.gpr[0] == 0x1122334455667788ull);
    CHECK(r.off->reason(0) != static_cast<u32>(ExitReason::HLT));
}

void demo_load_pat_entry(const CpuProfile& p)
{
    const Pair r = both(p, CtlWord::ENTRY, entry_ctl::LOAD_PAT, [](Trial& t) {
        msr_passthrough(t);
        t.g.vmcs.set(f::GUEST_IA32_PAT, 0x0606060606060606ull);
        t.g.regs.gpr[1] = 0x277;
    }, {0x0f, 0x32, 0xf4});  // rdmsr
    CHECK((r.on->g.regs.gpr[0] & 0xffffffff) == 0x06060606);
    CHECK((r.off->g.regs.gpr[0] & 0xffffffff) != 0x06060606);
}

void demo_load_efer_entry(const CpuProfile& p)
{
    const Pair r = both(p, CtlWord::ENTRY, entry_ctl::LOAD_EFER, [](Trial& t) {
        msr_passthrough(t);
        t.g.vmcs.set(f::GUEST_IA32_EFER, 0x800);
        t.g.regs.gpr[1] = 0xc0000080;
    }, {0x0f, 0x32, 0xf4});
    CHECK((r.on->g.regs.gpr[0] & 0x800) != 0);
    CHECK((r.off->g.regs.gpr[0] & 0x800) == 0);
}

}  // namespace

const std::vector<DemoEntry>& demos_secondary_exit_entry()
{
    static const std::vector<DemoEntry> all = {
        {CtlWord::PROC2, 1, &demo_ept},
        {CtlWord::PROC2, 2, &demo_descriptor_table},
        {CtlWord::PROC2, 3, &demo_rdtscp},
        {CtlWord::PROC2, 5, &demo_vpid},
        {CtlWord::PROC2, 6, &demo_wbinvd},
        {CtlWord::PROC2, 7, &demo_unrestricted_guest},
        {CtlWord::PROC2, 11, &demo_rdrand},
        {CtlWord::PROC2, 12, &demo_invpcid},
        {CtlWord::PROC2, 13, &demo_vmfunc},
        {CtlWord::PROC2, 16, &demo_rdseed},
        {CtlWord::PROC2, 25, &demo_tsc_scaling},
        {CtlWord::EXIT, 2, &demo_save_debug_controls},
        {CtlWord::EXIT, 9, &demo_host_address_space},
        {CtlWord::EXIT, 15, &demo_ack_interrupt},
        {CtlWord::EXIT, 18, &demo_save_pat},
        {CtlWord::EXIT, 19, &demo_load_pat_exit},
        {CtlWord::EXIT, 20, &demo_save_efer},
        {CtlWord::EXIT, 21, &demo_load_efer_exit},
        {CtlWord::EXIT, 22, &demo_save_preemption_timer},
        {CtlWord::ENTRY, 2, &demo_load_debug_controls},
        {CtlWord::ENTRY, 9, &demo_ia32e_guest},
        {CtlWord::ENTRY, 14, &demo_load_pat_entry},
        {CtlWord::ENTRY, 15, &demo_load_efer_entry},
    };
    return all;
}

}  // namespace xeno::sim::test
