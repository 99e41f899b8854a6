// One demonstration per control the model implements: the same guest with
// the control set and clear, and what differs (control_demos.hpp).
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

u32 word_field(CtlWord w)
{
    switch (w) {
    case CtlWord::PIN: return f::PIN_BASED_VM_EXEC_CONTROL.kEncoding;
    case CtlWord::PROC: return f::CPU_BASED_VM_EXEC_CONTROL.kEncoding;
    case CtlWord::PROC2: return f::SECONDARY_VM_EXEC_CONTROL.kEncoding;
    case CtlWord::EXIT: return f::VM_EXIT_CONTROLS.kEncoding;
    case CtlWord::ENTRY: return f::VM_ENTRY_CONTROLS.kEncoding;
    }
    return 0;
}

// ---- pin-based ----

void demo_external_interrupt(const CpuProfile& p)
{
    exits_only_with(p, CtlWord::PIN, pin::EXTERNAL_INTERRUPT_EXITING, ExitReason::EXTERNAL_INTERRUPT,
                    {0xb9, 0x00, 0x01, 0x00, 0x00, 0x49, 0x75, 0xfd, 0xf4},  // mov ecx, 256; dec; jnz; hlt
                    [](Trial& t) { t.g.engine.raise_external_interrupt_at(50, 0x30); });
}

// An NMI injected at entry into a guest whose handler only IRETs, then HLT:
// the blocking by NMI that remains at the HLT.
u32 nmi_blocking_after_iret(Trial& t)
{
    u32 blocking = ~0u;
    t.gate(2, 0x10100);
    t.code(0x10100, {0xcf});  // iret
    t.g.vmcs.set(f::VM_ENTRY_INTR_INFO_FIELD, vmx::make_intr_info(2, vmx::InterruptionType::NMI, false));
    t.g.on_exit = [&blocking](Guest& g, const RecordedExit&) {
        blocking = static_cast<u32>(g.live(f::GUEST_INTERRUPTIBILITY_INFO.kEncoding));
        return hal::ExitAction::YIELD;
    };
    t.code(0x10000, {0xf4});
    t.run();
    return blocking;
}

void demo_nmi_exiting(const CpuProfile& p)
{
    // SDM 25.3: with NMI exiting, IRET leaves NMI blocking alone.
    Trial on(p), off(p);
    on.control(CtlWord::PIN, pin::NMI_EXITING, true);
    off.control(CtlWord::PIN, pin::NMI_EXITING, false);
    CHECK(nmi_blocking_after_iret(on) == vmx::interruptibility::BLOCKING_BY_NMI);
    CHECK(nmi_blocking_after_iret(off) == 0);
    CHECK(on.reason(0) == static_cast<u32>(ExitReason::HLT));
}

void demo_virtual_nmis(const CpuProfile& p)
{
    // Virtual-NMI blocking from the injected NMI lasts until its IRET; the
    // NMI window opens there, at the HLT it returns to (not in the handler).
    Trial on(p), off(p);
    for (Trial* t : {&on, &off}) t->control(CtlWord::PIN, pin::NMI_EXITING, true);
    on.control(CtlWord::PIN, pin::VIRTUAL_NMIS, true);
    on.control(CtlWord::PROC, proc::NMI_WINDOW_EXITING, true);
    nmi_blocking_after_iret(on);
    CHECK(on.reason(0) == static_cast<u32>(ExitReason::NMI_WINDOW));
    CHECK(on.g.exits[0].rip == 0x10000);
    CHECK(nmi_blocking_after_iret(off) == vmx::interruptibility::BLOCKING_BY_NMI);
}

void demo_preemption_timer(const CpuProfile& p)
{
    exits_only_with(p, CtlWord::PIN, pin::PREEMPTION_TIMER, ExitReason::PREEMPTION_TIMER,
                    {0xb9, 0x00, 0x01, 0x00, 0x00, 0x49, 0x75, 0xfd, 0xf4},
                    [](Trial& t) { t.g.vmcs.set(f::VMX_PREEMPTION_TIMER_VALUE, 100); });
}

// ---- primary processor-based ----

void demo_interrupt_window(const CpuProfile& p)
{
    exits_only_with(p, CtlWord::PROC, proc::INTERRUPT_WINDOW_EXITING, ExitReason::INTERRUPT_WINDOW, {0xf4},
                    [](Trial& t) { t.g.vmcs.set(f::GUEST_RFLAGS, 0x202); });
}

