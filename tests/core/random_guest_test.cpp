// A buggy or malicious guest may crash only itself, and every run is
// deterministic. Guests made of random bytes (random IVT, GDT, IDT, page
// tables and code) run on every profile and paging mode; each run must end
// the way a guest's run ends (its own status, a triple fault, the
// instruction limit), never with a hypervisor panic, an error of the VMX
// model or an exit the hypervisor has no handler for; a decoy of someone
// else's memory must come out untouched; some run twice with byte-identical
// results. Seeded and reproducible; the seed is in the failure message.
#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

#include "sim/platform/machine.hpp"

namespace {

struct Mode {
    const char* profile;
    const char* paging;
};
constexpr Mode kModes[] = {{"penryn", "shadow"}, {"skylake", "shadow"}, {"skylake", "ept"}};

enum class Start { REAL, PROTECTED, PAGED };

// Guest-physical 0..0x9000: random bytes, with (for PROTECTED and PAGED) a
// prologue at 0x8000 that loads the random GDT (flat code 0x08 and data 0x10
// fixed) and the random IDT, enters 32-bit protected mode and, for PAGED,
// turns on 32-bit paging with a random page directory whose first entry maps
// the first 4 MiB; then random code.
std::vector<std::uint8_t> random_guest(std::uint32_t seed, Start start)
{
    std::mt19937 rng(seed);
    std::vector<std::uint8_t> g(0x9000);
    for (auto& b : g) b = static_cast<std::uint8_t>(rng());
    if (start == Start::REAL) return g;
    auto put = [&g](std::size_t at, std::initializer_list<std::uint8_t> bytes) {
        for (std::uint8_t b : bytes) g.at(at++) = b;
    };
    put(0x1008, {0xff, 0xff, 0x00, 0x00, 0x00, 0x9a, 0xcf, 0x00});  // GDT 0x08: flat code
    put(0x1010, {0xff, 0xff, 0x00, 0x00, 0x00, 0x92, 0xcf, 0x00});  // GDT 0x10: flat data
    put(0x3000, {0x83, 0x00, 0x00, 0x00});                          // PDE 0: 0-4 MiB, 4 MiB page
    // Most IDT entries valid 32-bit interrupt gates into the random code (so
    // guests live on through their faults), the rest left random.
    for (std::size_t v = 0; v < 256; ++v) {
        if (rng() % 5 == 0) continue;
        const std::uint32_t offset = 0x8100 + rng() % 0xe00;
        put(0x2000 + 8 * v, {static_cast<std::uint8_t>(offset), static_cast<std::uint8_t>(offset >> 8), 0x08, 0x00,
                             0x00, 0x8e, 0x00, 0x00});
    }
    put(0x7f00, {0xff, 0x07, 0x00, 0x10, 0x00, 0x00});              // GDTR: 0x1000, limit 0x7ff
    put(0x7f08, {0xff, 0x07, 0x00, 0x20, 0x00, 0x00});              // IDTR: 0x2000, limit 0x7ff
    std::size_t at = 0x8000;
    auto code = [&](std::initializer_list<std::uint8_t> bytes) {
        put(at, bytes);
        at += bytes.size();
    };
    code({0xfa});                                      // cli
    code({0x0f, 0x01, 0x16, 0x00, 0x7f});              // lgdt [0x7f00]
    code({0x0f, 0x01, 0x1e, 0x08, 0x7f});              // lidt [0x7f08]
    code({0x0f, 0x20, 0xc0, 0x0c, 0x01, 0x0f, 0x22, 0xc0});  // mov eax, cr0; or al, 1; mov cr0, eax
    const std::size_t pm = at + 8;
    code({0x66, 0xea, static_cast<std::uint8_t>(pm), static_cast<std::uint8_t>(pm >> 8), 0, 0, 0x08, 0x00});
    code({0xb8, 0x10, 0x00, 0x00, 0x00, 0x8e, 0xd8, 0x8e, 0xc0, 0x8e, 0xd0});  // ds = es = ss = 0x10
    code({0xbc, 0x00, 0x70, 0x00, 0x00});              // mov esp, 0x7000
    if (start == Start::PAGED) {
        code({0x0f, 0x20, 0xe0, 0x83, 0xc8, 0x10, 0x0f, 0x22, 0xe0});  // CR4.PSE
        code({0xb8, 0x00, 0x30, 0x00, 0x00, 0x0f, 0x22, 0xd8});        // CR3 = 0x3000
        code({0x0f, 0x20, 0xc0, 0x0d, 0x00, 0x00, 0x00, 0x80, 0x0f, 0x22, 0xc0});  // CR0.PG
    }
    return g;  // random code follows
}

}  // namespace

