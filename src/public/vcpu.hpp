// HYPERVISOR_vcpu_op(cmd, vcpuid, arg): the VCPUOP_* sub-ops, the runstate
// a guest reads its accounting from, and the timer and registration
// arguments (vcpu.h). Values and x86_64 layouts pinned to Xen 4.19's public
// headers.
#pragma once

#include <cstddef>

#include "lib/types.hpp"
#include "public/xen.hpp"

namespace xeno::xen {

namespace vcpuop {
inline constexpr u32 initialise = 0;  // HVM: arg is a vcpu_hvm_context
inline constexpr u32 up = 1;
inline constexpr u32 down = 2;
inline constexpr u32 is_up = 3;  // returns 1 or 0
inline constexpr u32 get_runstate_info = 4;              // arg: vcpu_runstate_info
inline constexpr u32 register_runstate_memory_area = 5;  // arg: vcpu_register_runstate_memory_area
inline constexpr u32 set_periodic_timer = 6;             // arg: vcpu_set_periodic_timer
inline constexpr u32 stop_periodic_timer = 7;
inline constexpr u32 set_singleshot_timer = 8;  // arg: vcpu_set_singleshot_timer
inline constexpr u32 stop_singleshot_timer = 9;
inline constexpr u32 register_vcpu_info = 10;  // arg: vcpu_register_vcpu_info
inline constexpr u32 send_nmi = 11;
inline constexpr u32 get_physid = 12;  // arg: vcpu_get_physid
inline constexpr u32 register_vcpu_time_memory_area = 13;  // arg: vcpu_register_time_memory_area
// As 5 and 13, but addr is a guest-physical address, which stays valid
// whatever page tables the guest runs on.
inline constexpr u32 register_runstate_phys_area = 14;
inline constexpr u32 register_vcpu_time_phys_area = 15;
}  // namespace vcpuop

// RUNSTATE_*: vcpu_runstate_info.state, and the index into time[].
namespace runstate {
inline constexpr i32 running = 0;
inline constexpr i32 runnable = 1;  // ready, but no physical CPU
inline constexpr i32 blocked = 2;
inline constexpr i32 offline = 3;   // neither runnable nor blocked (paused, down)
}  // namespace runstate

struct vcpu_runstate_info {
    i32 state;  // runstate::
    u32 _pad;
    u64 state_entry_time;  // system time (ns) the state was entered; see below
    u64 time[4];           // ns spent in each state
};
static_assert(sizeof(vcpu_runstate_info) == 48);
static_assert(offsetof(vcpu_runstate_info, state_entry_time) == 8 && offsetof(vcpu_runstate_info, time) == 16);

// Set in state_entry_time while Xen rewrites a registered area, when the guest
// enabled vmasst::TYPE_runstate_update_flag.
inline constexpr u64 XEN_RUNSTATE_UPDATE = u64{1} << 63;

// addr: a guest linear address (op 5), or a guest-physical one (op 14).
struct vcpu_register_runstate_memory_area {
    u64 addr;
};
static_assert(sizeof(vcpu_register_runstate_memory_area) == 8);

// Periods under 1 ms may be refused.
struct vcpu_set_periodic_timer {
    u64 period_ns;
};
static_assert(sizeof(vcpu_set_periodic_timer) == 8);

struct vcpu_set_singleshot_timer {
    u64 timeout_abs_ns;  // system time
    u32 flags;           // VCPU_SSHOTTMR_*
    u32 _pad;
};
static_assert(sizeof(vcpu_set_singleshot_timer) == 16 && offsetof(vcpu_set_singleshot_timer, flags) == 8);

// Fail with -ETIME when timeout_abs_ns has passed (Xen may ignore it).
inline constexpr u32 VCPU_SSHOTTMR_future = 1u << 0;

// The vcpu's vcpu_info moves to (mfn, offset): may not cross a page, and only
// once per vcpu. For an HVM guest mfn is a GFN.
struct vcpu_register_vcpu_info {
    u64 mfn;
    u32 offset;
    u32 rsvd;
};
static_assert(sizeof(vcpu_register_vcpu_info) == 16);
static_assert(offsetof(vcpu_register_vcpu_info, offset) == 8 && offsetof(vcpu_register_vcpu_info, rsvd) == 12);

// x86: phys_id[31:0] is the APIC id, [63:32] the ACPI id.
struct vcpu_get_physid {
    u64 phys_id;
};
static_assert(sizeof(vcpu_get_physid) == 8);

// A second copy of vcpu_info.time, kept in step with it: a linear address
// (op 13) or a guest-physical one (op 15).
struct vcpu_register_time_memory_area {
    u64 addr;
};
static_assert(sizeof(vcpu_register_time_memory_area) == 8);

}  // namespace xeno::xen