void demo_tsc_offsetting(const CpuProfile& p)
{
    const Pair r = both(p, CtlWord::PROC, proc::USE_TSC_OFFSETTING,
                        [](Trial& t) { t.g.vmcs.set(f::TSC_OFFSET, u64{1} << 40); }, {0x0f, 0x31, 0xf4});
    CHECK((r.on->g.regs.gpr[2] & 0xffffffff) == 0x100);
    CHECK((r.off->g.regs.gpr[2] & 0xffffffff) == 0);
}

void demo_hlt(const CpuProfile& p)
{
    // Without HLT exiting the guest halts until the external interrupt.
    exits_only_with(p, CtlWord::PROC, proc::HLT_EXITING, ExitReason::HLT, {0xf4}, [](Trial& t) {
        t.control(CtlWord::PIN, pin::EXTERNAL_INTERRUPT_EXITING, true);
        t.g.engine.raise_external_interrupt_at(1000, 0x30);
    });
}

void demo_invlpg(const CpuProfile& p)
{
    const Pair r = both(p, CtlWord::PROC, proc::INVLPG_EXITING, [](Trial&) {},
                        {0x0f, 0x01, 0x3d, 0x00, 0x10, 0x00, 0x00, 0xf4});  // invlpg [0x1000]
    CHECK(r.on->reason(0) == static_cast<u32>(ExitReason::INVLPG));
    CHECK(r.on->g.exits[0].qualification == 0x1000);
    CHECK(r.off->reason(0) == static_cast<u32>(ExitReason::HLT));
}

void demo_mwait(const CpuProfile& p)
{
    exits_only_with(p, CtlWord::PROC, proc::MWAIT_EXITING, ExitReason::MWAIT_INSTRUCTION, {0x0f, 0x01, 0xc9, 0xf4});
}

void demo_monitor(const CpuProfile& p)
{
    exits_only_with(p, CtlWord::PROC, proc::MONITOR_EXITING, ExitReason::MONITOR_INSTRUCTION, {0x0f, 0x01, 0xc8, 0xf4});
}

void demo_rdpmc(const CpuProfile& p)
{
    exits_only_with(p, CtlWord::PROC, proc::RDPMC_EXITING, ExitReason::RDPMC, {0x0f, 0x33, 0xf4});
}

void demo_rdtsc(const CpuProfile& p)
{
    exits_only_with(p, CtlWord::PROC, proc::RDTSC_EXITING, ExitReason::RDTSC, {0x0f, 0x31, 0xf4});
}

void demo_cr3_load(const CpuProfile& p)
{
    exits_only_with(p, CtlWord::PROC, proc::CR3_LOAD_EXITING, ExitReason::CR_ACCESS, {0x0f, 0x22, 0xd8, 0xf4},
                    [](Trial& t) { t.g.regs.gpr[0] = 0x20000; });  // mov cr3, eax (the same tables)
}

void demo_cr3_store(const CpuProfile& p)
{
    exits_only_with(p, CtlWord::PROC, proc::CR3_STORE_EXITING, ExitReason::CR_ACCESS, {0x0f, 0x20, 0xd8, 0xf4});
}

void demo_cr8_load(const CpuProfile& p)
{
    exits_only_with(p, CtlWord::PROC, proc::CR8_LOAD_EXITING, ExitReason::CR_ACCESS,
                    {0x44, 0x0f, 0x22, 0xc0, 0xf4}, [](Trial& t) { t.long64(); });  // mov cr8, rax
}

void demo_cr8_store(const CpuProfile& p)
{
    exits_only_with(p, CtlWord::PROC, proc::CR8_STORE_EXITING, ExitReason::CR_ACCESS,
                    {0x44, 0x0f, 0x20, 0xc0, 0xf4}, [](Trial& t) { t.long64(); });  // mov rax, cr8
}

void demo_nmi_window(const CpuProfile& p)
{
    exits_only_with(p, CtlWord::PROC, proc::NMI_WINDOW_EXITING, ExitReason::NMI_WINDOW, {0xf4},
                    [](Trial& t) { t.control(CtlWord::PIN, pin::NMI_EXITING | pin::VIRTUAL_NMIS, true); });
}

