// HYPERVISOR_hvm_op(cmd, arg): the HVMOP_* sub-ops, the HVM_PARAM_* indices
// of HVMOP_{set,get}_param, and the encoding of HVM_PARAM_CALLBACK_IRQ, the
// one parameter every HVM/PVH guest writes (hvm/hvm_op.h, hvm/params.h).
// Values and x86_64 layouts pinned to Xen 4.19's public headers.
//
// The PVH start-of-day structures (hvm_start_info, hvm_modlist_entry,
// hvm_memmap_table_entry, arch-x86/hvm/start_info.h) live in boot/pvh.hpp.
#pragma once

#include <cstddef>

#include "lib/types.hpp"
#include "public/xen.hpp"

namespace xeno::xen {

namespace hvmop {
inline constexpr u32 set_param = 0;  // arg: xen_hvm_param
inline constexpr u32 get_param = 1;  // arg: xen_hvm_param
// 2..4 exist only for interface versions before 4.9: they moved to dm_op.
inline constexpr u32 set_pci_intx_level = 2;
inline constexpr u32 set_isa_irq_level = 3;
inline constexpr u32 set_pci_link_route = 4;
inline constexpr u32 flush_tlbs = 5;  // arg NULL: flush every vcpu's TLB
// 6..8 (track_dirty_vram, modified_memory, set_mem_type) moved to dm_op.
inline constexpr u32 pagetable_dying = 9;  // arg: xen_hvm_pagetable_dying
inline constexpr u32 get_time = 10;        // arg: xen_hvm_get_time
inline constexpr u32 xentrace = 11;
inline constexpr u32 set_mem_access = 12;  // tools-only, deprecated by XENMEM_access_op
inline constexpr u32 get_mem_access = 13;  // tools-only, deprecated by XENMEM_access_op
// 14 (inject_trap) moved to dm_op.
inline constexpr u32 get_mem_type = 15;
// 16 (inject_msi) and 17..22 (the ioreq-server ops) moved to dm_op.
inline constexpr u32 set_evtchn_upcall_vector = 23;  // x86; arg: xen_hvm_evtchn_upcall_vector
inline constexpr u32 guest_request_vm_event = 24;
inline constexpr u32 altp2m = 25;
}  // namespace hvmop

struct xen_hvm_param {
    domid_t domid;  // IN: DOMID_SELF from a guest
    u16 pad;
    u32 index;  // IN: hvm_param::
    u64 value;  // IN (set) / OUT (get)
};
static_assert(sizeof(xen_hvm_param) == 16);
static_assert(offsetof(xen_hvm_param, index) == 4 && offsetof(xen_hvm_param, value) == 8);

// Per-vcpu event upcall vector, used in preference to CALLBACK_IRQ.
struct xen_hvm_evtchn_upcall_vector {
    u32 vcpu;
    u8 vector;
    u8 _pad[3];
};
static_assert(sizeof(xen_hvm_evtchn_upcall_vector) == 8 && offsetof(xen_hvm_evtchn_upcall_vector, vector) == 4);

struct xen_hvm_get_time {
    u64 now;  // OUT: system time, ns
};
static_assert(sizeof(xen_hvm_get_time) == 8);

// A hint that the page table rooted at gpa is being torn down.
struct xen_hvm_pagetable_dying {
    domid_t domid;
    u16 pad[3];
    u64 gpa;
};
static_assert(sizeof(xen_hvm_pagetable_dying) == 16 && offsetof(xen_hvm_pagetable_dying, gpa) == 8);

// HVM_PARAM_*: xen_hvm_param.index.
namespace hvm_param {
inline constexpr u32 CALLBACK_IRQ = 0;  // event upcall delivery; see callback_via_*
inline constexpr u32 STORE_PFN = 1;     // xenstore ring page
inline constexpr u32 STORE_EVTCHN = 2;
inline constexpr u32 PAE_ENABLED = 4;  // obsolete
inline constexpr u32 IOREQ_PFN = 5;
inline constexpr u32 BUFIOREQ_PFN = 6;
inline constexpr u32 VIRIDIAN = 9;  // HVMPV_* feature mask
inline constexpr u32 TIMER_MODE = 10;  // hvmptm::
inline constexpr u32 HPET_ENABLED = 11;
inline constexpr u32 IDENT_PT = 12;   // identity page directory for EPT with CR0.PG=0
inline constexpr u32 DM_DOMAIN = 13;  // deprecated
inline constexpr u32 ACPI_S_STATE = 14;
inline constexpr u32 VM86_TSS = 15;  // TSS for CR0.PE=0 on VMX without unrestricted guest
inline constexpr u32 VPT_ALIGN = 16;
inline constexpr u32 CONSOLE_PFN = 17;  // PV console ring page (xencons_interface)
inline constexpr u32 CONSOLE_EVTCHN = 18;
inline constexpr u32 ACPI_IOPORTS_LOCATION = 19;  // 0: PM1a at 0x1f40, 1: at 0xb000
inline constexpr u32 MEMORY_EVENT_CR0 = 20;  // 20..23, 25, 30: deprecated
inline constexpr u32 MEMORY_EVENT_CR3 = 21;
inline constexpr u32 MEMORY_EVENT_CR4 = 22;
inline constexpr u32 MEMORY_EVENT_INT3 = 23;
inline constexpr u32 NESTEDHVM = 24;
inline constexpr u32 MEMORY_EVENT_SINGLE_STEP = 25;
inline constexpr u32 BUFIOREQ_EVTCHN = 26;  // deprecated
inline constexpr u32 PAGING_RING_PFN = 27;
inline constexpr u32 MONITOR_RING_PFN = 28;
inline constexpr u32 SHARING_RING_PFN = 29;
inline constexpr u32 MEMORY_EVENT_MSR = 30;
inline constexpr u32 TRIPLE_FAULT_REASON = 31;  // a SHUTDOWN_* reason
inline constexpr u32 IOREQ_SERVER_PFN = 32;
inline constexpr u32 NR_IOREQ_SERVER_PAGES = 33;
inline constexpr u32 VM_GENERATION_ID_ADDR = 34;
inline constexpr u32 ALTP2M = 35;  // xen_altp2m::
inline constexpr u32 X87_FIP_WIDTH = 36;
inline constexpr u32 VM86_TSS_SIZED = 37;  // address in bits 31:0, size in 63:32
inline constexpr u32 MCA_CAP = 38;
}  // namespace hvm_param
inline constexpr u32 HVM_NR_PARAMS = 39;

// HVMPTM_*: values of HVM_PARAM_TIMER_MODE.
namespace hvmptm {
inline constexpr u64 delay_for_missed_ticks = 0;
inline constexpr u64 no_delay_for_missed_ticks = 1;
inline constexpr u64 no_missed_ticks_pending = 2;
inline constexpr u64 one_missed_tick_pending = 3;
}  // namespace hvmptm

// HVM_PARAM_CALLBACK_IRQ's value: 0 disables delivery; otherwise bits 63:56
// are the type and the rest depends on it.
inline constexpr u64 HVM_PARAM_CALLBACK_IRQ_TYPE_MASK = 0xff00000000000000;
inline constexpr unsigned kCallbackViaTypeShift = 56;  // where the mask starts
namespace hvm_param_callback_type {
inline constexpr u64 GSI = 0;       // bits 55:0: a GSI (0 is not usable: it reads as "off")
inline constexpr u64 PCI_INTX = 1;  // domain 47:32, bus 31:16, devfn 15:8, INTx 1:0
inline constexpr u64 VECTOR = 2;    // bits 7:0: an IDT vector (XENFEAT_hvm_callback_vector)
}  // namespace hvm_param_callback_type

constexpr u64 callback_via_type(u64 value) { return value >> kCallbackViaTypeShift; }
constexpr u64 callback_via_payload(u64 value) { return value & ~HVM_PARAM_CALLBACK_IRQ_TYPE_MASK; }
constexpr u64 callback_via_gsi(u32 gsi)
{
    return hvm_param_callback_type::GSI << kCallbackViaTypeShift | gsi;
}
constexpr u64 callback_via_vector(u8 vector)
{
    return hvm_param_callback_type::VECTOR << kCallbackViaTypeShift | vector;
}
constexpr u64 callback_via_pci_intx(u16 segment, u16 bus, u8 devfn, u8 intx)
{
    return hvm_param_callback_type::PCI_INTX << kCallbackViaTypeShift | u64{segment} << 32 |
           u64{bus} << 16 | u64{devfn} << 8 | (intx & 3u);
}
// The fields of a VECTOR or PCI_INTX value.
constexpr u8 callback_via_vector_of(u64 value) { return static_cast<u8>(value & 0xff); }
constexpr u16 callback_via_pci_segment(u64 value) { return static_cast<u16>(value >> 32); }
constexpr u16 callback_via_pci_bus(u64 value) { return static_cast<u16>(value >> 16); }
constexpr u8 callback_via_pci_devfn(u64 value) { return static_cast<u8>(value >> 8); }
constexpr u8 callback_via_pci_intx_pin(u64 value) { return static_cast<u8>(value & 3); }

// XEN_ALTP2M_*: values of HVM_PARAM_ALTP2M.
namespace xen_altp2m {
inline constexpr u64 disabled = 0;
inline constexpr u64 mixed = 1;
inline constexpr u64 external = 2;
inline constexpr u64 limited = 3;
}  // namespace xen_altp2m

}  // namespace xeno::xen
