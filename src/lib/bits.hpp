// Named bits and bit fields. Every hardware format in Xeno is built from these
// rather than from C++ bit-fields, whose layout the compiler chooses.
#pragma once

#include "lib/types.hpp"

namespace xeno {

constexpr u64 bit(unsigned n) { return u64{1} << n; }

// Bits hi..lo (inclusive) of value, shifted down.
constexpr u64 bits(u64 value, unsigned hi, unsigned lo)
{
    const unsigned width = hi - lo + 1;
    const u64 mask = width >= 64 ? ~u64{0} : (u64{1} << width) - 1;
    return (value >> lo) & mask;
}

constexpr bool test_bit(u64 value, unsigned n) { return (value >> n) & 1; }

// value with bits hi..lo replaced by field.
constexpr u64 set_bits(u64 value, unsigned hi, unsigned lo, u64 field)
{
    const unsigned width = hi - lo + 1;
    const u64 mask = (width >= 64 ? ~u64{0} : (u64{1} << width) - 1) << lo;
    return (value & ~mask) | ((field << lo) & mask);
}

constexpr u64 align_up(u64 value, u64 alignment) { return (value + alignment - 1) & ~(alignment - 1); }
constexpr u64 align_down(u64 value, u64 alignment) { return value & ~(alignment - 1); }

}  // namespace xeno

namespace xeno {

// a * b / c without overflowing the product (clock conversions: ns <-> ticks
// of a device's oscillator). c != 0; the quotient must fit in 64 bits.
constexpr u64 muldiv64(u64 a, u64 b, u64 c)
{
    return static_cast<u64>(static_cast<unsigned __int128>(a) * b / c);
}

}  // namespace xeno
