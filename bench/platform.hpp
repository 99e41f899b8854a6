// The virtual-PC figures of xeno-bench (bench/guests/{timer_irq*,ipi_pingpong,
// idle_sleep,smp_compute}.asm): timer interrupts, IPIs between vcpus, idle
// time and SMP throughput, each on the --profile given.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace xeno::bench {

// Exits by reason, summed over the vcpus, from the "exits: <n> emulated=<n>
// [vcpu=<i>] <REASON>=<n> ..." line the hypervisor logs per vcpu at the end
// of a run; "all" holds the totals.
using ExitCounts = std::map<std::string, std::int64_t>;
ExitCounts parse_exit_lines(const std::string& log);

// timer_irq_ns: host ns per delivered PIT interrupt (I/O APIC -> local APIC,
// handler with MMIO EOI) under a busy guest, over `interrupts` at 199 kHz,
// minus a baseline that runs the same loop iterations without the timer;
// timer_irq_halted_ns: the same at 10 kHz with the guest waiting in HLT.
void timer_irq(std::uint32_t interrupts, const std::string& profile);

// ipi_ns: host ns per IPI round trip between two vcpus (smp=2), both waiting
// in HLT, over `round_trips`; includes two vcpu switches per round trip.
void ipi(std::uint32_t round_trips, const std::string& profile);

// idle_virtual_per_host and idle_oneshot_virtual_per_host: virtual seconds
// per host second while the only vcpu sleeps `ticks` x 10 ms in HLT, woken
// by a 100 Hz periodic local APIC timer or once by a one-shot.
void idle(std::uint32_t ticks, const std::string& profile);

// smp4_insns_ratio: guest instructions per host second of 4 vcpus (smp=4)
// each running `iterations` of a compute loop without exits, over 1 vcpu
// running 4 x `iterations` of it (the same work).
void smp4(std::uint32_t iterations, const std::string& profile);

}  // namespace xeno::bench
