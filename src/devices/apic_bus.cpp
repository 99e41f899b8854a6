#include "devices/apic_bus.hpp"

namespace xeno::devices {

Status ApicBus::attach(LocalApic& apic)
{
    if (apic.vcpu() >= kMaxApics) return Status::BAD_ARGUMENT;
    if (apics_[apic.vcpu()]) return Status::BAD_STATE;
    apics_[apic.vcpu()] = &apic;
    return Status::OK;
}

namespace {

bool is_broadcast(const ApicMessage& m)
{
    return m.x2apic_destination ? m.destination == 0xffffffff : (m.destination & 0xff) == 0xff;
}

}  // namespace

// Whether the destination field (no shorthand) names `apic` (11.6.2.1,
// 11.6.2.2, 11.12.10.1). The receiver's mode decides how to read it.
bool ApicBus::matches(const LocalApic& apic, const ApicMessage& m)
{
    if (is_broadcast(m)) return true;
    const u32 destination = m.x2apic_destination ? m.destination : (m.destination & 0xff);
    if (!m.logical) return apic.physical_id() == destination;

    const u32 ldr = apic.logical_id();
    if (apic.x2apic_mode()) {
        return (destination >> 16) == (ldr >> 16) && (destination & ldr & 0xffff) != 0;
    }
    if (destination > 0xff) return false;  // a 32-bit logical destination means nothing to an xAPIC
    const u32 logical_id = ldr >> 24;
    if (apic.cluster_model()) {
        return (destination >> 4) == (logical_id >> 4) && (destination & logical_id & 0xf) != 0;
    }
    return (destination & logical_id) != 0;
}

void ApicBus::deliver(i32 source_vcpu, const ApicMessage& m)
{
    const bool has_source = source_vcpu >= 0 && static_cast<u32>(source_vcpu) < kMaxApics;
    const u32 source = has_source ? static_cast<u32>(source_vcpu) : 0;

    u64 targets = 0;
    for (u32 i = 0; i < kMaxApics; ++i) {
        const LocalApic* a = apics_[i];
        if (!a || !a->hw_enabled()) continue;
        bool hit = false;
        switch (m.shorthand) {
        case Shorthand::NONE: hit = matches(*a, m); break;
        case Shorthand::SELF: hit = has_source && i == source; break;
        case Shorthand::ALL_INCLUDING_SELF: hit = true; break;
        case Shorthand::ALL_EXCLUDING_SELF: hit = !has_source || i != source; break;
        }
        if (hit) targets |= u64{1} << i;
    }
    if (!targets) return;

    if (m.mode == DeliveryMode::LOWEST_PRIORITY) {
        deliver_lowest_priority(targets, m);
        return;
    }
    for (u32 i = 0; i < kMaxApics; ++i) {
        if (targets & (u64{1} << i)) apics_[i]->accept(m);
    }
}

// 11.6.2.4: one processor, the one at the lowest arbitration priority.
void ApicBus::deliver_lowest_priority(u64 targets, const ApicMessage& m)
{
    int lowest = 0x100;
    for (u32 i = 0; i < kMaxApics; ++i) {
        if (!(targets & (u64{1} << i)) || !apics_[i]->software_enabled()) continue;
        if (apics_[i]->apr() < lowest) lowest = apics_[i]->apr();
    }
    if (lowest == 0x100) return;  // only software-disabled APICs: they refuse fixed interrupts
    for (u32 k = 0; k < kMaxApics; ++k) {
        const u32 i = (round_robin_next_ + k) % kMaxApics;
        if (!(targets & (u64{1} << i)) || !apics_[i]->software_enabled() || apics_[i]->apr() != lowest) continue;
        round_robin_next_ = (i + 1) % kMaxApics;
        apics_[i]->accept(m);
        return;
    }
}

u64 ApicBus::mmio_read(u32 vcpu, u64 offset, u8 size)
{
    LocalApic* a = apic(vcpu);
    if (!a) return size >= 8 ? ~u64{0} : (u64{1} << (8 * size)) - 1;
    return a->mmio_read(vcpu, offset, size);
}

void ApicBus::mmio_write(u32 vcpu, u64 offset, u8 size, u64 value)
{
    if (LocalApic* a = apic(vcpu)) a->mmio_write(vcpu, offset, size, value);
}

}  // namespace xeno::devices
