// Event delivery in IA-32e mode (SDM Vol. 3A 6.14): 16-byte gates, 64-bit
// handlers only, RSPn/ISTn from the 64-bit TSS (7.7), a 16-byte aligned stack
// and a frame that always holds SS:RSP.
#include "sim/vmx-model/event_delivery_internal.hpp"

namespace xeno::sim::detail {

namespace {

using vmx::vector::GP;
using vmx::vector::NP;
using vmx::vector::SS;
using vmx::vector::TS;

u32 le32(const u8* p)
{
    return static_cast<u32>(p[0]) | (static_cast<u32>(p[1]) << 8) | (static_cast<u32>(p[2]) << 16) |
           (static_cast<u32>(p[3]) << 24);
}

u64 le64(const u8* p) { return le32(p) | (static_cast<u64>(le32(p + 4)) << 32); }

}  // namespace

DeliveryResult deliver_long(Delivery& d)
{
    const u8 vector = d.ev.vector;
    const u32 entry = u32{vector} * 16;
    if (entry + 15 > d.s.idtr_limit)
        return d.fault(GP, d.idt_error(vector, true));
    u8 gate_bytes[16] = {};
    XENO_DELIVERY_TRY(d.read(d.s.idtr_base + entry, gate_bytes, sizeof gate_bytes, true));
    const desc::Gate gate = desc::gate64_from_raw(desc::Raw{le32(gate_bytes), le32(gate_bytes + 4)},
                                                  desc::Raw{le32(gate_bytes + 8), le32(gate_bytes + 12)});

    // Only 64-bit interrupt and trap gates exist in IA-32e mode; the type
    // field of the upper half must be 0 (6.14.1).
    const bool known_type = gate.type == desc::TYPE_INTERRUPT_GATE32 || gate.type == desc::TYPE_TRAP_GATE32;
    if (!gate.system || !known_type || gate.upper_type != 0)
        return d.fault(GP, d.idt_error(vector, true));
    const unsigned cpl = d.cpl();
    if (d.is_software() && gate.dpl < cpl)
        return d.fault(GP, d.idt_error(vector, false));
    if (!gate.present)
        return d.fault(NP, d.idt_error(vector, true));

    desc::Raw cs_raw;
    DeliverySegment new_cs;
    XENO_DELIVERY_TRY(d.load_handler_cs(gate.selector, cs_raw, new_cs));
    const u64 cs_address = d.cs_descriptor_address;
    if ((new_cs.ar & vmx::ar::L) == 0 || (new_cs.ar & vmx::ar::DB) != 0)
        return d.fault(GP, d.selector_error(gate.selector));  // handler must be 64-bit code
    const unsigned dpl = desc::ar_dpl(new_cs.ar);
    const bool conforming = (new_cs.ar & desc::TYPE_CONFORMING) != 0;
    const bool privilege_change = !conforming && dpl < cpl;
    const unsigned new_cpl = privilege_change ? dpl : cpl;

    u64 new_rsp = d.s.rsp;
    if (gate.ist != 0 || privilege_change) {
        // 64-bit TSS (7.7, Figure 7-11): RSPn at 4 + 8n, ISTn at 28 + 8n. An
        // IST entry switches stacks even without a privilege change (6.14.5).
        const u32 type = desc::ar_type(d.s.tr.ar);
        if (desc::ar_unusable(d.s.tr.ar) || (type != desc::TYPE_TSS32_BUSY && type != desc::TYPE_TSS32_AVAILABLE))
            return d.fault(TS, d.selector_error(d.s.tr.selector));
        const u32 slot = gate.ist != 0 ? (gate.ist << 3) + 28 : (dpl << 3) + 4;
        if (slot + 7 > d.s.tr.limit)
            return d.fault(TS, d.selector_error(d.s.tr.selector));
        u8 bytes[8] = {};
        XENO_DELIVERY_TRY(d.read(d.s.tr.base + slot, bytes, sizeof bytes, true));
        new_rsp = le64(bytes);
    }
    if (!d.canonical(new_rsp))
        return d.fault(SS, d.ext ? 1u : 0u);
    if (!d.canonical(gate.offset))
        return d.fault(GP, d.ext ? 1u : 0u);

    Stack stack;
    stack.sp = new_rsp & ~u64{0xf};  // 6.14.2: aligned before the frame is pushed
    stack.address_bits = 64;
    stack.supervisor = new_cpl < 3;
    stack.fault_has_error_code = true;
    stack.fault_error_code = d.ext ? 1u : 0u;
    Frame frame;
    frame.width = 8;
    frame.push(d.s.ss.selector);
    frame.push(d.s.rsp);
    frame.push(d.pushed_rflags());
    frame.push(d.s.cs.selector);
    frame.push(d.return_rip());
    if (d.ev.has_error_code)
        frame.push(d.ev.error_code);

    XENO_DELIVERY_TRY(d.push_frame(stack, frame));
    XENO_DELIVERY_TRY(d.mark_accessed(cs_raw, cs_address));  // CS is loaded now (3.4.5)

    d.s.cs = desc::segment_from_raw(static_cast<u16>((gate.selector & 0xfffcu) | new_cpl), cs_raw);
    if (privilege_change) {
        // SS becomes a null selector whose RPL is the new CPL (6.14.4). The
        // VMCS keeps the CPL in SS.DPL, so the unusable SS carries it too.
        d.s.ss.selector = static_cast<u16>(new_cpl);
        d.s.ss.base = 0;
        d.s.ss.limit = 0;
        d.s.ss.ar = vmx::ar::UNUSABLE | (new_cpl << vmx::ar::DPL_SHIFT);
    }
    d.s.rsp = stack.sp;
    d.s.rip = gate.offset;
    d.s.rflags &= ~(rflags::TF | rflags::NT | rflags::VM | rflags::RF);
    if (gate.type == desc::TYPE_INTERRUPT_GATE32)
        d.s.rflags &= ~rflags::IF;
    return {};
}

}  // namespace xeno::sim::detail
