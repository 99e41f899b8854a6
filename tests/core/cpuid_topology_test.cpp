// The topology CPUID shows a domain (src/arch/x86/vmx/cpuid_topology.hpp):
// decoded the way a guest kernel decodes it, every vcpu of a domain is a
// core of one package, with its own core ID.
#include "arch/x86/vmx/cpuid_topology.hpp"

#include <catch2/catch.hpp>

#include <set>

#include "arch/x86/vmx/exit_handlers.hpp"

using namespace xeno;
using namespace xeno::vmx;

namespace {

// Skylake-SP's leaf 1 and 4 as the CPU profile gives them (one logical
// processor; L1d, L1i, L2, L3), and an extended topology leaf a host with
// two threads per core and 16 cores would give.
constexpr CpuidRegs kLeaf1{0x00050654, 0x00010800, 0x77faf3bf, 0xbfebf9ff};
constexpr CpuidRegs kLeaf4[] = {{0x1c004121, 0x01c0003f, 0x3f, 0}, {0x1c004122, 0x01c0003f, 0x3f, 0},
                                {0x1c004143, 0x03c0003f, 0x3ff, 0}, {0x1c03c163, 0x0280003f, 0x2fff, 4}};
constexpr CpuidRegs kHostLeafB0{1, 2, 0x100, 7}, kHostLeafB1{5, 32, 0x201, 7};

u32 count_order(u32 n)
{
    u32 order = 0;
    while ((1u << order) < n) ++order;
    return order;
}

}  // namespace

TEST_CASE("core_id_bits: the bits that number vcpus cores", "[cpuid]")
{
    CHECK(core_id_bits(1) == 0);
    CHECK(core_id_bits(2) == 1);
    CHECK(core_id_bits(3) == 2);
    CHECK(core_id_bits(4) == 2);
    CHECK(core_id_bits(5) == 3);
    CHECK(core_id_bits(32) == 5);
}

TEST_CASE("leaves 1 and 4 describe one package of as many cores as vcpus, as a guest decodes them", "[cpuid]")
{
    for (u32 vcpus = 1; vcpus <= 32; ++vcpus) {
        INFO("vcpus " << vcpus);
        std::set<u32> core_ids;
        for (u32 id = 0; id < vcpus; ++id) {
            const CpuTopology t{vcpus, id, false};
            const CpuidRegs l1 = topology_cpuid(1, 0, kLeaf1, t);
            // What the host gave outside the topology fields stays.
            CHECK(l1.eax == kLeaf1.eax);
            CHECK(l1.ecx == kLeaf1.ecx);
            CHECK((l1.ebx & 0xffff) == (kLeaf1.ebx & 0xffff));
            CHECK((l1.edx & ~(1u << 28)) == (kLeaf1.edx & ~(1u << 28)));
            CHECK(l1.ebx >> 24 == id);
            // HTT only with more than one logical processor.
            CHECK(((l1.edx >> 28) & 1) == (vcpus > 1 ? 1u : 0u));
            const u32 logical = vcpus > 1 ? (l1.ebx >> 16) & 0xff : 1;
            const CpuidRegs l4 = topology_cpuid(4, 0, kLeaf4[0], t);
            const u32 cores = (l4.eax >> 26) + 1;
            CHECK(logical >= vcpus);
            CHECK(cores >= vcpus);
            // The leaf 1 / leaf 4 decoding (no leaf 0BH): the package is the
            // APIC ID above the logical-processor bits, the core the bits
            // above the thread bits.
            const u32 threads_per_core = logical / cores;
            CHECK(threads_per_core == 1);
            CHECK((id >> count_order(logical)) == 0);
            core_ids.insert((id >> count_order(threads_per_core)) & ((1u << count_order(cores)) - 1));
        }
        CHECK(core_ids.size() == vcpus);
    }
}

TEST_CASE("leaf 4: the caches below L3 are a core's, L3 the package's; the rest of the leaf stays", "[cpuid]")
{
    const CpuTopology t{4, 1, false};
    for (u32 i = 0; i < 4; ++i) {
        const CpuidRegs r = topology_cpuid(4, i, kLeaf4[i], t);
        CHECK((r.eax & 0x3fff) == (kLeaf4[i].eax & 0x3fff));
        CHECK(r.eax >> 26 == 3);
        CHECK(((r.eax >> 14) & 0xfff) == (i == 3 ? 3u : 0u));
        CHECK(r.ebx == kLeaf4[i].ebx);
        CHECK(r.ecx == kLeaf4[i].ecx);
        CHECK(r.edx == kLeaf4[i].edx);
    }
    // The subleaf past the last cache (type 0) stays all zeros.
    const CpuidRegs none = topology_cpuid(4, 4, CpuidRegs{0, 0, 0, 0}, t);
    CHECK((none.eax | none.ebx | none.ecx | none.edx) == 0);
}

TEST_CASE("leaves 0BH and 1FH: an SMT level of one thread and a core level of every vcpu", "[cpuid]")
{
    for (const u32 leaf : {0xbu, 0x1fu}) {
        for (u32 vcpus : {1u, 2u, 3u, 8u}) {
            INFO("leaf " << leaf << " vcpus " << vcpus);
            for (u32 id = 0; id < vcpus; ++id) {
                const CpuTopology t{vcpus, id, true};
                const CpuidRegs smt = topology_cpuid(leaf, 0, kHostLeafB0, t);
                const CpuidRegs core = topology_cpuid(leaf, 1, kHostLeafB1, t);
                const CpuidRegs past = topology_cpuid(leaf, 2, CpuidRegs{0, 0, 2, 7}, t);
                CHECK(smt.eax == 0);
                CHECK(smt.ebx == 1);
                CHECK(smt.ecx == 0x100);  // level 0, SMT
                CHECK(core.eax == core_id_bits(vcpus));
                CHECK(core.ebx == vcpus);
                CHECK(core.ecx == 0x201);  // level 1, core
                CHECK((past.eax | past.ebx) == 0);
                CHECK(past.ecx == 2);  // level 2, invalid
                for (const CpuidRegs& r : {smt, core, past}) CHECK(r.edx == id);
                // The package ID, the x2APIC ID above the core level's shift.
                CHECK((id >> core.eax) == 0);
            }
        }
    }
    // Not enumerated by the host: left as the host gives it.
    const CpuidRegs r = topology_cpuid(0xb, 0, CpuidRegs{0, 0, 0, 0}, CpuTopology{2, 1, false});
    CHECK((r.eax | r.ebx | r.ecx | r.edx) == 0);
}

TEST_CASE("leaves other than the topology leaves pass unchanged", "[cpuid]")
{
    const CpuidRegs host{0x11, 0x22, 0x33, 0x44};
    for (const u32 leaf : {0u, 2u, 7u, 0xdu, 0x80000001u}) {
        const CpuidRegs r = topology_cpuid(leaf, 0, host, CpuTopology{4, 2, true});
        CHECK(r.eax == host.eax);
        CHECK(r.ebx == host.ebx);
        CHECK(r.ecx == host.ecx);
        CHECK(r.edx == host.edx);
    }
}
