// The x86_32 layouts ("compat" in Xen) of the argument structures whose
// layout differs for a guest that calls from 32-bit mode: guest handles,
// xen_ulong_t and xen_pfn_t are 32 bits there, and a u64 is 4-byte aligned.
// Every other structure Xeno serves has one layout in both modes. Sizes and
// offsets pinned to Xen 4.19's public headers as built for x86_32.
#pragma once

#include <cstddef>

#include "lib/types.hpp"
#include "public/xen.hpp"

namespace xeno::xen::compat {

using guest_handle = u32;  // XEN_GUEST_HANDLE(T) of a 32-bit guest: a linear address

// HYPERVISOR_VIRT_START of an x86_32 (PAE) guest: what XENVER_platform_parameters reports.
inline constexpr u32 kHypervisorVirtStart = 0xf5800000;

struct xen_platform_parameters {
    u32 virt_start;
};
static_assert(sizeof(xen_platform_parameters) == 4);

struct sched_poll {
    guest_handle ports;  // XEN_GUEST_HANDLE(evtchn_port_t)
    u32 nr_ports;
    u64 timeout;
};
static_assert(sizeof(sched_poll) == 16 && offsetof(sched_poll, nr_ports) == 4 && offsetof(sched_poll, timeout) == 8);

struct xen_add_to_physmap {
    domid_t domid;
    u16 size;
    u32 space;
    u32 idx;   // xen_ulong_t
    u32 gpfn;  // xen_pfn_t
};
static_assert(sizeof(xen_add_to_physmap) == 16 && offsetof(xen_add_to_physmap, idx) == 8 &&
              offsetof(xen_add_to_physmap, gpfn) == 12);

struct xen_memory_map {
    u32 nr_entries;
    guest_handle buffer;  // e820entry records (packed: the same in both modes)
};
static_assert(sizeof(xen_memory_map) == 8 && offsetof(xen_memory_map, buffer) == 4);

struct xen_memory_reservation {
    guest_handle extent_start;  // XEN_GUEST_HANDLE(xen_pfn_t): 32-bit frame numbers
    u32 nr_extents;             // xen_ulong_t
    u32 extent_order;
    u32 mem_flags;
    domid_t domid;
    u16 _pad;
};
static_assert(sizeof(xen_memory_reservation) == 20 && offsetof(xen_memory_reservation, extent_order) == 8 &&
              offsetof(xen_memory_reservation, mem_flags) == 12 && offsetof(xen_memory_reservation, domid) == 16);

struct gnttab_setup_table {
    domid_t dom;
    u16 _pad0;
    u32 nr_frames;
    i16 status;
    u16 _pad1;
    guest_handle frame_list;  // XEN_GUEST_HANDLE(xen_pfn_t): 32-bit frame numbers
};
static_assert(sizeof(gnttab_setup_table) == 16 && offsetof(gnttab_setup_table, status) == 8 &&
              offsetof(gnttab_setup_table, frame_list) == 12);

struct [[gnu::packed]] vcpu_runstate_info {
    i32 state;
    u64 state_entry_time;
    u64 time[4];
};
static_assert(sizeof(vcpu_runstate_info) == 44 && offsetof(vcpu_runstate_info, state_entry_time) == 4 &&
              offsetof(vcpu_runstate_info, time) == 12);

}  // namespace xeno::xen::compat
