// XSETBV exits. XSETBV exits unconditionally in VMX non-root operation (SDM
// Vol. 3C 26.1.2); its #UD without CR4.OSXSAVE and its #GP(0) at CPL > 0
// come before the exit (26.1.1), so the handler sees only what is left:
// ECX must name XCR0 (the only writable XCR) and the value must be one the
// guest's CPUID leaf 0DH allows (xcr0.hpp), else #GP(0) as the instruction
// raises it. A valid value becomes the vcpu's XCR0, which hal::run loads
// into the processor before the next entry (hal/vmx.hpp: XCR0 is not VMCS
// state and the hypervisor never uses extended state, so the guest's value
// stays loaded while exits are handled; nothing restores a host value).
#include "arch/x86/vmx/exit_handlers.hpp"
#include "arch/x86/vmx/guest_state.hpp"
#include "arch/x86/vmx/xcr0.hpp"
#include "hal/cpu.hpp"

namespace xeno::vmx {

void handle_xsetbv(Vcpu& v, const ExitInfo& exit)
{
    const u32 xcr = static_cast<u32>(v.regs.gpr[1]);
    const u64 value = (v.regs.gpr[0] & 0xffffffff) | (v.regs.gpr[2] << 32);
    const hal::CpuidResult h = hal::cpuid(0xd, 0);
    const CpuidRegs leaf = guest_cpuid(0xd, 0, CpuidRegs{h.eax, h.ebx, h.ecx, h.edx});
    const u64 supported = leaf.eax | (u64{leaf.edx} << 32);
    if (xcr != 0 || v.regs.xcr0 == 0 || !xcr0_valid(value, supported)) {
        inject_exception(v, vector::GP, 0);
        return;
    }
    v.regs.xcr0 = value;
    advance_rip(v, exit);
}

}  // namespace xeno::vmx
