#include "devices/mmio_bus.hpp"

namespace xeno::devices {

namespace {

constexpr u64 mask_of(u8 size) { return size >= 8 ? ~u64{0} : (u64{1} << (size * 8)) - 1; }

}  // namespace

Status MmioBus::attach(u64 base, u64 size, MmioDevice device)
{
    if (size == 0 || base + size < base || !device.read || !device.write) return Status::BAD_ARGUMENT;
    for (usize i = 0; i < count_; ++i)
        if (base < ranges_[i].base + ranges_[i].size && ranges_[i].base < base + size) return Status::BAD_ARGUMENT;
    if (count_ == kMaxRanges) return Status::TOO_LARGE;
    ranges_[count_++] = Range{base, size, device};
    return Status::OK;
}

const MmioBus::Range* MmioBus::find(u64 gpa) const
{
    for (usize i = 0; i < count_; ++i)
        if (gpa >= ranges_[i].base && gpa - ranges_[i].base < ranges_[i].size) return &ranges_[i];
    return nullptr;
}

u64 MmioBus::read(u32 vcpu, u64 gpa, u8 size)
{
    const Range* r = find(gpa);
    if (!r || (size != 1 && size != 2 && size != 4 && size != 8) || gpa - r->base + size > r->size) {
        ++unclaimed_;
        return mask_of(size);
    }
    return r->device.read(r->device.context, vcpu, gpa - r->base, size) & mask_of(size);
}

void MmioBus::write(u32 vcpu, u64 gpa, u8 size, u64 value)
{
    const Range* r = find(gpa);
    if (!r || (size != 1 && size != 2 && size != 4 && size != 8) || gpa - r->base + size > r->size) {
        ++unclaimed_;
        return;
    }
    r->device.write(r->device.context, vcpu, gpa - r->base, size, value & mask_of(size));
}

}  // namespace xeno::devices
