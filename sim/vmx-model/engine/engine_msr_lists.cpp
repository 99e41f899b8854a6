// MSR loading and storing at VM entry and exit (SDM Vol. 3C 26.4 "Loading
// MSRs", 28.4 "Saving MSRs", 28.6 "Loading MSRs"; the list format is Table
// 25-15: MSR index, 32 reserved bits, the value) and the host's IA32_PAT and
// IA32_EFER loaded by the "load IA32_PAT/EFER" exit controls (28.3.1).
//
// The guest side of a list entry is the engine's CPU: the model loads and
// stores the MSRs whose guest value lives in Unicorn (kGuestMsrs); an entry
// for any other MSR fails the entry (reason 34, as an MSR the processor
// cannot load does) with a log line saying the model does not implement
// it, never a silent no-op. The host side goes through the host MSR writer
// (Engine::set_host_msr_writer: the simulated host CPU); a refused host
// load is a VMX abort (28.7), which switches the machine off.
#include <cstdio>

#include "arch/x86/vmx/vmcs_field.hpp"
#include "sim/platform/machine_memory.hpp"
#include "sim/vmx-model/engine/engine_impl.hpp"
#include "sim/vmx-model/entry_checks.hpp"

namespace xeno::sim {

namespace f = vmx::field;

namespace {

// MSRs whose guest value the engine's CPU holds and QEMU loads and stores
// (SYSENTER, SYSCALL, KERNEL_GS_BASE, PAT, TSC_AUX).
constexpr u32 kGuestMsrs[] = {0x174, 0x175, 0x176, 0x277, 0xc0000081, 0xc0000082,
                              0xc0000083, 0xc0000084, 0xc0000102, 0xc0000103};

bool guest_msr_supported(u32 msr)
{
    for (u32 m : kGuestMsrs)
        if (m == msr) return true;
    return false;
}

}  // namespace

u32 Engine::Impl::load_entry_msr_list()
{
    if (msr_list_loaded.size() > entry_msr_load_count) msr_list_loaded.resize(entry_msr_load_count);
    for (u32 i = 0; i < entry_msr_load_count; ++i) {
        const u64 at = entry_msr_load_addr + u64{i} * 16;
        if (!memory.contains(at, 16)) return i + 1;
        const u32 msr = memory.load<u32>(at);
        const u32 reserved = memory.load<u32>(at + 4);
        const u64 value = memory.load<u64>(at + 8);
        if (!check_msr_load_entry(msr, reserved, i).ok()) return i + 1;
        if (!guest_msr_supported(msr)) {
            char text[120];
            std::snprintf(text, sizeof text, "model: the model does not implement loading MSR %#x (VM-entry MSR-load entry %u)",
                          msr, i);
            if (engine.logger_) engine.logger_(text);
            return i + 1;
        }
        if (i < msr_list_loaded.size() && msr_list_loaded[i] == std::make_pair(msr, value)) continue;
        uc_x86_msr m{msr, value};
        uc_reg_write(uc, UC_X86_REG_MSR, &m);
        if (i < msr_list_loaded.size()) msr_list_loaded[i] = {msr, value};
        else if (i == msr_list_loaded.size()) msr_list_loaded.emplace_back(msr, value);
    }
    return 0;
}

bool Engine::Impl::exit_msrs()
{
    for (u32 i = 0; i < exit_msr_store_count; ++i) {
        const u64 at = exit_msr_store_addr + u64{i} * 16;
        if (!memory.contains(at, 16)) {
            stop_machine(StopCause::ENGINE_FAILURE, "VMX abort: the VM-exit MSR-store area is outside machine memory");
            return false;
        }
        const u32 msr = memory.load<u32>(at);
        if (!guest_msr_supported(msr) || memory.load<u32>(at + 4) != 0) {
            char text[112];
            std::snprintf(text, sizeof text, "VMX abort: the model cannot store MSR %#x (VM-exit MSR-store entry %u)", msr, i);
            stop_machine(StopCause::ENGINE_FAILURE, text);
            return false;
        }
        uc_x86_msr m{msr, 0};
        uc_reg_read(uc, UC_X86_REG_MSR, &m);
        memory.store<u64>(at + 8, m.value);
    }
    auto host_write = [&](u32 msr, u64 value) {
        if (engine.host_msr_writer_ && engine.host_msr_writer_(msr, value)) return true;
        char text[96];
        std::snprintf(text, sizeof text, "VMX abort: loading host MSR %#x failed at a VM exit", msr);
        stop_machine(StopCause::ENGINE_FAILURE, text);
        return false;
    };
    if ((exit_ctls & vmx::exit_ctl::LOAD_PAT) && !host_write(0x277, vmcs->get(f::HOST_IA32_PAT))) return false;
    if (exit_ctls & vmx::exit_ctl::LOAD_EFER) {
        const u64 efer = vmcs->get(f::HOST_IA32_EFER);
        if (!host_write(0xc0000080, efer)) return false;
        engine.host_efer_ = efer;
    }
    for (u32 i = 0; i < exit_msr_load_count; ++i) {
        const u64 at = exit_msr_load_addr + u64{i} * 16;
        if (!memory.contains(at, 16)) {
            stop_machine(StopCause::ENGINE_FAILURE, "VMX abort: the VM-exit MSR-load area is outside machine memory");
            return false;
        }
        const u32 msr = memory.load<u32>(at);
        if (!check_msr_load_entry(msr, memory.load<u32>(at + 4), i).ok()) {
            stop_machine(StopCause::ENGINE_FAILURE, "VMX abort: a bad VM-exit MSR-load entry");
            return false;
        }
        if (!host_write(msr, memory.load<u64>(at + 8))) return false;
    }
    return true;
}

bool Engine::Impl::report_entry_failure(u32 reason, u64 qualification)
{
    // VM-entry failure (26.8): an exit with bit 31 set; the guest state was
    // not (or not completely) loaded, so VMREADs see the VMCS as it is.
    ExitInfo x;
    x.reason = reason | vmx::kExitReasonEntryFailure;
    x.qualification = qualification;
    live = false;
    write_exit_fields(x);
    const hal::ExitAction a = handler(handler_context, *regs);
    live = true;
    ++engine.exits_;
    if (a == hal::ExitAction::YIELD) {
        stop_requested = true;
        return false;
    }
    return true;
}

}  // namespace xeno::sim
