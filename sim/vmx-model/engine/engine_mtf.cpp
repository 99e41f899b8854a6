// The monitor trap flag (SDM Vol. 3C 26.5.2, 26.7.2): with the control set,
// a VM exit (reason 37, trap-like: RIP is the next instruction) at the
// instruction boundary after the guest completes an instruction, and after
// the delivery of an event injected at VM entry (before the handler's first
// instruction). An instruction that exits takes no MTF exit; one that
// faults has its exception delivered, and the MTF exit comes before the
// handler's first instruction. Injecting "other event" type 7 vector 0 is a
// pending MTF exit, taken right after the entry (engine_run.cpp).
//
// How: while the control is set, a code hook on every address (Unicorn calls
// it before each instruction) takes the exit at the second boundary it sees
// after the entry: the first is where the guest starts. Sites call it first
// as well, so an instruction that would exit there exits for MTF instead.
// The hook exists only while the control is set (it costs a call per
// instruction), and installing or removing it flushes translated code.
//
// Not modelled: MTF's priority against interrupt and NMI windows at the
// first instruction of a translated block (the block hook runs first), and
// the HLT activity state after an MTF exit that follows HLT.
#include "sim/vmx-model/engine/engine_impl.hpp"

namespace xeno::sim {

namespace {
void mtf_cb(uc_engine*, u64 address, u32, void* user)
{
    static_cast<Engine::Impl*>(user)->mtf_boundary(address);
}
}  // namespace

void Engine::Impl::mtf_update_hook()
{
    const bool want = proc & vmx::proc::MONITOR_TRAP_FLAG;
    if (want == (mtf_hook != 0)) return;
    if (want) {
        uc_hook_add(uc, &mtf_hook, UC_HOOK_CODE, reinterpret_cast<void*>(mtf_cb), this, 1, 0);
    } else {
        uc_hook_del(uc, mtf_hook);
        mtf_hook = 0;
    }
    uc_ctl_flush_tb(uc);
}

void Engine::Impl::mtf_entry(bool event_delivered)
{
    // After an injected event the next boundary is already the one after
    // a delivery; otherwise the guest's first instruction has yet to run.
    mtf_armed = event_delivered;
    mtf_armed_at = ~u64{0};
}

bool Engine::Impl::mtf_boundary(u64 address)
{
    if (!(proc & vmx::proc::MONITOR_TRAP_FLAG) || stop_requested) return false;
    const u64 count = precise_instructions(address);
    if (!mtf_armed) {
        mtf_armed = true;
        mtf_armed_at = count;
        return false;
    }
    if (count == mtf_armed_at) return false;  // the same boundary, seen by a second hook
    mtf_armed = false;
    ExitInfo x;
    x.reason = static_cast<u32>(vmx::ExitReason::MONITOR_TRAP_FLAG);
    take_exit(address, x);
    return true;
}

}  // namespace xeno::sim
