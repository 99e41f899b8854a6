// The guest's MTRRs (src/arch/x86/vmx/guest_mtrr.hpp): the registers MTRRcap
// announces exist, keep their values, and refuse what the processor refuses.
#include "arch/x86/vmx/guest_mtrr.hpp"

#include <catch2/catch.hpp>

using namespace xeno;
using namespace xeno::vmx;

TEST_CASE("MTRRcap announces 8 variable ranges, fixed ranges and write-combining, and each of them exists",
          "[mtrr]")
{
    CHECK((kMtrrCapValue & 0xff) == 8);
    CHECK((kMtrrCapValue & (1u << 8)) != 0);
    CHECK((kMtrrCapValue & (1u << 10)) != 0);
    CHECK((kMtrrCapValue & (1u << 11)) == 0);  // no SMRR
    for (u32 msr = 0x200; msr < 0x210; ++msr) CHECK(is_mtrr_msr(msr));
    for (u32 msr : {0x250u, 0x258u, 0x259u, 0x268u, 0x269u, 0x26au, 0x26bu, 0x26cu, 0x26du, 0x26eu, 0x26fu, 0x2ffu})
        CHECK(is_mtrr_msr(msr));
    for (u32 msr : {0xfeu, 0x1ffu, 0x210u, 0x24fu, 0x251u, 0x257u, 0x25au, 0x267u, 0x270u, 0x277u, 0x2feu})
        CHECK_FALSE(is_mtrr_msr(msr));
}

TEST_CASE("MTRR writes keep their values; reserved types and bits are refused", "[mtrr]")
{
    GuestMtrrs m;
    constexpr unsigned kMaxPhy = 39;
    // A variable range: 0x80000000, 2 GiB, UC, valid.
    CHECK(mtrr_write(m, 0x200, 0x80000000, kMaxPhy));
    CHECK(mtrr_write(m, 0x201, 0x7f80000800, kMaxPhy));
    CHECK(mtrr_read(m, 0x200) == 0x80000000);
    CHECK(mtrr_read(m, 0x201) == 0x7f80000800);
    CHECK(mtrr_write(m, 0x20e, 0x100006, kMaxPhy));  // range 7, WB
    CHECK(mtrr_read(m, 0x20e) == 0x100006);
    CHECK(mtrr_read(m, 0x202) == 0);
    // Reserved memory types 2, 3, 7 and up; bits 11:8 of PHYSBASE; bits 10:0
    // of PHYSMASK; address bits at or above MAXPHYADDR. A refused write
    // changes nothing.
    for (u64 type : {2u, 3u, 7u, 8u, 0xffu}) CHECK_FALSE(mtrr_write(m, 0x200, 0x1000 | type, kMaxPhy));
    CHECK_FALSE(mtrr_write(m, 0x200, 0x100, kMaxPhy));
    CHECK_FALSE(mtrr_write(m, 0x201, 0x7f80000801, kMaxPhy));
    CHECK_FALSE(mtrr_write(m, 0x200, u64{1} << kMaxPhy, kMaxPhy));
    CHECK_FALSE(mtrr_write(m, 0x201, (u64{1} << kMaxPhy) | 0x800, kMaxPhy));
    CHECK(mtrr_write(m, 0x201, (u64{1} << (kMaxPhy - 1)) | 0x800, kMaxPhy));
    CHECK(mtrr_read(m, 0x200) == 0x80000000);
    // Fixed ranges: a memory type in each byte.
    CHECK(mtrr_write(m, 0x250, 0x0606060606060606, kMaxPhy));
    CHECK(mtrr_write(m, 0x26f, 0x0500040106000100, kMaxPhy));
    CHECK(mtrr_read(m, 0x250) == 0x0606060606060606);
    CHECK(mtrr_read(m, 0x26f) == 0x0500040106000100);
    CHECK_FALSE(mtrr_write(m, 0x259, 0x0206060606060606, kMaxPhy));
    CHECK_FALSE(mtrr_write(m, 0x259, 0x0606060606060603, kMaxPhy));
    CHECK(mtrr_read(m, 0x259) == 0);
    // MTRRdefType: type, FE (10), E (11); bits 9:8 and 63:12 reserved.
    CHECK(mtrr_write(m, 0x2ff, 0xc06, kMaxPhy));
    CHECK(mtrr_read(m, 0x2ff) == 0xc06);
    CHECK_FALSE(mtrr_write(m, 0x2ff, 0xc02, kMaxPhy));
    CHECK_FALSE(mtrr_write(m, 0x2ff, 0x106, kMaxPhy));
    CHECK_FALSE(mtrr_write(m, 0x2ff, 0x1006, kMaxPhy));
    CHECK(mtrr_read(m, 0x2ff) == 0xc06);
    // Not an MTRR: refused, reads 0.
    CHECK_FALSE(mtrr_write(m, 0x210, 0, kMaxPhy));
    CHECK(mtrr_read(m, 0x210) == 0);
}
