// Event delivery: the entry point, the shared context (memory access, fault
// construction, descriptor reads, stack pushes) and double-fault escalation.
#include "sim/vmx-model/event_delivery.hpp"

#include "sim/vmx-model/event_delivery_internal.hpp"

namespace xeno::sim {

namespace detail {

using vmx::InterruptionType;

Delivery::Delivery(const DeliveryState& state, DeliveryMemory& memory, const Event& event)
    : s(state), mem(memory), ev(event),
      // SDM 6.13: EXT is clear only when the event is INT n, INT3 or INTO.
      // INT1 (privileged software exception) counts as external.
      ext(event.type != InterruptionType::SOFTWARE_INTERRUPT && event.type != InterruptionType::SOFTWARE_EXCEPTION)
{
}

bool Delivery::is_software() const
{
    // The gate DPL check of 6.12.1.1 applies to INT n, INT3 and INTO only;
    // INT1, NMI, exceptions and external interrupts skip it.
    return ev.type == InterruptionType::SOFTWARE_INTERRUPT || ev.type == InterruptionType::SOFTWARE_EXCEPTION;
}

u64 Delivery::return_rip() const
{
    // VM-entry injection (26.6.1.3): software interrupts and exceptions
    // (incl. INT1) return past the instruction; the rest restart at RIP.
    const bool past = ev.type == InterruptionType::SOFTWARE_INTERRUPT ||
                      ev.type == InterruptionType::SOFTWARE_EXCEPTION ||
                      ev.type == InterruptionType::PRIVILEGED_SOFTWARE_EXCEPTION;
    return past ? s.rip + ev.instruction_length : s.rip;
}

unsigned Delivery::cpl() const
{
    if ((s.cr0 & kCr0Pe) == 0)
        return 0;
    if (!long_mode() && vm86())
        return 3;
    return desc::ar_dpl(s.ss.ar);
}

DeliveryResult Delivery::fault(u8 vector, u32 error_code) const
{
    DeliveryResult r;
    r.kind = DeliveryResult::Kind::FAULT;
    r.fault_vector = vector;
    r.fault_has_error_code = true;
    r.fault_error_code = error_code;
    return r;
}

DeliveryResult Delivery::fault_no_code(u8 vector) const
{
    DeliveryResult r;
    r.kind = DeliveryResult::Kind::FAULT;
    r.fault_vector = vector;
    return r;
}

DeliveryResult Delivery::memory_fault(const MemResult& m) const
{
    DeliveryResult r;
    r.memory = m;
    if (m.fault == MemFault::PAGE_FAULT) {
        r.kind = DeliveryResult::Kind::FAULT;
        r.fault_vector = vmx::vector::PF;
        r.fault_has_error_code = true;  // paging implies CR0.PE, so #PF always has one
        r.fault_error_code = m.error_code;
    } else {
        r.kind = DeliveryResult::Kind::MEMORY_EXIT;
    }
    return r;
}

DeliveryResult Delivery::read(u64 linear, void* out, usize size, bool supervisor)
{
    const MemResult m = mem.read(linear, out, size, supervisor);
    return m.fault == MemFault::NONE ? DeliveryResult{} : memory_fault(m);
}

DeliveryResult Delivery::write(u64 linear, const void* in, usize size, bool supervisor)
{
    const MemResult m = mem.write(linear, in, size, supervisor);
    return m.fault == MemFault::NONE ? DeliveryResult{} : memory_fault(m);
}

bool Delivery::canonical(u64 address) const
{
    const unsigned bits = (s.cr4 & kCr4La57) != 0 ? 57 : 48;
    const i64 shifted = static_cast<i64>(address << (64 - bits)) >> (64 - bits);
    return static_cast<u64>(shifted) == address;
}

DeliveryResult Delivery::read_descriptor(u16 selector, u8 fault_vector, desc::Raw& out, u64& address)
{
    const bool local = (selector & 4u) != 0;
    u64 base = s.gdtr_base;
    u32 limit = s.gdtr_limit;
    if (local) {
        if (desc::ar_unusable(s.ldtr.ar))
            return fault(fault_vector, selector_error(selector));
        base = s.ldtr.base;
        limit = s.ldtr.limit;
    }
    const u32 index_end = (selector & 0xfff8u) + 7u;
    if (index_end > limit)
        return fault(fault_vector, selector_error(selector));
    address = base + (selector & 0xfff8u);
    if (!long_mode())
        address &= 0xffffffffu;
    u8 bytes[8] = {};
    XENO_DELIVERY_TRY(read(address, bytes, sizeof bytes, true));
    out.lo = static_cast<u32>(bytes[0]) | (static_cast<u32>(bytes[1]) << 8) | (static_cast<u32>(bytes[2]) << 16) |
             (static_cast<u32>(bytes[3]) << 24);
    out.hi = static_cast<u32>(bytes[4]) | (static_cast<u32>(bytes[5]) << 8) | (static_cast<u32>(bytes[6]) << 16) |
             (static_cast<u32>(bytes[7]) << 24);
    return {};
}

DeliveryResult Delivery::mark_accessed(desc::Raw& d, u64 address)
{
    if ((d.hi & (1u << 8)) != 0)
        return {};
    d.hi |= 1u << 8;
    const u8 type_byte = static_cast<u8>(d.hi >> 8);
    return write(address + 5, &type_byte, 1, true);
}

DeliveryResult Delivery::load_handler_cs(u16 selector, desc::Raw& raw, DeliverySegment& out)
{
    // SDM 6.12.1.1 / INT pseudocode: null -> #GP(EXT); beyond the table,
    // not code or DPL > CPL -> #GP(selector); not present -> #NP(selector).
    if ((selector & 0xfffcu) == 0)
        return fault(vmx::vector::GP, ext ? 1u : 0u);
    u64 address = 0;
    XENO_DELIVERY_TRY(read_descriptor(selector, vmx::vector::GP, raw, address));
    const u32 ar = desc::ar_from_raw(raw);
    if (!desc::ar_is_code(ar) || desc::ar_dpl(ar) > cpl())
        return fault(vmx::vector::GP, selector_error(selector));
    if (!desc::ar_present(ar))
        return fault(vmx::vector::NP, selector_error(selector));
    out = desc::segment_from_raw(selector, raw);
    cs_descriptor_address = address;
    return {};
}

namespace {

bool slot_in_limits(const DeliverySegment& ss, u64 offset, unsigned width, u64 mask)
{
    const u64 last = offset + width - 1;
    if (last > mask)
        return false;  // the slot wraps around the stack's address size
    if ((ss.ar & vmx::ar::S) != 0 && (ss.ar & desc::TYPE_CODE) == 0 && (ss.ar & desc::TYPE_EXPAND_DOWN) != 0) {
        // Expand-down (3.4.5.1): valid offsets are limit+1 .. 0xffff or 0xffffffff by D/B.
        const u64 upper = (ss.ar & vmx::ar::DB) != 0 ? 0xffffffffu : 0xffffu;
        return offset > ss.limit && last <= upper;
    }
    return last <= ss.limit;
}

}  // namespace

DeliveryResult Delivery::push_frame(Stack& stack, const Frame& frame)
{
    const unsigned w = frame.width;
    const u64 mask = stack.address_bits == 16 ? 0xffffu : stack.address_bits == 32 ? 0xffffffffu : ~u64{0};
    u64 linear[12] = {};

    // Pass 1: every slot passes its limit or canonical check before any byte
    // is written, as the INT pseudocode checks "room" for the whole frame.
    for (unsigned i = 0; i < frame.count; ++i) {
        const u64 offset = (stack.sp - u64{w} * (i + 1)) & mask;
        bool ok = true;
        if (stack.address_bits == 64) {
            ok = canonical(offset) && canonical(offset + w - 1);
            linear[i] = offset;
        } else {
            ok = slot_in_limits(stack.ss, offset, w, mask);
            linear[i] = (stack.ss.base + offset) & 0xffffffffu;
        }
        if (!ok) {
            return stack.fault_has_error_code ? fault(vmx::vector::SS, stack.fault_error_code)
                                              : fault_no_code(vmx::vector::SS);
        }
    }
    // Pass 2: the writes, highest address first; a #PF here names the slot.
    for (unsigned i = 0; i < frame.count; ++i) {
        u8 bytes[8] = {};
        for (unsigned b = 0; b < w; ++b)
            bytes[b] = static_cast<u8>(frame.values[i] >> (8 * b));
        XENO_DELIVERY_TRY(write(linear[i], bytes, w, stack.supervisor));
    }
    const u64 total = frame.bytes();
    if (stack.address_bits == 16)
        stack.sp = (stack.sp & ~u64{0xffff}) | ((stack.sp - total) & 0xffffu);
    else
        stack.sp = (stack.sp - total) & mask;
    return {};
}

}  // namespace detail

DeliveryResult detail::Delivery::check_task_target(u16 selector, bool iret)
{
    const u8 bad = iret ? vmx::vector::TS : vmx::vector::GP;
    if (selector & 4u) return fault(bad, selector_error(selector));  // TSS descriptors live in the GDT
    desc::Raw raw;
    u64 address = 0;
    XENO_DELIVERY_TRY(read_descriptor(selector, bad, raw, address));
    const u32 ar = desc::ar_from_raw(raw);
    const u32 type = desc::ar_type(ar);
    const bool tss32 = type == desc::TYPE_TSS32_AVAILABLE || type == desc::TYPE_TSS32_BUSY;
    if ((ar & vmx::ar::S) || !desc::is_tss_type(type)) return fault(bad, selector_error(selector));
    const bool busy = (type & desc::TYPE_WRITABLE) != 0;  // type bit 1: busy
    if (busy != iret) return fault(bad, selector_error(selector));
    if (!desc::ar_present(ar)) return fault(vmx::vector::NP, selector_error(selector));
    if (desc::limit_from_raw(raw) < (tss32 ? 0x67u : 0x2bu)) return fault(vmx::vector::TS, selector_error(selector));
    return {};
}

DeliveryResult check_task_target(const DeliveryState& state, DeliveryMemory& memory, u16 selector, bool iret)
{
    const Event software;  // an instruction's switch: no EXT bit in error codes
    detail::Delivery d(state, memory, software);
    d.ext = false;
    return d.check_task_target(selector, iret);
}

DeliveryResult read_descriptor(const DeliveryState& state, DeliveryMemory& memory, u16 selector, u32& lo, u32& hi)
{
    const Event software;  // an instruction's access: no EXT bit in error codes
    detail::Delivery d(state, memory, software);
    d.ext = false;
    desc::Raw raw;
    u64 address = 0;
    XENO_DELIVERY_TRY(d.read_descriptor(selector, vmx::vector::GP, raw, address));
    lo = raw.lo;
    hi = raw.hi;
    return {};
}

DeliveryResult deliver_event(DeliveryState& state, DeliveryMemory& memory, const Event& event)
{
    if (event.type == vmx::InterruptionType::OTHER_EVENT)
        return {};  // MTF: nothing goes through the IDT (26.6.2)
    detail::Delivery d(state, memory, event);
    DeliveryResult r;
    if ((state.cr0 & detail::kCr0Pe) == 0)
        r = detail::deliver_real(d);
    else if ((state.efer & detail::kEferLma) != 0)
        r = detail::deliver_long(d);
    else
        r = detail::deliver_protected(d);
    if (r.delivered())
        state = d.s;
    return r;
}

// ---- Double-fault classification (SDM 6.15, Tables 6-4 and 6-5) ----

bool is_contributory(u8 vector)
{
    return vmx::exception_is_contributory(vector);
}

bool exception_sets_rf(u8 vector)
{
    using namespace vmx::vector;
    switch (vector) {
    case DE: case BR: case UD: case NM: case TS: case NP: case SS: case GP: case PF: case MF: case AC: case XM:
    case VE: case 21:  // #CP
        return true;
    default:
        return false;  // #DB, traps (#BP, #OF), aborts (#DF, #MC), NMI, interrupts
    }
}

bool is_page_fault_class(u8 vector) { return vector == vmx::vector::PF || vector == vmx::vector::VE; }

EscalationResult combine(u8 first_vector, u8 second_vector)
{
    EscalationResult r;
    r.vector = second_vector;
    if (first_vector == vmx::vector::DF) {
        // "If another exception occurs while attempting to call the
        // double-fault handler, the processor enters shutdown mode" (6.15 #DF).
        r.kind = EscalationResult::Kind::TRIPLE_FAULT;
        return r;
    }
    const bool second_serious = is_contributory(second_vector) || is_page_fault_class(second_vector);
    if ((is_contributory(first_vector) && is_contributory(second_vector)) ||
        (is_page_fault_class(first_vector) && second_serious)) {
        r.kind = EscalationResult::Kind::DOUBLE_FAULT;
        r.vector = vmx::vector::DF;
    }
    return r;
}

EscalationResult combine(const Event& first, u8 second_vector)
{
    if (first.type != vmx::InterruptionType::HARDWARE_EXCEPTION) {
        EscalationResult r;
        r.vector = second_vector;  // interrupts, NMI, INT n/INT3/INTO/INT1: benign
        return r;
    }
    return combine(first.vector, second_vector);
}

bool escalate(const Event& first, const DeliveryResult& fault, Event& next)
{
    const EscalationResult e = combine(first, fault.fault_vector);
    next = Event{};
    next.type = vmx::InterruptionType::HARDWARE_EXCEPTION;
    switch (e.kind) {
    case EscalationResult::Kind::TRIPLE_FAULT:
        return false;
    case EscalationResult::Kind::DOUBLE_FAULT:
        next.vector = vmx::vector::DF;
        next.has_error_code = true;  // #DF(0); real-mode delivery ignores it
        next.error_code = 0;
        return true;
    case EscalationResult::Kind::DELIVER_SECOND:
        break;
    }
    next.vector = fault.fault_vector;
    next.has_error_code = fault.fault_has_error_code;
    next.error_code = fault.fault_error_code;
    return true;
}

}  // namespace xeno::sim
