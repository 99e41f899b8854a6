// The adversarial table (README.md "Adversarial guests"): one row per
// attack, how its run must end on each paging mode, the limits and options
// it runs with. adversarial_test.cpp runs every row in the sim build;
// bochs_test.cpp runs the rows whose ending a real machine can show (not an
// instruction or virtual-time limit: Bochs has none) in the hw build in Bochs.
#pragma once

#include <cstdint>

#include "hostile_kernels.hpp"

namespace xeno::adversarial {

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

// The summary's end= word for an ending ("" for the ones that are not a domain end).
inline const char* end_name(End e)
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
    // Why the row does not run in Bochs (bochs_test.cpp), or null: it does.
    const char* no_bochs = nullptr;
};

// clang-format off
inline const Row kRows[] = {
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
    {.name = "pae_pdpt_past_ram", .attacks = "PAE PDPT past RAM and in unclaimed space at MOV CR3 / CR0.PG (reads all ones: #GP)",
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
     .max_insns = 100'000, .no_bochs = "it ends only at the sim's instruction limit"},

    // ---- Devices, interrupts, IPIs, timers ----
    {.name = "uart_flood", .attacks = "writes the UART's transmit register forever, never waiting for THRE", .end = End::INSN_LIMIT,
     .max_insns = 100'000, .no_bochs = "it ends only at the sim's instruction limit"},
    {.name = "pit_storm", .attacks = "the 8254 at ~597 kHz into the 8259A, IF = 1, forever", .end = End::VTIME_LIMIT,
     .max_insns = 20'000'000, .max_vtime_ms = 1, .no_bochs = "it ends only at the sim's virtual-time limit"},
    {.name = "lapic_timer_storm", .attacks = "the local APIC timer periodic at count 1: 1000 interrupts take >= 200 ms (the minimum period)",
     .end = End::STATUS},
    {.name = "rtc_storm", .attacks = "the RTC's periodic (8192 Hz), alarm and update interrupts all on; 400 taken, each flagged in C",
     .end = End::STATUS},
    {.name = "self_ipi_storm", .attacks = "5000 self IPIs and 5000 self NMIs (counted exactly), illegal vector, reserved/SMI/INIT ICR modes",
     .end = End::STATUS},
    {.name = "init_to_bsp", .attacks = "smp=2: the AP sends INIT to the BSP", .end = End::RESET, .reason = "INIT to the BSP (a reset)",
     .smp = 2, .no_bochs = "Bochs 2.7 takes no external-interrupt exit while the guest spins with IF=0, so the AP is "
                           "never preempted for the BSP to see the INIT"},
    {.name = "ipi_storm_smp", .attacks = "smp=2: the AP floods the BSP with fixed IPIs and NMIs; the BSP takes 200 and exits", .end = End::STATUS,
     .max_insns = 20'000'000, .smp = 2, .extra = "quantum_us=50"},
    {.name = "sipi_storm", .attacks = "smp=2: 300 INIT-SIPI pairs at the AP, running, halted or waiting", .end = End::STATUS,
     .max_insns = 20'000'000, .smp = 2},

    // ---- The Xen interface ----
    {.name = "hypercall_storm", .attacks = "30 000 hypercalls with random sub-operations and pointers, hypercall-page MSR at random pages",
     .end = End::STATUS, .max_insns = 200'000'000, .guests_dir = XENO_BINARY_DIR "/tests/core/guests",
     .no_bochs = "its console_io calls write about 130 MB of random bytes: hours of machine time through the hw "
                 "build's 115200-baud serial console"},
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
     .kernel = elf_truncated},
    {.name = "elf_overlapping_segments", .attacks = "two PT_LOAD segments overlapping in physical memory", .end = End::REFUSED,
     .reason = "not a bzImage, a multiboot kernel or an ELF kernel: two PT_LOAD segments overlap in physical memory",
     .kernel = elf_overlapping_segments},
    {.name = "elf_huge_segment", .attacks = "a PT_LOAD of 4064 MiB (inside 4 GiB, far past the guest's RAM)", .end = End::REFUSED,
     .reason = "a kernel segment lies outside guest RAM", .kernel = elf_huge_segment},
    {.name = "elf_segment_above_4g", .attacks = "an ELF32 PT_LOAD of 4 GiB - 1 bytes (ends above 4 GiB)", .end = End::REFUSED,
     .reason = "not a bzImage, a multiboot kernel or an ELF kernel: ELF32 PT_LOAD segment ends above 4 GiB",
     .kernel = elf_segment_above_4g},
    {.name = "elf_segment_past_file", .attacks = "a PT_LOAD whose file bytes lie past the end of the file", .end = End::REFUSED,
     .reason = "not a bzImage, a multiboot kernel or an ELF kernel: PT_LOAD segment extends past the end of the file",
     .kernel = elf_segment_past_file},
    {.name = "elf_low_megabyte", .attacks = "a PT_LOAD over the boot information in the low megabyte", .end = End::REFUSED,
     .reason = "a kernel segment lies in the low megabyte", .kernel = elf_low_megabyte},
    {.name = "elf_bad_pvh_note", .attacks = "a PVH note whose descriptor runs past its PT_NOTE segment", .end = End::REFUSED,
     .reason = "not a bzImage, a multiboot kernel or an ELF kernel: ELF note runs past its PT_NOTE segment",
     .kernel = elf_bad_pvh_note},
    {.name = "elf_phnum_huge", .attacks = "e_phnum 0xffff: program headers far past the file", .end = End::REFUSED,
     .reason = "not a bzImage, a multiboot kernel or an ELF kernel: ELF image has 65535 or more program headers",
     .kernel = elf_phnum_huge},
    {.name = "bzimage_bad_setup", .attacks = "a bzImage whose setup_sects puts its code past the end of the file", .end = End::REFUSED,
     .reason = "bzImage: Linux image ends before its protected-mode code", .kernel = bzimage_bad_setup},
    {.name = "bzimage_old_protocol", .attacks = "a bzImage of boot protocol 2.00", .end = End::REFUSED,
     .reason = "bzImage: Linux boot protocol is older than 2.06", .kernel = bzimage_old_protocol},
    {.name = "multiboot2_wrong_arch", .attacks = "a multiboot 2 header for another architecture", .end = End::REFUSED,
     .reason = "multiboot 2 header: multiboot2 header is not for i386 (architecture is not 0)", .kernel = multiboot2_wrong_arch},
    {.name = "multiboot_bad_checksum", .attacks = "a multiboot header whose checksum does not add up", .end = End::REFUSED,
     .reason = "multiboot header: multiboot header has a bad checksum", .kernel = multiboot_bad_checksum},
    {.name = "multiboot_entry_outside", .attacks = "a multiboot entry address outside the image it loads", .end = End::REFUSED,
     .reason = "multiboot header: multiboot entry address is outside the loaded image", .kernel = multiboot_entry_outside},
};
// clang-format on

struct Mode {
    const char* profile;
    const char* paging;
};
inline constexpr Mode kModes[] = {{"penryn", "shadow"}, {"skylake", "ept"}, {"skylake", "shadow"}};

// Log lines that only a fault of the hypervisor writes: none is ever a pass.
inline constexpr const char* kHypervisorErrors[] = {
    "unexpected VM exit", "VM entry failed", "VM-entry failure", "a VM entry failed", "failed", "panic",
    "assert", "no memory", "no hypervisor memory", "could not be set up"};

inline constexpr std::size_t kRowCount = sizeof kRows / sizeof kRows[0];

}  // namespace xeno::adversarial
