// The guest-execution engine of the software VMX model: one Unicorn
// UC_MODE_64 engine whose physical address space is machine memory, running
// the guest of the current VMCS as a processor in VMX non-root operation
// does (SDM Vol. 3C, chapters 26-28).
//
// Interception design (measured on Unicorn 2.1.4, see the top of
// engine_exits.cpp): every instruction that can exit or that the model must
// emulate gets a one-address UC_HOOK_CODE hook, installed the first time the
// block holding it runs (the block hook decodes each new block once). The
// hook runs before the instruction with the exact RIP; an exit is handled
// inside the hook (the hypervisor's handler is called there) and execution
// goes on at the RIP the handler leaves. Page faults and EPT violations come
// from the model's own page walk in the TLB-fill hook and stop the engine.
#pragma once

#include <unicorn/unicorn.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "hal/vmx.hpp"
#include "lib/types.hpp"
#include "sim/vmx-model/engine/decode.hpp"
#include "sim/vmx-model/engine/paging.hpp"
#include "sim/vmx-model/engine/uc_internals.hpp"
#include "sim/vmx-model/vmx_cpu.hpp"

namespace xeno::sim {

class MachineMemory;
class VmcsStore;
struct CpuProfile;

// The result of the VM-entry checks (entry_checks.hpp), as the engine needs it.
struct EntryOutcome {
    enum class Kind : u8 { OK, VMFAIL_VALID, ENTRY_FAILURE };
    Kind kind = Kind::OK;
    u32 error = 0;          // VMFAIL_VALID: VM-instruction error (7, 8)
    u32 reason = 0;         // ENTRY_FAILURE: basic exit reason (33, 34)
    u64 qualification = 0;
};

class Engine {
public:
    Engine(MachineMemory& memory, const CpuProfile& profile);
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // The VM-entry checks run at every entry (initial and after RESUME).
    // Default: everything passes (unit tests of the engine alone).
    using EntryCheck = std::function<EntryOutcome(const VmcsStore&)>;
    void set_entry_check(EntryCheck check) { entry_check_ = std::move(check); }
    // The host's IA32_EFER at VM entry: without "load IA32_EFER" the guest
    // runs with its bits other than LMA/LME (26.3.2.1), NXE above all.
    void set_host_efer(u64 efer) { host_efer_ = efer; }
    u64 host_efer() const { return host_efer_; }
    // Writes a host MSR at a VM exit: the VM-exit MSR-load list and the
    // "load IA32_PAT/IA32_EFER" exit controls (SDM Vol. 3C 28.3.1, 28.4).
    // False: the host refused the value (a VMX abort). Default: none set,
    // and a VM exit that needs one stops the machine (a VMX abort).
    using HostMsrWriter = std::function<bool(u32 msr, u64 value)>;
    void set_host_msr_writer(HostMsrWriter writer) { host_msr_writer_ = std::move(writer); }
    // Where the model says what it does not implement when a guest runs
    // into it (one line, no newline); default: nowhere.
    using Logger = std::function<void(const char* line)>;
    void set_logger(Logger logger) { logger_ = std::move(logger); }

    // Enter the guest of vmcs and run it until the handler returns YIELD.
    // The caller did the launch-state checks. VMfailValid leaves the error in
    // VM_INSTRUCTION_ERROR. On return the VMCS holds the guest state, except
    // after a stop (stopped(): SUCCEED, the guest state left as it was).
    hal::VmxResult run(VmcsStore& vmcs, hal::GuestRegs& regs, hal::ExitHandler on_exit, void* context);

    // The live guest state for VmxCpu::attach_live_guest (valid during run()).
    LiveGuestState& live_guest();

    // Counters and virtual time (vtime.hpp).
    u64 exit_count() const { return exits_; }
    u64 guest_instructions() const { return instructions_; }
    u64 vtime_ns() const;

    // A host external interrupt becomes pending when vtime reaches deadline
    // (delivered as an EXTERNAL_INTERRUPT exit when the guest runs with
    // "external-interrupt exiting"), at exactly the instruction boundary
    // where virtual time reaches it. One pending interrupt at a time: a new
    // one replaces it. hal::timer_set_deadline is this with the host timer's
    // vector.
    void raise_external_interrupt_at(u64 deadline_ns, u8 vector);
    void cancel_external_interrupt();
    // The host idles in root operation until the pending external interrupt
    // arrives: virtual time jumps to its deadline (idle costs no host time),
    // and it is consumed. False when none is pending (nothing would end the
    // wait). True at once, with nothing consumed, when the machine stopped
    // (stopped(): the wait reached a limit of the run, or came after a stop).
    bool idle_until_external_interrupt();

