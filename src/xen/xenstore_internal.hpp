// Internals shared by the two halves of the XenStore (xenstore.hpp):
// xenstore.cpp (the store: images, paths, watches, the hypervisor side) and
// xenstore_protocol.cpp (transactions, requests, the ring).
#pragma once

#include "xen/xenstore.hpp"

namespace xeno::xen::xs_detail {

inline constexpr usize kWatchHeader = 6;   // u16 path length, u16 token length, u8 relative, u8 0
inline constexpr u8 kPermNone = 'n';

inline constexpr XenStore::XsResult kOk{true, xsd_error::XEN_EINVAL};
inline constexpr XenStore::XsResult failure(xsd_error e) { return {false, e}; }

inline usize min(usize a, usize b) { return a < b ? a : b; }

inline u16 load16(const u8* p) { return static_cast<u16>(p[0] | p[1] << 8); }
inline void store16(u8* p, usize v)
{
    p[0] = static_cast<u8>(v);
    p[1] = static_cast<u8>(v >> 8);
}

inline usize bounded_length(const char* s, usize max)
{
    usize n = 0;
    while (n < max && s[n]) ++n;
    return n;
}

// Decimal digits of `v` into `out` (room for 20); returns how many.
inline usize format_decimal(char* out, u64 v)
{
    char digits[20];
    usize n = 0;
    do {
        digits[n++] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v);
    for (usize i = 0; i < n; ++i) out[i] = digits[n - 1 - i];
    return n;
}

}  // namespace xeno::xen::xs_detail
