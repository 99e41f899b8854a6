// The walker's GuestMemory for a domain: guest paging structures reached
// through the domain's p2m in machine memory. A/D updates are locked
// compare-exchanges, as the processor's are (SDM Vol. 3A 4.8), so a guest
// vcpu writing the same entry concurrently loses nothing.
#pragma once

#include "arch/x86/paging/guest_walk.hpp"
#include "mm/p2m.hpp"

namespace xeno::paging {

class P2mGuestMemory {
public:
    // `notify` (optional) hears of every A/D write, as P2m::copy_to_guest's does.
    P2mGuestMemory(const mm::P2m& p2m, mm::MapFn map, mm::P2m::WrittenFn notify = nullptr)
        : p2m_(p2m), map_(map), notify_(notify)
    {
    }

    // Valid while this object lives. Entries outside the p2m or not
    // naturally aligned: NOT_FOUND / BAD_ARGUMENT (the walk reports MEMORY_ERROR).
    GuestMemory memory() { return GuestMemory{this, &read, &compare_exchange}; }

private:
    static Result<u64> read(void* context, Gpa gpa, unsigned width);
    static Result<bool> compare_exchange(void* context, Gpa gpa, unsigned width, u64 expected, u64 desired);
    Result<void*> entry(Gpa gpa, unsigned width, Hpa* hpa) const;

    const mm::P2m& p2m_;
    mm::MapFn map_;
    mm::P2m::WrittenFn notify_;
};

}  // namespace xeno::paging
