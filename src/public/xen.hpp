// Xen's public guest ABI, core part (xen.h, errno.h, arch-x86/xen.h,
// arch-x86/xen-x86_64.h, arch-x86/cpuid.h): hypercall numbers, error values,
// reserved domain ids, the shared-info page and the hypervisor CPUID leaves.
// Values and x86_64 layouts are pinned to Xen 4.19's public headers, so a
// guest built against Xen's headers reads exactly these bytes.
//
// Conventions for every header in src/public/:
//  - Structures and fields keep Xen's lowercase names, so Xen's documentation
//    maps one to one. A constant XEN_PREFIX_name becomes prefix::name.
//  - XEN_GUEST_HANDLE(T), xen_ulong_t and xen_pfn_t are u64 on x86_64; a
//    handle is a guest address the hypervisor translates before touching it.
//  - Padding the C compiler would insert silently is an explicit `_pad` member
//    here, so a structure copied back to a guest carries no stale host bytes.
#pragma once

#include <cstddef>

#include "lib/types.hpp"

namespace xeno::xen {

using xen_ulong_t = u64;
using xen_pfn_t = u64;
using domid_t = u16;
using evtchn_port_t = u32;
using grant_ref_t = u32;
using guest_handle = u64;  // XEN_GUEST_HANDLE(T): a guest linear address

// __HYPERVISOR_*: the hypercall number a guest puts in RAX.
namespace hypercall {
inline constexpr u32 set_trap_table = 0;
inline constexpr u32 mmu_update = 1;
inline constexpr u32 set_gdt = 2;
inline constexpr u32 stack_switch = 3;
inline constexpr u32 set_callbacks = 4;
inline constexpr u32 fpu_taskswitch = 5;
inline constexpr u32 sched_op_compat = 6;  // superseded by sched_op since Xen 3.0.2
inline constexpr u32 platform_op = 7;      // dom0_op before interface 0x00030204
inline constexpr u32 set_debugreg = 8;
inline constexpr u32 get_debugreg = 9;
inline constexpr u32 update_descriptor = 10;
// 11 is unallocated.
inline constexpr u32 memory_op = 12;
inline constexpr u32 multicall = 13;
inline constexpr u32 update_va_mapping = 14;
inline constexpr u32 set_timer_op = 15;
inline constexpr u32 event_channel_op_compat = 16;  // superseded by event_channel_op
inline constexpr u32 xen_version = 17;
inline constexpr u32 console_io = 18;
inline constexpr u32 physdev_op_compat = 19;  // superseded by physdev_op
inline constexpr u32 grant_table_op = 20;
inline constexpr u32 vm_assist = 21;
inline constexpr u32 update_va_mapping_otherdomain = 22;
inline constexpr u32 iret = 23;  // x86 PV only
inline constexpr u32 vcpu_op = 24;
inline constexpr u32 set_segment_base = 25;  // x86_64 PV only
inline constexpr u32 mmuext_op = 26;
inline constexpr u32 xsm_op = 27;
inline constexpr u32 nmi_op = 28;
inline constexpr u32 sched_op = 29;
inline constexpr u32 callback_op = 30;
inline constexpr u32 xenoprof_op = 31;
inline constexpr u32 event_channel_op = 32;
inline constexpr u32 physdev_op = 33;
inline constexpr u32 hvm_op = 34;
inline constexpr u32 sysctl = 35;
inline constexpr u32 domctl = 36;
inline constexpr u32 kexec_op = 37;
inline constexpr u32 tmem_op = 38;
inline constexpr u32 argo_op = 39;
inline constexpr u32 xenpmu_op = 40;
inline constexpr u32 dm_op = 41;
inline constexpr u32 hypfs_op = 42;
// Architecture-specific numbers; x86 uses arch_0 as __HYPERVISOR_mca.
inline constexpr u32 arch_0 = 48;
inline constexpr u32 arch_1 = 49;
inline constexpr u32 arch_2 = 50;
inline constexpr u32 arch_3 = 51;
inline constexpr u32 arch_4 = 52;
inline constexpr u32 arch_5 = 53;
inline constexpr u32 arch_6 = 54;
inline constexpr u32 arch_7 = 55;
}  // namespace hypercall

// Xen's errno values (errno.h). A hypercall fails by returning the negation.
// Xen's own XEN_ spelling is kept: the bare names are host <errno.h> macros.
namespace err {
inline constexpr int XEN_EPERM = 1;
inline constexpr int XEN_ENOENT = 2;
inline constexpr int XEN_ESRCH = 3;
inline constexpr int XEN_EINTR = 4;  // hypervisor-internal: never reaches a guest
inline constexpr int XEN_EIO = 5;
inline constexpr int XEN_ENXIO = 6;
inline constexpr int XEN_E2BIG = 7;
inline constexpr int XEN_ENOEXEC = 8;
inline constexpr int XEN_EBADF = 9;
inline constexpr int XEN_ECHILD = 10;
inline constexpr int XEN_EAGAIN = 11;
inline constexpr int XEN_EWOULDBLOCK = XEN_EAGAIN;
inline constexpr int XEN_ENOMEM = 12;
inline constexpr int XEN_EACCES = 13;
inline constexpr int XEN_EFAULT = 14;
inline constexpr int XEN_EBUSY = 16;
inline constexpr int XEN_EEXIST = 17;
inline constexpr int XEN_EXDEV = 18;
inline constexpr int XEN_ENODEV = 19;
inline constexpr int XEN_ENOTDIR = 20;
inline constexpr int XEN_EISDIR = 21;
inline constexpr int XEN_EINVAL = 22;
inline constexpr int XEN_ENFILE = 23;
inline constexpr int XEN_EMFILE = 24;
inline constexpr int XEN_ENOSPC = 28;
inline constexpr int XEN_EROFS = 30;
inline constexpr int XEN_EMLINK = 31;
inline constexpr int XEN_EDOM = 33;
inline constexpr int XEN_ERANGE = 34;
inline constexpr int XEN_EDEADLK = 35;
inline constexpr int XEN_EDEADLOCK = XEN_EDEADLK;
inline constexpr int XEN_ENAMETOOLONG = 36;
inline constexpr int XEN_ENOLCK = 37;
inline constexpr int XEN_ENOSYS = 38;
inline constexpr int XEN_ENOTEMPTY = 39;
inline constexpr int XEN_ENODATA = 61;
inline constexpr int XEN_ETIME = 62;
inline constexpr int XEN_EBADMSG = 74;
inline constexpr int XEN_EOVERFLOW = 75;
inline constexpr int XEN_EILSEQ = 84;
inline constexpr int XEN_ERESTART = 85;  // hypervisor-internal: "build a continuation"
inline constexpr int XEN_ENOTSOCK = 88;
inline constexpr int XEN_EMSGSIZE = 90;
inline constexpr int XEN_EOPNOTSUPP = 95;
inline constexpr int XEN_EADDRINUSE = 98;
inline constexpr int XEN_EADDRNOTAVAIL = 99;
inline constexpr int XEN_ENOBUFS = 105;
inline constexpr int XEN_EISCONN = 106;
inline constexpr int XEN_ENOTCONN = 107;
inline constexpr int XEN_ETIMEDOUT = 110;
inline constexpr int XEN_ECONNREFUSED = 111;
}  // namespace err

// DOMID_*: ids at and above first_reserved never name an ordinary domain.
namespace domid {
inline constexpr domid_t first_reserved = 0x7ff0;
inline constexpr domid_t self = 0x7ff0;  // "the caller", in most domid fields
inline constexpr domid_t io = 0x7ff1;
inline constexpr domid_t xen = 0x7ff2;
inline constexpr domid_t cow = 0x7ff3;      // owner of shared (copy-on-write) pages
inline constexpr domid_t invalid = 0x7ff4;  // owner of pages with no known owner
inline constexpr domid_t idle = 0x7fff;
inline constexpr domid_t mask = 0x7fff;
}  // namespace domid

// VMASST_*: HYPERVISOR_vm_assist(cmd, type).
namespace vmasst {
inline constexpr u32 CMD_enable = 0;
inline constexpr u32 CMD_disable = 1;
inline constexpr u32 TYPE_4gb_segments = 0;
inline constexpr u32 TYPE_4gb_segments_notify = 1;
inline constexpr u32 TYPE_writable_pagetables = 2;
inline constexpr u32 TYPE_pae_extended_cr3 = 3;
inline constexpr u32 TYPE_architectural_iopl = 4;
inline constexpr u32 TYPE_runstate_update_flag = 5;  // enables XEN_RUNSTATE_UPDATE
inline constexpr u32 TYPE_m2p_strict = 32;
}  // namespace vmasst

// HYPERVISOR_multicall takes an array of these; result is written back.
struct multicall_entry {
    xen_ulong_t op;
    xen_ulong_t result;
    xen_ulong_t args[6];
};
static_assert(sizeof(multicall_entry) == 64);
static_assert(offsetof(multicall_entry, result) == 8 && offsetof(multicall_entry, args) == 16);

// XEN_PVCLOCK_*: vcpu_time_info.flags.
namespace pvclock {
inline constexpr u8 TSC_STABLE_BIT = 1u << 0;  // TSC is synchronised across vcpus
inline constexpr u8 GUEST_STOPPED = 1u << 1;
}  // namespace pvclock

// Guest time = system_time + (((tsc - tsc_timestamp) << tsc_shift) *
// tsc_to_system_mul >> 32), a negative shift shifting right. version is odd
// while Xen updates the rest: a reader retries until it reads the same even
// version before and after.
struct vcpu_time_info {
    u32 version;
    u32 pad0;
    u64 tsc_timestamp;
    u64 system_time;  // ns since the domain's clock started
    u32 tsc_to_system_mul;
    i8 tsc_shift;
    u8 flags;  // pvclock::
    u8 pad1[2];
};
static_assert(sizeof(vcpu_time_info) == 32);
static_assert(offsetof(vcpu_time_info, tsc_timestamp) == 8 && offsetof(vcpu_time_info, system_time) == 16);
static_assert(offsetof(vcpu_time_info, tsc_to_system_mul) == 24 && offsetof(vcpu_time_info, tsc_shift) == 28);
static_assert(offsetof(vcpu_time_info, flags) == 29 && offsetof(vcpu_time_info, pad1) == 30);

struct arch_vcpu_info {
    u64 cr2;  // PV only: the faulting address of a #PF Xen bounces to the guest
    u64 pad;
};
static_assert(sizeof(arch_vcpu_info) == 16 && offsetof(arch_vcpu_info, pad) == 8);

// Per-vcpu event state. Xen sets evtchn_upcall_pending and a bit in
// evtchn_pending_sel per pending word of shared_info.evtchn_pending; the guest
// clears them. A nonzero evtchn_upcall_mask holds off the upcall.
struct vcpu_info {
    u8 evtchn_upcall_pending;
    u8 evtchn_upcall_mask;  // x86 has XEN_HAVE_PV_UPCALL_MASK
    u8 _pad[6];
    xen_ulong_t evtchn_pending_sel;
    arch_vcpu_info arch;
    vcpu_time_info time;
};
static_assert(sizeof(vcpu_info) == 64);
static_assert(offsetof(vcpu_info, evtchn_upcall_mask) == 1 && offsetof(vcpu_info, evtchn_pending_sel) == 8);
static_assert(offsetof(vcpu_info, arch) == 16 && offsetof(vcpu_info, time) == 32);

// x86_64: the PV p2m anchors; an HVM guest leaves them alone.
struct arch_shared_info {
    u64 max_pfn;
    xen_pfn_t pfn_to_mfn_frame_list_list;
    u64 nmi_reason;
    u64 p2m_cr3;
    u64 p2m_vaddr;
    u64 p2m_generation;
};
static_assert(sizeof(arch_shared_info) == 48);
static_assert(offsetof(arch_shared_info, pfn_to_mfn_frame_list_list) == 8);
static_assert(offsetof(arch_shared_info, nmi_reason) == 16 && offsetof(arch_shared_info, p2m_cr3) == 24);
static_assert(offsetof(arch_shared_info, p2m_vaddr) == 32 && offsetof(arch_shared_info, p2m_generation) == 40);

// vcpu_info slots in shared_info; vcpus beyond these register their own
// (VCPUOP_register_vcpu_info).
inline constexpr u32 XEN_LEGACY_MAX_VCPUS = 32;

// The shared-info page (XENMAPSPACE_shared_info). evtchn_pending/evtchn_mask
// are the 2-level event-channel bitmaps: bit p of the array is port p.
struct shared_info {
    struct vcpu_info vcpu_info[XEN_LEGACY_MAX_VCPUS];  // "struct": the member reuses the type's name
    xen_ulong_t evtchn_pending[sizeof(xen_ulong_t) * 8];
    xen_ulong_t evtchn_mask[sizeof(xen_ulong_t) * 8];
    // Wall clock at system time 0; wc_version works as vcpu_time_info.version.
    u32 wc_version;
    u32 wc_sec;
    u32 wc_nsec;
    u32 wc_sec_hi;
    arch_shared_info arch;
};
static_assert(offsetof(shared_info, vcpu_info) == 0 && offsetof(shared_info, evtchn_pending) == 2048);
static_assert(offsetof(shared_info, evtchn_mask) == 2560 && offsetof(shared_info, wc_version) == 3072);
static_assert(offsetof(shared_info, wc_sec) == 3076 && offsetof(shared_info, wc_nsec) == 3080);
static_assert(offsetof(shared_info, wc_sec_hi) == 3084 && offsetof(shared_info, arch) == 3088);
static_assert(sizeof(shared_info) == 3136 && sizeof(shared_info) <= kPageSize);

// Xen's hypervisor CPUID leaves (arch-x86/cpuid.h). The block starts at the
// first unused 0x100-aligned leaf from FIRST_LEAF (0x40000100 when Viridian
// sits at 0x40000000). Xen numbers the leaves 1..6; LEAF_* here are their
// offsets into the block.
namespace cpuid {
inline constexpr u32 FIRST_LEAF = 0x40000000;
constexpr u32 LEAF(u32 i) { return FIRST_LEAF + i; }
inline constexpr u32 LEAF_SIGNATURE = 0;  // EAX: last leaf; EBX..EDX: "XenVMMXenVMM"
inline constexpr u32 LEAF_VERSION = 1;    // EAX: major << 16 | minor
inline constexpr u32 LEAF_HYPERCALL = 2;  // EAX: hypercall pages, EBX: MSR to write the page's GPA
inline constexpr u32 LEAF_TIME = 3;       // TSC mode and scaling, sub-leaves 0..2
inline constexpr u32 LEAF_HVM = 4;        // HVM features (cpuid::hvm), vcpu id, domid
inline constexpr u32 LEAF_PV = 5;         // PV parameters
inline constexpr u32 MAX_NUM_LEAVES = 5;  // XEN_CPUID_MAX_NUM_LEAVES: the last offset
inline constexpr u32 SIGNATURE_EBX = 0x566e6558;  // "XenV"
inline constexpr u32 SIGNATURE_ECX = 0x65584d4d;  // "MMXe"
inline constexpr u32 SIGNATURE_EDX = 0x4d4d566e;  // "nVMM"
inline constexpr u32 FEAT1_MMU_PT_UPDATE_PRESERVE_AD = 1u << 0;  // LEAF_HYPERCALL ECX
// LEAF_TIME sub-leaf 0: EAX flags, EBX mode.
inline constexpr u32 TSC_EMULATED = 1u << 0;
inline constexpr u32 HOST_TSC_RELIABLE = 1u << 1;
inline constexpr u32 RDTSCP_INSTR_AVAIL = 1u << 2;
inline constexpr u32 TSC_MODE_DEFAULT = 0;
inline constexpr u32 TSC_MODE_ALWAYS_EMULATE = 1;
inline constexpr u32 TSC_MODE_NEVER_EMULATE = 2;
inline constexpr u32 TSC_MODE_PVRDTSCP = 3;
inline constexpr u32 MACHINE_ADDRESS_WIDTH_MASK = 0xff;  // LEAF_PV EBX

// XEN_HVM_CPUID_*: LEAF_HVM sub-leaf 0 EAX.
namespace hvm {
inline constexpr u32 APIC_ACCESS_VIRT = 1u << 0;
inline constexpr u32 X2APIC_VIRT = 1u << 1;
inline constexpr u32 IOMMU_MAPPINGS = 1u << 2;
inline constexpr u32 VCPU_ID_PRESENT = 1u << 3;  // EBX holds the vcpu id
inline constexpr u32 DOMID_PRESENT = 1u << 4;    // ECX holds the domid
inline constexpr u32 EXT_DEST_ID = 1u << 5;      // 15-bit APIC ids in IO-APIC RTEs and MSIs
inline constexpr u32 UPCALL_VECTOR = 1u << 6;    // HVMOP_set_evtchn_upcall_vector works with PIRQs
}  // namespace hvm
}  // namespace cpuid

}  // namespace xeno::xen
