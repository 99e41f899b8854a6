// HYPERVISOR_memory_op(cmd, arg): the XENMEM_* sub-ops, the XENMEMF_* flag
// encoding, the XENMAPSPACE_* spaces of add_to_physmap and the structures a
// guest passes (memory.h), plus the E820 entry XENMEM_memory_map returns.
// Values and x86_64 layouts pinned to Xen 4.19's public headers.
#pragma once

#include <cstddef>

#include "lib/types.hpp"
#include "public/xen.hpp"

namespace xeno::xen {

namespace xenmem {
inline constexpr u32 increase_reservation = 0;  // arg: xen_memory_reservation
inline constexpr u32 decrease_reservation = 1;  // arg: xen_memory_reservation
inline constexpr u32 maximum_ram_page = 2;      // arg NULL
inline constexpr u32 current_reservation = 3;   // arg: xen_memory_domain
inline constexpr u32 maximum_reservation = 4;   // arg: xen_memory_domain
inline constexpr u32 machphys_mfn_list = 5;     // arg: xen_machphys_mfn_list
inline constexpr u32 populate_physmap = 6;      // arg: xen_memory_reservation
inline constexpr u32 add_to_physmap = 7;        // arg: xen_add_to_physmap
// 8 was translate_gpfn_list, removed.
inline constexpr u32 memory_map = 9;           // arg: xen_memory_map
inline constexpr u32 machine_memory_map = 10;  // arg: xen_memory_map
inline constexpr u32 exchange = 11;            // arg: xen_memory_exchange (PV only)
inline constexpr u32 machphys_mapping = 12;    // arg: xen_machphys_mapping
inline constexpr u32 set_memory_map = 13;      // arg: xen_foreign_memory_map
inline constexpr u32 maximum_gpfn = 14;        // arg: xen_memory_domain
inline constexpr u32 remove_from_physmap = 15;  // arg: xen_remove_from_physmap
inline constexpr u32 set_pod_target = 16;
inline constexpr u32 get_pod_target = 17;
inline constexpr u32 get_sharing_freed_pages = 18;
inline constexpr u32 get_sharing_shared_pages = 19;
inline constexpr u32 paging_op = 20;
inline constexpr u32 access_op = 21;
inline constexpr u32 sharing_op = 22;
inline constexpr u32 add_to_physmap_batch = 23;  // arg: xen_add_to_physmap_batch
inline constexpr u32 claim_pages = 24;           // arg: xen_memory_reservation
inline constexpr u32 machphys_compat_mfn_list = 25;
inline constexpr u32 get_vnumainfo = 26;  // arg: xen_vnuma_topology_info
inline constexpr u32 reserved_device_memory_map = 27;
inline constexpr u32 acquire_resource = 28;
}  // namespace xenmem

// XENMEMF_*: xen_memory_reservation.mem_flags. Bits 7:0 limit the address
// width of the frames (0: no limit), bits 15:8 hold NUMA node + 1 (0: any).
namespace xenmemf {
constexpr u32 address_bits(u32 bits) { return bits; }
constexpr u32 get_address_bits(u32 flags) { return flags & 0xffu; }
constexpr u32 node(u32 n) { return (n + 1) << 8; }
constexpr u32 get_node(u32 flags) { return ((flags >> 8) - 1) & 0xffu; }
inline constexpr u32 populate_on_demand = 1u << 16;
inline constexpr u32 exact_node_request = 1u << 17;
constexpr u32 exact_node(u32 n) { return node(n) | exact_node_request; }
inline constexpr u32 vnode = 1u << 18;  // node() names a virtual node
}  // namespace xenmemf

struct xen_memory_reservation {
    guest_handle extent_start;  // XEN_GUEST_HANDLE(xen_pfn_t): IN GFNs and/or OUT frames
    xen_ulong_t nr_extents;
    u32 extent_order;  // each extent is 2^extent_order pages
    u32 mem_flags;     // xenmemf::
    domid_t domid;     // DOMID_SELF unless privileged
    u16 _pad[3];
};
static_assert(sizeof(xen_memory_reservation) == 32);
static_assert(offsetof(xen_memory_reservation, nr_extents) == 8);
static_assert(offsetof(xen_memory_reservation, extent_order) == 16);
static_assert(offsetof(xen_memory_reservation, mem_flags) == 20 && offsetof(xen_memory_reservation, domid) == 24);

// XENMEM_exchange: nr_exchanged must be 0 on entry; it reports partial work.
struct xen_memory_exchange {
    xen_memory_reservation in;
    xen_memory_reservation out;
    xen_ulong_t nr_exchanged;
};
static_assert(sizeof(xen_memory_exchange) == 72);
static_assert(offsetof(xen_memory_exchange, out) == 32 && offsetof(xen_memory_exchange, nr_exchanged) == 64);

struct xen_memory_domain {
    domid_t domid;
};
static_assert(sizeof(xen_memory_domain) == 2);

struct xen_machphys_mfn_list {
    u32 max_extents;
    u32 _pad0;
    guest_handle extent_start;  // XEN_GUEST_HANDLE(xen_pfn_t)
    u32 nr_extents;             // OUT
    u32 _pad1;
};
static_assert(sizeof(xen_machphys_mfn_list) == 24);
static_assert(offsetof(xen_machphys_mfn_list, extent_start) == 8 && offsetof(xen_machphys_mfn_list, nr_extents) == 16);

struct xen_machphys_mapping {
    xen_ulong_t v_start;
    xen_ulong_t v_end;
    xen_ulong_t max_mfn;
};
static_assert(sizeof(xen_machphys_mapping) == 24);

// XENMAPSPACE_*: where the page add_to_physmap maps comes from.
namespace xenmapspace {
inline constexpr u32 shared_info = 0;
inline constexpr u32 grant_table = 1;  // idx: frame number, | XENMAPIDX_grant_table_status
inline constexpr u32 gmfn = 2;
inline constexpr u32 gmfn_range = 3;    // add_to_physmap only
inline constexpr u32 gmfn_foreign = 4;  // add_to_physmap_batch only
inline constexpr u32 dev_mmio = 5;      // Arm only
}  // namespace xenmapspace
inline constexpr xen_ulong_t XENMAPIDX_grant_table_status = 0x80000000;  // a v2 status frame

// XENMEM_add_to_physmap: make page idx of space appear at gpfn in domid.
struct xen_add_to_physmap {
    domid_t domid;
    u16 size;   // pages, gmfn_range only
    u32 space;  // xenmapspace::
    xen_ulong_t idx;
    xen_pfn_t gpfn;
};
static_assert(sizeof(xen_add_to_physmap) == 24);
static_assert(offsetof(xen_add_to_physmap, size) == 2 && offsetof(xen_add_to_physmap, space) == 4);
static_assert(offsetof(xen_add_to_physmap, idx) == 8 && offsetof(xen_add_to_physmap, gpfn) == 16);

struct xen_add_to_physmap_batch {
    domid_t domid;
    u16 space;  // xenmapspace::
    u16 size;   // entries in idxs, gpfns and errs
    union {
        domid_t foreign_domid;  // gmfn_foreign
        u16 res0;               // other spaces: 0
    } u;
    guest_handle idxs;   // XEN_GUEST_HANDLE(xen_ulong_t)
    guest_handle gpfns;  // XEN_GUEST_HANDLE(xen_pfn_t)
    guest_handle errs;   // XEN_GUEST_HANDLE(int): OUT, per entry
};
static_assert(sizeof(xen_add_to_physmap_batch) == 32);
static_assert(offsetof(xen_add_to_physmap_batch, size) == 4 && offsetof(xen_add_to_physmap_batch, u) == 6);
static_assert(offsetof(xen_add_to_physmap_batch, idxs) == 8 && offsetof(xen_add_to_physmap_batch, errs) == 24);

struct xen_remove_from_physmap {
    domid_t domid;
    u16 _pad[3];
    xen_pfn_t gpfn;
};
static_assert(sizeof(xen_remove_from_physmap) == 16 && offsetof(xen_remove_from_physmap, gpfn) == 8);

// XENMEM_memory_map / machine_memory_map: nr_entries is the buffer's capacity
// on entry and the count written on return; buffer holds e820entry records.
struct xen_memory_map {
    u32 nr_entries;
    u32 _pad;
    guest_handle buffer;  // XEN_GUEST_HANDLE(void)
};
static_assert(sizeof(xen_memory_map) == 16 && offsetof(xen_memory_map, buffer) == 8);

struct xen_foreign_memory_map {
    domid_t domid;
    u16 _pad[3];
    xen_memory_map map;
};
static_assert(sizeof(xen_foreign_memory_map) == 24 && offsetof(xen_foreign_memory_map, map) == 8);

// One memory-map record as INT 15h E820 returns it: 20 bytes, packed, so
// records in the buffer are 20 bytes apart (boot::E820Entry is the
// hypervisor's unpacked 24-byte form of the same thing).
struct [[gnu::packed]] e820entry {
    u64 addr;
    u64 size;
    u32 type;  // E820 type: 1 RAM, 2 reserved, 3 ACPI, 4 NVS, 5 unusable
};
static_assert(sizeof(e820entry) == 20);
static_assert(offsetof(e820entry, size) == 8 && offsetof(e820entry, type) == 16);

struct xen_vmemrange {
    u64 start;
    u64 end;
    u32 flags;
    u32 nid;
};
static_assert(sizeof(xen_vmemrange) == 24 && offsetof(xen_vmemrange, nid) == 20);

// XENMEM_get_vnumainfo: the counts are IN capacities and OUT actual sizes.
struct xen_vnuma_topology_info {
    domid_t domid;
    u16 pad;
    u32 nr_vnodes;
    u32 nr_vcpus;
    u32 nr_vmemranges;
    guest_handle vdistance;      // XEN_GUEST_HANDLE(uint), nr_vnodes^2
    guest_handle vcpu_to_vnode;  // XEN_GUEST_HANDLE(uint), nr_vcpus
    guest_handle vmemrange;      // XEN_GUEST_HANDLE(xen_vmemrange_t)
};
static_assert(sizeof(xen_vnuma_topology_info) == 40);
static_assert(offsetof(xen_vnuma_topology_info, nr_vnodes) == 4);
static_assert(offsetof(xen_vnuma_topology_info, nr_vmemranges) == 12);
static_assert(offsetof(xen_vnuma_topology_info, vdistance) == 16);
static_assert(offsetof(xen_vnuma_topology_info, vmemrange) == 32);

}  // namespace xeno::xen
