// The Reset Control Register at port 0xcf9 (Intel PIIX/ICH chipsets; the
// register the FADT's RESET_REG names, value 0x06): bit 1 SYS_RST selects a
// hard reset, bit 2 RST_CPU starts the reset when it goes from 0 to 1, bit 3
// FULL_RST a full power cycle. Reads return bits 1 and 3 as last written
// (RST_CPU reads 0). Only a byte access at 0xcf9 is the register: 0xcf8-0xcfb
// as a dword is the PCI configuration address, which this platform does not
// have, so wider accesses are ignored and read all ones.
#pragma once

#include "lib/types.hpp"

namespace xeno::devices {

class ResetControl {
public:
    static constexpr u16 kPort = 0xcf9;
    static constexpr u8 kSysRst = 1u << 1, kRstCpu = 1u << 2, kFullRst = 1u << 3;
    using OnReset = void (*)(void* context);

    ResetControl(OnReset on_reset, void* context) : on_reset_(on_reset), context_(context) {}

    u32 pio_read(u16 port, u8 size) { return port == kPort && size == 1 ? value_ : 0xffffffffu; }
    void pio_write(u16 port, u8 size, u32 value)
    {
        if (port != kPort || size != 1) return;
        const bool start = (value & kRstCpu) && !(previous_ & kRstCpu);
        previous_ = static_cast<u8>(value);
        value_ = static_cast<u8>(value & (kSysRst | kFullRst));
        if (start) {
            ++reset_requests_;
            if (on_reset_) on_reset_(context_);
        }
    }
    u64 reset_requests() const { return reset_requests_; }

private:
    OnReset on_reset_;
    void* context_;
    u8 value_ = 0;
    u8 previous_ = 0;
    u64 reset_requests_ = 0;
};

}  // namespace xeno::devices
