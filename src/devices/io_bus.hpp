// The port I/O bus of one domain: port ranges routed to device models.
//
// Each device is reached through two plain functions and a context pointer
// (no virtual calls, no heap): pio_read(port, size) and pio_write(port, size,
// value), size in bytes (1, 2 or 4). Ports no device claims read as all ones
// and ignore writes, as on a PC's ISA bus.
#pragma once

#include "lib/status.hpp"
#include "lib/types.hpp"

namespace xeno::devices {

struct PortDevice {
    void* context = nullptr;
    u32 (*read)(void* context, u16 port, u8 size) = nullptr;
    void (*write)(void* context, u16 port, u8 size, u32 value) = nullptr;
};

// Adapts any class with `u32 pio_read(u16, u8)` and `void pio_write(u16, u8, u32)`.
template <typename T>
PortDevice port_device(T& device)
{
    PortDevice d;
    d.context = &device;
    d.read = [](void* c, u16 port, u8 size) { return static_cast<T*>(c)->pio_read(port, size); };
    d.write = [](void* c, u16 port, u8 size, u32 value) { static_cast<T*>(c)->pio_write(port, size, value); };
    return d;
}

class IoBus {
public:
    static constexpr usize kMaxRanges = 24;

    // Claim ports [first, last]. With `byte_wide`, the device is an 8-bit ISA
    // device: a 2- or 4-byte access is split into byte accesses to
    // consecutive ports (low byte first), as the bus does for such devices.
    // BAD_ARGUMENT for an empty or overlapping range, TOO_LARGE when full.
    Status attach(u16 first, u16 last, PortDevice device, bool byte_wide);

    u32 read(u16 port, u8 size);
    void write(u16 port, u8 size, u32 value);

    u64 unclaimed_accesses() const { return unclaimed_; }

private:
    struct Range {
        u16 first, last;
        PortDevice device;
        bool byte_wide;
    };
    const Range* find(u16 port) const;
    u32 read_one(u16 port, u8 size);
    void write_one(u16 port, u8 size, u32 value);

    Range ranges_[kMaxRanges] = {};
    usize count_ = 0;
    u64 unclaimed_ = 0;
};

constexpr u32 size_mask(u8 size) { return size >= 4 ? 0xffffffffu : (1u << (size * 8)) - 1; }

}  // namespace xeno::devices
