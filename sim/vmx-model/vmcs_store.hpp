// A VMCS in its region of machine memory, named by physical address as
// VMPTRLD takes it (SDM Vol. 3C, 25.2 "Format of the VMCS region").
//
// Layout (the data part is implementation-specific; this is the model's):
//   0x000  u32  bits 30:0 VMCS revision identifier, bit 31 shadow-VMCS indicator
//   0x004  u32  VMX-abort indicator
//   0x008  u32  launch state: 0 clear, 1 launched
//   0x040  u64  one slot per entry of vmx::kVmcsFieldTable, in table order
// Keeping everything in the region means a VMCS is exactly as persistent and
// as corruptible as on hardware: the hypervisor owns the page.
#pragma once

#include <compare>  // lib/types.hpp uses <=> without including it

#include "arch/x86/vmx/vmcs_field.hpp"
#include "lib/types.hpp"

namespace xeno::sim {

class MachineMemory;

class VmcsStore {
public:
    static constexpr u64 kRevisionOffset = 0x000;
    static constexpr u64 kAbortOffset = 0x004;
    static constexpr u64 kLaunchStateOffset = 0x008;
    static constexpr u64 kFieldsOffset = 0x040;
    static constexpr u32 kShadowIndicator = 1u << 31;

    // region must be a 4 KiB-aligned page inside machine memory (panics otherwise).
    VmcsStore(MachineMemory& memory, Hpa region);

    Hpa address() const { return region_; }

    // Raw access for the model's own use: any field including read-only ones,
    // full or high (bit 0 set, 64-bit fields only) encodings. Values are
    // truncated to the field's width. An encoding that is not a VMCS field is
    // a bug in the model (panics).
    u64 get(u32 encoding) const;
    void set(u32 encoding, u64 value);

    template <class F>
    typename F::Type get(F) const
    {
        return static_cast<typename F::Type>(get(F::kEncoding));
    }
    template <class F>
    void set(F, typename F::Type value)
    {
        set(F::kEncoding, static_cast<u64>(value));
    }

    bool launched() const;
    void set_launched(bool launched);

    u32 revision_word() const;  // revision identifier incl. the shadow bit
    void set_revision_word(u32 value);
    u32 abort_indicator() const;
    void set_abort_indicator(u32 value);

    // Index of a full encoding in vmx::kVmcsFieldTable, or -1; O(1) (VMREAD
    // and VMWRITE are on the path of every VM exit).
    static int field_index(u64 full_encoding);

    // Field width mask of an encoding (16, 32 or 64 bits; natural = 64).
    static u64 width_mask(u64 encoding)
    {
        // 16, 32 or 64 bits (natural width is 64 in the model).
        switch (vmx::encoding_width(encoding)) {
        case vmx::VmcsWidth::W16: return 0xffff;
        case vmx::VmcsWidth::W32: return 0xffffffff;
        default: return ~u64{0};
        }
    }

private:
    u8* slot(u32 full_encoding) const;  // host address of a field's slot (panics on a non-field)

    MachineMemory& memory_;
    Hpa region_;
    u8* fields_ = nullptr;  // host address of the slot array (region checked in the constructor)
};

}  // namespace xeno::sim
