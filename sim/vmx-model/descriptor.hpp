// Segment and gate descriptor formats (SDM Vol. 3A 3.4.5, 3.5, 6.11, 6.14.1)
// and their conversion to the VMCS access-rights format (Vol. 3C 25.4.1).
#pragma once

#include "arch/x86/vmx/vmx_arch.hpp"
#include "lib/bits.hpp"
#include "lib/types.hpp"
#include "sim/vmx-model/event_delivery.hpp"

namespace xeno::sim::desc {

// Descriptor type field values (SDM 3.5, Table 3-2; 3.4.5.1 for code/data).
inline constexpr u32 TYPE_TSS16_AVAILABLE = 0x1;
inline constexpr u32 TYPE_TSS16_BUSY = 0x3;
inline constexpr u32 TYPE_TASK_GATE = 0x5;
inline constexpr u32 TYPE_INTERRUPT_GATE16 = 0x6;
inline constexpr u32 TYPE_TRAP_GATE16 = 0x7;
inline constexpr u32 TYPE_TSS32_AVAILABLE = 0x9;  // also the 64-bit TSS in IA-32e mode
inline constexpr u32 TYPE_TSS32_BUSY = 0xb;
inline constexpr u32 TYPE_INTERRUPT_GATE32 = 0xe;  // 64-bit interrupt gate in IA-32e mode
inline constexpr u32 TYPE_TRAP_GATE32 = 0xf;

// Code/data type bits (SDM Table 3-1).
inline constexpr u32 TYPE_ACCESSED = 1u << 0;
inline constexpr u32 TYPE_WRITABLE = 1u << 1;     // data
inline constexpr u32 TYPE_EXPAND_DOWN = 1u << 2;  // data
inline constexpr u32 TYPE_CONFORMING = 1u << 2;   // code
inline constexpr u32 TYPE_CODE = 1u << 3;

// A segment descriptor as two little-endian dwords.
struct Raw {
    u32 lo = 0;
    u32 hi = 0;
};

constexpr u32 ar_type(u32 ar) { return ar & vmx::ar::TYPE_MASK; }
// A TSS descriptor type, 16- or 32-bit, available or busy.
constexpr bool is_tss_type(u32 type)
{
    return type == TYPE_TSS16_AVAILABLE || type == TYPE_TSS16_BUSY || type == TYPE_TSS32_AVAILABLE ||
           type == TYPE_TSS32_BUSY;
}
constexpr u32 ar_dpl(u32 ar) { return (ar & vmx::ar::DPL_MASK) >> vmx::ar::DPL_SHIFT; }
constexpr bool ar_present(u32 ar) { return (ar & vmx::ar::P) != 0; }
constexpr bool ar_unusable(u32 ar) { return (ar & vmx::ar::UNUSABLE) != 0; }
constexpr bool ar_is_code(u32 ar) { return (ar & vmx::ar::S) != 0 && (ar & TYPE_CODE) != 0; }
constexpr bool ar_is_writable_data(u32 ar)
{
    return (ar & vmx::ar::S) != 0 && (ar & TYPE_CODE) == 0 && (ar & TYPE_WRITABLE) != 0;
}

// Descriptor bits 8..15 (type, S, DPL, P) and 20..23 (AVL, L, D/B, G) of the
// high dword are exactly the VMCS AR layout shifted by 8; bits 16..19 there
// are limit 19:16 and must not leak into AR bits 11:8.
constexpr u32 ar_from_raw(Raw d) { return (d.hi >> 8) & 0xf0ffu; }

constexpr u64 base_from_raw(Raw d) { return (d.lo >> 16) | ((d.hi & 0xffu) << 16) | (d.hi & 0xff000000u); }

constexpr u32 limit_from_raw(Raw d)
{
    const u32 raw = (d.lo & 0xffffu) | (d.hi & 0x000f0000u);
    return (d.hi & (1u << 23)) != 0 ? (raw << 12) | 0xfffu : raw;
}

constexpr DeliverySegment segment_from_raw(u16 selector, Raw d)
{
    return DeliverySegment{selector, base_from_raw(d), limit_from_raw(d), ar_from_raw(d)};
}

// Interrupt/trap/task gate (SDM 6.11 Figure 6-2; 6.14.1 Figure 6-8 for the
// 16-byte IA-32e form, whose upper 8 bytes are offset_hi and a reserved dword).
struct Gate {
    u64 offset = 0;
    u16 selector = 0;
    u32 type = 0;
    u32 dpl = 0;
    bool present = false;
    bool system = true;  // S bit clear, as a gate must be
    u32 ist = 0;         // IA-32e only
    u32 upper_type = 0;  // IA-32e: bits 12:8 of the fourth dword, must be 0
};

constexpr Gate gate_from_raw(Raw d)
{
    Gate g;
    g.offset = (d.lo & 0xffffu) | (d.hi & 0xffff0000u);
    g.selector = static_cast<u16>(d.lo >> 16);
    g.type = (d.hi >> 8) & 0xfu;
    g.system = (d.hi & (1u << 12)) == 0;
    g.dpl = (d.hi >> 13) & 3u;
    g.present = (d.hi & (1u << 15)) != 0;
    g.ist = d.hi & 7u;
    return g;
}

constexpr Gate gate64_from_raw(Raw low, Raw high)
{
    Gate g = gate_from_raw(low);
    g.offset |= static_cast<u64>(high.lo) << 32;
    g.upper_type = (high.hi >> 8) & 0x1fu;
    return g;
}

// Builders, used by tests and by anyone composing guest tables.
constexpr Raw make_segment(u32 base, u32 limit, u32 ar)
{
    const bool granular = (ar & vmx::ar::G) != 0;
    const u32 lim = granular ? limit >> 12 : limit;
    Raw d;
    d.lo = (lim & 0xffffu) | ((base & 0xffffu) << 16);
    d.hi = ((base >> 16) & 0xffu) | ((ar & 0xf0ffu) << 8) | (lim & 0x000f0000u) | (base & 0xff000000u);
    return d;
}

constexpr Raw make_gate(u16 selector, u32 offset, u32 type, u32 dpl, bool present, u32 ist = 0)
{
    Raw d;
    d.lo = (offset & 0xffffu) | (static_cast<u32>(selector) << 16);
    d.hi = (offset & 0xffff0000u) | ((type & 0xfu) << 8) | ((dpl & 3u) << 13) | (present ? 1u << 15 : 0u) |
           (ist & 7u);
    return d;
}

}  // namespace xeno::sim::desc
