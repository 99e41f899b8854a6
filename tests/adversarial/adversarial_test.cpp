// The adversarial guest suite (label `adversarial`): hostile guests and
// hostile kernel images, one attack each, every row run on penryn/shadow,
// skylake/ept and skylake/shadow next to an 8 MiB decoy of someone else's
// memory (sim::MachineConfig::decoy_bytes). A row passes only when
//   - the run ends exactly as the table says: the guest's own status (it
//     checked the architectural result itself), a crash / halt / reset with
//     the documented reason, one of the run's limits, or (kernels) the
//     builder's refusal with its log line;
//   - the log shows no hypervisor-side error (an unexpected VM exit, a
//     failed VM entry or VMCS access, a panic): those are never a pass;
//   - the decoy hashes the same before and after.
// The table is rows.hpp (bochs_test.cpp runs it in Bochs too), the guests
// tests/adversarial/guests/*.asm (shared set-up in adv.inc), the kernels
// tests/adversarial/hostile_kernels.hpp; README.md's "Adversarial guests"
// lists the same table.
#include <catch2/catch.hpp>
#include <array>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "sim/platform/machine.hpp"
#include "rows.hpp"

namespace {

using namespace xeno::adversarial;
using Failure = xeno::sim::MachineResult::Failure;

Bytes guest_image(const std::string& dir, const std::string& name)
{
    const std::string path = dir + "/" + name + ".bin";
    std::ifstream in(path, std::ios::binary);
    INFO("guest image " << path);
    REQUIRE(in.good());
    return Bytes(std::istreambuf_iterator<char>(in), {});
}

void run_row(const Row& row)
{
    const Bytes image = row.kernel ? row.kernel() : guest_image(row.guests_dir, row.name);
    for (const Mode& m : kModes) {
        const bool shadow = std::string(m.paging) == "shadow" && row.shadow_end != End::AS_EPT;
        const End end = shadow ? row.shadow_end : row.end;
        const int status = shadow ? row.shadow_status : row.status;
        const std::string reason = shadow ? row.shadow_reason : row.reason;
        xeno::sim::MachineConfig config;
        config.profile = m.profile;
        config.memory_bytes = std::uint64_t{96} << 20;
        config.guest_image = image;
        config.decoy_bytes = std::uint64_t{8} << 20;
        if (row.kernel) {
            config.guest_cmdline = "kernel";
            config.cmdline = std::string("guest_mem_mb=16 paging=") + m.paging;
        } else {
            config.cmdline = std::string("guest_mem_mb=16 guest_load=0x8000 guest_entry=0x8000 paging=") + m.paging;
        }
        if (row.smp > 1) config.cmdline += " smp=" + std::to_string(row.smp);
        if (*row.extra) config.cmdline += std::string(" ") + row.extra;
        config.max_guest_instructions = row.max_insns;
        config.max_vtime_ns = row.max_vtime_ms * 1'000'000;
        config.wall_timeout_ms = 60'000;  // a hang is a failure, not a stuck test
        std::string console, log;
        xeno::sim::MachineOutput out;
        out.guest_console = [&console](const char* b, std::size_t n) {
            if (console.size() < 4096) console.append(b, n);
        };
        out.log = [&log](const char* b, std::size_t n) {
            if (log.size() < (1u << 20)) log.append(b, n);
        };
        out.trace = [](const char*, std::size_t) {};
        const xeno::sim::MachineResult r = xeno::sim::run_machine(config, out);

        INFO(row.name << " on " << m.profile << "/" << m.paging << ": ok=" << r.ok << " error='" << r.error
                      << "' end=" << r.end << " status=" << r.status << " reason='" << r.end_reason
                      << "' insns=" << r.guest_instructions << " exits=" << r.exits << "\nconsole: " << console
                      << "\nlog:\n" << log);
        // The decoy: someone else's memory, the same bytes before and after.
        CHECK(r.decoy_hash_before != 0);
        CHECK(r.decoy_hash_after == r.decoy_hash_before);
        for (const char* bad : kHypervisorErrors) {
            INFO("hypervisor-side error in the log: " << bad);
            CHECK(log.find(bad) == std::string::npos);
        }
        switch (end) {
        case End::INSN_LIMIT:
            CHECK_FALSE(r.ok);
            CHECK(r.failure == Failure::INSTRUCTION_LIMIT);
            break;
        case End::VTIME_LIMIT:
            CHECK_FALSE(r.ok);
            CHECK(r.failure == Failure::VTIME_LIMIT);
            break;
        case End::REFUSED:
            // The exact line, as the run's error and in the log.
            CHECK_FALSE(r.ok);
            CHECK(r.failure == Failure::OTHER);
            CHECK(r.error == "domain: kernel refused: " + reason);
            CHECK(log.find("domain: kernel refused: " + reason + "\n") != std::string::npos);
            break;
        default:
            REQUIRE(r.ok);
            CHECK(r.end == end_name(end));
            if (end == End::STATUS)
                CHECK(r.status == status);
            else
                CHECK(r.end_reason.find(reason) != std::string::npos);
        }
    }
}

// One Catch test case per row ("adversarial: <name>"), so that a row can be
// run alone: test-adversarial "adversarial: io_ports_read".
template <std::size_t I>
void run_row_at()
{
    run_row(kRows[I]);
}

template <std::size_t... I>
std::array<std::string, sizeof...(I)> register_rows(std::index_sequence<I...>)
{
    std::array<std::string, sizeof...(I)> names{("adversarial: " + std::string(kRows[I].name))...};
    (Catch::AutoReg(Catch::makeTestInvoker(&run_row_at<I>), Catch::SourceLineInfo(__FILE__, __LINE__),
                    Catch::StringRef(), Catch::NameAndTags{names[I].c_str(), "[adversarial]"}),
     ...);
    return names;
}

const std::array<std::string, kRowCount> kRowNames = register_rows(std::make_index_sequence<kRowCount>{});

}  // namespace

TEST_CASE("the adversarial table has at least 50 rows, each named once", "[adversarial]")
{
    CHECK(kRowCount >= 50);
    for (std::size_t i = 0; i < kRowCount; ++i)
        for (std::size_t j = i + 1; j < kRowCount; ++j) CHECK(std::string(kRows[i].name) != kRows[j].name);
}
