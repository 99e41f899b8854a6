#include "boot/guest_layout.hpp"

namespace xeno::boot {

GuestLayout guest_layout(u64 ram_bytes)
{
    GuestLayout l;
    l.ram_bytes = ram_bytes;
    l.low_end = ram_bytes < kLowRamLimit ? ram_bytes : kLowRamLimit;
    if (ram_bytes > kLowRamLimit) l.high_end = k4GiB + (ram_bytes - kLowRamLimit);
    return l;
}

usize guest_e820(const GuestLayout& layout, E820Entry* out)
{
    usize n = 0;
    const u64 low = layout.low_end < kEbdaStart ? layout.low_end : kEbdaStart;
    out[n++] = E820Entry{0, low, kE820Ram};
    if (layout.low_end > kEbdaStart) out[n++] = E820Entry{kEbdaStart, 0xa0000 - kEbdaStart, kE820Reserved};
    if (layout.low_end > kBiosAreaStart) out[n++] = E820Entry{kBiosAreaStart, kBiosAreaEnd - kBiosAreaStart, kE820Reserved};
    if (layout.low_end > kBiosAreaEnd) out[n++] = E820Entry{kBiosAreaEnd, layout.low_end - kBiosAreaEnd, kE820Ram};
    if (layout.high_end) out[n++] = E820Entry{k4GiB, layout.high_end - k4GiB, kE820Ram};
    return n;
}

}  // namespace xeno::boot
