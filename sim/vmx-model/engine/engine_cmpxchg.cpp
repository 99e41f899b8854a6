// CMPXCHG8B and CMPXCHG16B (0F C7 /1). Unicorn 2.1.4 runs them through a
// helper that takes the flags it must keep (all but ZF) from the lazy-flags
// state as it was when the translation block started, combined with the
// operands of the last flag-setting instruction since (measured:
// tests/engine/cmpxchg_test.cpp): RFLAGS comes out as that instruction's
// source operand, VM, IOPL and reserved bits included. Debian's kernel runs
// CMPXCHG16B on every slab allocation; an exit right after one saved such
// an RFLAGS, and the VM entry back failed. The model executes them as the
// SDM describes (Vol. 2A CMPXCHG8B/CMPXCHG16B), reading RFLAGS at the hook,
// where Unicorn has brought the flags up to date.
#include "lib/bits.hpp"
#include "sim/vmx-model/engine/engine_impl.hpp"
#include "sim/vmx-model/engine/linear_memory.hpp"

namespace xeno::sim {

namespace {

constexpr u64 kRflagsZf = bit(6);

u64 load_u64(const u8* p)
{
    u64 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

}  // namespace

void Engine::Impl::site_cmpxchg8b16b(u64 address, const DecodedInsn& d)
{
    const bool wide = d.mode == 64 && (d.rex & 8);  // REX.W: CMPXCHG16B
    bool ok = false;
    const u64 ea = effective_address(address, d, &ok);
    if (!ok) return;  // the instruction's bytes could not be read: Unicorn raises the fetch's fault
    if (wide && (ea & 15)) {  // CMPXCHG16B: #GP(0) on an operand not 16-byte aligned
        fault(address, vmx::vector::GP, true);
        return;
    }
    const usize size = wide ? 16 : 8;
    u8 old[16] = {};
    LinearMemory mem(*this);
    MemResult m = mem.read_for_write(ea, old, size);
    const u64 rax = reg(UC_X86_REG_RAX), rdx = reg(UC_X86_REG_RDX);
    const u64 lo = load_u64(old), hi = wide ? load_u64(old + 8) : 0;
    const bool equal = wide ? lo == rax && hi == rdx
                            : static_cast<u32>(lo) == static_cast<u32>(rax) && (lo >> 32) == static_cast<u32>(rdx);
    if (m.fault == MemFault::NONE) {
        // The destination is written either way: the new value, or on a
        // mismatch what it held.
        u8 out[16];
        std::memcpy(out, old, sizeof out);
        if (equal) {
            const u64 rbx = reg(UC_X86_REG_RBX), rcx = reg(UC_X86_REG_RCX);
            const u64 new_lo = wide ? rbx : (rcx << 32) | static_cast<u32>(rbx);
            std::memcpy(out, &new_lo, 8);
            if (wide) std::memcpy(out + 8, &rcx, 8);
        }
        m = mem.write(ea, out, size, false);
    }
    if (m.fault != MemFault::NONE) return operand_fault(address, m);
    if (!equal) {
        // EDX:EAX (RDX:RAX) take the old value; a 32-bit register write
        // clears bits 63:32, as in 64-bit mode.
        set_reg(UC_X86_REG_RAX, wide ? lo : static_cast<u32>(lo));
        set_reg(UC_X86_REG_RDX, wide ? hi : lo >> 32);
    }
    const u64 rflags = reg(UC_X86_REG_EFLAGS);
    set_reg(UC_X86_REG_EFLAGS, equal ? rflags | kRflagsZf : rflags & ~kRflagsZf);
    emulate_skip(address, rip() + d.length);
}

}  // namespace xeno::sim
