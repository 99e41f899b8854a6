// The sim build's definitions of hal::run, hal::machine_memory_written and
// hal::time_ns: the running machine's engine behind the seam.
#include <string>

#include "arch/x86/vmx/vmcs_field.hpp"
#include "arch/x86/vmx/vmx_arch.hpp"
#include "hal/console.hpp"
#include "hal/cpu.hpp"
#include "hal/memory.hpp"
#include "hal/panic.hpp"
#include "hal/timer.hpp"
#include "hal/vmx.hpp"
#include "sim/debug/machine_debugger.hpp"
#include "sim/platform/machine.hpp"
#include "sim/platform/machine_memory.hpp"
#include "sim/platform/sim_context.hpp"
#include "sim/vmx-model/engine/engine.hpp"
#include "sim/vmx-model/engine/vtime.hpp"
#include "sim/vmx-model/entry_checks.hpp"
#include "sim/vmx-model/host_cpu.hpp"
#include "sim/vmx-model/model_controls.hpp"
#include "sim/vmx-model/vmx_cpu.hpp"

namespace xeno::sim {
namespace {

// The hypervisor's exit handler between two calls of the machine's exit
// observers (MachineOutput::exit_taken/exit_handled): only a run that has
// observers goes through here.
struct ObservedHandler {
    hal::ExitHandler handler;
    void* handler_context;
    const SimContext* ctx;
    const VmcsStore* vmcs;
    u32 vcpu;
};

// A field of the current VMCS through VMREAD, as the hypervisor reads it:
// the guest-state fields live in the engine while a guest runs
// (VmxCpu::attach_live_guest).
u64 vmcs_field(const SimContext& ctx, u32 encoding)
{
    u64 value = 0;
    (void)ctx.vmx->vmread(encoding, &value);
    return value;
}

ExitEvent exit_event(const ObservedHandler& o, const hal::GuestRegs& regs)
{
    namespace f = vmx::field;
    const auto get = [&o](u32 encoding) { return vmcs_field(*o.ctx, encoding); };
    ExitEvent e;
    e.number = o.ctx->engine->exit_count();
    e.vcpu = o.vcpu;
    e.reason = static_cast<std::uint32_t>(get(f::VM_EXIT_REASON.kEncoding));
    e.qualification = get(f::EXIT_QUALIFICATION.kEncoding);
    e.vtime_ns = o.ctx->engine->vtime_ns();
    e.guest_instructions = o.ctx->engine->guest_instructions();
    e.rip = get(f::GUEST_RIP.kEncoding);
    e.rsp = get(f::GUEST_RSP.kEncoding);
    e.rflags = get(f::GUEST_RFLAGS.kEncoding);
    e.cr0 = get(f::GUEST_CR0.kEncoding);
    e.cr3 = get(f::GUEST_CR3.kEncoding);
    e.cr4 = get(f::GUEST_CR4.kEncoding);
    e.vmcs = o.vmcs->address().value();
    e.entry_interruption = static_cast<std::uint32_t>(get(f::VM_ENTRY_INTR_INFO_FIELD.kEncoding));
    e.regs = &regs;
    e.memory = o.ctx->memory->data();
    e.memory_bytes = o.ctx->memory->size();
    return e;
}

EntryEvent entry_event(const SimContext& ctx, u32 vcpu, bool resumed)
{
    namespace f = vmx::field;
    EntryEvent e;
    e.vcpu = vcpu;
    e.vtime_ns = ctx.engine->vtime_ns();
    e.guest_instructions = ctx.engine->guest_instructions();
    e.rip = vmcs_field(ctx, f::GUEST_RIP.kEncoding);
    e.entry_interruption = static_cast<std::uint32_t>(vmcs_field(ctx, f::VM_ENTRY_INTR_INFO_FIELD.kEncoding));
    e.resumed = resumed;
    return e;
}

hal::ExitAction observed_exit(void* context, hal::GuestRegs& regs)
{
    const ObservedHandler& o = *static_cast<const ObservedHandler*>(context);
    const MachineOutput& out = *o.ctx->output;
    if (out.exit_taken) out.exit_taken(exit_event(o, regs));
    const hal::ExitAction action = o.handler(o.handler_context, regs);
    // (The handler may have ended the run: the VMCS is still there, it
    // belongs to the vcpu until the domain is torn down.)
    if (out.exit_handled) out.exit_handled(exit_event(o, regs));
    if (out.vcpu_entered && action == hal::ExitAction::RESUME) out.vcpu_entered(entry_event(*o.ctx, o.vcpu, true));
    return action;
}

// The vcpu number an observer sees: the VMCS's place in the order hal::run
// first entered each (deterministic: the scheduler's order).
u32 vcpu_of(SimContext& ctx, u64 vmcs)
{
    for (std::size_t i = 0; i < ctx.vmcs_order.size(); ++i)
        if (ctx.vmcs_order[i] == vmcs) return static_cast<u32>(i);
    ctx.vmcs_order.push_back(vmcs);
    return static_cast<u32>(ctx.vmcs_order.size() - 1);
}

}  // namespace
}  // namespace xeno::sim

