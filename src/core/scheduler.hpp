// Running a domain's vcpus on a physical CPU (DESIGN.md "SMP").
//
// A physical CPU runs one vcpu at a time with hal::run, for a time slice
// (quantum_us) when others are waiting, or until it blocks: it halts (HLT
// with nothing it can take), waits for a SIPI, or its domain ends. Vcpus
// are taken in a fixed round-robin order, so a run replays exactly in the
// sim build, where the physical CPU is the one simulated processor and the
// slices end at exact virtual times.
//
// Before every VM entry (the first of a slice, and every RESUME after an
// exit handler: before_entry) the scheduler fires the device timers that
// are due, applies INIT and SIPI, injects what the local APIC and the
// 8259A have pending (interrupt_injection.hpp), and arms the host timer for
// the earliest device deadline or the end of the slice. When no vcpu can
// run the CPU idles until that deadline (hal::wait_for_interrupt; in sim,
// virtual time jumps there). When no vcpu can run and nothing could ever
// make one runnable, the domain ends as HALTED with the reason.
#pragma once

#include "core/domain.hpp"
#include "core/vcpu.hpp"
#include "hal/vmx.hpp"

namespace xeno {

class Scheduler {
public:
    Scheduler(Domain& domain, u64 quantum_ns);
    Scheduler(const Scheduler&) = delete;
    Scheduler& operator=(const Scheduler&) = delete;

    // Run the domain until it ends. SUCCEED, or the VMfail outcome of an
    // entry that failed (its vcpu's VMCS is current).
    hal::VmxResult run();

    // The exit handler of `vcpu` finished: whether it may re-enter now (the
    // events to deliver are injected, the host timer armed), or must yield
    // the CPU (it blocked, its slice is over and another vcpu waits, or the
    // domain ended).
    bool before_entry(Vcpu& vcpu);

    // The vcpu that ran last (whose VMCS is current), or null.
    Vcpu* current() { return current_; }
    u64 switches() const { return switches_; }

private:
    static void kick(void* context, u32 vcpu);
    bool can_run(Vcpu& vcpu);
    Vcpu* pick();
    bool others_runnable(const Vcpu& running);
    void arm_host_timer(bool slice);
    bool idle();  // false: nothing can ever wake a vcpu (the domain ended)

    Domain& domain_;
    u64 quantum_ns_;
    Vcpu* current_ = nullptr;
    u32 next_ = 0;            // round robin: where the next search starts
    u64 slice_end_ = ~u64{0};
    u64 switches_ = 0;
};

}  // namespace xeno
