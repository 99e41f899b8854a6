// Exit-qualification decoders: pure functions of the raw value, one per
// exit family, after the tables of SDM Vol. 3C 28.2.1.
#pragma once

#include "lib/bits.hpp"
#include "lib/types.hpp"

namespace xeno::vmx {

// I/O instructions (Table 28-5).
struct IoQualification {
    u8 size;         // bytes: 1, 2 or 4 (bits 2:0 hold size-1)
    bool in;         // bit 3: 1 = IN/INS
    bool string;     // bit 4: INS/OUTS
    bool rep;        // bit 5: REP prefixed
    bool immediate;  // bit 6: operand encoding 1 = immediate port
    u16 port;        // bits 31:16
};

constexpr IoQualification decode_io_qualification(u64 q)
{
    return IoQualification{static_cast<u8>(bits(q, 2, 0) + 1), test_bit(q, 3), test_bit(q, 4), test_bit(q, 5),
                           test_bit(q, 6), static_cast<u16>(bits(q, 31, 16))};
}

// Control-register accesses (Table 28-3).
enum class CrAccessType : u8 { MOV_TO_CR = 0, MOV_FROM_CR = 1, CLTS = 2, LMSW = 3 };

struct CrQualification {
    u8 cr;               // bits 3:0
    CrAccessType type;   // bits 5:4
    bool lmsw_memory;    // bit 6: LMSW operand is memory
    u8 gpr;              // bits 11:8: register operand of MOV CR (x86 encoding)
    u16 lmsw_source;     // bits 31:16: LMSW source data
};

constexpr CrQualification decode_cr_qualification(u64 q)
{
    return CrQualification{static_cast<u8>(bits(q, 3, 0)), static_cast<CrAccessType>(bits(q, 5, 4)),
                           test_bit(q, 6), static_cast<u8>(bits(q, 11, 8)), static_cast<u16>(bits(q, 31, 16))};
}

// MOV DR (Table 28-4): bits 2:0 the debug register, bit 4 the direction
// (1 = MOV from DR), bits 11:8 the general-purpose register.
struct DrQualification {
    u8 dr;
    bool from_dr;
    u8 gpr;
};

constexpr DrQualification decode_dr_qualification(u64 q)
{
    return DrQualification{static_cast<u8>(bits(q, 2, 0)), test_bit(q, 4), static_cast<u8>(bits(q, 11, 8))};
}

// EPT violations (Table 28-7), the bits the hypervisor uses.
struct EptViolationQualification {
    bool read, write, fetch;       // bits 0..2: the access
    bool readable, writable, executable;  // bits 3..5: what the entry allowed
    bool gla_valid;                // bit 7: guest-linear address field valid
    bool gla_is_translation;       // bit 8: access to the translated address (vs. a paging entry)
};

constexpr EptViolationQualification decode_ept_violation(u64 q)
{
    return EptViolationQualification{test_bit(q, 0), test_bit(q, 1), test_bit(q, 2), test_bit(q, 3),
                                     test_bit(q, 4), test_bit(q, 5), test_bit(q, 7), test_bit(q, 8)};
}

// Task switches (Table 28-4): bits 31:30 the source.
enum class TaskSwitchSource : u8 { CALL = 0, IRET = 1, JMP = 2, IDT_GATE = 3 };

}  // namespace xeno::vmx
