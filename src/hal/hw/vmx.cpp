// VMX instructions (hal/vmx.hpp) as inline assembly, and run(): the
// VMLAUNCH/VMRESUME loop around vmx_run.S.
//
// Outcomes follow SDM Vol. 3C, 31.2 "Conventions": CF=1 is VMfailInvalid,
// ZF=1 is VMfailValid, both clear is VMsucceed.
//
// Launch state. Software cannot read a VMCS's launch state, so the hw build
// tracks it: a table of machine addresses of launched VMCSs. An address is
// added after a VMLAUNCH whose VM exit is not a VM-entry failure (exit reason
// bit 31 clear; SDM Vol. 3C 31.3 "VMLAUNCH/VMRESUME" Operation sets the launch
// state only once guest state and MSRs loaded) and removed by vmclear. run()
// uses VMLAUNCH for a VMCS not in the table and VMRESUME for one in it.
#include <compare>  // lib/types.hpp defaults operator<=> without including it

#include "arch/x86/vmx/vmx_arch.hpp"
#include "hal/cpu.hpp"
#include "hal/vmx.hpp"
#include "hal/panic.hpp"

#include <cstddef>

namespace xeno::hal {

namespace {

constexpr u64 kVmExitReason = 0x4402;  // VM_EXIT_REASON (vmcs_fields.def)
constexpr u64 kEntryFailureBit = 1ull << 31;

VmxResult outcome(bool cf, bool zf)
{
    if (cf) return VmxResult::FAIL_INVALID;
    if (zf) return VmxResult::FAIL_VALID;
    return VmxResult::SUCCEED;
}

// ---- launch-state table ----
constexpr usize kMaxLaunched = 64;
u64 g_launched[kMaxLaunched];  // 0 = free slot (VMCSs never live at machine page 0)

bool is_launched(u64 vmcs)
{
    for (u64 entry : g_launched)
        if (entry == vmcs) return true;
    return false;
}

void set_launched(u64 vmcs)
{
    if (is_launched(vmcs)) return;
    // Several CPUs may claim a free slot at once (each for its own VMCS).
    for (u64& entry : g_launched) {
        u64 expected = 0;
        if (__atomic_compare_exchange_n(&entry, &expected, vmcs, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) return;
    }
    panic("hw vmx: more than 64 launched VMCSs without VMCLEAR");
}

void clear_launched(u64 vmcs)
{
    for (u64& entry : g_launched)
        if (entry == vmcs) entry = 0;
}

}  // namespace

VmxResult vmxon(Hpa region)
{
    u64 pa = region.value();
    bool cf, zf;
    asm volatile("vmxon %[pa]" : "=@ccc"(cf), "=@ccz"(zf) : [pa] "m"(pa) : "memory");
    return outcome(cf, zf);
}

VmxResult vmxoff()
{
    bool cf, zf;
    asm volatile("vmxoff" : "=@ccc"(cf), "=@ccz"(zf) : : "memory");
    return outcome(cf, zf);
}

VmxResult vmclear(Hpa vmcs)
{
    u64 pa = vmcs.value();
    bool cf, zf;
    asm volatile("vmclear %[pa]" : "=@ccc"(cf), "=@ccz"(zf) : [pa] "m"(pa) : "memory");
    const VmxResult r = outcome(cf, zf);
    if (r == VmxResult::SUCCEED) clear_launched(pa);  // VMCLEAR sets the launch state to clear
    return r;
}

VmxResult vmptrld(Hpa vmcs)
{
    u64 pa = vmcs.value();
    bool cf, zf;
    asm volatile("vmptrld %[pa]" : "=@ccc"(cf), "=@ccz"(zf) : [pa] "m"(pa) : "memory");
    return outcome(cf, zf);
}

VmxResult vmptrst(Hpa* vmcs)
{
    u64 pa = 0;
    asm volatile("vmptrst %[pa]" : [pa] "=m"(pa) : : "memory");
    *vmcs = Hpa{pa};
    return VmxResult::SUCCEED;  // VMPTRST has no VMfail outcomes
}

VmxResult vmread(u64 encoding, u64* value)
{
    u64 v = 0;
    bool cf, zf;
    asm volatile("vmread %[enc], %[val]" : "=@ccc"(cf), "=@ccz"(zf), [val] "=r"(v) : [enc] "r"(encoding) : "memory");
    const VmxResult r = outcome(cf, zf);
    if (r == VmxResult::SUCCEED) *value = v;
    return r;
}

VmxResult vmwrite(u64 encoding, u64 value)
{
    bool cf, zf;
    asm volatile("vmwrite %[val], %[enc]" : "=@ccc"(cf), "=@ccz"(zf) : [enc] "r"(encoding), [val] "r"(value) : "memory");
    return outcome(cf, zf);
}

VmxResult invept(u64 type, const InveptDescriptor& descriptor)
{
    bool cf, zf;
    asm volatile("invept %[desc], %[type]" : "=@ccc"(cf), "=@ccz"(zf) : [type] "r"(type), [desc] "m"(descriptor) : "memory");
    return outcome(cf, zf);
}

VmxResult invvpid(u64 type, const InvvpidDescriptor& descriptor)
{
    bool cf, zf;
    asm volatile("invvpid %[desc], %[type]" : "=@ccc"(cf), "=@ccz"(zf) : [type] "r"(type), [desc] "m"(descriptor) : "memory");
    return outcome(cf, zf);
}

// vmx_run.S. Returns 0 after a VM exit (guest registers saved in regs), or
// 1 (VMfailInvalid) / 2 (VMfailValid) when VMLAUNCH/VMRESUME failed.
extern "C" u64 hw_vmx_enter(GuestRegs* regs, u64 launched);

static_assert(offsetof(GuestRegs, gpr) == 0 && offsetof(GuestRegs, cr2) == 128, "vmx_run.S offsets");

namespace {

// What each processor's DR0-DR3, DR6 and XCR0 hold: the last values
// load_guest_extras put there (the hypervisor itself never changes them).
struct LoadedExtras {
    bool valid = false;
    u64 dr[4] = {};
    u64 dr6 = 0;
    u64 xcr0 = 0;
    u64 star = 0, lstar = 0, cstar = 0, fmask = 0;
};
LoadedExtras g_loaded[kMaxCpus];


template <int N>
void write_dr(u64 value)
{
    asm volatile("mov %0, %%dr%c1" : : "r"(value), "i"(N) : "memory");
}

u64 read_dr6()
{
    u64 v;
    asm volatile("mov %%dr6, %0" : "=r"(v));
    return v;
}

// The guest's DR0-DR3, DR6 and XCR0 into the processor before an entry
// (hal/vmx.hpp GuestRegs): only what differs, since MOV to DRn and XSETBV
// are serializing and most entries change nothing.
void load_guest_extras(const GuestRegs& regs)
{
    LoadedExtras& l = g_loaded[this_cpu()];
    if (!l.valid || l.dr[0] != regs.dr[0]) write_dr<0>(regs.dr[0]);
    if (!l.valid || l.dr[1] != regs.dr[1]) write_dr<1>(regs.dr[1]);
    if (!l.valid || l.dr[2] != regs.dr[2]) write_dr<2>(regs.dr[2]);
    if (!l.valid || l.dr[3] != regs.dr[3]) write_dr<3>(regs.dr[3]);
    if (!l.valid || l.dr6 != regs.dr6) write_dr<6>(regs.dr6);
    // XSETBV needs CR4.OSXSAVE, which vmx_cpu_enable sets where the CPU
    // has XSAVE; xcr0 is 0 otherwise.
    if (regs.xcr0 != 0 && (!l.valid || l.xcr0 != regs.xcr0))
        asm volatile("xsetbv" : : "c"(0u), "a"(static_cast<u32>(regs.xcr0)), "d"(static_cast<u32>(regs.xcr0 >> 32))
                     : "memory");
    // The hypervisor makes no system calls: the guest's SYSCALL MSRs may
    // stay loaded while exits are handled.
    if (!l.valid || l.star != regs.star) wrmsr(vmx::msr::IA32_STAR, regs.star);
    if (!l.valid || l.lstar != regs.lstar) wrmsr(vmx::msr::IA32_LSTAR, regs.lstar);
    if (!l.valid || l.cstar != regs.cstar) wrmsr(vmx::msr::IA32_CSTAR, regs.cstar);
    if (!l.valid || l.fmask != regs.fmask) wrmsr(vmx::msr::IA32_FMASK, regs.fmask);
    l.star = regs.star;
    l.lstar = regs.lstar;
    l.cstar = regs.cstar;
    l.fmask = regs.fmask;
    for (int i = 0; i < 4; ++i) l.dr[i] = regs.dr[i];
    l.dr6 = regs.dr6;
    if (regs.xcr0 != 0) l.xcr0 = regs.xcr0;
    l.valid = true;
}

// The guest's x87/SSE registers in and out (GuestRegs::fpu). The hypervisor
// is built without extended-state code, so between the two the processor's
// registers are the guest's; CR4.OSFXSR (vmx_cpu_setup.cpp) makes FXSAVE and
// FXRSTOR include XMM0-15 and MXCSR.
void load_fpu(const FpuState& f) { asm volatile("fxrstor64 %0" : : "m"(f.bytes)); }
void save_fpu(FpuState& f) { asm volatile("fxsave64 %0" : "=m"(f.bytes)); }

// Saves the guest's FPU state and IA32_KERNEL_GS_BASE on every way out of
// run() (GuestRegs::fpu, kernel_gs_base): the next vcpu on this processor
// loads its own.
struct SwitchedStateSaver {
    GuestRegs& regs;
    ~SwitchedStateSaver()
    {
        save_fpu(regs.fpu);
        regs.kernel_gs_base = rdmsr(vmx::msr::IA32_KERNEL_GS_BASE);
    }
};

}  // namespace

VmxResult run(GuestRegs& regs, ExitHandler on_exit, void* context)
{
    Hpa current{};
    vmptrst(&current);
    const u64 vmcs = current.value();
    load_fpu(regs.fpu);
    wrmsr(vmx::msr::IA32_KERNEL_GS_BASE, regs.kernel_gs_base);
    const SwitchedStateSaver saver{regs};
    for (;;) {
        const bool launched = is_launched(vmcs);
        load_guest_extras(regs);
        const u64 r = hw_vmx_enter(&regs, launched ? 1 : 0);
        // A #DB in the guest writes DR6 (SDM Vol. 3B 18.2.3); it is the guest's.
        regs.dr6 = g_loaded[this_cpu()].dr6 = read_dr6();
        if (r == 1) return VmxResult::FAIL_INVALID;
        if (r == 2) return VmxResult::FAIL_VALID;
        if (!launched) {
            u64 reason = 0;
            if (vmread(kVmExitReason, &reason) == VmxResult::SUCCEED && (reason & kEntryFailureBit) == 0)
                set_launched(vmcs);
        }
        if (on_exit(context, regs) == ExitAction::YIELD) return VmxResult::SUCCEED;
    }
}

// Nothing outside the hypervisor stops a run on hardware.
const char* stop_requested() { return nullptr; }

void instruction_emulated() {}

}  // namespace xeno::hal