namespace xeno::hal {

VmxResult run(GuestRegs& regs, ExitHandler on_exit, void* context)
{
    sim::SimContext& ctx = sim::sim_context();
    if (!ctx.vmx || !ctx.engine) panic("sim: hal::run without a VMX CPU and engine");
    sim::VmxCpu& cpu = *ctx.vmx;
    sim::VmcsStore* vmcs = cpu.current_vmcs();
    // VMLAUNCH when the launch state is clear, VMRESUME when launched.
    const bool resume = vmcs && vmcs->launched();
    const VmxResult launch = cpu.check_launch(resume);
    if (launch != VmxResult::SUCCEED) return launch;
    vmcs = cpu.current_vmcs();

    sim::Engine& engine = *ctx.engine;
    const sim::CpuProfile& profile = cpu.profile();
    engine.set_entry_check([&profile, &ctx](const sim::VmcsStore& store) {
        sim::EntryEnvironment env;
        env.memory = ctx.memory;
        if (ctx.host) env.current_efer = ctx.host->rdmsr(0xc0000080);
        const sim::EntryCheckResult r = sim::check_vm_entry_on_model(store, profile, env);
        if (!r.ok()) {
            // Not something a processor says, but what a model is for: the
            // rule that failed, on the hypervisor's log.
            const std::string line = std::string("model: VM entry check failed: ") + r.check + "\n";
            hal::console_write(hal::Channel::LOG, line.data(), line.size());
        }
        sim::EntryOutcome o;
        switch (r.status) {
        case sim::EntryCheckStatus::OK: break;
        case sim::EntryCheckStatus::VMFAIL_VALID:
            o.kind = sim::EntryOutcome::Kind::VMFAIL_VALID;
            o.error = static_cast<u32>(r.error);
            break;
        case sim::EntryCheckStatus::ENTRY_FAILURE:
            o.kind = sim::EntryOutcome::Kind::ENTRY_FAILURE;
            o.reason = static_cast<u32>(r.exit_reason);
            o.qualification = r.qualification;
            break;
        }
        return o;
    });
    if (ctx.host) {
        engine.set_host_efer(ctx.host->efer());
        sim::HostCpu* host = ctx.host;
        engine.set_host_msr_writer([host](u32 msr, u64 value) { return host->try_wrmsr(msr, value); });
    }
    engine.set_logger([](const char* line) {
        const std::string text = std::string(line) + "\n";
        hal::console_write(hal::Channel::LOG, text.data(), text.size());
    });
    // Whose instructions and exits these are, for observers and a debugger.
    const bool observed_run =
        ctx.output && (ctx.output->exit_taken || ctx.output->exit_handled || ctx.output->vcpu_entered);
    const u32 vcpu = observed_run || ctx.debugger ? sim::vcpu_of(ctx, vmcs->address().value()) : 0;
    sim::ObservedHandler observed{on_exit, context, &ctx, vmcs, vcpu};
    if (observed_run) {
        on_exit = &sim::observed_exit;
        context = &observed;
        if (ctx.output->vcpu_entered) ctx.output->vcpu_entered(sim::entry_event(ctx, observed.vcpu, false));
    }
    cpu.attach_live_guest(&engine.live_guest());
    // The state entries and exits leave alone, per vcpu (GuestRegs).
    engine.load_fpu(regs.fpu);
    engine.set_guest_msr(vmx::msr::IA32_KERNEL_GS_BASE, regs.kernel_gs_base);
    if (ctx.debugger) ctx.debugger->vcpu_entering(vcpu, *vmcs);
    const VmxResult result = engine.run(*vmcs, regs, on_exit, context);
    engine.save_fpu(regs.fpu);
    regs.kernel_gs_base = engine.guest_msr(vmx::msr::IA32_KERNEL_GS_BASE);
    if (ctx.debugger) ctx.debugger->vcpu_left(vcpu, *vmcs, regs);
    cpu.detach_live_guest();
    return result;
}

void instruction_emulated()
{
    if (sim::Engine* engine = sim::sim_context().engine) engine->count_emulated_instruction();
}

const char* stop_requested()
{
    const sim::Engine* engine = sim::sim_context().engine;
    return engine && engine->stopped() ? engine->stop_reason().c_str() : nullptr;
}

void machine_memory_written(Hpa hpa, usize length)
{
    sim::SimContext& ctx = sim::sim_context();
    if (ctx.engine) ctx.engine->memory_written(hpa.value(), length);
}

u64 time_ns()
{
    sim::SimContext& ctx = sim::sim_context();
    return ctx.engine ? ctx.engine->vtime_ns() : 0;
}

}  // namespace xeno::hal

namespace xeno::hal {

void timer_set_deadline(u64 deadline_ns)
{
    sim::Engine* engine = sim::sim_context().engine;
    if (!engine) return;
    if (deadline_ns == kNoDeadline)
        engine->cancel_external_interrupt();
    else
        engine->raise_external_interrupt_at(deadline_ns, kHostTimerVector);
}

void wait_for_interrupt()
{
    sim::Engine* engine = sim::sim_context().engine;
    if (!engine || !engine->idle_until_external_interrupt())
        panic("sim: wait_for_interrupt with no host timer armed: nothing could end the wait");
}

void host_interrupt_done(u8) {}

// The virtual TSC counts at the profile's TSC frequency from 0 (vtime.hpp).
namespace {
u64 tsc_hz()
{
    const sim::CpuProfile* p = sim::sim_context().profile;
    return p ? p->tsc_hz : sim::kNsPerSecond;
}
}  // namespace

u64 tsc_at(u64 ns) { return sim::tsc_at_ns(ns, tsc_hz()); }
u64 time_at_tsc(u64 tsc) { return sim::ns_at_tsc(tsc, tsc_hz()); }

}  // namespace xeno::hal
