// Host-side output channels (see panic.hpp for what src/hal is).
#pragma once

#include "lib/types.hpp"

namespace xeno::hal {

enum class Channel : u8 {
    LOG,            // the hypervisor's own messages
    GUEST_CONSOLE,  // bytes a guest wrote to its console (virtual UART, PV console)
    TRACE,          // canonical trace lines (core/trace.hpp), one per VM exit
};

// Write bytes to a channel. hw: LOG and GUEST_CONSOLE go to COM1, TRACE to the
// debug port; sim: the harness collects each channel separately.
void console_write(Channel channel, const char* bytes, usize length);

}  // namespace xeno::hal
