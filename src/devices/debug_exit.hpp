// The debug exit device (after QEMU's isa-debug-exit, but the status is the
// value itself): a write of v to the port ends the domain with status v.
// Reads return all ones (the device has nothing to read).
#pragma once

#include "lib/types.hpp"

namespace xeno::devices {

class DebugExit {
public:
    static constexpr u16 kDefaultPort = 0xf4;
    using OnExit = void (*)(void* context, u32 status);

    DebugExit(OnExit on_exit, void* context) : on_exit_(on_exit), context_(context) {}

    u32 pio_read(u16, u8) { return 0xffffffffu; }
    void pio_write(u16, u8, u32 value)
    {
        ++writes_;
        if (on_exit_) on_exit_(context_, value);
    }
    u64 writes() const { return writes_; }

private:
    OnExit on_exit_;
    void* context_;
    u64 writes_ = 0;
};

}  // namespace xeno::devices
