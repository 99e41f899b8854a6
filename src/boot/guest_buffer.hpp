// A caller's buffer that will sit at guest-physical address `base_gpa`, filled
// front to back by the boot-information writers. Every reservation is checked
// against the capacity before a byte is written, so a buffer that is too small
// gives an error and nothing is written past its end. Alignment is of the
// guest-physical address, which is what the guest sees.
#pragma once

#include "lib/types.hpp"

namespace xeno::boot {

class GuestBuffer {
public:
    GuestBuffer(u8* out, usize capacity, u64 base_gpa) : out_(out), capacity_(capacity), base_gpa_(base_gpa)
    {
        // The last guest-physical address must be representable.
        if (capacity_ > ~u64{0} - base_gpa_) capacity_ = static_cast<usize>(~u64{0} - base_gpa_);
    }

    // `length` zeroed bytes at the next guest-physical multiple of `align` (a
    // power of two); the padding before them is zeroed too. nullptr when they
    // do not fit.
    u8* reserve(u64 length, u64 align = 1)
    {
        const u64 gpa = base_gpa_ + used_;
        const u64 pad = (align - (gpa & (align - 1))) & (align - 1);
        if (pad > capacity_ - used_ || length > capacity_ - used_ - pad) return nullptr;
        u8* start = out_ + used_;
        for (u64 i = 0; i < pad + length; ++i) start[i] = 0;
        used_ += static_cast<usize>(pad + length);
        return start + pad;
    }

    // A NUL-terminated copy of `s` (nullptr is the empty string).
    u8* put_string(const char* s)
    {
        u64 n = 0;
        while (s && s[n]) ++n;
        u8* p = reserve(n + 1);
        if (p)
            for (u64 i = 0; i < n; ++i) p[i] = static_cast<u8>(s[i]);
        return p;
    }

    u64 gpa_of(const u8* p) const { return base_gpa_ + static_cast<u64>(p - out_); }
    u8* at(usize offset) const { return out_ + offset; }
    usize used() const { return used_; }
    u64 base_gpa() const { return base_gpa_; }
    // True when the bytes used so far end at or below guest-physical `limit`.
    bool ends_below(u64 limit) const { return base_gpa_ <= limit && used_ <= limit - base_gpa_; }

private:
    u8* out_;
    usize capacity_;
    u64 base_gpa_;
    usize used_ = 0;
};

}  // namespace xeno::boot
