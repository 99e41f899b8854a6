// The MMIO bus of one domain: guest-physical ranges outside RAM routed to
// device models (the local APICs at 0xfee00000, the I/O APIC at 0xfec00000).
//
// A guest reaches it through the instruction emulator: under EPT an access
// to an address with no RAM behind it is an EPT violation, under shadow
// paging a fault the shadow never maps; either way the hypervisor emulates
// the instruction and its memory accesses outside RAM come here, one
// naturally sized piece (1, 2, 4 or 8 bytes) at a time. Accesses carry the
// index of the vcpu that made them: each vcpu sees its own local APIC at
// the same address. Addresses no device claims read as all ones and ignore
// writes, as on a PC where nothing decodes them.
#pragma once

#include "lib/status.hpp"
#include "lib/types.hpp"

namespace xeno::devices {

struct MmioDevice {
    void* context = nullptr;
    // offset: from the start of the range; size: 1, 2, 4 or 8, and the
    // access never crosses the end of the range.
    u64 (*read)(void* context, u32 vcpu, u64 offset, u8 size) = nullptr;
    void (*write)(void* context, u32 vcpu, u64 offset, u8 size, u64 value) = nullptr;
};

// Adapts any class with `u64 mmio_read(u32 vcpu, u64 offset, u8 size)` and
// `void mmio_write(u32 vcpu, u64 offset, u8 size, u64 value)`.
template <typename T>
MmioDevice mmio_device(T& device)
{
    MmioDevice d;
    d.context = &device;
    d.read = [](void* c, u32 vcpu, u64 offset, u8 size) { return static_cast<T*>(c)->mmio_read(vcpu, offset, size); };
    d.write = [](void* c, u32 vcpu, u64 offset, u8 size, u64 value) {
        static_cast<T*>(c)->mmio_write(vcpu, offset, size, value);
    };
    return d;
}

class MmioBus {
public:
    static constexpr usize kMaxRanges = 16;

    // Claim [base, base + size). BAD_ARGUMENT for an empty, wrapping or
    // overlapping range, TOO_LARGE when full.
    Status attach(u64 base, u64 size, MmioDevice device);

    // Whether some device claims `gpa`.
    bool claims(u64 gpa) const { return find(gpa) != nullptr; }

    // An access of `size` bytes (1, 2, 4, 8) at `gpa`. A piece that runs past
    // the end of its device's range, or lies where no device is, reads as
    // all ones / is dropped. Little-endian, as the processor's accesses.
    u64 read(u32 vcpu, u64 gpa, u8 size);
    void write(u32 vcpu, u64 gpa, u8 size, u64 value);

    u64 unclaimed_accesses() const { return unclaimed_; }

private:
    struct Range {
        u64 base, size;
        MmioDevice device;
    };
    const Range* find(u64 gpa) const;

    Range ranges_[kMaxRanges] = {};
    usize count_ = 0;
    u64 unclaimed_ = 0;
};

}  // namespace xeno::devices
