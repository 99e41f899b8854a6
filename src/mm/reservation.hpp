// A domain's memory reservation after it was built: how many frames it
// holds and may hold (Xen's tot_pages and max_pages), and the frames taken
// out of its physical address space (the balloon: arch/x86/vmx/physmap.hpp)
// that another physical CPU may still reach through a translation it has
// cached, until each has invalidated its own.
#pragma once

#include "lib/types.hpp"

namespace xeno::mm {

struct Reservation {
    u64 populated = 0;  // guest frames backed by RAM in the p2m
    u64 maximum = 0;    // what populated + unplaced may reach (the RAM the domain was built with)

    // Bumped by every removal: a vcpu whose physmap_seen is behind must
    // invalidate its CPU's EPT translations before it enters the guest.
    u64 generation = 0;
    // The p2m changed since this CPU last invalidated (physmap_flush).
    bool flush_pending = false;

    // Machine frames removed while a vcpu of an older generation ran the
    // guest on another CPU: freed once none does (physmap_sync).
    static constexpr u32 kMaxQuarantined = 512;
    u64 quarantined[kMaxQuarantined] = {};
    u32 quarantined_count = 0;

    // increase_reservation's extents: frames the domain holds without a
    // guest frame (Xen gives a translated guest no address for them; they
    // count against the reservation until the domain ends).
    static constexpr u32 kMaxUnplaced = 16;
    u64 unplaced_first[kMaxUnplaced] = {};  // machine frame number of the extent's first frame
    u32 unplaced_order[kMaxUnplaced] = {};
    u32 unplaced_count = 0;
    u64 unplaced_frames = 0;

    u64 total() const { return populated + unplaced_frames; }
};

}  // namespace xeno::mm
