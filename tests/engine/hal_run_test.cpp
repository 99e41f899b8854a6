// hal::run through the seam: VMXON/VMPTRLD on the VMX CPU, VMLAUNCH with the
// real entry checks, VMREAD/VMWRITE of live guest state from the handler,
// VMRESUME on the second call.
#include <catch2/catch.hpp>

#include "arch/x86/vmx/vmcs_field.hpp"
#include "arch/x86/vmx/vmx_arch.hpp"
#include "hal/vmx.hpp"
#include "sim/platform/machine_memory.hpp"
#include "sim/platform/sim_context.hpp"
#include "sim/vmx-model/cpu_profile.hpp"
#include "sim/vmx-model/engine/engine.hpp"
#include "sim/vmx-model/entry_checks.hpp"
#include "sim/vmx-model/host_cpu.hpp"
#include "sim/vmx-model/vmcs_store.hpp"
#include "sim/vmx-model/vmx_cpu.hpp"
#include "tests/sim_parts.hpp"

namespace xeno::sim::test {
namespace {

namespace f = vmx::field;

struct Machine : xeno::test::SimParts {
    Machine()
    {
        host.write_cr4(host.cr4() | (u64{1} << 13));
        memory.store<u32>(0x1000, profile.vmcs_revision());
        memory.store<u32>(0x2000, profile.vmcs_revision());
    }
};

void w(u32 enc, u64 v)
{
    REQUIRE(hal::vmwrite(enc, v) == hal::VmxResult::SUCCEED);
}

// A VMCS the entry checks accept: unrestricted 32-bit guest with EPT identity.
void build_vmcs(Machine& m)
{
    const CpuProfile& p = m.profile;
    using namespace vmx;
    w(f::PIN_BASED_VM_EXEC_CONTROL.kEncoding, allowed0(p.vmx.pinbased_ctls));
    w(f::CPU_BASED_VM_EXEC_CONTROL.kEncoding, allowed0(p.vmx.procbased_ctls) | proc::HLT_EXITING |
                                                  proc::UNCONDITIONAL_IO_EXITING | proc::ACTIVATE_SECONDARY_CONTROLS);
    w(f::SECONDARY_VM_EXEC_CONTROL.kEncoding, proc2::ENABLE_EPT | proc2::UNRESTRICTED_GUEST);
    w(f::VM_EXIT_CONTROLS.kEncoding, allowed0(p.vmx.exit_ctls) | exit_ctl::HOST_ADDRESS_SPACE_SIZE);
    w(f::VM_ENTRY_CONTROLS.kEncoding, allowed0(p.vmx.entry_ctls));
    // EPT: identity 0-16 MiB with 2 MiB pages.
    m.memory.store<u64>(0x100000, 0x101007);
    m.memory.store<u64>(0x101000, 0x102007);
    for (u64 i = 0; i < 8; ++i) m.memory.store<u64>(0x102000 + 8 * i, (i << 21) | 0x87 | (6u << 3));
    w(f::EPT_POINTER.kEncoding, 0x100000 | 0x18 | 6);
    w(f::HOST_CR0.kEncoding, 0x80050033);
    w(f::HOST_CR3.kEncoding, 0x3000);
    w(f::HOST_CR4.kEncoding, 0x26a0);
    w(f::HOST_CS_SELECTOR.kEncoding, 0x08);
    w(f::HOST_SS_SELECTOR.kEncoding, 0x10);
    w(f::HOST_DS_SELECTOR.kEncoding, 0x10);
    w(f::HOST_ES_SELECTOR.kEncoding, 0x10);
    w(f::HOST_TR_SELECTOR.kEncoding, 0x18);
    w(f::HOST_TR_BASE.kEncoding, 0x4000);
    w(f::HOST_GDTR_BASE.kEncoding, 0x5000);
    w(f::HOST_IDTR_BASE.kEncoding, 0x6000);
    w(f::HOST_RIP.kEncoding, 0xffffffff80001000);
    w(f::HOST_RSP.kEncoding, 0xffffffff80008000);
    // Guest: 32-bit flat protected mode, paging off.
    struct Seg { u32 s, b, l, a; u16 v; u32 ar; };
    const Seg segs[] = {
        {f::GUEST_ES_SELECTOR.kEncoding, f::GUEST_ES_BASE.kEncoding, f::GUEST_ES_LIMIT.kEncoding, f::GUEST_ES_AR_BYTES.kEncoding, 0x10, 0xc093},
        {f::GUEST_CS_SELECTOR.kEncoding, f::GUEST_CS_BASE.kEncoding, f::GUEST_CS_LIMIT.kEncoding, f::GUEST_CS_AR_BYTES.kEncoding, 0x08, 0xc09b},
        {f::GUEST_SS_SELECTOR.kEncoding, f::GUEST_SS_BASE.kEncoding, f::GUEST_SS_LIMIT.kEncoding, f::GUEST_SS_AR_BYTES.kEncoding, 0x10, 0xc093},
        {f::GUEST_DS_SELECTOR.kEncoding, f::GUEST_DS_BASE.kEncoding, f::GUEST_DS_LIMIT.kEncoding, f::GUEST_DS_AR_BYTES.kEncoding, 0x10, 0xc093},
        {f::GUEST_FS_SELECTOR.kEncoding, f::GUEST_FS_BASE.kEncoding, f::GUEST_FS_LIMIT.kEncoding, f::GUEST_FS_AR_BYTES.kEncoding, 0x10, 0xc093},
        {f::GUEST_GS_SELECTOR.kEncoding, f::GUEST_GS_BASE.kEncoding, f::GUEST_GS_LIMIT.kEncoding, f::GUEST_GS_AR_BYTES.kEncoding, 0x10, 0xc093},
    };
    for (const Seg& s : segs) {
        w(s.s, s.v);
        w(s.b, 0);
        w(s.l, 0xffffffff);
        w(s.a, s.ar);
    }
    w(f::GUEST_LDTR_AR_BYTES.kEncoding, ar::UNUSABLE);
    w(f::GUEST_TR_SELECTOR.kEncoding, 0x18);
    w(f::GUEST_TR_LIMIT.kEncoding, 0x67);
    w(f::GUEST_TR_AR_BYTES.kEncoding, 0x8b);
    w(f::GUEST_GDTR_LIMIT.kEncoding, 0x1f);
    w(f::GUEST_IDTR_LIMIT.kEncoding, 0x3ff);
    w(f::GUEST_CR0.kEncoding, 0x31);
    w(f::GUEST_CR4.kEncoding, 0x2000);
    w(f::GUEST_RFLAGS.kEncoding, 2);
    w(f::GUEST_RSP.kEncoding, 0x8000);
    w(f::GUEST_RIP.kEncoding, 0x10000);
    w(f::VMCS_LINK_POINTER.kEncoding, ~u64{0});
}

struct Seen {
    u64 reason = 0, rip = 0, len = 0, qual = 0, cs_ar = 0;
    int calls = 0;
};

hal::ExitAction handler(void* context, hal::GuestRegs&)
{
    auto& s = *static_cast<Seen*>(context);
    ++s.calls;
    hal::vmread(f::VM_EXIT_REASON.kEncoding, &s.reason);
    hal::vmread(f::GUEST_RIP.kEncoding, &s.rip);
    hal::vmread(f::VM_EXIT_INSTRUCTION_LEN.kEncoding, &s.len);
    hal::vmread(f::EXIT_QUALIFICATION.kEncoding, &s.qual);
    hal::vmread(f::GUEST_CS_AR_BYTES.kEncoding, &s.cs_ar);
    hal::vmwrite(f::GUEST_RIP.kEncoding, s.rip + s.len);
    return s.reason == static_cast<u64>(vmx::ExitReason::IO_INSTRUCTION) ? hal::ExitAction::YIELD
                                                                           : hal::ExitAction::RESUME;
}

}  // namespace

TEST_CASE("hal::run: VMLAUNCH with entry checks, live VMREAD/VMWRITE, then VMRESUME", "[engine][hal]")
{
    Machine m;
    REQUIRE(m.vmx.vmxon(Hpa{0x1000}) == hal::VmxResult::SUCCEED);
    REQUIRE(hal::vmclear(Hpa{0x2000}) == hal::VmxResult::SUCCEED);
    REQUIRE(hal::vmptrld(Hpa{0x2000}) == hal::VmxResult::SUCCEED);
    build_vmcs(m);
    {
        EntryEnvironment env;
        env.memory = &m.memory;
        env.current_efer = m.host.rdmsr(0xc0000080);
        const EntryCheckResult r = check_vm_entry(*m.vmx.current_vmcs(), m.profile, env);
        INFO("entry check: " << r.check);
        REQUIRE(r.ok());
    }
    m.memory.store<u8>(0x10000, 0xe6);  // out 0x80, al
    m.memory.store<u8>(0x10001, 0x80);
    m.memory.store<u8>(0x10002, 0xe6);  // out 0x81, al
    m.memory.store<u8>(0x10003, 0x81);
    m.memory.store<u8>(0x10004, 0xf4);  // hlt
    hal::GuestRegs regs{};
    Seen seen;
    REQUIRE(hal::run(regs, &handler, &seen) == hal::VmxResult::SUCCEED);
    CHECK(seen.calls == 1);
    CHECK(seen.rip == 0x10000);
    CHECK(seen.qual == 0x00800040);
    CHECK(seen.cs_ar == 0xc09b);
    u64 rip = 0;
    REQUIRE(hal::vmread(f::GUEST_RIP.kEncoding, &rip) == hal::VmxResult::SUCCEED);
    CHECK(rip == 0x10002);
    CHECK(m.vmx.current_vmcs()->launched());
    // Second run is a VMRESUME: the next OUT.
    REQUIRE(hal::run(regs, &handler, &seen) == hal::VmxResult::SUCCEED);
    CHECK(seen.calls == 2);
    CHECK(seen.rip == 0x10002);
    CHECK(seen.qual == 0x00810040);
    CHECK(hal::time_ns() == m.engine.vtime_ns());
}

}  // namespace xeno::sim::test
