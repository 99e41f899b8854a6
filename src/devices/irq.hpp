// Interrupt lines between device models and the interrupt controllers.
//
// A device holds an IrqLine and drives its level; whoever wired it (the
// domain's interrupt router: the ISA IRQ number goes to the 8259A pair and
// to the I/O APIC pin the ACPI tables name) sees every change. No virtual
// calls, no heap: a function pointer, a context and the line's number, as
// PortDevice does for the port bus. An unwired line does nothing, so a
// device model can be unit tested without a router.
#pragma once

#include "lib/types.hpp"

namespace xeno::devices {

struct IrqLine {
    using SetLevel = void (*)(void* context, u32 line, bool level);

    SetLevel set = nullptr;
    void* context = nullptr;
    u32 line = 0;

    void set_level(bool level) const
    {
        if (set) set(context, line, level);
    }
    void raise() const { set_level(true); }
    void lower() const { set_level(false); }
    // An edge: high, then low again (an edge-triggered ISA interrupt that
    // the device does not hold).
    void pulse() const
    {
        raise();
        lower();
    }
};

}  // namespace xeno::devices
