// The I/O APIC: 24 interrupt input pins turned into APIC bus messages.
//
// Register set of the Intel 82093AA (datasheet 290566, section 3) as the
// ICH9/PIIX3 platforms present it to a guest, version 0x20, which adds the
// directed EOI register:
//   MMIO at 0xfec00000 (4 KiB):
//     +0x00 IOREGSEL  bits 7:0 select the register seen through IOWIN
//     +0x10 IOWIN     32-bit window onto the selected register
//     +0x40 EOI       write a vector: clears remote IRR of the level entries
//                     with that vector (ICH9 "EOI register")
//   Registers behind IOWIN:
//     0x00 ID          bits 27:24 (4-bit APIC ID), R/W
//     0x01 version     0x00170020 (24 entries - 1 in bits 23:16, version 0x20), RO
//     0x02 arbitration bits 27:24, RO; loaded with the ID whenever the ID is
//                      written ("same data is loaded into both", 3.2.1)
//     0x10+2n, 0x11+2n redirection entry n (n < 24), low and high dword:
//       7:0 vector, 10:8 delivery mode, 11 destination mode (1 = logical),
//       12 delivery status (RO), 13 polarity (1 = active low), 14 remote IRR
//       (RO), 15 trigger mode (1 = level), 16 mask, 63:56 destination.
//
// What is modelled:
// - Pins. set_irq(pin, level) gives the electrical level of an input pin
//   (true = high). An entry's polarity bit says which level is asserted:
//   active high (0) passes the level through, active low (1) inverts it. The
//   domain's wiring drives each pin as its ACPI/MP tables describe it (ISA
//   interrupts: active high). All pins start low.
// - Edge-triggered entries send one message per rising edge of the asserted
//   state while unmasked; an edge arriving while masked is lost, as on the
//   82093AA (it has no latch for masked edges). Reprogramming an entry is not
//   an edge: only pin changes are.
// - Level-triggered fixed/lowest-priority entries send a message when the pin
//   is asserted, the entry unmasked and remote IRR clear, and set remote IRR;
//   eoi(vector) (the local APIC's EOI broadcast, or a write to the EOI
//   register) clears remote IRR of every level entry with that vector and
//   sends again if the pin is still asserted. So an asserted line the guest
//   never EOIs delivers exactly once: no storm. Writing an entry so that it
//   becomes deliverable (unmasking it, changing polarity so the pin reads
//   asserted, fixing a reserved delivery mode) delivers at once.
// - Switching an entry to edge trigger clears its remote IRR (the bit is
//   meaningless for edge entries; older guests clear a stuck remote IRR by
//   toggling the trigger mode, as on the chipsets without the EOI register).
// - SMI, NMI, INIT and ExtINT entries are edge-only (datasheet 3.2.4: "NMI
//   must be programmed as edge-triggered for proper operation", same for the
//   others): they are treated as edge entries whatever their trigger bit, and
//   their messages are not level-triggered.
// - Delivery modes 011 and 110 are reserved on the I/O APIC: such an entry
//   sends nothing. Vectors 0-15 are sent as programmed (the receiving local
//   APIC flags an illegal vector in its ESR).
// - Delivery status always reads 0: messages are delivered synchronously,
//   through the Deliver callback, before set_irq/eoi/the MMIO write returns.
// - Destination: 8 bits (63:56), physical APIC ID or logical mask, xAPIC
//   format. The ICH9's extended destination ID (bits 55:48) is stored and
//   reads back but is not used: x2APIC guests with more than 255 CPUs would
//   need interrupt remapping or the KVM extended-destination convention,
//   which Xeno does not advertise. Bits 47:32 and 31:17 are reserved: they
//   read 0 and ignore writes.
//
// MMIO access sizes (datasheet 3.0: "The IOWIN Register must be accessed as
// a Dword quantity"; IOREGSEL is loaded by a byte write):
// - Reads of any size return the bytes of the registers they cover (an
//   IOWIN read has no side effect, so narrow and wide reads are harmless).
//   IOREGSEL reads back its 8 bits, the EOI register and everything else in
//   the 4 KiB range read 0.
// - A write of any size that covers byte 0x00 loads IOREGSEL from that byte.
// - IOWIN takes aligned 4- and 8-byte writes at 0x10 (the low dword); a
//   narrower or misaligned write to it is ignored (it cannot be merged
//   without guessing the other bytes).
// - A write of any size that covers byte 0x40 is an EOI for that byte.
// - Registers behind IOWIN that do not exist (IOREGSEL pointing past the
//   table or at a hole) read 0 and ignore writes; so do writes to the RO
//   version and arbitration registers.
#pragma once

