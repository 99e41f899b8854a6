// Running a domain's vcpus on the physical CPUs (DESIGN.md "SMP").
//
// Each physical CPU in use has a Scheduler for its share of the vcpus:
// vcpu i runs on CPU i % cpus, always the same one (its VMCS holds that
// CPU's host state). The sim build has one CPU; the hw build as many as
// the machine started (hal::start_cpus), up to the domain's vcpu count, and
// one under shadow paging (the shadow page tables are one cache the vcpus
// share, filled without cross-CPU invalidation).
//
// A physical CPU runs one vcpu at a time with hal::run, for a time slice
// (quantum_us) when others of its vcpus are waiting, or until it blocks: it
// halts (HLT with nothing it can take), waits for a SIPI, or its domain
// ends. Vcpus are taken in a fixed round-robin order, so a run replays
// exactly in the sim build, where the physical CPU is the one simulated
// processor and the slices end at exact virtual times.
//
// Locking: the scheduler holds the big lock (core/hv_lock.hpp) for all its
// decisions and lets go of it only while a guest runs or the CPU idles. A
// vcpu that gets something new (an interrupt, a SIPI) while its CPU runs
// another guest or idles is "kicked": its CPU gets a host interrupt and
// looks again.
//
// Before every VM entry (the first of a slice, and every RESUME after an
// exit handler: before_entry) the scheduler fires the device timers that
// are due, applies INIT and SIPI, injects what the local APIC and the
// 8259A have pending (interrupt_injection.hpp), and arms the host timer for
// the earliest device deadline or the end of the slice. When no vcpu can
// run the CPU idles until that deadline (hal::wait_for_interrupt; in sim,
// virtual time jumps there). When no vcpu can run and nothing could ever
// make one runnable, the domain ends as HALTED with the reason. When the
// host wants the run to stop (hal::stop_requested: in sim, a limit of the
// run) the domain ends as CRASHED with the host's reason.
#pragma once

#include "core/domain.hpp"
#include "core/vcpu.hpp"
#include "hal/vmx.hpp"

namespace xeno {

class Scheduler {
public:
    // The scheduler of physical CPU `cpu` of `cpus`: it becomes the
    // scheduler of vcpus cpu, cpu + cpus, ...
    Scheduler(Domain& domain, u32 cpu, u32 cpus, u64 quantum_ns);
    ~Scheduler();
    Scheduler(const Scheduler&) = delete;
    Scheduler& operator=(const Scheduler&) = delete;

    // Run this CPU's vcpus until the domain ends. SUCCEED, or the VMfail
    // outcome of an entry that failed (its vcpu's VMCS is current). Called
    // on the scheduler's CPU without the big lock.
    hal::VmxResult run();

    // Make this scheduler's CPU look again at its vcpus (hal::kick_cpu when
    // that is not the caller's CPU).
    void kick();

    // The exit handler of `vcpu` finished: whether it may re-enter now (the
    // events to deliver are injected, the host timer armed), or must yield
    // the CPU (it blocked, its slice is over and another vcpu waits, or the
    // domain ended).
    bool before_entry(Vcpu& vcpu);

    // The vcpu that ran last (whose VMCS is current), or null.
    Vcpu* current() { return current_; }
    u64 switches() const { return switches_; }

private:
    bool can_run(Vcpu& vcpu);
    bool mine(const Vcpu& vcpu) const { return vcpu.id() % cpus_ == cpu_; }
    Vcpu* pick();
    bool others_runnable(const Vcpu& running);
    bool elsewhere_runnable();
    void arm_host_timer(bool slice);
    bool idle();  // false: nothing can ever wake a vcpu (the domain ended)
    void wait_unlocked();  // hal::wait_for_interrupt without the big lock

    Domain& domain_;
    u32 cpu_;
    u32 cpus_;
    u64 quantum_ns_;
    Vcpu* current_ = nullptr;
    u32 next_ = 0;            // round robin: where the next search starts
    u64 slice_end_ = ~u64{0};
    u64 switches_ = 0;
};

}  // namespace xeno
