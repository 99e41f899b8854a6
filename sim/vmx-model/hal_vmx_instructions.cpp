// The sim build's definitions of the VMX instructions of the seam
// (src/hal/vmx.hpp) on the running machine's VmxCpu. hal::run is the
// engine's (sim/vmx-model/engine).
#include "hal/vmx.hpp"
#include "hal/panic.hpp"
#include "sim/platform/sim_context.hpp"
#include "sim/vmx-model/vmx_cpu.hpp"

namespace xeno::hal {

namespace {
sim::VmxCpu& cpu()
{
    sim::VmxCpu* v = sim::sim_context().vmx;
    if (!v) panic("sim: the running machine has no VMX CPU");
    return *v;
}
}  // namespace

VmxResult vmxon(Hpa region) { return cpu().vmxon(region); }
VmxResult vmxoff() { return cpu().vmxoff(); }
VmxResult vmclear(Hpa vmcs) { return cpu().vmclear(vmcs); }
VmxResult vmptrld(Hpa vmcs) { return cpu().vmptrld(vmcs); }
VmxResult vmptrst(Hpa* vmcs) { return cpu().vmptrst(vmcs); }
VmxResult vmread(u64 encoding, u64* value) { return cpu().vmread(encoding, value); }
VmxResult vmwrite(u64 encoding, u64 value) { return cpu().vmwrite(encoding, value); }
VmxResult invept(u64 type, const InveptDescriptor& descriptor) { return cpu().invept(type, descriptor); }
VmxResult invvpid(u64 type, const InvvpidDescriptor& descriptor) { return cpu().invvpid(type, descriptor); }

}  // namespace xeno::hal
