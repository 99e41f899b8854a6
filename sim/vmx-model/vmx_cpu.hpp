// VMX operation of the simulated CPU: VMXON/VMXOFF, the current-VMCS pointer
// and the VMX instructions with every architectural outcome (SDM Vol. 3C,
// chapter 31: "31.2 Conventions" for VMsucceed/VMfail, the instruction pages'
// Operation sections, and Table 31-1 for the error numbers).
//
// Faults (#UD, #GP) have no channel through the hal: they go to the fault
// handler, which panics by default (the hypervisor would crash on hardware);
// tests install one that records them. After a fault the instruction returns
// FAIL_INVALID and changes nothing.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "arch/x86/vmx/vmx_arch.hpp"
#include "hal/vmx.hpp"
#include "lib/types.hpp"
#include "sim/vmx-model/cpu_profile.hpp"
#include "sim/vmx-model/entry_checks.hpp"
#include "sim/vmx-model/vmcs_store.hpp"

namespace xeno::sim {

class MachineMemory;
class HostCpu;

using hal::VmxResult;

// The guest state the engine keeps live while the guest runs (in Unicorn),
// so VMREAD/VMWRITE of it from the exit handler see and change the real thing.
class LiveGuestState {
public:
    virtual ~LiveGuestState() = default;
    virtual bool owns(u32 encoding) const = 0;   // besides all GUEST-type fields
    virtual u64 read(u32 encoding) = 0;
    virtual void write(u32 encoding, u64 value) = 0;
};

enum class VmxFault : u8 { NONE, UD, GP };

class VmxCpu {
public:
    VmxCpu(MachineMemory& memory, HostCpu& host, const CpuProfile& profile);
    ~VmxCpu();
    VmxCpu(const VmxCpu&) = delete;
    VmxCpu& operator=(const VmxCpu&) = delete;

    // The instructions (CPL 0, 64-bit mode, VMX root operation: the only way
    // the hypervisor runs).
    VmxResult vmxon(Hpa region);
    VmxResult vmxoff();
    VmxResult vmclear(Hpa vmcs);
    VmxResult vmptrld(Hpa vmcs);
    VmxResult vmptrst(Hpa* vmcs);
    VmxResult vmread(u64 encoding, u64* value);
    VmxResult vmwrite(u64 encoding, u64 value);
    VmxResult invept(u64 type, const hal::InveptDescriptor& descriptor);
    VmxResult invvpid(u64 type, const hal::InvvpidDescriptor& descriptor);

    // The launch-state checks VMLAUNCH (resume=false) and VMRESUME do before
    // looking at the VMCS contents: #UD outside VMX operation, VMfailInvalid
    // without a current VMCS (or with a shadow VMCS current), VMfailValid 4
    // (VMLAUNCH, launched) / 5 (VMRESUME, not launched). SUCCEED: go on.
    VmxResult check_launch(bool resume);

    // The VM-entry checks of SDM chapter 27 on the current VMCS (after a
    // SUCCEED from check_launch), with the host's IA32_EFER and machine
    // memory as the environment. Reads the VMCS region, so live guest state
    // must be in the VMCS (detached) when this runs. VMFAIL_VALID results go
    // to fail(result.error); ENTRY_FAILURE ones become a VM exit.
    EntryCheckResult check_entry() const;

    // VMfail(error): VMfailValid with error written to VM_INSTRUCTION_ERROR of
    // the current VMCS, or VMfailInvalid without one (SDM 31.2).
    VmxResult fail(vmx::VmInstructionError error);

    bool in_vmx_operation() const { return in_vmx_operation_; }
    Hpa vmxon_pointer() const { return vmxon_pointer_; }
    // The current-VMCS pointer, or all ones (as VMPTRST stores it) without one.
    u64 current_vmcs_pointer() const;
    VmcsStore* current_vmcs() { return current_ ? &*current_ : nullptr; }
    const VmcsStore* current_vmcs() const { return current_ ? &*current_ : nullptr; }

    // While attached, VMREAD/VMWRITE of GUEST-type fields and of fields the
    // live state owns() go to it (after the same support/permission checks).
    void attach_live_guest(LiveGuestState* live) { live_ = live; }
    void detach_live_guest() { live_ = nullptr; }
    LiveGuestState* live_guest() const { return live_; }

    // Called by INVEPT/INVVPID (and whenever cached translations must go):
    // the engine drops its translations.
    void set_tlb_flush_hook(std::function<void()> hook) { tlb_flush_ = std::move(hook); }

    using FaultHandler = std::function<void(VmxFault, const std::string& why)>;
    void set_fault_handler(FaultHandler handler) { fault_handler_ = std::move(handler); }
    VmxFault last_fault() const { return last_fault_; }
    const std::string& last_fault_message() const { return last_fault_message_; }
    void clear_fault() { last_fault_ = VmxFault::NONE; last_fault_message_.clear(); }

    const CpuProfile& profile() const { return profile_; }
    HostCpu& host() { return host_; }
    MachineMemory& memory() { return memory_; }

private:
    VmxResult fault(VmxFault kind, const char* why);
    // VMREAD/VMWRITE common checks: VMfail for unsupported components.
    bool field_supported(u64 encoding) const;
    u32 read_revision(Hpa region) const;
    u64 read_field(u32 encoding);
    void write_field(u32 encoding, u64 value);
    void flush_tlb();

    MachineMemory& memory_;
    HostCpu& host_;
    const CpuProfile& profile_;
    bool in_vmx_operation_ = false;
    Hpa vmxon_pointer_{};
    std::optional<VmcsStore> current_;
    LiveGuestState* live_ = nullptr;
    std::vector<u8> supported_;  // profile_.supports_field per 15-bit encoding
    std::function<void()> tlb_flush_;
    FaultHandler fault_handler_;
    VmxFault last_fault_ = VmxFault::NONE;
    std::string last_fault_message_;
};

}  // namespace xeno::sim
