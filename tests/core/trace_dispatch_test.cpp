#include <catch2/catch.hpp>
#include <string>

#include "arch/x86/vmx/exit_dispatch.hpp"
#include "arch/x86/vmx/exit_handlers.hpp"
#include "arch/x86/vmx/xcr0.hpp"
#include "core/trace.hpp"

using namespace xeno;
using namespace xeno::vmx;

namespace {

std::string line(u64 seq, const ExitInfo& e)
{
    FixedWriter<256> w;
    format_trace_line(w, seq, e);
    return w.c_str();
}

ExitInfo exit_of(ExitReason r, u64 qual, u64 rip, u32 len)
{
    ExitInfo e;
    e.reason = static_cast<u16>(r);
    e.reason_field = e.reason;
    e.qualification = qual;
    e.rip = rip;
    e.instruction_length = len;
    return e;
}

}  // namespace

TEST_CASE("trace line: plain, info, gpa, gla, async, entry failure", "[trace]")
{
    CHECK(line(17, exit_of(ExitReason::IO_INSTRUCTION, 0x3f80008, 0x7c12, 1)) ==
          "exit 17 IO_INSTRUCTION qual=0x3f80008 rip=0x7c12 len=1");
    CHECK(line(0, exit_of(ExitReason::CPUID, 0, 0x7c00, 2)) == "exit 0 CPUID qual=0x0 rip=0x7c00 len=2");

    ExitInfo e = exit_of(ExitReason::EXCEPTION_NMI, 0, 0x1234, 0);
    e.intr_info = 0x80000b0d;  // #GP, hardware exception, error code valid
    CHECK(line(3, e) == "exit 3 EXCEPTION_NMI qual=0x0 rip=0x1234 len=0 info=0x80000b0d");

    // #GP (hardware exception): the length is undefined (SDM 28.2.5) and printed as 0.
    e = exit_of(ExitReason::EXCEPTION_NMI, 0, 0x8005, 5);
    e.intr_info = 0x80000b0d;
    CHECK(line(1, e) == "exit 1 EXCEPTION_NMI qual=0x0 rip=0x8005 len=0 info=0x80000b0d");
    // INT3 (software exception, type 6): defined.
    e.intr_info = 0x80000603;
    e.instruction_length = 1;
    CHECK(line(2, e) == "exit 2 EXCEPTION_NMI qual=0x0 rip=0x8005 len=1 info=0x80000603");
    CHECK(line(3, exit_of(ExitReason::TRIPLE_FAULT, 0, 0x8006, 7)) == "exit 3 TRIPLE_FAULT qual=0x0 rip=0x8006 len=0");

    e = exit_of(ExitReason::EPT_VIOLATION, 0x182, 0x100000, 0);
    e.guest_physical = 0xfee00030;
    e.guest_physical_valid = true;
    e.guest_linear = 0xfee00030;
    e.guest_linear_valid = true;
    CHECK(line(9, e) == "exit 9 EPT_VIOLATION qual=0x182 rip=0x100000 len=0 gpa=0xfee00030 gla=0xfee00030");

    e = exit_of(ExitReason::EXTERNAL_INTERRUPT, 0, 0x7c05, 0);
    e.intr_info = 0x80000020;
    CHECK(line(4, e) == "exit 4 EXTERNAL_INTERRUPT async qual=0x0 rip=0x7c05 len=0 info=0x80000020");
    CHECK(line(5, exit_of(ExitReason::PREEMPTION_TIMER, 0, 0x10, 0)) == "exit 5 PREEMPTION_TIMER async qual=0x0 rip=0x10 len=0");

    e = exit_of(ExitReason::INVALID_GUEST_STATE, 0, 0x7c00, 0);
    e.reason_field = kExitReasonEntryFailure | 33;
    e.entry_failure = true;
    CHECK(line(0, e) == "exit 0 ENTRY_FAIL_INVALID_GUEST_STATE qual=0x0 rip=0x7c00 len=0");
}

