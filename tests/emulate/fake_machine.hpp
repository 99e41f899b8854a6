// A flat fake machine for emulator tests: linear == physical memory in one
// vector, a recording port space, and CpuState builders for each mode.
#pragma once

#include <cstring>
#include <functional>
#include <map>
#include <vector>

#include "arch/x86/emulate/emulate.hpp"

namespace xeno::emu::test {

struct PortAccess {
    u16 port;
    u32 size;
    u32 value;
    bool write;
};

struct FakeMachine {
    std::vector<u8> mem;
    std::map<u16, u32> port_values;  // what IN returns (default 0xffffffff)
    std::vector<PortAccess> port_log;
    bool decline_io = false;
    u64 fault_from = ~u64{0};  // linear addresses >= this raise #PF
    unsigned writes = 0;
    std::function<bool(u64, u32)> mapped;  // optional: which linear ranges exist

    explicit FakeMachine(std::size_t size = 2 << 20) : mem(size, 0) {}

    // [la, la + size) lies in memory and below fault_from. Written so that
    // an address near 2^64 cannot wrap around into the window.
    bool holds(u64 la, u32 size) const
    {
        return size <= mem.size() && la <= mem.size() - size && la <= fault_from && size <= fault_from - la;
    }

    void put(u64 at, std::initializer_list<u8> bytes)
    {
        for (u8 b : bytes) mem.at(at++) = b;
    }
    void put_bytes(u64 at, const u8* b, std::size_t n) { std::memcpy(&mem.at(at), b, n); }
    u64 get(u64 at, unsigned size) const
    {
        u64 v = 0;
        for (unsigned i = 0; i < size; ++i) v |= u64{mem.at(at + i)} << (8 * i);
        return v;
    }
    void set(u64 at, unsigned size, u64 v)
    {
        for (unsigned i = 0; i < size; ++i) mem.at(at + i) = static_cast<u8>(v >> (8 * i));
    }

    static AccessStatus read(void* ctx, u64 la, void* dst, u32 size, AccessKind kind, bool, u32* ec)
    {
        auto* m = static_cast<FakeMachine*>(ctx);
        if (!m->holds(la, size) || (m->mapped && !m->mapped(la, size))) {
            *ec = kind == AccessKind::EXECUTE ? 0x10 : 0;
            return AccessStatus::PAGE_FAULT;
        }
        std::memcpy(dst, &m->mem[la], size);
        return AccessStatus::OK;
    }
    static AccessStatus write(void* ctx, u64 la, const void* src, u32 size, bool, u32* ec)
    {
        auto* m = static_cast<FakeMachine*>(ctx);
        if (!m->holds(la, size) || (m->mapped && !m->mapped(la, size))) {
            *ec = 2;
            return AccessStatus::PAGE_FAULT;
        }
        std::memcpy(&m->mem[la], src, size);
        ++m->writes;
        return AccessStatus::OK;
    }
    static AccessStatus in(void* ctx, u16 port, u32 size, u32* value)
    {
        auto* m = static_cast<FakeMachine*>(ctx);
        if (m->decline_io) return AccessStatus::DECLINED;
        auto it = m->port_values.find(port);
        *value = it == m->port_values.end() ? 0xffffffffu : it->second;
        m->port_log.push_back({port, size, *value, false});
        return AccessStatus::OK;
    }
    static AccessStatus out(void* ctx, u16 port, u32 size, u32 value)
    {
        auto* m = static_cast<FakeMachine*>(ctx);
        if (m->decline_io) return AccessStatus::DECLINED;
        m->port_log.push_back({port, size, value, true});
        return AccessStatus::OK;
    }

    EmulateOps ops()
    {
        EmulateOps o;
        o.ctx = this;
        o.read_linear = &read;
        o.write_linear = &write;
        o.io_in = &in;
        o.io_out = &out;
        return o;
    }
};

// Access rights (VMCS format): present, S, type.
inline constexpr u32 kArData16 = 0x93;     // RW data, accessed
inline constexpr u32 kArCode16 = 0x9b;     // RX code, accessed
inline constexpr u32 kArCode32 = 0xc09b;   // G, D
inline constexpr u32 kArData32 = 0xc093;
inline constexpr u32 kArCode64 = 0xa09b;   // G, L

inline CpuState real_mode_state(u16 cs, u16 ip)
{
    CpuState s;
    for (unsigned i = 0; i < kSegCount; ++i) s.seg[i] = Segment{0, 0, 0xffff, kArData16};
    s.sreg(Seg::CS) = Segment{cs, u64{cs} << 4, 0xffff, kArCode16};
    s.rip = ip;
    s.cr0 = cr0::ET;
    s.idtr = {0, 0x3ff};
    s.gdtr = {0, 0xffff};
    s.ldtr.ar = 0x10000;
    s.tr = Segment{0, 0, 0xffff, 0x8b};
    return s;
}

inline CpuState flat32_state(u32 eip)
{
    CpuState s;
    for (unsigned i = 0; i < kSegCount; ++i) s.seg[i] = Segment{0x10, 0, 0xffffffff, kArData32};
    s.sreg(Seg::CS) = Segment{0x08, 0, 0xffffffff, kArCode32};
    s.rip = eip;
    s.cr0 = cr0::PE | cr0::ET;
    s.ldtr.ar = 0x10000;
    s.tr = Segment{0x18, 0, 0x67, 0x8b};
    return s;
}

inline CpuState long64_state(u64 rip)
{
    CpuState s = flat32_state(0);
    s.sreg(Seg::CS) = Segment{0x08, 0, 0xffffffff, kArCode64};
    s.rip = rip;
    s.cr0 = cr0::PE | cr0::ET | cr0::PG;
    s.cr4 = 1u << 5;
    s.efer = efer::LME | efer::LMA;
    return s;
}

}  // namespace xeno::emu::test