void demo_mov_dr(const CpuProfile& p)
{
    exits_only_with(p, CtlWord::PROC, proc::MOV_DR_EXITING, ExitReason::DR_ACCESS, {0x0f, 0x23, 0xc0, 0xf4});
}

void demo_unconditional_io(const CpuProfile& p)
{
    exits_only_with(p, CtlWord::PROC, proc::UNCONDITIONAL_IO_EXITING, ExitReason::IO_INSTRUCTION, {0xe6, 0x80, 0xf4});
}

void demo_io_bitmaps(const CpuProfile& p)
{
    // Bitmaps with every port clear: with them the port does not exit,
    // without them unconditional I/O exiting decides.
    const Pair r = both(p, CtlWord::PROC, proc::USE_IO_BITMAPS, [](Trial& t) {
        t.g.vmcs.set(f::IO_BITMAP_A, 0x60000);
        t.g.vmcs.set(f::IO_BITMAP_B, 0x61000);
    }, {0xe6, 0x80, 0xf4});
    CHECK(r.on->reason(0) == static_cast<u32>(ExitReason::HLT));
    CHECK(r.off->reason(0) == static_cast<u32>(ExitReason::IO_INSTRUCTION));
}

void demo_msr_bitmaps(const CpuProfile& p)
{
    const Pair r = both(p, CtlWord::PROC, proc::USE_MSR_BITMAPS, [](Trial& t) { t.g.vmcs.set(f::MSR_BITMAP, 0x62000); },
                        {0xb9, 0x74, 0x01, 0x00, 0x00, 0x0f, 0x32, 0xf4});  // mov ecx, 0x174; rdmsr
    CHECK(r.on->reason(0) == static_cast<u32>(ExitReason::HLT));
    CHECK(r.off->reason(0) == static_cast<u32>(ExitReason::MSR_READ));
}

void demo_pause(const CpuProfile& p)
{
    exits_only_with(p, CtlWord::PROC, proc::PAUSE_EXITING, ExitReason::PAUSE_INSTRUCTION, {0xf3, 0x90, 0xf4});
}

void demo_secondary(const CpuProfile& p)
{
    // WBINVD exiting is in the secondary controls: in effect only with them.
    exits_only_with(p, CtlWord::PROC, proc::ACTIVATE_SECONDARY_CONTROLS, ExitReason::WBINVD, {0x0f, 0x09, 0xf4},
                    [](Trial& t) { t.g.vmcs.set(f::SECONDARY_VM_EXEC_CONTROL, proc2::WBINVD_EXITING); });
}

}  // namespace

const std::vector<DemoEntry>& demos_pin_proc()
{
    static const std::vector<DemoEntry> all = {
        {CtlWord::PIN, 0, &demo_external_interrupt},
        {CtlWord::PIN, 3, &demo_nmi_exiting},
        {CtlWord::PIN, 5, &demo_virtual_nmis},
        {CtlWord::PIN, 6, &demo_preemption_timer},
        {CtlWord::PROC, 2, &demo_interrupt_window},
        {CtlWord::PROC, 3, &demo_tsc_offsetting},
        {CtlWord::PROC, 7, &demo_hlt},
        {CtlWord::PROC, 9, &demo_invlpg},
        {CtlWord::PROC, 10, &demo_mwait},
        {CtlWord::PROC, 11, &demo_rdpmc},
        {CtlWord::PROC, 12, &demo_rdtsc},
        {CtlWord::PROC, 15, &demo_cr3_load},
        {CtlWord::PROC, 16, &demo_cr3_store},
        {CtlWord::PROC, 19, &demo_cr8_load},
        {CtlWord::PROC, 20, &demo_cr8_store},
        {CtlWord::PROC, 22, &demo_nmi_window},
        {CtlWord::PROC, 23, &demo_mov_dr},
        {CtlWord::PROC, 24, &demo_unconditional_io},
        {CtlWord::PROC, 25, &demo_io_bitmaps},
        {CtlWord::PROC, 28, &demo_msr_bitmaps},
        {CtlWord::PROC, 29, &demo_monitor},
        {CtlWord::PROC, 30, &demo_pause},
        {CtlWord::PROC, 31, &demo_secondary},
    };
    return all;
}

// ---- the walk's plumbing ----

