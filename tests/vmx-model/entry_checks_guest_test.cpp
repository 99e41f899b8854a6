// VM-entry checks on the guest state (SDM Vol. 3C, 27.3) and MSR loading
// (27.4): exit reason 33/34 with the qualification of 27.8.
#include "sim/vmx-model/entry_checks.hpp"

#include <catch2/catch.hpp>

#include "entry_check_cases.hpp"

using namespace xeno;
using namespace xeno::sim;
using namespace xeno::sim::test;
using namespace xeno::vmx;

TEST_CASE("Entry checks: guest control registers, MSRs, RIP, RFLAGS (27.3.1.1, 27.3.1.4) exit 33", "[entry-checks]")
{
    const std::vector<Case> cases = {
        guest("CR0.PE clear without unrestricted guest", clr(field::GUEST_CR0, 1)),
        guest("CR0.NE clear", clr(field::GUEST_CR0, 0x20)),
        guest("CR0 bits 63:32", orv(field::GUEST_CR0, u64{1} << 32)),
        guest("CR4.VMXE clear", clr(field::GUEST_CR4, 0x2000)),
        guest("CR4 unsupported bit", orv(field::GUEST_CR4, u64{1} << 24)),
        guest("CR4.PCIDE outside IA-32e mode", orv(field::GUEST_CR4, u64{1} << 17)),
        guest("CR3 beyond width", put(field::GUEST_CR3, u64{1} << 40)),
        guest("IA-32e mode guest without CR4.PAE", orv(field::VM_ENTRY_CONTROLS, entry_ctl::IA32E_MODE_GUEST)),
        ok("DR7 bits 63:32 ignored without load debug controls", both(clr(field::VM_ENTRY_CONTROLS, entry_ctl::LOAD_DEBUG_CONTROLS), put(field::GUEST_DR7, u64{1} << 32))),
        guest("DR7 bits 63:32", put(field::GUEST_DR7, u64{1} << 32)),
        guest("DEBUGCTL reserved bit 2", put(field::GUEST_IA32_DEBUGCTL, 0x4)),
        ok("DEBUGCTL BTF", put(field::GUEST_IA32_DEBUGCTL, 0x2)),
        guest("SYSENTER_ESP not canonical", put(field::GUEST_SYSENTER_ESP, 0x0000800000000000)),
        guest("RIP bits 63:32 outside 64-bit mode", put(field::GUEST_RIP, 0x100000000)),
        guest("RFLAGS bit 1 clear", put(field::GUEST_RFLAGS, 0)),
        guest("RFLAGS reserved bit 3", put(field::GUEST_RFLAGS, 0xa)),
        guest("RFLAGS reserved bit 22", put(field::GUEST_RFLAGS, 0x400002)),
        guest("external interrupt injection with IF = 0", put(field::VM_ENTRY_INTR_INFO_FIELD, make_intr_info(0x20, InterruptionType::EXTERNAL_INTERRUPT, false))),
        ok("external interrupt injection with IF = 1", both(put(field::GUEST_RFLAGS, 0x202),
                                                            put(field::VM_ENTRY_INTR_INFO_FIELD, make_intr_info(0x20, InterruptionType::EXTERNAL_INTERRUPT, false)))),
        guest("GDTR limit bits 31:16", put(field::GUEST_GDTR_LIMIT, 0x10000)),
        guest("IDTR base not canonical", put(field::GUEST_IDTR_BASE, 0x0000800000000000)),
    };
    run_cases("penryn", Guest::PROTECTED32, cases);
    run_cases("skylake", Guest::PROTECTED32, cases);
    run_cases("skylake", Guest::PROTECTED32, {
        ok("load guest EFER consistent", both(orv(field::VM_ENTRY_CONTROLS, entry_ctl::LOAD_EFER), put(field::GUEST_IA32_EFER, 0x800))),
        guest("load guest EFER.LMA without IA-32e mode", both(orv(field::VM_ENTRY_CONTROLS, entry_ctl::LOAD_EFER), put(field::GUEST_IA32_EFER, 0x400))),
        guest("load guest EFER.LME with paging, no IA-32e mode", both(orv(field::VM_ENTRY_CONTROLS, entry_ctl::LOAD_EFER), put(field::GUEST_IA32_EFER, 0x100))),
        guest("load guest PAT type 3", both(orv(field::VM_ENTRY_CONTROLS, entry_ctl::LOAD_PAT), put(field::GUEST_IA32_PAT, 0x3))),
    });
}

