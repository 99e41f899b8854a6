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
// The guests are tests/adversarial/guests/*.asm (shared set-up in adv.inc),
// the kernels tests/adversarial/hostile_kernels.hpp; README.md's
// "Adversarial guests" lists the same table.
#include <catch2/catch.hpp>
#include <array>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "sim/platform/machine.hpp"
#include "hostile_kernels.hpp"

namespace {

using xeno::adversarial::Bytes;
using Failure = xeno::sim::MachineResult::Failure;

enum class End {
    STATUS,       // the guest wrote `status` to the debug exit port
    CRASH,        // the hypervisor ended the domain as crashed; `reason` is a substring of its reason
    HALTED,       // ended as halted, `reason` likewise
    RESET,        // ended as reset, `reason` likewise
    POWEROFF,     // the guest powered off (status 0)
    INSN_LIMIT,   // the run's instruction limit stopped it (the guest never ends on its own)
    VTIME_LIMIT,  // the run's virtual-time limit stopped it
    REFUSED,      // the domain builder refused the kernel: exactly "domain: kernel refused: <reason>"
    AS_EPT,       // (shadow_end only) shadow paging ends as EPT does
};

struct Row {
    const char* name;     // guests/<name>.asm, or the kernel's name
    const char* attacks;  // one line, as in README.md
    End end;              // how it must end (skylake/ept, and shadow paging unless shadow_end says otherwise)
    int status = 0;       // End::STATUS
    const char* reason = "";  // CRASH / HALTED / RESET / REFUSED: a substring of the end reason (REFUSED: all of it)
    // Where shadow paging ends otherwise, by design (the row's comment in
    // README.md says why): its end, status and reason.
    End shadow_end = End::AS_EPT;
    int shadow_status = 0;
    const char* shadow_reason = "";
    std::uint64_t max_insns = 2'000'000;
    std::uint64_t max_vtime_ms = 0;  // 0: none
    unsigned smp = 1;
    const char* extra = "";          // more of the hypervisor's command line
    Bytes (*kernel)() = nullptr;     // a hostile kernel for the domain builder instead of a guest
    const char* guests_dir = XENO_TEST_GUESTS_DIR;  // where <name>.bin is
};

namespace k = xeno::adversarial;

// clang-format off
const Row kRows[] = {
    // ---- I/O ports and MMIO ----
    {.name = "io_ports_read", .attacks = "IN (byte, word, dword) from every I/O port 0-0xffff", .end = End::STATUS},
    {.name = "io_ports_write", .attacks = "OUT of zeros (byte, word, dword) and ones (byte) to every I/O port but the documented ends",
     .end = End::STATUS, .max_insns = 3'000'000},
    {.name = "mmio_hole_rw", .attacks = "reads and writes every 64 KiB of the MMIO hole, every local APIC and I/O APIC register, straddling accesses",
     .end = End::STATUS},
    {.name = "ram_past_end", .attacks = "single and REP string accesses past the end of RAM and straddling it (floating bus)", .end = End::STATUS},
    {.name = "exec_mmio", .attacks = "jumps into the local APIC page: instruction fetch from MMIO", .end = End::CRASH,
     .reason = "instruction fetch at guest-physical 0xfee00000",
     .shadow_end = End::STATUS, .shadow_status = 0x86},
    {.name = "exec_past_ram", .attacks = "jumps to 256 MiB, past RAM: instruction fetch from nothing", .end = End::CRASH,
     .reason = "instruction fetch at guest-physical 0x10000000",
     .shadow_end = End::STATUS, .shadow_status = 0x86},

    // ---- VMX instructions and VMFUNC; control registers and MSRs ----
    {.name = "vmx_real", .attacks = "every VMX instruction, VMFUNC and VMCALL in real mode (#UD each)", .end = End::STATUS},
    {.name = "vmx_pm32", .attacks = "every VMX instruction and VMFUNC in 32-bit protected mode (#UD), CR4.VMXE (#GP)", .end = End::STATUS},
    {.name = "vmx_ring3", .attacks = "every VMX instruction and VMFUNC at CPL 3 (#UD), VMCALL at CPL 3 (-EPERM)", .end = End::STATUS},
    {.name = "vmx_long", .attacks = "every VMX instruction and VMFUNC in 64-bit mode (#UD), CR4.VMXE (#GP)", .end = End::STATUS},
    {.name = "msr_vmx_control", .attacks = "IA32_FEATURE_CONTROL writes, the VMX capability MSRs 0x480-0x491 (#GP)", .end = End::STATUS},
    {.name = "efer_bits", .attacks = "IA32_EFER reserved bits, NXE, LME with paging on, in 32-bit and 64-bit mode (#GP)", .end = End::STATUS},
    {.name = "cr_bits_long", .attacks = "CR4 reserved and unoffered feature bits, PAE/LA57 in IA-32e mode, CR3 and CR8 reserved bits (#GP)",
     .end = End::STATUS},
    {.name = "cr_native_long", .attacks = "CR0/CR4 bits 63:32, CR0.NW without CD, CR0.PG/PE cleared in 64-bit mode (#GP)", .end = End::STATUS},
    {.name = "msr_noncanonical", .attacks = "non-canonical FS/GS/KERNEL_GS base, LSTAR, CSTAR, SYSENTER; bad PAT, DEBUGCTL, APIC_BASE (#GP)",
     .end = End::STATUS},
    {.name = "msr_noncanonical_real", .attacks = "non-canonical FS/GS base, LSTAR, CSTAR, SYSENTER from real mode (emulated on penryn: #GP)",
     .end = End::STATUS},
    {.name = "dr_reserved", .attacks = "DR6/DR7 bits 63:32 (#GP), DR4/DR5 with CR4.DE (#UD), non-canonical breakpoints", .end = End::STATUS},
    {.name = "msr_scan", .attacks = "RDMSR of every index in three ranges, WRMSR back of each value read (#GP or nothing)",
     .end = End::STATUS},
    {.name = "xcr0_nonsense", .attacks = "XSETBV/XGETBV: no x87, AVX without SSE, unoffered and reserved bits, XCR1+ (#GP)", .end = End::STATUS},

    // ---- Paging ----
    {.name = "pt_wild_frames", .attacks = "64-bit leaves past RAM, at 4/60 GiB, at and above MAXPHYADDR, at the local APIC; 2 MiB and 1 GiB pages past RAM",
     .end = End::STATUS},
    {.name = "pt_mmio_tables", .attacks = "64-bit page directories/tables in the I/O APIC page, the local APIC page and past RAM (#PF RSVD)",
     .end = End::STATUS},
    {.name = "pt_reserved_bits", .attacks = "PS in a PML4E, bits 20:13 of a 2 MiB PDE, XD without NXE (#PF RSVD); XD fetch, WP write",
     .end = End::STATUS},
    {.name = "pt_self_map", .attacks = "a recursive PML4 through which the guest edits its own live tables", .end = End::STATUS},
    {.name = "cr3_invlpg_storm", .attacks = "10 000 rounds of CR3 switches over 16 spaces, live PTE rewrites, INVLPG of any address",
     .end = End::STATUS},
    {.name = "cr3_past_ram", .attacks = "a 64-bit CR3 past the end of RAM: fetch, #PF and #DF delivery walk nothing", .end = End::CRASH,
     .reason = "guest access at guest-physical 0x2000000", .shadow_end = End::CRASH,
     .shadow_reason = "page fault while delivering a double fault (the guest would triple fault)"},
    {.name = "pae_pdpte_reserved", .attacks = "PAE PDPTEs with reserved bits at MOV CR3 / CR0.PG (#GP); stale PDPTE registers",
     .end = End::STATUS},
    {.name = "smc_cross_page", .attacks = "self-modifying code straddling a page, natively and in an instruction the hypervisor emulates",
     .end = End::STATUS},

    // ---- Event delivery, exception loops ----
    {.name = "stack_past_ram", .attacks = "ESP past RAM during exception delivery", .end = End::CRASH,
     .reason = "guest access at guest-physical 0x1fffffc", .shadow_end = End::CRASH,
     .shadow_reason = "event delivery reached guest-physical memory outside RAM at 0x1fffffc"},
    {.name = "stack_mmio", .attacks = "ESP in the local APIC page during exception delivery", .end = End::CRASH,
     .reason = "guest access at guest-physical 0xfee003fc", .shadow_end = End::CRASH,
     .shadow_reason = "event delivery reached guest-physical memory outside RAM at 0xfee003fc"},
    {.name = "idt_past_ram", .attacks = "an IDT past RAM, then INT3", .end = End::CRASH,
     .reason = "guest access at guest-physical 0x3000018", .shadow_end = End::CRASH,
     .shadow_reason = "event delivery reached guest-physical memory outside RAM at 0x3000018"},
    {.name = "idt_limit_zero", .attacks = "an IDT of limit 0, then INT3: #GP, #DF, triple fault", .end = End::CRASH,
     .reason = "guest triple fault at rip="},
    {.name = "triple_fault_paged", .attacks = "64-bit RSP in an unmapped page, then INT3: #PF, #DF, triple fault", .end = End::CRASH,
     .reason = "guest triple fault at rip=", .shadow_end = End::CRASH,
     .shadow_reason = "page fault while delivering a double fault (the guest would triple fault)"},
    {.name = "exception_loop", .attacks = "a #GP handler that returns to the faulting WRMSR forever", .end = End::INSN_LIMIT,
     .max_insns = 100'000},

    // ---- Devices, interrupts, IPIs, timers ----
    {.name = "uart_flood", .attacks = "writes the UART's transmit register forever, never waiting for THRE", .end = End::INSN_LIMIT,
     .max_insns = 100'000},
    {.name = "pit_storm", .attacks = "the 8254 at ~597 kHz into the 8259A, IF = 1, forever", .end = End::VTIME_LIMIT,
     .max_insns = 20'000'000, .max_vtime_ms = 1},
    {.name = "lapic_timer_storm", .attacks = "the local APIC timer periodic at count 1: 1000 interrupts take >= 100 ms (the minimum period)",
     .end = End::STATUS},
    {.name = "rtc_storm", .attacks = "the RTC's periodic (8192 Hz), alarm and update interrupts all on; 400 taken, each flagged in C",
     .end = End::STATUS},
    {.name = "self_ipi_storm", .attacks = "5000 self IPIs and 5000 self NMIs (counted exactly), illegal vector, reserved/SMI/INIT ICR modes",
     .end = End::STATUS},
    {.name = "init_to_bsp", .attacks = "smp=2: the AP sends INIT to the BSP", .end = End::RESET, .reason = "INIT to the BSP (a reset)",
     .smp = 2},
    {.name = "ipi_storm_smp", .attacks = "smp=2: the AP floods the BSP with fixed IPIs and NMIs; the BSP takes 200 and exits", .end = End::STATUS,
     .max_insns = 20'000'000, .smp = 2, .extra = "quantum_us=50"},
    {.name = "sipi_storm", .attacks = "smp=2: 300 INIT-SIPI pairs at the AP, running, halted or waiting", .end = End::STATUS,
     .max_insns = 20'000'000, .smp = 2},

    // ---- The Xen interface ----
    {.name = "hypercall_storm", .attacks = "30 000 hypercalls with random sub-operations and pointers, hypercall-page MSR at random pages",
     .end = End::STATUS, .max_insns = 200'000'000, .guests_dir = XENO_BINARY_DIR "/tests/core/guests"},
    {.name = "hypercall_misuse", .attacks = "every hypercall number with a bad sub-operation, console_io bounds, the hypercall-page MSR",
     .end = End::STATUS},
    {.name = "evtchn_abuse", .attacks = "bad ports, vcpus, domains, VIRQs and argument pointers; 20 000 sends; every port allocated",
     .end = End::STATUS},
    {.name = "grant_abuse", .attacks = "grant_table_op and memory_op with bad counts, domains, frame lists, versions, physmap targets",
     .end = End::STATUS},
    {.name = "vcpu_op_abuse", .attacks = "vcpu_op on missing vcpus; vcpu_info, timers and time areas placed or timed badly", .end = End::STATUS},
    {.name = "vcpu_down_self", .attacks = "the only vcpu takes itself down (VCPUOP_down)", .end = End::HALTED,
     .reason = "halted with interrupts disabled"},
    {.name = "sched_block_forever", .attacks = "SCHEDOP_block with nothing that could ever wake the vcpu", .end = End::HALTED,
     .reason = "every vcpu is halted and no timer or device can wake one"},
    {.name = "sched_watchdog", .attacks = "SCHEDOP_watchdog misuse, then a watchdog left to expire", .end = End::CRASH,
     .reason = "xen watchdog expired (SCHEDOP_watchdog)"},

    // ---- Domain builder: hostile kernels ----
    {.name = "elf_truncated", .attacks = "an ELF kernel cut off inside its program headers", .end = End::REFUSED,
     .reason = "not a bzImage, a multiboot kernel or an ELF kernel: ELF program headers extend past the end of the file",
     .kernel = k::elf_truncated},
    {.name = "elf_overlapping_segments", .attacks = "two PT_LOAD segments overlapping in physical memory", .end = End::REFUSED,
     .reason = "not a bzImage, a multiboot kernel or an ELF kernel: two PT_LOAD segments overlap in physical memory",
     .kernel = k::elf_overlapping_segments},
    {.name = "elf_huge_segment", .attacks = "a PT_LOAD of 4064 MiB (inside 4 GiB, far past the guest's RAM)", .end = End::REFUSED,
     .reason = "a kernel segment lies outside guest RAM", .kernel = k::elf_huge_segment},
    {.name = "elf_segment_above_4g", .attacks = "an ELF32 PT_LOAD of 4 GiB - 1 bytes (ends above 4 GiB)", .end = End::REFUSED,
     .reason = "not a bzImage, a multiboot kernel or an ELF kernel: ELF32 PT_LOAD segment ends above 4 GiB",
     .kernel = k::elf_segment_above_4g},
    {.name = "elf_segment_past_file", .attacks = "a PT_LOAD whose file bytes lie past the end of the file", .end = End::REFUSED,
     .reason = "not a bzImage, a multiboot kernel or an ELF kernel: PT_LOAD segment extends past the end of the file",
     .kernel = k::elf_segment_past_file},
    {.name = "elf_low_megabyte", .attacks = "a PT_LOAD over the boot information in the low megabyte", .end = End::REFUSED,
     .reason = "a kernel segment lies in the low megabyte", .kernel = k::elf_low_megabyte},
    {.name = "elf_bad_pvh_note", .attacks = "a PVH note whose descriptor runs past its PT_NOTE segment", .end = End::REFUSED,
     .reason = "not a bzImage, a multiboot kernel or an ELF kernel: ELF note runs past its PT_NOTE segment",
     .kernel = k::elf_bad_pvh_note},
    {.name = "elf_phnum_huge", .attacks = "e_phnum 0xffff: program headers far past the file", .end = End::REFUSED,
     .reason = "not a bzImage, a multiboot kernel or an ELF kernel: ELF image has 65535 or more program headers",
     .kernel = k::elf_phnum_huge},
    {.name = "bzimage_bad_setup", .attacks = "a bzImage whose setup_sects puts its code past the end of the file", .end = End::REFUSED,
     .reason = "bzImage: Linux image ends before its protected-mode code", .kernel = k::bzimage_bad_setup},
    {.name = "bzimage_old_protocol", .attacks = "a bzImage of boot protocol 2.00", .end = End::REFUSED,
     .reason = "bzImage: Linux boot protocol is older than 2.06", .kernel = k::bzimage_old_protocol},
    {.name = "multiboot2_wrong_arch", .attacks = "a multiboot 2 header for another architecture", .end = End::REFUSED,
     .reason = "multiboot 2 header: multiboot2 header is not for i386 (architecture is not 0)", .kernel = k::multiboot2_wrong_arch},
    {.name = "multiboot_bad_checksum", .attacks = "a multiboot header whose checksum does not add up", .end = End::REFUSED,
     .reason = "multiboot header: multiboot header has a bad checksum", .kernel = k::multiboot_bad_checksum},
    {.name = "multiboot_entry_outside", .attacks = "a multiboot entry address outside the image it loads", .end = End::REFUSED,
     .reason = "multiboot header: multiboot entry address is outside the loaded image", .kernel = k::multiboot_entry_outside},
};
// clang-format on

struct Mode {
    const char* profile;
    const char* paging;
};
constexpr Mode kModes[] = {{"penryn", "shadow"}, {"skylake", "ept"}, {"skylake", "shadow"}};

Bytes guest_image(const std::string& dir, const std::string& name)
{
    const std::string path = dir + "/" + name + ".bin";
    std::ifstream in(path, std::ios::binary);
    INFO("guest image " << path);
    REQUIRE(in.good());
    return Bytes(std::istreambuf_iterator<char>(in), {});
}

// Log lines that only a fault of the hypervisor writes: none is ever a pass.
constexpr const char* kHypervisorErrors[] = {
    "unexpected VM exit", "VM entry failed", "VM-entry failure", "a VM entry failed", "failed", "panic",
    "assert", "no memory", "no hypervisor memory", "could not be set up"};

const char* end_name(End e)
{
    switch (e) {
    case End::STATUS: return "exit";
    case End::CRASH: return "crash";
    case End::HALTED: return "halted";
    case End::RESET: return "reset";
    case End::POWEROFF: return "poweroff";
    default: return "";
    }
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

constexpr std::size_t kRowCount = sizeof kRows / sizeof kRows[0];
const std::array<std::string, kRowCount> kRowNames = register_rows(std::make_index_sequence<kRowCount>{});

}  // namespace

TEST_CASE("the adversarial table has at least 50 rows, each named once", "[adversarial]")
{
    CHECK(kRowCount >= 50);
    for (std::size_t i = 0; i < kRowCount; ++i)
        for (std::size_t j = i + 1; j < kRowCount; ++j) CHECK(std::string(kRows[i].name) != kRows[j].name);
}
