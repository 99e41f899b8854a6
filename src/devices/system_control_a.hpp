// System Control Port A (port 0x92, the PS/2 "fast A20" port): bit 1 gates
// address line 20, bit 0 requests a fast reset (reads back 0). Firmware and
// boot loaders enable A20 here before touching memory above 1 MiB.
//
// Xeno's guest memory never wraps at 1 MiB (the hypervisor does not mask
// address line 20), so the line is on from reset and the gate bit is
// remembered and read back as written without changing what memory does. A
// reset request is counted and reported to the owner (the domain has no
// reset yet: it ends the guest).
#pragma once

#include "lib/types.hpp"

namespace xeno::devices {

class SystemControlA {
public:
    static constexpr u16 kPort = 0x92;
    static constexpr u8 kFastReset = 1u << 0;
    static constexpr u8 kA20 = 1u << 1;
    using OnReset = void (*)(void* context);

    SystemControlA(OnReset on_reset, void* context) : on_reset_(on_reset), context_(context) {}

    u32 pio_read(u16, u8) { return value_; }
    void pio_write(u16, u8, u32 value)
    {
        value_ = static_cast<u8>(value & ~u32{kFastReset});
        if (value & kFastReset) {
            ++reset_requests_;
            if (on_reset_) on_reset_(context_);
        }
    }

    bool a20_enabled() const { return (value_ & kA20) != 0; }
    u64 reset_requests() const { return reset_requests_; }

private:
    OnReset on_reset_;
    void* context_;
    u8 value_ = kA20;  // A20 on: what guest memory does
    u64 reset_requests_ = 0;
};

}  // namespace xeno::devices
