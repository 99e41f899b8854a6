#include "arch/x86/vmx/exit_qualification.hpp"

#include <catch2/catch.hpp>

#include "arch/x86/vmx/exit_info.hpp"

using namespace xeno;
using namespace xeno::vmx;

TEST_CASE("I/O qualification (SDM Table 28-5)", "[vmx][qual]")
{
    // OUT DX, AL to 0x3f8: size 0 (1 byte), direction 0 (out), DX operand, port in 31:16.
    IoQualification q = decode_io_qualification(0x03f80000);
    CHECK(q.size == 1);
    CHECK_FALSE(q.in);
    CHECK_FALSE(q.string);
    CHECK_FALSE(q.rep);
    CHECK_FALSE(q.immediate);
    CHECK(q.port == 0x3f8);
    // IN EAX, 0x71 (immediate): size 3 -> 4 bytes, bit 3 in, bit 6 immediate.
    q = decode_io_qualification(0x00710000 | 3 | (1 << 3) | (1 << 6));
    CHECK(q.size == 4);
    CHECK(q.in);
    CHECK(q.immediate);
    CHECK(q.port == 0x71);
    // REP OUTSW to 0x1f0: size 1, string bit 4, rep bit 5.
    q = decode_io_qualification(0x01f00000 | 1 | (1 << 4) | (1 << 5));
    CHECK(q.size == 2);
    CHECK(q.string);
    CHECK(q.rep);
    CHECK(q.port == 0x1f0);
    // The trace example of DESIGN.md: 0x3f80008 is IN AL, DX from 0x3f8.
    q = decode_io_qualification(0x3f80008);
    CHECK(q.in);
    CHECK(q.size == 1);
}

TEST_CASE("CR-access qualification (SDM Table 28-3)", "[vmx][qual]")
{
    // MOV CR0, EAX: cr 0, type 0, gpr 0.
    CrQualification q = decode_cr_qualification(0x0);
    CHECK(q.cr == 0);
    CHECK(q.type == CrAccessType::MOV_TO_CR);
    CHECK(q.gpr == 0);
    // MOV EBX, CR3: cr 3, type 1 (bits 5:4 = 01), gpr 3 in bits 11:8.
    q = decode_cr_qualification(0x313);
    CHECK(q.cr == 3);
    CHECK(q.type == CrAccessType::MOV_FROM_CR);
    CHECK(q.gpr == 3);
    // MOV CR4, RSP: gpr 4.
    q = decode_cr_qualification(0x404);
    CHECK(q.cr == 4);
    CHECK(q.gpr == 4);
    // CLTS: type 2.
    CHECK(decode_cr_qualification(0x20).type == CrAccessType::CLTS);
    // LMSW with a memory operand, source data 0x0011 in 31:16.
    q = decode_cr_qualification(0x00110070);
    CHECK(q.type == CrAccessType::LMSW);
    CHECK(q.lmsw_memory);
    CHECK(q.lmsw_source == 0x11);
}

TEST_CASE("EPT-violation qualification (SDM Table 28-7) and guest-linear validity", "[vmx][qual]")
{
    const EptViolationQualification e = decode_ept_violation(0x182);  // write, gla valid, translation
    CHECK_FALSE(e.read);
    CHECK(e.write);
    CHECK(e.gla_valid);
    CHECK(e.gla_is_translation);
    CHECK(exit_has_guest_linear(static_cast<u16>(ExitReason::EPT_VIOLATION), 0x182));
    CHECK_FALSE(exit_has_guest_linear(static_cast<u16>(ExitReason::EPT_VIOLATION), 0x2));
    CHECK(exit_has_guest_linear(static_cast<u16>(ExitReason::IO_INSTRUCTION), 0x03f80010));
    CHECK_FALSE(exit_has_guest_linear(static_cast<u16>(ExitReason::IO_INSTRUCTION), 0x03f80000));
    CHECK(exit_has_guest_linear(static_cast<u16>(ExitReason::CR_ACCESS), 0x70));
    CHECK_FALSE(exit_has_guest_linear(static_cast<u16>(ExitReason::CR_ACCESS), 0x30));
    CHECK(exit_has_guest_physical(static_cast<u16>(ExitReason::EPT_MISCONFIG)));
    CHECK(exit_is_async(static_cast<u16>(ExitReason::EXTERNAL_INTERRUPT)));
    CHECK(exit_is_async(static_cast<u16>(ExitReason::PREEMPTION_TIMER)));
    CHECK_FALSE(exit_is_async(static_cast<u16>(ExitReason::IO_INSTRUCTION)));
}
