// The guest's time-stamp counter as device models see it: the conversion
// between guest TSC values and the machine's clock (ns), which depends on
// the TSC frequency and the domain's TSC offset (IA32_TSC writes move it).
// The local APIC's TSC-deadline mode needs it. Function pointers and a
// context, like the other device plumbing; the domain provides it.
#pragma once

#include "lib/types.hpp"

namespace xeno::devices {

struct GuestTsc {
    u64 (*to_ns)(void* context, u64 guest_tsc) = nullptr;    // the machine-clock time at which the guest TSC reads guest_tsc (0 if earlier than the clock's start)
    u64 (*from_ns)(void* context, u64 ns) = nullptr;         // the guest TSC at machine-clock time ns
    void* context = nullptr;

    u64 ns_of(u64 guest_tsc) const { return to_ns(context, guest_tsc); }
    u64 tsc_at(u64 ns) const { return from_ns(context, ns); }
};

}  // namespace xeno::devices
