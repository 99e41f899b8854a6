// Task switches caused by instructions (SDM Vol. 3C 25.4.2): a far JMP or
// CALL whose selector names a TSS or a task gate, and IRET with EFLAGS.NT.
// VMX never switches tasks in non-root operation: after the processor's own
// checks on the gate and the TSS descriptor (faults come first) it exits
// with the TSS selector and the source (Table 28-2). Unicorn would switch
// tasks itself, so these instructions are sites; every other far transfer
// and IRET runs in Unicorn as before. Task gates in the IDT are found by
// event delivery (event_delivery_legacy.cpp).
#include "arch/x86/vmx/vmx_arch.hpp"
#include "sim/vmx-model/descriptor.hpp"
#include "sim/vmx-model/engine/engine_impl.hpp"
#include "sim/vmx-model/engine/linear_memory.hpp"

namespace xeno::sim {

namespace {

constexpr u64 kRflagsNt = u64{1} << 14, kRflagsVm = u64{1} << 17;
constexpr u64 kEferLma = u64{1} << 10;
constexpr u32 kQualCall = 0, kQualIret = 1, kQualJmp = 2;

}  // namespace

void Engine::Impl::task_switch_site(u64 address, const DecodedInsn& d)
{
    // Only legacy protected mode switches tasks; in IA-32e mode the same
    // instructions fault (#GP), which Unicorn raises itself. Every IRET
    // comes here: the common case leaves on two register reads.
    const u64 rflags = reg(UC_X86_REG_EFLAGS);
    if (!(reg(UC_X86_REG_CR0) & 1) || (rflags & kRflagsVm)) return;
    if (d.kind == InsnKind::IRET && !(rflags & kRflagsNt)) return;
    blob.save();
    if (blob.efer() & kEferLma) return;

    const DeliveryState st = capture_delivery_state();
    LinearMemory mem(*this);
    auto fault = [&](const DeliveryResult& r) {
        retire_block_partial(address, false);
        if (r.kind == DeliveryResult::Kind::MEMORY_EXIT) {
            memory_exit(r.memory, ExitInfo{});
            return;
        }
        const bool pf = r.fault_vector == vmx::vector::PF;
        exception(r.fault_vector, vmx::InterruptionType::HARDWARE_EXCEPTION, r.fault_has_error_code,
                  r.fault_error_code, 0, pf ? r.memory.address : 0);
    };
    auto selector_fault = [&](u8 vector, u16 sel) {
        DeliveryResult r;
        r.kind = DeliveryResult::Kind::FAULT;
        r.fault_vector = vector;
        r.fault_has_error_code = true;
        r.fault_error_code = sel & 0xfffcu;
        fault(r);
    };
    auto read = [&](u64 linear, void* out, usize n) {
        const MemResult m = mem.read(linear, out, n, true);
        if (m.fault == MemFault::NONE) return true;
        DeliveryResult r;
        r.kind = m.fault == MemFault::PAGE_FAULT ? DeliveryResult::Kind::FAULT : DeliveryResult::Kind::MEMORY_EXIT;
        r.fault_vector = vmx::vector::PF;
        r.fault_has_error_code = true;
        r.fault_error_code = m.error_code;
        r.memory = m;
        fault(r);
        return false;
    };

    ExitInfo x;
    x.reason = static_cast<u32>(vmx::ExitReason::TASK_SWITCH);
    x.instruction_length = d.length;
    u16 tss = 0;
    u32 source = kQualIret;
    if (d.kind == InsnKind::IRET) {
        u8 link[2] = {};  // the back link of the current TSS
        if (!read(st.tr.base, link, 2)) return;
        tss = static_cast<u16>(link[0] | link[1] << 8);
        const DeliveryResult r = check_task_target(st, mem, tss, true);
        if (!r.delivered()) return fault(r);
    } else {
        // The selector: the last two bytes of ptr16:16/32, or after the
        // offset in the m16:16/32 operand.
        const u64 linear_rip = address;
        u8 sb[2] = {};
        const bool direct = !d.two_byte && (d.opcode == 0xea || d.opcode == 0x9a);
        if (direct) {
            if (!read_linear(linear_rip + d.length - 2, sb, 2)) return;
        } else {
            bool ok = false;
            const u64 ea = effective_address(linear_rip, d, &ok);
            const unsigned offset_size = d.mode == 16 ? (d.opsize ? 4 : 2) : (d.opsize ? 2 : 4);
            if (!ok || !read_linear(ea + offset_size, sb, 2)) return;  // Unicorn raises the operand's fault
        }
        const u16 sel = static_cast<u16>(sb[0] | sb[1] << 8);
        const bool call = direct ? d.opcode == 0x9a : ((d.modrm >> 3) & 7) == 3;
        source = call ? kQualCall : kQualJmp;
        if ((sel & 0xfffcu) == 0) return;  // null: Unicorn raises #GP(0)
        desc::Raw raw;
        const DeliveryResult rd = read_descriptor(st, mem, sel, raw.lo, raw.hi);
        // Past the table: #GP(selector), which Unicorn raises itself.
        if (rd.kind == DeliveryResult::Kind::FAULT && rd.fault_vector == vmx::vector::GP) return;
        if (!rd.delivered()) return fault(rd);
        const u32 ar = desc::ar_from_raw(raw);
        if (ar & vmx::ar::S) return;  // a code segment: an ordinary far transfer
        const u32 type = desc::ar_type(ar);
        const unsigned privilege = cpl() > (sel & 3u) ? cpl() : (sel & 3u);
        if (type == desc::TYPE_TASK_GATE) {
            if (desc::ar_dpl(ar) < privilege) return selector_fault(vmx::vector::GP, sel);
            if (!desc::ar_present(ar)) return selector_fault(vmx::vector::NP, sel);
            tss = static_cast<u16>(raw.lo >> 16);
        } else if (desc::is_tss_type(type)) {
            if (desc::ar_dpl(ar) < privilege) return selector_fault(vmx::vector::GP, sel);
            tss = sel;
        } else {
            return;  // call gates and the rest: Unicorn
        }
        const DeliveryResult r = check_task_target(st, mem, tss, false);
        if (!r.delivered()) return fault(r);
    }
    x.qualification = tss | (u64{source} << 30);
    take_exit(address, x);
}

}  // namespace xeno::sim
