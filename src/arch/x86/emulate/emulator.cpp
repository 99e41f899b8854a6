// The emulate_one driver: prefixes, ModRM/SIB decoding, segmentation,
// buffered memory access, the stack, and commit/rollback.
#include "arch/x86/emulate/emulator.hpp"

#include "arch/x86/vmx/vmx_arch.hpp"

namespace xeno::emu {

namespace ar = vmx::ar;
namespace vector = vmx::vector;

namespace {

// Opcodes that accept LOCK with a memory destination (SDM Vol. 3A 8.1.2.2).
bool lockable(bool two_byte, u8 op, u8 modrm_reg)
{
    if (!two_byte) {
        if (op < 0x40 && (op & 7) <= 1 && (op & 0x38) != 0x38) return true;  // ALU r/m, reg (not CMP)
        if (op >= 0x80 && op <= 0x83) return modrm_reg != 7;
        if (op == 0x86 || op == 0x87) return true;
        if (op == 0xf6 || op == 0xf7) return modrm_reg == 2 || modrm_reg == 3;
        if (op == 0xfe || op == 0xff) return modrm_reg <= 1;
        return false;
    }
    switch (op) {
    case 0xab: case 0xb3: case 0xbb: case 0xb0: case 0xb1: case 0xc0: case 0xc1: return true;
    case 0xba: return modrm_reg >= 5;
    case 0xc7: return modrm_reg == 1;  // CMPXCHG8B/16B
    default: return false;
    }
}

}  // namespace

CpuMode cpu_mode(const CpuState& s)
{
    if (!(s.cr0 & cr0::PE)) return CpuMode::REAL;
    if (s.efer & efer::LMA) return (s.sreg(Seg::CS).ar & ar::L) ? CpuMode::LONG64 : CpuMode::COMPAT;
    if (s.rflags & flag::VM) return CpuMode::VM86;
    return CpuMode::PROTECTED;
}

unsigned cpl(const CpuState& s)
{
    switch (cpu_mode(s)) {
    case CpuMode::REAL: return 0;
    case CpuMode::VM86: return 3;
    default: return (s.sreg(Seg::SS).ar >> ar::DPL_SHIFT) & 3;  // SS.DPL is the CPL (SDM 3C 26.3.1.5)
    }
}

EmulateResult emulate_one(CpuState& state, const EmulateOps& ops)
{
    Emulator e(state, ops);
    return e.run();
}

EmulateResult deliver_event(CpuState& state, const EmulateOps& ops, u8 vector, bool has_error_code,
                            u32 error_code, u64 return_rip, bool software)
{
    Emulator e(state, ops);
    e.mode = cpu_mode(state);
    bool ok = e.deliver(vector, has_error_code, error_code, return_rip, software) && e.commit_writes();
    if (!ok) {
        state = e.saved;
        return e.result;
    }
    e.result.outcome = EmulateOutcome::OK;
    return e.result;
}

// ---------------------------------------------------------------- faults

bool Emulator::fault(u8 vector, u32 error_code)
{
    if (result.outcome == EmulateOutcome::OK) {
        result.outcome = EmulateOutcome::EXCEPTION;
        result.vector = vector;
        result.has_error_code = true;
        result.error_code = error_code;
    }
    return false;
}

bool Emulator::fault_no_ec(u8 vector)
{
    if (result.outcome == EmulateOutcome::OK) {
        result.outcome = EmulateOutcome::EXCEPTION;
        result.vector = vector;
        result.has_error_code = false;
    }
    return false;
}

bool Emulator::unhandled()
{
    if (result.outcome == EmulateOutcome::OK) result.outcome = EmulateOutcome::UNHANDLED;
    return false;
}

// ---------------------------------------------------------------- registers

u64 Emulator::get_reg(unsigned n, unsigned size) const
{
    if (size == 1 && !rex && n >= 4 && n < 8) return (s.gpr[n - 4] >> 8) & 0xff;  // AH, CH, DH, BH
    return s.gpr[n] & alu::size_mask(size);
}

void Emulator::set_reg(unsigned n, unsigned size, u64 value)
{
    if (size == 1 && !rex && n >= 4 && n < 8) {
        s.gpr[n - 4] = (s.gpr[n - 4] & ~u64{0xff00}) | ((value & 0xff) << 8);
        return;
    }
    set_gpr(n, size, value);
}

void Emulator::set_gpr(unsigned n, unsigned size, u64 value)
{
    // 32-bit destinations zero the upper half (SDM Vol. 1 3.4.1.1); 8- and
    // 16-bit destinations merge.
    if (size >= 4)
        s.gpr[n] = value & alu::size_mask(size);
    else
        s.gpr[n] = (s.gpr[n] & ~alu::size_mask(size)) | (value & alu::size_mask(size));
}

bool Emulator::jump_near(u64 target)
{
    if (long64()) {
        if (static_cast<u64>(static_cast<i64>(target << 16) >> 16) != target) return gp0();
    } else {
        target &= alu::size_mask(opsize);
        // The target must lie within CS (SDM Vol. 2 JMP: #GP(0) "if the target
        // operand is beyond the code segment limits"); in real mode as well.
        if (target > s.sreg(Seg::CS).limit) return gp0();
    }
    s.rip = target;
    branched = true;
    return true;
}

// ---------------------------------------------------------------- segmentation

bool Emulator::linear(Seg seg, u64 offset, unsigned size, AccessKind kind, u64& la)
{
    const Segment& sg = s.sreg(seg);
    const bool stack = seg == Seg::SS;
    auto seg_fault = [&]() { return stack ? fault(vector::SS, 0) : gp0(); };
    if (long64()) {
        // 64-bit mode: no limits, bases only for FS and GS (SDM 3A 3.2.4).
        const u64 base = (seg == Seg::FS || seg == Seg::GS) ? sg.base : 0;
        la = base + offset;
        const u64 last = la + size - 1;
        auto canonical = [](u64 a) { return static_cast<u64>(static_cast<i64>(a << 16) >> 16) == a; };
        if (!canonical(la) || !canonical(last)) return seg_fault();
        return true;
    }
    offset &= 0xffffffff;
    if (mode != CpuMode::REAL && mode != CpuMode::VM86) {
        if (sg.ar & ar::UNUSABLE) return seg_fault();
        const u32 type = sg.ar & ar::TYPE_MASK;
        const bool code = type & 8;
        if (kind == AccessKind::WRITE && (code || !(type & 2))) return seg_fault();
        if (kind == AccessKind::READ && code && !(type & 2)) return seg_fault();
    }
    // Limit checks apply in every mode; real mode uses the cached limit,
    // which is what big real mode relies on (SDM 3A 5.3, 20.1.1).
    const u32 type = sg.ar & ar::TYPE_MASK;
    const u64 last = offset + size - 1;
    if (!(type & 8) && (type & 4) && mode != CpuMode::REAL && mode != CpuMode::VM86) {
        const u64 upper = (sg.ar & ar::DB) ? 0xffffffff : 0xffff;
        if (offset <= sg.limit || last > upper) return seg_fault();
    } else if (last > sg.limit) {
        return seg_fault();
    }
    la = (sg.base + offset) & 0xffffffff;
    return true;
}

bool Emulator::read_linear(u64 la, void* dst, unsigned size, AccessKind kind, bool implicit)
{
    // Split at a page boundary so a #PF reports the first byte of the page
    // that faulted as CR2, as the processor does.
    auto* out = static_cast<u8*>(dst);
    while (size) {
        const unsigned chunk = static_cast<unsigned>(
            (kPageSize - (la & (kPageSize - 1))) < size ? (kPageSize - (la & (kPageSize - 1))) : size);
        u32 ec = 0;
        const AccessStatus st = ops_.read_linear(ops_.ctx, la, out, chunk, kind, implicit, &ec);
        if (st != AccessStatus::OK) {
            fault(vector::PF, ec);
            result.cr2 = la;
            return false;
        }
        la += chunk;
        out += chunk;
        size -= chunk;
    }
    return true;
}

bool Emulator::write_linear(u64 la, const void* src, unsigned size, bool implicit)
{
    if (nwrites_ == kMaxWrites || size > 16) return unhandled();
    PendingWrite& w = writes_[nwrites_++];
    w.la = la;
    w.size = static_cast<u8>(size);
    w.implicit = implicit;
    const auto* in = static_cast<const u8*>(src);
    for (unsigned i = 0; i < size; ++i) w.data[i] = in[i];
    return true;
}

bool Emulator::commit_writes()
{
    for (unsigned i = 0; i < nwrites_; ++i) {
        const PendingWrite& w = writes_[i];
        u64 la = w.la;
        unsigned done = 0;
        while (done < w.size) {
            const u64 room = kPageSize - (la & (kPageSize - 1));
            const unsigned chunk = static_cast<unsigned>(room < w.size - done ? room : w.size - done);
            u32 ec = 0;
            if (ops_.write_linear(ops_.ctx, la, w.data + done, chunk, w.implicit, &ec) != AccessStatus::OK) {
                nwrites_ = 0;
                fault(vector::PF, ec);
                result.cr2 = la;
                return false;
            }
            la += chunk;
            done += chunk;
        }
    }
    nwrites_ = 0;
    return true;
}

bool Emulator::read(Seg seg, u64 offset, unsigned size, u64& value)
{
    u64 la = 0;
    if (!linear(seg, offset, size, AccessKind::READ, la)) return false;
    u8 buf[8] = {};
    if (!read_linear(la, buf, size, AccessKind::READ, false)) return false;
    value = 0;
    for (unsigned i = 0; i < size; ++i) value |= u64{buf[i]} << (8 * i);
    return true;
}

bool Emulator::write(Seg seg, u64 offset, unsigned size, u64 value)
{
    u64 la = 0;
    if (!linear(seg, offset, size, AccessKind::WRITE, la)) return false;
    u8 buf[8];
    for (unsigned i = 0; i < 8; ++i) buf[i] = static_cast<u8>(value >> (8 * i));
    return write_linear(la, buf, size, false);
}

// ---------------------------------------------------------------- fetch/decode

bool Emulator::fetch(unsigned size, u64& value)
{
    value = 0;
    for (unsigned i = 0; i < size; ++i) {
        if (fetched_ >= 15) return gp0();  // SDM 2.3.11: more than 15 bytes is #GP(0)
        const u64 ipmask = long64() ? ~u64{0} : (s.sreg(Seg::CS).ar & ar::DB) ? 0xffffffff : 0xffff;
        u64 la = 0;
        if (!linear(Seg::CS, (ip_start + fetched_) & ipmask, 1, AccessKind::EXECUTE, la)) return false;
        u8 b = 0;
        if (!read_linear(la, &b, 1, AccessKind::EXECUTE, false)) return false;
        result.bytes[fetched_++] = b;
        result.length = static_cast<u8>(fetched_);
        value |= u64{b} << (8 * i);
    }
    return true;
}

bool Emulator::fetch_imm(unsigned size, u64& value)
{
    const unsigned n = size == 8 ? 4 : size;
    if (!fetch(n, value)) return false;
    if (size == 8) value = alu::sign_extend(value, 4);
    return true;
}

bool Emulator::decode_modrm()
{
    u64 b = 0;
    if (!fetch(1, b)) return false;
    has_modrm = true;
    mod = static_cast<u8>(b >> 6);
    reg = static_cast<u8>(((b >> 3) & 7) | ((rex & 4) << 1));
    rm = static_cast<u8>((b & 7) | ((rex & 1) << 3));
    mem_op = mod != 3;
    if (lock && (!mem_op || !lockable(two_byte_, opcode_, reg & 7))) return ud();
    if (!mem_op) return true;
    Seg dflt = Seg::DS;
    u64 disp = 0;
    if (addrsize == 2) {
        // 16-bit addressing (SDM Vol. 2 Table 2-1).
        const u64 bx = s.gpr[RBX] & 0xffff, bp = s.gpr[RBP] & 0xffff, si = s.gpr[RSI] & 0xffff,
                  di = s.gpr[RDI] & 0xffff;
        u64 base = 0;
        switch (b & 7) {
        case 0: base = bx + si; break;
        case 1: base = bx + di; break;
        case 2: base = bp + si; dflt = Seg::SS; break;
        case 3: base = bp + di; dflt = Seg::SS; break;
        case 4: base = si; break;
        case 5: base = di; break;
        case 6:
            if (mod == 0) {
                base = 0;
            } else {
                base = bp;
                dflt = Seg::SS;
            }
            break;
        case 7: base = bx; break;
        }
        if (mod == 0 && (b & 7) == 6) {
            if (!fetch(2, disp)) return false;
        } else if (mod == 1) {
            if (!fetch(1, disp)) return false;
            disp = alu::sign_extend(disp, 1);
        } else if (mod == 2) {
            if (!fetch(2, disp)) return false;
        }
        ea = (base + disp) & 0xffff;
    } else {
        // 32/64-bit addressing (SDM Vol. 2 Tables 2-2, 2-3; 2.2.1 for REX).
        u64 base = 0, index = 0;
        bool no_base = false;
        if ((b & 7) == 4) {
            u64 sib = 0;
            if (!fetch(1, sib)) return false;
            const unsigned scale = static_cast<unsigned>(sib >> 6);
            const unsigned idx = static_cast<unsigned>(((sib >> 3) & 7) | ((rex & 2) << 2));
            const unsigned bse = static_cast<unsigned>((sib & 7) | ((rex & 1) << 3));
            if (idx != 4) index = s.gpr[idx] << scale;
            if ((sib & 7) == 5 && mod == 0) {
                no_base = true;
            } else {
                base = s.gpr[bse];
                if (bse == RSP || bse == RBP) dflt = Seg::SS;
                ea_uses_rsp = bse == RSP;
            }
            if (no_base) {
                if (!fetch(4, disp)) return false;
                disp = alu::sign_extend(disp, 4);
            }
        } else if ((b & 7) == 5 && mod == 0) {
            if (!fetch(4, disp)) return false;
            disp = alu::sign_extend(disp, 4);
            if (long64()) rip_relative = true;
        } else {
            base = s.gpr[rm];
            if (rm == RBP) dflt = Seg::SS;
        }
        if (mod == 1) {
            if (!fetch(1, disp)) return false;
            disp = alu::sign_extend(disp, 1);
        } else if (mod == 2) {
            if (!fetch(4, disp)) return false;
            disp = alu::sign_extend(disp, 4);
        }
        ea = (base + index + disp) & addr_mask();
    }
    ea_seg = data_seg(dflt);
    return true;
}

void Emulator::resolve_ea()
{
    if (rip_relative) {
        ea = (ea + next_ip()) & addr_mask();
        rip_relative = false;
    }
}

bool Emulator::read_rm(unsigned size, u64& value)
{
    if (!mem_op) {
        value = get_reg(rm, size);
        return true;
    }
    resolve_ea();
    return read(ea_seg, ea, size, value);
}

bool Emulator::write_rm(unsigned size, u64 value)
{
    if (!mem_op) {
        set_reg(rm, size, value);
        return true;
    }
    resolve_ea();
    return write(ea_seg, ea, size, value);
}

// ---------------------------------------------------------------- stack

unsigned Emulator::stack_size() const
{
    if (long64()) return 8;
    if (mode == CpuMode::VM86) return 2;
    return (s.sreg(Seg::SS).ar & ar::DB) ? 4 : 2;
}

bool Emulator::push(u64 value, unsigned size)
{
    const unsigned ss = stack_size();
    const u64 m = alu::size_mask(ss);
    const u64 sp = (s.gpr[RSP] - size) & m;
    if (!write(Seg::SS, sp, size, value)) return false;
    s.gpr[RSP] = (s.gpr[RSP] & ~m) | sp;
    return true;
}

bool Emulator::pop(u64& value, unsigned size)
{
    const unsigned ss = stack_size();
    const u64 m = alu::size_mask(ss);
    const u64 sp = s.gpr[RSP] & m;
    if (!read(Seg::SS, sp, size, value)) return false;
    s.gpr[RSP] = (s.gpr[RSP] & ~m) | ((sp + size) & m);
    return true;
}

bool Emulator::stack_read(unsigned offset_from_sp, unsigned size, u64& value)
{
    const u64 m = alu::size_mask(stack_size());
    return read(Seg::SS, (s.gpr[RSP] + offset_from_sp) & m, size, value);
}

// ---------------------------------------------------------------- driver


EmulateResult Emulator::run()
{
    mode = cpu_mode(s);
    ip_start = s.rip;
    const bool cs_d = (s.sreg(Seg::CS).ar & ar::DB) && mode != CpuMode::VM86;
    bool opsize_prefix = false, addrsize_prefix = false;
    u64 op = 0;
    bool ok = true;
    for (;;) {
        if (!fetch(1, op)) {
            ok = false;
            break;
        }
        const u8 b = static_cast<u8>(op);
        bool legacy = true;
        switch (b) {
        case 0x66: opsize_prefix = true; break;
        case 0x67: addrsize_prefix = true; break;
        case 0x26: case 0x2e: case 0x36: case 0x3e:
            // In 64-bit mode ES/CS/SS/DS overrides are ignored (SDM 3A 3.2.4).
            if (!long64()) seg_override = (b >> 3) & 3;
            break;
        case 0x64: seg_override = 4; break;
        case 0x65: seg_override = 5; break;
        case 0xf0: lock = true; break;
        case 0xf2: repne = true; rep = false; break;
        case 0xf3: rep = true; repne = false; break;
        default: legacy = false;
        }
        if (legacy) {
            rex = 0;  // a REX prefix followed by a legacy prefix is ignored
            continue;
        }
        if (long64() && (b & 0xf0) == 0x40) {
            rex = b;
            continue;
        }
        break;
    }
    if (ok) {
        if (long64()) {
            opsize = (rex & 8) ? 8 : opsize_prefix ? 2 : 4;
            addrsize = addrsize_prefix ? 4 : 8;
        } else {
            opsize = (cs_d != opsize_prefix) ? 4 : 2;
            addrsize = (cs_d != addrsize_prefix) ? 4 : 2;
        }
        ok = execute(static_cast<u8>(op));
    }
    if (ok) ok = commit_writes();
    if (!ok) {
        if (rep_partial && result.outcome != EmulateOutcome::EXCEPTION) {
            // Some iterations completed (and were committed) before the string
            // instruction stopped for I/O or its iteration budget: report
            // progress; RIP stays on the instruction so it resumes.
            s = saved;
            result.outcome = EmulateOutcome::OK;
            return result;
        }
        if (result.outcome == EmulateOutcome::EXCEPTION && (result.effects & effect::TASK_SWITCHED)) {
            // A fault of the new task after a task switch: its state stays,
            // with what it wrote before the fault (SDM 7.3).
            const EmulateResult fault_result = result;
            (void)commit_writes();
            result = fault_result;
            return result;
        }
        if (result.outcome == EmulateOutcome::IO_NEEDED || result.outcome == EmulateOutcome::UNHANDLED ||
            result.outcome == EmulateOutcome::EXCEPTION) {
            s = saved;
            return result;
        }
        s = saved;
        result.outcome = EmulateOutcome::UNHANDLED;
        return result;
    }
    if (!branched) {
        const u64 ipmask = long64() ? ~u64{0} : cs_d ? 0xffffffff : 0xffff;
        s.rip = next_ip() & ipmask;
    }
    s.rflags = (s.rflags | flag::FIXED1) & ~(flag::RF | (u64{1} << 3) | (u64{1} << 5) | (u64{1} << 15) |
                                             (~u64{0} << 22));
    result.outcome = EmulateOutcome::OK;
    return result;
}

bool Emulator::lock_possible(bool two_byte, u8 op)
{
    for (u8 r = 0; r < 8; ++r)
        if (lockable(two_byte, op, r)) return true;
    return false;
}

}  // namespace xeno::emu
