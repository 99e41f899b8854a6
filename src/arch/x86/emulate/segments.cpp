// Segment loads and far control transfers: MOV/POP Sreg and LxS, far JMP/CALL,
// RETF, IRET, and interrupt delivery through the IVT/IDT.
// SDM Vol. 3A 3.4 (descriptors), 5.8 (control transfers), 6.12 (interrupt
// delivery), 20.1.4 (real-mode interrupts); Vol. 2 for the per-instruction
// checks and error codes.
#include "arch/x86/emulate/emulator.hpp"

#include "arch/x86/vmx/vmx_arch.hpp"

namespace xeno::emu {

namespace ar = vmx::ar;
namespace vec = vmx::vector;

namespace {

Segment real_mode_segment(const Segment& old, u16 sel)
{
    // Real mode: only selector and base change; limit and attributes stay,
    // which is what keeps big real mode alive (SDM 3A 20.1.1; KVM and Bochs agree).
    Segment sg = old;
    sg.selector = sel;
    sg.base = u64{sel} << 4;
    sg.ar = (sg.ar & ~ar::UNUSABLE) | ar::P | ar::S;
    return sg;
}

}  // namespace

bool Emulator::read_descriptor(u16 sel, u64& desc, u8 fault_vector)
{
    const bool ldt = sel & 4;
    const u64 index = sel & 0xfff8;
    if (ldt && (s.ldtr.ar & ar::UNUSABLE)) return fault(fault_vector, ec_of(sel));
    const DescriptorTable t = ldt ? DescriptorTable{s.ldtr.base, s.ldtr.limit} : s.gdtr;
    if (index + 7 > t.limit) return fault(fault_vector, ec_of(sel));
    u8 raw[8] = {};
    if (!read_linear(t.base + index, raw, 8, AccessKind::READ, true)) return false;
    desc = 0;
    for (unsigned i = 0; i < 8; ++i) desc |= u64{raw[i]} << (8 * i);
    return true;
}

bool Emulator::mark_accessed(u16 sel, u64 desc)
{
    if (desc & (u64{1} << 40)) return true;
    const bool ldt = sel & 4;
    const u64 base = ldt ? s.ldtr.base : s.gdtr.base;
    const u8 byte = static_cast<u8>((desc >> 40) | 1);
    return write_linear(base + (sel & 0xfff8) + 5, &byte, 1, true);
}

// Loads a data or stack segment in protected mode for privilege level `level`.
static bool load_protected(Emulator& e, Seg seg, u16 sel, unsigned level)
{
    Segment& sg = e.s.sreg(seg);
    if (seg == Seg::SS) {
        if (ec_of(sel) == 0) {
            // A null SS is legal only in 64-bit mode below ring 3 (SDM MOV, 64-bit mode exceptions).
            if (e.long64() && level < 3 && (sel & 3) == level) {
                sg = Segment{sel, 0, 0, ar::UNUSABLE | (level << ar::DPL_SHIFT) | ar::DB};
                return true;
            }
            return e.gp0();
        }
        if ((sel & 3) != level) return e.fault(vec::GP, ec_of(sel));
        u64 d = 0;
        if (!e.read_descriptor(sel, d, vec::GP)) return false;
        const u32 a = desc_ar(d);
        if (!is_data(a) || !(a & 2) || dpl_of(a) != level) return e.fault(vec::GP, ec_of(sel));
        if (!(a & ar::P)) return e.fault(vec::SS, ec_of(sel));
        if (!e.mark_accessed(sel, d)) return false;
        sg = from_descriptor(sel, d);
        return true;
    }
    if (ec_of(sel) == 0) {  // a null selector loads an unusable segment
        sg = Segment{sel, 0, 0, ar::UNUSABLE};
        return true;
    }
    u64 d = 0;
    if (!e.read_descriptor(sel, d, vec::GP)) return false;
    const u32 a = desc_ar(d);
    if (!(a & ar::S) || (is_code(a) && !(a & 2))) return e.fault(vec::GP, ec_of(sel));
    const bool conforming_code = is_code(a) && (a & 4);
    if (!conforming_code && ((sel & 3) > dpl_of(a) || level > dpl_of(a))) return e.fault(vec::GP, ec_of(sel));
    if (!(a & ar::P)) return e.fault(vec::NP, ec_of(sel));
    if (!e.mark_accessed(sel, d)) return false;
    sg = from_descriptor(sel, d);
    return true;
}

bool Emulator::load_system_segment(bool task_register, u16 sel)
{
    // SDM LLDT / LTR "Operation": a GDT system descriptor of type LDT (2) or
    // available TSS (1 or 9); 16 bytes in IA-32e mode (SDM 3A 8.2.3).
    result.effects |= effect::DESC_TABLE;
    if (ec_of(sel) == 0) {
        if (task_register) return gp0();
        s.ldtr = Segment{sel, 0, 0, ar::UNUSABLE};
        return true;
    }
    if (sel & 4) return fault(vec::GP, ec_of(sel));
    u64 d = 0;
    if (!read_descriptor(sel, d, vec::GP)) return false;
    const u32 a = desc_ar(d);
    const u32 type = a & ar::TYPE_MASK;
    const bool ok_type = task_register ? (type == 1 || type == 9) : type == 2;
    if ((a & ar::S) || !ok_type) return fault(vec::GP, ec_of(sel));
    if (!(a & ar::P)) return fault(vec::NP, ec_of(sel));
    u64 base = desc_base(d);
    if (s.efer & efer::LMA) {
        if (u32{sel & 0xfff8u} + 15 > s.gdtr.limit) return fault(vec::GP, ec_of(sel));
        u8 hi[4] = {};
        if (!read_linear(s.gdtr.base + (sel & 0xfff8) + 8, hi, 4, AccessKind::READ, true)) return false;
        base |= u64{static_cast<u32>(hi[0] | (hi[1] << 8) | (hi[2] << 16) | (u32{hi[3]} << 24))} << 32;
    }
    Segment seg{sel, base, desc_limit(d), a};
    if (task_register) {
        // LTR marks the TSS busy, in the GDT and in the loaded TR.
        const u8 byte = static_cast<u8>((d >> 40) | 2);
        if (!write_linear(s.gdtr.base + (sel & 0xfff8) + 5, &byte, 1, true)) return false;
        seg.ar |= 2;
        s.tr = seg;
    } else {
        s.ldtr = seg;
    }
    return true;
}

bool Emulator::load_sreg(Seg seg, u16 sel)
{
    result.effects |= effect::SEG_LOAD;
    if (mode == CpuMode::REAL) {
        s.sreg(seg) = real_mode_segment(s.sreg(seg), sel);
        return true;
    }
    if (mode == CpuMode::VM86) {
        s.sreg(seg) = vm86_segment(sel);
        return true;
    }
    return load_protected(*this, seg, sel, cpl(s));
}

namespace {

// Checks a code-segment descriptor for a far JMP/CALL (SDM JMP/CALL "Operation",
// "far jump/call to conforming/non-conforming code segment").
bool check_code_for_transfer(Emulator& e, u16 sel, u64 d, unsigned current_cpl)
{
    const u32 a = desc_ar(d);
    if (!is_code(a)) return e.fault(vec::GP, ec_of(sel));
    if (a & 4) {
        if (dpl_of(a) > current_cpl) return e.fault(vec::GP, ec_of(sel));
    } else if ((sel & 3) > current_cpl || dpl_of(a) != current_cpl) {
        return e.fault(vec::GP, ec_of(sel));
    }
    if (!(a & ar::P)) return e.fault(vec::NP, ec_of(sel));
    if ((e.s.efer & efer::LMA) && (a & ar::L) && (a & ar::DB)) return e.fault(vec::GP, ec_of(sel));
    return true;
}

// Offset check and RIP update once the new CS is in place.
bool enter_code(Emulator& e, u64 offset, unsigned size)
{
    e.mode = cpu_mode(e.s);
    if (e.mode == CpuMode::LONG64) {
        if (static_cast<u64>(static_cast<i64>(offset << 16) >> 16) != offset) return e.gp0();
    } else {
        offset &= alu::size_mask(size < 4 ? size : 4);
        if (offset > e.s.sreg(Seg::CS).limit) return e.gp0();
    }
    e.s.rip = offset;
    e.branched = true;
    return true;
}

}  // namespace

bool Emulator::load_cs_far(u16 sel, u64 offset, bool is_call, unsigned size)
{
    result.effects |= effect::SEG_LOAD;
    const u64 ret = next_ip();
    const u16 old_cs = s.sreg(Seg::CS).selector;
    if (mode == CpuMode::REAL || mode == CpuMode::VM86) {
        if (is_call && (!push(old_cs, size) || !push(ret, size))) return false;
        s.sreg(Seg::CS) = mode == CpuMode::REAL ? real_mode_segment(s.sreg(Seg::CS), sel) : vm86_segment(sel);
        return enter_code(*this, offset, size);
    }
    if (ec_of(sel) == 0) return gp0();
    u64 d = 0;
    if (!read_descriptor(sel, d, vec::GP)) return false;
    if (!(desc_ar(d) & ar::S)) return far_to_system(sel, d, is_call);  // TSS, task gate (call gates: unhandled)
    const unsigned c = cpl(s);
    if (!check_code_for_transfer(*this, sel, d, c)) return false;
    if (is_call && (!push(old_cs, size) || !push(ret, size))) return false;
    if (!mark_accessed(sel, d)) return false;
    s.sreg(Seg::CS) = from_descriptor(static_cast<u16>((sel & ~3) | c), d);
    return enter_code(*this, offset, size);
}

namespace {

// After a return to an outer level, data segments the new level may not use
// become null (SDM RET "RETURN-TO-OUTER-PRIVILEGE-LEVEL").
void null_inaccessible(Emulator& e, unsigned level)
{
    constexpr Seg kData[] = {Seg::ES, Seg::DS, Seg::FS, Seg::GS};
    for (Seg sg : kData) {
        Segment& r = e.s.sreg(sg);
        if (r.ar & ar::UNUSABLE) continue;
        const bool conforming_code = is_code(r.ar) && (r.ar & 4);
        if (!conforming_code && dpl_of(r.ar) < level) r = Segment{0, 0, 0, ar::UNUSABLE};
    }
}

// Common part of RETF and IRET in protected mode once CS:IP (and for IRET the
// flags) are popped: checks the new CS and, for an outer level, pops SS:SP.
bool return_far(Emulator& e, u16 sel, u64 ip, unsigned size, u16 pop_bytes, bool always_pop_ss)
{
    if (ec_of(sel) == 0) return e.gp0();
    const unsigned c = cpl(e.s);
    const unsigned rpl = sel & 3;
    if (rpl < c) return e.fault(vec::GP, ec_of(sel));
    u64 d = 0;
    if (!e.read_descriptor(sel, d, vec::GP)) return false;
    const u32 a = desc_ar(d);
    if (!is_code(a)) return e.fault(vec::GP, ec_of(sel));
    if ((a & 4) ? dpl_of(a) > rpl : dpl_of(a) != rpl) return e.fault(vec::GP, ec_of(sel));
    if (!(a & ar::P)) return e.fault(vec::NP, ec_of(sel));
    const u64 spm = alu::size_mask(e.stack_size());
    e.s.gpr[RSP] = (e.s.gpr[RSP] & ~spm) | ((e.s.gpr[RSP] + pop_bytes) & spm);
    if (rpl == c && !always_pop_ss) {
        if (!e.mark_accessed(sel, d)) return false;
        e.s.sreg(Seg::CS) = from_descriptor(sel, d);
        return enter_code(e, ip, size);
    }
    u64 new_sp = 0, new_ss = 0;
    if (!e.pop(new_sp, size) || !e.pop(new_ss, size)) return false;
    if (!e.mark_accessed(sel, d)) return false;
    e.s.sreg(Seg::CS) = from_descriptor(sel, d);
    e.mode = cpu_mode(e.s);
    if (!load_protected(e, Seg::SS, static_cast<u16>(new_ss), rpl)) return false;
    e.s.gpr[RSP] = (size == 8 || e.long64()) ? new_sp + pop_bytes : ((new_sp + pop_bytes) & alu::size_mask(e.stack_size()));
    if (rpl > c) null_inaccessible(e, rpl);
    return enter_code(e, ip, size);
}

}  // namespace

bool Emulator::far_return(unsigned size, u16 pop_bytes)
{
    result.effects |= effect::SEG_LOAD;
    if (long64() && opsize == 4 && (rex & 8)) size = 8;
    u64 ip = 0, cs = 0;
    if (!pop(ip, size) || !pop(cs, size)) return false;
    if (mode == CpuMode::REAL || mode == CpuMode::VM86) {
        s.sreg(Seg::CS) = mode == CpuMode::REAL ? real_mode_segment(s.sreg(Seg::CS), static_cast<u16>(cs))
                                                : vm86_segment(static_cast<u16>(cs));
        const u64 m = alu::size_mask(stack_size());
        s.gpr[RSP] = (s.gpr[RSP] & ~m) | ((s.gpr[RSP] + pop_bytes) & m);
        return enter_code(*this, ip, size);
    }
    return return_far(*this, static_cast<u16>(cs), ip, size, pop_bytes, false);
}

bool Emulator::iret(unsigned size)
{
    result.effects |= effect::SOFT_INT;
    const unsigned iopl = static_cast<unsigned>((s.rflags & flag::IOPL) >> 12);
    if (mode == CpuMode::VM86 && iopl < 3) return gp0();
    if (mode != CpuMode::REAL && mode != CpuMode::VM86 && (s.rflags & flag::NT)) {
        // A return to the task in the back link (SDM IRET "TASK-RETURN");
        // in IA-32e mode #GP(0).
        if (s.efer & efer::LMA) return gp0();
        u8 link[2] = {};
        if (!read_linear(s.tr.base, link, 2, AccessKind::READ, true)) return false;
        return switch_task(static_cast<u16>(link[0] | link[1] << 8), TaskSwitchSource::IRET);
    }
    u64 ip = 0, cs = 0, fl = 0;
    if (!pop(ip, size) || !pop(cs, size) || !pop(fl, size)) return false;
    if (mode == CpuMode::REAL || mode == CpuMode::VM86) {
        // SDM IRET "REAL-ADDRESS-MODE": VM, VIF, VIP are kept; vm86 keeps IOPL too.
        u64 mask = size == 4 ? u64{0x257fd5} : u64{0x7fd5};
        if (mode == CpuMode::VM86) mask &= ~flag::IOPL;
        s.rflags = (s.rflags & ~mask) | (fl & mask) | flag::FIXED1;
        s.sreg(Seg::CS) = mode == CpuMode::REAL ? real_mode_segment(s.sreg(Seg::CS), static_cast<u16>(cs))
                                                : vm86_segment(static_cast<u16>(cs));
        return enter_code(*this, ip, size);
    }
    const unsigned c = cpl(s);
    if ((fl & flag::VM) && c == 0 && size == 4 && !(s.efer & efer::LMA)) {
        // Return to virtual-8086 mode: ESP, SS, ES, DS, FS, GS follow on the stack.
        u64 v[6] = {};
        for (u64& x : v)
            if (!pop(x, 4)) return false;
        s.rflags = (fl & 0x3f7fd5) | flag::FIXED1 | flag::VM;
        s.sreg(Seg::CS) = vm86_segment(static_cast<u16>(cs));
        s.sreg(Seg::SS) = vm86_segment(static_cast<u16>(v[1]));
        s.sreg(Seg::ES) = vm86_segment(static_cast<u16>(v[2]));
        s.sreg(Seg::DS) = vm86_segment(static_cast<u16>(v[3]));
        s.sreg(Seg::FS) = vm86_segment(static_cast<u16>(v[4]));
        s.sreg(Seg::GS) = vm86_segment(static_cast<u16>(v[5]));
        s.gpr[RSP] = v[0] & 0xffffffff;
        s.rip = ip & 0xffff;
        branched = true;
        mode = CpuMode::VM86;
        return true;
    }
    // SDM IRET "RETURN-TO-SAME/OUTER-PRIVILEGE-LEVEL": what the old CPL may change.
    u64 mask = flag::CF | flag::PF | flag::AF | flag::ZF | flag::SF | flag::TF | flag::DF | flag::OF | flag::NT |
               flag::RF | flag::AC | flag::ID;
    if (c <= iopl) mask |= flag::IF;
    if (c == 0) mask |= flag::IOPL | flag::VIF | flag::VIP;
    if (size == 2) mask &= 0xffff;
    const u64 new_flags = (s.rflags & ~mask) | (fl & mask) | flag::FIXED1;
    if (!return_far(*this, static_cast<u16>(cs), ip, size, 0, long64())) return false;
    s.rflags = new_flags;
    return true;
}

bool Emulator::deliver(u8 vector, bool has_error_code, u32 error_code, u64 return_rip, bool software)
{
    result.effects |= effect::SOFT_INT;
    const u32 ext = software ? 0 : 1;
    const u32 idt_ec = (u32{vector} << 3) | 2 | ext;
    if (mode == CpuMode::REAL) {
        // SDM 3A 20.1.4: FLAGS, CS, IP on the stack; CS:IP from the IVT.
        if (u64{vector} * 4 + 3 > s.idtr.limit) return gp0();
        u8 raw[4] = {};
        if (!read_linear((s.idtr.base + u64{vector} * 4) & 0xffffffff, raw, 4, AccessKind::READ, true)) return false;
        const u16 ip = static_cast<u16>(raw[0] | (raw[1] << 8));
        const u16 cs = static_cast<u16>(raw[2] | (raw[3] << 8));
        if (!push(s.rflags & 0xffff, 2) || !push(s.sreg(Seg::CS).selector, 2) || !push(return_rip & 0xffff, 2))
            return false;
        s.rflags &= ~(flag::IF | flag::TF | flag::AC | flag::RF);
        s.sreg(Seg::CS) = real_mode_segment(s.sreg(Seg::CS), cs);
        s.rip = ip;
        branched = true;
        return true;
    }
    if (mode == CpuMode::VM86) return unhandled();  // the vm86 monitor's business
    const bool ia32e = s.efer & efer::LMA;
    const unsigned gate_size = ia32e ? 16 : 8;
    if (u64{vector} * gate_size + gate_size - 1 > s.idtr.limit) return fault(vec::GP, idt_ec);
    u8 raw[16] = {};
    if (!read_linear(s.idtr.base + u64{vector} * gate_size, raw, gate_size, AccessKind::READ, true)) return false;
    u64 g = 0, g_hi = 0;
    for (unsigned i = 0; i < 8; ++i) g |= u64{raw[i]} << (8 * i);
    for (unsigned i = 8; i < gate_size; ++i) g_hi |= u64{raw[i]} << (8 * (i - 8));
    const unsigned type = static_cast<unsigned>((g >> 40) & 0xf);
    const bool valid = ia32e ? (type == 0xe || type == 0xf) : (type == 6 || type == 7 || type == 0xe || type == 0xf);
    if (type == 5 && !ia32e) return unhandled();  // task gate
    if (!valid) return fault(vec::GP, idt_ec);
    const unsigned c = cpl(s);
    if (software && ((g >> 45) & 3) < c) return fault(vec::GP, idt_ec);
    if (!((g >> 47) & 1)) return fault(vec::NP, idt_ec);
    const u16 sel = static_cast<u16>(g >> 16);
    u64 offset = (g & 0xffff) | (((g >> 48) & 0xffff) << 16);
    if (ia32e) offset |= (g_hi & 0xffffffff) << 32;
    const unsigned ist = ia32e ? static_cast<unsigned>((g >> 32) & 7) : 0;
    if (ec_of(sel) == 0) return fault(vec::GP, ext);
    u64 d = 0;
    if (!read_descriptor(sel, d, vec::GP)) return false;
    const u32 a = desc_ar(d);
    if (!is_code(a) || dpl_of(a) > c) return fault(vec::GP, ec_of(sel) | ext);
    if (!(a & ar::P)) return fault(vec::NP, ec_of(sel) | ext);
    if (ia32e && (!(a & ar::L) || (a & ar::DB))) return fault(vec::GP, ec_of(sel) | ext);
    const unsigned new_cpl = (a & 4) ? c : dpl_of(a);
    const unsigned push_size = ia32e ? 8 : (type & 8) ? 4 : 2;
    const u64 old_ss = s.sreg(Seg::SS).selector, old_sp = s.gpr[RSP], old_flags = s.rflags;
    const u16 old_cs = s.sreg(Seg::CS).selector;
    const bool switch_stack = new_cpl < c || ist != 0;
    if (switch_stack) {
        // The new stack comes from the TSS (SDM 3A 7.2.1 for 32-bit, 7.7 for 64-bit).
        const u32 tr_type = s.tr.ar & ar::TYPE_MASK;
        if (tr_type != 9 && tr_type != 11) return unhandled();  // 16-bit TSS
        if (ia32e) {
            const u64 slot = ist ? 0x24 + 8 * (ist - 1) : 4 + 8 * u64{new_cpl};
            if (slot + 7 > s.tr.limit) return fault(vec::TS, ec_of(s.tr.selector));
            u8 r8[8] = {};
            if (!read_linear(s.tr.base + slot, r8, 8, AccessKind::READ, true)) return false;
            u64 rsp = 0;
            for (unsigned i = 0; i < 8; ++i) rsp |= u64{r8[i]} << (8 * i);
            if (new_cpl < c) s.sreg(Seg::SS) = Segment{static_cast<u16>(new_cpl), 0, 0, ar::UNUSABLE | (new_cpl << ar::DPL_SHIFT) | ar::DB};
            s.gpr[RSP] = rsp;
        } else {
            const u64 slot = 4 + 8 * u64{new_cpl};
            if (slot + 5 > s.tr.limit) return fault(vec::TS, ec_of(s.tr.selector));
            u8 r8[6] = {};
            if (!read_linear(s.tr.base + slot, r8, 6, AccessKind::READ, true)) return false;
            const u32 esp = r8[0] | (u32{r8[1]} << 8) | (u32{r8[2]} << 16) | (u32{r8[3]} << 24);
            const u16 ss = static_cast<u16>(r8[4] | (r8[5] << 8));
            if (!load_protected(*this, Seg::SS, ss, new_cpl)) {
                if (result.vector == vec::GP || result.vector == vec::SS) result.vector = vec::TS;
                return false;
            }
            s.gpr[RSP] = esp;
        }
    }
    if (ia32e) {
        mode = CpuMode::LONG64;  // delivery in IA-32e mode always goes to 64-bit code
        s.gpr[RSP] &= ~u64{0xf};
    }
    if (switch_stack || ia32e) {
        if (!push(old_ss, push_size) || !push(old_sp, push_size)) return false;
    }
    if (!push(old_flags, push_size) || !push(old_cs, push_size) || !push(return_rip, push_size)) return false;
    if (has_error_code && !push(error_code, push_size)) return false;
    if (!mark_accessed(sel, d)) return false;
    s.sreg(Seg::CS) = from_descriptor(static_cast<u16>((sel & ~3) | new_cpl), d);
    s.rflags &= ~(flag::TF | flag::NT | flag::RF | flag::VM);
    if (!(type & 1)) s.rflags &= ~flag::IF;  // interrupt gate, not trap gate
    return enter_code(*this, offset, push_size);
}

}  // namespace xeno::emu
