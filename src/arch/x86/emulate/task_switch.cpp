// Hardware task switches (SDM Vol. 3A 7.3, "Task Switching"), for the
// hypervisor: VMX never switches tasks in non-root operation (SDM Vol. 3C
// 25.4.2), it exits, and the hypervisor completes the switch on the guest's
// state. 32-bit TSSs (Figure 7-2); a 16-bit TSS is reported UNHANDLED.
//
// Order, as the processor does it: the new TSS descriptor is checked, the
// whole new TSS is read (with the old CR3: CR3 is in it), the old task's
// state is saved in its TSS and busy flags and the back link are updated,
// all still in the old address space. Then the new state is loaded: TR,
// CR0.TS, CR3, LDTR, EFLAGS, EIP, the general registers, the segment
// registers. Faults from here on belong to the new task (effect
// TASK_SWITCHED), as on hardware.
#include "arch/x86/emulate/emulator.hpp"

#include "arch/x86/vmx/vmx_arch.hpp"

namespace xeno::emu {

namespace ar = vmx::ar;
namespace vec = vmx::vector;

namespace {

// 32-bit TSS layout (SDM Vol. 3A Figure 7-2).
constexpr u32 kTss32MinLimit = 0x67;
constexpr unsigned kLink = 0x00, kCr3 = 0x1c, kEip = 0x20, kEflags = 0x24, kGprs = 0x28, kSelectors = 0x48,
                   kLdt = 0x60;
constexpr unsigned kTss32Bytes = 0x68;

constexpr u32 kTypeBusy = 2;  // type bit 1 of a TSS descriptor

u32 le32(const u8* p) { return u32{p[0]} | u32{p[1]} << 8 | u32{p[2]} << 16 | u32{p[3]} << 24; }
u16 le16(const u8* p) { return static_cast<u16>(p[0] | p[1] << 8); }

// The GDT entry of `sel` (task switches never use the LDT for TSSs).
u64 gdt_entry_address(const CpuState& s, u16 sel) { return s.gdtr.base + (sel & 0xfff8u); }

class TaskSwitcher {
public:
    TaskSwitcher(Emulator& e, const TaskSwitchRequest& r) : e_(e), r_(r) {}

    bool run()
    {
        return check_new_tss() && read_new_tss() && save_old_task() && e_.commit_writes() && load_new_task() &&
               push_error_code() && e_.commit_writes();
    }

private:
    CpuState& s() { return e_.s; }
    bool iret() const { return r_.source == TaskSwitchSource::IRET; }
    bool nests() const { return r_.source == TaskSwitchSource::CALL || r_.source == TaskSwitchSource::IDT_GATE; }

    // Step 4 of SDM 25.4.2 / 7.3: the TSS descriptor's type, P, S and limit.
    // A VM exit for a task switch comes only after these passed; the
    // hypervisor checks again (the guest may have changed its GDT since, on
    // another processor, or the request may come from the emulator).
    bool check_new_tss()
    {
        const u16 sel = r_.selector;
        const u8 bad_vector = iret() ? vec::TS : vec::GP;
        if (sel & 4) return e_.fault(bad_vector, ec_of(sel));
        if (!e_.read_descriptor(sel, desc_, bad_vector)) return false;
        const u32 a = desc_ar(desc_);
        const u32 type = a & ar::TYPE_MASK;
        if ((a & ar::S) || !is_tss_type(type)) return e_.fault(bad_vector, ec_of(sel));
        const bool busy = (type & kTypeBusy) != 0;
        if (busy != iret()) return e_.fault(bad_vector, ec_of(sel));  // IRET returns to a busy task; the rest need an available one
        if (!(a & ar::P)) return e_.fault(vec::NP, ec_of(sel));
        if (type == 1 || type == 3) return e_.unhandled();  // 16-bit TSS
        if (desc_limit(desc_) < kTss32MinLimit) return e_.fault(vec::TS, ec_of(sel));
        const u32 old_type = s().tr.ar & ar::TYPE_MASK;
        if (old_type != 11 && old_type != 9) return e_.unhandled();  // the current task has a 16-bit TSS
        if (s().tr.limit < kTss32MinLimit) return e_.fault(vec::TS, ec_of(s().tr.selector));
        return true;
    }

    bool read_new_tss() { return e_.read_linear(desc_base(desc_), image_, kTss32Bytes, AccessKind::READ, true); }

    bool write32(u64 la, u32 v) { return e_.write_linear(la, &v, 4, true); }
    bool write16(u64 la, u16 v) { return e_.write_linear(la, &v, 2, true); }