TEST_CASE("guests of random bytes end only themselves, on every profile and paging mode", "[isolation][random]")
{
    const Start start = GENERATE(Start::REAL, Start::PROTECTED, Start::PAGED);
    unsigned limits = 0, ended = 0;
    for (const Mode& m : kModes) {
        for (std::uint32_t seed = 1; seed <= 16; ++seed) {
            const std::uint32_t full_seed = seed * 1000 + static_cast<std::uint32_t>(start);
            INFO("seed " << full_seed << " start " << static_cast<int>(start) << " " << m.profile << "/" << m.paging);
            xeno::sim::MachineConfig config;
            config.profile = m.profile;
            config.memory_bytes = std::uint64_t{64} << 20;
            config.guest_image = random_guest(full_seed, start);
            config.cmdline = std::string("guest_mem_mb=8 guest_load=0x0 guest_entry=0x8000 paging=") + m.paging;
            config.max_guest_instructions = 100'000;
            config.hash_memory = true;  // the determinism check below compares it
            config.decoy_bytes = std::uint64_t{1} << 20;
            xeno::sim::MachineOutput out;
            out.guest_console = [](const char*, std::size_t) {};
            std::string log;
            out.log = [&log](const char* b, std::size_t n) { log.append(b, n); };
            out.trace = [](const char*, std::size_t) {};
            const xeno::sim::MachineResult r = xeno::sim::run_machine(config, out);
            INFO("error: " << r.error);
            CHECK(r.decoy_hash_before == r.decoy_hash_after);
            // The guest state the hypervisor hands to VM entry is always
            // valid, whatever the guest did (a failed entry is its bug).
            CHECK(log.find("VM entry failed") == std::string::npos);
            if (seed <= 4) {
                // Determinism holds for any guest: the same run again leaves
                // machine memory byte for byte the same.
                const xeno::sim::MachineResult again = xeno::sim::run_machine(config, out);
                CHECK(again.memory_hash == r.memory_hash);
                CHECK(again.exits == r.exits);
                CHECK(again.guest_instructions == r.guest_instructions);
            }
            if (r.ok) {
                // A domain the hypervisor ended because it has no handler for
                // an exit is not a guest's end but a missing handler: the
                // hypervisor must handle every exit its controls can cause.
                INFO("end: " << r.end << ": " << r.end_reason);
                CHECK(r.end_reason.find("unexpected VM exit") == std::string::npos);
                ++ended;
            } else {
                // The instruction limit is the harness stopping a guest that
                // never ends; anything else is the hypervisor or the model
                // giving up, which a guest must not be able to cause.
                CHECK(r.error.find("ran past its limit") != std::string::npos);
                ++limits;
            }
        }
    }
    // Both outcomes occur: the test sees guests that end and guests that spin.
    CHECK(ended > 0);
    WARN("random guests: " << ended << " ended, " << limits << " stopped at the limit");
}

TEST_CASE("random guests that IRET into virtual-8086 mode from MMIO's all-ones get an enterable state", "[isolation][random]")
{
    // Seeds 18001 and 54001 (PROTECTED start, skylake/ept): an emulated IRET
    // popped EFLAGS from past RAM (all ones: VM=1) and the emulator left CS
    // with the code access rights 0xfb, which VM entry into virtual-8086
    // mode refuses (it wants 0xf3 for every segment): "VM entry failed", a
    // hypervisor bug. The guests now go on in virtual-8086 mode and end as
    // their own code decides.
    for (const std::uint32_t full_seed : {18001u, 54001u}) {
        xeno::sim::MachineConfig config;
        config.profile = "skylake";
        config.memory_bytes = std::uint64_t{64} << 20;
        config.guest_image = random_guest(full_seed, Start::PROTECTED);
        config.cmdline = "guest_mem_mb=8 guest_load=0x0 guest_entry=0x8000 paging=ept";
        config.max_guest_instructions = 100'000;
        xeno::sim::MachineOutput out;
        std::string log;
        out.log = [&log](const char* b, std::size_t n) { log.append(b, n); };
        const xeno::sim::MachineResult r = xeno::sim::run_machine(config, out);
        INFO("seed " << full_seed << ": " << r.error << " end=" << r.end << " (" << r.end_reason << ")");
        CHECK(log.find("VM entry failed") == std::string::npos);
        CHECK(log.find("access rights != 0xf3") == std::string::npos);
    }
}

TEST_CASE("a random guest that only makes the hypervisor emulate reaches its instruction limit", "[isolation][random]")
{
    // Seed 24001 (PROTECTED start, shadow paging): a #UD handler at
    // 0xffffffff, past RAM, whose fetch the hypervisor emulates (open bus:
    // 0xff 0xff, #UD again) forever; the guest itself retires 51
    // instructions. Emulated instructions count toward the limit, so the
    // run stops there instead of spinning until the wall-time limit.
    xeno::sim::MachineConfig config;
    config.profile = "penryn";
    config.memory_bytes = std::uint64_t{64} << 20;
    config.guest_image = random_guest(24001, Start::PROTECTED);
    config.cmdline = "guest_mem_mb=8 guest_load=0x0 guest_entry=0x8000 paging=shadow";
    config.max_guest_instructions = 100'000;
    config.wall_timeout_ms = 60'000;
    xeno::sim::MachineOutput out;
    const xeno::sim::MachineResult r = xeno::sim::run_machine(config, out);
    INFO(r.error);
    CHECK(r.failure == xeno::sim::MachineResult::Failure::INSTRUCTION_LIMIT);
    CHECK(r.error.find("emulated by the hypervisor") != std::string::npos);
    CHECK(r.exits < 100'000);
}
