// The run loop, VM entry (checks, state, event injection: SDM Vol. 3C 26.3,
// 26.6), delivery of exits to the hypervisor's handler (27.2) and event
// delivery through G's deliver_event with the escalation rules (Vol. 3A 6.15)
// applied at the exit level.
#include <string>

#include <cstdio>
#include "arch/x86/vmx/vmcs_field.hpp"
#include "lib/bits.hpp"
#include "hal/panic.hpp"
#include "sim/platform/machine_memory.hpp"
#include "sim/vmx-model/engine/engine_impl.hpp"
#include "sim/vmx-model/engine/linear_memory.hpp"
#include "sim/vmx-model/engine/vtime.hpp"

namespace xeno::sim {

namespace f = vmx::field;
using vmx::InterruptionType;

namespace {

DeliverySegment to_delivery(const UcSegment& s)
{
    u32 ar = (s.flags >> 8) & 0xf0ff;
    if (!(s.flags & desc::P)) ar |= vmx::ar::UNUSABLE;
    return DeliverySegment{static_cast<u16>(s.selector), s.base, s.limit, ar};
}

UcSegment from_delivery(const DeliverySegment& s)
{
    u32 flags = (s.ar & 0xf0ff) << 8;
    if (s.ar & vmx::ar::UNUSABLE) flags &= ~desc::P;
    return UcSegment{s.selector, s.base, s.limit, flags};
}

u32 intr_info_of(const Event& e)
{
    return vmx::make_intr_info(e.vector, e.type, e.has_error_code);
}

}  // namespace

hal::VmxResult Engine::run(VmcsStore& vmcs, hal::GuestRegs& regs, hal::ExitHandler on_exit, void* context)
{
    if (stopped()) return hal::VmxResult::SUCCEED;  // nothing of the guest runs after a stop
    Impl& m = *impl_;
    m.vmcs = &vmcs;
    m.regs = &regs;
    m.handler = on_exit;
    m.handler_context = context;
    m.stop_requested = false;
    m.result = hal::VmxResult::SUCCEED;
    m.cur_block_info = nullptr;
    if (m.enter()) {
        while (!m.stop_requested) {
            if (stop_if_wall_time_passed()) break;
            m.stop = Impl::Stop::NONE;
            const u64 until = m.run_until;
            m.run_until = ~u64{0};
            m.active_until = until;
            const uc_err err = uc_emu_start(uc_, m.rip(), until, 0, 0);
            m.active_until = ~u64{0};
            m.cur_block_info = nullptr;
            if (stop_if_wall_time_passed()) break;  // the watchdog's uc_emu_stop looks like any other return
            if (m.stop_requested) break;
            if (until != ~u64{0} && m.stop == Impl::Stop::NONE && err == UC_ERR_OK) {
                m.blob.save();
                if (m.rip() + m.blob.segment(1).base == until) continue;  // see Impl::after_stop
            }
            if (m.stop == Impl::Stop::WALK) {
                m.after_stop();
                continue;
            }
            if (m.stop == Impl::Stop::DEADLINE) continue;  // on to the instruction where it falls: see stop_at_deadline
            if (err != UC_ERR_OK) {
                m.stop_machine(StopCause::ENGINE_FAILURE, std::string("engine: unicorn stopped: ") + uc_strerror(err) +
                                                              " at rip " + std::to_string(m.rip()));
                break;
            }
            // A normal return means Unicorn executed a HLT itself (all HLT
            // sites are hooked, so only a HLT never seen by the decoder).
            m.halt();
        }
    }
    m.vmcs = nullptr;
    m.regs = nullptr;
    return m.result;
}

bool Engine::Impl::entry_checks_pass()
{
    for (;;) {
        if (!engine.entry_check_) return true;
        const EntryOutcome o = engine.entry_check_(*vmcs);
        if (o.kind == EntryOutcome::Kind::OK) return true;
        if (o.kind == EntryOutcome::Kind::VMFAIL_VALID) {
            vmcs->set(f::VM_INSTRUCTION_ERROR, o.error);
            result = hal::VmxResult::FAIL_VALID;
            stop_requested = true;
            return false;
        }
        if (!report_entry_failure(o.reason, o.qualification)) return false;
    }
}

bool Engine::Impl::full_entry()
{
    for (;;) {
        if (!entry_checks_pass()) return false;
        load_controls();
        load_guest_state();
        load_guest_extras();
        // 26.4: MSRs after guest state; a failure is a VM-entry failure
        // with the entry's 1-based index (reason 34, 26.8).
        const u32 bad = load_entry_msr_list();
        if (bad == 0) return true;
        if (!report_entry_failure(static_cast<u32>(vmx::ExitReason::MSR_LOADING), bad)) return false;
    }
}

bool Engine::Impl::enter()
{
    if (!full_entry()) return false;
    vmcs->set_launched(true);
    arm_preemption_timer();
    return inject_event();
}

void Engine::Impl::arm_preemption_timer()
{
    preemption_deadline = ~u64{0};
    if (pin & vmx::pin::PREEMPTION_TIMER) {
        // The timer counts down by 1 each time bit X of the TSC changes, X
        // the rate in IA32_VMX_MISC[4:0] (25.5.1): it expires after
        // value << X TSC ticks, at the profile's TSC rate.
        const u64 value = vmcs->get(f::VMX_PREEMPTION_TIMER_VALUE);
        const u64 now = engine.vtime_ns(), hz = engine.profile_.tsc_hz;
        preemption_deadline = ns_at_tsc(tsc_at_ns(now, hz) + (value << engine.profile_.preemption_timer_rate()), hz);
    }
    update_async_deadline();
}

bool Engine::Impl::inject_event()
{
    const u32 info = vmcs->get(f::VM_ENTRY_INTR_INFO_FIELD);
    if (!(info & vmx::intr_info::VALID)) {
        mtf_entry(false);
        return true;
    }
    vmcs->set(f::VM_ENTRY_INTR_INFO_FIELD, info & ~vmx::intr_info::VALID);
    if (((info & vmx::intr_info::TYPE_MASK) >> vmx::intr_info::TYPE_SHIFT) == 7) {
        // Type 7, vector 0: a pending MTF VM exit (26.6.2), taken right
        // after the entry, before any instruction.
        ExitInfo x;
        x.reason = static_cast<u32>(vmx::ExitReason::MONITOR_TRAP_FLAG);
        return exit(x);
    }
    // 26.6.1.2: injecting an NMI blocks NMIs (with "virtual NMIs": virtual
    // NMIs) until an IRET (engine_instructions.cpp, iret_unblocks_nmi).
    if (((info & vmx::intr_info::TYPE_MASK) >> vmx::intr_info::TYPE_SHIFT) ==
        static_cast<u32>(InterruptionType::NMI))
        interruptibility |= vmx::interruptibility::BLOCKING_BY_NMI;
    mtf_entry(true);
    Event e;
    e.vector = static_cast<u8>(info & vmx::intr_info::VECTOR_MASK);
    e.type = static_cast<InterruptionType>((info & vmx::intr_info::TYPE_MASK) >> vmx::intr_info::TYPE_SHIFT);
    e.has_error_code = info & vmx::intr_info::ERROR_CODE_VALID;
    e.error_code = vmcs->get(f::VM_ENTRY_EXCEPTION_ERROR_CODE);
    if (e.type == InterruptionType::SOFTWARE_INTERRUPT || e.type == InterruptionType::SOFTWARE_EXCEPTION ||
        e.type == InterruptionType::PRIVILEGED_SOFTWARE_EXCEPTION)
        e.instruction_length = vmcs->get(f::VM_ENTRY_INSTRUCTION_LEN);
    activity = static_cast<u32>(vmx::ActivityState::ACTIVE);
    return deliver(e, /*injected=*/true);
}

void Engine::Impl::write_exit_fields(const ExitInfo& x)
{
    VmcsStore& v = *vmcs;
    v.set(f::VM_EXIT_REASON, x.reason);
    v.set(f::EXIT_QUALIFICATION, x.qualification);
    v.set(f::VM_EXIT_INTR_INFO, x.intr_info);
    if (x.intr_info & vmx::intr_info::ERROR_CODE_VALID) v.set(f::VM_EXIT_INTR_ERROR_CODE, x.intr_error);
    v.set(f::IDT_VECTORING_INFO_FIELD, x.idt_vectoring);
    if (x.idt_vectoring & vmx::intr_info::ERROR_CODE_VALID) v.set(f::IDT_VECTORING_ERROR_CODE, x.idt_vectoring_error);
    v.set(f::VM_EXIT_INSTRUCTION_LEN, x.instruction_length);
    v.set(f::VMX_INSTRUCTION_INFO, x.instruction_info);
    if (x.set_gla) v.set(f::GUEST_LINEAR_ADDRESS, x.gla);
    if (x.set_gpa) v.set(f::GUEST_PHYSICAL_ADDRESS, x.gpa);
    if (x.io_fields) {
        v.set(f::IO_RCX, x.io_rcx);
        v.set(f::IO_RSI, x.io_rsi);
        v.set(f::IO_RDI, x.io_rdi);
        v.set(f::IO_RIP, x.io_rip);
    }
}

bool Engine::Impl::exit(const ExitInfo& x)
{
    // The instruction count is exact here (the exiting instruction is not
    // in it): the limit is checked before the hypervisor handles the exit.
    if (engine.instruction_limit_ && engine.instructions_ + engine.rep_elements_ + engine.emulated_ > engine.instruction_limit_)
        [[unlikely]] {
        blob.save();
        instruction_limit_reached((exit_rip_valid ? exit_rip : rip()) + blob.segment(1).base);
        return false;
    }
    // Exits cost virtual time too (vtime.hpp): a guest that only takes
    // exits, making no progress of its own (an emulated instruction that
    // faults again and again), reaches its virtual-time limit here.
    if (engine.vtime_limit_ && engine.stop_past_vtime_limit(engine.vtime_ns())) [[unlikely]] {
        blob.save();
        leave_unicorn();
        return false;
    }
    ++engine.exits_;
    stray_fetch_fills = 0;
    write_exit_fields(x);
    save_preemption_timer();
    store_guest_extras();
    if (!exit_msrs()) return false;
    mtf_armed = false;  // the next entry starts the count again
    if (!exit_rip_valid) exit_rip = rip();
    exit_rip_valid = false;
    exit_rip = outside_64bit_wrapped(exit_rip);
    if (interruptibility & (vmx::interruptibility::BLOCKING_BY_STI | vmx::interruptibility::BLOCKING_BY_MOV_SS)) {
        blob.save();
        end_shadow_unless_at(exit_rip + blob.segment(1).base);
    }
    if (!gprs_valid) read_gprs(*regs);
    gprs_valid = false;
    regs_at_exit = *regs;
    pending.clear();
    blob_fresh = false;
    controls_dirty = false;
    entry_ctls_written = false;
    injection_written = false;
    in_handler = true;
    const hal::ExitAction action = handler(handler_context, *regs);
    in_handler = false;
    if (x.reason == static_cast<u32>(vmx::ExitReason::IO_INSTRUCTION) && (x.qualification & 0x30) == 0x30) {
        // REP INS/OUTS (Table 28-5 bits 4 and 5): the elements the handler
        // moved, by how far it counted RCX down (Table 28-8: the address
        // size in instruction information bits 9:7 says how much of RCX).
        const u32 asz = (x.instruction_info >> 7) & 7;
        const u64 mask = asz == 0 ? 0xffff : asz == 1 ? 0xffffffffull : ~u64{0};
        engine.rep_elements_ += (regs_at_exit.gpr[1] - regs->gpr[1]) & mask;
    }
    if (action == hal::ExitAction::YIELD) {
        apply_pending_and_save();
        stop_requested = true;
        uc_emu_stop(uc);
        return false;
    }
    return resume();
}

void Engine::Impl::apply_pending_and_save()
{
    u64 new_rip = exit_rip;
    for (const PendingWrite& p : pending)
        if (p.encoding == f::GUEST_RIP.kEncoding) new_rip = p.value;
    write_changed_gprs();
    set_rip(new_rip);
    save_guest_state();
    for (const PendingWrite& p : pending) vmcs->set(p.encoding, p.value);
    pending.clear();
}

bool Engine::Impl::resume()
{
    write_changed_gprs();
    u64 new_rip = exit_rip;
    bool full = false;
    for (const PendingWrite& p : pending) {
        if (p.encoding == f::GUEST_RIP.kEncoding) new_rip = p.value;
        else if (p.encoding == f::GUEST_RSP.kEncoding) set_reg(UC_X86_REG_RSP, p.value);
        else full = true;
    }
    if (controls_dirty) {
        const u32 old[5] = {pin, proc, proc2, exit_ctls, entry_ctls};
        load_controls();
        if (old[0] != pin || old[1] != proc || old[2] != proc2 || old[3] != exit_ctls || old[4] != entry_ctls)
            full = true;
    }
    if (full) {
        // The slow path: the handler changed guest state or controls, so the
        // entry is checked and the state reloaded as from scratch.
        set_rip(new_rip);
        save_guest_state();
        for (const PendingWrite& p : pending) vmcs->set(p.encoding, p.value);
        pending.clear();
        if (!full_entry()) {
            uc_emu_stop(uc);
            return false;
        }
        arm_preemption_timer();
    } else {
        pending.clear();
        set_rip(new_rip);
        if (pin & vmx::pin::PREEMPTION_TIMER) arm_preemption_timer();  // reloaded at every entry
        // Without VPIDs every VM entry invalidates the linear mappings of
        // VPID 0000H (SDM Vol. 3C 29.4.3.1): the handler may have changed
        // the page tables the guest runs on (shadow paging does).
        if (!(proc2 & vmx::proc2::ENABLE_VPID)) uc_ctl_flush_tlb(uc);
        load_guest_extras();
        if (const u32 bad = entry_msr_load_count ? load_entry_msr_list() : 0) {  // 26.4: at every entry
            // A bad list entry (rare): the VMCS gets the guest state this
            // path keeps in the engine, then the failure as on the slow path.
            save_guest_state();
            if (!report_entry_failure(static_cast<u32>(vmx::ExitReason::MSR_LOADING), bad) || !full_entry()) {
                uc_emu_stop(uc);
                return false;
            }
            arm_preemption_timer();
            full = true;
        }
    }
    // The injection field is only read when the handler wrote it (its valid
    // bit is clear after every entry, 26.6): no store access per exit.
    const bool go_on = (injection_written || full) ? inject_event() : true;
    if (!go_on) uc_emu_stop(uc);
    return go_on;
}

// ---- event delivery ----

DeliveryState Engine::Impl::capture_delivery_state()
{
    blob.save();
    DeliveryState s;
    s.rip = rip();
    s.rsp = reg(UC_X86_REG_RSP);
    s.rflags = reg(UC_X86_REG_EFLAGS);
    s.cr0 = blob.cr(0);
    s.cr4 = blob.cr(4);
    s.efer = blob.efer();
    DeliverySegment* segs[8] = {&s.es, &s.cs, &s.ss, &s.ds, &s.fs, &s.gs, &s.ldtr, &s.tr};
    for (int i = 0; i < 8; ++i) *segs[i] = to_delivery(blob.segment(i));
    s.gdtr_base = blob.segment(8).base;
    s.gdtr_limit = blob.segment(8).limit;
    s.idtr_base = blob.segment(9).base;
    s.idtr_limit = blob.segment(9).limit;
    return s;
}

void Engine::Impl::apply_delivery_state(const DeliveryState& s)
{
    blob.save();
    const DeliverySegment* segs[6] = {&s.es, &s.cs, &s.ss, &s.ds, &s.fs, &s.gs};
    for (int i = 0; i < 6; ++i) blob.set_segment(i, from_delivery(*segs[i]));
    blob.put<u64>(blob.layout().eflags, s.rflags);
    blob.recompute_hflags();
    uc_reset_exception_state(blob);
    blob.restore();
    set_reg(UC_X86_REG_EFLAGS, s.rflags);
    set_reg(UC_X86_REG_RSP, s.rsp);
    set_rip(s.rip);
    blob_fresh = false;
}

bool Engine::Impl::deliver(const Event& first, bool injected)
{
    DeliveryState st = capture_delivery_state();
    const u64 start_rip = st.rip;
    Event cur = first;
    for (int depth = 0; depth < 4; ++depth) {
        DeliveryState scratch = st;
        LinearMemory mem(*this);
        const DeliveryResult r = deliver_event(scratch, mem, cur);
        if (r.delivered()) {
            apply_delivery_state(scratch);
            if (proc & vmx::proc::MONITOR_TRAP_FLAG) mtf_entry(true);  // MTF exit before the handler's first instruction
            return true;
        }
        // The event being delivered goes to IDT-vectoring info if the nested
        // problem exits (27.2.4), unless it was injected at entry... in which
        // case the SDM reports it the same way.
        (void)injected;
        ExitInfo x;
        x.idt_vectoring = intr_info_of(cur);
        x.idt_vectoring_error = cur.error_code;
        // 27.2.5: software interrupts/exceptions report their length.
        if (cur.type == InterruptionType::SOFTWARE_INTERRUPT || cur.type == InterruptionType::SOFTWARE_EXCEPTION ||
            cur.type == InterruptionType::PRIVILEGED_SOFTWARE_EXCEPTION)
            x.instruction_length = cur.instruction_length;
        if (r.kind == DeliveryResult::Kind::TASK_SWITCH) {
            // A task gate: VMX exits for the switch (SDM Vol. 3C 25.4.2),
            // the event in IDT-vectoring information (Table 28-2: source 3).
            set_rip(start_rip);
            x.reason = static_cast<u32>(vmx::ExitReason::TASK_SWITCH);
            x.qualification = r.task_selector | (u64{3} << 30);
            return exit(x);
        }
        if (r.kind == DeliveryResult::Kind::MEMORY_EXIT) {
            set_rip(start_rip);
            return memory_exit(r.memory, x);
        }
        const u8 v = r.fault_vector;
        if (exception_exits(v, r.fault_error_code)) {
            // A #PF that exits leaves CR2 alone (27.1), even in the middle
            // of delivering another event (its CR2 may already be set).
            set_rip(start_rip);
            x.reason = static_cast<u32>(vmx::ExitReason::EXCEPTION_NMI);
            x.intr_info = vmx::make_intr_info(v, InterruptionType::HARDWARE_EXCEPTION, r.fault_has_error_code);
            x.intr_error = r.fault_error_code;
            if (v == vmx::vector::PF) x.qualification = r.memory.address;
            return exit(x);
        }
        if (v == vmx::vector::PF) set_reg(UC_X86_REG_CR2, r.memory.address);
        Event next;
        if (!escalate(cur, r, next)) {
            set_rip(start_rip);
            ExitInfo t;
            t.reason = static_cast<u32>(vmx::ExitReason::TRIPLE_FAULT);
            activity = static_cast<u32>(vmx::ActivityState::SHUTDOWN);
            return exit(t);
        }
        cur = next;
    }
    ExitInfo t;
    t.reason = static_cast<u32>(vmx::ExitReason::TRIPLE_FAULT);
    return exit(t);
}

bool Engine::Impl::memory_exit(const MemResult& m, ExitInfo x)
{
    if (m.fault == MemFault::EPT_VIOLATION) {
        x.reason = static_cast<u32>(vmx::ExitReason::EPT_VIOLATION);
        x.qualification = walk.qualification;
        x.set_gpa = true;
        x.gpa = walk.gpa;
        x.set_gla = (walk.qualification & eptq::GLA_VALID) != 0;
        x.gla = walk_va;
        return exit(x);
    }
    if (walk.status == WalkStatus::EPT_MISCONFIG) {
        x.reason = static_cast<u32>(vmx::ExitReason::EPT_MISCONFIG);
        x.set_gpa = true;
        x.gpa = walk.gpa;
        return exit(x);
    }
    stop_machine(StopCause::ENGINE_FAILURE, "engine: an implicit guest access reached memory outside machine memory");
    return false;
}

bool Engine::Impl::exception_exits(u8 vector, u32 error_code) const
{
    bool hit = (exception_bitmap >> vector) & 1;
    if (vector == vmx::vector::PF) {
        // 26.2: with bit 14 set, #PF exits iff (PFEC & MASK) == MATCH; clear: iff not equal.
        const bool match = (error_code & pfec_mask) == pfec_match;
        hit = hit ? match : !match;
    }
    return hit;
}

bool Engine::Impl::exception(u8 vector, InterruptionType type, bool has_error, u32 error, u32 length, u64 pf_address)
{
    const bool protected_mode = reg(UC_X86_REG_CR0) & 1;
    if (!protected_mode) has_error = false;
    if (exception_exits(vector, error)) {
        ExitInfo x;
        x.reason = static_cast<u32>(vmx::ExitReason::EXCEPTION_NMI);
        x.intr_info = vmx::make_intr_info(vector, type, has_error);
        x.intr_error = error;
        x.instruction_length = length;
        if (vector == vmx::vector::PF) x.qualification = pf_address;  // CR2 is not written (27.1)
        return exit(x);
    }
    if (vector == vmx::vector::PF) set_reg(UC_X86_REG_CR2, pf_address);
    Event e;
    e.vector = vector;
    e.type = type;
    e.has_error_code = has_error;
    e.error_code = error;
    e.instruction_length = length;
    return deliver(e, false);
}

}  // namespace xeno::sim
