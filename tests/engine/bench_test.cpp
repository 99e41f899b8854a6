// Measured costs (hidden: run with `test-engine [.bench]`). Host time is
// read here only to report figures, never by the model.
#include <chrono>
#include <cstdio>

#include "tests/engine/fixture.hpp"

namespace xeno::sim::test {

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

TEST_CASE("bench: OUT exit round trip inside the hook", "[.bench]")
{
    Guest g;
    g.flat32(0x10000);
    g.code(0x10000, {0xe6, 0x80, 0xeb, 0xfc});  // l: out 0x80, al; jmp l
    constexpr usize kExits = 200000;
    g.max_exits = kExits;
    g.exits.reserve(kExits);
    const auto t0 = std::chrono::steady_clock::now();
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    const double s = seconds_since(t0);
    std::printf("io_exit_ns=%.0f (recording handler, %zu exits)\n", s * 1e9 / kExits, g.exits.size());
}

TEST_CASE("bench: busy loop with block counting", "[.bench]")
{
    Guest g;
    g.flat32(0x10000);
    // mov ecx, N; l: add eax, ecx; xor ebx, eax; mov [0x9000], ebx; mov edx, [0x9000]; dec ecx; jnz l; hlt
    g.code(0x10000, {0xb9, 0x00, 0xe1, 0xf5, 0x05, 0x01, 0xc8, 0x31, 0xc3, 0x89, 0x1d, 0x00, 0x90, 0x00, 0x00,
                     0x8b, 0x15, 0x00, 0x90, 0x00, 0x00, 0x49, 0x75, 0xef, 0xf4});
    const auto t0 = std::chrono::steady_clock::now();
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    const double s = seconds_since(t0);
    std::printf("busy loop: %llu guest instructions, %.1f M instr/s\n",
                static_cast<unsigned long long>(g.engine.guest_instructions()), g.engine.guest_instructions() / s / 1e6);
}

}  // namespace xeno::sim::test

namespace xeno::sim::test {

namespace {
struct MinimalCounter {
    Guest* g;
    usize left;
};
hal::ExitAction minimal_handler(void* context, hal::GuestRegs&)
{
    auto& c = *static_cast<MinimalCounter*>(context);
    LiveGuestState& live = c.g->engine.live_guest();
    const u64 len = c.g->vmcs.get(f::VM_EXIT_INSTRUCTION_LEN);
    const u64 qual = c.g->vmcs.get(f::EXIT_QUALIFICATION);
    (void)qual;
    live.write(f::GUEST_RIP.kEncoding, live.read(f::GUEST_RIP.kEncoding) + len);
    return --c.left ? hal::ExitAction::RESUME : hal::ExitAction::YIELD;
}
}  // namespace

TEST_CASE("bench: OUT exit round trip, minimal handler", "[.bench]")
{
    Guest g;
    g.flat32(0x10000);
    g.code(0x10000, {0xe6, 0x80, 0xeb, 0xfc});
    constexpr usize kExits = 500000;
    MinimalCounter c{&g, kExits};
    const auto t0 = std::chrono::steady_clock::now();
    REQUIRE(g.engine.run(g.vmcs, g.regs, &minimal_handler, &c) == hal::VmxResult::SUCCEED);
    const double s = seconds_since(t0);
    std::printf("io_exit_ns=%.0f (minimal handler: 2 VMREADs, RIP read+write)\n", s * 1e9 / kExits);
}

}  // namespace xeno::sim::test
