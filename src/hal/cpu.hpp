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

// The host's time in nanoseconds. sim: virtual time (guest instructions plus a
// fixed cost per exit), never host time. hw: derived from the TSC.
u64 time_ns();

}  // namespace xeno::hal
