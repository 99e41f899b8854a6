#include "sim/vmx-model/vmcs_store.hpp"

#include <array>
#include <cstdio>

#include "hal/panic.hpp"
#include "sim/platform/machine_memory.hpp"

namespace xeno::sim {

static_assert(VmcsStore::kFieldsOffset + 8 * vmx::kVmcsFieldCount <= kPageSize, "VMCS fields must fit the region");

VmcsStore::VmcsStore(MachineMemory& memory, Hpa region) : memory_(memory), region_(region)
{
    if (!region.page_aligned() || !memory.contains(region.value(), kPageSize))
        hal::panic("VmcsStore: VMCS region is not an aligned page of machine memory");
}

int VmcsStore::field_index(u64 full_encoding)
{
    // Encodings are 15 bits wide (SDM 25.11.2; bits 31:15 are reserved).
    static const std::array<i16, 1 << 15> table = [] {
        std::array<i16, 1 << 15> t;
        t.fill(-1);
        for (usize i = 0; i < vmx::kVmcsFieldCount; ++i) t[vmx::kVmcsFieldTable[i].encoding] = static_cast<i16>(i);
        return t;
    }();
    return full_encoding < table.size() ? table[full_encoding] : -1;
}

u64 VmcsStore::width_mask(u64 encoding)
{
    switch (vmx::encoding_width(encoding)) {
    case vmx::VmcsWidth::W16: return 0xffff;
    case vmx::VmcsWidth::W32: return 0xffffffff;
    case vmx::VmcsWidth::W64:
    case vmx::VmcsWidth::NATURAL: return ~u64{0};
    }
    return 0;
}

u64 VmcsStore::slot_address(u32 full_encoding) const
{
    const int index = field_index(full_encoding);
    if (index < 0) {
        char buf[80];
        std::snprintf(buf, sizeof buf, "VmcsStore: 0x%x is not a VMCS field encoding", full_encoding);
        hal::panic(buf);
    }
    return region_.value() + kFieldsOffset + 8 * static_cast<u64>(index);
}

u64 VmcsStore::get(u32 encoding) const
{
    const bool high = vmx::encoding_is_high(encoding);
    if (high && vmx::encoding_width(encoding) != vmx::VmcsWidth::W64)
        hal::panic("VmcsStore: high access to a field that is not 64-bit");
    const u64 value = memory_.load<u64>(slot_address(encoding & ~1u));
    return high ? value >> 32 : value & width_mask(encoding);
}

void VmcsStore::set(u32 encoding, u64 value)
{
    const bool high = vmx::encoding_is_high(encoding);
    if (high && vmx::encoding_width(encoding) != vmx::VmcsWidth::W64)
        hal::panic("VmcsStore: high access to a field that is not 64-bit");
    const u64 slot = slot_address(encoding & ~1u);
    if (high) {
        // A high access writes bits 63:32 and leaves bits 31:0 alone (SDM 25.11.2).
        const u64 old = memory_.load<u64>(slot);
        memory_.store<u64>(slot, (old & 0xffffffff) | (value << 32));
    } else {
        memory_.store<u64>(slot, value & width_mask(encoding));
    }
}

bool VmcsStore::launched() const { return memory_.load<u32>(region_.value() + kLaunchStateOffset) != 0; }
void VmcsStore::set_launched(bool launched)
{
    memory_.store<u32>(region_.value() + kLaunchStateOffset, launched ? 1 : 0);
}
u32 VmcsStore::revision_word() const { return memory_.load<u32>(region_.value() + kRevisionOffset); }
void VmcsStore::set_revision_word(u32 value) { memory_.store<u32>(region_.value() + kRevisionOffset, value); }
u32 VmcsStore::abort_indicator() const { return memory_.load<u32>(region_.value() + kAbortOffset); }
void VmcsStore::set_abort_indicator(u32 value) { memory_.store<u32>(region_.value() + kAbortOffset, value); }

}  // namespace xeno::sim
