// Fields of firmware tables (ACPI, Intel MP), written byte by byte (the
// little-endian stores are image_bytes.hpp's).
//
// Firmware tables are packed little-endian layouts whose multi-byte fields
// sit at any alignment (an XSDT's 8-byte entries start at offset 36), so
// they are stored one byte at a time rather than through casts to wider
// types. Both ACPI and MP tables end with the same rule: the bytes of a
// structure, its checksum byte included, add up to 0 modulo 256.
#pragma once

#include "boot/image_bytes.hpp"
#include "lib/types.hpp"

namespace xeno::boot {

// Exactly `length` characters of `text` (no terminating NUL): table
// signatures and OEM fields are fixed-width, space-padded, unterminated.
inline void put_chars(u8* at, const char* text, usize length)
{
    for (usize i = 0; i < length; ++i) at[i] = static_cast<u8>(text[i]);
}

inline void zero_bytes(u8* at, usize length)
{
    for (usize i = 0; i < length; ++i) at[i] = 0;
}

inline u8 byte_sum(const u8* bytes, usize length)
{
    u8 sum = 0;
    for (usize i = 0; i < length; ++i) sum = static_cast<u8>(sum + bytes[i]);
    return sum;
}

// Set the checksum byte at `checksum` so that bytes[0, length) sum to 0.
// The checksum byte lies inside the range.
inline void set_checksum(u8* bytes, usize length, usize checksum)
{
    bytes[checksum] = 0;
    bytes[checksum] = static_cast<u8>(0u - byte_sum(bytes, length));
}

}  // namespace xeno::boot