TEST_CASE("Entry checks: guest segments in protected mode (27.3.1.2)", "[entry-checks]")
{
    run_cases("penryn", Guest::PROTECTED32, {
        guest("SS.RPL != CS.RPL", put(field::GUEST_SS_SELECTOR, 0x13)),
        guest("TR TI flag", put(field::GUEST_TR_SELECTOR, 0x1c)),
        guest("CS type data", put(field::GUEST_CS_AR_BYTES, 0xc093)),
        guest("CS not accessed", put(field::GUEST_CS_AR_BYTES, 0xc09a)),
        ok("CS conforming, DPL 0 <= SS.DPL", put(field::GUEST_CS_AR_BYTES, 0xc09f)),
        guest("CS non-conforming DPL != SS.DPL", put(field::GUEST_CS_AR_BYTES, 0xc0bb)),
        guest("CS not present", put(field::GUEST_CS_AR_BYTES, 0xc01b)),
        guest("CS S = 0", put(field::GUEST_CS_AR_BYTES, 0xc08b)),
        guest("CS reserved bit 8", put(field::GUEST_CS_AR_BYTES, 0xc19b)),
        guest("CS G = 0 with limit above 1 MiB", put(field::GUEST_CS_AR_BYTES, 0x409b)),
        guest("CS G = 1 with limit low bits clear", put(field::GUEST_CS_LIMIT, 0xfffff000)),
        ok("CS G = 0 with limit 0xfffff", both(put(field::GUEST_CS_AR_BYTES, 0x409b), put(field::GUEST_CS_LIMIT, 0xfffff))),
        guest("CS base bits 63:32", put(field::GUEST_CS_BASE, u64{1} << 32)),
        guest("SS type code", put(field::GUEST_SS_AR_BYTES, 0xc09b)),
        guest("SS.DPL != SS.RPL", both(put(field::GUEST_CS_AR_BYTES, 0xc09f), put(field::GUEST_SS_AR_BYTES, 0xc0f3))),
        ok("SS unusable", put(field::GUEST_SS_AR_BYTES, ar::UNUSABLE)),
        guest("DS not accessed", put(field::GUEST_DS_AR_BYTES, 0xc092)),
        guest("DS execute-only code", put(field::GUEST_DS_AR_BYTES, 0xc099)),
        ok("DS readable code", put(field::GUEST_DS_AR_BYTES, 0xc09b)),
        guest("DS DPL < RPL", put(field::GUEST_DS_SELECTOR, 0x13)),
        guest("DS not present", put(field::GUEST_DS_AR_BYTES, 0xc013)),
        ok("DS unusable with garbage", put(field::GUEST_DS_AR_BYTES, ar::UNUSABLE | 0x0f00)),
        guest("ES reserved bits 31:17", put(field::GUEST_ES_AR_BYTES, 0xc093 | (1u << 20))),
        guest("FS base not canonical", put(field::GUEST_FS_BASE, 0x0000800000000000)),
        guest("GS limit vs G", put(field::GUEST_GS_AR_BYTES, 0x4093)),
        guest("TR type available TSS", put(field::GUEST_TR_AR_BYTES, 0x89)),
        ok("TR 16-bit busy TSS outside IA-32e mode", put(field::GUEST_TR_AR_BYTES, 0x83)),
        guest("TR unusable", put(field::GUEST_TR_AR_BYTES, 0x8b | ar::UNUSABLE)),
        guest("TR S = 1", put(field::GUEST_TR_AR_BYTES, 0x9b)),
        guest("TR not present", put(field::GUEST_TR_AR_BYTES, 0x0b)),
        ok("LDTR usable", both(put(field::GUEST_LDTR_SELECTOR, 0x20), put(field::GUEST_LDTR_AR_BYTES, 0x82))),
        guest("LDTR type", both(put(field::GUEST_LDTR_SELECTOR, 0x20), put(field::GUEST_LDTR_AR_BYTES, 0x83))),
        guest("LDTR TI flag", both(put(field::GUEST_LDTR_SELECTOR, 0x24), put(field::GUEST_LDTR_AR_BYTES, 0x82))),
    });
}

