// The emulator-versus-Unicorn rig, shared by tests/emulate/differential_test.cpp
// and fuzz/fuzz_emulator.cpp: a generator of random instructions from the ALU,
// shift, mul/div, mov, push/pop, string, bt, setcc, cmovcc, BCD adjust,
// SHLD/SHRD, BSF/BSR and CMPXCHG8B/16B classes (each Case knows which flags
// the SDM leaves undefined for it), one Unicorn 2.1 engine per mode (real
// mode in UC_MODE_16, flat 32-bit in UC_MODE_32, flat 64-bit in UC_MODE_64),
// and run_case, which executes one case in both and compares registers, RIP,
// the flags the SDM defines for the instruction, the data memory and faults,
// allowing only the differences listed there (and in UNICORN-FACTS.md).
#pragma once

#include <unicorn/unicorn.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "arch/x86/emulate/emulate.hpp"
#include "tests/emulate/fake_machine.hpp"

namespace xeno::emu::test {

constexpr u64 kCode = 0x1000;
constexpr u64 kData = 0x4000;  // below 64 KiB so 16-bit addressing reaches it
constexpr u64 kDataSize = 0x4000;

inline const int kUcRegs32[8] = {UC_X86_REG_EAX, UC_X86_REG_ECX, UC_X86_REG_EDX, UC_X86_REG_EBX,
                          UC_X86_REG_ESP, UC_X86_REG_EBP, UC_X86_REG_ESI, UC_X86_REG_EDI};
inline const int kUcRegs[16] = {UC_X86_REG_RAX, UC_X86_REG_RCX, UC_X86_REG_RDX, UC_X86_REG_RBX,
                         UC_X86_REG_RSP, UC_X86_REG_RBP, UC_X86_REG_RSI, UC_X86_REG_RDI,
                         UC_X86_REG_R8,  UC_X86_REG_R9,  UC_X86_REG_R10, UC_X86_REG_R11,
                         UC_X86_REG_R12, UC_X86_REG_R13, UC_X86_REG_R14, UC_X86_REG_R15};

struct Case {
    std::vector<u8> code;
    u64 undefined = 0;  // flags the SDM leaves undefined for this instance
    u64 rax_ignore = 0;  // RAX bits not compared (see CMPXCHG)
    bool zero_data = false;  // fill the data window with zeros (CMPXCHG8B/16B: a matching compare)
    unsigned kind = 0;  // the generator's instruction class, for the per-class counts
};

// Instruction classes added with the BCD/bit-scan work; counted separately in the summary.
constexpr unsigned kFirstNewKind = 24;
constexpr unsigned kKinds = 28;
inline const char* const kNewKindNames[kKinds - kFirstNewKind] = {"bcd", "shld/shrd", "bsf/bsr", "cmpxchg8b/16b"};

class Generator {
public:
    // bits: 64 (REX, 64-bit registers), 32 or 16 (default operand and address size).
    Generator(u64 seed, unsigned bits) : rng_(seed), m32_(bits != 64), m16_(bits == 16) {}

    u64 r(u64 n) { return rng_() % n; }
    u64 any() { return rng_(); }
    bool coin() { return rng_() & 1; }

    u64 interesting()
    {
        switch (r(8)) {
        case 0: return 0;
        case 1: return ~u64{0};
        case 2: return r(256);
        case 3: return u64{1} << r(64);
        case 4: return (u64{1} << r(64)) - 1;
        case 5: return 0x80000000u + r(3) - 1;
        default: return any();
        }
    }

    // Initial state: base registers point into the data window.
    void randomize(CpuState& s)
    {
        for (unsigned i = 0; i < 16; ++i) s.gpr[i] = m32_ ? interesting() & 0xffffffff : interesting();
        for (unsigned b : {RBX, RBP, RSI, RDI}) s.gpr[b] = kData + 0x1000 + r(0x1000);
        s.gpr[RSP] = kData + 0x2800 + 8 * r(32);
        s.rflags = flag::FIXED1 | flag::IF | (any() & (flag::ARITH | flag::DF));
    }

