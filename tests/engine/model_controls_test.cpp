// Every allowed-1 bit of every VMX control of both profiles: either the
// model implements it, shown by a guest (control_demos.cpp), or the model
// refuses a VM entry with it (VMfailValid 7 naming the control), so no
// control the profile offers is silently ignored. Also the monitor trap
// flag, which the model implements though no profile offers it (Bochs 2.7
// does not).
#include "tests/engine/control_demos.hpp"

namespace xeno::sim::test {

namespace {

using vmx::ExitReason;

const char* word_name(CtlWord w)
{
    switch (w) {
    case CtlWord::PIN: return "pin-based";
    case CtlWord::PROC: return "primary processor-based";
    case CtlWord::PROC2: return "secondary processor-based";
    case CtlWord::EXIT: return "VM-exit";
    case CtlWord::ENTRY: return "VM-entry";
    }
    return "?";
}

// Controls a refused one needs to be valid otherwise (27.2.1.1), so that the
// refusal is the model's and not an architectural check's.
void prerequisites(Trial& t, CtlWord w, u32 bit)
{
    namespace proc2 = vmx::proc2;
    const bool tpr = (w == CtlWord::PROC && bit == vmx::proc::USE_TPR_SHADOW) ||
                     (w == CtlWord::PROC2 && (bit & (proc2::VIRTUALIZE_X2APIC | proc2::APIC_REGISTER_VIRTUALIZATION |
                                                      proc2::VIRTUAL_INTERRUPT_DELIVERY)));
    if (tpr) {
        t.control(CtlWord::PROC, vmx::proc::USE_TPR_SHADOW, true);
        t.g.vmcs.set(f::VIRTUAL_APIC_PAGE_ADDR, 0x63000);
        t.g.vmcs.set(f::TPR_THRESHOLD, 0);
    }
    if (w == CtlWord::PROC2 && bit == proc2::VIRTUAL_INTERRUPT_DELIVERY)
        t.control(CtlWord::PIN, vmx::pin::EXTERNAL_INTERRUPT_EXITING, true);
    t.g.vmcs.set(f::APIC_ACCESS_ADDR, 0x64000);
    t.g.vmcs.set(f::VMREAD_BITMAP, 0x65000);
    t.g.vmcs.set(f::VMWRITE_BITMAP, 0x66000);
    t.g.vmcs.set(f::PML_ADDRESS, 0x67000);
    t.g.vmcs.set(f::VE_INFORMATION_ADDRESS, 0x68000);
    if (w == CtlWord::PROC2 && bit == proc2::ENABLE_PML) {
        t.g.vmcs.set(f::EPT_POINTER, 0x40000 | (3 << 3) | 6);
        t.control(CtlWord::PROC2, proc2::ENABLE_EPT, true);
    }
}

void refused(const CpuProfile& p, CtlWord w, unsigned bit)
{
    Trial t(p);
    prerequisites(t, w, 1u << bit);
    t.control(w, 1u << bit, true);
    t.code(0x10000, {0xf4});
    CHECK(t.run() == hal::VmxResult::FAIL_VALID);
    CHECK(t.g.vmcs.get(f::VM_INSTRUCTION_ERROR) == 7);
    CHECK(t.g.exits.empty());
    INFO("refusal: " << t.why);
    const bool smm = w == CtlWord::ENTRY && (bit == 10 || bit == 11);
    if (smm) {
        // Entry to SMM and deactivating dual-monitor treatment: refused by
        // the architectural check (an entry outside SMM, 27.2.1.3).
        CHECK(t.why.find("SMM") != std::string::npos);
        return;
    }
    CHECK(t.why.find("the model does not implement") == 0);
    const bool needs_tpr_shadow = w == CtlWord::PROC2 && (bit == 4 || bit == 8 || bit == 9) &&
                                  !(p.implemented.proc & vmx::proc::USE_TPR_SHADOW);
    const char* expected = needs_tpr_shadow ? control_name(vmx::msr::IA32_VMX_PROCBASED_CTLS, 21)
                                            : control_name(ctl_msr(w), bit);
    CHECK(t.why.find(std::string("\"") + expected + "\"") != std::string::npos);
}

// A reserved control whose default setting is 1 (SDM Vol. 3D A.2): it has
// no function, and the entry requires it.
void reserved_must_be_one(const CpuProfile& p, CtlWord w, unsigned bit)
{
    Trial t(p);
    t.code(0x10000, {0xf4});
    t.control(w, 1u << bit, false);
    CHECK(t.run() == hal::VmxResult::FAIL_VALID);
    CHECK(t.g.vmcs.get(f::VM_INSTRUCTION_ERROR) == 7);
    Trial ok(p);
    ok.code(0x10000, {0xf4});
    CHECK(ok.run() == hal::VmxResult::SUCCEED);
    CHECK(ok.reason(0) == static_cast<u32>(ExitReason::HLT));
}

}  // namespace

TEST_CASE("every allowed-1 control of every profile is implemented (shown) or refused at VM entry",
          "[engine][controls-walk]")
{
    for (std::string_view name : cpu_profile_names()) {
        const CpuProfile& p = *find_cpu_profile(name);
        for (CtlWord w : kCtlWords) {
            const u32 offered = ctl_allowed1(p, w);
            for (unsigned bit = 0; bit < 32; ++bit) {
                if (!(offered & (1u << bit))) continue;
                const bool implemented = ctl_implemented(p, w) & (1u << bit);
                INFO(p.name << ' ' << word_name(w) << " bit " << bit << " (" << control_name(ctl_msr(w), bit) << "): "
                            << (implemented ? "implemented" : "refused"));
                if (!implemented) {
                    refused(p, w, bit);
                    continue;
                }
                if (const Demo demo = control_demo(w, bit)) {
                    demo(p);
                    continue;
                }
                // Implemented without a demonstration: only a reserved bit may be.
                REQUIRE((ctl_allowed0(p, w) & (1u << bit)) != 0);
                reserved_must_be_one(p, w, bit);
            }
        }
    }
}

TEST_CASE("the model's implemented controls are a subset of what each profile offers; the refused are named",
          "[engine][controls-walk]")
{
    const CpuProfile& sky = *find_cpu_profile("skylake");
    for (CtlWord w : kCtlWords) CHECK((ctl_implemented(sky, w) & ~ctl_allowed1(sky, w)) == 0);
    // What the brief of this model listed as offered but not implemented.
    CHECK_FALSE(sky.implemented.proc & vmx::proc::USE_TPR_SHADOW);
    for (u32 c : {vmx::proc2::VIRTUALIZE_APIC_ACCESSES, vmx::proc2::VIRTUALIZE_X2APIC,
                  vmx::proc2::APIC_REGISTER_VIRTUALIZATION, vmx::proc2::VIRTUAL_INTERRUPT_DELIVERY,
                  vmx::proc2::PAUSE_LOOP_EXITING, vmx::proc2::VMCS_SHADOWING, vmx::proc2::ENABLE_PML,
                  vmx::proc2::EPT_VIOLATION_VE, vmx::proc2::ENABLE_XSAVES}) {
        CHECK((ctl_allowed1(sky, CtlWord::PROC2) & c) != 0);
        CHECK_FALSE(sky.implemented.proc2 & c);
    }
    for (u32 c : {vmx::proc2::DESCRIPTOR_TABLE_EXITING, vmx::proc2::RDRAND_EXITING, vmx::proc2::RDSEED_EXITING,
                  vmx::proc2::ENABLE_VMFUNC, vmx::proc2::ENABLE_INVPCID, vmx::proc2::TSC_SCALING})
        CHECK((sky.implemented.proc2 & c) != 0);
}

namespace {

// skylake with the monitor trap flag offered (Bochs 2.7 does not offer it).
CpuProfile with_mtf()
{
    CpuProfile p = *find_cpu_profile("skylake");
    p.vmx.procbased_ctls |= u64{vmx::proc::MONITOR_TRAP_FLAG} << 32;
    p.vmx.true_procbased_ctls |= u64{vmx::proc::MONITOR_TRAP_FLAG} << 32;
    p.implemented = model_controls(p.vmx);
    return p;
}

}  // namespace

TEST_CASE("monitor trap flag: an exit after each instruction, after a delivered event, and when pending", "[engine][mtf]")
{
    const CpuProfile p = with_mtf();
    REQUIRE(p.implemented.proc & vmx::proc::MONITOR_TRAP_FLAG);
    Trial t(p);
    t.control(CtlWord::PROC, vmx::proc::MONITOR_TRAP_FLAG, true);
    t.code(0x10000, {0x90, 0x90, 0x0f, 0xa2, 0xf4});  // nop; nop; cpuid; hlt
    REQUIRE(t.run() == hal::VmxResult::SUCCEED);
    INFO(t.why);
    // After each NOP; CPUID and HLT exit themselves, and after the entry
    // that follows CPUID's exit the first instruction (HLT) exits before
    // completing: no MTF exits for them.
    REQUIRE(t.g.exits.size() == 4);
    const u32 mtf = static_cast<u32>(ExitReason::MONITOR_TRAP_FLAG);
    CHECK(t.reason(0) == mtf);
    CHECK(t.g.exits[0].rip == 0x10001);
    CHECK(t.g.exits[0].length == 0);
    CHECK(t.reason(1) == mtf);
    CHECK(t.g.exits[1].rip == 0x10002);
    CHECK(t.reason(2) == static_cast<u32>(ExitReason::CPUID));
    CHECK(t.reason(3) == static_cast<u32>(ExitReason::HLT));

    // A fault delivered through the IDT: the exit comes before the
    // handler's first instruction.
    Trial u(p);
    u.control(CtlWord::PROC, vmx::proc::MONITOR_TRAP_FLAG, true);
    u.g.vmcs.set(f::EXCEPTION_BITMAP, 0);
    u.gate(6, 0x10100);
    u.code(0x10100, {0xf4});
    u.code(0x10000, {0x0f, 0x0b});  // ud2
    REQUIRE(u.run() == hal::VmxResult::SUCCEED);
    REQUIRE(!u.g.exits.empty());
    CHECK(u.reason(0) == mtf);
    CHECK(u.g.exits[0].rip == 0x10100);

    // A pending MTF exit injected at entry (type 7, vector 0): at once.
    Trial v(p);
    v.control(CtlWord::PROC, vmx::proc::MONITOR_TRAP_FLAG, true);
    v.g.vmcs.set(f::VM_ENTRY_INTR_INFO_FIELD, vmx::intr_info::VALID | (7u << vmx::intr_info::TYPE_SHIFT));
    v.code(0x10000, {0x90, 0xf4});
    REQUIRE(v.run() == hal::VmxResult::SUCCEED);
    CHECK(v.reason(0) == mtf);
    CHECK(v.g.exits[0].rip == 0x10000);
    CHECK(v.g.exits[0].instructions == 0);

    // The real profiles do not offer it: VM entry refuses it.
    Trial w(*find_cpu_profile("skylake"));
    w.control(CtlWord::PROC, vmx::proc::MONITOR_TRAP_FLAG, true);
    w.code(0x10000, {0xf4});
    CHECK(w.run() == hal::VmxResult::FAIL_VALID);
}

}  // namespace xeno::sim::test