TEST_CASE("Entry checks: virtual-8086 guest segments", "[entry-checks]")
{
    auto v86 = [](VmcsStore& v) {
        v.set(field::GUEST_RFLAGS, u64{0x20002});
        for (unsigned i : {0u, 1u, 2u, 3u, 4u, 5u}) set_segment(v, i, 0x1000, 0x10000, 0xffff, 0xf3);
    };
    run_cases("penryn", Guest::PROTECTED32, {
        ok("virtual-8086 segments", v86),
        guest("virtual-8086 base != selector << 4", both(v86, put(field::GUEST_DS_BASE, 0x10010))),
        guest("virtual-8086 limit", both(v86, put(field::GUEST_SS_LIMIT, 0xfffff))),
        guest("virtual-8086 AR", both(v86, put(field::GUEST_CS_AR_BYTES, 0x9b))),
    });
}

TEST_CASE("Entry checks: real-mode unrestricted guest", "[entry-checks]")
{
    run_cases("skylake", Guest::REAL_UNRESTRICTED, {
        ok("PE clear, PG clear allowed", [](VmcsStore&) {}),
        guest("PG without PE", orv(field::GUEST_CR0, 0x80000000)),
        ok("CS data type 3 with DPL 0", put(field::GUEST_CS_AR_BYTES, 0x93)),
        guest("SS.DPL 3 in real mode", both(put(field::GUEST_CS_AR_BYTES, 0x9f), put(field::GUEST_SS_AR_BYTES, 0xf3))),
        ok("SS.RPL != CS.RPL relaxed", put(field::GUEST_SS_SELECTOR, 0x3)),
        guest("RFLAGS.VM with PE clear", [](VmcsStore& v) {
            v.set(field::GUEST_RFLAGS, u64{0x20002});
            for (unsigned i : {0u, 1u, 2u, 3u, 4u, 5u}) set_segment(v, i, 0, 0, 0xffff, 0xf3);
        }),
        guest("CS base bits 63:32", put(field::GUEST_CS_BASE, u64{1} << 32)),
        ctl("unrestricted guest without EPT", put(field::SECONDARY_VM_EXEC_CONTROL, proc2::UNRESTRICTED_GUEST)),
        ctl("deliver error code in real mode", both(put(field::VM_ENTRY_INTR_INFO_FIELD, make_intr_info(vector::GP, InterruptionType::HARDWARE_EXCEPTION, true)),
                                                    put(field::VM_ENTRY_EXCEPTION_ERROR_CODE, 0))),
        ok("no error code for #GP in real mode", put(field::VM_ENTRY_INTR_INFO_FIELD, make_intr_info(vector::GP, InterruptionType::HARDWARE_EXCEPTION, false))),
    });
}

