// The APIC bus of one domain: routes interrupt messages (IPIs from a local
// APIC's ICR, interrupts from the I/O APIC) to the local APICs their
// destination names, after SDM Vol. 3A 11.6.2 "Determining IPI
// Destination" and 11.12.10 (x2APIC destinations).
//
//   - Shorthands (self, all including self, all excluding self) ignore the
//     destination field. A message from the I/O APIC (source -1) has no
//     "self": SELF goes nowhere, the two ALL forms reach every APIC.
//   - Physical destination: the APIC ID (the 8-bit xAPIC ID, or the 32-bit
//     x2APIC ID for an APIC in x2APIC mode); 0xff (xAPIC-format message) or
//     0xffffffff (x2APIC format) is the broadcast.
//   - Logical destination, per the receiving APIC's mode: xAPIC flat model
//     (LDR[31:24] AND destination != 0), xAPIC cluster model (high nibbles
//     equal, low nibbles intersect), x2APIC (destination[31:16] = the LDR's
//     cluster, destination[15:0] intersects its member bits). The all-ones
//     destination is a broadcast in either format.
//   - Lowest priority: of the APICs the destination matches, the one with
//     the lowest arbitration priority (APR, 11.6.2.4) gets the interrupt;
//     ties go round robin in vcpu order (starting after the previous
//     winner), as the P6's rotating arbitration IDs did. Deterministic:
//     the choice depends only on the messages delivered before.
//     Software-disabled APICs take no part (they would drop it).
//   - Globally disabled APICs (IA32_APIC_BASE.EN = 0) are not on the bus.
//   - A message that matches nobody goes nowhere, and the sender's ESR
//     records nothing: the "send accept error" (ESR bit 2) belonged to the
//     P6's serial APIC bus; system-bus xAPICs and x2APICs do not report it.
//
// The domain attaches each vcpu's LocalApic, gives each APIC
// `ApicBus::send_from_apic` (context: the bus) as its Send hook, and hands
// the I/O APIC's messages to deliver(-1, m). The bus is also the MMIO device
// for the xAPIC page: an access goes to the APIC of the vcpu that made it.
#pragma once

#include "devices/apic_message.hpp"
#include "devices/local_apic.hpp"
#include "lib/status.hpp"
#include "lib/types.hpp"

namespace xeno::devices {

class ApicBus {
public:
    static constexpr usize kMaxApics = 64;

    ApicBus() = default;
    ApicBus(const ApicBus&) = delete;
    ApicBus& operator=(const ApicBus&) = delete;

    // Attach `apic` as the APIC of vcpu apic.vcpu(). BAD_ARGUMENT when the
    // vcpu index is out of range, BAD_STATE when that vcpu already has one.
    Status attach(LocalApic& apic);
    LocalApic* apic(u32 vcpu) const { return vcpu < kMaxApics ? apics_[vcpu] : nullptr; }

    // Route `message` from `source_vcpu` (-1: the I/O APIC).
    void deliver(i32 source_vcpu, const ApicMessage& message);

    // A LocalApic::Send hook: context is the ApicBus.
    static void send_from_apic(void* bus, u32 source_vcpu, const ApicMessage& message)
    {
        static_cast<ApicBus*>(bus)->deliver(static_cast<i32>(source_vcpu), message);
    }

    // The xAPIC page (0xfee00000): each vcpu reaches its own APIC. A vcpu
    // without one reads all ones.
    u64 mmio_read(u32 vcpu, u64 offset, u8 size);
    void mmio_write(u32 vcpu, u64 offset, u8 size, u64 value);

private:
    static bool matches(const LocalApic& apic, const ApicMessage& message);
    void deliver_lowest_priority(u64 targets, const ApicMessage& message);

    LocalApic* apics_[kMaxApics] = {};
    u32 round_robin_next_ = 0;  // where the next lowest-priority tie search starts
};

}  // namespace xeno::devices
