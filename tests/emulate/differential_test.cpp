// Differential test: random instructions from the ALU, shift, mul/div, mov,
// push/pop, string, bt, setcc, cmovcc, BCD adjust, SHLD/SHRD, BSF/BSR and
// CMPXCHG8B/16B classes with random register, flag and memory state, executed by the emulator and by Unicorn 2.1 (one
// UC_MODE_64 engine, flat 64-bit), comparing registers, RIP, the flags the
// SDM defines for the instruction, the data memory and faults.
//
// The rig (generator, Unicorn engines, comparison and the differences it
// allows) is tests/emulate/differential_rig.hpp, shared with fuzz/fuzz_emulator.cpp.
//
// Reproducible: a fixed seed (override with XENO_EMU_SEED=<n>); a failure
// prints the seed, the case number and the instruction bytes.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>

#include "tests/emulate/differential_rig.hpp"

using namespace xeno;
using namespace xeno::emu;
using namespace xeno::emu::test;

namespace {
void differential(unsigned bits, unsigned cases)
{
    u64 seed = 0x5eed0004;
    if (const char* env = std::getenv("XENO_EMU_SEED")) seed = std::strtoull(env, nullptr, 0);
    Generator gen(seed, bits);
    Unicorn u(bits);
    FakeMachine m(kData + kDataSize);
    map_like_unicorn(m);
    unsigned compared = 0, faults = 0;
    unsigned new_compared[kKinds - kFirstNewKind] = {}, new_faults[kKinds - kFirstNewKind] = {};
    for (unsigned n = 0; n < cases; ++n) {
        CpuState s = bits == 16 ? real_mode_state(0, static_cast<u16>(kCode)) : bits == 32 ? flat32_state(kCode) : long64_state(kCode);
        gen.randomize(s);
        const Case c = gen.make(s);
        const std::vector<u8> data = make_case_data(gen, s, c);
        const CaseResult r = run_case(bits, u, m, s, c, data);
        INFO("seed=" << seed << " case=" << n << " " << r.detail);
        CHECK(r.verdict != Verdict::DISAGREE);
        if (r.verdict == Verdict::DISAGREE) break;
        const bool fault = r.verdict == Verdict::FAULT_AGREED;
        ++(fault ? faults : compared);
        if (c.kind >= kFirstNewKind) ++(fault ? new_faults : new_compared)[c.kind - kFirstNewKind];
    }
    CHECK(compared + faults == cases);
    CHECK(faults > 0);
    std::printf("emulator differential (%s): seed=0x%llx cases=%u compared=%u faults=%u\n",
                bits == 16 ? "real mode" : bits == 32 ? "32-bit" : "64-bit", static_cast<unsigned long long>(seed), cases, compared, faults);
    for (unsigned k = 0; k < kKinds - kFirstNewKind; ++k) {
        std::printf("  %-14s compared=%u faults=%u\n", kNewKindNames[k], new_compared[k], new_faults[k]);
        CHECK(new_compared[k] + new_faults[k] > 0);
    }
}

}  // namespace

TEST_CASE("emulator agrees with Unicorn on random instructions (64-bit flat)") { differential(64, 10000); }

TEST_CASE("emulator agrees with Unicorn on random instructions (32-bit flat, 16-bit operands and addressing)")
{
    differential(32, 6000);
}

TEST_CASE("emulator agrees with Unicorn on random instructions (real mode, 16-bit defaults)")
{
    differential(16, 6000);
}
