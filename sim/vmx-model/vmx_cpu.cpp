#include "sim/vmx-model/vmx_cpu.hpp"

#include "hal/panic.hpp"
#include "sim/platform/machine_memory.hpp"
#include "sim/vmx-model/host_cpu.hpp"

namespace xeno::sim {

using vmx::VmInstructionError;

namespace {
constexpr u64 kCr4Vmxe = u64{1} << 13;
constexpr u64 kNoVmcs = ~u64{0};
}  // namespace

VmxCpu::VmxCpu(MachineMemory& memory, HostCpu& host, const CpuProfile& profile)
    : memory_(memory), host_(host), profile_(profile), supported_(std::size_t{1} << 15)
{
    // The profile's answer for every 15-bit encoding, once: VMREAD and VMWRITE
    // run on the path of every VM exit.
    for (u64 e = 0; e < supported_.size(); ++e) supported_[e] = profile.supports_field(e) ? 1 : 0;
}

VmxCpu::~VmxCpu() = default;

VmxResult VmxCpu::fault(VmxFault kind, const char* why)
{
    last_fault_ = kind;
    last_fault_message_ = why;
    if (fault_handler_) {
        fault_handler_(kind, last_fault_message_);
    } else {
        std::string msg = std::string(kind == VmxFault::UD ? "#UD: " : "#GP(0): ") + why;
        hal::panic(msg.c_str());
    }
    return VmxResult::FAIL_INVALID;
}

VmxResult VmxCpu::fail(VmInstructionError error)
{
    if (!current_) return VmxResult::FAIL_INVALID;
    current_->set(vmx::field::VM_INSTRUCTION_ERROR, static_cast<u32>(error));
    return VmxResult::FAIL_VALID;
}

u64 VmxCpu::current_vmcs_pointer() const { return current_ ? current_->address().value() : kNoVmcs; }

u32 VmxCpu::read_revision(Hpa region) const
{
    // Physical addresses beyond machine memory read as all ones (no device
    // answers), which never matches a revision identifier.
    if (!memory_.contains(region.value(), 4)) return 0xffffffff;
    return memory_.load<u32>(region.value());
}

void VmxCpu::flush_tlb()
{
    if (tlb_flush_) tlb_flush_();
}

// SDM Vol. 3C, 31.3 "VMXON".
VmxResult VmxCpu::vmxon(Hpa region)
{
    if (!(host_.cr4() & kCr4Vmxe)) return fault(VmxFault::UD, "VMXON with CR4.VMXE = 0");
    if (in_vmx_operation_) return fail(VmInstructionError::VMXON_IN_ROOT);

    const VmxCapabilities& cap = profile_.vmx;
    const u64 cr0 = host_.cr0(), cr4 = host_.cr4();
    if ((cr0 & cap.cr0_fixed0) != cap.cr0_fixed0 || (cr0 & ~cap.cr0_fixed1 & 0xffffffff) != 0)
        return fault(VmxFault::GP, "VMXON: CR0 not supported in VMX operation (IA32_VMX_CR0_FIXED0/1)");
    if ((cr4 & cap.cr4_fixed0) != cap.cr4_fixed0 || (cr4 & ~cap.cr4_fixed1) != 0)
        return fault(VmxFault::GP, "VMXON: CR4 not supported in VMX operation (IA32_VMX_CR4_FIXED0/1)");
    const u64 fc = host_.rdmsr(vmx::msr::IA32_FEATURE_CONTROL);
    if (!(fc & vmx::kFeatureControlLock)) return fault(VmxFault::GP, "VMXON: IA32_FEATURE_CONTROL is not locked");
    if (!(fc & vmx::kFeatureControlVmxOutsideSmx))
        return fault(VmxFault::GP, "VMXON: IA32_FEATURE_CONTROL does not enable VMX outside SMX");

    if (!region.page_aligned() || !profile_.phys_addr_valid(region.value())) return VmxResult::FAIL_INVALID;
    const u32 rev = read_revision(region);
    if ((rev & 0x7fffffff) != profile_.vmcs_revision() || (rev >> 31) != 0) return VmxResult::FAIL_INVALID;

    current_.reset();
    vmxon_pointer_ = region;
    in_vmx_operation_ = true;
    host_.set_in_vmx_operation(true);
    return VmxResult::SUCCEED;
}

// 31.3 "VMXOFF".
VmxResult VmxCpu::vmxoff()
{
    if (!in_vmx_operation_) return fault(VmxFault::UD, "VMXOFF outside VMX operation");
    // No dual-monitor treatment in this model, so VMXOFF always succeeds.
    in_vmx_operation_ = false;
    host_.set_in_vmx_operation(false);
    current_.reset();
    vmxon_pointer_ = Hpa{};
    return VmxResult::SUCCEED;
}

// 31.3 "VMCLEAR".
VmxResult VmxCpu::vmclear(Hpa vmcs)
{
    if (!in_vmx_operation_) return fault(VmxFault::UD, "VMCLEAR outside VMX operation");
    if (!vmcs.page_aligned() || !profile_.phys_addr_valid(vmcs.value()))
        return fail(VmInstructionError::VMCLEAR_INVALID_ADDRESS);
    if (vmcs == vmxon_pointer_) return fail(VmInstructionError::VMCLEAR_VMXON_POINTER);
    // Flush the VMCS data to its region (the model always writes through) and
    // make the launch state clear. No revision check (unlike VMPTRLD).
    if (memory_.contains(vmcs.value(), kPageSize)) VmcsStore(memory_, vmcs).set_launched(false);
    if (current_ && current_->address() == vmcs) current_.reset();
    return VmxResult::SUCCEED;
}

// 31.3 "VMPTRLD".
VmxResult VmxCpu::vmptrld(Hpa vmcs)
{
    if (!in_vmx_operation_) return fault(VmxFault::UD, "VMPTRLD outside VMX operation");
    if (!vmcs.page_aligned() || !profile_.phys_addr_valid(vmcs.value()))
        return fail(VmInstructionError::VMPTRLD_INVALID_ADDRESS);
    if (vmcs == vmxon_pointer_) return fail(VmInstructionError::VMPTRLD_VMXON_POINTER);
    const u32 rev = read_revision(vmcs);
    const bool shadow = (rev >> 31) != 0;
    if ((rev & 0x7fffffff) != profile_.vmcs_revision() ||
        (shadow && !profile_.proc2_allows(vmx::proc2::VMCS_SHADOWING)))
        return fail(VmInstructionError::VMPTRLD_INCORRECT_REVISION);
    current_.reset();
    current_.emplace(memory_, vmcs);
    return VmxResult::SUCCEED;
}

// 31.3 "VMPTRST".
VmxResult VmxCpu::vmptrst(Hpa* vmcs)
{
    if (!in_vmx_operation_) return fault(VmxFault::UD, "VMPTRST outside VMX operation");
    *vmcs = Hpa{current_vmcs_pointer()};
    return VmxResult::SUCCEED;
}

bool VmxCpu::field_supported(u64 encoding) const
{
    // Bits 63:15 set: never a supported component (as CpuProfile::supports_field).
    return encoding < supported_.size() && supported_[encoding] != 0;
}

u64 VmxCpu::read_field(u32 encoding)
{
    const u32 full = encoding & ~1u;
    if (live_ && (vmx::encoding_type(full) == vmx::VmcsFieldType::GUEST || live_->owns(full))) {
        const u64 value = live_->read(full);
        return vmx::encoding_is_high(encoding) ? value >> 32 : value & VmcsStore::width_mask(full);
    }
    return current_->get(encoding);
}

void VmxCpu::write_field(u32 encoding, u64 value)
{
    const u32 full = encoding & ~1u;
    if (live_ && (vmx::encoding_type(full) == vmx::VmcsFieldType::GUEST || live_->owns(full))) {
        if (vmx::encoding_is_high(encoding)) {
            const u64 old = live_->read(full);
            live_->write(full, (old & 0xffffffff) | (value << 32));
        } else {
            live_->write(full, value & VmcsStore::width_mask(full));
        }
        return;
    }
    current_->set(encoding, value);
}

// 31.3 "VMREAD".
VmxResult VmxCpu::vmread(u64 encoding, u64* value)
{
    if (!in_vmx_operation_) return fault(VmxFault::UD, "VMREAD outside VMX operation");
    if (!current_) return VmxResult::FAIL_INVALID;
    if (!field_supported(encoding)) return fail(VmInstructionError::UNSUPPORTED_VMCS_COMPONENT);
    *value = read_field(static_cast<u32>(encoding));
    return VmxResult::SUCCEED;
}

// 31.3 "VMWRITE".
VmxResult VmxCpu::vmwrite(u64 encoding, u64 value)
{
    if (!in_vmx_operation_) return fault(VmxFault::UD, "VMWRITE outside VMX operation");
    if (!current_) return VmxResult::FAIL_INVALID;
    if (!field_supported(encoding)) return fail(VmInstructionError::UNSUPPORTED_VMCS_COMPONENT);
    // VM-exit information fields are read-only unless IA32_VMX_MISC bit 29.
    if (vmx::encoding_type(encoding) == vmx::VmcsFieldType::EXIT_INFO && !profile_.vmwrite_any_field())
        return fail(VmInstructionError::VMWRITE_READ_ONLY_COMPONENT);
    write_field(static_cast<u32>(encoding), value);
    return VmxResult::SUCCEED;
}

// 31.3 "INVEPT".
VmxResult VmxCpu::invept(u64 type, const hal::InveptDescriptor& descriptor)
{
    const u64 cap = profile_.has_ept_vpid_cap() ? profile_.vmx.ept_vpid_cap : 0;
    if (!in_vmx_operation_ || !profile_.has_ept() || !(cap & ept_cap::INVEPT))
        return fault(VmxFault::UD, "INVEPT outside VMX operation or without EPT support");
    const bool supported = (type == 1 && (cap & ept_cap::INVEPT_SINGLE_CONTEXT)) ||
                           (type == 2 && (cap & ept_cap::INVEPT_ALL_CONTEXT));
    if (!supported) return fail(VmInstructionError::INVALID_INVEPT_INVVPID_OPERAND);
    // Single-context: the EPTP must be one VM entry would accept.
    if (type == 1 && !eptp_valid(descriptor.eptp, profile_))
        return fail(VmInstructionError::INVALID_INVEPT_INVVPID_OPERAND);
    flush_tlb();
    return VmxResult::SUCCEED;
}

// 31.3 "INVVPID".
VmxResult VmxCpu::invvpid(u64 type, const hal::InvvpidDescriptor& descriptor)
{
    const u64 cap = profile_.has_ept_vpid_cap() ? profile_.vmx.ept_vpid_cap : 0;
    if (!in_vmx_operation_ || !profile_.has_vpid() || !(cap & ept_cap::INVVPID))
        return fault(VmxFault::UD, "INVVPID outside VMX operation or without VPID support");
    const u64 type_bit = type <= 3 ? u64{1} << (40 + type) : 0;
    if (!(cap & type_bit)) return fail(VmInstructionError::INVALID_INVEPT_INVVPID_OPERAND);
    if (descriptor.vpid >> 16) return fail(VmInstructionError::INVALID_INVEPT_INVVPID_OPERAND);
    const u16 vpid = static_cast<u16>(descriptor.vpid);
    switch (type) {
    case 0:  // individual address
        if (vpid == 0 || !is_canonical(descriptor.linear_address, profile_.linear_addr_width))
            return fail(VmInstructionError::INVALID_INVEPT_INVVPID_OPERAND);
        break;
    case 1:  // single context
    case 3:  // single context, retaining globals
        if (vpid == 0) return fail(VmInstructionError::INVALID_INVEPT_INVVPID_OPERAND);
        break;
    default: break;  // all contexts
    }
    flush_tlb();
    return VmxResult::SUCCEED;
}

// 31.3 "VMLAUNCH/VMRESUME", up to the checks on the VMCS contents.
VmxResult VmxCpu::check_launch(bool resume)
{
    if (!in_vmx_operation_) return fault(VmxFault::UD, resume ? "VMRESUME outside VMX operation"
                                                              : "VMLAUNCH outside VMX operation");
    if (!current_) return VmxResult::FAIL_INVALID;
    if (current_->revision_word() & VmcsStore::kShadowIndicator) return VmxResult::FAIL_INVALID;
    if (!resume && current_->launched()) return fail(VmInstructionError::VMLAUNCH_NONCLEAR_VMCS);
    if (resume && !current_->launched()) return fail(VmInstructionError::VMRESUME_NONLAUNCHED_VMCS);
    return VmxResult::SUCCEED;
}

EntryCheckResult VmxCpu::check_entry() const
{
    if (!current_) hal::panic("VmxCpu::check_entry without a current VMCS");
    EntryEnvironment env;
    env.current_efer = host_.efer();
    env.memory = &memory_;
    return check_vm_entry(*current_, profile_, env);
}

}  // namespace xeno::sim
