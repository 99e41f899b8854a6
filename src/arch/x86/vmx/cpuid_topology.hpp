// The processor topology CPUID shows a domain: one package of as many cores
// as the domain has vcpus, one thread per core, each vcpu's APIC ID its
// index (the local APIC's). The host's topology fields would describe the
// machine Xeno runs on (or the CPU profile's one processor), not the domain:
// Debian's kernel, told that each vcpu is a package of its own, calibrates
// the delay loop on each AP again instead of taking the BSP's figure, and
// the calibration fails ("calibrate_delay_direct() failed").
#pragma once

#include "lib/types.hpp"

namespace xeno::vmx {

struct CpuidRegs;

struct CpuTopology {
    u32 vcpus;    // in the domain (at least 1)
    u32 apic_id;  // this vcpu's
    // Whether the host enumerates the extended topology leaf asked for (0BH
    // or 1FH): its highest basic leaf reaches it and its subleaf 0 has
    // logical processors. Where it does not, the leaf stays as the host
    // gives it, as on the processor the profile describes.
    bool extended_leaf_enumerated;
};

// How many bits of the APIC ID number the cores of the package.
u32 core_id_bits(u32 vcpus);

// `r`, the answer for (leaf, subleaf), with the topology fields of leaves 1
// (HTT, addressable IDs, initial APIC ID), 4 (cores per package, threads per
// cache) and, where enumerated, 0BH and 1FH (SMT and core levels) for `t`.
// Other leaves pass unchanged.
CpuidRegs topology_cpuid(u32 leaf, u32 subleaf, CpuidRegs r, const CpuTopology& t);

}  // namespace xeno::vmx
