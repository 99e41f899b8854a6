// Real (hardware) CR0/CR4 values for a guest's view of them, and the bits the
// hypervisor owns (SDM Vol. 3C 25.6.6 "Guest/Host Masks and Read Shadows for
// CR0 and CR4", Appendix A.7/A.8 fixed bits). Pure: unit tested.
#pragma once

#include "arch/x86/vmx/vmx_caps.hpp"
#include "lib/bits.hpp"

namespace xeno::vmx {

namespace cr0 {
inline constexpr u64 PE = bit(0), MP = bit(1), EM = bit(2), TS = bit(3), ET = bit(4), NE = bit(5), WP = bit(16),
                     AM = bit(18), NW = bit(29), CD = bit(30), PG = bit(31);
}
namespace cr4 {
inline constexpr u64 VME = bit(0), PVI = bit(1), TSD = bit(2), DE = bit(3), PSE = bit(4), PAE = bit(5), MCE = bit(6),
                     PGE = bit(7), PCE = bit(8), OSFXSR = bit(9), OSXMMEXCPT = bit(10), VMXE = bit(13),
                     SMXE = bit(14), PCIDE = bit(17), OSXSAVE = bit(18);
}

// `vm86_host`: the hypervisor runs the guest on its own tables (physical-mode
// tables while the guest has paging off, shadow tables while it has it on;
// no unrestricted guest), so PE/PG/WP are forced on and the paging bits of
// CR4 are the hypervisor's; VME is forced for virtual-8086 mode.
struct CrPolicy {
    bool unrestricted;
    bool vm86_host;
};

constexpr u64 cr0_forced_ones(const VmxCaps& c, CrPolicy p)
{
    u64 f = c.cr0_fixed0 & 0xffffffffull;
    if (p.unrestricted) f &= ~(cr0::PE | cr0::PG);  // SDM 26.3.1.1: exempt with unrestricted guest
    // WP too: shadow leaves are made read-only to track dirty bits and to
    // protect guest page tables, which must hold for supervisor writes.
    if (p.vm86_host) f |= cr0::PE | cr0::PG | cr0::WP;
    return f;
}

constexpr u64 cr0_mask(const VmxCaps& c, CrPolicy p)
{
    return cr0_forced_ones(c, p) | (~c.cr0_fixed1 & 0xffffffffull) | (p.unrestricted ? 0 : cr0::PE | cr0::PG);
}

constexpr u64 cr0_real(u64 guest, const VmxCaps& c, CrPolicy p)
{
    return ((guest & 0xffffffffull) | cr0_forced_ones(c, p)) & c.cr0_fixed1;
}

constexpr u64 cr4_owned_paging(CrPolicy p) { return p.vm86_host ? cr4::PSE | cr4::PAE | cr4::PGE | cr4::VME | cr4::PVI : 0; }

constexpr u64 cr4_forced_ones(const VmxCaps& c, CrPolicy p)
{
    return (c.cr4_fixed0 & 0xffffffffull) | cr4::VMXE | (p.vm86_host ? cr4::VME : 0);
}

// SMXE too: the guest has no SMX (cr4_guest_allowed), but on a CPU that
// allows the bit (CR4_FIXED1) a write the mask let through would set it
// natively, without the #GP the guest's CPUID promises.
constexpr u64 cr4_mask(const VmxCaps& c, CrPolicy p)
{
    return cr4_forced_ones(c, p) | (~c.cr4_fixed1 & 0xffffffffull) | cr4_owned_paging(p) | cr4::SMXE;
}

constexpr u64 cr4_real(u64 guest, const VmxCaps& c, CrPolicy p)
{
    return (((guest & 0xffffffffull) & ~cr4_owned_paging(p)) | cr4_forced_ones(c, p)) & c.cr4_fixed1;
}

// Bits a guest may set in its CR4 view: what the CPU allows, minus VMXE
// (no nested VMX) and the bits that need features the guest is not given.
constexpr u64 cr4_guest_allowed(const VmxCaps& c) { return (c.cr4_fixed1 & 0xffffffffull) & ~(cr4::VMXE | cr4::SMXE); }

}  // namespace xeno::vmx
