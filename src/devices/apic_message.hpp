// An interrupt message on the APIC bus (SDM Vol. 3A 11.6 "Issuing
// Interprocessor Interrupts", 11.5.1 LVT fields; the I/O APIC's redirection
// entries use the same fields): what a local APIC's ICR sends and what the
// I/O APIC delivers. The bus (devices/apic_bus.hpp) routes it to the local
// APICs its destination names.
#pragma once

#include "lib/types.hpp"

namespace xeno::devices {

enum class DeliveryMode : u8 {
    FIXED = 0,
    LOWEST_PRIORITY = 1,
    SMI = 2,
    NMI = 4,
    INIT = 5,
    STARTUP = 6,  // SIPI
    EXTINT = 7,
};

enum class Shorthand : u8 {
    NONE = 0,
    SELF = 1,
    ALL_INCLUDING_SELF = 2,
    ALL_EXCLUDING_SELF = 3,
};

struct ApicMessage {
    u8 vector = 0;
    DeliveryMode mode = DeliveryMode::FIXED;
    bool logical = false;          // destination mode: logical (LDR/DFR match) or physical (APIC ID)
    bool level_triggered = false;  // trigger mode (TMR set for a level-triggered fixed interrupt)
    bool assert_level = true;      // ICR level bit: INIT with level=0 is the "INIT level de-assert"
    Shorthand shorthand = Shorthand::NONE;
    u32 destination = 0;           // xAPIC: 8 bits (0xff broadcast); x2APIC: 32 bits (0xffffffff broadcast)
    bool x2apic_destination = false;  // the sender used x2APIC format (32-bit destination)
};

}  // namespace xeno::devices