    bool set_busy(u16 sel, bool busy)
    {
        const u64 at = gdt_entry_address(s(), sel) + 5;
        u8 type_byte = 0;
        if (!e_.read_linear(at, &type_byte, 1, AccessKind::READ, true)) return false;
        type_byte = busy ? type_byte | kTypeBusy : type_byte & ~kTypeBusy;
        return e_.write_linear(at, &type_byte, 1, true);
    }

    // Steps 8-11: the old task's dynamic fields, its busy flag (JMP, IRET),
    // the new task's back link (CALL, task gate) and busy flag (not IRET).
    bool save_old_task()
    {
        const u64 old = s().tr.base;
        u64 flags = s().rflags;
        if (iret()) flags &= ~flag::NT;
        bool ok = write32(old + kEip, static_cast<u32>(r_.return_rip)) && write32(old + kEflags, static_cast<u32>(flags));
        for (unsigned i = 0; i < 8 && ok; ++i) ok = write32(old + kGprs + 4 * i, static_cast<u32>(s().gpr[i]));
        for (unsigned i = 0; i < kSegCount && ok; ++i) ok = write16(old + kSelectors + 4 * i, s().seg[i].selector);
        if (!ok) return false;
        if (!nests() && !set_busy(s().tr.selector, false)) return false;
        if (nests() && !write16(desc_base(desc_) + kLink, s().tr.selector)) return false;
        if (!iret() && !set_busy(r_.selector, true)) return false;
        return true;
    }

    // Steps 12-14: the new task's state. From here the switch has happened.
    bool load_new_task()
    {
        e_.result.effects |= effect::TASK_SWITCHED | effect::SEG_LOAD | effect::DESC_TABLE;
        s().tr = Segment{r_.selector, desc_base(desc_), desc_limit(desc_), desc_ar(desc_) | kTypeBusy};
        if (!(s().cr0 & cr0::TS)) e_.result.effects |= effect::MODE_CHANGE;
        s().cr0 |= cr0::TS;
        u64 flags = (le32(image_ + kEflags) & 0x3f7fd7u) | flag::FIXED1;  // the defined EFLAGS bits
        if (nests()) flags |= flag::NT;
        s().rflags = flags;
        s().rip = le32(image_ + kEip);
        for (unsigned i = 0; i < 8; ++i) s().gpr[i] = le32(image_ + kGprs + 4 * i);
        // Selectors first, caches unusable until loaded: a fault while loading
        // leaves the new task's selectors in place (SDM 7.3 step 14 note).
        for (unsigned i = 0; i < kSegCount; ++i) {
            const u16 sel = le16(image_ + kSelectors + 4 * i);
            s().seg[i] = Segment{sel, 0, 0, ar::UNUSABLE};
        }
        s().ldtr = Segment{le16(image_ + kLdt), 0, 0, ar::UNUSABLE};
        if ((s().cr0 & cr0::PG) && !e_.write_cr(3, le32(image_ + kCr3))) return false;
        e_.mode = cpu_mode(s());
        if (!load_ldt()) return false;
        if (e_.mode == CpuMode::VM86) {
            for (unsigned i = 0; i < kSegCount; ++i) s().seg[i] = vm86_segment(s().seg[i].selector);
            return true;
        }
        return load_cs() && load_ss() && load_data(Seg::DS) && load_data(Seg::ES) && load_data(Seg::FS) &&
               load_data(Seg::GS);
    }

    bool load_ldt()
    {
        const u16 sel = s().ldtr.selector;
        if (ec_of(sel) == 0) return true;
        if (sel & 4) return e_.fault(vec::TS, ec_of(sel));
        u64 d = 0;
        if (!e_.read_descriptor(sel, d, vec::TS)) return false;
        const u32 a = desc_ar(d);
        if ((a & ar::S) || (a & ar::TYPE_MASK) != 2 || !(a & ar::P)) return e_.fault(vec::TS, ec_of(sel));
        s().ldtr = Segment{sel, desc_base(d), desc_limit(d), a};
        return true;
    }

    bool load_descriptor(Seg seg, u64 d)
    {
        const u16 sel = s().sreg(seg).selector;
        if (!e_.mark_accessed(sel, d)) return false;
        s().sreg(seg) = from_descriptor(sel, d);
        return true;
    }

    // CS: a code segment; its RPL becomes the CPL.
    bool load_cs()
    {
        const u16 sel = s().sreg(Seg::CS).selector;
        if (ec_of(sel) == 0) return e_.fault(vec::TS, 0);
        u64 d = 0;
        if (!e_.read_descriptor(sel, d, vec::TS)) return false;
        const u32 a = desc_ar(d);
        const unsigned rpl = sel & 3;
        if (!is_code(a)) return e_.fault(vec::TS, ec_of(sel));
        const bool conforming = (a & 4) != 0;
        if (conforming ? dpl_of(a) > rpl : dpl_of(a) != rpl) return e_.fault(vec::TS, ec_of(sel));
        if (!(a & ar::P)) return e_.fault(vec::NP, ec_of(sel));
        cpl_ = rpl;
        return load_descriptor(Seg::CS, d);
    }

