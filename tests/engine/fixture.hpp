// A tiny guest for engine tests: machine memory, a hand-made VMCS in the
// store, the engine, and an exit handler that records every exit.
#pragma once

#include <catch2/catch.hpp>

#include <functional>
#include <initializer_list>
#include <vector>

#include "arch/x86/vmx/vmcs_field.hpp"
#include "arch/x86/vmx/vmx_arch.hpp"
#include "hal/vmx.hpp"
#include "sim/platform/machine_memory.hpp"
#include "sim/vmx-model/cpu_profile.hpp"
#include "sim/vmx-model/engine/engine.hpp"
#include "sim/vmx-model/vmcs_store.hpp"

namespace xeno::sim::test {

namespace f = vmx::field;

struct RecordedExit {
    u32 reason;
    u64 qualification;
    u64 rip;
    u32 length;
    u32 info;
    u32 intr_info;
    u32 intr_error;
    u64 gpa;
    u64 gla;
    u64 instructions;
};

struct Guest {
    static constexpr u64 kVmcs = 0x1000;
    Guest() = default;
    explicit Guest(const CpuProfile& p) : profile(p) {}
    MachineMemory mem{16u << 20};
    const CpuProfile& profile = *find_cpu_profile("skylake");
    VmcsStore vmcs{mem, Hpa{kVmcs}};
    Engine engine{mem, profile};
    hal::GuestRegs regs{};
    std::vector<RecordedExit> exits;
    // Called after recording; default: stop on HLT/VMCALL/triple fault, else skip the instruction.
    std::function<hal::ExitAction(Guest&, const RecordedExit&)> on_exit;
    usize max_exits = 1000;

    u64 live(u32 enc) { return engine.live_guest().read(enc); }
    void live_write(u32 enc, u64 v) { engine.live_guest().write(enc, v); }

    void code(u64 at, std::initializer_list<u8> bytes)
    {
        u64 a = at;
        for (u8 b : bytes) mem.store<u8>(a++, b);
    }

    void segment(u32 sel_enc, u32 base_enc, u32 limit_enc, u32 ar_enc, u16 sel, u64 base, u32 limit, u32 ar)
    {
        vmcs.set(sel_enc, sel);
        vmcs.set(base_enc, base);
        vmcs.set(limit_enc, limit);
        vmcs.set(ar_enc, ar);
    }

    void data_segments(u16 sel, u64 base, u32 limit, u32 ar)
    {
        segment(f::GUEST_SS_SELECTOR.kEncoding, f::GUEST_SS_BASE.kEncoding, f::GUEST_SS_LIMIT.kEncoding, f::GUEST_SS_AR_BYTES.kEncoding, sel, base, limit, ar);
        segment(f::GUEST_DS_SELECTOR.kEncoding, f::GUEST_DS_BASE.kEncoding, f::GUEST_DS_LIMIT.kEncoding, f::GUEST_DS_AR_BYTES.kEncoding, sel, base, limit, ar);
        segment(f::GUEST_ES_SELECTOR.kEncoding, f::GUEST_ES_BASE.kEncoding, f::GUEST_ES_LIMIT.kEncoding, f::GUEST_ES_AR_BYTES.kEncoding, sel, base, limit, ar);
        segment(f::GUEST_FS_SELECTOR.kEncoding, f::GUEST_FS_BASE.kEncoding, f::GUEST_FS_LIMIT.kEncoding, f::GUEST_FS_AR_BYTES.kEncoding, sel, base, limit, ar);
        segment(f::GUEST_GS_SELECTOR.kEncoding, f::GUEST_GS_BASE.kEncoding, f::GUEST_GS_LIMIT.kEncoding, f::GUEST_GS_AR_BYTES.kEncoding, sel, base, limit, ar);
    }

    void common_state()
    {
        vmcs.set(f::GUEST_LDTR_AR_BYTES, vmx::ar::UNUSABLE);
        vmcs.set(f::GUEST_TR_SELECTOR, 0x18);
        vmcs.set(f::GUEST_TR_LIMIT, 0x67);
        vmcs.set(f::GUEST_TR_AR_BYTES, 0x8b);
        vmcs.set(f::GUEST_GDTR_BASE, 0x500);
        vmcs.set(f::GUEST_GDTR_LIMIT, 0x1f);
        vmcs.set(f::GUEST_IDTR_BASE, 0);
        vmcs.set(f::GUEST_IDTR_LIMIT, 0x3ff);
        vmcs.set(f::GUEST_RFLAGS, 2);
        vmcs.set(f::GUEST_RSP, 0x8000);
        vmcs.set(f::VMCS_LINK_POINTER, ~u64{0});
        vmcs.set(f::CPU_BASED_VM_EXEC_CONTROL, vmx::proc::HLT_EXITING | vmx::proc::UNCONDITIONAL_IO_EXITING);
    }