TEST_CASE("Entry checks: 64-bit guest", "[entry-checks]")
{
    run_cases("skylake", Guest::LONG64, {
        ok("canonical 64-bit RIP", put(field::GUEST_RIP, 0xffff800000000000)),
        guest("non-canonical 64-bit RIP", put(field::GUEST_RIP, 0x0000800000000000)),
        guest("64-bit CS with D/B", put(field::GUEST_CS_AR_BYTES, 0xe09b)),
        guest("16-bit busy TSS in IA-32e mode", put(field::GUEST_TR_AR_BYTES, 0x83)),
        guest("RFLAGS.VM in IA-32e mode", [](VmcsStore& v) {
            v.set(field::GUEST_RFLAGS, u64{0x20002});
            v.set(field::GUEST_RIP, u64{0x1000});
            for (unsigned i : {0u, 1u, 2u, 3u, 4u, 5u}) set_segment(v, i, 0, 0, 0xffff, 0xf3);
        }),
        guest("IA-32e mode with CR0.PG clear", clr(field::GUEST_CR0, 0x80000000)),
    });
}

TEST_CASE("Entry checks: activity, interruptibility, pending debug exceptions (27.3.1.5)", "[entry-checks]")
{
    const auto nmi = make_intr_info(vector::NMI, InterruptionType::NMI, false);
    run_cases("skylake", Guest::PROTECTED32, {
        ok("HLT state", put(field::GUEST_ACTIVITY_STATE, 1)),
        ok("wait-for-SIPI state", put(field::GUEST_ACTIVITY_STATE, 3)),
        guest("activity state 4", put(field::GUEST_ACTIVITY_STATE, 4)),
        guest("HLT with SS.DPL 3", both(put(field::GUEST_ACTIVITY_STATE, 1),
                                        both(put(field::GUEST_SS_AR_BYTES, 0xc0f3), both(put(field::GUEST_SS_SELECTOR, 0x13),
                                             both(put(field::GUEST_CS_SELECTOR, 0x0b), put(field::GUEST_CS_AR_BYTES, 0xc0fb)))))),
        guest("HLT with STI blocking", both(put(field::GUEST_ACTIVITY_STATE, 1),
                                            both(put(field::GUEST_RFLAGS, 0x202), put(field::GUEST_INTERRUPTIBILITY_INFO, 1)))),
        ok("inject NMI into HLT", both(put(field::GUEST_ACTIVITY_STATE, 1), put(field::VM_ENTRY_INTR_INFO_FIELD, nmi))),
        guest("inject #UD into HLT", both(put(field::GUEST_ACTIVITY_STATE, 1),
                                          put(field::VM_ENTRY_INTR_INFO_FIELD, make_intr_info(vector::UD, InterruptionType::HARDWARE_EXCEPTION, false)))),
        guest("inject into wait-for-SIPI", both(put(field::GUEST_ACTIVITY_STATE, 3), put(field::VM_ENTRY_INTR_INFO_FIELD, nmi))),
        guest("interruptibility reserved bit", put(field::GUEST_INTERRUPTIBILITY_INFO, 0x20)),
        guest("STI and MOV SS blocking", both(put(field::GUEST_RFLAGS, 0x202), put(field::GUEST_INTERRUPTIBILITY_INFO, 3))),
        guest("STI blocking with IF = 0", put(field::GUEST_INTERRUPTIBILITY_INFO, 1)),
        ok("STI blocking with IF = 1", both(put(field::GUEST_RFLAGS, 0x202), put(field::GUEST_INTERRUPTIBILITY_INFO, 1))),
        guest("external interrupt injection with MOV SS blocking",
              both(put(field::GUEST_RFLAGS, 0x202), both(put(field::GUEST_INTERRUPTIBILITY_INFO, 2),
                   put(field::VM_ENTRY_INTR_INFO_FIELD, make_intr_info(0x20, InterruptionType::EXTERNAL_INTERRUPT, false))))),
        guest("NMI injection with MOV SS blocking", both(put(field::GUEST_INTERRUPTIBILITY_INFO, 2), put(field::VM_ENTRY_INTR_INFO_FIELD, nmi))),
        guest("NMI injection with STI blocking", both(put(field::GUEST_RFLAGS, 0x202),
                                                      both(put(field::GUEST_INTERRUPTIBILITY_INFO, 1), put(field::VM_ENTRY_INTR_INFO_FIELD, nmi))),
              kEntryFailQualNmiInjection),
        guest("NMI injection with virtual-NMI blocking",
              both(orv(field::PIN_BASED_VM_EXEC_CONTROL, pin::NMI_EXITING | pin::VIRTUAL_NMIS),
                   both(put(field::GUEST_INTERRUPTIBILITY_INFO, 8), put(field::VM_ENTRY_INTR_INFO_FIELD, nmi)))),
        ok("NMI blocking without virtual NMIs", both(put(field::GUEST_INTERRUPTIBILITY_INFO, 8), put(field::VM_ENTRY_INTR_INFO_FIELD, nmi))),
        guest("SMI blocking outside SMM", put(field::GUEST_INTERRUPTIBILITY_INFO, 4)),
        guest("pending debug reserved bit 4", put(field::GUEST_PENDING_DBG_EXCEPTIONS, 0x10)),
        ok("pending debug B0 and enabled breakpoint", put(field::GUEST_PENDING_DBG_EXCEPTIONS, 0x1001)),
        guest("MOV SS blocking, TF = 1, BS clear", both(put(field::GUEST_RFLAGS, 0x102), put(field::GUEST_INTERRUPTIBILITY_INFO, 2))),
        ok("MOV SS blocking, TF = 1, BS set", both(put(field::GUEST_RFLAGS, 0x102),
                                                   both(put(field::GUEST_INTERRUPTIBILITY_INFO, 2), put(field::GUEST_PENDING_DBG_EXCEPTIONS, 0x4000)))),
        guest("MOV SS blocking, TF = 0, BS set", both(put(field::GUEST_INTERRUPTIBILITY_INFO, 2), put(field::GUEST_PENDING_DBG_EXCEPTIONS, 0x4000))),
    });
}

