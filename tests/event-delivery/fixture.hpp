// Test fixture for event delivery: a flat guest memory (paging off) that can
// inject page faults or EPT violations at chosen addresses and logs writes,
// and a guest with a GDT, IDT, IVT and TSS built in it.
#pragma once

#include <cstring>
#include <utility>
#include <vector>

#include "sim/vmx-model/descriptor.hpp"
#include "sim/vmx-model/event_delivery.hpp"

namespace xeno::sim::test {

class FakeMemory : public DeliveryMemory {
public:
    struct Trap {
        u64 begin, end;
        MemFault kind;
    };
    struct Access {
        u64 linear;
        usize size;
        bool supervisor;
    };

    std::vector<u8> bytes = std::vector<u8>(0x100000, 0);
    std::vector<Trap> traps;
    std::vector<Access> writes;
    std::vector<Access> reads;

    void trap(u64 begin, u64 size, MemFault kind = MemFault::PAGE_FAULT) { traps.push_back({begin, begin + size, kind}); }

    MemResult read(u64 linear, void* out, usize size, bool supervisor) override
    {
        reads.push_back({linear, size, supervisor});
        MemResult m = check(linear, size, false, supervisor);
        if (m.fault == MemFault::NONE)
            std::memcpy(out, bytes.data() + linear, size);
        return m;
    }
    MemResult write(u64 linear, const void* in, usize size, bool supervisor) override
    {
        MemResult m = check(linear, size, true, supervisor);
        if (m.fault == MemFault::NONE) {
            writes.push_back({linear, size, supervisor});
            std::memcpy(bytes.data() + linear, in, size);
        }
        return m;
    }