TEST_CASE("exit dispatch table: reason to handler", "[dispatch]")
{
    CHECK(exit_handler_for(10) == &handle_cpuid);
    CHECK(exit_handler_for(12) == &handle_hlt);
    CHECK(exit_handler_for(30) == &handle_io);
    CHECK(exit_handler_for(31) == &handle_msr_read);
    CHECK(exit_handler_for(32) == &handle_msr_write);
    CHECK(exit_handler_for(28) == &handle_cr_access);
    CHECK(exit_handler_for(2) == &handle_triple_fault);
    CHECK(exit_handler_for(0) == &handle_exception_nmi);
    CHECK(exit_handler_for(18) == &handle_vmcall);
    CHECK(exit_handler_for(27) == &handle_vmx_instruction);
    CHECK(exit_handler_for(48) == &handle_ept_violation);
    CHECK(exit_handler_for(kExitReasonEntryFailure | 33) == &handle_entry_failure);
    CHECK(exit_handler_for(kExitReasonEntryFailure | 34) == &handle_entry_failure);
    CHECK(exit_handler_for(55) == &handle_xsetbv);
    CHECK(exit_handler_for(54) == &handle_wbinvd);
    CHECK(exit_handler_for(29) == &handle_dr_access);
    CHECK(exit_handler_for(36) == &handle_monitor_mwait);
    CHECK(exit_handler_for(39) == &handle_monitor_mwait);
    CHECK(exit_handler_for(15) == &handle_rdpmc);
    CHECK(exit_handler_for(9) == &handle_task_switch);
    CHECK(exit_handler_for(0xffff) == &handle_unexpected);
}

TEST_CASE("guest CPUID view", "[dispatch][cpuid]")
{
    const CpuidRegs host{0x000906ea, 0x00100800, 0x7ffafbff | (1u << 5), 0xbfebfbff};
    CpuidRegs r = guest_cpuid(1, 0, host);
    CHECK((r.ecx & (1u << 5)) == 0);   // VMX hidden
    CHECK((r.ecx & (1u << 31)) != 0);  // hypervisor present
    CHECK(r.eax == host.eax);
    // Thermal, power and debug-store features hidden (their MSRs are not
    // virtualized): DS, ACPI, TM, PBE in EDX; DTES64, DS-CPL, EST, TM2,
    // xTPR, PDCM in ECX. The rest of EDX is the host's.
    constexpr u32 kThermalEdx = (1u << 21) | (1u << 22) | (1u << 29) | (1u << 31);
    constexpr u32 kThermalEcx = (1u << 2) | (1u << 4) | (1u << 7) | (1u << 8) | (1u << 14) | (1u << 15);
    CHECK(r.edx == (host.edx & ~kThermalEdx));
    CHECK((r.ecx & kThermalEcx) == 0);
    CHECK((guest_cpuid(1, 0, CpuidRegs{0, 0, kThermalEcx, ~0u}).edx & kThermalEdx) == 0);
    // Leaf 7 features whose MSRs are not virtualized: Intel PT; WAITPKG,
    // CET, TME; IBRS/IBPB, STIBP, L1D_FLUSH, ARCH_CAPABILITIES,
    // CORE_CAPABILITIES, SSBD. DCA in leaf 1.
    r = guest_cpuid(7, 0, CpuidRegs{0, 1u << 25, (1u << 5) | (1u << 7) | (1u << 13), (1u << 20) | (0x3fu << 26)});
    CHECK((r.ebx | r.ecx | r.edx) == 0);
    CHECK((guest_cpuid(1, 0, CpuidRegs{0, 0, 1u << 18, 0}).ecx & (1u << 18)) == 0);
    // Subleaf 1: the vector extensions go, the rest stays.
    r = guest_cpuid(7, 1, CpuidRegs{~0u, 0, 0, ~0u});
    CHECK(r.eax == ~((1u << 4) | (1u << 5) | (1u << 23)));
    CHECK(r.edx == ~((1u << 4) | (1u << 5) | (1u << 10) | (1u << 19)));
    // IA32_TSC_ADJUST not offered; leaf 6 keeps only ARAT.
    CHECK((guest_cpuid(7, 0, CpuidRegs{0, ~0u, 0, 0}).ebx & (1u << 1)) == 0);
    r = guest_cpuid(6, 0, CpuidRegs{0x77, 0x2, 0x9, 0});
    CHECK(r.eax == (1u << 2));
    CHECK((r.ebx | r.ecx | r.edx) == 0);
    CHECK(guest_cpuid(6, 0, CpuidRegs{0x73, 0, 0, 0}).eax == 0);
    r = guest_cpuid(0x40000000, 0, host);
    CHECK(r.eax == 0x40000005);
    char sig[13] = {};
    for (int i = 0; i < 4; ++i) {
        sig[i] = static_cast<char>(r.ebx >> (8 * i));
        sig[4 + i] = static_cast<char>(r.ecx >> (8 * i));
        sig[8 + i] = static_cast<char>(r.edx >> (8 * i));
    }
    CHECK(std::string(sig) == "XenVMMXenVMM");
    r = guest_cpuid(0x40000001, 0, host);
    CHECK(r.eax == ((4u << 16) | 19u));
    r = guest_cpuid(0x40000002, 0, host);
    CHECK(r.eax == 1);            // one hypercall page
    CHECK(r.ebx == 0x40000000);   // written through this MSR
    r = guest_cpuid(0x40000005, 0, host);
    CHECK((r.eax | r.ebx | r.ecx | r.edx) == 0);
    r = guest_cpuid(0, 0, host);
    CHECK(r.eax == host.eax);
    // MONITOR/MWAIT hidden (they raise #UD), no performance counters (RDPMC #GP).
    CHECK((guest_cpuid(1, 0, CpuidRegs{0, 0, 1u << 3, 0}).ecx & (1u << 3)) == 0);
    r = guest_cpuid(5, 0, CpuidRegs{0x40, 0x40, 3, 0x2020});
    CHECK((r.eax | r.ebx | r.ecx | r.edx) == 0);
    r = guest_cpuid(0xa, 0, CpuidRegs{0x07300404, 0, 0, 0x603});
    CHECK((r.eax | r.ebx | r.ecx | r.edx) == 0);
}

