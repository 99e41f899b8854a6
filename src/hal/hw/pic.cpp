// The legacy 8259A PICs. The BIOS leaves them delivering IRQ 0-15 at vectors
// 8-15 and 0x70-0x77; vector 8 is #DF in protected mode. The hypervisor does
// not take host interrupts (it runs with IF=0 and has IDT entries only for
// exceptions), so the PICs are re-initialised to vectors 0x20-0x2f, out of
// the exception range, and every line is masked. Guests still see their own
// virtual PIC; the BIOS's PIT interrupts no longer show up as asynchronous
// EXTERNAL_INTERRUPT exits in the hw build's traces.
// (8259A datasheet: ICW1-ICW4, OCW1.)
#include "hal/hw/hw.hpp"

namespace xeno::hw {

void pic_disable()
{
    constexpr u16 kMasterCmd = 0x20, kMasterData = 0x21, kSlaveCmd = 0xa0, kSlaveData = 0xa1;
    out8(kMasterCmd, 0x11);  // ICW1: edge, cascade, ICW4 follows
    out8(kSlaveCmd, 0x11);
    out8(kMasterData, 0x20);  // ICW2: vector base
    out8(kSlaveData, 0x28);
    out8(kMasterData, 0x04);  // ICW3: slave on IRQ2
    out8(kSlaveData, 0x02);
    out8(kMasterData, 0x01);  // ICW4: 8086 mode
    out8(kSlaveData, 0x01);
    out8(kMasterData, 0xff);  // OCW1: mask all
    out8(kSlaveData, 0xff);
}

}  // namespace xeno::hw
