// VMX instructions and guest execution (see panic.hpp for what src/hal is).
//
// hw: the instructions themselves (inline assembly) and a vmlaunch/vmresume
// loop whose HOST_RIP returns into run(). sim: the software VMX model.
#pragma once

#include "lib/types.hpp"

namespace xeno::hal {

// Outcome of a VMX instruction (SDM Vol. 3C, 31.2 "Conventions").
enum class VmxResult : u8 {
    SUCCEED,       // VMsucceed: CF=0, ZF=0
    FAIL_INVALID,  // VMfailInvalid: CF=1 (no current VMCS)
    FAIL_VALID,    // VMfailValid: ZF=1, error number in VM_INSTRUCTION_ERROR
};

VmxResult vmxon(Hpa region);
VmxResult vmxoff();
VmxResult vmclear(Hpa vmcs);
VmxResult vmptrld(Hpa vmcs);
VmxResult vmptrst(Hpa* vmcs);
VmxResult vmread(u64 encoding, u64* value);
VmxResult vmwrite(u64 encoding, u64 value);

// INVEPT / INVVPID descriptors (SDM Vol. 3C, 31.3, "INVEPT" and "INVVPID").
struct InveptDescriptor {
    u64 eptp;
    u64 reserved;
};
struct InvvpidDescriptor {
    u64 vpid;  // bits 15:0; the rest must be zero
    u64 linear_address;
};
VmxResult invept(u64 type, const InveptDescriptor& descriptor);
VmxResult invvpid(u64 type, const InvvpidDescriptor& descriptor);

// Guest general-purpose registers, indexed by their x86 encoding
// (0 RAX, 1 RCX, 2 RDX, 3 RBX, 4 RSP, 5 RBP, 6 RSI, 7 RDI, 8-15 R8-R15).
// RSP lives in the VMCS (GUEST_RSP) as on hardware: gpr[4] is not loaded or
// saved by run(). CR2 is not in the VMCS, so it travels here too.
//
// So does the rest of the processor state that VM entries and exits leave
// alone (SDM Vol. 3C 27.3, 28.3, 28.5: neither saved nor loaded): DR0-DR3,
// DR6, XCR0 and the SYSCALL MSRs. The hypervisor never uses them itself (it is built without
// extended-state code, -mgeneral-regs-only, and a VM exit sets DR7 to 400H,
// which disables every breakpoint: SDM 28.5.1), so the guest's values may
// stay in the processor while exits are handled; run() only has to load
// them before an entry when they differ from what the processor holds (the
// hypervisor changed them, or another vcpu ran), and to store DR6 after
// each exit (a #DB in the guest writes it). xcr0 == 0: the CPU has no
// XSAVE and run() leaves XCR0 alone.
// The x87 and SSE state in FXSAVE's layout (SDM Vol. 1 Table 10-2): 512
// bytes, FCW at 0, MXCSR at 24, ST0-ST7 from 32, XMM0-XMM15 from 160.
struct FpuState {
    alignas(16) u8 bytes[512];
};

// As firmware leaves it (FNINIT, then the SSE reset value): FCW 0x037f, all
// registers empty, MXCSR 0x1f80 with every exception masked.
constexpr FpuState initial_fpu_state()
{
    FpuState f{};
    f.bytes[0] = 0x7f;
    f.bytes[1] = 0x03;
    f.bytes[24] = 0x80;
    f.bytes[25] = 0x1f;
    return f;
}

struct GuestRegs {
    u64 gpr[16];
    u64 cr2;
    u64 dr[4];
    u64 dr6 = 0xffff0ff0;  // architectural reset value (SDM Vol. 3A Table 10-1)
    u64 xcr0 = 0;
    // The SYSCALL MSRs (IA32_STAR, IA32_LSTAR, IA32_CSTAR, IA32_FMASK), in
    // no VMCS field either: the hypervisor intercepts the guest's writes
    // and run() loads them like the debug registers, so vcpus sharing a
    // processor each find their own.
    u64 star = 0;
    u64 lstar = 0;
    u64 cstar = 0;
    u64 fmask = 0;
    // The x87/SSE registers, which entries and exits leave alone too: run()
    // loads them at its start and saves them before it returns, so vcpus
    // that share a processor keep their own. x87 and SSE are all the
    // extended state guests are offered (exit_cpuid.cpp: XCR0 at most
    // x87|SSE), so the FXSAVE image holds all of it.
    FpuState fpu = initial_fpu_state();
    // IA32_KERNEL_GS_BASE, which the guest reads, writes and swaps (SWAPGS)
    // natively (vmcs_setup.hpp kPassThroughMsrs): run() loads it at its
    // start and reads it back before it returns, as it does the FPU.
    u64 kernel_gs_base = 0;
};

enum class ExitAction : u8 {
    RESUME,  // re-enter the guest (VMRESUME) with the current VMCS
    YIELD,   // return from run()
};

// Called once per VM exit with the current VMCS still current; the exit
// information fields are readable through vmread. May vmread/vmwrite any
// field. Must not VMPTRLD/VMCLEAR the current VMCS before returning RESUME.
using ExitHandler = ExitAction (*)(void* context, GuestRegs& regs);

// Enter the guest of the current VMCS (VMLAUNCH when its launch state is
// clear, VMRESUME when launched) and call on_exit for each VM exit until it
// returns YIELD. VM-entry failures that the SDM reports as VM exits (reason
// bit 31 set: invalid guest state, MSR loading) reach on_exit like any exit.
// Returns SUCCEED after a YIELD, or the VMfail outcome of a failed
// VMLAUNCH/VMRESUME (e.g. invalid control or host-state fields).
VmxResult run(GuestRegs& regs, ExitHandler on_exit, void* context);

// Whether the machine's host wants the hypervisor to stop running guests:
// null, or why (one line). sim: the run's limits (guest instructions,
// virtual time, wall time) or a software VMX model that cannot go on; hw:
// never. Once it is set, run() returns SUCCEED without running the guest
// further (and without calling on_exit for the exit where it was seen) and
// wait_for_interrupt() returns at once; the scheduler then ends the domain
// with the reason and start() returns as after any end. This is how the sim
// stops a run: no long jump or exception crosses the hypervisor's frames.
const char* stop_requested();

// The hypervisor carried out one guest instruction in software (its
// instruction emulator, a task switch). sim: it counts toward the run's
// guest-instruction limit like the instructions the guest runs itself, so a
// guest that only makes the hypervisor emulate (an instruction faulting into
// a handler that faults again, forever) reaches the limit too; hw: nothing.
void instruction_emulated();

}  // namespace xeno::hal
