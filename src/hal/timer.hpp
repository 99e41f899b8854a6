// The physical CPU's timer and host interrupts (see panic.hpp for what
// src/hal is).
//
// Each physical CPU has one one-shot timer on the machine clock
// (hal::time_ns). When it expires the CPU takes a host interrupt at
// kHostTimerVector: in VMX non-root operation that is an EXTERNAL_INTERRUPT
// VM exit (external-interrupt exiting, the vector acknowledged on exit), in
// the hypervisor's own idle loop it ends wait_for_interrupt(). The
// hypervisor arms it for the earliest thing it must do: a device model's
// deadline (PIT, RTC, LAPIC timer) or the end of a vcpu's time slice.
//
// hw: the host local APIC timer (TSC-deadline mode where the CPU has it,
// else one-shot mode calibrated against the TSC) and `sti; hlt`. sim: the
// software VMX model stops the guest at exactly the instruction boundary
// where virtual time reaches the deadline, and an idle wait jumps virtual
// time to the deadline, so runs with timers stay deterministic and idle
// costs no host time.
#pragma once

#include "hal/cpu.hpp"  // time_ns: the machine clock
#include "lib/types.hpp"

namespace xeno::hal {

inline constexpr u8 kHostTimerVector = 0xf0;
inline constexpr u8 kHostKickVector = 0xf1;  // another CPU wants this one to look again (hal::kick_cpu)
inline constexpr u64 kNoDeadline = ~u64{0};

// Arm the timer for `deadline_ns` (machine clock); kNoDeadline disarms.
// A deadline at or before now fires at once. Replaces the previous one.
void timer_set_deadline(u64 deadline_ns);

// In root operation: wait until a host interrupt has arrived (and been
// handled), for instance the armed timer's. Returns at once when one is
// already pending. The caller must have armed something that can end the
// wait (sim: a wait with no deadline armed is a hypervisor bug: panic).
// Also returns at once when the host wants the run to stop (vmx.hpp
// stop_requested).
void wait_for_interrupt();

// The host TSC (what RDTSC reads without offsetting) at machine-clock time
// `ns`, and the machine-clock time at which it reads `tsc` (0 for a value
// from before the clock started). hw: the measured TSC rate; sim: the
// virtual TSC, which runs on virtual time.
u64 tsc_at(u64 ns);
u64 time_at_tsc(u64 tsc);

// An EXTERNAL_INTERRUPT exit acknowledged host interrupt `vector`: finish it
// (hw: EOI to the local APIC; sim: nothing to do).
void host_interrupt_done(u8 vector);

}  // namespace xeno::hal
