// The two Xen consoles a guest writes: HYPERVISOR_console_io's CONSOLEIO_*
// commands (Xen's own console, xen.h), and the shared-page PV console ring,
// xencons_interface, that HVM_PARAM_CONSOLE_PFN/EVTCHN point at
// (io/console.h). Values and layout pinned to Xen 4.19's public headers.
#pragma once

#include <cstddef>

#include "lib/types.hpp"

namespace xeno::xen {

namespace consoleio {
inline constexpr u32 write = 0;  // (count, buffer): print count bytes
inline constexpr u32 read = 1;   // (count, buffer): returns the bytes read
}  // namespace consoleio

// Free-running ring indices: they only grow (wrapping at 2^32), prod - cons is
// the fill level, and an index is masked only to address the array.
using XENCONS_RING_IDX = u32;

// in: backend to guest (keyboard); out: guest to backend (screen). The guest
// produces out and consumes in; each side signals the console event channel
// after moving its index.
struct xencons_interface {
    char in[1024];
    char out[2048];
    XENCONS_RING_IDX in_cons;
    XENCONS_RING_IDX in_prod;
    XENCONS_RING_IDX out_cons;
    XENCONS_RING_IDX out_prod;
};
static_assert(sizeof(xencons_interface) == 3088);
static_assert(offsetof(xencons_interface, out) == 1024 && offsetof(xencons_interface, in_cons) == 3072);
static_assert(offsetof(xencons_interface, in_prod) == 3076 && offsetof(xencons_interface, out_cons) == 3080);
static_assert(offsetof(xencons_interface, out_prod) == 3084);

// MASK_XENCONS_IDX(idx, ring): the array slot of index idx in a ring of
// ring_size bytes (a power of two, as both rings are).
constexpr u32 mask_xencons_idx(XENCONS_RING_IDX idx, usize ring_size)
{
    return idx & static_cast<u32>(ring_size - 1);
}
static_assert((sizeof(xencons_interface::in) & (sizeof(xencons_interface::in) - 1)) == 0);
static_assert((sizeof(xencons_interface::out) & (sizeof(xencons_interface::out) - 1)) == 0);

// Bytes waiting in a ring, and the room left, from its two indices; both stay
// right when the indices wrap past 2^32.
constexpr u32 xencons_queued(XENCONS_RING_IDX prod, XENCONS_RING_IDX cons) { return prod - cons; }
constexpr u32 xencons_space(XENCONS_RING_IDX prod, XENCONS_RING_IDX cons, usize ring_size)
{
    return static_cast<u32>(ring_size) - xencons_queued(prod, cons);
}

}  // namespace xeno::xen
