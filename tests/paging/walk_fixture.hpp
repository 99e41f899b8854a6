// Guest memory in a host buffer and a page-table builder for the walker tests.
#pragma once

#include <catch2/catch.hpp>

#include <cstring>
#include <vector>

#include "arch/x86/paging/guest_walk.hpp"

namespace xeno::paging::test {

inline constexpr u64 P = 1, RW = 2, US = 4, PWT = 8, PCD = 16, A = 32, D = 64, PS = 128, G = 256;
inline constexpr u64 XD = u64{1} << 63;
inline constexpr u64 kCr0Pe = 1, kCr0Wp = u64{1} << 16, kCr0Pg = u64{1} << 31;
inline constexpr u64 kCr4Pse = 16, kCr4Pae = 32, kCr4Pge = 128, kCr4Smep = u64{1} << 20, kCr4Smap = u64{1} << 21;
inline constexpr u64 kEferLme = u64{1} << 8, kEferLma = u64{1} << 10, kEferNxe = u64{1} << 11;

class FakeMemory {
public:
    explicit FakeMemory(u64 size = 4 << 20) : bytes_(size) {}

    u64 get(u64 gpa, unsigned width) const
    {
        u64 v = 0;
        std::memcpy(&v, bytes_.data() + gpa, width);
        return v;
    }
    void put(u64 gpa, unsigned width, u64 v) { std::memcpy(bytes_.data() + gpa, &v, width); }
    u64 size() const { return bytes_.size(); }
    const std::vector<u8>& bytes() const { return bytes_; }

    // Fails the next `n` compare-exchanges after changing the entry (a
    // concurrent guest write); `always_fail` makes every one fail.
    int fail_next_cmpxchg = 0;
    bool always_fail = false;
    int cmpxchg_count = 0;

    GuestMemory iface() { return GuestMemory{this, &read, &cmpxchg}; }

private:
    static Result<u64> read(void* c, Gpa gpa, unsigned width)
    {
        auto* m = static_cast<FakeMemory*>(c);
        if (gpa.value() + width > m->size()) return Status::NOT_FOUND;
        return m->get(gpa.value(), width);
    }
    static Result<bool> cmpxchg(void* c, Gpa gpa, unsigned width, u64 expected, u64 desired)
    {
        auto* m = static_cast<FakeMemory*>(c);
        if (gpa.value() + width > m->size()) return Status::NOT_FOUND;
        ++m->cmpxchg_count;
        if (m->always_fail) return false;
        if (m->fail_next_cmpxchg > 0) {
            --m->fail_next_cmpxchg;
            m->put(gpa.value(), width, m->get(gpa.value(), width) | A);  // another CPU set A first
            return false;
        }
        if (m->get(gpa.value(), width) != expected) return false;
        m->put(gpa.value(), width, desired);
        return true;
    }

    std::vector<u8> bytes_;
};

// Builds tables of one paging mode in a FakeMemory. Tables come from 0x100000 up.
class Tables {
public:
    Tables(FakeMemory& m, PagingMode mode, u64 root = 0x100000)
        : m_(m), mode_(mode), root_(root), next_((root & ~u64{0xfff}) + 0x1000)
    {
    }

    unsigned width() const { return mode_ == PagingMode::BITS32 ? 4 : 8; }
    unsigned top() const { return mode_ == PagingMode::LEVEL4 ? 4 : mode_ == PagingMode::PAE ? 3 : 2; }
    u64 root() const { return root_; }

    // Guest-physical address of the entry for `la` at `level` (tables above must exist).
    u64 entry(u64 la, unsigned level) const
    {
        u64 table = root_;
        for (unsigned l = top();; --l) {
            const u64 a = table + width() * index(la, l);
            if (l == level) return a;
            table = m_.get(a, width()) & addr_mask();
        }
    }

    // Map la -> pa with a leaf at `leaf_level` (1: 4 KiB; 2: 2/4 MiB; 3: 1 GiB).
    // New upper entries get `upper` (PAE PDPTEs: P only).
    void map(u64 la, u64 pa, unsigned leaf_level, u64 leaf_flags, u64 upper = P | RW | US)
    {
        u64 table = root_;
        for (unsigned l = top(); l > leaf_level; --l) {
            const u64 a = table + width() * index(la, l);
            u64 e = m_.get(a, width());
            if (!(e & P)) {
                e = next_ | (mode_ == PagingMode::PAE && l == 3 ? P : upper);
                next_ += 0x1000;
                m_.put(a, width(), e);
            }
            table = e & addr_mask();
        }
        m_.put(table + width() * index(la, leaf_level), width(), pa | leaf_flags | (leaf_level > 1 ? PS : 0));
    }

    u64 get(u64 la, unsigned level) const { return m_.get(entry(la, level), width()); }
    void set(u64 la, unsigned level, u64 v) { m_.put(entry(la, level), width(), v); }
    void set_flags(u64 la, unsigned level, u64 flags) { set(la, level, get(la, level) | flags); }
    void clear_flags(u64 la, unsigned level, u64 flags) { set(la, level, get(la, level) & ~flags); }

    PagingState state() const
    {
        PagingState s;
        s.cr0 = kCr0Pe | kCr0Pg;
        s.cr3 = root_;
        if (mode_ == PagingMode::BITS32) s.cr4 = kCr4Pse;
        if (mode_ == PagingMode::PAE) s.cr4 = kCr4Pae;
        if (mode_ == PagingMode::LEVEL4) {
            s.cr4 = kCr4Pae;
            s.efer = kEferLme | kEferLma;
        }
        return s;
    }

private:
    u64 index(u64 la, unsigned level) const
    {
        if (mode_ == PagingMode::BITS32) return (la >> (12 + 10 * (level - 1))) & 0x3ff;
        if (mode_ == PagingMode::PAE && level == 3) return (la >> 30) & 3;
        return (la >> (12 + 9 * (level - 1))) & 0x1ff;
    }
    u64 addr_mask() const { return mode_ == PagingMode::BITS32 ? 0xfffff000ull : 0x000ffffffffff000ull; }

    FakeMemory& m_;
    PagingMode mode_;
    u64 root_;
    u64 next_;
};

inline Access read_access() { return Access{AccessType::READ, false, true}; }
inline Access write_access() { return Access{AccessType::WRITE, false, true}; }
inline Access fetch_access() { return Access{AccessType::FETCH, false, true}; }

inline WalkResult walk(const PagingState& s, Access a, u64 la, FakeMemory& m)
{
    return guest_walk(s, a, Gla{la}, m.iface());
}

}  // namespace xeno::paging::test
