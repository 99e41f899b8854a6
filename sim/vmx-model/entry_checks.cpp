// check_vm_entry and the helpers shared by the three groups of checks.
#include "sim/vmx-model/entry_checks.hpp"

#include "sim/vmx-model/vmcs_store.hpp"

namespace xeno::sim {

EntryCheckResult check_vm_entry(const VmcsStore& vmcs, const CpuProfile& profile, const EntryEnvironment& env)
{
    EntryCheckResult r = check_entry_controls(vmcs, profile, env);
    if (!r.ok()) return r;
    r = check_host_state(vmcs, profile, env);
    if (!r.ok()) return r;
    return check_guest_state(vmcs, profile, env);
}

bool eptp_valid(u64 eptp, const CpuProfile& profile)
{
    if (!profile.has_ept()) return false;
    const u64 cap = profile.vmx.ept_vpid_cap;
    // Bits 2:0: memory type of the paging structures, UC (0) or WB (6) as allowed.
    const u64 memtype = eptp & 7;
    if (!((memtype == 0 && (cap & ept_cap::MEMTYPE_UC)) || (memtype == 6 && (cap & ept_cap::MEMTYPE_WB))))
        return false;
    // Bits 5:3: page-walk length minus 1; only 4-level walks here.
    if (((eptp >> 3) & 7) != 3 || !(cap & ept_cap::WALK_LENGTH_4)) return false;
    // Bit 6: accessed/dirty flags.
    if (((eptp >> 6) & 1) && !(cap & ept_cap::ACCESSED_DIRTY)) return false;
    // Bits 11:7 reserved (bit 7 is supervisor shadow stack control with CET:
    // not in these profiles), bits 63:MAXPHYADDR reserved.
    if ((eptp >> 7) & 0x1f) return false;
    if ((eptp >> profile.phys_addr_width) != 0) return false;
    return true;
}

EntryCheckResult check_msr_load_entry(u32 msr, u64 reserved_high, u64 index)
{
    // 27.4: bits 63:32 of the entry's first quadword are reserved; IA32_FS_BASE,
    // IA32_GS_BASE (0xC0000100/1) and IA32_SMM_MONITOR_CTL (0x9B) may not be
    // loaded this way, nor (with x2APIC) MSRs 0x800-0x8FF; IA32_SMBASE (0x9E).
    if (reserved_high != 0) return EntryCheckResult::bad_msr_load("MSR-load entry: reserved bits set", index);
    if (msr == 0xC0000100 || msr == 0xC0000101)
        return EntryCheckResult::bad_msr_load("MSR-load entry: FS/GS base", index);
    if (msr == 0x9B || msr == 0x9E) return EntryCheckResult::bad_msr_load("MSR-load entry: SMM MSR", index);
    if ((msr >> 8) == 0x8) return EntryCheckResult::bad_msr_load("MSR-load entry: x2APIC MSR", index);
    return EntryCheckResult::pass();
}

}  // namespace xeno::sim