#include "devices/apic_message.hpp"
#include "lib/types.hpp"

namespace xeno::devices {

class IoApic {
public:
    using Deliver = void (*)(void* context, const ApicMessage& message);

    static constexpr u64 kDefaultBase = 0xfec00000;
    static constexpr u64 kMmioSize = 0x1000;
    static constexpr u32 kPins = 24;
    static constexpr u32 kVersion = 0x00170020;  // max redirection entry 23, version 0x20

    // MMIO offsets.
    static constexpr u64 kRegSelect = 0x00;
    static constexpr u64 kWindow = 0x10;
    static constexpr u64 kEoi = 0x40;

    // Register indexes behind IOWIN.
    static constexpr u8 kRegId = 0x00;
    static constexpr u8 kRegVersion = 0x01;
    static constexpr u8 kRegArbitration = 0x02;
    static constexpr u8 kRegRedirection = 0x10;  // entry n: 0x10 + 2n (low), 0x11 + 2n (high)

    // Redirection entry fields (low dword).
    static constexpr u64 kVectorMask = 0xff;
    static constexpr u32 kDeliveryModeShift = 8;
    static constexpr u64 kLogical = u64{1} << 11;
    static constexpr u64 kDeliveryStatus = u64{1} << 12;
    static constexpr u64 kActiveLow = u64{1} << 13;
    static constexpr u64 kRemoteIrr = u64{1} << 14;
    static constexpr u64 kLevel = u64{1} << 15;
    static constexpr u64 kMasked = u64{1} << 16;
    static constexpr u32 kDestinationShift = 56;

    IoApic(u8 id, Deliver deliver, void* context);

    u64 mmio_read(u32 vcpu, u64 offset, u8 size);
    void mmio_write(u32 vcpu, u64 offset, u8 size, u64 value);

    // The electrical level of input pin `pin` (0-23; others are ignored).
    void set_irq(u32 pin, bool level);

    // End of interrupt for `vector`: the local APIC's EOI broadcast for a
    // level-triggered vector, or a write to the EOI register.
    void eoi(u8 vector);

    // The registers behind IOWIN, by index (what a guest reaches through
    // IOREGSEL/IOWIN; for the domain's debug output and tests).
    u32 read_register(u8 index) const;
    void write_register(u8 index, u32 value);

    // Power-on state: ID from construction, every entry masked with all
    // other fields 0 (datasheet 3.2.4: "masked on reset"), IOREGSEL 0. Pin
    // levels are inputs from outside and are kept.
    void reset();

    u8 id() const { return id_; }
    u64 entry(u32 pin) const { return pin < kPins ? entries_[pin] : 0; }
    bool pin_level(u32 pin) const { return pin < kPins && (pin_levels_ >> pin & 1) != 0; }
    u64 messages_sent() const { return messages_sent_; }

private:
    // Bits of an entry the guest can write (the rest are RO or reserved).
    static constexpr u64 kWritableLow = 0xff | (u64{7} << kDeliveryModeShift) | kLogical | kActiveLow | kLevel | kMasked;
    static constexpr u64 kWritableHigh = u64{0xffff} << 48;  // destination 63:56, extended destination 55:48

    bool asserted(u32 pin) const;
    // Edge-only delivery modes and reserved modes decide how an entry acts.
    bool acts_level(u32 pin) const;
    bool deliverable_mode(u32 pin) const;
    void send(u32 pin);
    // A level entry that is asserted, unmasked and not waiting for its EOI
    // sends (and sets remote IRR).
    void service_level(u32 pin);
    void write_entry_half(u32 pin, bool high, u32 value);

    u8 initial_id_ = 0;
    u8 id_ = 0;           // 4 bits
    u8 arbitration_ = 0;  // 4 bits
    u8 select_ = 0;       // IOREGSEL
    u64 entries_[kPins] = {};
    u32 pin_levels_ = 0;  // bit n: the electrical level of pin n
    Deliver deliver_ = nullptr;
    void* context_ = nullptr;
    u64 messages_sent_ = 0;
};

}  // namespace xeno::devices
