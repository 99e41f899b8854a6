// Corner rules of the model's page walk that the hypervisor's own walker
// (src/arch/x86/paging/guest_walk) cross-checks against: bits 62:52 of
// 4-level entries are ignored, and the I/D error-code bit under 32-bit paging.
#include <catch2/catch.hpp>

#include "lib/bits.hpp"
#include "sim/platform/machine_memory.hpp"
#include "sim/vmx-model/engine/paging.hpp"

using namespace xeno;
using namespace xeno::sim;

TEST_CASE("4-level paging ignores bits 62:52 of its entries (SDM Table 4-19)", "[engine][paging]")
{
    MachineMemory m(16 << 20);
    const u64 ignored = u64{0x7ff} << 52;
    m.store<u64>(0x10000, 0x11000 | 0x7 | ignored);  // PML4E
    m.store<u64>(0x11000, 0x12000 | 0x7 | ignored);  // PDPTE
    m.store<u64>(0x12000, 0x13000 | 0x7 | ignored);  // PDE
    m.store<u64>(0x13000, 0x200000 | 0x7 | ignored); // PTE
    TranslationContext c;
    c.cr0 = 0x80000011;
    c.cr3 = 0x10000;
    c.cr4 = 0x20;       // PAE
    c.efer = 0x500;     // LME, LMA; NXE clear
    const WalkResult r = translate_linear(m, c, 0x123, Access::READ);
    REQUIRE(r.status == WalkStatus::OK);
    CHECK(r.machine_page == 0x200000);

    // Bit 63 with NXE clear is reserved: a read faults with P|RSVD.
    m.store<u64>(0x13000, 0x200000 | 0x7 | bit(63));
    const WalkResult f = translate_linear(m, c, 0x123, Access::READ);
    REQUIRE(f.status == WalkStatus::PAGE_FAULT);
    CHECK(f.pf_error == (1u | 8u));
}

TEST_CASE("32-bit paging: a fetch fault sets I/D only with SMEP, not for EFER.NXE (SDM 4.7)", "[engine][paging]")
{
    MachineMemory m(16 << 20);
    TranslationContext c;
    c.cr0 = 0x80000011;
    c.cr3 = 0x10000;    // an empty page directory: every address is not present
    c.efer = 0x800;     // NXE
    WalkResult r = translate_linear(m, c, 0x400000, Access::FETCH);
    REQUIRE(r.status == WalkStatus::PAGE_FAULT);
    CHECK(r.pf_error == 0);
    c.cr4 = bit(20);    // SMEP
    r = translate_linear(m, c, 0x400000, Access::FETCH);
    REQUIRE(r.status == WalkStatus::PAGE_FAULT);
    CHECK(r.pf_error == 0x10);
}
