// Shared machinery of the event-delivery paths: the scratch context, fault
// construction, descriptor-table reads and stack pushes with the segment
// checks of SDM Vol. 3A 6.12.1 and 5.3 (limit checking).
#pragma once

#include "sim/vmx-model/descriptor.hpp"
#include "sim/vmx-model/event_delivery.hpp"

namespace xeno::sim::detail {

// RFLAGS bits (SDM Vol. 1 3.4.3, Vol. 3A 2.3).
namespace rflags {
inline constexpr u64 TF = bit(8);
inline constexpr u64 IF = bit(9);
inline constexpr u64 IOPL_SHIFT = 12;
inline constexpr u64 IOPL_MASK = u64{3} << 12;
inline constexpr u64 NT = bit(14);
inline constexpr u64 RF = bit(16);
inline constexpr u64 VM = bit(17);
inline constexpr u64 AC = bit(18);
inline constexpr u64 VIF = bit(19);
}  // namespace rflags

inline constexpr u64 kCr0Pe = bit(0);
inline constexpr u64 kCr4Vme = bit(0);
inline constexpr u64 kCr4La57 = bit(12);
inline constexpr u64 kEferLma = bit(10);

#define XENO_DELIVERY_TRY(expr)                                                \
    do {                                                                       \
        ::xeno::sim::DeliveryResult xeno_delivery_r_ = (expr);                 \
        if (!xeno_delivery_r_.delivered())                                     \
            return xeno_delivery_r_;                                           \
    } while (0)

// One push sequence: values pushed in order (first = highest address), each
// `width` bytes (2, 4 or 8).
struct Frame {
    u64 values[12] = {};
    unsigned count = 0;
    unsigned width = 4;

    void push(u64 v) { values[count++] = v; }
    unsigned bytes() const { return count * width; }
};

// The stack a frame goes to and the fault its checks raise (#SS with the
// selector or EXT error code; real mode: no error code).
struct Stack {
    DeliverySegment ss;
    u64 sp = 0;
    unsigned address_bits = 32;  // 16 (SP), 32 (ESP) or 64 (RSP, no segmentation)
    bool supervisor = true;
    bool fault_has_error_code = true;
    u32 fault_error_code = 0;
};

class Delivery {
public:
    Delivery(const DeliveryState& state, DeliveryMemory& memory, const Event& event);

    DeliveryState s;  // scratch state; copied back by the caller on success
    DeliveryMemory& mem;
    const Event& ev;
    bool ext;  // EXT bit of error codes: event external to the program (6.13)
    u64 cs_descriptor_address = 0;  // set by load_handler_cs, for mark_accessed

    bool is_software() const;  // INT n, INT3, INTO: gate DPL check applies
    u64 return_rip() const;    // where the frame's return address points
    unsigned cpl() const;
    u64 pushed_rflags() const { return ev.push_rf ? s.rflags | rflags::RF : s.rflags; }
    bool long_mode() const { return (s.efer & kEferLma) != 0; }
    bool vm86() const { return (s.rflags & rflags::VM) != 0; }

    // Error code for a selector-related fault (6.13 Figure 6-7): index, TI, EXT.
    u32 selector_error(u16 selector) const { return (selector & 0xfffcu) | (ext ? 1u : 0u); }
    // Error code naming IDT entry `vector` (IDT bit set).
    u32 idt_error(u8 vector, bool with_ext) const
    {
        return (static_cast<u32>(vector) << 3) | 2u | (with_ext && ext ? 1u : 0u);
    }

    DeliveryResult fault(u8 vector, u32 error_code) const;
    DeliveryResult fault_no_code(u8 vector) const;
    DeliveryResult memory_fault(const MemResult& m) const;

    DeliveryResult read(u64 linear, void* out, usize size, bool supervisor);
    DeliveryResult write(u64 linear, const void* in, usize size, bool supervisor);

    // Reads the descriptor `selector` names from the GDT or LDT; index beyond
    // the table limit (or TI with an unusable LDTR) raises fault_vector with
    // the selector error code. `address` receives the descriptor's address.
    DeliveryResult read_descriptor(u16 selector, u8 fault_vector, desc::Raw& out, u64& address);
    // check_task_target (event_delivery.hpp) on this delivery's state.
    DeliveryResult check_task_target(u16 selector, bool iret);
    // Sets the accessed bit in memory, as loading a segment register does (3.4.5).
    DeliveryResult mark_accessed(desc::Raw& d, u64 address);

    // Checks every slot of the frame against the stack's limits, then writes.
    DeliveryResult push_frame(Stack& stack, const Frame& frame);
    // Checks the target code segment of a gate (6.12.1.1 steps common to all
    // modes): null, table limit, code type, DPL <= CPL, present.
    DeliveryResult load_handler_cs(u16 selector, desc::Raw& raw, DeliverySegment& out);

    bool canonical(u64 address) const;
};

DeliveryResult deliver_real(Delivery& d);
DeliveryResult deliver_protected(Delivery& d);
DeliveryResult deliver_long(Delivery& d);
// Virtual-8086 INT n (SDM 20.3.3, Table 20-2). Sets `handled` when the event
// was consumed (redirected to the IVT or faulted); otherwise the caller goes
// on with protected-mode delivery through the IDT.
DeliveryResult deliver_vm86_software_interrupt(Delivery& d, bool& handled);

}  // namespace xeno::sim::detail
