#include "arch/x86/vmx/msr_load_list.hpp"

#include "arch/x86/vmx/vmcs.hpp"
#include "hal/memory.hpp"

namespace xeno::vmx {

Result<Hpa> msr_load_list_create(mm::FrameAllocator& frames, const u32* msrs, u32 count)
{
    if (count * sizeof(MsrListEntry) > kPageSize) return Status::TOO_LARGE;
    Result<Hpa> area = frames.allocate_zeroed();
    if (!area.ok()) return area;
    auto* list = static_cast<MsrListEntry*>(hal::machine_to_virt(area.value()));
    for (u32 i = 0; i < count; ++i) list[i] = MsrListEntry{msrs[i], 0, 0};
    return area;
}

bool msr_load_list_set(u32 msr, u64 value)
{
    const u64 count = vmcs_read(field::VM_ENTRY_MSR_LOAD_COUNT);
    if (count == 0) return false;
    auto* list = static_cast<MsrListEntry*>(hal::machine_to_virt(Hpa{vmcs_read(field::VM_ENTRY_MSR_LOAD_ADDR)}));
    for (u64 i = 0; i < count; ++i) {
        if (list[i].index != msr) continue;
        list[i].value = value;  // the processor reads the list at the next entry
        return true;
    }
    return false;
}

}  // namespace xeno::vmx