    u64 get(u64 linear, unsigned size) const
    {
        u64 v = 0;
        for (unsigned i = 0; i < size; ++i)
            v |= u64{bytes.at(linear + i)} << (8 * i);
        return v;
    }
    void put(u64 linear, u64 value, unsigned size)
    {
        for (unsigned i = 0; i < size; ++i)
            bytes.at(linear + i) = static_cast<u8>(value >> (8 * i));
    }
    void put_desc(u64 linear, desc::Raw d)
    {
        put(linear, d.lo, 4);
        put(linear + 4, d.hi, 4);
    }

private:
    MemResult check(u64 linear, usize size, bool is_write, bool supervisor) const
    {
        for (u64 a = linear; a < linear + size; ++a) {
            for (const Trap& t : traps) {
                if (a >= t.begin && a < t.end) {
                    // #PF error code (4.7): W/R bit 1, U/S bit 2; P=0 (not present).
                    const u32 ec = (is_write ? 2u : 0u) | (supervisor ? 0u : 4u);
                    return MemResult{t.kind, ec, a};
                }
            }
            if (a >= bytes.size())
                return MemResult{MemFault::OUTSIDE, 0, a};
        }
        return MemResult{};
    }
};

// Layout of the guest used by the protected-mode and IA-32e tests.
inline constexpr u64 kGdt = 0x1000;
inline constexpr u64 kIdt = 0x2000;  // 256 * 16 bytes
inline constexpr u64 kTss = 0x3000;
inline constexpr u32 kTssLimit = 0x67 + 0x20 + 0x20;  // 104 bytes + redirection bitmap + slack
inline constexpr u16 kIoMapBase = 0x68 + 0x20;         // redirection bitmap at 0x68..0x87

namespace sel {
inline constexpr u16 CODE0 = 0x08, DATA0 = 0x10, CODE3 = 0x1b, DATA3 = 0x23, TSS = 0x28, CODE16 = 0x30,
                     CONFORMING = 0x38, CODE64 = 0x40, DATA0_NP = 0x48, CODE64_3 = 0x53;
}

namespace arv {
using namespace vmx::ar;
inline constexpr u32 CODE32_0 = 0xa | S | P | DB | G;  // execute/read, not yet accessed
inline constexpr u32 DATA32_0 = 0x3 | S | P | DB | G;
inline constexpr u32 CODE32_3 = 0xb | S | (3u << DPL_SHIFT) | P | DB | G;
inline constexpr u32 DATA32_3 = 0x3 | S | (3u << DPL_SHIFT) | P | DB | G;
inline constexpr u32 TSS32 = 0xb | P;
inline constexpr u32 CODE16_0 = 0xb | S | P;
inline constexpr u32 CONFORMING_0 = 0xf | S | P | DB | G;
inline constexpr u32 CODE64_0 = 0xb | S | P | L | G;
inline constexpr u32 CODE64_3 = 0xb | S | (3u << DPL_SHIFT) | P | L | G;
inline constexpr u32 VM86 = 0x3 | S | (3u << DPL_SHIFT) | P;
}  // namespace arv

inline void build_gdt(FakeMemory& m)
{
    m.put_desc(kGdt + 0x08, desc::make_segment(0, 0xffffffff, arv::CODE32_0));
    m.put_desc(kGdt + 0x10, desc::make_segment(0, 0xffffffff, arv::DATA32_0));
    m.put_desc(kGdt + 0x18, desc::make_segment(0, 0xffffffff, arv::CODE32_3));
    m.put_desc(kGdt + 0x20, desc::make_segment(0, 0xffffffff, arv::DATA32_3));
    m.put_desc(kGdt + 0x28, desc::make_segment(static_cast<u32>(kTss), kTssLimit, arv::TSS32));
    m.put_desc(kGdt + 0x30, desc::make_segment(0x10000, 0xffff, arv::CODE16_0));
    m.put_desc(kGdt + 0x38, desc::make_segment(0, 0xffffffff, arv::CONFORMING_0));
    m.put_desc(kGdt + 0x40, desc::make_segment(0, 0xffffffff, arv::CODE64_0));
    m.put_desc(kGdt + 0x48, desc::make_segment(0, 0xffffffff, arv::DATA32_0 & ~vmx::ar::P));
    m.put_desc(kGdt + 0x50, desc::make_segment(0, 0xffffffff, arv::CODE64_3));
    m.put(kTss + 102, kIoMapBase, 2);
}

inline DeliverySegment seg(u16 selector, u32 ar, u64 base = 0, u32 limit = 0xffffffff)
{
    return DeliverySegment{selector, base, limit, ar};
}

// A 32-bit protected-mode guest at CPL 0 (flat segments, paging off).
inline DeliveryState protected_state()
{
    DeliveryState s;
    s.cr0 = 0x11;  // PE, ET
    s.cs = seg(sel::CODE0, arv::CODE32_0 | 1);
    s.ss = seg(sel::DATA0, arv::DATA32_0);
    s.ds = s.es = s.fs = s.gs = s.ss;
    s.ldtr = DeliverySegment{};
    s.tr = seg(sel::TSS, arv::TSS32, kTss, kTssLimit);
    s.gdtr_base = kGdt;
    s.gdtr_limit = 0x57;
    s.idtr_base = kIdt;
    s.idtr_limit = 256 * 8 - 1;
    s.rip = 0x401000;
    s.rsp = 0x8000;
    s.rflags = 0x202;
    return s;
}

// The same guest at CPL 3.
inline DeliveryState ring3_state()
{
    DeliveryState s = protected_state();
    s.cs = seg(sel::CODE3, arv::CODE32_3);
    s.ss = seg(sel::DATA3, arv::DATA32_3);
    s.ds = s.es = s.fs = s.gs = s.ss;
    s.rsp = 0x7000;
    return s;
}

inline Event hardware(u8 vector)
{
    Event e;
    e.vector = vector;
    e.type = vmx::InterruptionType::HARDWARE_EXCEPTION;
    e.has_error_code = vmx::exception_has_error_code(vector);
    return e;
}

inline Event external(u8 vector)
{
    Event e;
    e.vector = vector;
    e.type = vmx::InterruptionType::EXTERNAL_INTERRUPT;
    return e;
}

inline Event int_n(u8 vector, u32 length = 2)
{
    Event e;
    e.vector = vector;
    e.type = vmx::InterruptionType::SOFTWARE_INTERRUPT;
    e.instruction_length = length;
    return e;
}

inline bool same_segment(const DeliverySegment& a, const DeliverySegment& b)
{
    return a.selector == b.selector && a.base == b.base && a.limit == b.limit && a.ar == b.ar;
}

// Field by field: the structs have padding, so memcmp would compare garbage.
inline bool same_state(const DeliveryState& a, const DeliveryState& b)
{
    return a.rip == b.rip && a.rsp == b.rsp && a.rflags == b.rflags && a.cr0 == b.cr0 && a.cr4 == b.cr4 &&
           a.efer == b.efer && same_segment(a.es, b.es) && same_segment(a.cs, b.cs) && same_segment(a.ss, b.ss) &&
           same_segment(a.ds, b.ds) && same_segment(a.fs, b.fs) && same_segment(a.gs, b.gs) &&
           same_segment(a.ldtr, b.ldtr) && same_segment(a.tr, b.tr) && a.gdtr_base == b.gdtr_base &&
           a.gdtr_limit == b.gdtr_limit && a.idtr_base == b.idtr_base && a.idtr_limit == b.idtr_limit;
}

}  // namespace xeno::sim::test
