#include "core/vcpu.hpp"

#include "arch/x86/vmx/guest_state.hpp"
#include "core/domain.hpp"

namespace xeno {

void Vcpu::end_guest_fault(const char* why)
{
    if (domain_.ended()) return;
    domain_.end(kGuestCrashStatus, why);
    vmx::dump_guest_state(*this);
}

}  // namespace xeno
