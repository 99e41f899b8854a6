#include "devices/io_apic.hpp"

namespace xeno::devices {

IoApic::IoApic(u8 id, Deliver deliver, void* context)
    : initial_id_(static_cast<u8>(id & 0x0f)), deliver_(deliver), context_(context)
{
    reset();
}

void IoApic::reset()
{
    id_ = initial_id_;
    arbitration_ = initial_id_;
    select_ = 0;
    for (u64& e : entries_) e = kMasked;
}

bool IoApic::asserted(u32 pin) const
{
    const bool high = (pin_levels_ >> pin & 1) != 0;
    return (entries_[pin] & kActiveLow) ? !high : high;
}

bool IoApic::acts_level(u32 pin) const
{
    if (!(entries_[pin] & kLevel)) return false;
    // SMI, NMI, INIT and ExtINT are edge-only whatever the trigger bit says
    // (82093AA 3.2.4, delivery mode table).
    const u32 mode = static_cast<u32>(entries_[pin] >> kDeliveryModeShift) & 7;
    return mode == static_cast<u32>(DeliveryMode::FIXED) || mode == static_cast<u32>(DeliveryMode::LOWEST_PRIORITY);
}

bool IoApic::deliverable_mode(u32 pin) const
{
    // 011 and 110 are reserved delivery modes on the I/O APIC.
    const u32 mode = static_cast<u32>(entries_[pin] >> kDeliveryModeShift) & 7;
    return mode != 3 && mode != 6;
}

void IoApic::send(u32 pin)
{
    const u64 e = entries_[pin];
    ApicMessage m;
    m.vector = static_cast<u8>(e & kVectorMask);
    m.mode = static_cast<DeliveryMode>((e >> kDeliveryModeShift) & 7);
    m.logical = (e & kLogical) != 0;
    m.level_triggered = acts_level(pin);
    m.assert_level = true;
    m.shorthand = Shorthand::NONE;
    m.destination = static_cast<u32>(e >> kDestinationShift);
    m.x2apic_destination = false;
    ++messages_sent_;
    if (deliver_) deliver_(context_, m);
}

void IoApic::service_level(u32 pin)
{
    const u64 e = entries_[pin];
    if (!acts_level(pin) || !deliverable_mode(pin)) return;
    if ((e & kMasked) || (e & kRemoteIrr) || !asserted(pin)) return;
    // Remote IRR first: the message is "accepted" before the callback runs,
    // so a callback that looks at the entry sees it in flight.
    entries_[pin] |= kRemoteIrr;
    send(pin);
}

void IoApic::set_irq(u32 pin, bool level)
{
    if (pin >= kPins) return;
    const bool was_asserted = asserted(pin);
    const u32 bit = u32{1} << pin;
    pin_levels_ = level ? (pin_levels_ | bit) : (pin_levels_ & ~bit);
    const bool now_asserted = asserted(pin);

    if (acts_level(pin)) {
        service_level(pin);
        return;
    }
    // Edge: the rising edge of the asserted state, while unmasked; a masked
    // edge is lost.
    if (!was_asserted && now_asserted && !(entries_[pin] & kMasked) && deliverable_mode(pin)) send(pin);
}

void IoApic::eoi(u8 vector)
{
    for (u32 pin = 0; pin < kPins; ++pin) {
        const u64 e = entries_[pin];
        if (!(e & kLevel) || (e & kVectorMask) != vector || !(e & kRemoteIrr)) continue;
        entries_[pin] &= ~kRemoteIrr;
        service_level(pin);  // the line still asserted: once more
    }
}

void IoApic::write_entry_half(u32 pin, bool high, u32 value)
{
    u64& e = entries_[pin];
    if (high) {
        e = (e & ~kWritableHigh) | ((u64{value} << 32) & kWritableHigh);
        return;  // the destination does not change whether the entry may send
    }
    e = (e & ~kWritableLow) | (u64{value} & kWritableLow);
    if (!(e & kLevel)) e &= ~kRemoteIrr;
    service_level(pin);  // unmasked, or reprogrammed, with the line asserted
}

u32 IoApic::read_register(u8 index) const
{
    switch (index) {
    case kRegId: return u32{id_} << 24;
    case kRegVersion: return kVersion;
    case kRegArbitration: return u32{arbitration_} << 24;
    default: break;
    }
    if (index >= kRegRedirection && index < kRegRedirection + 2 * kPins) {
        const u64 e = entries_[(index - kRegRedirection) / 2];
        return static_cast<u32>((index & 1) ? e >> 32 : e);
    }
    return 0;
}

void IoApic::write_register(u8 index, u32 value)
{
    if (index == kRegId) {
        id_ = static_cast<u8>((value >> 24) & 0x0f);
        arbitration_ = id_;
        return;
    }
    if (index >= kRegRedirection && index < kRegRedirection + 2 * kPins) {
        write_entry_half((index - kRegRedirection) / 2, (index & 1) != 0, value);
    }
    // Version, arbitration ID and holes: read-only / nothing there.
}

u64 IoApic::mmio_read(u32, u64 offset, u8 size)
{
    // Little-endian bytes of whatever registers the access covers.
    u64 value = 0;
    for (u8 i = 0; i < size && i < 8; ++i) {
        const u64 byte_offset = offset + i;
        const u64 dword_offset = byte_offset & ~u64{3};
        u32 dword = 0;
        if (dword_offset == kRegSelect) dword = select_;
        else if (dword_offset == kWindow) dword = read_register(select_);
        const u64 byte = (dword >> ((byte_offset & 3) * 8)) & 0xff;
        value |= byte << (i * 8);
    }
    return value;
}

void IoApic::mmio_write(u32, u64 offset, u8 size, u64 value)
{
    const u64 end = offset + size;
    // IOREGSEL: loaded by any write that covers its low byte.
    if (offset <= kRegSelect && kRegSelect < end) select_ = static_cast<u8>(value >> ((kRegSelect - offset) * 8));
    // IOWIN: dword accesses only (82093AA 3.0).
    if (offset == kWindow && (size == 4 || size == 8)) write_register(select_, static_cast<u32>(value));
    // EOI: bits 7:0 carry the vector.
    if (offset <= kEoi && kEoi < end) eoi(static_cast<u8>(value >> ((kEoi - offset) * 8)));
}

}  // namespace xeno::devices