    // 32-bit protected mode, flat segments, paging off.
    void flat32(u64 rip)
    {
        common_state();
        segment(f::GUEST_CS_SELECTOR.kEncoding, f::GUEST_CS_BASE.kEncoding, f::GUEST_CS_LIMIT.kEncoding, f::GUEST_CS_AR_BYTES.kEncoding, 0x08, 0, 0xffffffff, 0xc09b);
        data_segments(0x10, 0, 0xffffffff, 0xc093);
        vmcs.set(f::GUEST_CR0, 0x31);
        vmcs.set(f::GUEST_CR4, 0x2000);
        vmcs.set(f::GUEST_RIP, rip);
    }

    // Real mode (unrestricted guest): CS:IP = cs:ip.
    void real_mode(u16 cs, u16 ip)
    {
        common_state();
        segment(f::GUEST_CS_SELECTOR.kEncoding, f::GUEST_CS_BASE.kEncoding, f::GUEST_CS_LIMIT.kEncoding, f::GUEST_CS_AR_BYTES.kEncoding, cs, u64{cs} << 4, 0xffff, 0x9b);
        data_segments(0, 0, 0xffff, 0x93);
        vmcs.set(f::GUEST_CR0, 0x30);
        vmcs.set(f::GUEST_CR4, 0x2000);
        vmcs.set(f::GUEST_RIP, ip);
        vmcs.set(f::GUEST_RSP, 0x7000);
        vmcs.set(f::CPU_BASED_VM_EXEC_CONTROL, vmx::proc::HLT_EXITING | vmx::proc::UNCONDITIONAL_IO_EXITING |
                                                   vmx::proc::ACTIVATE_SECONDARY_CONTROLS);
        vmcs.set(f::SECONDARY_VM_EXEC_CONTROL, vmx::proc2::UNRESTRICTED_GUEST);
    }

    static hal::ExitAction handler(void* context, hal::GuestRegs&)
    {
        auto& g = *static_cast<Guest*>(context);
        RecordedExit e{};
        e.reason = g.vmcs.get(f::VM_EXIT_REASON);
        e.qualification = g.vmcs.get(f::EXIT_QUALIFICATION);
        e.rip = g.live(f::GUEST_RIP.kEncoding);
        e.length = g.vmcs.get(f::VM_EXIT_INSTRUCTION_LEN);
        e.info = g.vmcs.get(f::VMX_INSTRUCTION_INFO);
        e.intr_info = g.vmcs.get(f::VM_EXIT_INTR_INFO);
        e.intr_error = g.vmcs.get(f::VM_EXIT_INTR_ERROR_CODE);
        e.gpa = g.vmcs.get(f::GUEST_PHYSICAL_ADDRESS);
        e.gla = g.vmcs.get(f::GUEST_LINEAR_ADDRESS);
        e.instructions = g.engine.guest_instructions();
        g.exits.push_back(e);
        if (g.exits.size() >= g.max_exits) return hal::ExitAction::YIELD;
        if (g.on_exit) return g.on_exit(g, e);
        const auto r = static_cast<vmx::ExitReason>(e.reason & 0xffff);
        if (r == vmx::ExitReason::HLT || r == vmx::ExitReason::VMCALL || r == vmx::ExitReason::TRIPLE_FAULT ||
            r == vmx::ExitReason::EXCEPTION_NMI || r == vmx::ExitReason::EPT_VIOLATION)
            return hal::ExitAction::YIELD;
        g.live_write(f::GUEST_RIP.kEncoding, e.rip + e.length);
        return hal::ExitAction::RESUME;
    }

    hal::VmxResult run() { return engine.run(vmcs, regs, &Guest::handler, this); }
};

inline u32 reason(vmx::ExitReason r) { return static_cast<u32>(r); }

}  // namespace xeno::sim::test
