// SYSCALL and SYSENTER. Unicorn does not execute them: it calls the hooks
// registered for them and goes on with the next instruction (measured:
// RIP advances, RCX and R11 untouched, no change of CS or CPL), which is
// what a user-mode emulator wants and nothing a kernel can run on. The
// model executes them as the SDM describes (Vol. 2B SYSCALL, SYSENTER; the
// MSRs in Vol. 4). SYSRET and SYSEXIT Unicorn executes itself.
//
// Neither exits in VMX non-root operation: they load flat segment caches
// from MSRs, switch to CPL 0 and jump.
#include "arch/x86/vmx/vmx_arch.hpp"
#include "sim/vmx-model/engine/engine_impl.hpp"

namespace xeno::sim {

namespace {

constexpr u64 kEferSce = 1, kEferLma = u64{1} << 10;
constexpr u64 kRflagsRf = u64{1} << 16, kRflagsVmBit = u64{1} << 17, kRflagsIf = u64{1} << 9;
constexpr int kSegCs = 1, kSegSs = 2;

// QEMU's segment-cache flags (descriptor bits 8..23 in place): type, S, DPL
// 0, P, L or D/B, G.
constexpr u32 kFlagsCode64 = (0xbu << 8) | (1u << 12) | desc::P | desc::L | (1u << 23);
constexpr u32 kFlagsCode32 = (0xbu << 8) | (1u << 12) | desc::P | desc::B | (1u << 23);
constexpr u32 kFlagsData = (0x3u << 8) | (1u << 12) | desc::P | desc::B | (1u << 23);

}  // namespace

void Engine::Impl::site_syscall(u64 address, const DecodedInsn& d)
{
    // #UD outside 64-bit mode (Intel's SYSCALL is 64-bit only) or with EFER.SCE clear.
    blob.save();
    if (!(blob.efer() & kEferSce) || code_bits() != 64) {
        fault(address, vmx::vector::UD, false);
        return;
    }
    const u64 star = engine.guest_msr(vmx::msr::IA32_STAR);
    const u64 lstar = engine.guest_msr(vmx::msr::IA32_LSTAR);
    const u64 fmask = engine.guest_msr(vmx::msr::IA32_FMASK);
    const u64 rflags = reg(UC_X86_REG_EFLAGS);
    const u64 next = rip() + d.length;
    retire_block_partial(address, true);
    set_reg(UC_X86_REG_RCX, next);
    set_reg(UC_X86_REG_R11, rflags & ~kRflagsRf);
    set_reg(UC_X86_REG_EFLAGS, rflags & ~(fmask | kRflagsRf));
    const u32 selector = static_cast<u32>(star >> 32) & 0xfffc;
    blob.save();
    blob.set_segment(kSegCs, UcSegment{selector, 0, 0xffffffffu, kFlagsCode64});
    blob.set_segment(kSegSs, UcSegment{selector + 8, 0, 0xffffffffu, kFlagsData});
    blob.recompute_hflags();
    blob.restore();
    blob_fresh = false;
    set_rip(lstar);
}

void Engine::Impl::site_sysenter(u64 address, const DecodedInsn& d)
{
    (void)d;
    // #GP(0) in real mode or with a null IA32_SYSENTER_CS (SDM Vol. 2B SYSENTER).
    blob.save();
    const u64 cs_msr = engine.guest_msr(vmx::msr::IA32_SYSENTER_CS);
    if (!(blob.cr(0) & 1) || (cs_msr & 0xfffc) == 0) {
        fault(address, vmx::vector::GP, true);
        return;
    }
    const bool ia32e = (blob.efer() & kEferLma) != 0;
    const u64 esp = engine.guest_msr(vmx::msr::IA32_SYSENTER_ESP);
    const u64 eip = engine.guest_msr(vmx::msr::IA32_SYSENTER_EIP);
    retire_block_partial(address, true);
    set_reg(UC_X86_REG_EFLAGS, reg(UC_X86_REG_EFLAGS) & ~(kRflagsVmBit | kRflagsIf | kRflagsRf));
    const u32 selector = static_cast<u32>(cs_msr) & 0xfffc;
    blob.save();
    blob.set_segment(kSegCs, UcSegment{selector, 0, 0xffffffffu, ia32e ? kFlagsCode64 : kFlagsCode32});
    blob.set_segment(kSegSs, UcSegment{selector + 8, 0, 0xffffffffu, kFlagsData});
    blob.recompute_hflags();
    blob.restore();
    blob_fresh = false;
    set_reg(UC_X86_REG_RSP, ia32e ? esp : esp & 0xffffffffu);
    set_rip(ia32e ? eip : eip & 0xffffffffu);
}

}  // namespace xeno::sim
