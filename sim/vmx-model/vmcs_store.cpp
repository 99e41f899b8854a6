#include "sim/vmx-model/vmcs_store.hpp"

#include <array>
#include <cstdio>
#include <cstring>

#include "hal/panic.hpp"
#include "sim/platform/machine_memory.hpp"

namespace xeno::sim {

static_assert(VmcsStore::kFieldsOffset + 8 * vmx::kVmcsFieldCount <= kPageSize, "VMCS fields must fit the region");

namespace {

// Encodings are 15 bits wide (SDM 25.11.2; bits 31:15 are reserved). Built at
// compile time: no guard variable on the VMREAD/VMWRITE path.
constexpr std::array<i16, 1 << 15> make_index_table()
{
    std::array<i16, 1 << 15> t{};
    for (auto& e : t) e = -1;
    for (usize i = 0; i < vmx::kVmcsFieldCount; ++i) t[vmx::kVmcsFieldTable[i].encoding] = static_cast<i16>(i);
    return t;
}
constexpr std::array<i16, 1 << 15> kIndexTable = make_index_table();

}  // namespace

VmcsStore::VmcsStore(MachineMemory& memory, Hpa region) : memory_(memory), region_(region)
{
    if (!region.page_aligned() || !memory.contains(region.value(), kPageSize))
        hal::panic("VmcsStore: VMCS region is not an aligned page of machine memory");
    // The region was checked once: field slots are reached directly.
    fields_ = memory.data() + region.value() + kFieldsOffset;
}

int VmcsStore::field_index(u64 full_encoding)
{
    return full_encoding < kIndexTable.size() ? kIndexTable[full_encoding] : -1;
}

u8* VmcsStore::slot(u32 full_encoding) const
{
    const int index = field_index(full_encoding);
    if (index < 0) [[unlikely]] {
        char buf[80];
        std::snprintf(buf, sizeof buf, "VmcsStore: 0x%x is not a VMCS field encoding", full_encoding);
        hal::panic(buf);
    }
    return fields_ + 8 * static_cast<usize>(index);
}

u64 VmcsStore::get(u32 encoding) const
{
    const bool high = vmx::encoding_is_high(encoding);
    if (high && vmx::encoding_width(encoding) != vmx::VmcsWidth::W64)
        hal::panic("VmcsStore: high access to a field that is not 64-bit");
    u64 value;
    std::memcpy(&value, slot(encoding & ~1u), sizeof value);
    return high ? value >> 32 : value & width_mask(encoding);
}

void VmcsStore::set(u32 encoding, u64 value)
{
    const bool high = vmx::encoding_is_high(encoding);
    if (high && vmx::encoding_width(encoding) != vmx::VmcsWidth::W64)
        hal::panic("VmcsStore: high access to a field that is not 64-bit");
    u8* const p = slot(encoding & ~1u);
    if (high) {
        // A high access writes bits 63:32 and leaves bits 31:0 alone (SDM 25.11.2).
        u64 old;
        std::memcpy(&old, p, sizeof old);
        old = (old & 0xffffffff) | (value << 32);
        std::memcpy(p, &old, sizeof old);
    } else {
        const u64 v = value & width_mask(encoding);
        std::memcpy(p, &v, sizeof v);
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