TEST_CASE("Entry checks: VMCS link pointer (qualification 4)", "[entry-checks]")
{
    // kVmcs holds a valid revision in the fixture; kVmcs + 0x800 does not.
    run_cases("penryn", Guest::PROTECTED32, {
        ok("link pointer all ones", put(field::VMCS_LINK_POINTER, ~u64{0})),
        ok("link pointer to a VMCS with the right revision", put(field::VMCS_LINK_POINTER, 0x11000)),
        guest("link pointer unaligned", put(field::VMCS_LINK_POINTER, 0x11010), kEntryFailQualVmcsLink),
        guest("link pointer beyond width", put(field::VMCS_LINK_POINTER, u64{1} << 44), kEntryFailQualVmcsLink),
        guest("link pointer with a wrong revision", put(field::VMCS_LINK_POINTER, 0x20000), kEntryFailQualVmcsLink),
    });
}

TEST_CASE("Entry checks: PAE PDPTEs (qualification 2)", "[entry-checks]")
{
    VmxFixture f("penryn");
    EntryEnvironment env;
    env.memory = &f.memory;
    VmcsStore v(f.memory, f.kVmcs);
    setup_good_vmcs(v, f.profile, Guest::PROTECTED32);
    v.set(field::GUEST_CR4, u64{0x2020});  // PAE
    v.set(field::GUEST_CR3, u64{0x60020});  // PDPT at 0x60020
    f.memory.store<u64>(0x60020, 0x61001);
    f.memory.store<u64>(0x60028, 0x0);
    CHECK(check_vm_entry(v, f.profile, env).ok());
    f.memory.store<u64>(0x60030, 0x62003);  // present with reserved bit 1 (R/W is reserved in PDPTEs)
    const EntryCheckResult r = check_vm_entry(v, f.profile, env);
    CHECK(r.status == S::ENTRY_FAILURE);
    CHECK(r.qualification == kEntryFailQualPdpte);
    f.memory.store<u64>(0x60030, 0x62002);  // not present: ignored
    CHECK(check_vm_entry(v, f.profile, env).ok());

    // With EPT the PDPTEs come from the VMCS.
    VmxFixture s("skylake");
    env.memory = &s.memory;
    VmcsStore w(s.memory, s.kVmcs);
    setup_good_vmcs(w, s.profile, Guest::PROTECTED32);
    w.set(field::CPU_BASED_VM_EXEC_CONTROL, w.get(field::CPU_BASED_VM_EXEC_CONTROL) | proc::ACTIVATE_SECONDARY_CONTROLS);
    w.set(field::SECONDARY_VM_EXEC_CONTROL, proc2::ENABLE_EPT);
    w.set(field::EPT_POINTER, kEptp);
    w.set(field::GUEST_CR4, u64{0x2020});
    w.set(field::GUEST_PDPTE0, u64{0x61001});
    CHECK(check_vm_entry(w, s.profile, env).ok());
    w.set(field::GUEST_PDPTE2, u64{0x61001} | (u64{1} << 45));
    CHECK(check_vm_entry(w, s.profile, env).qualification == kEntryFailQualPdpte);
}

