// Typed VMCS fields, generated from the one table in vmcs_fields.def.
//
// Each field is a constant of type VmcsField<T, Encoding>; T is checked
// against the width that bits 14:13 of the encoding give, so a 16-bit field
// can never be read as a natural-width one by mistake. kVmcsFieldTable lists
// every field for code that iterates (the model's storage, VMCS dumps).
#pragma once

#include "lib/types.hpp"

namespace xeno::vmx {

// Field width, from bits 14:13 of an encoding (SDM Vol. 3C, 25.11.2).
enum class VmcsWidth : u8 { W16 = 0, W64 = 1, W32 = 2, NATURAL = 3 };

// Field type, from bits 11:10 of an encoding.
enum class VmcsFieldType : u8 { CONTROL = 0, EXIT_INFO = 1, GUEST = 2, HOST = 3 };

// The CPU feature a field depends on (see vmcs_fields.def).
enum class VmcsFeature : u8 {
    BASE,
    VPID,
    POSTED_INTERRUPTS,
    EPT_VE,
    VIRTUAL_INTR_DELIVERY,
    PML,
    MSR_BITMAPS,
    TPR_SHADOW,
    APIC_ACCESS,
    VMFUNC,
    EPT,
    VMCS_SHADOWING,
    XSAVES,
    ENCLS,
    TSC_SCALING,
    PAT,
    EFER,
    PERF_GLOBAL_CTRL,
    BNDCFGS,
    SECONDARY_CONTROLS,
    PAUSE_LOOP_EXITING,
    PREEMPTION_TIMER,
};

constexpr VmcsWidth encoding_width(u64 encoding) { return static_cast<VmcsWidth>((encoding >> 13) & 3); }
constexpr VmcsFieldType encoding_type(u64 encoding) { return static_cast<VmcsFieldType>((encoding >> 10) & 3); }
// Bit 0 of a 64-bit field's encoding selects the high 32 bits ("access type").
constexpr bool encoding_is_high(u64 encoding) { return (encoding & 1) != 0; }

template <typename T>
constexpr bool type_fits_width(VmcsWidth w)
{
    switch (w) {
    case VmcsWidth::W16: return sizeof(T) == 2;
    case VmcsWidth::W32: return sizeof(T) == 4;
    case VmcsWidth::W64:
    case VmcsWidth::NATURAL: return sizeof(T) == 8;
    }
    return false;
}

template <typename T, u32 Encoding>
struct VmcsField {
    using Type = T;
    static constexpr u32 kEncoding = Encoding;
    static_assert(type_fits_width<T>(encoding_width(Encoding)), "VMCS field type does not match its encoded width");
    static_assert((Encoding & 1) == 0, "the table lists full encodings only");
};

namespace field {
#define XENO_VMCS_FIELD(name, encoding, type, feature) inline constexpr VmcsField<type, encoding> name{};
#include "arch/x86/vmx/vmcs_fields.def"
#undef XENO_VMCS_FIELD
}  // namespace field

struct VmcsFieldInfo {
    const char* name;
    u32 encoding;
    VmcsFeature feature;
};

inline constexpr VmcsFieldInfo kVmcsFieldTable[] = {
#define XENO_VMCS_FIELD(name, encoding, type, feature) {#name, encoding, VmcsFeature::feature},
#include "arch/x86/vmx/vmcs_fields.def"
#undef XENO_VMCS_FIELD
};

inline constexpr usize kVmcsFieldCount = sizeof(kVmcsFieldTable) / sizeof(kVmcsFieldTable[0]);

// Index of a full encoding in kVmcsFieldTable, or -1.
constexpr int vmcs_field_index(u64 encoding)
{
    for (usize i = 0; i < kVmcsFieldCount; ++i)
        if (kVmcsFieldTable[i].encoding == encoding) return static_cast<int>(i);
    return -1;
}

// Name of a field (high-access encodings name their full field), or nullptr.
constexpr const char* vmcs_field_name(u64 encoding)
{
    const int i = vmcs_field_index(encoding & ~u64{1});
    return i < 0 ? nullptr : kVmcsFieldTable[i].name;
}

}  // namespace xeno::vmx