    // A ModRM (plus SIB/displacement) with a random register or memory operand.
    void modrm(Case& c, unsigned reg, bool allow_reg, bool allow_mem, u8& rex, bool extension = false)
    {
        // REX.R on an opcode-extension field: hardware ignores it, QEMU rejects it.
        if (extension) rex = (rex & ~u8{4}) == 0x40 ? 0 : (rex & ~u8{4});
        const bool mem = allow_mem && (!allow_reg || coin());
        if (!mem) {
            const unsigned rm = static_cast<unsigned>(r(m32_ ? 8 : 16));
            if (rm & 8) rex |= 0x41;
            c.code.push_back(static_cast<u8>(0xc0 | ((reg & 7) << 3) | (rm & 7)));
            return;
        }
        const bool use16 = m16_ ? r(3) != 0 : (m32_ && r(3) == 0);
        if (!use16 && m16_) addr16_ = true;  // 32-bit forms need 67 in 16-bit code
        if (use16) {  // 16-bit addressing: [si], [di], [bp], [bx] + disp8
            const u8 rm16[4] = {4, 5, 6, 7};
            if (!m16_) addr16_ = true;
            c.code.push_back(static_cast<u8>(0x40 | ((reg & 7) << 3) | rm16[r(4)]));
            c.code.push_back(static_cast<u8>(r(256)));
            return;
        }
        const unsigned bases[4] = {RBX, RBP, RSI, RDI};
        const unsigned base = bases[r(4)];
        const u8 disp = static_cast<u8>(r(256));
        if (coin()) {  // SIB with no index
            c.code.push_back(static_cast<u8>(0x44 | ((reg & 7) << 3)));
            c.code.push_back(static_cast<u8>(0x20 | base));
        } else {
            c.code.push_back(static_cast<u8>(0x40 | ((reg & 7) << 3) | base));
        }
        c.code.push_back(disp);
    }

    void imm(Case& c, unsigned n)
    {
        const u64 v = interesting();
        for (unsigned i = 0; i < n; ++i) c.code.push_back(static_cast<u8>(v >> (8 * i)));
    }

    // Prefixes: operand size (66 or REX.W) and REX.R; returns the operand size.
    unsigned prefixes(std::vector<u8>& pre, u8& rex, bool byte_op)
    {
        unsigned size = m16_ ? 2 : 4;
        const unsigned p = static_cast<unsigned>(r(3));
        if (!byte_op && p == 1) {
            pre.push_back(0x66);
            size = m16_ ? 4 : 2;
        } else if (!byte_op && p == 2 && !m32_) {
            rex |= 0x48;
            size = 8;
        }
        if (coin()) rex |= 0x44;
        return byte_op ? 1 : size;
    }

