// HYPERVISOR_grant_table_op(cmd, args, count): the GNTTABOP_* sub-ops, their
// argument structures, the grant entries a guest writes into its table, and
// the GTF_*, GNTMAP_* and GNTST_* values (grant_table.h). Values and x86_64
// layouts pinned to Xen 4.19's public headers.
#pragma once

#include <cstddef>

#include "lib/types.hpp"
#include "public/xen.hpp"

namespace xeno::xen {

using grant_handle_t = u32;  // names one mapping made by map_grant_ref
using grant_status_t = u16;  // a v2 status-frame entry

namespace gnttabop {
inline constexpr u32 map_grant_ref = 0;
inline constexpr u32 unmap_grant_ref = 1;
inline constexpr u32 setup_table = 2;
inline constexpr u32 dump_table = 3;
inline constexpr u32 transfer = 4;
inline constexpr u32 copy = 5;
inline constexpr u32 query_size = 6;
inline constexpr u32 unmap_and_replace = 7;
inline constexpr u32 set_version = 8;
inline constexpr u32 get_status_frames = 9;
inline constexpr u32 get_version = 10;
inline constexpr u32 swap_grant_ref = 11;
inline constexpr u32 cache_flush = 12;
}  // namespace gnttabop

// The first entries are the toolstack's, kept across a version change.
inline constexpr u32 GNTTAB_NR_RESERVED_ENTRIES = 8;
inline constexpr grant_ref_t GNTTAB_RESERVED_CONSOLE = 0;
inline constexpr grant_ref_t GNTTAB_RESERVED_XENSTORE = 1;

// Version 1 entry. The granting guest writes domid and frame, then (after a
// write barrier) flags; Xen sets GTF_reading/GTF_writing while mapped.
struct grant_entry_v1 {
    u16 flags;      // gtf::
    domid_t domid;  // who is granted access
    u32 frame;      // the GFN granted (or, for accept_transfer, filled in)
};
static_assert(sizeof(grant_entry_v1) == 8);
static_assert(offsetof(grant_entry_v1, domid) == 2 && offsetof(grant_entry_v1, frame) == 4);

// The prefix v1 and v2 entries share; a v2 entry is 16 bytes, its status
// bits kept apart in the status frames.
struct grant_entry_header {
    u16 flags;
    domid_t domid;
};
static_assert(sizeof(grant_entry_header) == 4);

// GTF_*: grant_entry_v1.flags. Bits 0-1 are the type, the rest per type.
namespace gtf {
inline constexpr u16 invalid = 0;
inline constexpr u16 permit_access = 1;
inline constexpr u16 accept_transfer = 2;
inline constexpr u16 transitive = 3;  // v2 only
inline constexpr u16 type_mask = 3;
inline constexpr u16 readonly = 1u << 2;  // permit_access: [guest] map read-only
inline constexpr u16 reading = 1u << 3;   // permit_access: [Xen] mapped for reading
inline constexpr u16 writing = 1u << 4;   // permit_access: [Xen] mapped for writing
inline constexpr u16 PWT = 1u << 5;       // x86 cache attributes of the mapping
inline constexpr u16 PCD = 1u << 6;
inline constexpr u16 PAT = 1u << 7;
inline constexpr u16 sub_page = 1u << 8;  // v2: a byte range, copy only
inline constexpr u16 transfer_committed = 1u << 2;  // accept_transfer: [Xen]
inline constexpr u16 transfer_completed = 1u << 3;  // accept_transfer: [Xen] frame written
}  // namespace gtf

// GNTMAP_*: gnttab_map_grant_ref.flags.
namespace gntmap {
inline constexpr u32 device_map = 1u << 0;
inline constexpr u32 host_map = 1u << 1;
inline constexpr u32 readonly = 1u << 2;
inline constexpr u32 application_map = 1u << 3;
inline constexpr u32 contains_pte = 1u << 4;  // host_addr is a PTE's machine address
inline constexpr u32 can_fail = 1u << 5;
inline constexpr u32 guest_avail0 = 16;  // _GNTMAP_guest_avail0: first of the PTE avail bits
inline constexpr u32 guest_avail_mask = ~u32{0} << guest_avail0;
}  // namespace gntmap

// GNTST_*: the per-operation status field; all errors are negative.
namespace gntst {
inline constexpr i16 okay = 0;
inline constexpr i16 general_error = -1;
inline constexpr i16 bad_domain = -2;
inline constexpr i16 bad_gntref = -3;
inline constexpr i16 bad_handle = -4;
inline constexpr i16 bad_virt_addr = -5;
inline constexpr i16 bad_dev_addr = -6;
inline constexpr i16 no_device_space = -7;
inline constexpr i16 permission_denied = -8;
inline constexpr i16 bad_page = -9;
inline constexpr i16 bad_copy_arg = -10;  // copy crosses a page boundary
inline constexpr i16 address_too_big = -11;
inline constexpr i16 eagain = -12;
inline constexpr i16 no_space = -13;  // out of handles
}  // namespace gntst

struct gnttab_map_grant_ref {
    u64 host_addr;  // IN
    u32 flags;      // IN: gntmap::
    grant_ref_t ref;
    domid_t dom;
    i16 status;  // OUT: gntst::
    grant_handle_t handle;
    u64 dev_bus_addr;
};
static_assert(sizeof(gnttab_map_grant_ref) == 32);
static_assert(offsetof(gnttab_map_grant_ref, flags) == 8 && offsetof(gnttab_map_grant_ref, ref) == 12);
static_assert(offsetof(gnttab_map_grant_ref, dom) == 16 && offsetof(gnttab_map_grant_ref, status) == 18);
static_assert(offsetof(gnttab_map_grant_ref, handle) == 20 && offsetof(gnttab_map_grant_ref, dev_bus_addr) == 24);

struct gnttab_unmap_grant_ref {
    u64 host_addr;
    u64 dev_bus_addr;
    grant_handle_t handle;
    i16 status;  // OUT
    u16 _pad;
};
static_assert(sizeof(gnttab_unmap_grant_ref) == 24);
static_assert(offsetof(gnttab_unmap_grant_ref, handle) == 16 && offsetof(gnttab_unmap_grant_ref, status) == 20);

// GNTTABOP_setup_table: Xen writes nr_frames GFNs/MFNs to frame_list.
struct gnttab_setup_table {
    domid_t dom;     // IN: may be DOMID_SELF
    u16 _pad0;
    u32 nr_frames;   // IN
    i16 status;      // OUT
    u16 _pad1[3];
    guest_handle frame_list;  // XEN_GUEST_HANDLE(xen_pfn_t)
};
static_assert(sizeof(gnttab_setup_table) == 24);
static_assert(offsetof(gnttab_setup_table, nr_frames) == 4 && offsetof(gnttab_setup_table, status) == 8);
static_assert(offsetof(gnttab_setup_table, frame_list) == 16);

struct gnttab_copy {
    struct gnttab_copy_ptr {
        union {
            grant_ref_t ref;  // when the GNTCOPY_*_gref flag is set
            xen_pfn_t gmfn;
        } u;
        domid_t domid;
        u16 offset;
        u32 _pad;
    } source, dest;
    u16 len;
    u16 flags;   // gntcopy::
    i16 status;  // OUT
    u16 _pad;
};
namespace gntcopy {
inline constexpr u16 source_gref = 1u << 0;
inline constexpr u16 dest_gref = 1u << 1;
}  // namespace gntcopy
static_assert(sizeof(gnttab_copy::gnttab_copy_ptr) == 16);
static_assert(offsetof(gnttab_copy::gnttab_copy_ptr, domid) == 8);
static_assert(offsetof(gnttab_copy::gnttab_copy_ptr, offset) == 10);
static_assert(sizeof(gnttab_copy) == 40 && offsetof(gnttab_copy, dest) == 16);
static_assert(offsetof(gnttab_copy, len) == 32 && offsetof(gnttab_copy, flags) == 34);
static_assert(offsetof(gnttab_copy, status) == 36);

struct gnttab_query_size {
    domid_t dom;  // IN
    u16 _pad0;
    u32 nr_frames;      // OUT
    u32 max_nr_frames;  // OUT
    i16 status;         // OUT
    u16 _pad1;
};
static_assert(sizeof(gnttab_query_size) == 16);
static_assert(offsetof(gnttab_query_size, nr_frames) == 4 && offsetof(gnttab_query_size, max_nr_frames) == 8);
static_assert(offsetof(gnttab_query_size, status) == 12);

// GNTTABOP_set_version: 1 or 2, before any grant is active; OUT: the version.
struct gnttab_set_version {
    u32 version;
};
static_assert(sizeof(gnttab_set_version) == 4);

struct gnttab_get_status_frames {
    u32 nr_frames;  // IN
    domid_t dom;    // IN
    i16 status;     // OUT
    guest_handle frame_list;  // XEN_GUEST_HANDLE(uint64_t)
};
static_assert(sizeof(gnttab_get_status_frames) == 16);
static_assert(offsetof(gnttab_get_status_frames, dom) == 4 && offsetof(gnttab_get_status_frames, status) == 6);
static_assert(offsetof(gnttab_get_status_frames, frame_list) == 8);

struct gnttab_get_version {
    domid_t dom;  // IN
    u16 pad;
    u32 version;  // OUT
};
static_assert(sizeof(gnttab_get_version) == 8 && offsetof(gnttab_get_version, version) == 4);

}  // namespace xeno::xen
