#include "core/scheduler.hpp"

#include "arch/x86/vmx/exit_dispatch.hpp"
#include "arch/x86/vmx/interrupt_injection.hpp"
#include "arch/x86/vmx/shadow_paging.hpp"
#include "arch/x86/vmx/vmcs.hpp"
#include "core/log.hpp"
#include "hal/timer.hpp"

namespace xeno {

Scheduler::Scheduler(Domain& domain, u64 quantum_ns) : domain_(domain), quantum_ns_(quantum_ns)
{
    domain_.set_kick(&Scheduler::kick, this);
    domain_.scheduler = this;
}

void Scheduler::kick(void* context, u32 vcpu)
{
    // One physical CPU runs every vcpu of the domain, so a vcpu that became
    // runnable is found by the next pick(); the running one learns about its
    // new interrupt at its next entry (before_entry). Nothing to signal.
    (void)context;
    (void)vcpu;
}

bool Scheduler::can_run(Vcpu& v)
{
    devices::LocalApic& a = v.lapic();
    switch (v.run_state) {
    case VcpuRunState::RUNNABLE: return true;
    case VcpuRunState::HALTED: return vmx::has_wakeup_event(v, v.halted_with_if);
    case VcpuRunState::WAIT_FOR_SIPI: return a.sipi_pending() || (a.init_pending() && v.is_bsp());
    }
    return false;
}

Vcpu* Scheduler::pick()
{
    const u32 n = domain_.vcpu_count();
    for (u32 i = 0; i < n; ++i) {
        Vcpu& v = domain_.vcpu((next_ + i) % n);
        if (can_run(v)) {
            next_ = (v.id() + 1) % n;
            return &v;
        }
    }
    return nullptr;
}

bool Scheduler::others_runnable(const Vcpu& running)
{
    for (u32 i = 0; i < domain_.vcpu_count(); ++i) {
        Vcpu& v = domain_.vcpu(i);
        if (&v != &running && can_run(v)) return true;
    }
    return false;
}

void Scheduler::arm_host_timer(bool slice)
{
    u64 deadline = domain_.timers().earliest();
    if (slice && slice_end_ < deadline) deadline = slice_end_;
    // Armed before every entry, even for the same deadline: on hardware the
    // one-shot may have fired while the hypervisor ran (the interrupt then
    // taken in root operation), leaving nothing armed.
    hal::timer_set_deadline(deadline);
}

bool Scheduler::idle()
{
    const u64 deadline = domain_.timers().earliest();
    if (deadline == devices::kNever) {
        // No vcpu can run and no device will ever do anything on its own.
        bool any_if = false;
        for (u32 i = 0; i < domain_.vcpu_count(); ++i) {
            const Vcpu& v = domain_.vcpu(i);
            any_if = any_if || (v.run_state == VcpuRunState::HALTED && v.halted_with_if);
        }
        domain_.end(DomainEnd::HALTED, kGuestCrashStatus,
                    any_if ? "every vcpu is halted and no timer or device can wake one"
                           : "halted with interrupts disabled");
        return false;
    }
    bool wakeable = false;
    for (u32 i = 0; i < domain_.vcpu_count(); ++i) {
        const Vcpu& v = domain_.vcpu(i);
        wakeable = wakeable || (v.run_state == VcpuRunState::HALTED && v.halted_with_if);
    }
    if (!wakeable) {
        // Every vcpu halted with IF=0 or waits for a SIPI that only a running
        // vcpu could send: timers can raise only maskable interrupts here.
        domain_.end(DomainEnd::HALTED, kGuestCrashStatus, "halted with interrupts disabled");
        return false;
    }
    hal::timer_set_deadline(deadline);
    hal::wait_for_interrupt();
    return true;
}

hal::VmxResult Scheduler::run()
{
    while (!domain_.ended()) {
        domain_.timers().run_expired(hal::time_ns());
        Vcpu* v = pick();
        if (!v) {
            if (!idle()) break;
            continue;
        }
        if (v != current_) {
            if (hal::vmptrld(v->vmcs) != hal::VmxResult::SUCCEED) {
                LogLine{}.str("sched: VMPTRLD of vcpu ").dec(v->id()).str("'s VMCS failed");
                return hal::VmxResult::FAIL_INVALID;
            }
            if (current_) ++switches_;
            current_ = v;
            vmx::shadow_switch_in(*v);
        }
        if (v->run_state == VcpuRunState::HALTED) v->run_state = VcpuRunState::RUNNABLE;
        slice_end_ = hal::time_ns() + quantum_ns_;
        if (!before_entry(*v)) continue;
        const hal::VmxResult r = hal::run(v->regs, &vmx::on_vm_exit, v);
        if (r != hal::VmxResult::SUCCEED) return r;
    }
    hal::timer_set_deadline(hal::kNoDeadline);
    return hal::VmxResult::SUCCEED;
}

bool Scheduler::before_entry(Vcpu& v)
{
    if (domain_.ended()) return false;
    const u64 now = hal::time_ns();
    domain_.timers().run_expired(now);
    if (vmx::apply_init_sipi(v) && domain_.ended()) return false;
    if (v.run_state != VcpuRunState::RUNNABLE) return false;
    const bool others = others_runnable(v);
    const bool yield = v.yield_requested;
    v.yield_requested = false;
    if (others && (now >= slice_end_ || yield)) return false;  // preempted: its slice is over, or it spins
    vmx::inject_pending_events(v);
    if (domain_.ended()) return false;
    arm_host_timer(others);
    return true;
}

}  // namespace xeno
