// CPUID's topology fields for a domain (SDM Vol. 2A, CPUID leaves 01H, 04H,
// 0BH and 1FH): a package of `vcpus` cores with one thread each.
#include "arch/x86/vmx/cpuid_topology.hpp"

#include "arch/x86/vmx/exit_handlers.hpp"

namespace xeno::vmx {

namespace {

constexpr u32 kLeaf1EdxHtt = 1u << 28;  // EBX[23:16] is valid: more than one logical processor
constexpr u32 kLevelTypeSmt = 1, kLevelTypeCore = 2;

}  // namespace

u32 core_id_bits(u32 vcpus)
{
    u32 bits = 0;
    while (bits < 8 && (1u << bits) < vcpus) ++bits;
    return bits;
}

CpuidRegs topology_cpuid(u32 leaf, u32 subleaf, CpuidRegs r, const CpuTopology& t)
{
    const u32 bits = core_id_bits(t.vcpus);
    const u32 ids = 1u << bits;  // addressable core (and logical processor) IDs in the package
    if (leaf == 1) {
        // EBX[31:24] the initial APIC ID, EBX[23:16] the addressable IDs
        // for logical processors in the package (valid with HTT).
        r.ebx = (r.ebx & 0xffffu) | ((ids & 0xffu) << 16) | ((t.apic_id & 0xffu) << 24);
        r.edx = t.vcpus > 1 ? r.edx | kLeaf1EdxHtt : r.edx & ~kLeaf1EdxHtt;
    }
    if (leaf == 4 && (r.eax & 0x1f) != 0) {
        // EAX[31:26] addressable core IDs in the package - 1; EAX[25:14]
        // addressable IDs of the logical processors sharing this cache - 1:
        // the caches below level 3 are a core's (one thread), the last level
        // the package's.
        const u32 cache_level = (r.eax >> 5) & 7;
        const u32 sharing = cache_level >= 3 ? ids - 1 : 0;
        r.eax = (r.eax & 0x3fffu) | (sharing << 14) | ((ids - 1) << 26);
    }
    if ((leaf == 0xb || leaf == 0x1f) && t.extended_leaf_enumerated) {
        // Per level: EAX[4:0] the APIC ID shift to the next level, EBX the
        // logical processors at this level, ECX the level number (the
        // subleaf) and type, EDX the x2APIC ID. Level 0 is SMT (one thread:
        // no ID bits), level 1 the cores, the rest invalid (type 0).
        if (subleaf == 0) return {0, 1, kLevelTypeSmt << 8, t.apic_id};
        if (subleaf == 1) return {bits, t.vcpus, (kLevelTypeCore << 8) | 1, t.apic_id};
        return {0, 0, subleaf & 0xffu, t.apic_id};
    }
    return r;
}

}  // namespace xeno::vmx
