#include "core/vcpu.hpp"

#include "arch/x86/vmx/guest_state.hpp"
#include "core/domain.hpp"

namespace xeno {

namespace {

devices::LocalApic::Hooks apic_hooks(Domain& d)
{
    devices::LocalApic::Hooks h;
    h.send = [](void* c, u32 source, const devices::ApicMessage& m) {
        static_cast<Domain*>(c)->apic_bus().deliver(static_cast<i32>(source), m);
    };
    h.send_context = &d;
    h.notify = [](void* c, u32 vcpu) { static_cast<Domain*>(c)->kick(vcpu); };
    h.notify_context = &d;
    h.eoi = [](void* c, u8 vector) { static_cast<Domain*>(c)->ioapic().eoi(vector); };
    h.eoi_context = &d;
    return h;
}

}  // namespace

Vcpu::Vcpu(Domain& domain, const vmx::VmxCaps& caps, u32 id)
    : shadow(domain.shadow()), domain_(domain), caps_(caps), id_(id),
      lapic_(id, id, id == 0, domain.timers(), domain.guest_tsc(), apic_hooks(domain))
{
    if (id != 0) {
        run_state = VcpuRunState::WAIT_FOR_SIPI;
        lapic_.set_wait_for_sipi(true);
    }
}

void Vcpu::end_guest_fault(const char* why)
{
    if (domain_.ended()) return;
    domain_.end(DomainEnd::CRASHED, kGuestCrashStatus, why);
    vmx::dump_guest_state(*this);
}

}  // namespace xeno
