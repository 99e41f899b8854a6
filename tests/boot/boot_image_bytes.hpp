// Test helpers for the boot-protocol tests: a byte image that grows as fields
// are written into it, little-endian accessors, and a guarded output buffer
// that shows whether a writer touched anything past the capacity it was given.
#pragma once

#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "lib/types.hpp"

namespace boot_test {

using xeno::u16;
using xeno::u32;
using xeno::u64;
using xeno::u8;
using xeno::usize;

struct Bytes {
    std::vector<u8> data;

    explicit Bytes(usize size = 0) : data(size, 0) {}

    void fit(usize end)
    {
        if (data.size() < end) data.resize(end, 0);
    }
    void put8(usize at, u8 v) { fit(at + 1); data[at] = v; }
    void put16(usize at, u16 v) { for (int i = 0; i < 2; ++i) put8(at + i, static_cast<u8>(v >> (8 * i))); }
    void put32(usize at, u32 v) { for (int i = 0; i < 4; ++i) put8(at + i, static_cast<u8>(v >> (8 * i))); }
    void put64(usize at, u64 v) { for (int i = 0; i < 8; ++i) put8(at + i, static_cast<u8>(v >> (8 * i))); }
    void put_bytes(usize at, const std::vector<u8>& bytes)
    {
        fit(at + bytes.size());
        if (!bytes.empty()) std::memcpy(data.data() + at, bytes.data(), bytes.size());
    }
    void put_string(usize at, const std::string& s) { put_bytes(at, std::vector<u8>(s.begin(), s.end())); }
    usize size() const { return data.size(); }
    const u8* ptr() const { return data.data(); }
};

inline u16 get16(const u8* p) { return static_cast<u16>(p[0] | p[1] << 8); }
inline u32 get32(const u8* p) { return get16(p) | static_cast<u32>(get16(p + 2)) << 16; }
inline u64 get64(const u8* p) { return get32(p) | static_cast<u64>(get32(p + 4)) << 32; }

// A writer's output: `capacity` bytes at guest-physical `base`, followed by a
// canary zone the writer must never touch.
struct GuardedBuffer {
    static constexpr usize kGuard = 256;
    static constexpr u8 kCanary = 0xcc;
    std::vector<u8> storage;
    usize capacity;
    u64 base;

    GuardedBuffer(usize cap, u64 base_gpa) : storage(cap + kGuard, kCanary), capacity(cap), base(base_gpa) {}
    u8* out() { return storage.data(); }
    bool guard_intact() const
    {
        for (usize i = capacity; i < storage.size(); ++i)
            if (storage[i] != kCanary) return false;
        return true;
    }
    // The bytes at guest-physical `gpa`, which must lie inside [base, base + used).
    const u8* at(u64 gpa, usize length, usize used) const
    {
        REQUIRE(gpa >= base);
        REQUIRE(gpa - base + length <= used);
        return storage.data() + (gpa - base);
    }
    std::string string_at(u64 gpa, usize used) const
    {
        REQUIRE(gpa >= base);
        REQUIRE(gpa - base < used);
        const char* s = reinterpret_cast<const char*>(storage.data() + (gpa - base));
        const usize n = strnlen(s, used - (gpa - base));
        REQUIRE(n < used - (gpa - base));  // NUL-terminated inside the used bytes
        return std::string(s, n);
    }
};

// A copy of the first `length` bytes in an allocation of exactly that size, so
// a read past it is a read past the heap block (caught under XENO_SANITIZE).
inline std::vector<u8> prefix(const Bytes& image, usize length)
{
    return std::vector<u8>(image.data.begin(), image.data.begin() + static_cast<long>(length));
}

}  // namespace boot_test