// EPT tables identity-mapping the first 2 MiB (one 2 MiB page, RWX, WB).
void ept(Trial& t)
{
    t.g.mem.store<u64>(0x40000, 0x41000 | 7);
    t.g.mem.store<u64>(0x41000, 0x42000 | 7);
    t.g.mem.store<u64>(0x42000, 0x0 | 7 | (6 << 3) | 0x80);
    t.g.vmcs.set(f::EPT_POINTER, kDemoEptp);
    t.control(CtlWord::PROC2, proc2::ENABLE_EPT, true);
}

// MSR bitmap with no MSR intercepted.
void msr_passthrough(Trial& t)
{
    t.g.vmcs.set(f::MSR_BITMAP, 0x62000);
    t.control(CtlWord::PROC, proc::USE_MSR_BITMAPS, true);
}

// The guest `code` at 0x10000 after `setup`, once with the control set and
// once with it clear.
Pair both(const CpuProfile& p, CtlWord w, u32 bit, const Setup& setup, std::initializer_list<u8> code)
{
    Pair r{std::make_unique<Trial>(p), std::make_unique<Trial>(p)};
    for (bool on : {true, false}) {
        Trial& t = on ? *r.on : *r.off;
        setup(t);
        t.control(w, bit, on);
        t.code(0x10000, code);
        t.run();
    }
    return r;
}

// The control makes `code` exit with `reason`; without it, it does not.
void exits_only_with(const CpuProfile& p, CtlWord w, u32 bit, vmx::ExitReason reason, std::initializer_list<u8> code,
                     const Setup& setup)
{
    const Pair r = both(p, w, bit, setup, code);
    INFO("set: " << r.on->why << " / clear: " << r.off->why);
    CHECK(r.on->reason(0) == static_cast<u32>(reason));
    CHECK(r.off->reason(0) != static_cast<u32>(reason));
}


u32 ctl_msr(CtlWord w)
{
    switch (w) {
    case CtlWord::PIN: return vmx::msr::IA32_VMX_PINBASED_CTLS;
    case CtlWord::PROC: return vmx::msr::IA32_VMX_PROCBASED_CTLS;
    case CtlWord::PROC2: return vmx::msr::IA32_VMX_PROCBASED_CTLS2;
    case CtlWord::EXIT: return vmx::msr::IA32_VMX_EXIT_CTLS;
    case CtlWord::ENTRY: return vmx::msr::IA32_VMX_ENTRY_CTLS;
    }
    return 0;
}

u32 ctl_allowed1(const CpuProfile& p, CtlWord w)
{
    return allowed1(p.capability_msr(ctl_msr(w)).value_or(0));
}

u32 ctl_allowed0(const CpuProfile& p, CtlWord w)
{
    switch (w) {
    case CtlWord::PIN: return allowed0(p.pin_ctls());
    case CtlWord::PROC: return allowed0(p.proc_ctls());
    case CtlWord::PROC2: return allowed0(p.vmx.procbased_ctls2);
    case CtlWord::EXIT: return allowed0(p.exit_ctls());
    case CtlWord::ENTRY: return allowed0(p.entry_ctls());
    }
    return 0;
}

u32 ctl_implemented(const CpuProfile& p, CtlWord w)
{
    switch (w) {
    case CtlWord::PIN: return p.implemented.pin;
    case CtlWord::PROC: return p.implemented.proc;
    case CtlWord::PROC2: return p.implemented.proc2;
    case CtlWord::EXIT: return p.implemented.exit;
    case CtlWord::ENTRY: return p.implemented.entry;
    }
    return 0;
}

