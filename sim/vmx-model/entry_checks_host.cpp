// Checks on the host-state area (SDM Vol. 3C, 27.2.2-27.2.4): failure is
// VMfailValid with error 8 ("VM entry with invalid host-state field(s)").
#include "arch/x86/vmx/vmcs_field.hpp"
#include "sim/vmx-model/entry_checks.hpp"
#include "sim/vmx-model/vmcs_store.hpp"

namespace xeno::sim {

namespace {
using namespace xeno::vmx;
using R = EntryCheckResult;

constexpr u64 kCr4Pae = u64{1} << 5;
constexpr u64 kCr4Pcide = u64{1} << 17;
constexpr u64 kEferLme = u64{1} << 8;
constexpr u64 kEferLma = u64{1} << 10;
}  // namespace

// Each byte of a PAT value must be a valid memory type: 0, 1, 4, 5, 6 or 7.
bool pat_valid(u64 pat)
{
    for (unsigned i = 0; i < 8; ++i) {
        const u64 type = (pat >> (8 * i)) & 0xff;
        if (type == 2 || type == 3 || type > 7) return false;
    }
    return true;
}

// IA32_EFER bits that exist: SCE, LME, LMA, NXE.
bool efer_reserved_clear(u64 efer) { return (efer & ~u64{0xd01}) == 0; }

EntryCheckResult check_host_state(const VmcsStore& v, const CpuProfile& p, const EntryEnvironment& env)
{
    const VmxCapabilities& cap = p.vmx;
    const u32 exitc = v.get(field::VM_EXIT_CONTROLS);
    const u32 entryc = v.get(field::VM_ENTRY_CONTROLS);
    const bool host64 = exitc & exit_ctl::HOST_ADDRESS_SPACE_SIZE;

    // 27.2.2: control registers and MSRs.
    const u64 cr0 = v.get(field::HOST_CR0), cr4 = v.get(field::HOST_CR4);
    if ((cr0 & cap.cr0_fixed0) != cap.cr0_fixed0 || (cr0 & ~cap.cr0_fixed1 & 0xffffffff))
        return R::bad_host("HOST_CR0 vs IA32_VMX_CR0_FIXED0/1");
    if ((cr4 & cap.cr4_fixed0) != cap.cr4_fixed0 || (cr4 & ~cap.cr4_fixed1)) return R::bad_host("HOST_CR4 vs IA32_VMX_CR4_FIXED0/1");
    if (v.get(field::HOST_CR3) >> p.phys_addr_width) return R::bad_host("HOST_CR3 beyond physical-address width");
    if (!is_canonical(v.get(field::HOST_IA32_SYSENTER_ESP), p.linear_addr_width) ||
        !is_canonical(v.get(field::HOST_IA32_SYSENTER_EIP), p.linear_addr_width))
        return R::bad_host("HOST_IA32_SYSENTER_ESP/EIP not canonical");
    if ((exitc & exit_ctl::LOAD_PAT) && !pat_valid(v.get(field::HOST_IA32_PAT))) return R::bad_host("HOST_IA32_PAT");
    if (exitc & exit_ctl::LOAD_EFER) {
        const u64 efer = v.get(field::HOST_IA32_EFER);
        if (!efer_reserved_clear(efer)) return R::bad_host("HOST_IA32_EFER reserved bits");
        if (((efer & kEferLma) != 0) != host64 || ((efer & kEferLme) != 0) != host64)
            return R::bad_host("HOST_IA32_EFER.LMA/LME vs host address-space size");
    }

    // 27.2.3: selectors, segment and descriptor-table bases.
    const u16 sels[] = {v.get(field::HOST_ES_SELECTOR), v.get(field::HOST_CS_SELECTOR), v.get(field::HOST_SS_SELECTOR),
                        v.get(field::HOST_DS_SELECTOR), v.get(field::HOST_FS_SELECTOR), v.get(field::HOST_GS_SELECTOR),
                        v.get(field::HOST_TR_SELECTOR)};
    for (u16 s : sels)
        if (s & 7) return R::bad_host("host selector RPL/TI not 0");
    if (v.get(field::HOST_CS_SELECTOR) == 0) return R::bad_host("HOST_CS_SELECTOR null");
    if (v.get(field::HOST_TR_SELECTOR) == 0) return R::bad_host("HOST_TR_SELECTOR null");
    if (!host64 && v.get(field::HOST_SS_SELECTOR) == 0) return R::bad_host("HOST_SS_SELECTOR null without 64-bit host");
    const u64 bases[] = {v.get(field::HOST_FS_BASE), v.get(field::HOST_GS_BASE), v.get(field::HOST_GDTR_BASE),
                         v.get(field::HOST_IDTR_BASE), v.get(field::HOST_TR_BASE)};
    for (u64 b : bases)
        if (!is_canonical(b, p.linear_addr_width)) return R::bad_host("host base address not canonical");

    // 27.2.4: address-space size.
    const bool lma = env.current_efer & kEferLma;
    if (!lma) {
        if (entryc & entry_ctl::IA32E_MODE_GUEST) return R::bad_host("IA-32e mode guest outside IA-32e mode");
        if (host64) return R::bad_host("host address-space size outside IA-32e mode");
    } else if (!host64) {
        return R::bad_host("host address-space size 0 in IA-32e mode");
    }
    const u64 rip = v.get(field::HOST_RIP);
    if (!host64) {
        if (entryc & entry_ctl::IA32E_MODE_GUEST) return R::bad_host("IA-32e mode guest with 32-bit host");
        if (cr4 & kCr4Pcide) return R::bad_host("HOST_CR4.PCIDE with 32-bit host");
        if (rip >> 32) return R::bad_host("HOST_RIP bits 63:32 with 32-bit host");
    } else {
        if (!(cr4 & kCr4Pae)) return R::bad_host("HOST_CR4.PAE clear with 64-bit host");
        if (!is_canonical(rip, p.linear_addr_width)) return R::bad_host("HOST_RIP not canonical");
    }
    return R::pass();
}

}  // namespace xeno::sim
