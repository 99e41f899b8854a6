// Stopping the machine at the end of a run. Tried in order:
//  1. Bochs's shutdown port 0x8900 ("Shutdown"): Bochs ends the simulation.
//  2. ACPI soft-off (SLP_TYP=0, SLP_EN) at the PM1a control port the Bochs
//     BIOS and SeaBIOS program (0xb004), and QEMU's (0x604).
//  3. cli; hlt forever (real hardware without the above).
#include "hal/hw/hw.hpp"

namespace xeno::hw {

void power_off()
{
    asm volatile("cli");
    // Bochs ends the simulation at once: let the UARTs send their last bytes.
    serial_flush(kCom1);
    serial_flush(kCom2);
    for (const char* p = "Shutdown"; *p; ++p) out8(0x8900, static_cast<u8>(*p));
    out16(0xb004, 0x2000);
    out16(0x604, 0x2000);
    for (;;) asm volatile("hlt");
}

}  // namespace xeno::hw