    // SS: a writable data segment at the CPL.
    bool load_ss()
    {
        const u16 sel = s().sreg(Seg::SS).selector;
        if (ec_of(sel) == 0 || (sel & 3) != cpl_) return e_.fault(vec::TS, ec_of(sel));
        u64 d = 0;
        if (!e_.read_descriptor(sel, d, vec::TS)) return false;
        const u32 a = desc_ar(d);
        if (!(a & ar::S) || is_code(a) || !(a & 2) || dpl_of(a) != cpl_) return e_.fault(vec::TS, ec_of(sel));
        if (!(a & ar::P)) return e_.fault(vec::SS, ec_of(sel));
        return load_descriptor(Seg::SS, d);
    }

    // DS, ES, FS, GS: data or readable code, reachable from the CPL; null
    // leaves the segment unusable.
    bool load_data(Seg seg)
    {
        const u16 sel = s().sreg(seg).selector;
        if (ec_of(sel) == 0) return true;
        u64 d = 0;
        if (!e_.read_descriptor(sel, d, vec::TS)) return false;
        const u32 a = desc_ar(d);
        if (!(a & ar::S) || (is_code(a) && !(a & 2))) return e_.fault(vec::TS, ec_of(sel));
        const bool conforming_code = is_code(a) && (a & 4);
        if (!conforming_code && (dpl_of(a) < cpl_ || dpl_of(a) < (sel & 3u))) return e_.fault(vec::TS, ec_of(sel));
        if (!(a & ar::P)) return e_.fault(vec::NP, ec_of(sel));
        return load_descriptor(seg, d);
    }

    // An exception through a task gate with an error code pushes it on the
    // new task's stack (SDM 6.12.2).
    bool push_error_code()
    {
        if (!r_.has_error_code) return true;
        return e_.push(r_.error_code, 4);
    }

    Emulator& e_;
    const TaskSwitchRequest& r_;
    u64 desc_ = 0;
    u8 image_[kTss32Bytes] = {};
    unsigned cpl_ = 3;
};

}  // namespace

bool Emulator::switch_task(u16 tss_selector, TaskSwitchSource source)
{
    TaskSwitchRequest r;
    r.selector = tss_selector;
    r.source = source;
    r.return_rip = next_ip();
    TaskSwitcher t(*this, r);
    if (!t.run()) return false;
    branched = true;  // RIP is the new task's
    return true;
}

// A far JMP/CALL whose selector names a system descriptor, in protected
// mode: a TSS or a task gate switches tasks (SDM JMP/CALL "Operation",
// TASK-GATE and TASK-STATE-SEGMENT); call gates are not emulated.
bool Emulator::far_to_system(u16 sel, u64 d, bool is_call)
{
    if (mode != CpuMode::PROTECTED) return unhandled();  // IA-32e: call gates only
    const u32 a = desc_ar(d);
    const u32 type = a & ar::TYPE_MASK;
    const unsigned privilege = cpl(s) > (sel & 3u) ? cpl(s) : (sel & 3u);
    u16 tss = sel;
    if (type == 5) {
        if (dpl_of(a) < privilege) return fault(vec::GP, ec_of(sel));
        if (!(a & ar::P)) return fault(vec::NP, ec_of(sel));
        tss = static_cast<u16>(d >> 16);
    } else if (is_tss_type(type)) {
        if (dpl_of(a) < privilege) return fault(vec::GP, ec_of(sel));
    } else {
        return unhandled();
    }
    return switch_task(tss, is_call ? TaskSwitchSource::CALL : TaskSwitchSource::JMP);
}

EmulateResult task_switch(CpuState& state, const EmulateOps& ops, const TaskSwitchRequest& request)
{
    Emulator e(state, ops);
    e.mode = cpu_mode(state);
    if (e.mode != CpuMode::PROTECTED && e.mode != CpuMode::VM86) {
        // No task switching in real mode (nothing to switch) or in IA-32e mode (#GP, SDM 7.7).
        e.gp0();
        state = e.saved;
        return e.result;
    }
    TaskSwitcher t(e, request);
    if (t.run()) {
        e.result.outcome = EmulateOutcome::OK;
        return e.result;
    }
    if (e.result.effects & effect::TASK_SWITCHED) {
        // The fault belongs to the new task: its state stays, with what it
        // had written (accessed bits) committed.
        const EmulateResult fault = e.result;
        (void)e.commit_writes();
        e.result = fault;
        return e.result;
    }
    state = e.saved;
    return e.result;
}

}  // namespace xeno::emu