    Case make(CpuState& s)
    {
        Case c;
        std::vector<u8> pre;
        addr16_ = false;
        u8 rex = 0;
        const unsigned kind = static_cast<unsigned>(r(kKinds));
        c.kind = kind;
        const bool byte_op = coin();
        const unsigned size = prefixes(pre, rex, byte_op);
        const unsigned reg = static_cast<unsigned>(r(8));
        auto op = [&](std::initializer_list<u8> b) { c.code.insert(c.code.end(), b); };
        switch (kind) {
        case 0:
        case 1: {  // ALU r/m,reg and reg,r/m
            const unsigned aop = static_cast<unsigned>(r(8));
            op({static_cast<u8>((aop << 3) | static_cast<unsigned>(r(4) & 2) | (byte_op ? 0 : 1))});
            modrm(c, reg, true, true, rex);
            if (aop == 1 || aop == 4 || aop == 6) c.undefined = flag::AF;
            break;
        }
        case 2: {  // group 1 with an immediate
            const unsigned aop = static_cast<unsigned>(r(8));
            const u8 o = byte_op ? 0x80 : (coin() ? 0x81 : 0x83);
            op({o});
            modrm(c, aop, true, true, rex, true);
            imm(c, o == 0x81 ? (size == 2 ? 2 : 4) : 1);
            if (aop == 1 || aop == 4 || aop == 6) c.undefined = flag::AF;
            break;
        }
        case 3: {  // group 3
            unsigned k = static_cast<unsigned>(r(8));
            if (k == 1) k = 0;  // F6/F7 /1 is an undocumented TEST alias that Unicorn refuses
            op({static_cast<u8>(byte_op ? 0xf6 : 0xf7)});
            modrm(c, k, true, true, rex, true);
            if (k <= 1) {
                imm(c, size == 1 ? 1 : size == 2 ? 2 : 4);
                c.undefined = flag::AF;
            }
            if (k == 4 || k == 5) c.undefined = flag::SF | flag::ZF | flag::AF | flag::PF;
            if (k >= 6) c.undefined = flag::ARITH;
            break;
        }
        case 4: {  // shifts and rotates
            const unsigned k = static_cast<unsigned>(r(8));
            const unsigned form = static_cast<unsigned>(r(3));
            u64 count = 1;
            op({static_cast<u8>((form == 0 ? 0xc0 : form == 1 ? 0xd0 : 0xd2) | (byte_op ? 0 : 1))});
            modrm(c, k, true, true, rex, true);
            if (form == 0) {
                count = r(70);
                c.code.push_back(static_cast<u8>(count));
            } else if (form == 2) {
                count = s.gpr[RCX] = r(4) == 0 ? any() : r(70);
            }
            const unsigned bits = size * 8;
            const u64 masked = count & (size == 8 ? 63 : 31);
            if (masked != 0) {
                if (k >= 4) c.undefined |= flag::AF;
                if (masked != 1) c.undefined |= flag::OF;
                if ((k == 4 || k == 5 || k == 6) && masked >= bits) c.undefined |= flag::CF | flag::OF;
            }
            // RCL/RCR by a multiple of width+1 rotate by zero (OF undefined, CF defined).
            break;
        }
        case 5: {  // IMUL forms
            const unsigned f = static_cast<unsigned>(r(3));
            if (f == 0) op({0x0f, 0xaf});
            else op({static_cast<u8>(f == 1 ? 0x69 : 0x6b)});
            modrm(c, reg, true, true, rex);
            if (f == 1) imm(c, size == 2 ? 2 : 4);
            if (f == 2) imm(c, 1);
            c.undefined = flag::SF | flag::ZF | flag::AF | flag::PF;
            if (byte_op && size == 1) {  // no byte forms: use the default size
            }
            break;
        }
        case 6: {  // MOV
            const unsigned f = static_cast<unsigned>(r(4));
            if (f < 2) {
                op({static_cast<u8>(0x88 | (f << 1) | (byte_op ? 0 : 1))});
                modrm(c, reg, true, true, rex);
            } else if (f == 2) {
                op({static_cast<u8>(byte_op ? 0xc6 : 0xc7)});
                modrm(c, 0, true, true, rex, true);
                imm(c, size == 1 ? 1 : size == 2 ? 2 : 4);
            } else {
                const unsigned rr = static_cast<unsigned>(r(8));
                op({static_cast<u8>((byte_op ? 0xb0 : 0xb8) | rr)});
                imm(c, size);
            }
            break;
        }
        case 7: {  // MOVZX/MOVSX/MOVSXD
            const unsigned f = static_cast<unsigned>(r(5));
            if (f == 4 && !m32_) {
                rex |= 0x48;
                op({0x63});
            } else {
                op({0x0f, static_cast<u8>((f < 2 ? 0xb6 : 0xbe) | (f & 1))});
            }
            modrm(c, reg, true, true, rex);
            break;
        }
        case 8:  // LEA
            op({0x8d});
            modrm(c, reg, false, true, rex);
            break;
        case 9: {  // XCHG
            if (coin()) {
                op({static_cast<u8>(byte_op ? 0x86 : 0x87)});
                modrm(c, reg, true, true, rex);
            } else {
                op({static_cast<u8>(0x91 + r(7))});
            }
            break;
        }
        case 10: {  // CMPXCHG, XADD
            const bool x = coin();
            op({0x0f, static_cast<u8>((x ? 0xc0 : 0xb0) | (byte_op ? 0 : 1))});
            if (!x && coin()) s.gpr[RAX] = 0;  // sometimes equal
            modrm(c, reg, true, true, rex);
            // QEMU writes EAX (zero-extending RAX) even when the compare succeeds;
            // the SDM writes the accumulator only when it fails.
            if (!x && size == 4) c.rax_ignore = ~u64{0xffffffff};
            break;
        }
        case 11: {  // BT family
            const unsigned k = static_cast<unsigned>(r(4));
            const bool immf = coin();
            if (size == 1) rex |= 0;  // no byte forms
            if (immf) {
                op({0x0f, 0xba});
                modrm(c, 4 + k, true, true, rex, true);
                c.code.push_back(static_cast<u8>(r(256)));
            } else {
                const u8 ops[4] = {0xa3, 0xab, 0xb3, 0xbb};
                op({0x0f, ops[k]});
                modrm(c, reg, true, true, rex);
                // A register bit offset reaches out of the operand: keep it near.
                const unsigned rr = reg | ((rex & 4) ? 8 : 0);
                s.gpr[rr] = static_cast<u64>(static_cast<i64>(r(1024)) - 512);
                for (unsigned b : {RBX, RBP, RSI, RDI})
                    if (b == rr) s.gpr[rr] = kData + 0x1000 + r(0x1000);
            }
            c.undefined = flag::OF | flag::SF | flag::AF | flag::PF;
            break;
        }
        case 12:  // SETcc
            op({0x0f, static_cast<u8>(0x90 | r(16))});
            modrm(c, 0, true, true, rex, true);
            break;
        case 13:  // CMOVcc
            op({0x0f, static_cast<u8>(0x40 | r(16))});
            modrm(c, reg, true, true, rex);
            break;
        case 14: {  // PUSH/POP
            pre.clear();
            rex = 0;
            const unsigned f = static_cast<unsigned>(r(6));
            const unsigned rr = static_cast<unsigned>(r(8));
            if (coin()) rex = 0x41;
            if (f == 0) op({static_cast<u8>(0x50 | rr)});
            if (f == 1) op({static_cast<u8>(0x58 | rr)});
            if (f == 2) {
                op({0x68});
                imm(c, 4);
            }
            if (f == 3) op({0x6a, static_cast<u8>(r(256))});
            if (f == 4) {
                rex = 0;
                op({0x8f});
                modrm(c, 0, true, true, rex, true);
            }
            if (f == 5) {
                rex = 0;
                op({0xff});
                modrm(c, 6, true, true, rex, true);
            }
            break;
        }
        case 15:
        case 16: {  // string instructions, sometimes REP
            static const u8 ops[6] = {0xa4, 0xa6, 0xaa, 0xac, 0xae, 0xa4};
            const u8 o = static_cast<u8>(ops[r(6)] | (byte_op ? 0 : 1));
            const unsigned rp = static_cast<unsigned>(r(3));
            if (rp == 1) pre.push_back(0xf3);
            if (rp == 2) pre.push_back(0xf2);
            rex &= 0x48;
            s.gpr[RCX] = r(7);
            op({o});
            break;
        }
        case 17: {  // CBW/CWD family, SAHF/LAHF, flag instructions
            static const u8 ops[9] = {0x98, 0x99, 0x9e, 0x9f, 0xf5, 0xf8, 0xf9, 0xfc, 0xfd};
            rex &= 0x48;
            const u8 o = ops[r(9)];
            if (o == 0x9e || o == 0x9f) rex = 0;  // QEMU reads SPL instead of AH under REX: not compared
            op({o});
            break;
        }
        case 18:  // BSWAP (32/64 only)
            pre.clear();
            if (m16_) pre.push_back(0x66);
            rex &= 0x49;
            op({0x0f, static_cast<u8>(0xc8 | r(8))});
            break;
        case 19: {  // INC/DEC/NOT/NEG through FE/FF/F6/F7
            op({static_cast<u8>(byte_op ? 0xfe : 0xff)});
            modrm(c, static_cast<unsigned>(r(2)), true, true, rex, true);
            break;
        }
        case 20: {  // Jcc, JMP, CALL, RET, LOOP, JrCXZ
            pre.clear();
            rex = 0;
            const unsigned f = static_cast<unsigned>(r(6));
            if (f == 0) op({static_cast<u8>(0x70 | r(16)), static_cast<u8>(r(256))});
            if (f == 1) {
                op({0x0f, static_cast<u8>(0x80 | r(16))});
                imm(c, 4);
                c.code[2] = static_cast<u8>(r(256));
                c.code[3] = static_cast<u8>(r(2));
                c.code[4] = c.code[5] = 0;
            }
            if (f == 2) op({0xeb, static_cast<u8>(r(256))});
            if (f == 3) op({0xe8, static_cast<u8>(r(256)), static_cast<u8>(r(4)), 0, 0});
            if (f == 4) op({static_cast<u8>(0xe0 | r(4)), static_cast<u8>(r(256))});
            if (f == 5) op({0xc3});
            // A branch to itself would equal Unicorn's start address, where `until` stops at once.
            if (c.code.size() == 2 && c.code[1] == 0xfe) c.code[1] = 0x10;
            s.gpr[RCX] = r(3);
            break;
        }
        case 21: {  // TEST
            if (coin()) {
                op({static_cast<u8>(byte_op ? 0x84 : 0x85)});
                modrm(c, reg, true, true, rex);
            } else {
                op({static_cast<u8>(byte_op ? 0xa8 : 0xa9)});
                imm(c, size == 1 ? 1 : size == 2 ? 2 : 4);
            }
            c.undefined = flag::AF;
            break;
        }
        case 22: {  // ALU accumulator, imm
            const unsigned aop = static_cast<unsigned>(r(8));
            op({static_cast<u8>((aop << 3) | 4 | (byte_op ? 0 : 1))});
            imm(c, size == 1 ? 1 : size == 2 ? 2 : 4);
            if (aop == 1 || aop == 4 || aop == 6) c.undefined = flag::AF;
            break;
        }
        case 24: {  // DAA DAS AAA AAS AAM AAD (#UD in 64-bit mode)
            pre.clear();
            rex = 0;
            static const u8 ops[6] = {0x27, 0x2f, 0x37, 0x3f, 0xd4, 0xd5};
            const u8 o = ops[r(6)];
            op({o});
            if (o >= 0xd4) {
                const unsigned pick = static_cast<unsigned>(r(8));
                c.code.push_back(static_cast<u8>(pick == 0 ? 0 : pick == 1 ? 10 : r(256)));  // 0: AAM #DE
            }
            // AL near the adjust boundaries (0..15, 0x90..0x9f, 0xf0..0xff) half the time.
            const u64 bases[4] = {0x00, 0x90, 0xf0, r(256)};
            const u64 pick = r(4);
            const u64 al = pick == 3 || coin() ? bases[3] : bases[pick] + r(16);
            s.gpr[RAX] = (s.gpr[RAX] & ~u64{0xffff}) | (r(256) << 8) | al;
            if (o == 0x27 || o == 0x2f) c.undefined = flag::OF;
            if (o == 0x37 || o == 0x3f) c.undefined = flag::OF | flag::SF | flag::ZF | flag::PF;
            if (o >= 0xd4) c.undefined = flag::OF | flag::AF | flag::CF;
            break;
        }
        case 25: {  // SHLD/SHRD with imm8 or CL
            const unsigned wsize = byte_op ? (m16_ ? 2 : 4) : size;  // no byte forms
            const bool right = coin(), cl = coin();
            op({0x0f, static_cast<u8>((right ? 0xac : 0xa4) | (cl ? 1 : 0))});
            modrm(c, reg, true, true, rex);
            u64 count = r(4) == 0 ? any() : r(70);
            // 16-bit counts of 17..31 have undefined results: not compared
            // (bcd_bitops_test checks what the emulator returns for them).
            if (wsize == 2 && (count & 31) > 16) count -= 16;
            if (cl)
                s.gpr[RCX] = count;
            else
                c.code.push_back(static_cast<u8>(count));
            const u64 masked = count & (wsize == 8 ? 63 : 31);
            if (masked != 0) c.undefined = flag::AF | (masked != 1 ? flag::OF : 0);
            break;
        }
        case 26:  // BSF/BSR: only ZF is defined
            op({0x0f, static_cast<u8>(coin() ? 0xbc : 0xbd)});
            modrm(c, reg, true, true, rex);
            c.undefined = flag::CF | flag::OF | flag::SF | flag::AF | flag::PF;
            break;
        case 27: {  // CMPXCHG8B m64, CMPXCHG16B m128 (REX.W)
            pre.clear();
            rex = (!m32_ && coin()) ? 0x48 : 0;
            op({0x0f, 0xc7});
            modrm(c, 1, false, true, rex, true);
            if ((rex & 8) && r(4) != 0) {  // mostly 16-byte aligned; the rest is #GP(0)
                c.code.back() &= 0xf0;
                for (unsigned b : {RBX, RBP, RSI, RDI}) s.gpr[b] &= ~u64{15};
            }
            if (coin()) {  // zeroed memory and RDX:RAX = 0: the compare matches
                c.zero_data = true;
                s.gpr[RAX] = s.gpr[RDX] = 0;
            }
            break;
        }
        default: {  // XLAT, MOV moffs-free forms: LEAVE
            pre.clear();
            rex = 0;
            if (coin()) {
                op({0xd7});
                s.gpr[RAX] = r(256);
            } else {
                op({0xc9});
            }
            break;
        }
        }
        std::vector<u8> full = pre;
        if (addr16_) full.push_back(0x67);
        if (rex && !m32_) full.push_back(rex);
        full.insert(full.end(), c.code.begin(), c.code.end());
        c.code = full;
        return c;
    }

private:
    std::mt19937_64 rng_;
    bool m32_;  // not 64-bit: no REX
    bool m16_;
    bool addr16_ = false;  // the address-size prefix is needed
};

// Setting up the engine cannot fail on a working install: a failure is the
// rig's own, reported and ended here (the header serves Catch tests and
// libFuzzer targets alike, so it uses neither's assertions).
inline void must(uc_err err, const char* what)
{
    if (err == UC_ERR_OK) return;
    std::fprintf(stderr, "differential rig: %s failed: %s\n", what, uc_strerror(err));
    std::abort();
}

struct Unicorn {
    uc_engine* uc = nullptr;
    int intno = -1;

