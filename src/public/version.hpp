// HYPERVISOR_xen_version(cmd, arg): the XENVER_* sub-ops, their fixed-size
// answers, and the XENFEAT_* bits of XENVER_get_features (version.h,
// features.h). Values and x86_64 layouts pinned to Xen 4.19's public headers.
#pragma once

#include <cstddef>

#include "lib/types.hpp"
#include "public/xen.hpp"

namespace xeno::xen {

namespace xenver {
inline constexpr u32 version = 0;      // arg NULL; returns major << 16 | minor
inline constexpr u32 extraversion = 1;  // arg: xen_extraversion_t
inline constexpr u32 compile_info = 2;  // arg: xen_compile_info
inline constexpr u32 capabilities = 3;  // arg: xen_capabilities_info_t
inline constexpr u32 changeset = 4;     // arg: xen_changeset_info_t
inline constexpr u32 platform_parameters = 5;  // arg: xen_platform_parameters
inline constexpr u32 get_features = 6;  // arg: xen_feature_info
inline constexpr u32 pagesize = 7;      // arg NULL; returns the page size
inline constexpr u32 guest_handle = 8;  // arg: xen_domain_handle_t
inline constexpr u32 commandline = 9;   // arg: xen_commandline_t
inline constexpr u32 build_id = 10;     // arg: xen_build_id; returns bytes written
}  // namespace xenver

// The value XENVER_version returns.
constexpr u32 xen_version_value(u16 major, u16 minor) { return u32{major} << 16 | minor; }

// The fixed-size answers are NUL-padded strings; a longer string is cut.
using xen_extraversion_t = char[16];
using xen_capabilities_info_t = char[1024];
using xen_changeset_info_t = char[64];
using xen_commandline_t = char[1024];
using xen_domain_handle_t = u8[16];  // the guest's UUID, as the toolstack set it
inline constexpr usize XEN_EXTRAVERSION_LEN = sizeof(xen_extraversion_t);
inline constexpr usize XEN_CAPABILITIES_INFO_LEN = sizeof(xen_capabilities_info_t);
inline constexpr usize XEN_CHANGESET_INFO_LEN = sizeof(xen_changeset_info_t);
static_assert(XEN_EXTRAVERSION_LEN == 16 && XEN_CAPABILITIES_INFO_LEN == 1024);
static_assert(XEN_CHANGESET_INFO_LEN == 64 && sizeof(xen_commandline_t) == 1024);
static_assert(sizeof(xen_domain_handle_t) == 16);

struct xen_compile_info {
    char compiler[64];
    char compile_by[16];
    char compile_domain[32];
    char compile_date[32];
};
static_assert(sizeof(xen_compile_info) == 144);
static_assert(offsetof(xen_compile_info, compile_by) == 64 && offsetof(xen_compile_info, compile_domain) == 80);
static_assert(offsetof(xen_compile_info, compile_date) == 112);

// virt_start: where Xen's mappings begin in a PV guest's address space;
// meaningless to an HVM guest, which Xen answers with 0.
struct xen_platform_parameters {
    xen_ulong_t virt_start;
};
static_assert(sizeof(xen_platform_parameters) == 8);

struct xen_feature_info {
    u32 submap_idx;  // IN: which 32-bit submap (XENFEAT_* / 32)
    u32 submap;      // OUT
};
static_assert(sizeof(xen_feature_info) == 8 && offsetof(xen_feature_info, submap) == 4);

// XENVER_build_id: len is the size of the buffer that follows the structure
// in guest memory (buf[len]); the structure itself is only its header.
struct xen_build_id {
    u32 len;
};
static_assert(sizeof(xen_build_id) == 4);

// XENFEAT_*: bit numbers in the submaps XENVER_get_features returns, and the
// names a kernel lists in its XEN_ELFNOTE_FEATURES note.
namespace xenfeat {
inline constexpr u32 writable_page_tables = 0;
inline constexpr u32 writable_descriptor_tables = 1;
inline constexpr u32 auto_translated_physmap = 2;  // the guest sees GFNs, not MFNs
inline constexpr u32 supervisor_mode_kernel = 3;
inline constexpr u32 pae_pgdir_above_4gb = 4;
inline constexpr u32 mmu_pt_update_preserve_ad = 5;
inline constexpr u32 highmem_assist = 6;
inline constexpr u32 gnttab_map_avail_bits = 7;
inline constexpr u32 hvm_callback_vector = 8;  // HVM_PARAM_CALLBACK_TYPE_VECTOR works
inline constexpr u32 hvm_safe_pvclock = 9;
inline constexpr u32 hvm_pirqs = 10;
inline constexpr u32 dom0 = 11;
inline constexpr u32 grant_map_identity = 12;  // deprecated: commented out in Xen's header
inline constexpr u32 memory_op_vnode_supported = 13;
inline constexpr u32 ARM_SMCCC_supported = 14;
inline constexpr u32 linux_rsdp_unrestricted = 15;  // PVH: the RSDP may be above 1 MiB
inline constexpr u32 not_direct_mapped = 16;
inline constexpr u32 direct_mapped = 17;
inline constexpr u32 runstate_phys_area = 18;  // VCPUOP_register_runstate_phys_area
inline constexpr u32 vcpu_time_phys_area = 19;  // VCPUOP_register_vcpu_time_phys_area
inline constexpr u32 dm_msix_all_writes = 20;
inline constexpr u32 NR_SUBMAPS = 1;
}  // namespace xenfeat

}  // namespace xeno::xen
