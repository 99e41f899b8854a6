#include "sim/vmx-model/model_controls.hpp"

#include <cstdio>

#include "arch/x86/vmx/vmcs_field.hpp"
#include "arch/x86/vmx/vmx_arch.hpp"
#include "sim/vmx-model/vmcs_store.hpp"

namespace xeno::sim {

namespace {

using namespace xeno::vmx;

// The reserved controls whose default setting is 1 (SDM Vol. 3D A.2): they
// have no function, so a model implements them by accepting them.
constexpr u32 kPinReserved1 = 0x00000016;
constexpr u32 kProcReserved1 = 0x04006172 & ~(proc::HLT_EXITING | proc::CR3_LOAD_EXITING | proc::CR3_STORE_EXITING);
constexpr u32 kExitReserved1 = 0x00036dff & ~exit_ctl::SAVE_DEBUG_CONTROLS;
constexpr u32 kEntryReserved1 = 0x000011ff & ~entry_ctl::LOAD_DEBUG_CONTROLS;

// Implemented, each where the model does it (engine files unless named).
constexpr u32 kModelPin = kPinReserved1 | pin::EXTERNAL_INTERRUPT_EXITING  // engine_exits.cpp async_check
                          | pin::NMI_EXITING | pin::VIRTUAL_NMIS  // NMI blocking, IRET, NMI window (engine_nmi.cpp)
                          | pin::PREEMPTION_TIMER;                 // engine_run.cpp
constexpr u32 kModelProc =
    kProcReserved1 | proc::INTERRUPT_WINDOW_EXITING | proc::USE_TSC_OFFSETTING | proc::HLT_EXITING |
    proc::INVLPG_EXITING | proc::MWAIT_EXITING | proc::RDPMC_EXITING | proc::RDTSC_EXITING |
    proc::CR3_LOAD_EXITING | proc::CR3_STORE_EXITING | proc::CR8_LOAD_EXITING | proc::CR8_STORE_EXITING |
    proc::NMI_WINDOW_EXITING | proc::MOV_DR_EXITING | proc::UNCONDITIONAL_IO_EXITING | proc::USE_IO_BITMAPS |
    proc::MONITOR_TRAP_FLAG /* engine_mtf.cpp; no profile offers it (Bochs 2.7 does not) */ |
    proc::USE_MSR_BITMAPS | proc::MONITOR_EXITING | proc::PAUSE_EXITING | proc::ACTIVATE_SECONDARY_CONTROLS;
constexpr u32 kModelProc2 = proc2::ENABLE_EPT | proc2::DESCRIPTOR_TABLE_EXITING | proc2::ENABLE_RDTSCP |
                            proc2::ENABLE_VPID | proc2::WBINVD_EXITING | proc2::UNRESTRICTED_GUEST |
                            proc2::RDRAND_EXITING | proc2::ENABLE_INVPCID | proc2::ENABLE_VMFUNC |
                            proc2::RDSEED_EXITING | proc2::TSC_SCALING;
constexpr u32 kModelExit = kExitReserved1 | exit_ctl::SAVE_DEBUG_CONTROLS | exit_ctl::HOST_ADDRESS_SPACE_SIZE |
                           exit_ctl::ACK_INTERRUPT_ON_EXIT | exit_ctl::SAVE_PAT | exit_ctl::LOAD_PAT |
                           exit_ctl::SAVE_EFER | exit_ctl::LOAD_EFER | exit_ctl::SAVE_PREEMPTION_TIMER;
constexpr u32 kModelEntry = kEntryReserved1 | entry_ctl::LOAD_DEBUG_CONTROLS | entry_ctl::IA32E_MODE_GUEST |
                            entry_ctl::LOAD_PAT | entry_ctl::LOAD_EFER;

struct Named {
    u32 msr;
    unsigned bit;
    const char* name;
};

constexpr Named kNames[] = {
    {msr::IA32_VMX_PINBASED_CTLS, 0, "external-interrupt exiting"},
    {msr::IA32_VMX_PINBASED_CTLS, 3, "NMI exiting"},
    {msr::IA32_VMX_PINBASED_CTLS, 5, "virtual NMIs"},
    {msr::IA32_VMX_PINBASED_CTLS, 6, "activate VMX-preemption timer"},
    {msr::IA32_VMX_PINBASED_CTLS, 7, "process posted interrupts"},
    {msr::IA32_VMX_PROCBASED_CTLS, 2, "interrupt-window exiting"},
    {msr::IA32_VMX_PROCBASED_CTLS, 3, "use TSC offsetting"},
    {msr::IA32_VMX_PROCBASED_CTLS, 7, "HLT exiting"},
    {msr::IA32_VMX_PROCBASED_CTLS, 9, "INVLPG exiting"},
    {msr::IA32_VMX_PROCBASED_CTLS, 10, "MWAIT exiting"},
    {msr::IA32_VMX_PROCBASED_CTLS, 11, "RDPMC exiting"},
    {msr::IA32_VMX_PROCBASED_CTLS, 12, "RDTSC exiting"},
    {msr::IA32_VMX_PROCBASED_CTLS, 15, "CR3-load exiting"},
    {msr::IA32_VMX_PROCBASED_CTLS, 16, "CR3-store exiting"},
    {msr::IA32_VMX_PROCBASED_CTLS, 17, "activate tertiary controls"},
    {msr::IA32_VMX_PROCBASED_CTLS, 19, "CR8-load exiting"},
    {msr::IA32_VMX_PROCBASED_CTLS, 20, "CR8-store exiting"},
    {msr::IA32_VMX_PROCBASED_CTLS, 21, "use TPR shadow"},
    {msr::IA32_VMX_PROCBASED_CTLS, 22, "NMI-window exiting"},
    {msr::IA32_VMX_PROCBASED_CTLS, 23, "MOV-DR exiting"},
    {msr::IA32_VMX_PROCBASED_CTLS, 24, "unconditional I/O exiting"},
    {msr::IA32_VMX_PROCBASED_CTLS, 25, "use I/O bitmaps"},
    {msr::IA32_VMX_PROCBASED_CTLS, 27, "monitor trap flag"},
    {msr::IA32_VMX_PROCBASED_CTLS, 28, "use MSR bitmaps"},
    {msr::IA32_VMX_PROCBASED_CTLS, 29, "MONITOR exiting"},
    {msr::IA32_VMX_PROCBASED_CTLS, 30, "PAUSE exiting"},
    {msr::IA32_VMX_PROCBASED_CTLS, 31, "activate secondary controls"},
    {msr::IA32_VMX_PROCBASED_CTLS2, 0, "virtualize APIC accesses"},
    {msr::IA32_VMX_PROCBASED_CTLS2, 1, "enable EPT"},
    {msr::IA32_VMX_PROCBASED_CTLS2, 2, "descriptor-table exiting"},
    {msr::IA32_VMX_PROCBASED_CTLS2, 3, "enable RDTSCP"},
    {msr::IA32_VMX_PROCBASED_CTLS2, 4, "virtualize x2APIC mode"},
    {msr::IA32_VMX_PROCBASED_CTLS2, 5, "enable VPID"},
    {msr::IA32_VMX_PROCBASED_CTLS2, 6, "WBINVD exiting"},
    {msr::IA32_VMX_PROCBASED_CTLS2, 7, "unrestricted guest"},
    {msr::IA32_VMX_PROCBASED_CTLS2, 8, "APIC-register virtualization"},
    {msr::IA32_VMX_PROCBASED_CTLS2, 9, "virtual-interrupt delivery"},
    {msr::IA32_VMX_PROCBASED_CTLS2, 10, "PAUSE-loop exiting"},
    {msr::IA32_VMX_PROCBASED_CTLS2, 11, "RDRAND exiting"},
    {msr::IA32_VMX_PROCBASED_CTLS2, 12, "enable INVPCID"},
    {msr::IA32_VMX_PROCBASED_CTLS2, 13, "enable VM functions"},
    {msr::IA32_VMX_PROCBASED_CTLS2, 14, "VMCS shadowing"},
    {msr::IA32_VMX_PROCBASED_CTLS2, 15, "enable ENCLS exiting"},
    {msr::IA32_VMX_PROCBASED_CTLS2, 16, "RDSEED exiting"},
    {msr::IA32_VMX_PROCBASED_CTLS2, 17, "enable PML"},
    {msr::IA32_VMX_PROCBASED_CTLS2, 18, "EPT-violation #VE"},
    {msr::IA32_VMX_PROCBASED_CTLS2, 19, "conceal VMX from PT"},
    {msr::IA32_VMX_PROCBASED_CTLS2, 20, "enable XSAVES/XRSTORS"},
    {msr::IA32_VMX_PROCBASED_CTLS2, 22, "mode-based execute control for EPT"},
    {msr::IA32_VMX_PROCBASED_CTLS2, 25, "use TSC scaling"},
    {msr::IA32_VMX_EXIT_CTLS, 2, "save debug controls"},
    {msr::IA32_VMX_EXIT_CTLS, 9, "host address-space size"},
    {msr::IA32_VMX_EXIT_CTLS, 12, "load IA32_PERF_GLOBAL_CTRL (exit)"},
    {msr::IA32_VMX_EXIT_CTLS, 15, "acknowledge interrupt on exit"},
    {msr::IA32_VMX_EXIT_CTLS, 18, "save IA32_PAT"},
    {msr::IA32_VMX_EXIT_CTLS, 19, "load IA32_PAT (exit)"},
    {msr::IA32_VMX_EXIT_CTLS, 20, "save IA32_EFER"},
    {msr::IA32_VMX_EXIT_CTLS, 21, "load IA32_EFER (exit)"},
    {msr::IA32_VMX_EXIT_CTLS, 22, "save VMX-preemption timer value"},
    {msr::IA32_VMX_EXIT_CTLS, 23, "clear IA32_BNDCFGS"},
    {msr::IA32_VMX_ENTRY_CTLS, 2, "load debug controls"},
    {msr::IA32_VMX_ENTRY_CTLS, 9, "IA-32e mode guest"},
    {msr::IA32_VMX_ENTRY_CTLS, 10, "entry to SMM"},
    {msr::IA32_VMX_ENTRY_CTLS, 11, "deactivate dual-monitor treatment"},
    {msr::IA32_VMX_ENTRY_CTLS, 13, "load IA32_PERF_GLOBAL_CTRL (entry)"},
    {msr::IA32_VMX_ENTRY_CTLS, 14, "load IA32_PAT (entry)"},
    {msr::IA32_VMX_ENTRY_CTLS, 15, "load IA32_EFER (entry)"},
    {msr::IA32_VMX_ENTRY_CTLS, 16, "load IA32_BNDCFGS"},
};

// One message per control, built once: EntryCheckResult keeps a pointer.
struct Message {
    u32 msr;
    unsigned bit;
    char text[112];
};

const char* refusal(u32 msr, unsigned bit)
{
    static Message messages[sizeof kNames / sizeof kNames[0] + 1];
    static bool built = false;
    if (!built) {
        usize i = 0;
        for (const Named& n : kNames) {
            Message& m = messages[i++];
            m.msr = n.msr;
            m.bit = n.bit;
            std::snprintf(m.text, sizeof m.text, "the model does not implement the \"%s\" control (MSR %#x bit %u)",
                          n.name, n.msr, n.bit);
        }
        Message& last = messages[i];
        last.msr = 0;
        std::snprintf(last.text, sizeof last.text, "the model does not implement a reserved control");
        built = true;
    }
    for (const Message& m : messages)
        if (m.msr == msr && m.bit == bit) return m.text;
    return messages[sizeof kNames / sizeof kNames[0]].text;
}

EntryCheckResult refuse(u32 value, u32 implemented, u32 msr)
{
    const u32 extra = value & ~implemented;
    if (!extra) return EntryCheckResult::pass();
    return EntryCheckResult::bad_control(refusal(msr, static_cast<unsigned>(__builtin_ctz(extra))));
}

}  // namespace

ModelControls model_controls(const VmxCapabilities& v)
{
    // TRUE and non-TRUE MSRs have the same allowed-1 settings.
    return ModelControls{allowed1(v.pinbased_ctls) & kModelPin, allowed1(v.procbased_ctls) & kModelProc,
                         allowed1(v.procbased_ctls2) & kModelProc2, allowed1(v.exit_ctls) & kModelExit,
                         allowed1(v.entry_ctls) & kModelEntry};
}

const char* control_name(u32 msr, unsigned bit)
{
    for (const Named& n : kNames)
        if (n.msr == msr && n.bit == bit) return n.name;
    return "reserved";
}

EntryCheckResult check_model_controls(const VmcsStore& v, const CpuProfile& p)
{
    const ModelControls& m = p.implemented;
    const u32 procc = v.get(field::CPU_BASED_VM_EXEC_CONTROL);
    if (auto r = refuse(v.get(field::PIN_BASED_VM_EXEC_CONTROL), m.pin, msr::IA32_VMX_PINBASED_CTLS); !r.ok()) return r;
    if (auto r = refuse(procc, m.proc, msr::IA32_VMX_PROCBASED_CTLS); !r.ok()) return r;
    if (procc & proc::ACTIVATE_SECONDARY_CONTROLS)
        if (auto r = refuse(v.get(field::SECONDARY_VM_EXEC_CONTROL), m.proc2, msr::IA32_VMX_PROCBASED_CTLS2); !r.ok())
            return r;
    if (auto r = refuse(v.get(field::VM_EXIT_CONTROLS), m.exit, msr::IA32_VMX_EXIT_CTLS); !r.ok()) return r;
    return refuse(v.get(field::VM_ENTRY_CONTROLS), m.entry, msr::IA32_VMX_ENTRY_CTLS);
}

EntryCheckResult check_vm_entry_on_model(const VmcsStore& vmcs, const CpuProfile& profile, const EntryEnvironment& env)
{
    EntryCheckResult r = check_entry_controls(vmcs, profile, env);
    if (r.ok()) r = check_model_controls(vmcs, profile);
    if (r.ok()) r = check_host_state(vmcs, profile, env);
    if (r.ok()) r = check_guest_state(vmcs, profile, env);
    return r;
}

}  // namespace xeno::sim