    explicit Unicorn(unsigned bits) : bits_(bits) { open(); }
    unsigned bits_;
    // Unicorn keeps its double-fault bookkeeping after an exception (a second
    // fault would arrive as #DF; UNICORN-FACTS.md): start a fresh engine.
    void reopen()
    {
        uc_close(uc);
        open();
    }
    void open()
    {
        must(uc_open(UC_ARCH_X86, bits_ == 16 ? UC_MODE_16 : bits_ == 32 ? UC_MODE_32 : UC_MODE_64, &uc), "uc_open");
        must(uc_mem_map(uc, kCode, 0x1000, UC_PROT_ALL), "uc_mem_map code");
        must(uc_mem_map(uc, kData, kDataSize, UC_PROT_ALL), "uc_mem_map data");
        if (bits_ == 16) {  // real mode, every segment at 0
            u64 zero = 0;
            for (int r : {UC_X86_REG_CS, UC_X86_REG_DS, UC_X86_REG_ES, UC_X86_REG_SS})
                must(uc_reg_write(uc, r, &zero), "uc_reg_write segment");
        }
        uc_hook h;
        must(uc_hook_add(uc, &h, UC_HOOK_INTR, reinterpret_cast<void*>(&on_intr), this, 1, 0), "uc_hook_add");
    }
    ~Unicorn() { uc_close(uc); }

