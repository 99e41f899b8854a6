// The exit sites: the per-instruction exit conditions of SDM Vol. 3C 26.1
// and 26.2 with the exit qualifications of 28.2 (Tables 28-3, 28-5, 28-8),
// run from the one-address code hooks engine_exits.cpp installs. An
// instruction that does not exit returns from its hook and runs in Unicorn,
// except those the model emulates (RDTSC, MOV from CR0/CR4 with shadows,
// CR0/CR4 writes that keep host-owned bits).
#include "arch/x86/vmx/vmcs_field.hpp"
#include "lib/bits.hpp"
#include "sim/platform/machine_memory.hpp"
#include "sim/vmx-model/engine/engine_impl.hpp"
#include "sim/vmx-model/engine/vtime.hpp"

namespace xeno::sim {

namespace f = vmx::field;
using vmx::ExitReason;
using vmx::InterruptionType;

namespace {

u32 reason(ExitReason r)
{
    return static_cast<u32>(r);
}

constexpr u64 kCr0Pe = bit(0), kCr0Ts = bit(3), kCr0Pg = bit(31);
constexpr u64 kCr4Pcide = bit(17);
constexpr u64 kEferLme = bit(8), kEferLma = bit(10);

}  // namespace

// ---- helpers for sites ----

bool Engine::Impl::take_exit(u64 address, ExitInfo x)
{
    retire_block_partial(address, false);
    return exit(x);
}

void Engine::Impl::emulate_skip(u64 address, u64 next_rip)
{
    retire_block_partial(address, true);
    set_rip(next_rip);
}

bool Engine::Impl::io_exits(u32 port, u32 size)
{
    if (!(proc & vmx::proc::USE_IO_BITMAPS)) return proc & vmx::proc::UNCONDITIONAL_IO_EXITING;
    for (u32 p = port; p < port + size; ++p) {
        if (p > 0xffff) return true;  // wraps around: exits (26.1.3)
        const u64 bitmap = p < 0x8000 ? io_bitmap_a : io_bitmap_b;
        const u64 byte = bitmap + ((p & 0x7fff) >> 3);
        if (!memory.contains(byte, 1)) return true;
        if ((memory.load<u8>(byte) >> (p & 7)) & 1) return true;
    }
    return false;
}

bool Engine::Impl::msr_exits(u32 msr, bool write)
{
    if (!(proc & vmx::proc::USE_MSR_BITMAPS)) return true;
    u64 base;
    u32 index;
    if (msr <= 0x1fff) {
        base = 0;
        index = msr;
    } else if (msr >= 0xc0000000 && msr <= 0xc0001fff) {
        base = 0x400;
        index = msr - 0xc0000000;
    } else {
        return true;  // outside both ranges: always exits (25.6.9)
    }
    const u64 byte = msr_bitmap + base + (write ? 0x800 : 0) + (index >> 3);
    if (!memory.contains(byte, 1)) return true;
    return (memory.load<u8>(byte) >> (index & 7)) & 1;
}

u64 Engine::Impl::effective_address(u64 address, const DecodedInsn& d, bool* ok)
{
    *ok = false;
    u8 b[16] = {};
    if (!read_linear(address, b, d.length)) return 0;
    const u8 modrm = b[d.modrm_pos];
    const unsigned mod = modrm >> 6, rm = modrm & 7;
    if (mod == 3) return 0;
    usize i = d.modrm_pos + 1u;
    const unsigned asz = d.mode == 64 ? (d.addrsize ? 32 : 64) : ((d.mode == 32) != d.addrsize ? 32 : 16);
    u64 ea = 0;
    int seg = 3;  // DS
    auto gpr = [&](unsigned n) { return reg(kGprIds[n & 15]); };
    auto disp = [&](unsigned n) {
        i64 v = 0;
        if (n == 1) v = static_cast<i8>(b[i]);
        else if (n == 2) v = static_cast<i16>(b[i] | (b[i + 1] << 8));
        else if (n == 4) v = static_cast<i32>(static_cast<u32>(b[i]) | (static_cast<u32>(b[i + 1]) << 8) |
                                              (static_cast<u32>(b[i + 2]) << 16) | (static_cast<u32>(b[i + 3]) << 24));
        i += n;
        return static_cast<u64>(v);
    };
    if (asz == 16) {
        static constexpr int kBase[8] = {3, 3, 5, 5, 6, 7, 5, 3};
        static constexpr int kIndex[8] = {6, 7, 6, 7, -1, -1, -1, -1};
        if (mod == 0 && rm == 6) {
            ea = disp(2);
        } else {
            ea = gpr(static_cast<unsigned>(kBase[rm])) + (kIndex[rm] >= 0 ? gpr(static_cast<unsigned>(kIndex[rm])) : 0);
            if (rm == 2 || rm == 3 || rm == 6) seg = 2;
            if (mod == 1) ea += disp(1);
            if (mod == 2) ea += disp(2);
        }
        ea &= 0xffff;
    } else {
        const bool rex_b = d.rex & 1, rex_x = d.rex & 2;
        bool rip_rel = false;
        if (rm == 4) {
            const u8 sib = b[i++];
            const unsigned base = (sib & 7) | (rex_b ? 8 : 0), index = ((sib >> 3) & 7) | (rex_x ? 8 : 0);
            if (index != 4) ea += gpr(index) << (sib >> 6);
            if ((sib & 7) == 5 && mod == 0) ea += disp(4);
            else {
                ea += gpr(base);
                if ((base & 7) == 4 || (base & 7) == 5) seg = 2;
            }
        } else if (rm == 5 && mod == 0) {
            ea = disp(4);
            rip_rel = d.mode == 64;
        } else {
            ea = gpr(rm | (rex_b ? 8 : 0));
            if (rm == 5) seg = 2;
        }
        if (mod == 1) ea += disp(1);
        if (mod == 2) ea += disp(4);
        if (rip_rel) ea += rip() + d.length;
        if (asz == 32) ea &= 0xffffffff;
    }
    if (d.segment != 0xff) seg = d.segment;
    if (d.mode != 64 || seg >= 4) {
        blob.save();
        ea += blob.segment(seg).base;
    }
    *ok = true;
    return ea;
}

// MOV to CR0/CR4 that leaves PAE paging in use and changes CR0.PG/CD/NW
// or CR4.PAE/PGE/PSE/SMEP loads the PDPTEs (SDM Vol. 3A 4.4.1); see
// load_pdptes for what it returns.
Engine::Impl::PdpteLoad Engine::Impl::entering_pae_loads_pdptes(unsigned cr, u64 old_value, u64 new_value,
                                                                  WalkResult* fault)
{
    blob.save();
    const u64 cr0 = cr == 0 ? new_value : blob.cr(0), cr4 = cr == 4 ? new_value : blob.cr(4);
    u64 efer = blob.efer();
    if (cr == 0 && !(old_value & kCr0Pg) && (new_value & kCr0Pg) && (efer & kEferLme)) efer |= kEferLma;
    if (!pae_paging(cr0, cr4, efer)) return PdpteLoad::OK;
    const u64 watched = cr == 0 ? (kCr0Pg | (u64{1} << 30) | (u64{1} << 29)) : ((1u << 5) | (1u << 7) | (1u << 4) | (1u << 20));
    if (!((old_value ^ new_value) & watched)) return PdpteLoad::OK;
    return load_pdptes(blob.cr(3), fault);
}

// The processor's own checks of a MOV to CR0/CR4 that does not exit (SDM
// Vol. 3A 2.5, Vol. 2B "MOV-Move to/from Control Registers"): #GP(0) for
// bits 63:32, CR0.PG without PE, CR0.NW without CD, CR0.PG set with
// EFER.LME but without CR4.PAE, CR0.PG cleared in 64-bit mode, CR4 bits the
// processor does not have (IA32_VMX_CR4_FIXED1 lists the
// ones it has), CR4.PAE cleared or CR4.LA57 changed in IA-32e mode,
// CR4.PCIDE set outside IA-32e mode or with CR3[11:0] != 0. Unicorn never
// sees these writes (write_cr_emulated), so the model makes the checks.
bool Engine::Impl::native_cr_write_faults(unsigned cr, u64 old_value, u64 new_value, bool long64)
{
    constexpr u64 kCr4Pae = bit(5), kCr4La57 = bit(12);
    if (new_value >> 32) return true;
    if (cr == 0) {
        constexpr u64 kCr0Nw = bit(29), kCr0Cd = bit(30);
        if ((new_value & kCr0Pg) && !(new_value & kCr0Pe)) return true;
        if ((new_value & kCr0Nw) && !(new_value & kCr0Cd)) return true;
        // Paging on with EFER.LME but CR4.PAE clear (Vol. 3A 10.8.5): IA-32e
        // mode needs PAE.
        if ((new_value & ~old_value & kCr0Pg)) {
            blob.save();
            if ((blob.efer() & kEferLme) && !(blob.cr(4) & kCr4Pae)) return true;
        }
        return long64 && !(new_value & kCr0Pg);
    }
    if (new_value & ~engine.profile_.vmx.cr4_fixed1) return true;
    blob.save();
    const bool ia32e = blob.efer() & kEferLma;
    if (ia32e && !(new_value & kCr4Pae)) return true;
    if (ia32e && ((old_value ^ new_value) & kCr4La57)) return true;
    if ((new_value & ~old_value & kCr4Pcide) && (!ia32e || (blob.cr(3) & 0xfff))) return true;
    return false;
}

// The processor's own #GP(0) for a WRMSR that runs natively (no exit): a
// non-canonical address in an MSR that holds one (SDM Vol. 2B WRMSR, Vol. 4
// Table 2-2: FS_BASE, GS_BASE, KERNEL_GS_BASE, LSTAR, CSTAR, SYSENTER_ESP,
// SYSENTER_EIP). Unicorn's WRMSR takes any value, which would then fail the
// next VM entry's guest-state checks instead.
bool Engine::Impl::native_wrmsr_faults(u32 msr)
{
    switch (msr) {
    case 0x175: case 0x176: case 0xc0000082: case 0xc0000083: case 0xc0000100: case 0xc0000101: case 0xc0000102:
        break;
    default: return false;
    }
    const u64 value = (reg(UC_X86_REG_RDX) << 32) | (reg(UC_X86_REG_RAX) & 0xffffffff);
    const u64 top = value >> (engine.profile_.linear_addr_width - 1);  // the bits that must all equal bit 47
    return top != 0 && top != (~u64{0} >> (engine.profile_.linear_addr_width - 1));
}

void Engine::Impl::write_cr_emulated(int cr, u64 value)
{
    blob.save();
    if (cr == 0) {
        const u64 old = blob.cr(0);
        u64 efer = blob.efer();
        if (!(old & kCr0Pg) && (value & kCr0Pg) && (efer & kEferLme)) efer |= kEferLma;
        if ((old & kCr0Pg) && !(value & kCr0Pg)) efer &= ~kEferLma;
        blob.set_efer(efer);
        blob.set_cr(0, value | 0x10);  // ET is fixed to 1
    } else {
        blob.set_cr(cr, value);
    }
    blob.recompute_hflags();
    blob.restore();
    uc_ctl_flush_tlb(uc);
    blob_fresh = false;
}

// ---- the sites ----

void Engine::Impl::site_io(u64 address, const DecodedInsn& d)
{
    const u8 op = d.opcode;
    const bool string = op >= 0x6c && op <= 0x6f;
    const bool in = op == 0xe4 || op == 0xe5 || op == 0xec || op == 0xed || op == 0x6c || op == 0x6d;
    const bool imm = op >= 0xe4 && op <= 0xe7;
    const bool byte = !(op & 1);
    const bool o16 = d.mode == 64 ? d.opsize : ((d.mode == 32) == d.opsize);
    const u32 size = byte ? 1 : o16 ? 2 : 4;
    const u32 port = imm ? d.imm8 : static_cast<u32>(reg(UC_X86_REG_RDX) & 0xffff);
    if (!io_exits(port, size)) return;
    ExitInfo x;
    x.reason = reason(ExitReason::IO_INSTRUCTION);
    // Table 28-5.
    x.qualification = (size - 1) | (in ? 8u : 0u) | (string ? 16u : 0u) | (string && d.rep ? 32u : 0u) |
                      (imm ? 64u : 0u) | (static_cast<u64>(port) << 16);
    x.instruction_length = d.length;
    if (string) {
        // Table 28-8 (INS/OUTS): address size in bits 9:7, segment in 17:15.
        const unsigned asz = d.mode == 64 ? (d.addrsize ? 1 : 2) : ((d.mode == 32) != d.addrsize ? 1 : 0);
        const unsigned seg = in ? 0 : (d.segment != 0xff ? d.segment : 3);
        x.instruction_info = (asz << 7) | (seg << 15);
        // 27.2.1: the guest-linear address of the memory operand.
        blob.save();
        const u64 amask = asz == 0 ? 0xffff : asz == 1 ? 0xffffffff : ~u64{0};
        const u64 offset = reg(in ? UC_X86_REG_RDI : UC_X86_REG_RSI) & amask;
        x.set_gla = true;
        x.gla = (d.mode == 64 && seg < 4) ? offset : blob.segment(static_cast<int>(seg)).base + offset;
    }
    // One batch read serves the I/O fields and the GuestRegs of the exit.
    read_gprs(*regs);
    gprs_valid = true;
    x.io_fields = true;
    x.io_rcx = regs->gpr[1];
    x.io_rsi = regs->gpr[6];
    x.io_rdi = regs->gpr[7];
    x.io_rip = rip();
    exit_rip = x.io_rip;  // exit() takes it from here instead of reading RIP again
    exit_rip_valid = true;
    take_exit(address, x);
}

void Engine::Impl::site_cr(u64 address, const DecodedInsn& d)
{
    const unsigned cr = ((d.modrm >> 3) & 7) | ((d.rex & 4) ? 8 : 0);
    const unsigned gpr = (d.modrm & 7) | ((d.rex & 1) ? 8 : 0);
    const bool to_cr = d.kind == InsnKind::MOV_TO_CR;
    ExitInfo x;
    x.reason = reason(ExitReason::CR_ACCESS);
    x.instruction_length = d.length;
    x.qualification = cr | ((to_cr ? 0u : 1u) << 4) | (static_cast<u64>(gpr) << 8);  // Table 28-3
    const u64 width = d.mode == 64 ? ~u64{0} : 0xffffffff;
    const u64 next = rip() + d.length;
    if (to_cr) {
        const u64 value = reg(kGprIds[gpr]) & width;
        if (cr == 0 || cr == 4) {
            const u64 mask = cr == 0 ? cr0_mask : cr4_mask, shadow = cr == 0 ? cr0_shadow : cr4_shadow;
            if ((value ^ shadow) & mask) {
                take_exit(address, x);
                return;
            }
            const u64 cur = reg(cr == 0 ? UC_X86_REG_CR0 : UC_X86_REG_CR4);
            const u64 nv = (cur & mask) | (value & ~mask);
            WalkResult fault;
            const PdpteLoad load = native_cr_write_faults(cr, cur, nv, d.mode == 64) ? PdpteLoad::GP
                                   : ept ? entering_pae_loads_pdptes(cr, cur, nv, &fault)
                                         : PdpteLoad::OK;
            if (pdpte_load_failed(address, load, fault)) return;
            write_cr_emulated(static_cast<int>(cr), nv);
            emulate_skip(address, next);
            return;
        }
        if (cr == 3 && (proc & vmx::proc::CR3_LOAD_EXITING)) {
            bool target = false;
            for (u32 i = 0; i < cr3_target_count && i < 4; ++i)
                if (cr3_targets[i] == value) target = true;
            if (!target) {
                take_exit(address, x);
                return;
            }
        }
        if (cr == 3 && ept) {
            blob.save();
            // In IA-32e mode the bits above MAXPHYADDR are reserved (bit 63
            // only without CR4.PCIDE): #GP(0), as the processor checks itself.
            const u64 reserved = ~u64{0} << engine.profile_.phys_addr_width &
                                 ((blob.cr(4) & kCr4Pcide) ? ~(u64{1} << 63) : ~u64{0});
            if ((blob.efer() & kEferLma) && (value & reserved)) {
                retire_block_partial(address, false);
                exception(vmx::vector::GP, InterruptionType::HARDWARE_EXCEPTION, true, 0, 0, 0);
                return;
            }
            WalkResult fault;
            const PdpteLoad load =
                pae_paging(blob.cr(0), blob.cr(4), blob.efer()) ? load_pdptes(value, &fault) : PdpteLoad::OK;
            if (pdpte_load_failed(address, load, fault)) return;
            // With CR4.PCIDE, bit 63 of the source asks not to invalidate and
            // is not written to CR3 (SDM Vol. 3A 4.10.4.1); Unicorn's MOV CR3
            // would keep it. The model writes CR3 itself (and flushes, which
            // a processor may always do).
            if ((blob.cr(4) & kCr4Pcide) && (value >> 63)) {
                write_cr_emulated(3, value & ~(u64{1} << 63));
                emulate_skip(address, next);
            }
            return;  // executes natively
        }
        if (cr == 8 && (proc & vmx::proc::CR8_LOAD_EXITING)) take_exit(address, x);
        return;  // executes natively
    }
    if (cr == 0 || cr == 4) {
        const u64 mask = cr == 0 ? cr0_mask : cr4_mask, shadow = cr == 0 ? cr0_shadow : cr4_shadow;
        const u64 cur = reg(cr == 0 ? UC_X86_REG_CR0 : UC_X86_REG_CR4);
        set_reg(kGprIds[gpr], ((cur & ~mask) | (shadow & mask)) & width);
        emulate_skip(address, next);
        return;
    }
    if (cr == 3 && (proc & vmx::proc::CR3_STORE_EXITING)) take_exit(address, x);
    if (cr == 8 && (proc & vmx::proc::CR8_STORE_EXITING)) take_exit(address, x);
}

unsigned Engine::Impl::cpl()
{
    if (test_bit(reg(UC_X86_REG_EFLAGS), 17)) return 3;  // virtual-8086 mode
    if (!(reg(UC_X86_REG_CR0) & 1)) return 0;
    // SS.DPL, as the processor keeps it (SDM Vol. 3C 25.4.1: SS.DPL is the
    // CPL) and as Unicorn computes its own: CS.RPL differs from it between a
    // MOV CR0 that sets PE and the far jump after (a real-mode CS of 0x0001).
    blob.save();
    blob_fresh = false;
    return (blob.segment(2).flags >> 13) & 3;
}

// The I/O permission check of protected and virtual-8086 mode (Vol. 1,
// 19.5): CPL <= IOPL passes; otherwise every byte's bit in the TSS I/O
// bitmap must be clear. #GP(0) from it comes before the VM exit.
bool Engine::Impl::io_permitted(const DecodedInsn& d)
{
    // Each register is read once (an exit path: every uc_reg_read counts).
    const u64 rflags = reg(UC_X86_REG_EFLAGS);
    const bool vm86 = test_bit(rflags, 17);
    if (!(reg(UC_X86_REG_CR0) & 1)) return true;
    // Protected mode outside virtual-8086 mode: CPL <= IOPL.
    if (!vm86 && cpl() <= bits(rflags, 13, 12)) return true;
    const u8 op = d.opcode;
    const bool byte = !(op & 1);
    const bool o16 = d.mode == 64 ? d.opsize : ((d.mode == 32) == d.opsize);
    const u32 size = byte ? 1 : o16 ? 2 : 4;
    const u32 port = (op >= 0xe4 && op <= 0xe7) ? d.imm8 : static_cast<u32>(reg(UC_X86_REG_RDX) & 0xffff);
    blob.save();
    const UcSegment tr = blob.segment(7);
    if (tr.limit < 0x67) return false;
    u16 map_base = 0;
    if (!read_linear(tr.base + 0x66, &map_base, 2)) return false;
    const u64 first = map_base + (port >> 3), last = map_base + ((port + size - 1) >> 3);
    if (last > tr.limit) return false;
    u16 bitsword = 0;
    if (!read_linear(tr.base + first, &bitsword, first == last ? 1 : 2)) return false;
    const u32 mask = ((1u << size) - 1) << (port & 7);
    return (bitsword & mask) == 0;
}

void Engine::Impl::on_site(u64 address)
{
    if (engine.stopped()) return;  // Unicorn on its way out of a stopped run: nothing of the guest runs
    auto it = sites.find(address);
    if (it == sites.end()) return;
    const DecodedInsn d = it->second;
    if ((proc & vmx::proc::MONITOR_TRAP_FLAG) && mtf_boundary(address)) return;
    // Invalid-opcode exceptions and faults based on privilege level have
    // priority over VM exits (26.1.1): at CPL > 0 these instructions run in
    // Unicorn, which raises #GP(0). (MOV DR is not among them: its exit
    // comes first, 26.1.3.)
    switch (d.kind) {
    case InsnKind::HLT: case InsnKind::RDMSR: case InsnKind::WRMSR: case InsnKind::MOV_TO_CR:
    case InsnKind::MOV_FROM_CR: case InsnKind::CLTS: case InsnKind::LMSW:
    case InsnKind::INVLPG: case InsnKind::INVD: case InsnKind::WBINVD:
        if (cpl() != 0) return;
        break;
    case InsnKind::XSETBV:
        // #UD without CR4.OSXSAVE, then #GP(0) at CPL > 0 (SDM Vol. 2D
        // XSETBV); Unicorn's CPU has no XSAVE and would raise #UD for both.
        if (!test_bit(reg(UC_X86_REG_CR4), 18)) return fault(address, vmx::vector::UD, false);
        if (cpl() != 0) return fault(address, vmx::vector::GP, true);
        break;
    case InsnKind::GETSEC:
        if (!test_bit(reg(UC_X86_REG_CR4), 14)) return fault(address, vmx::vector::UD, false);  // CR4.SMXE
        break;
    case InsnKind::MONITOR: case InsnKind::MWAIT:
        if (cpl() != 0) return fault(address, vmx::vector::UD, false);  // CPL > 0: #UD (SDM Vol. 2B)
        break;
    case InsnKind::RDPMC:
        // #GP(0) at CPL > 0 unless CR4.PCE (SDM Vol. 2B RDPMC).
        if (cpl() != 0 && !test_bit(reg(UC_X86_REG_CR4), 8)) return fault(address, vmx::vector::GP, true);
        break;
    case InsnKind::VMX:
        if (vmx_instruction_faults(address, d)) return;
        break;
    case InsnKind::RDTSC: case InsnKind::RDTSCP:
        if (test_bit(reg(UC_X86_REG_CR4), 2) && cpl() != 0) return;  // CR4.TSD
        break;
    case InsnKind::IO: case InsnKind::IO_STRING:
        if (!io_permitted(d)) {
            retire_block_partial(address, false);
            exception(vmx::vector::GP, InterruptionType::HARDWARE_EXCEPTION, true, 0, 0, 0);
            return;
        }
        break;
    default: break;
    }
    if (d.kind == InsnKind::IO || d.kind == InsnKind::IO_STRING) {
        site_io(address, d);  // before `next`: the I/O path reads RIP once
        return;
    }
    ExitInfo x;
    x.instruction_length = d.length;
    const u64 next = rip() + d.length;
    auto exit_if = [&](bool cond, ExitReason r) {
        if (!cond) return false;
        x.reason = reason(r);
        take_exit(address, x);
        return true;
    };
    switch (d.kind) {
    case InsnKind::OTHER: return;
    case InsnKind::XGETBV: site_xgetbv(address, d); return;
    case InsnKind::VMFUNC: site_vmfunc(address, d); return;
    case InsnKind::DESC_TABLE: site_descriptor_table(address, d); return;
    case InsnKind::RDRAND:
    case InsnKind::RDSEED: site_rdrand(address, d); return;
    case InsnKind::INVPCID: site_invpcid(address, d); return;
    case InsnKind::CMPXCHG8B16B: site_cmpxchg8b16b(address, d); return;
    case InsnKind::SYSCALL: site_syscall(address, d); return;
    case InsnKind::SYSENTER: site_sysenter(address, d); return;
    case InsnKind::STI:
        // Only an STI that sets IF opens a shadow (SDM Vol. 2B STI); with
        // interrupt-window exiting the window opens right after the
        // instruction it covers: the guest stops there (window_check_at).
        if (!test_bit(reg(UC_X86_REG_EFLAGS), 9)) {
            const u64 linear = address;
            begin_shadow(vmx::interruptibility::BLOCKING_BY_STI, linear + d.length);
            if (proc & vmx::proc::INTERRUPT_WINDOW_EXITING) {
                u8 b[15] = {};
                usize n = 15;
                while (n && !read_linear(linear + d.length, b, n)) --n;
                const DecodedInsn shadowed_insn = n ? decode_insn(b, n, code_bits()) : DecodedInsn{};
                if (shadowed_insn.length) window_check_at(linear, linear + d.length + shadowed_insn.length);
            }
        }
        return;
    case InsnKind::POPF:
        // POPF may set IF with no shadow: the window opens after it.
        if ((proc & vmx::proc::INTERRUPT_WINDOW_EXITING) && !test_bit(reg(UC_X86_REG_EFLAGS), 9))
            window_check_at(address, address + d.length);
        return;
    case InsnKind::MOV_SS: begin_shadow(vmx::interruptibility::BLOCKING_BY_MOV_SS, address + d.length); return;
    case InsnKind::IRET: iret_unblocks_nmi(); task_switch_site(address, d); return;
    case InsnKind::FAR_JMP_CALL: task_switch_site(address, d); return;
    case InsnKind::IO:
    case InsnKind::IO_STRING: site_io(address, d); return;
    case InsnKind::CPUID: exit_if(true, ExitReason::CPUID); return;
    case InsnKind::GETSEC: exit_if(true, ExitReason::GETSEC); return;
    case InsnKind::INVD: exit_if(true, ExitReason::INVD); return;
    case InsnKind::XSETBV: exit_if(true, ExitReason::XSETBV); return;
    case InsnKind::WBINVD: exit_if(proc2 & vmx::proc2::WBINVD_EXITING, ExitReason::WBINVD); return;
    case InsnKind::PAUSE: exit_if(proc & vmx::proc::PAUSE_EXITING, ExitReason::PAUSE_INSTRUCTION); return;
    case InsnKind::MWAIT: exit_if(proc & vmx::proc::MWAIT_EXITING, ExitReason::MWAIT_INSTRUCTION); return;
    case InsnKind::MONITOR: exit_if(proc & vmx::proc::MONITOR_EXITING, ExitReason::MONITOR_INSTRUCTION); return;
    case InsnKind::RDPMC: exit_if(proc & vmx::proc::RDPMC_EXITING, ExitReason::RDPMC); return;
    case InsnKind::VMX:
        x.reason = d.vmx_exit;
        take_exit(address, x);
        return;
    case InsnKind::HLT:
        if (exit_if(proc & vmx::proc::HLT_EXITING, ExitReason::HLT)) return;
        emulate_skip(address, next);
        activity = static_cast<u32>(vmx::ActivityState::HLT);
        halt_wait();
        return;
    case InsnKind::RDTSC:
    case InsnKind::RDTSCP: {
        if (d.kind == InsnKind::RDTSCP && !(proc2 & vmx::proc2::ENABLE_RDTSCP)) {
            retire_block_partial(address, false);
            exception(vmx::vector::UD, InterruptionType::HARDWARE_EXCEPTION, false, 0, 0, 0);
            return;
        }
        if (exit_if(proc & vmx::proc::RDTSC_EXITING, d.kind == InsnKind::RDTSC ? ExitReason::RDTSC : ExitReason::RDTSCP))
            return;
        const u64 tsc = guest_tsc(address);
        set_reg(UC_X86_REG_RAX, tsc & 0xffffffff);
        set_reg(UC_X86_REG_RDX, tsc >> 32);
        if (d.kind == InsnKind::RDTSCP) {
            uc_x86_msr m{0xc0000103, 0};
            uc_reg_read(uc, UC_X86_REG_MSR, &m);
            set_reg(UC_X86_REG_RCX, m.value & 0xffffffff);
        }
        emulate_skip(address, next);
        return;
    }
    case InsnKind::RDMSR:
    case InsnKind::WRMSR: {
        const u32 msr = static_cast<u32>(reg(UC_X86_REG_RCX));
        const bool wr = d.kind == InsnKind::WRMSR;
        if (wr && !msr_exits(msr, wr) && native_wrmsr_faults(msr)) {
            retire_block_partial(address, false);
            exception(vmx::vector::GP, InterruptionType::HARDWARE_EXCEPTION, true, 0, 0, 0);
            return;
        }
        if (!exit_if(msr_exits(msr, wr), wr ? ExitReason::MSR_WRITE : ExitReason::MSR_READ) && wr)
            msr_list_loaded.clear();  // runs natively: the MSR-load list's MSRs may have changed
        return;
    }
    case InsnKind::MOV_TO_CR:
    case InsnKind::MOV_FROM_CR: site_cr(address, d); return;
    case InsnKind::CLTS: {
        x.reason = reason(ExitReason::CR_ACCESS);
        x.qualification = 0 | (2u << 4);
        if ((cr0_mask & kCr0Ts) && (cr0_shadow & kCr0Ts)) {
            take_exit(address, x);
            return;
        }
        if (cr0_mask & kCr0Ts) emulate_skip(address, next);  // TS is the host's: unchanged
        return;
    }
    case InsnKind::LMSW: {
        u64 src;
        const bool mem = (d.modrm >> 6) != 3;
        if (mem) {
            bool ok;
            const u64 ea = effective_address(address, d, &ok);
            u16 v = 0;
            if (!ok || !read_linear(ea, &v, 2)) return;  // let Unicorn raise the fault
            src = v;
            x.set_gla = true;
            x.gla = ea;
        } else {
            src = reg(kGprIds[(d.modrm & 7) | ((d.rex & 1) ? 8 : 0)]) & 0xffff;
        }
        x.reason = reason(ExitReason::CR_ACCESS);
        x.qualification = 0 | (3u << 4) | (mem ? 64u : 0u) | ((src & 0xffff) << 16);
        // 26.1.3: PE set by the source where the shadow has it clear, or any
        // of bits 3:1 owned by the host and different from the shadow.
        const bool exits = ((cr0_mask & kCr0Pe) && (src & kCr0Pe) && !(cr0_shadow & kCr0Pe)) ||
                           ((cr0_mask & 0xe) & (src ^ cr0_shadow));
        if (exits) {
            take_exit(address, x);
            return;
        }
        const u64 cur = reg(UC_X86_REG_CR0);
        const u64 guest_bits = 0xf & ~cr0_mask;
        u64 nv = (cur & ~guest_bits) | (src & guest_bits);
        nv |= cur & kCr0Pe;  // LMSW cannot clear PE
        write_cr_emulated(0, nv);
        emulate_skip(address, next);
        return;
    }
    case InsnKind::MOV_DR: {
        if (!(proc & vmx::proc::MOV_DR_EXITING)) {
            dr6_written = true;  // runs natively, and may write DR6
            return;
        }
        const unsigned dr = (d.modrm >> 3) & 7, gpr = (d.modrm & 7) | ((d.rex & 1) ? 8 : 0);
        x.reason = reason(ExitReason::DR_ACCESS);
        x.qualification = dr | ((d.opcode == 0x21 ? 1u : 0u) << 4) | (static_cast<u64>(gpr) << 8);
        take_exit(address, x);
        return;
    }
    case InsnKind::INVLPG: {
        if (!(proc & vmx::proc::INVLPG_EXITING)) return;
        bool ok;
        x.qualification = effective_address(address, d, &ok);
        x.reason = reason(ExitReason::INVLPG);
        take_exit(address, x);
        return;
    }
    case InsnKind::INT3:
        retire_block_partial(address, false);
        exception(vmx::vector::BP, InterruptionType::SOFTWARE_EXCEPTION, false, 0, d.length, 0);
        return;
    case InsnKind::INTO:
        if (!test_bit(reg(UC_X86_REG_EFLAGS), 11)) {
            emulate_skip(address, next);
            return;
        }
        retire_block_partial(address, false);
        exception(vmx::vector::OF, InterruptionType::SOFTWARE_EXCEPTION, false, 0, d.length, 0);
        return;
    case InsnKind::INT1:
        retire_block_partial(address, false);
        exception(vmx::vector::DB, InterruptionType::PRIVILEGED_SOFTWARE_EXCEPTION, false, 0, d.length, 0);
        return;
    case InsnKind::INT_N: {
        retire_block_partial(address, true);
        Event e;
        e.vector = d.imm8;
        e.type = InterruptionType::SOFTWARE_INTERRUPT;
        e.instruction_length = d.length;
        deliver(e, false);
        return;
    }
    }
}

}  // namespace xeno::sim
