#include "arch/x86/paging/guest_walk_p2m.hpp"

namespace xeno::paging {

Result<void*> P2mGuestMemory::entry(Gpa gpa, unsigned width, Hpa* hpa) const
{
    // Natural alignment keeps an entry inside one guest frame.
    if ((width != 4 && width != 8) || (gpa.value() & (width - 1))) return Status::BAD_ARGUMENT;
    Result<Hpa> h = p2m_.translate(gpa);
    if (!h.ok()) return h.status();
    *hpa = h.value();
    return static_cast<u8*>(map_(h.value().page_base())) + h.value().page_offset();
}

Result<u64> P2mGuestMemory::read(void* context, Gpa gpa, unsigned width)
{
    const auto* self = static_cast<const P2mGuestMemory*>(context);
    Hpa hpa;
    Result<void*> p = self->entry(gpa, width, &hpa);
    if (!p.ok()) return p.status();
    if (width == 4) return u64{__atomic_load_n(static_cast<const u32*>(p.value()), __ATOMIC_RELAXED)};
    return __atomic_load_n(static_cast<const u64*>(p.value()), __ATOMIC_RELAXED);
}

Result<bool> P2mGuestMemory::compare_exchange(void* context, Gpa gpa, unsigned width, u64 expected, u64 desired)
{
    const auto* self = static_cast<const P2mGuestMemory*>(context);
    Hpa hpa;
    Result<void*> p = self->entry(gpa, width, &hpa);
    if (!p.ok()) return p.status();
    bool swapped;
    if (width == 4) {
        u32 old = static_cast<u32>(expected);
        swapped = __atomic_compare_exchange_n(static_cast<u32*>(p.value()), &old, static_cast<u32>(desired), false,
                                              __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    } else {
        u64 old = expected;
        swapped = __atomic_compare_exchange_n(static_cast<u64*>(p.value()), &old, desired, false, __ATOMIC_SEQ_CST,
                                              __ATOMIC_SEQ_CST);
    }
    if (swapped && self->notify_) self->notify_(hpa, width);
    return swapped;
}

}  // namespace xeno::paging
