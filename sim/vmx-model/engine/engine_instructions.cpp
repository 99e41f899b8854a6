// Instruction sites for the controls the model implements beyond the basic
// exits (descriptor-table exiting, RDRAND/RDSEED exiting, enable INVPCID,
// enable VM functions, TSC scaling, NMI blocking and IRET), and the faults
// that come before a VM exit (SDM Vol. 3C 26.1.1: invalid-opcode
// exceptions, faults based on privilege level) for the VMX instructions.
#include "arch/x86/vmx/vmcs_field.hpp"
#include "lib/bits.hpp"
#include "sim/platform/machine_memory.hpp"
#include "sim/vmx-model/engine/engine_impl.hpp"
#include "sim/vmx-model/engine/linear_memory.hpp"
#include "sim/vmx-model/engine/vtime.hpp"
#include "sim/vmx-model/entry_checks.hpp"

namespace xeno::sim {

namespace f = vmx::field;
using vmx::ExitReason;
using vmx::InterruptionType;

namespace {

constexpr u64 kCr0Pe = bit(0);
constexpr u64 kCr4Umip = bit(11), kCr4Pcide = bit(17);
constexpr u64 kRflagsVm = bit(17);
constexpr u64 kRflagsArith = 0x8d5;  // CF PF AF ZF SF OF

u32 reason(ExitReason r) { return static_cast<u32>(r); }

// A deterministic source for RDRAND/RDSEED when they run (xorshift64*): the
// sim never reads host entropy (DESIGN.md "Determinism").
u64 next_random(u64& state)
{
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 0x2545f4914f6cdd1dull;
}

}  // namespace

void Engine::Impl::fault(u64 address, u8 vector, bool error_code)
{
    retire_block_partial(address, false);
    exception(vector, InterruptionType::HARDWARE_EXCEPTION, error_code, 0, 0, 0);
}

void Engine::Impl::operand_fault(u64 address, const MemResult& m)
{
    retire_block_partial(address, false);
    if (m.fault == MemFault::PAGE_FAULT)
        exception(vmx::vector::PF, InterruptionType::HARDWARE_EXCEPTION, true, m.error_code, 0, m.address);
    else
        memory_exit(m, ExitInfo{});
}

u64 Engine::Impl::guest_tsc(u64 address)
{
    const u64 ns = virtual_time_ns(precise_instructions(address), engine.exits_) + idle_ns;
    u64 tsc = tsc_at_ns(ns, engine.profile_.tsc_hz);
    // 25.6.5: with TSC scaling the value is first multiplied by the TSC
    // multiplier (48 fractional bits), then the offset is added.
    if (proc2 & vmx::proc2::TSC_SCALING)
        tsc = static_cast<u64>((static_cast<unsigned __int128>(tsc) * vmcs->get(f::TSC_MULTIPLIER)) >> 48);
    if (proc & vmx::proc::USE_TSC_OFFSETTING) tsc += tsc_offset;
    return tsc;
}

bool Engine::Impl::vmx_instruction_faults(u64 address, const DecodedInsn& d)
{
    // Each VMX instruction's Operation section (SDM Vol. 3C 31.3): #UD when
    // CR0.PE = 0, RFLAGS.VM = 1 or in compatibility mode, checked before
    // "IF in VMX non-root operation THEN VM exit". VMCALL has no such test:
    // it exits in every mode.
    if (d.vmx_exit == static_cast<u8>(ExitReason::VMCALL)) return false;
    bool ud = !(reg(UC_X86_REG_CR0) & kCr0Pe) || (reg(UC_X86_REG_EFLAGS) & kRflagsVm);
    if (!ud) {
        blob.save();
        const u32 h = blob.hflags();
        ud = (h & hf::LMA) && !(h & hf::CS64);
    }
    if (ud) fault(address, vmx::vector::UD, false);
    return ud;
}

void Engine::Impl::site_vmfunc(u64 address, const DecodedInsn& d)
{
    // VMFUNC (SDM Vol. 3C 31.3; 26.5.6): #UD unless "enable VM functions";
    // a function the VM-function controls do not enable, or one that fails,
    // exits (reason 59). Function 0 is EPTP switching: EPT_POINTER becomes
    // entry ECX of the EPTP list when ECX < 512 and that entry is a valid EPTP.
    if (!(proc2 & vmx::proc2::ENABLE_VMFUNC)) {
        fault(address, vmx::vector::UD, false);
        return;
    }
    const u64 function = reg(UC_X86_REG_RAX) & 0xffffffff;
    const u64 index = reg(UC_X86_REG_RCX) & 0xffffffff;
    const u64 enabled = vmcs->get(f::VM_FUNCTION_CONTROL);
    bool done = false;
    if (function == 0 && (enabled & 1) && index < 512) {
        const u64 at = vmcs->get(f::EPTP_LIST_ADDRESS) + index * 8;
        const u64 next = memory.contains(at, 8) ? memory.load<u64>(at) : 0;
        if (ept && eptp_valid(next, engine.profile_)) {
            vmcs->set(f::EPT_POINTER, next);
            if (next != eptp) uc_ctl_flush_tlb(uc);
            eptp = next;
            done = true;
        }
    }
    if (done) {
        emulate_skip(address, rip() + d.length);
        return;
    }
    ExitInfo x;
    x.reason = reason(ExitReason::VMFUNC);
    x.instruction_length = d.length;
    take_exit(address, x);
}

u32 Engine::Impl::memory_operand_info(u64 address, const DecodedInsn& d, u64* displacement)
{
    // The fields common to the instruction-information formats of SDM Vol.
    // 3C 28.2.5 (Tables 28-10, 28-11, 28-13): scaling 1:0, address size
    // 9:7, segment 17:15, index 21:18 with "invalid" 22, base 26:23 with
    // "invalid" 27. The qualification is the displacement, sign-extended,
    // or for RIP-relative addressing the address itself (28.2.1).
    *displacement = 0;
    u8 b[16] = {};
    if (!read_linear(address, b, d.length)) return 0;
    const unsigned asz = d.mode == 64 ? (d.addrsize ? 32 : 64) : ((d.mode == 32) != d.addrsize ? 32 : 16);
    const u32 asz_code = asz == 16 ? 0 : asz == 32 ? 1 : 2;
    const u8 modrm = b[d.modrm_pos];
    const unsigned mod = modrm >> 6, rm = modrm & 7;
    usize i = d.modrm_pos + 1u;
    u32 scale = 0, index = 0, base = 0, seg = 3;
    bool index_ok = false, base_ok = false, rip_relative = false;
    unsigned disp_size = 0;
    if (asz == 16) {
        static constexpr int kBase[8] = {3, 3, 5, 5, 6, 7, 5, 3};
        static constexpr int kIndex[8] = {6, 7, 6, 7, -1, -1, -1, -1};
        if (mod == 0 && rm == 6) {
            disp_size = 2;
        } else {
            base = static_cast<u32>(kBase[rm]);
            base_ok = true;
            if (kIndex[rm] >= 0) {
                index = static_cast<u32>(kIndex[rm]);
                index_ok = true;
            }
            if (base == 5) seg = 2;
            disp_size = mod == 1 ? 1 : mod == 2 ? 2 : 0;
        }
    } else {
        const u32 rex_b = (d.rex & 1) ? 8 : 0, rex_x = (d.rex & 2) ? 8 : 0;
        if (rm == 4) {
            const u8 sib = b[i++];
            scale = sib >> 6;
            const u32 idx = ((sib >> 3) & 7) | rex_x;
            if (idx != 4) {
                index = idx;
                index_ok = true;
            }
            if ((sib & 7) == 5 && mod == 0) {
                disp_size = 4;
            } else {
                base = (sib & 7) | rex_b;
                base_ok = true;
            }
        } else if (rm == 5 && mod == 0) {
            disp_size = 4;
            rip_relative = d.mode == 64;
        } else {
            base = rm | rex_b;
            base_ok = true;
        }
        if (base_ok && ((base & 7) == 4 || (base & 7) == 5)) seg = 2;
        if (mod == 1) disp_size = 1;
        if (mod == 2) disp_size = 4;
    }
    i64 disp = 0;
    if (disp_size == 1) disp = static_cast<i8>(b[i]);
    if (disp_size == 2) disp = static_cast<i16>(b[i] | (b[i + 1] << 8));
    if (disp_size == 4)
        disp = static_cast<i32>(static_cast<u32>(b[i]) | (static_cast<u32>(b[i + 1]) << 8) |
                                (static_cast<u32>(b[i + 2]) << 16) | (static_cast<u32>(b[i + 3]) << 24));
    *displacement = static_cast<u64>(disp);
    if (rip_relative) *displacement += rip() + d.length;
    if (d.segment != 0xff) seg = d.segment;
    return scale | (asz_code << 7) | (seg << 15) | (index << 18) | (index_ok ? 0 : (1u << 22)) | (base << 23) |
           (base_ok ? 0 : (1u << 27));
}

void Engine::Impl::site_descriptor_table(u64 address, const DecodedInsn& d)
{
    // LGDT/LIDT/SGDT/SIDT (0F 01 /0-3, memory operand) and SLDT/STR/LLDT/LTR
    // (0F 00 /0-3). Their own faults first (SDM Vol. 2): SLDT/STR/LLDT/LTR
    // are #UD in real-address and virtual-8086 mode; the loads are #GP(0) at
    // CPL > 0; the stores too with CR4.UMIP. Then "descriptor-table exiting"
    // (26.1.3): reasons 46 and 47 with the instruction information of
    // Tables 28-10 and 28-11 and the displacement as qualification. The
    // operand is not accessed before the exit.
    const bool ldtr_tr = d.opcode == 0x00;
    const unsigned identity = (d.modrm >> 3) & 3;  // 0 SGDT/SLDT, 1 SIDT/STR, 2 LGDT/LLDT, 3 LIDT/LTR
    const bool load = identity >= 2;
    const bool real_or_vm86 = !(reg(UC_X86_REG_CR0) & kCr0Pe) || (reg(UC_X86_REG_EFLAGS) & kRflagsVm);
    if (ldtr_tr && real_or_vm86) {
        fault(address, vmx::vector::UD, false);
        return;
    }
    const bool privileged = load || (reg(UC_X86_REG_CR4) & kCr4Umip);
    if (privileged && cpl() != 0) {
        fault(address, vmx::vector::GP, true);
        return;
    }
    if (!(proc2 & vmx::proc2::DESCRIPTOR_TABLE_EXITING)) return;  // runs in Unicorn
    ExitInfo x;
    x.instruction_length = d.length;
    const bool memory_operand = (d.modrm >> 6) != 3;
    if (ldtr_tr) {
        x.reason = reason(ExitReason::LDTR_TR);
        if (memory_operand)
            x.instruction_info = memory_operand_info(address, d, &x.qualification);
        else
            x.instruction_info = ((static_cast<u32>(d.modrm & 7) | ((d.rex & 1) ? 8u : 0u)) << 3) | (1u << 10);
    } else {
        x.reason = reason(ExitReason::GDTR_IDTR);
        x.instruction_info = memory_operand_info(address, d, &x.qualification);
        // Bit 11: operand size, 0 = 16-bit, 1 = 32-bit (undefined in 64-bit mode).
        const bool o32 = d.mode == 64 || ((d.mode == 32) != d.opsize);
        if (o32) x.instruction_info |= 1u << 11;
    }
    x.instruction_info |= identity << 28;
    take_exit(address, x);
}

void Engine::Impl::site_rdrand(u64 address, const DecodedInsn& d)
{
    // RDRAND (CPUID.01H:ECX[30]) and RDSEED (CPUID.(07H,0):EBX[18]): #UD
    // where the profile's CPU lacks them; "RDRAND/RDSEED exiting" (26.1.3)
    // exits with the destination register and operand size (Table 28-14).
    // Otherwise the model runs them itself (Unicorn's CPU has neither):
    // a deterministic value, CF = 1 (success), the other arithmetic flags 0.
    const bool seed = d.kind == InsnKind::RDSEED;
    const bool present = seed ? (engine.profile_.cpuid(7, 0).ebx & (1u << 18)) != 0
                              : (engine.profile_.cpuid(1, 0).ecx & (1u << 30)) != 0;
    if (!present) {
        fault(address, vmx::vector::UD, false);
        return;
    }
    const u32 dest = (d.modrm & 7) | ((d.rex & 1) ? 8 : 0);
    const unsigned size = d.mode == 64 && (d.rex & 8) ? 2 : (d.mode == 16) != d.opsize ? 0 : 1;  // 16/32/64
    const u32 control = seed ? vmx::proc2::RDSEED_EXITING : vmx::proc2::RDRAND_EXITING;
    if (proc2 & control) {
        ExitInfo x;
        x.reason = reason(seed ? ExitReason::RDSEED : ExitReason::RDRAND);
        x.instruction_length = d.length;
        x.instruction_info = (dest << 3) | (size << 11);
        take_exit(address, x);
        return;
    }
    static constexpr int kGpr[16] = {UC_X86_REG_RAX, UC_X86_REG_RCX, UC_X86_REG_RDX, UC_X86_REG_RBX,
                                     UC_X86_REG_RSP, UC_X86_REG_RBP, UC_X86_REG_RSI, UC_X86_REG_RDI,
                                     UC_X86_REG_R8,  UC_X86_REG_R9,  UC_X86_REG_R10, UC_X86_REG_R11,
                                     UC_X86_REG_R12, UC_X86_REG_R13, UC_X86_REG_R14, UC_X86_REG_R15};
    const u64 value = next_random(random_state);
    const u64 old = reg(kGpr[dest]);
    // A 16-bit destination keeps bits 63:16; a 32-bit one zero-extends.
    set_reg(kGpr[dest], size == 0 ? (old & ~u64{0xffff}) | (value & 0xffff) : size == 1 ? value & 0xffffffff : value);
    set_reg(UC_X86_REG_EFLAGS, (reg(UC_X86_REG_EFLAGS) & ~kRflagsArith) | 1);
    emulate_skip(address, rip() + d.length);
}

void Engine::Impl::site_invpcid(u64 address, const DecodedInsn& d)
{
    // INVPCID (66 0F 38 82 /r): #UD without "enable INVPCID" (25.3) and in
    // virtual-8086 mode, #GP(0) at CPL > 0; with "INVLPG exiting" it exits
    // (reason 58, Table 28-13 with the type register in bits 31:28).
    // Otherwise the model executes it (Unicorn's CPU has no INVPCID): the
    // descriptor checks of SDM Vol. 2B, then a flush of the engine's TLB,
    // which holds every PCID's translations at once.
    if (!(proc2 & vmx::proc2::ENABLE_INVPCID) || (reg(UC_X86_REG_EFLAGS) & kRflagsVm)) {
        fault(address, vmx::vector::UD, false);
        return;
    }
    if (cpl() != 0) {
        fault(address, vmx::vector::GP, true);
        return;
    }
    const u32 type_reg = ((d.modrm >> 3) & 7) | ((d.rex & 4) ? 8 : 0);
    if (proc & vmx::proc::INVLPG_EXITING) {
        ExitInfo x;
        x.reason = reason(ExitReason::INVPCID);
        x.instruction_length = d.length;
        x.instruction_info = memory_operand_info(address, d, &x.qualification) | (type_reg << 28);
        take_exit(address, x);
        return;
    }
    static constexpr int kGpr[16] = {UC_X86_REG_RAX, UC_X86_REG_RCX, UC_X86_REG_RDX, UC_X86_REG_RBX,
                                     UC_X86_REG_RSP, UC_X86_REG_RBP, UC_X86_REG_RSI, UC_X86_REG_RDI,
                                     UC_X86_REG_R8,  UC_X86_REG_R9,  UC_X86_REG_R10, UC_X86_REG_R11,
                                     UC_X86_REG_R12, UC_X86_REG_R13, UC_X86_REG_R14, UC_X86_REG_R15};
    const u64 type = d.mode == 64 ? reg(kGpr[type_reg]) : reg(kGpr[type_reg]) & 0xffffffff;
    bool ok = false;
    const u64 ea = effective_address(address, d, &ok);
    u64 desc[2] = {};
    LinearMemory mem(*this);
    const MemResult m = ok ? mem.read(ea, desc, sizeof desc, false) : MemResult{};
    if (!ok) return;  // let Unicorn raise the operand's fault
    if (m.fault != MemFault::NONE) return operand_fault(address, m);
    const u64 pcid = desc[0] & 0xfff;
    const bool pcide = reg(UC_X86_REG_CR4) & kCr4Pcide;
    if (type > 3 || (desc[0] >> 12) != 0 || (type == 0 && !is_canonical(desc[1])) ||
        (type <= 1 && !pcide && pcid != 0)) {
        fault(address, vmx::vector::GP, true);
        return;
    }
    uc_ctl_flush_tlb(uc);
    emulate_skip(address, rip() + d.length);
}

void Engine::Impl::iret_unblocks_nmi()
{
    // SDM Vol. 3C 25.3 (IRET): with "NMI exiting" 0, IRET unblocks NMIs as
    // usual; with it 1, IRET leaves NMI blocking alone, unless "virtual
    // NMIs" is 1, when it removes virtual-NMI blocking.
    if (!(pin & vmx::pin::NMI_EXITING) || (pin & vmx::pin::VIRTUAL_NMIS))
        interruptibility &= ~vmx::interruptibility::BLOCKING_BY_NMI;
}

}  // namespace xeno::sim