TEST_CASE("guests are offered no vector extensions beyond SSE4.2, and XSAVE of x87 and SSE state only",
          "[dispatch][cpuid]")
{
    // Bochs's Skylake-X (the skylake profile): FMA, AVX, F16C in leaf 1.
    CpuidRegs r = guest_cpuid(1, 0, CpuidRegs{0x50654, 0x10800, 0x77faf3bf, 0xbfebf9ff});
    CHECK((r.ecx & ((1u << 12) | (1u << 28) | (1u << 29))) == 0);
    CHECK((r.ecx & (1u << 26)) != 0);  // XSAVE stays
    CHECK((r.ecx & (1u << 20)) != 0);  // SSE4.2 stays
    CHECK((r.ecx & (1u << 25)) != 0);  // AES stays
    r = guest_cpuid(7, 0, CpuidRegs{0, 0xd19f27eb, 0xffffffff, 0xffffffff});
    CHECK(r.ebx == 0x019c27c9u);  // FSGSBASE .. CLWB without TSC_ADJUST, AVX2 and AVX-512
    CHECK((r.ecx & (1u << 11)) == 0);  // AVX512_VNNI
    CHECK((r.ecx & (1u << 0)) != 0);   // PREFETCHWT1: not a vector extension
    CHECK((r.edx & (1u << 23)) == 0);  // AVX512_FP16
    // Subleaf 1 of leaf 7 is not leaf 7's feature word.
    CHECK(guest_cpuid(7, 1, CpuidRegs{0, 0xffffffff, 0, 0}).ebx == 0xffffffff);
    r = guest_cpuid(0xd, 0, CpuidRegs{0xe7, 0x240, 0xa80, 0});
    CHECK(r.eax == 0x3);
    CHECK(r.ecx == 0x240);
    CHECK(r.edx == 0);
    CHECK(guest_cpuid(0xd, 1, CpuidRegs{0xf, 0, 0, 0}).eax == 0x5);  // XSAVEOPT, XGETBV1
    r = guest_cpuid(0xd, 2, CpuidRegs{0x100, 0x240, 0, 0});
    CHECK((r.eax | r.ebx | r.ecx | r.edx) == 0);
    // XSETBV follows the same view: AVX state is refused.
    CHECK(xcr0_valid(0x3, guest_cpuid(0xd, 0, CpuidRegs{0xe7, 0x240, 0xa80, 0}).eax));
    CHECK_FALSE(xcr0_valid(0x7, guest_cpuid(0xd, 0, CpuidRegs{0xe7, 0x240, 0xa80, 0}).eax));
}

TEST_CASE("trace lines of a domain with several vcpus name the vcpu", "[trace]")
{
    xeno::vmx::ExitInfo e;
    e.reason = static_cast<xeno::u16>(xeno::vmx::ExitReason::HLT);
    e.reason_field = e.reason;
    e.rip = 0x8001;
    e.instruction_length = 1;
    xeno::FixedWriter<192> one, many;
    xeno::format_trace_line(one, 7, e);
    xeno::format_trace_line(many, 7, e, 3);
    CHECK(std::string(one.c_str()) == "exit 7 HLT qual=0x0 rip=0x8001 len=1");
    CHECK(std::string(many.c_str()) == "exit 7 v3 HLT qual=0x0 rip=0x8001 len=1");
}