TEST_CASE("Entry checks: MSR-load entries (reason 34, qualification = entry index + 1)", "[entry-checks]")
{
    CHECK(check_msr_load_entry(0x174, 0, 0).ok());
    const EntryCheckResult r = check_msr_load_entry(0xC0000100, 0, 2);
    CHECK(r.status == S::ENTRY_FAILURE);
    CHECK(r.exit_reason == ExitReason::MSR_LOADING);
    CHECK(r.qualification == 3);
    CHECK(r.exit_reason_field() == 0x80000022u);
    CHECK(check_msr_load_entry(0x174, 1, 0).qualification == 1);
    CHECK_FALSE(check_msr_load_entry(0x808, 0, 0).ok());
}

TEST_CASE("Entry checks: VMCS link pointer with VMCS shadowing needs a shadow VMCS", "[entry-checks]")
{
    auto shadowing = both(both(orv(field::CPU_BASED_VM_EXEC_CONTROL, proc::ACTIVATE_SECONDARY_CONTROLS),
                               put(field::SECONDARY_VM_EXEC_CONTROL, proc2::VMCS_SHADOWING)),
                          both(put(field::VMREAD_BITMAP, 0x57000), put(field::VMWRITE_BITMAP, 0x58000)));
    run_cases("skylake", Guest::PROTECTED32, {
        ok("shadowing, link pointer all ones", shadowing),
        guest("shadowing, link pointer to an ordinary VMCS", both(shadowing, put(field::VMCS_LINK_POINTER, 0x11000)),
              kEntryFailQualVmcsLink),
        ok("shadowing, link pointer to a shadow VMCS", both(shadowing, both([](VmcsStore& v) {
            // 0x13000: a region carrying the revision with the shadow indicator.
            VmcsStore(*sim_context().memory, Hpa{0x13000})
                .set_revision_word(0x80000000u | find_cpu_profile("skylake")->vmcs_revision());
            (void)v;
        }, put(field::VMCS_LINK_POINTER, 0x13000)))),
    });
}

TEST_CASE("VmxCpu::check_entry runs the checks on the current VMCS with the host's EFER", "[entry-checks]")
{
    VmxFixture f("skylake");
    REQUIRE(f.enter());
    setup_good_vmcs(*f.vmx.current_vmcs(), f.profile, Guest::PROTECTED32);
    CHECK(f.vmx.check_entry().ok());
    f.vmx.current_vmcs()->set(field::HOST_TR_SELECTOR, u16{0});
    const EntryCheckResult r = f.vmx.check_entry();
    REQUIRE(r.status == S::VMFAIL_VALID);
    CHECK(f.vmx.fail(r.error) == hal::VmxResult::FAIL_VALID);
    CHECK(f.error() == static_cast<u32>(E::ENTRY_INVALID_HOST_STATE));
}
