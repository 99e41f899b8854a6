#include "core/scheduler.hpp"

#include "arch/x86/vmx/exit_dispatch.hpp"
#include "arch/x86/vmx/interrupt_injection.hpp"
#include "arch/x86/vmx/physmap.hpp"
#include "arch/x86/vmx/shadow_paging.hpp"
#include "arch/x86/vmx/vmcs.hpp"
#include "core/hv_lock.hpp"
#include "core/log.hpp"
#include "hal/cpu.hpp"
#include "hal/timer.hpp"
#include "hal/vmx.hpp"

namespace xeno {

Scheduler::Scheduler(Domain& domain, u32 cpu, u32 cpus, u64 quantum_ns)
    : domain_(domain), cpu_(cpu), cpus_(cpus == 0 ? 1 : cpus), quantum_ns_(quantum_ns), next_(cpu)
{
    const LockGuard guard(hv_lock());
    for (u32 i = 0; i < domain_.vcpu_count(); ++i)
        if (mine(domain_.vcpu(i))) domain_.vcpu(i).scheduler = this;
}

Scheduler::~Scheduler()
{
    const LockGuard guard(hv_lock());
    for (u32 i = 0; i < domain_.vcpu_count(); ++i)
        if (domain_.vcpu(i).scheduler == this) domain_.vcpu(i).scheduler = nullptr;
}

void Scheduler::kick()
{
    // On this CPU the next pick() or before_entry() sees what changed. On
    // another, its guest exits (an external-interrupt exit) or its idle
    // wait ends, and it looks again under the lock.
    if (cpu_ != hal::this_cpu()) hal::kick_cpu(cpu_);
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
        if (mine(v) && can_run(v)) {
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
        if (&v != &running && mine(v) && can_run(v)) return true;
    }
    return false;
}

bool Scheduler::elsewhere_runnable()
{
    for (u32 i = 0; i < domain_.vcpu_count(); ++i) {
        Vcpu& v = domain_.vcpu(i);
        if (!mine(v) && can_run(v)) return true;
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
    if (elsewhere_runnable()) {
        // Another CPU runs vcpus that may yet send this CPU's vcpus
        // something (they kick it): wait for that or the next device event.
        hal::timer_set_deadline(deadline == devices::kNever ? hal::kNoDeadline : deadline);
        wait_unlocked();
        return true;
    }
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
    wait_unlocked();
    return true;
}

void Scheduler::wait_unlocked()
{
    // A kick that comes between the unlock and the wait is not lost: its
    // host interrupt stays pending and ends the wait at once.
    hv_lock().unlock();
    hal::wait_for_interrupt();
    hv_lock().lock();
}

hal::VmxResult Scheduler::run()
{
    SpinLock& lock = hv_lock();
    lock.lock();
    hal::VmxResult result = hal::VmxResult::SUCCEED;
    while (!domain_.ended()) {
        // The host stops the run (sim: a limit of the run was reached while
        // the guest ran or this CPU idled): the domain ends with the host's
        // reason, and everything returns as after any other end.
        if (const char* why = hal::stop_requested()) {
            domain_.end(DomainEnd::CRASHED, kGuestCrashStatus, why);
            break;
        }
        domain_.timers().run_expired(hal::time_ns());
        Vcpu* v = pick();
        if (!v) {
            if (!idle()) break;
            continue;
        }
        if (v != current_) {
            if (hal::vmptrld(v->vmcs) != hal::VmxResult::SUCCEED) {
                LogLine{}.str("sched: VMPTRLD of vcpu ").dec(v->id()).str("'s VMCS failed");
                result = hal::VmxResult::FAIL_INVALID;
                break;
            }
            if (current_) ++switches_;
            current_ = v;
            vmx::shadow_switch_in(*v);
        }
        if (v->run_state == VcpuRunState::HALTED) {
            v->run_state = VcpuRunState::RUNNABLE;
            domain_.xen().vcpu_resumed(v->id());
        }
        slice_end_ = hal::time_ns() + quantum_ns_;
        if (!before_entry(*v)) continue;
        lock.unlock();
        const hal::VmxResult r = hal::run(v->regs, &vmx::on_vm_exit, v);
        lock.lock();
        v->in_guest = false;
        if (r != hal::VmxResult::SUCCEED) {
            result = r;
            break;
        }
    }
    hal::timer_set_deadline(hal::kNoDeadline);
    lock.unlock();
    return result;
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
    // Frames the balloon took away must be unreachable from this CPU
    // before the guest runs here again.
    vmx::physmap_sync(v);
    v.in_guest = true;
    return true;
}

}  // namespace xeno
