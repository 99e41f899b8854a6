// Little-endian fields in untrusted images and in the structures written for
// a guest. Images come from users: every read goes through `in_bounds` first,
// whose arithmetic cannot wrap, and then through these byte-wise loads (the
// fields of an image need not be aligned for the host).
#pragma once

#include "lib/status.hpp"
#include "lib/types.hpp"

namespace xeno::boot {

// True when [offset, offset + length) lies inside a buffer of `size` bytes.
constexpr bool in_bounds(u64 offset, u64 length, u64 size)
{
    return offset <= size && length <= size - offset;
}

constexpr u16 load_le16(const u8* p) { return static_cast<u16>(p[0] | p[1] << 8); }
constexpr u32 load_le32(const u8* p)
{
    return static_cast<u32>(p[0]) | static_cast<u32>(p[1]) << 8 | static_cast<u32>(p[2]) << 16 |
           static_cast<u32>(p[3]) << 24;
}
constexpr u64 load_le64(const u8* p) { return load_le32(p) | static_cast<u64>(load_le32(p + 4)) << 32; }

constexpr void store_le16(u8* p, u16 v)
{
    p[0] = static_cast<u8>(v);
    p[1] = static_cast<u8>(v >> 8);
}
constexpr void store_le32(u8* p, u32 v)
{
    for (int i = 0; i < 4; ++i) p[i] = static_cast<u8>(v >> (8 * i));
}
constexpr void store_le64(u8* p, u64 v)
{
    for (int i = 0; i < 8; ++i) p[i] = static_cast<u8>(v >> (8 * i));
}

// Sets *why (when given) and returns `status`: every refusal in src/boot names
// its reason, so the domain builder can log "kernel: <why>".
inline Status refuse(const char** why, Status status, const char* reason)
{
    if (why) *why = reason;
    return status;
}

}  // namespace xeno::boot
