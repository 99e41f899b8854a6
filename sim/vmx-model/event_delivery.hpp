// Event delivery for the software VMX model.
//
// Unicorn never delivers guest exceptions or interrupts itself, so the model
// delivers them through the guest's IVT (real mode) or IDT (protected mode,
// virtual-8086 mode, IA-32e mode) as an Intel processor does (SDM Vol. 3A
// 6.12-6.15, 20.1.4, 20.3). VM-entry event injection (Vol. 3C 26.6) uses the
// same entry point.
//
// Contract:
//   - deliver_event() works on a scratch copy of the state: on DELIVERED the
//     state holds what the processor leaves (new RIP/RSP/RFLAGS/CS/SS, and the
//     nulled data segments after a virtual-8086 exit); on FAULT and
//     MEMORY_EXIT the state is unchanged. Stack bytes already written before a
//     fault may stay in memory (as on hardware).
//   - FAULT names the exception that delivery itself raised. The caller either
//     exits (exception bitmap) or delivers escalate(E, fault) next. For #PF the
//     caller sets CR2 = memory.address.
//   - MEMORY_EXIT: the caller's page walk reported EPT_VIOLATION or OUTSIDE;
//     memory holds what it reported.
//   - A task gate (outside IA-32e mode) is checked as the processor does
//     before a task-switch VM exit (SDM Vol. 3C 25.4.2): the gate, then the
//     TSS descriptor it names. TASK_SWITCH: the caller exits for the switch
//     (the state is unchanged); VMX never switches tasks itself.
//   - Real mode never pushes an error code (SDM 20.1.4), whatever the Event
//     says; faults raised in real mode carry no error code either.
//   - Event::type OTHER_EVENT (MTF) delivers nothing and returns DELIVERED.
#pragma once

#include "arch/x86/vmx/vmx_arch.hpp"
#include "lib/types.hpp"

namespace xeno::sim {

struct DeliverySegment {
    u16 selector = 0;
    u64 base = 0;
    u32 limit = 0;
    u32 ar = vmx::ar::UNUSABLE;  // VMCS access-rights format (vmx::ar::*)
};

// The registers delivery reads and changes. Mode: real (CR0.PE=0),
// virtual-8086 (RFLAGS.VM), protected, IA-32e (EFER.LMA). CPL is SS.DPL in
// protected mode (as in the VMCS), 3 in virtual-8086 mode, 0 in real mode.
struct DeliveryState {
    u64 rip = 0, rsp = 0, rflags = 2;
    u64 cr0 = 0, cr4 = 0, efer = 0;
    DeliverySegment es, cs, ss, ds, fs, gs, ldtr, tr;
    u64 gdtr_base = 0;
    u32 gdtr_limit = 0;
    u64 idtr_base = 0;
    u32 idtr_limit = 0x3ff;
};

enum class MemFault : u8 { NONE, PAGE_FAULT, EPT_VIOLATION, OUTSIDE };

// For PAGE_FAULT: error_code is the #PF error code and address goes to CR2.
struct MemResult {
    MemFault fault = MemFault::NONE;
    u32 error_code = 0;
    u64 address = 0;
};

// Linear-address access through the guest's paging (the caller implements it).
// 'supervisor' = implicit supervisor-mode access (descriptor tables, TSS,
// stack pushes at CPL < 3), SDM 4.6.
class DeliveryMemory {
public:
    virtual ~DeliveryMemory() = default;
    virtual MemResult read(u64 linear, void* out, usize size, bool supervisor) = 0;
    virtual MemResult write(u64 linear, const void* in, usize size, bool supervisor) = 0;
};

struct Event {
    u8 vector = 0;
    vmx::InterruptionType type = vmx::InterruptionType::HARDWARE_EXCEPTION;
    bool has_error_code = false;
    u32 error_code = 0;
    u32 instruction_length = 0;  // software interrupts/exceptions return past the instruction
    // Push RF=1 in the saved RFLAGS image. The processor does this for
    // fault-class exceptions it raises itself (SDM Vol. 3A 18.3.1.1, see
    // exception_sets_rf()); VM-entry injection pushes the guest's RFLAGS as
    // they are, so injected events leave this false.
    bool push_rf = false;
};

// Fault-class exceptions for which the processor pushes RF=1: all faults
// except #DB (whose instruction-breakpoint form pushes RF as it was).
bool exception_sets_rf(u8 vector);

struct DeliveryResult {
    enum class Kind : u8 { DELIVERED, FAULT, MEMORY_EXIT, TASK_SWITCH };
    Kind kind = Kind::DELIVERED;
    // FAULT: the exception delivery raised (#GP/#NP/#SS/#TS/#PF...).
    u8 fault_vector = 0;
    bool fault_has_error_code = false;
    u32 fault_error_code = 0;
    MemResult memory;          // the memory fault behind it (CR2 for #PF; EPT exit info)
    u16 task_selector = 0;     // TASK_SWITCH: the TSS the task gate names

    bool delivered() const { return kind == Kind::DELIVERED; }
};

DeliveryResult deliver_event(DeliveryState& state, DeliveryMemory& memory, const Event& event);

// The checks on the target TSS descriptor of a task switch that come before
// the VM exit (SDM Vol. 3C 25.4.2 steps 2-4): a GDT selector within the
// limit, a TSS descriptor (S=0, 16- or 32-bit) that is busy for IRET and
// available otherwise, present, and a limit of at least 0x67 (32-bit) or
// 0x2B (16-bit). DELIVERED when the switch may exit; FAULT as the processor
// raises it (#TS for IRET, else #GP; #NP; #TS for the limit).
DeliveryResult check_task_target(const DeliveryState& state, DeliveryMemory& memory, u16 selector, bool iret);

// The descriptor `selector` names, from the GDT or the LDT, read as delivery
// reads one: FAULT #GP(selector) past the table limit or through an unusable
// LDTR, else the read's own fault. `lo`/`hi`: its two dwords.
DeliveryResult read_descriptor(const DeliveryState& state, DeliveryMemory& memory, u16 selector, u32& lo, u32& hi);

// ---- Double-fault classification (SDM Vol. 3A 6.15, Tables 6-4 and 6-5) ----

// #DE, #TS, #NP, #SS, #GP, #CP.
bool is_contributory(u8 vector);
// #PF and #VE form the page-fault class of Table 6-5.
bool is_page_fault_class(u8 vector);

struct EscalationResult {
    enum class Kind : u8 { DELIVER_SECOND, DOUBLE_FAULT, TRIPLE_FAULT };
    Kind kind = Kind::DELIVER_SECOND;
    u8 vector = 0;  // the vector to deliver next (second, or #DF); unused for TRIPLE_FAULT
};

// first_vector and second_vector are both exceptions (first was being
// delivered, second was raised while delivering it).
EscalationResult combine(u8 first_vector, u8 second_vector);
// As combine(), but classifies the first event by its type: only hardware
// exceptions can be contributory or page faults (INT 13 is not a #GP).
EscalationResult combine(const Event& first, u8 second_vector);

// The event to deliver after `first` faulted with `fault` (kind FAULT):
// the fault itself, or #DF(0). Returns false for a triple fault (shutdown).
bool escalate(const Event& first, const DeliveryResult& fault, Event& next);

}  // namespace xeno::sim