Trial::Trial(const CpuProfile& p) : g(p)
{
    g.flat32(0x10000);
    // Paging with 4 MiB pages identity-mapping 16 MiB (CR0.PG is fixed to 1
    // without unrestricted guest).
    for (u32 i = 0; i < 4; ++i) g.mem.store<u32>(0x20000 + 4 * i, (i << 22) | 0x83);
    g.vmcs.set(f::GUEST_CR3, 0x20000);
    g.vmcs.set(f::GUEST_CR0, 0x80000031);
    g.vmcs.set(f::GUEST_CR4, 0x2010);
    g.vmcs.set(f::GUEST_DR7, 0x400);
    g.mem.store<u64>(0x508, 0x00cf9b000000ffffull);  // GDT: flat code 0x08, data 0x10
    g.mem.store<u64>(0x510, 0x00cf93000000ffffull);
    g.vmcs.set(f::PIN_BASED_VM_EXEC_CONTROL, ctl_allowed0(p, CtlWord::PIN));
    g.vmcs.set(f::CPU_BASED_VM_EXEC_CONTROL,
               ctl_allowed0(p, CtlWord::PROC) | proc::HLT_EXITING | proc::UNCONDITIONAL_IO_EXITING);
    g.vmcs.set(f::SECONDARY_VM_EXEC_CONTROL, 0);
    g.vmcs.set(f::VM_EXIT_CONTROLS, ctl_allowed0(p, CtlWord::EXIT) | exit_ctl::HOST_ADDRESS_SPACE_SIZE);
    g.vmcs.set(f::VM_ENTRY_CONTROLS, ctl_allowed0(p, CtlWord::ENTRY));
    g.vmcs.set(f::EXCEPTION_BITMAP, 0xffffffffu);
    // A 64-bit host (as entry_check_cases.hpp has it).
    g.vmcs.set(f::HOST_CR0, 0x80050033);
    g.vmcs.set(f::HOST_CR3, 0x1000);
    g.vmcs.set(f::HOST_CR4, 0x26a0);
    g.vmcs.set(f::HOST_CS_SELECTOR, 0x08);
    g.vmcs.set(f::HOST_SS_SELECTOR, 0x10);
    g.vmcs.set(f::HOST_DS_SELECTOR, 0x10);
    g.vmcs.set(f::HOST_ES_SELECTOR, 0x10);
    g.vmcs.set(f::HOST_TR_SELECTOR, 0x18);
    g.vmcs.set(f::HOST_TR_BASE, 0x2000);
    g.vmcs.set(f::HOST_GDTR_BASE, 0x1000);
    g.vmcs.set(f::HOST_IDTR_BASE, 0x3000);
    g.vmcs.set(f::HOST_RIP, 0xffffffff80001000ull);
    g.vmcs.set(f::HOST_RSP, 0xffffffff80008000ull);
    std::string* why_out = &why;
    Guest* guest = &g;
    g.engine.set_entry_check([why_out, guest](const VmcsStore& s) {
        EntryEnvironment env;
        env.memory = &guest->mem;
        const EntryCheckResult r = check_vm_entry_on_model(s, guest->profile, env);
        EntryOutcome o;
        if (r.status == EntryCheckStatus::VMFAIL_VALID) {
            o.kind = EntryOutcome::Kind::VMFAIL_VALID;
            o.error = static_cast<u32>(r.error);
        } else if (r.status == EntryCheckStatus::ENTRY_FAILURE) {
            o.kind = EntryOutcome::Kind::ENTRY_FAILURE;
            o.reason = static_cast<u32>(r.exit_reason);
            o.qualification = r.qualification;
        }
        if (!r.ok()) *why_out = r.check;
        return o;
    });
}

void Trial::control(CtlWord w, u32 bits, bool on)
{
    const u32 enc = word_field(w);
    const u64 v = g.vmcs.get(enc);
    g.vmcs.set(enc, on ? v | bits : v & ~u64{bits});
    if (w == CtlWord::PROC2 && on) control(CtlWord::PROC, proc::ACTIVATE_SECONDARY_CONTROLS, true);
}

void Trial::long64()
{
    g.vmcs.set(f::GUEST_CS_AR_BYTES, 0xa09b);
    control(CtlWord::ENTRY, entry_ctl::IA32E_MODE_GUEST, true);
    g.mem.store<u64>(0x30000, 0x31003);
    g.mem.store<u64>(0x31000, 0x32003);
    g.mem.store<u64>(0x32000, 0x000083);
    g.vmcs.set(f::GUEST_CR3, 0x30000);
    g.vmcs.set(f::GUEST_CR4, 0x2020);
}

void Trial::gate(u8 vector, u32 handler)
{
    const u64 lo = (handler & 0xffff) | (u64{0x08} << 16) | (u64{0x8e00} << 32) | (u64{handler >> 16} << 48);
    g.mem.store<u64>(u64{vector} * 8, lo);
}

Demo control_demo(CtlWord w, unsigned bit)
{
    for (const auto* list : {&demos_pin_proc(), &demos_secondary_exit_entry()})
        for (const DemoEntry& e : *list)
            if (e.word == w && e.bit == bit) return e.demo;
    return nullptr;
}

}  // namespace xeno::sim::test
