// Event delivery without IA-32e mode: real mode through the IVT (SDM 20.1.4),
// protected mode through the IDT (6.12), virtual-8086 mode through the IDT to
// a ring-0 handler (20.3.1.1) or, for INT n with CR4.VME, through the
// real-mode IVT (20.3.3, Table 20-2).
#include "sim/vmx-model/event_delivery_internal.hpp"

namespace xeno::sim::detail {

namespace {

using vmx::vector::GP;
using vmx::vector::NP;
using vmx::vector::SS;
using vmx::vector::TS;

u16 le16(const u8* p) { return static_cast<u16>(p[0] | (p[1] << 8)); }
u32 le32(const u8* p) { return le16(p) | (static_cast<u32>(le16(p + 2)) << 16); }

unsigned stack_bits(const DeliverySegment& ss) { return (ss.ar & vmx::ar::DB) != 0 ? 32 : 16; }

DeliverySegment null_segment()
{
    DeliverySegment seg;
    seg.selector = 0;
    seg.base = 0;
    seg.limit = 0;
    seg.ar = vmx::ar::UNUSABLE;
    return seg;
}

// Pushes FLAGS, CS, IP on the 16-bit stack and loads CS:IP from a 4-byte
// IVT entry at `ivt_entry` (real mode, and vm86 redirection).
DeliveryResult deliver_through_ivt(Delivery& d, u64 ivt_entry, bool table_supervisor, u16 flags_image,
                                   Stack& stack)
{
    u8 entry[4] = {};
    XENO_DELIVERY_TRY(d.read(ivt_entry, entry, sizeof entry, table_supervisor));
    Frame f;
    f.width = 2;
    f.push(flags_image);
    f.push(d.s.cs.selector);
    f.push(d.return_rip() & 0xffffu);
    XENO_DELIVERY_TRY(d.push_frame(stack, f));

    const u16 selector = le16(entry + 2);
    d.s.cs.selector = selector;
    d.s.cs.base = u64{selector} << 4;  // limit and AR stay as they are (20.1.1)
    d.s.rip = le16(entry);
    d.s.rsp = stack.sp;
    return {};
}

}  // namespace

DeliveryResult deliver_real(Delivery& d)
{
    // INT pseudocode, REAL-ADDRESS-MODE: the 4-byte vector must fit the IDTR
    // limit, else #GP; stack overflow is #SS. Neither has an error code in
    // real mode, and the caller escalates them (Table 6-5).
    const u32 entry = u32{d.ev.vector} * 4;
    if (entry + 3 > d.s.idtr_limit)
        return d.fault_no_code(GP);
    Stack stack;
    stack.ss = d.s.ss;
    stack.sp = d.s.rsp;
    stack.address_bits = stack_bits(d.s.ss);
    stack.supervisor = true;
    stack.fault_has_error_code = false;
    const u16 flags_image = static_cast<u16>(d.pushed_rflags());
    XENO_DELIVERY_TRY(deliver_through_ivt(d, (d.s.idtr_base + entry) & 0xffffffffu, true, flags_image, stack));
    d.s.rflags &= ~(rflags::IF | rflags::TF | rflags::AC | rflags::RF);
    return {};
}

DeliveryResult deliver_vm86_software_interrupt(Delivery& d, bool& handled)
{
    // Table 20-2. Method 1 (VME=0, IOPL=3) and method 4 (VME=1, IOPL=3, bit
    // set) go through the IDT like any INT n; methods 2 and 3 (IOPL<3 without
    // redirection) are #GP(0); methods 5 and 6 (bit clear) redirect through
    // the 8086 IVT at linear 0, method 6 virtualising IF as VIF.
    handled = true;
    const u64 iopl = (d.s.rflags & rflags::IOPL_MASK) >> rflags::IOPL_SHIFT;
    bool redirect = false;
    if ((d.s.cr4 & kCr4Vme) != 0) {
        // The redirection bitmap is the 32 bytes below the I/O map base of the
        // 32-bit TSS (20.3.3.4, Figure 20-5); a set bit means "not redirected".
        const u32 type = desc::ar_type(d.s.tr.ar);
        if (desc::ar_unusable(d.s.tr.ar) || (type != desc::TYPE_TSS32_BUSY && type != desc::TYPE_TSS32_AVAILABLE) ||
            d.s.tr.limit < 103)
            return d.fault(GP, 0);
        u8 io_base_bytes[2] = {};
        XENO_DELIVERY_TRY(d.read((d.s.tr.base + 102) & 0xffffffffu, io_base_bytes, 2, true));
        const u32 io_base = le16(io_base_bytes);
        const u32 byte_offset = io_base - 32u + d.ev.vector / 8u;
        if (io_base < 32 || byte_offset > d.s.tr.limit)
            return d.fault(GP, 0);
        u8 bitmap_byte = 0;
        XENO_DELIVERY_TRY(d.read((d.s.tr.base + byte_offset) & 0xffffffffu, &bitmap_byte, 1, true));
        redirect = ((bitmap_byte >> (d.ev.vector % 8u)) & 1u) == 0;
    }
    if (!redirect) {
        if (iopl == 3) {
            handled = false;  // methods 1 and 4: protected-mode handler via the IDT
            return {};
        }
        return d.fault(GP, 0);  // methods 2 and 3
    }

    u16 flags_image = static_cast<u16>(d.pushed_rflags());
    if (iopl != 3) {
        // Method 6: the pushed image shows VIF as IF and IOPL as 3.
        flags_image = static_cast<u16>((flags_image & ~(rflags::IF | rflags::IOPL_MASK)) |
                                       ((d.s.rflags & rflags::VIF) != 0 ? rflags::IF : 0) | rflags::IOPL_MASK);
    }
    Stack stack;
    stack.ss = d.s.ss;
    stack.sp = d.s.rsp;
    stack.address_bits = 16;
    stack.supervisor = false;  // the vm86 program's own stack, at CPL 3
    stack.fault_has_error_code = true;
    stack.fault_error_code = 0;
    XENO_DELIVERY_TRY(deliver_through_ivt(d, u64{d.ev.vector} * 4, false, flags_image, stack));
    d.s.rflags &= ~(rflags::TF | rflags::RF);
    d.s.rflags &= ~(iopl == 3 ? rflags::IF : rflags::VIF);
    return {};
}

DeliveryResult deliver_protected(Delivery& d)
{
    if (d.vm86() && d.ev.type == vmx::InterruptionType::SOFTWARE_INTERRUPT) {
        bool handled = false;
        const DeliveryResult r = deliver_vm86_software_interrupt(d, handled);
        if (handled || !r.delivered())
            return r;
    }

    const u8 vector = d.ev.vector;
    const u32 entry = u32{vector} * 8;
    if (entry + 7 > d.s.idtr_limit)
        return d.fault(GP, d.idt_error(vector, true));
    u8 gate_bytes[8] = {};
    XENO_DELIVERY_TRY(d.read((d.s.idtr_base + entry) & 0xffffffffu, gate_bytes, sizeof gate_bytes, true));
    const desc::Gate gate = desc::gate_from_raw(desc::Raw{le32(gate_bytes), le32(gate_bytes + 4)});

    const bool known_type = gate.type == desc::TYPE_TASK_GATE || gate.type == desc::TYPE_INTERRUPT_GATE16 ||
                            gate.type == desc::TYPE_TRAP_GATE16 || gate.type == desc::TYPE_INTERRUPT_GATE32 ||
                            gate.type == desc::TYPE_TRAP_GATE32;
    if (!gate.system || !known_type)
        return d.fault(GP, d.idt_error(vector, true));
    const unsigned cpl = d.cpl();
    if (d.is_software() && gate.dpl < cpl)
        return d.fault(GP, d.idt_error(vector, false));
    if (!gate.present)
        return d.fault(NP, d.idt_error(vector, true));
    if (gate.type == desc::TYPE_TASK_GATE) {
        XENO_DELIVERY_TRY(d.check_task_target(gate.selector, false));
        DeliveryResult r;
        r.kind = DeliveryResult::Kind::TASK_SWITCH;
        r.task_selector = gate.selector;
        return r;
    }

    const bool gate32 = gate.type == desc::TYPE_INTERRUPT_GATE32 || gate.type == desc::TYPE_TRAP_GATE32;
    const bool interrupt_gate = gate.type == desc::TYPE_INTERRUPT_GATE16 || gate.type == desc::TYPE_INTERRUPT_GATE32;
    const u64 new_eip = gate32 ? gate.offset : gate.offset & 0xffffu;

    desc::Raw cs_raw;
    DeliverySegment new_cs;
    XENO_DELIVERY_TRY(d.load_handler_cs(gate.selector, cs_raw, new_cs));
    const u64 cs_address = d.cs_descriptor_address;
    const unsigned dpl = desc::ar_dpl(new_cs.ar);
    const bool conforming = (new_cs.ar & desc::TYPE_CONFORMING) != 0;
    const bool privilege_change = !conforming && dpl < cpl;
    const bool from_vm86 = d.vm86();
    if (from_vm86 && (!privilege_change || dpl != 0))
        return d.fault(GP, d.selector_error(gate.selector));  // vm86 handlers run at ring 0 (20.3.1.1)

    Frame frame;
    frame.width = gate32 ? 4 : 2;
    Stack stack;
    desc::Raw ss_raw;
    u64 ss_address = 0;
    u16 new_ss_selector = 0;
    const unsigned new_cpl = privilege_change ? dpl : cpl;

    if (privilege_change) {
        // New SS:ESP for ring `dpl` from the current TSS (7.2.1, Figures 7-2 and 7-11).
        const u32 tss_type = desc::ar_type(d.s.tr.ar);
        const bool tss32 = tss_type == desc::TYPE_TSS32_BUSY || tss_type == desc::TYPE_TSS32_AVAILABLE;
        const bool tss16 = tss_type == desc::TYPE_TSS16_BUSY || tss_type == desc::TYPE_TSS16_AVAILABLE;
        if (desc::ar_unusable(d.s.tr.ar) || (!tss32 && !tss16))
            return d.fault(TS, d.selector_error(d.s.tr.selector));
        const u32 slot = tss32 ? (dpl << 3) + 4 : (dpl << 2) + 2;
        const u32 slot_size = tss32 ? 6 : 4;
        if (slot + slot_size - 1 > d.s.tr.limit)
            return d.fault(TS, d.selector_error(d.s.tr.selector));
        u8 bytes[8] = {};
        XENO_DELIVERY_TRY(d.read((d.s.tr.base + slot) & 0xffffffffu, bytes, tss32 ? 8 : 4, true));
        const u64 new_esp = tss32 ? le32(bytes) : le16(bytes);
        new_ss_selector = tss32 ? le16(bytes + 4) : le16(bytes + 2);

        if ((new_ss_selector & 0xfffcu) == 0)
            return d.fault(TS, d.ext ? 1u : 0u);
        XENO_DELIVERY_TRY(d.read_descriptor(new_ss_selector, TS, ss_raw, ss_address));
        const u32 ss_ar = desc::ar_from_raw(ss_raw);
        if ((new_ss_selector & 3u) != dpl || desc::ar_dpl(ss_ar) != dpl || !desc::ar_is_writable_data(ss_ar))
            return d.fault(TS, d.selector_error(new_ss_selector));
        if (!desc::ar_present(ss_ar))
            return d.fault(SS, d.selector_error(new_ss_selector));

        stack.ss = desc::segment_from_raw(new_ss_selector, ss_raw);
        stack.sp = new_esp;
        stack.address_bits = stack_bits(stack.ss);
        stack.fault_error_code = d.selector_error(new_ss_selector);
        if (from_vm86) {
            // Figure 6-5 / 20.3.1.1: GS at the highest address, so IRET to
            // vm86 pops EIP, CS, EFLAGS, ESP, SS, ES, DS, FS, GS.
            frame.push(d.s.gs.selector);
            frame.push(d.s.fs.selector);
            frame.push(d.s.ds.selector);
            frame.push(d.s.es.selector);
        }
        frame.push(d.s.ss.selector);
        frame.push(d.s.rsp);
    } else {
        stack.ss = d.s.ss;
        stack.sp = d.s.rsp;
        stack.address_bits = stack_bits(d.s.ss);
        stack.fault_error_code = d.ext ? 1u : 0u;  // #SS(EXT) for the current stack
    }
    stack.supervisor = new_cpl < 3;
    stack.fault_has_error_code = true;
    const u64 image_mask = gate32 ? 0xffffffffu : 0xffffu;
    frame.push(d.pushed_rflags() & image_mask);
    frame.push(d.s.cs.selector);
    frame.push(d.return_rip() & image_mask);
    if (d.ev.has_error_code)
        frame.push(d.ev.error_code);

    if (new_eip > new_cs.limit)
        return d.fault(GP, d.ext ? 1u : 0u);
    XENO_DELIVERY_TRY(d.push_frame(stack, frame));
    // The segment registers are loaded now: set the accessed bits (3.4.5).
    XENO_DELIVERY_TRY(d.mark_accessed(cs_raw, cs_address));
    if (privilege_change)
        XENO_DELIVERY_TRY(d.mark_accessed(ss_raw, ss_address));

    // Commit. CS.RPL becomes the new CPL (conforming segments keep the CPL).
    new_cs = desc::segment_from_raw(static_cast<u16>((gate.selector & 0xfffcu) | new_cpl), cs_raw);
    d.s.cs = new_cs;
    if (privilege_change)
        d.s.ss = desc::segment_from_raw(new_ss_selector, ss_raw);
    d.s.rsp = stack.sp;
    d.s.rip = new_eip;
    d.s.rflags &= ~(rflags::TF | rflags::NT | rflags::VM | rflags::RF);
    if (interrupt_gate)
        d.s.rflags &= ~rflags::IF;
    if (from_vm86) {
        d.s.es = null_segment();
        d.s.ds = null_segment();
        d.s.fs = null_segment();
        d.s.gs = null_segment();
    }
    return {};
}

}  // namespace xeno::sim::detail
