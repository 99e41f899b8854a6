// The host CPU as the hypervisor sees it: identification, MSRs, control
// registers, port I/O (see panic.hpp for what src/hal is).
//
// In the sim build these act on the simulated host CPU whose identity is the
// selected CPU profile, so VMX bring-up runs the same code in both builds.
#pragma once

#include "lib/types.hpp"

namespace xeno::hal {

struct CpuidResult {
    u32 eax, ebx, ecx, edx;
};

CpuidResult cpuid(u32 leaf, u32 subleaf);

// MSR access. rdmsr of an MSR the CPU does not have is a bug in the caller
// (real hardware raises #GP), so it is not an error value.
u64 rdmsr(u32 msr);
void wrmsr(u32 msr, u64 value);

u64 read_cr0();
u64 read_cr3();
u64 read_cr4();
void write_cr0(u64 value);
void write_cr4(u64 value);

// Host descriptor-table state, as VM exits must restore it.
struct HostSegments {
    u16 cs, ss, ds, es, fs, gs, tr;
    u64 fs_base, gs_base, tr_base, gdtr_base, idtr_base;
};
HostSegments host_segments();

u8 inb(u16 port);
void outb(u16 port, u8 value);

// ---- physical CPUs ----

inline constexpr u32 kMaxCpus = 8;

// Start the machine's other physical CPUs, at most `limit` CPUs in all
// (hw: INIT-SIPI-SIPI to every other processor; each one that checks in
// parks until run_on_all_cpus, those beyond the limit stop for good). Once
// per boot; later calls return the same count. Returns how many CPUs
// run_on_all_cpus runs on, the boot CPU included. sim: one CPU.
u32 start_cpus(u32 limit);

// How many CPUs run_on_all_cpus runs on (1 before start_cpus).
u32 cpu_count();

// Run work(cpu, context) on every started CPU at once (cpu 0 is the boot
// CPU, which calls this and does its share); returns once the work has
// returned on every CPU.
using CpuWork = void (*)(u32 cpu, void* context);
void run_on_all_cpus(CpuWork work, void* context);

// The index of the CPU executing this (0: the boot CPU).
u32 this_cpu();

// Make `cpu` leave guest operation or its idle wait soon (a host interrupt
// at kHostKickVector, hal/timer.hpp). sim: nothing (one CPU).
void kick_cpu(u32 cpu);

// The host's time in nanoseconds. sim: virtual time (guest instructions plus a
// fixed cost per exit), never host time. hw: derived from the TSC.
u64 time_ns();

}  // namespace xeno::hal