    static void on_intr(uc_engine* engine, uint32_t n, void* user)
    {
        static_cast<Unicorn*>(user)->intno = static_cast<int>(n);
        uc_emu_stop(engine);
    }
};

inline std::string hex(const std::vector<u8>& b)
{
    std::string out;
    char buf[4];
    for (u8 x : b) {
        std::snprintf(buf, sizeof buf, "%02x ", x);
        out += buf;
    }
    return out;
}


// The data window of a case: random bytes (zeros for a CMPXCHG8B/16B match)
// and, for a lone RET, a return address inside the code page at RSP.
inline std::vector<u8> make_case_data(Generator& gen, const CpuState& s, const Case& c)
{
    const bool lone_ret = c.code.back() == 0xc3 && c.code.size() == 1;
    // Drawn and unused (the return address is fixed below): kept so that a
    // seed still gives the cases it always gave.
    if (lone_ret) (void)gen.r(0x800);
    std::vector<u8> data(kDataSize);
    for (auto& b : data) b = c.zero_data ? 0 : static_cast<u8>(gen.r(256));
    if (lone_ret)
        for (unsigned i = 0; i < 8; ++i) data[s.gpr[RSP] - kData + i] = static_cast<u8>((kCode + 0x100) >> (8 * i));
    return data;
}

// A FakeMachine whose memory is exactly what the Unicorn engine maps.
inline void map_like_unicorn(FakeMachine& m)
{
    m.mapped = [](u64 la, u32 size) {
        // Compared without computing la + size, which wraps for addresses near 2^64.
        return (la >= kCode && la < kCode + 0x1000 && size <= kCode + 0x1000 - la) ||
               (la >= kData && la < kData + kDataSize && size <= kData + kDataSize - la);
    };
}

enum class Verdict {
    COMPARED,      // both executed it and agree
    FAULT_AGREED,  // both faulted, with the same vector or a known equivalent
    DISAGREE,      // a difference the rig does not allow: `detail` says what
};

struct CaseResult {
    Verdict verdict = Verdict::COMPARED;
    std::string detail;  // the bytes, the state before and every difference found
};

// IDIV r/m (F6 /7, F7 /7) after any legacy or REX prefixes.
inline bool is_idiv(const std::vector<u8>& code)
{
    usize i = 0;
    while (i < code.size()) {
        const u8 b = code[i];
        const bool prefix = b == 0x66 || b == 0x67 || b == 0xf0 || b == 0xf2 || b == 0xf3 || b == 0x26 ||
                            b == 0x2e || b == 0x36 || b == 0x3e || b == 0x64 || b == 0x65 || (b & 0xf0) == 0x40;
        if (!prefix) break;
        ++i;
    }
    return i + 1 < code.size() && (code[i] == 0xf6 || code[i] == 0xf7) && ((code[i + 1] >> 3) & 7) == 7;
}

// Executes case `c` from state `s` (with `data` in the data window) in the
// emulator (memory `m`, set up by map_like_unicorn) and in Unicorn engine
// `u` of the same mode (bits 16, 32 or 64), and compares.
inline CaseResult run_case(unsigned bits, Unicorn& u, FakeMachine& m, CpuState s, const Case& c,
                           const std::vector<u8>& data)
{
    const bool m32 = bits != 64;
    CaseResult out;
    std::ostringstream why;
    why << "bytes: " << hex(c.code) << " flags=0x" << std::hex << s.rflags << std::dec << " regs before:";
    for (unsigned i = 0; i < 16; ++i) why << " " << i << "=" << s.gpr[i];
    auto disagree = [&](const std::string& what) {
        out.verdict = Verdict::DISAGREE;
        out.detail = why.str() + "; " + what;
        return out;
    };

    m.put_bytes(kData, data.data(), data.size());
    std::vector<u8> code_page(0x1000, 0xf4);  // HLT everywhere else
    std::copy(c.code.begin(), c.code.end(), code_page.begin());
    m.put_bytes(kCode, code_page.data(), code_page.size());

    // Unicorn gets the same state.
    must(uc_mem_write(u.uc, kData, data.data(), data.size()), "uc_mem_write data");
    must(uc_mem_write(u.uc, kCode, code_page.data(), code_page.size()), "uc_mem_write code");
    uc_ctl_remove_cache(u.uc, kCode, kCode + 0x1000);
    for (unsigned i = 0; i < (m32 ? 8u : 16u); ++i) uc_reg_write(u.uc, m32 ? kUcRegs32[i] : kUcRegs[i], &s.gpr[i]);
    u64 fl = s.rflags;
    uc_reg_write(u.uc, m32 ? UC_X86_REG_EFLAGS : UC_X86_REG_RFLAGS, &fl);
    u64 rip = kCode;
    uc_reg_write(u.uc, m32 ? UC_X86_REG_EIP : UC_X86_REG_RIP, &rip);

    const CpuState before = s;
    const EmulateResult res = emulate_one(s, m.ops());
    if (res.outcome == EmulateOutcome::UNHANDLED) return disagree("the emulator does not handle it");
    if (res.outcome == EmulateOutcome::IO_NEEDED) return disagree("the emulator asked for I/O");

    // Unicorn computes IDIV's quotient with a host division: a dividend of
    // -2^31 (DX:AX) or -2^63 (EDX:EAX) over -1 traps in the host (SIGFPE ends
    // the process; QEMU proper catches it, Unicorn does not). The emulator's
    // #DE for such an IDIV is not compared (found by fuzz-emulator).
    if (res.outcome == EmulateOutcome::EXCEPTION && res.vector == 0 && is_idiv(c.code) &&
        (((before.gpr[RDX] & 0xffff) << 16 | (before.gpr[RAX] & 0xffff)) == 0x80000000u ||
         ((before.gpr[RDX] & 0xffffffff) << 32 | (before.gpr[RAX] & 0xffffffff)) == u64{1} << 63)) {
        out.verdict = Verdict::FAULT_AGREED;
        return out;
    }

    u.intno = -1;
    const u64 until = res.outcome == EmulateOutcome::OK ? s.rip : kCode + 0x800;
    const uc_err err = uc_emu_start(u.uc, kCode, until, 0, 0);
    if (res.outcome == EmulateOutcome::EXCEPTION) {
        // Our fake memory raises #PF outside its window where Unicorn reports an unmapped access.
        const bool unmapped =
            err == UC_ERR_READ_UNMAPPED || err == UC_ERR_WRITE_UNMAPPED || err == UC_ERR_FETCH_UNMAPPED;
        // QEMU does not check real-mode segment limits: an access beyond
        // 64 KiB is #GP/#SS for us and an unmapped access for Unicorn.
        const bool limit = bits == 16 && (res.vector == 13 || res.vector == 12) && unmapped;
        // Unicorn reports #UD as an invalid instruction, not an interrupt.
        const bool invalid = res.vector == 6 && err == UC_ERR_INSN_INVALID;
        const bool agree = u.intno == static_cast<int>(res.vector) || (res.vector == 14 && unmapped) || limit || invalid;
        // Unicorn keeps its double-fault bookkeeping after an exception
        // (UNICORN-FACTS.md): a fresh engine for the next case.
        u.reopen();
        std::ostringstream f;
        f << "emulator raised vector " << int(res.vector) << ", unicorn intno " << u.intno << " err " << err;
        if (!agree) return disagree(f.str());
        if (s.rip != before.rip) return disagree(f.str() + ", and the emulator moved RIP");
        out.verdict = Verdict::FAULT_AGREED;
        return out;
    }
    if (err != UC_ERR_OK || u.intno != -1) {
        std::ostringstream f;
        f << "the emulator executed it, unicorn err " << err << " intno " << u.intno;
        return disagree(f.str());
    }
    std::ostringstream diff;
    u64 urip = 0, uflags = 0;
    uc_reg_read(u.uc, m32 ? UC_X86_REG_EIP : UC_X86_REG_RIP, &urip);
    uc_reg_read(u.uc, m32 ? UC_X86_REG_EFLAGS : UC_X86_REG_RFLAGS, &uflags);
    bool same = urip == s.rip;
    if (!same) diff << " rip emulator=0x" << std::hex << s.rip << " unicorn=0x" << urip << std::dec;
    for (unsigned i = 0; i < (m32 ? 8u : 16u); ++i) {
        u64 v = 0;
        uc_reg_read(u.uc, m32 ? kUcRegs32[i] : kUcRegs[i], &v);
        const u64 ignore = (i == RAX ? c.rax_ignore : 0) | (m32 ? ~u64{0xffffffff} : 0);
        if ((v & ~ignore) != (s.gpr[i] & ~ignore)) {
            diff << " reg " << i << " emulator=0x" << std::hex << s.gpr[i] << " unicorn=0x" << v << std::dec;
            same = false;
        }
    }
    const u64 mask = ~(c.undefined | flag::RF);
    if ((uflags & mask) != (s.rflags & mask)) {
        diff << " rflags emulator=0x" << std::hex << s.rflags << " unicorn=0x" << uflags << " ignored=0x"
             << c.undefined << std::dec;
        same = false;
    }
    std::vector<u8> udata(kDataSize);
    uc_mem_read(u.uc, kData, udata.data(), udata.size());
    for (u64 i = 0; std::memcmp(udata.data(), &m.mem[kData], kDataSize) != 0 && i < kDataSize; ++i) {
        if (udata[i] != m.mem[kData + i]) {
            diff << " memory at 0x" << std::hex << kData + i << " emulator=0x" << int(m.mem[kData + i])
                 << " unicorn=0x" << int(udata[i]) << std::dec;
            same = false;
            break;
        }
    }
    if (!same) return disagree("results differ:" + diff.str());
    return out;
}

}  // namespace xeno::emu::test
