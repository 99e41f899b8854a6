// A vcpu's VM-entry MSR-load list (SDM Vol. 3C 25.8.2 "VM-Entry Controls for
// MSRs", 26.4 "Loading MSRs"): MSRs the processor loads with the guest's
// values at every VM entry, for guest state that the VMCS does not hold and
// that runs natively. Today one: IA32_TSC_AUX, which RDTSCP returns in ECX
// and which runs natively with "enable RDTSCP".
//
// No VM-exit MSR-store list: the guest cannot write these MSRs without an
// exit (the MSR bitmap intercepts them), so the list's values are always the
// guest's. No VM-exit MSR-load list: the hypervisor never executes RDTSCP
// or RDPID, so the host's IA32_TSC_AUX need not come back, and each vcpu's
// entry loads its own.
#pragma once

#include "core/vcpu.hpp"
#include "lib/status.hpp"
#include "mm/frame_allocator.hpp"

namespace xeno::vmx {

inline constexpr u32 kMsrTscAux = 0xc0000103;

// The list's entry format (SDM Table 25-15): MSR index, reserved, value.
struct MsrListEntry {
    u32 index;
    u32 reserved;
    u64 value;
};
static_assert(sizeof(MsrListEntry) == 16);

// A zeroed frame holding the list of `count` MSRs, each with value 0; the
// caller writes VM_ENTRY_MSR_LOAD_ADDR/COUNT.
Result<Hpa> msr_load_list_create(mm::FrameAllocator& frames, const u32* msrs, u32 count);

// The guest's new value of `msr` for the next VM entries (the list of the
// current VMCS). False: `msr` is not in the list.
bool msr_load_list_set(u32 msr, u64 value);

}  // namespace xeno::vmx
