#include "devices/io_bus.hpp"

namespace xeno::devices {

Status IoBus::attach(u16 first, u16 last, PortDevice device, bool byte_wide)
{
    if (last < first || !device.read || !device.write) return Status::BAD_ARGUMENT;
    for (usize i = 0; i < count_; ++i)
        if (first <= ranges_[i].last && ranges_[i].first <= last) return Status::BAD_ARGUMENT;
    if (count_ == kMaxRanges) return Status::TOO_LARGE;
    ranges_[count_++] = Range{first, last, device, byte_wide};
    return Status::OK;
}

const IoBus::Range* IoBus::find(u16 port) const
{
    for (usize i = 0; i < count_; ++i)
        if (port >= ranges_[i].first && port <= ranges_[i].last) return &ranges_[i];
    return nullptr;
}

u32 IoBus::read_one(u16 port, u8 size)
{
    const Range* r = find(port);
    if (!r) {
        ++unclaimed_;
        return size_mask(size);
    }
    return r->device.read(r->device.context, port, size) & size_mask(size);
}

void IoBus::write_one(u16 port, u8 size, u32 value)
{
    const Range* r = find(port);
    if (!r) {
        ++unclaimed_;
        return;
    }
    r->device.write(r->device.context, port, size, value & size_mask(size));
}

u32 IoBus::read(u16 port, u8 size)
{
    const Range* r = find(port);
    if (size > 1 && (!r || r->byte_wide)) {
        u32 v = 0;
        for (u8 i = 0; i < size; ++i) v |= read_one(static_cast<u16>(port + i), 1) << (8 * i);
        return v;
    }
    return read_one(port, size);
}

void IoBus::write(u16 port, u8 size, u32 value)
{
    const Range* r = find(port);
    if (size > 1 && (!r || r->byte_wide)) {
        for (u8 i = 0; i < size; ++i) write_one(static_cast<u16>(port + i), 1, (value >> (8 * i)) & 0xff);
        return;
    }
    write_one(port, size, value);
}

}  // namespace xeno::devices
