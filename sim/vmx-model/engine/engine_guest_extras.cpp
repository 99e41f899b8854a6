// The processor state that VM entries and exits neither load nor save (SDM
// Vol. 3C 27.3, 28.3): DR0-DR3, DR6, XCR0 and the SYSCALL MSRs. On a processor they simply
// stay; hal::run carries the guest's values in its register block
// (hal/vmx.hpp GuestRegs) and loads them before an entry. The model does the
// same with the engine's registers, and keeps XCR0 itself: Unicorn's CPU
// model has no XSAVE (XSETBV and XGETBV are #UD there), so XGETBV is
// emulated from it (XSETBV always exits in VMX non-root operation).
#include <utility>

#include "arch/x86/vmx/vmx_arch.hpp"
#include "sim/vmx-model/engine/engine_impl.hpp"

namespace xeno::sim {

namespace {
constexpr int kDrIds[4] = {UC_X86_REG_DR0, UC_X86_REG_DR1, UC_X86_REG_DR2, UC_X86_REG_DR3};
constexpr u64 kCr4Osxsave = u64{1} << 18;
}  // namespace

void Engine::Impl::load_guest_extras()
{
    const hal::GuestRegs& r = *regs;
    for (int i = 0; i < 4; ++i)
        if (!extras_valid || extras_loaded.dr[i] != r.dr[i]) set_reg(kDrIds[i], r.dr[i]);
    if (!extras_valid || extras_loaded.dr6 != r.dr6) set_reg(UC_X86_REG_DR6, r.dr6);
    if (r.xcr0) xcr0 = r.xcr0;  // 0: the host has no XSAVE, nothing to load
    const std::pair<u32, u64> syscall_msrs[] = {
        {vmx::msr::IA32_STAR, r.star}, {vmx::msr::IA32_LSTAR, r.lstar}, {vmx::msr::IA32_CSTAR, r.cstar},
        {vmx::msr::IA32_FMASK, r.fmask}};
    const u64 loaded[] = {extras_loaded.star, extras_loaded.lstar, extras_loaded.cstar, extras_loaded.fmask};
    for (unsigned i = 0; i < 4; ++i)
        if (!extras_valid || loaded[i] != syscall_msrs[i].second) engine.set_guest_msr(syscall_msrs[i].first, syscall_msrs[i].second);
    extras_loaded = r;
    extras_valid = true;
}

void Engine::Impl::store_guest_extras()
{
    // A #DB in the guest (single step) or a MOV to DR6 the guest ran itself
    // writes DR6; nothing else does, so most exits need not read it.
    if (!dr6_written) return;
    dr6_written = false;
    regs->dr6 = extras_loaded.dr6 = reg(UC_X86_REG_DR6);
}

bool Engine::Impl::site_xgetbv(u64 address, const DecodedInsn& d)
{
    // XGETBV (SDM Vol. 2D): #UD without CR4.OSXSAVE; ECX selects the XCR:
    // 0 is XCR0, 1 (where CPUID.(0DH,1):EAX[2] says so) XINUSE, which the
    // model reports as XCR0 (every enabled component may be in use); any
    // other value is #GP(0). It never exits.
    if (!(reg(UC_X86_REG_CR4) & kCr4Osxsave)) {
        fault(address, vmx::vector::UD, false);
        return true;
    }
    const u32 ecx = static_cast<u32>(reg(UC_X86_REG_RCX));
    const bool xinuse = ecx == 1 && (engine.profile_.cpuid(0xd, 1).eax & (1u << 2));
    if (ecx != 0 && !xinuse) {
        fault(address, vmx::vector::GP, true);
        return true;
    }
    set_reg(UC_X86_REG_RAX, xcr0 & 0xffffffff);
    set_reg(UC_X86_REG_RDX, xcr0 >> 32);
    emulate_skip(address, rip() + d.length);
    return true;
}

}  // namespace xeno::sim