    // Stop the machine (stopped()) once the guest has done more
    // than `limit` instructions' worth of work; 0: no limit. A hung guest
    // cannot hang CI. The work counted is guest_instructions() (instructions
    // the guest executed itself; one that exits to the hypervisor is not one
    // of them) plus rep_string_elements(), so the limit bounds host time: a
    // REP INS/OUTS is one instruction but each element it moves is an I/O
    // access the hypervisor emulates. Exact: a guest that executes exactly
    // `limit` instructions runs to its end; one that executes more fails,
    // stopped at the next block start or VM exit (where the count is exact),
    // at most a block's instructions past the limit.
    void set_instruction_limit(u64 limit) { instruction_limit_ = limit; }
    // Elements REP INS/OUTS moved through VM exits (RCX before the exit minus
    // RCX after its handler, at the instruction's address size).
    u64 rep_string_elements() const { return rep_elements_; }
    // Instructions the hypervisor emulated (hal::instruction_emulated): they
    // count toward the instruction limit, not toward instructions().
    void count_emulated_instruction() { ++emulated_; }
    // Stop the machine once virtual time passes `limit` ns; 0: no
    // limit. A guest that idles on a timer forever executes few
    // instructions, yet must not run forever either. Checked when the host
    // idles (time jumps) and at the guest's slow-path block boundaries.
    void set_vtime_limit(u64 limit) { vtime_limit_ = limit; }
    bool external_interrupt_pending() const { return ext_pending_; }

    // The wall-time watchdog (run_machine's --timeout): from any thread, make
    // the run end with `reason` (set beforehand with set_wall_stop_reason) as
    // soon as control is back in the engine's run loop or idle wait. Unicorn
    // is stopped with uc_emu_stop, which is thread-safe; a request that
    // arrives while Unicorn is not running is seen at the next check, and the
    // watchdog repeats it until the run ends.
    void set_wall_stop_reason(std::string reason) { wall_stop_reason_ = std::move(reason); }
    void request_wall_stop();

    // The machine stopped: one of the run's limits above was reached, or the
    // model cannot go on (Unicorn failed, a VMX abort, a guest halted with
    // nothing to wake it). How a stop ends the run without undefined
    // behaviour: the engine cannot unwind (the stop is seen inside Unicorn's
    // hooks, under Unicorn's C frames and the hypervisor's -fno-exceptions
    // ones), so it leaves Unicorn the way a YIELD does (uc_emu_stop, the
    // current block abandoned), run() returns without calling the exit
    // handler again, and from then on run() returns at once without running
    // the guest and idle_until_external_interrupt() returns at once.
    // hal::stop_requested() tells the hypervisor, whose scheduler ends the
    // domain with stop_reason(): start() returns through its normal path and
    // every destructor runs (heap scope, vcpus, VMX off); run_machine then
    // reports the stop. The first stop's cause and reason stand.
    enum class StopCause : u8 { NONE, INSTRUCTION_LIMIT, VTIME_LIMIT, WALL_TIME_LIMIT, ENGINE_FAILURE };
    bool stopped() const { return stop_cause_ != StopCause::NONE; }
    StopCause stop_cause() const { return stop_cause_; }
    const std::string& stop_reason() const { return stop_reason_; }

    // The engine's x87/SSE registers from and to an FXSAVE image (hal::run
    // gives each vcpu its own, as the hw build does with FXRSTOR/FXSAVE).
    void load_fpu(const hal::FpuState& fpu);
    void save_fpu(hal::FpuState& fpu);
    // An MSR of the engine's CPU that the guest uses natively (hal::run
    // switches IA32_KERNEL_GS_BASE between vcpus with these).
    u64 guest_msr(u32 msr);
    void set_guest_msr(u32 msr, u64 value);

    // Drop cached translations (INVEPT, INVVPID, VM entry) / translated code.
    void flush_tlb();
    void memory_written(u64 hpa, u64 length);

    uc_engine* unicorn() { return uc_; }

    // For a debugger stopped inside a Unicorn hook of its own (sim/debug):
    // the machine address that guest-linear `linear` maps to for the guest
    // the engine runs now, by a walk that changes nothing (no accessed or
    // dirty flags set; engine_debug.cpp). False: not mapped.
    bool peek_translate(u64 linear, u64* machine);
    // The same for a guest-physical address, through EPT. False: not
    // mapped, or the guest runs without EPT (its guest-physical addresses
    // are then the hypervisor's p2m's business, which the engine never sees).
    bool peek_guest_physical(u64 gpa, u64* machine);

    // Implementation detail shared by the engine's source files.
    struct Impl;

private:
    friend struct Impl;
    MachineMemory& memory_;
    const CpuProfile& profile_;
    uc_engine* uc_ = nullptr;
    std::unique_ptr<Impl> impl_;
    EntryCheck entry_check_;
    HostMsrWriter host_msr_writer_;
    Logger logger_;
    u64 instructions_ = 0;
    u64 host_efer_ = 0;
    u64 instruction_limit_ = 0;
    u64 vtime_limit_ = 0;
    // Record a stop (the first one stands); the callers leave Unicorn.
    void stop(StopCause cause, std::string reason);
    // Past the virtual-time limit at `vtime` / the watchdog asked: record the
    // stop and return true.
    bool stop_past_vtime_limit(u64 vtime);
    bool stop_if_wall_time_passed();
    u64 rep_elements_ = 0;
    u64 emulated_ = 0;
    std::atomic<bool> wall_stop_{false};
    std::string wall_stop_reason_;
    StopCause stop_cause_ = StopCause::NONE;
    std::string stop_reason_;
    u64 exits_ = 0;
    bool ext_pending_ = false;
    u64 ext_deadline_ = ~u64{0};
    u8 ext_vector_ = 0;
};

}  // namespace xeno::sim
