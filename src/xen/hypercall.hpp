// Hypercalls from HVM and PVH guests (docs/xen-abi.md): discovery through
// Xen's CPUID leaves, the hypercall page written through the MSR those
// leaves name, and VMCALL dispatch with Xen's register conventions.
#pragma once

#include "core/vcpu.hpp"
#include "lib/types.hpp"

namespace xeno::xen {

inline constexpr u32 kCpuidBase = 0x40000000;
inline constexpr u32 kCpuidLast = kCpuidBase + 5;
inline constexpr u32 kHypercallPageMsr = 0x40000000;

// One hypercall in flight: its arguments (RDI, RSI, RDX, R10, R8 in 64-bit
// mode; EBX, ECX, EDX, ESI, EDI in 32-bit mode) and what its handler asks
// for beyond the return value.
struct Hypercall {
    Vcpu& vcpu;
    u64 arg[5] = {};
    bool long_mode = true;
    // The handler did part of the work and updated arg[]: the guest
    // re-executes the VMCALL with them (Xen's continuation), so events can
    // be delivered in between.
    bool preempted = false;
};

// The hypervisor leaves 0x40000000-0x40000005 for `vcpu` (exit_cpuid.cpp
// asks for every leaf in that block).
void cpuid_leaf(Vcpu& vcpu, u32 leaf, u32 subleaf, u32 out[4]);

// WRMSR to the hypercall-page MSR. False: #GP(0).
bool write_hypercall_page_msr(Vcpu& vcpu, u64 value);

// The operations, one family per file. Each returns the hypercall's result
// (0 or more, or -errno).
i64 do_xen_version(Hypercall& call);
i64 do_console_io(Hypercall& call);
i64 do_sched_op(Hypercall& call);
i64 do_memory_op(Hypercall& call);
// increase_reservation, decrease_reservation, populate_physmap (memory_reservation.cpp).
i64 memory_reservation_op(Hypercall& call, u32 op);
i64 do_hvm_op(Hypercall& call);
i64 do_vcpu_op(Hypercall& call);
i64 do_event_channel_op(Hypercall& call);
i64 do_grant_table_op(Hypercall& call);

}  // namespace xeno::xen
