// Every architectural outcome of the VMX instructions (SDM Vol. 3C, 31.3).
#include "sim/vmx-model/vmx_cpu.hpp"

#include <catch2/catch.hpp>

#include "hal/vmx.hpp"
#include "vmx_fixture.hpp"

using namespace xeno;
using namespace xeno::sim;
using namespace xeno::sim::test;
using namespace xeno::vmx;
using E = xeno::vmx::VmInstructionError;
using R = xeno::hal::VmxResult;

// ---- VMXON ----

TEST_CASE("VMXON succeeds and enters VMX operation without a current VMCS", "[vmx-insn]")
{
    VmxFixture f;
    CHECK(f.vmx.vmxon(f.kVmxon) == R::SUCCEED);
    CHECK(f.vmx.in_vmx_operation());
    CHECK(f.host.in_vmx_operation());
    CHECK(f.vmx.current_vmcs() == nullptr);
    CHECK(f.vmx.current_vmcs_pointer() == ~u64{0});
    CHECK(f.faults.empty());
}

TEST_CASE("VMXON with CR4.VMXE clear is #UD", "[vmx-insn]")
{
    VmxFixture f;
    f.host.write_cr4(f.host.cr4() & ~(u64{1} << 13));
    f.vmx.vmxon(f.kVmxon);
    REQUIRE(f.faults.size() == 1);
    CHECK(f.faults[0] == VmxFault::UD);
    CHECK_FALSE(f.vmx.in_vmx_operation());
}

TEST_CASE("VMXON with CR0 outside the fixed bits is #GP", "[vmx-insn]")
{
    VmxFixture f;
    f.host.write_cr0(f.host.cr0() & ~(u64{1} << 5));  // NE clear
    f.vmx.vmxon(f.kVmxon);
    REQUIRE(f.faults.size() == 1);
    CHECK(f.faults[0] == VmxFault::GP);
}

TEST_CASE("VMXON with IA32_FEATURE_CONTROL unlocked or VMX disabled is #GP", "[vmx-insn]")
{
    CpuProfile unlocked = profile_named("skylake");
    unlocked.feature_control_reset = 0;
    MachineMemory memory(1 << 20);
    HostCpu host(unlocked);
    VmxCpu vmx(memory, host, unlocked);
    std::vector<VmxFault> faults;
    vmx.set_fault_handler([&](VmxFault k, const std::string&) { faults.push_back(k); });
    host.write_cr4(host.cr4() | (u64{1} << 13));
    memory.store<u32>(0x1000, unlocked.vmcs_revision());
    vmx.vmxon(Hpa{0x1000});
    REQUIRE(faults.size() == 1);
    CHECK(faults[0] == VmxFault::GP);
    // Lock without the enable bit: still #GP.
    host.wrmsr(msr::IA32_FEATURE_CONTROL, kFeatureControlLock);
    vmx.vmxon(Hpa{0x1000});
    REQUIRE(faults.size() == 2);
    CHECK(faults[1] == VmxFault::GP);
    CHECK_FALSE(vmx.in_vmx_operation());
}

TEST_CASE("VMXON with an unaligned region is VMfailInvalid", "[vmx-insn]")
{
    VmxFixture f;
    CHECK(f.vmx.vmxon(Hpa{f.kVmxon.value() + 8}) == R::FAIL_INVALID);
    CHECK_FALSE(f.vmx.in_vmx_operation());
}

TEST_CASE("VMXON beyond the physical-address width is VMfailInvalid", "[vmx-insn]")
{
    VmxFixture f;
    CHECK(f.vmx.vmxon(Hpa{u64{1} << f.profile.phys_addr_width}) == R::FAIL_INVALID);
}

TEST_CASE("VMXON with a wrong revision or the shadow bit is VMfailInvalid", "[vmx-insn]")
{
    VmxFixture f;
    f.memory.store<u32>(f.kVmxon.value(), f.profile.vmcs_revision() + 1);
    CHECK(f.vmx.vmxon(f.kVmxon) == R::FAIL_INVALID);
    f.write_revision(f.kVmxon, VmcsStore::kShadowIndicator);
    CHECK(f.vmx.vmxon(f.kVmxon) == R::FAIL_INVALID);
    CHECK_FALSE(f.vmx.in_vmx_operation());
}

TEST_CASE("VMXON in VMX root operation: VMfailValid 15 with a current VMCS, VMfailInvalid without", "[vmx-insn]")
{
    VmxFixture f;
    REQUIRE(f.vmx.vmxon(f.kVmxon) == R::SUCCEED);
    CHECK(f.vmx.vmxon(f.kVmxon) == R::FAIL_INVALID);
    REQUIRE(f.vmx.vmptrld(f.kVmcs) == R::SUCCEED);
    CHECK(f.vmx.vmxon(f.kVmxon) == R::FAIL_VALID);
    CHECK(f.error() == err(E::VMXON_IN_ROOT));
}

// ---- VMXOFF ----

TEST_CASE("VMXOFF leaves VMX operation; outside it is #UD", "[vmx-insn]")
{
    VmxFixture f;
    f.vmx.vmxoff();
    REQUIRE(f.faults.size() == 1);
    CHECK(f.faults[0] == VmxFault::UD);
    REQUIRE(f.enter());
    CHECK(f.vmx.vmxoff() == R::SUCCEED);
    CHECK_FALSE(f.vmx.in_vmx_operation());
    CHECK_FALSE(f.host.in_vmx_operation());
    CHECK(f.vmx.current_vmcs() == nullptr);
}

TEST_CASE("VMX instructions other than VMXON outside VMX operation are #UD", "[vmx-insn]")
{
    VmxFixture f;
    u64 value = 0;
    Hpa p{};
    f.vmx.vmclear(f.kVmcs);
    f.vmx.vmptrld(f.kVmcs);
    f.vmx.vmptrst(&p);
    f.vmx.vmread(field::GUEST_RIP.kEncoding, &value);
    f.vmx.vmwrite(field::GUEST_RIP.kEncoding, 1);
    f.vmx.invept(2, {});
    f.vmx.invvpid(2, {});
    f.vmx.check_launch(false);
    CHECK(f.faults == std::vector<VmxFault>(8, VmxFault::UD));
}

// ---- VMCLEAR ----

TEST_CASE("VMCLEAR with a bad address is VMfail 2", "[vmx-insn]")
{
    VmxFixture f;
    REQUIRE(f.enter());
    CHECK(f.vmx.vmclear(Hpa{f.kVmcs2.value() + 0x10}) == R::FAIL_VALID);
    CHECK(f.error() == err(E::VMCLEAR_INVALID_ADDRESS));
    f.vmx.current_vmcs()->set(field::VM_INSTRUCTION_ERROR, 0u);
    CHECK(f.vmx.vmclear(Hpa{u64{1} << f.profile.phys_addr_width}) == R::FAIL_VALID);
    CHECK(f.error() == err(E::VMCLEAR_INVALID_ADDRESS));
}

TEST_CASE("VMCLEAR of the VMXON region is VMfail 3", "[vmx-insn]")
{
    VmxFixture f;
    REQUIRE(f.enter());
    CHECK(f.vmx.vmclear(f.kVmxon) == R::FAIL_VALID);
    CHECK(f.error() == err(E::VMCLEAR_VMXON_POINTER));
}

TEST_CASE("VMCLEAR failing without a current VMCS is VMfailInvalid", "[vmx-insn]")
{
    VmxFixture f;
    REQUIRE(f.vmx.vmxon(f.kVmxon) == R::SUCCEED);
    CHECK(f.vmx.vmclear(f.kVmxon) == R::FAIL_INVALID);
}

TEST_CASE("VMCLEAR of the current VMCS clears its launch state and makes it not current", "[vmx-insn]")
{
    VmxFixture f;
    REQUIRE(f.enter());
    f.vmx.current_vmcs()->set_launched(true);
    CHECK(f.vmx.vmclear(f.kVmcs) == R::SUCCEED);
    CHECK(f.vmx.current_vmcs() == nullptr);
    CHECK_FALSE(VmcsStore(f.memory, f.kVmcs).launched());
    // VMCLEAR of another VMCS leaves the current one current; no revision check.
    REQUIRE(f.vmx.vmptrld(f.kVmcs) == R::SUCCEED);
    f.memory.store<u32>(f.kVmcs2.value(), 0x12345);
    CHECK(f.vmx.vmclear(f.kVmcs2) == R::SUCCEED);
    CHECK(f.vmx.current_vmcs_pointer() == f.kVmcs.value());
}

// ---- VMPTRLD / VMPTRST ----

TEST_CASE("VMPTRLD with a bad address is VMfail 9", "[vmx-insn]")
{
    VmxFixture f;
    REQUIRE(f.enter());
    CHECK(f.vmx.vmptrld(Hpa{f.kVmcs2.value() + 4}) == R::FAIL_VALID);
    CHECK(f.error() == err(E::VMPTRLD_INVALID_ADDRESS));
    CHECK(f.vmx.vmptrld(Hpa{u64{1} << 52}) == R::FAIL_VALID);
    CHECK(f.error() == err(E::VMPTRLD_INVALID_ADDRESS));
}

TEST_CASE("VMPTRLD of the VMXON region is VMfail 10", "[vmx-insn]")
{
    VmxFixture f;
    REQUIRE(f.enter());
    CHECK(f.vmx.vmptrld(f.kVmxon) == R::FAIL_VALID);
    CHECK(f.error() == err(E::VMPTRLD_VMXON_POINTER));
}

TEST_CASE("VMPTRLD with an incorrect revision is VMfail 11", "[vmx-insn]")
{
    VmxFixture f;
    REQUIRE(f.enter());
    f.memory.store<u32>(f.kVmcs2.value(), f.profile.vmcs_revision() ^ 1);
    CHECK(f.vmx.vmptrld(f.kVmcs2) == R::FAIL_VALID);
    CHECK(f.error() == err(E::VMPTRLD_INCORRECT_REVISION));
    CHECK(f.vmx.current_vmcs_pointer() == f.kVmcs.value());
}

TEST_CASE("VMPTRLD of a shadow VMCS: VMfail 11 without VMCS shadowing", "[vmx-insn]")
{
    VmxFixture f("penryn");
    REQUIRE(f.enter());
    f.write_revision(f.kVmcs2, VmcsStore::kShadowIndicator);
    CHECK(f.vmx.vmptrld(f.kVmcs2) == R::FAIL_VALID);
    CHECK(f.error() == err(E::VMPTRLD_INCORRECT_REVISION));
}

TEST_CASE("VMPTRLD of a shadow VMCS with VMCS shadowing loads it; VMLAUNCH then fails invalid", "[vmx-insn]")
{
    VmxFixture f("skylake");
    REQUIRE(f.enter());
    f.write_revision(f.kVmcs2, VmcsStore::kShadowIndicator);
    CHECK(f.vmx.vmptrld(f.kVmcs2) == R::SUCCEED);
    CHECK(f.vmx.check_launch(false) == R::FAIL_INVALID);
}

TEST_CASE("VMPTRLD failing without a current VMCS is VMfailInvalid", "[vmx-insn]")
{
    VmxFixture f;
    REQUIRE(f.vmx.vmxon(f.kVmxon) == R::SUCCEED);
    CHECK(f.vmx.vmptrld(f.kVmxon) == R::FAIL_INVALID);
}

TEST_CASE("VMPTRST stores the current-VMCS pointer or all ones", "[vmx-insn]")
{
    VmxFixture f;
    REQUIRE(f.vmx.vmxon(f.kVmxon) == R::SUCCEED);
    Hpa p{};
    CHECK(f.vmx.vmptrst(&p) == R::SUCCEED);
    CHECK(p.value() == ~u64{0});
    REQUIRE(f.vmx.vmptrld(f.kVmcs2) == R::SUCCEED);
    CHECK(f.vmx.vmptrst(&p) == R::SUCCEED);
    CHECK(p == f.kVmcs2);
}

// ---- VMREAD / VMWRITE ----

TEST_CASE("VMREAD/VMWRITE without a current VMCS are VMfailInvalid", "[vmx-insn]")
{
    VmxFixture f;
    REQUIRE(f.vmx.vmxon(f.kVmxon) == R::SUCCEED);
    u64 v = 0;
    CHECK(f.vmx.vmread(field::GUEST_RIP.kEncoding, &v) == R::FAIL_INVALID);
    CHECK(f.vmx.vmwrite(field::GUEST_RIP.kEncoding, 1) == R::FAIL_INVALID);
}

TEST_CASE("VMREAD/VMWRITE of an unknown encoding are VMfail 12", "[vmx-insn]")
{
    VmxFixture f;
    REQUIRE(f.enter());
    u64 v = 0;
    CHECK(f.vmx.vmread(0x6830, &v) == R::FAIL_VALID);
    CHECK(f.error() == err(E::UNSUPPORTED_VMCS_COMPONENT));
    CHECK(f.vmx.vmwrite(0x6830, 1) == R::FAIL_VALID);
    CHECK(f.error() == err(E::UNSUPPORTED_VMCS_COMPONENT));
    // Bits 63:32 of the encoding operand set.
    CHECK(f.vmx.vmread(field::GUEST_RIP.kEncoding | (u64{1} << 32), &v) == R::FAIL_VALID);
    CHECK(f.error() == err(E::UNSUPPORTED_VMCS_COMPONENT));
}

TEST_CASE("VMREAD/VMWRITE of a field the CPU lacks are VMfail 12 (EPT_POINTER on penryn)", "[vmx-insn]")
{
    VmxFixture f("penryn");
    REQUIRE(f.enter());
    u64 v = 0;
    CHECK(f.vmx.vmread(field::EPT_POINTER.kEncoding, &v) == R::FAIL_VALID);
    CHECK(f.error() == err(E::UNSUPPORTED_VMCS_COMPONENT));
    CHECK(f.vmx.vmwrite(field::VIRTUAL_PROCESSOR_ID.kEncoding, 1) == R::FAIL_VALID);
    CHECK(f.error() == err(E::UNSUPPORTED_VMCS_COMPONENT));
    CHECK(f.vmx.vmwrite(field::VMX_PREEMPTION_TIMER_VALUE.kEncoding, 1) == R::FAIL_VALID);
    CHECK(f.error() == err(E::UNSUPPORTED_VMCS_COMPONENT));
    CHECK(f.vmx.vmwrite(field::GUEST_IA32_EFER.kEncoding, 1) == R::FAIL_VALID);
    CHECK(f.error() == err(E::UNSUPPORTED_VMCS_COMPONENT));
    // ...which skylake has.
    VmxFixture s("skylake");
    REQUIRE(s.enter());
    CHECK(s.vmx.vmwrite(field::EPT_POINTER.kEncoding, 0x1e) == R::SUCCEED);
    CHECK(s.vmx.vmread(field::EPT_POINTER.kEncoding, &v) == R::SUCCEED);
    CHECK(v == 0x1e);
}

TEST_CASE("VMREAD/VMWRITE high access of a field that is not 64-bit is VMfail 12", "[vmx-insn]")
{
    VmxFixture f;
    REQUIRE(f.enter());
    u64 v = 0;
    CHECK(f.vmx.vmread(field::GUEST_RIP.kEncoding | 1, &v) == R::FAIL_VALID);
    CHECK(f.error() == err(E::UNSUPPORTED_VMCS_COMPONENT));
    CHECK(f.vmx.vmwrite(field::GUEST_CS_LIMIT.kEncoding | 1, 0) == R::FAIL_VALID);
    CHECK(f.error() == err(E::UNSUPPORTED_VMCS_COMPONENT));
}

TEST_CASE("VMWRITE of a read-only field is VMfail 13 unless IA32_VMX_MISC bit 29", "[vmx-insn]")
{
    VmxFixture f("penryn");
    REQUIRE_FALSE(f.profile.vmwrite_any_field());
    REQUIRE(f.enter());
    CHECK(f.vmx.vmwrite(field::VM_EXIT_REASON.kEncoding, 1) == R::FAIL_VALID);
    CHECK(f.error() == err(E::VMWRITE_READ_ONLY_COMPONENT));
    CHECK(f.vmx.vmwrite(field::EXIT_QUALIFICATION.kEncoding, 1) == R::FAIL_VALID);
    CHECK(f.error() == err(E::VMWRITE_READ_ONLY_COMPONENT));
    VmxFixture s("skylake");
    REQUIRE(s.profile.vmwrite_any_field());
    REQUIRE(s.enter());
    CHECK(s.vmx.vmwrite(field::EXIT_QUALIFICATION.kEncoding, 0x55) == R::SUCCEED);
    u64 v = 0;
    CHECK(s.vmx.vmread(field::EXIT_QUALIFICATION.kEncoding, &v) == R::SUCCEED);
    CHECK(v == 0x55);
}

TEST_CASE("VMWRITE truncates to the field width; VMREAD zero-extends", "[vmx-insn]")
{
    VmxFixture f;
    REQUIRE(f.enter());
    u64 v = 0;
    CHECK(f.vmx.vmwrite(field::GUEST_CS_SELECTOR.kEncoding, 0xabcd1234) == R::SUCCEED);
    CHECK(f.vmx.vmread(field::GUEST_CS_SELECTOR.kEncoding, &v) == R::SUCCEED);
    CHECK(v == 0x1234);
    CHECK(f.vmx.vmwrite(field::EXCEPTION_BITMAP.kEncoding, 0xffffffff00004000) == R::SUCCEED);
    CHECK(f.vmx.vmread(field::EXCEPTION_BITMAP.kEncoding, &v) == R::SUCCEED);
    CHECK(v == 0x4000);
}

TEST_CASE("VMREAD/VMWRITE high access of a 64-bit field", "[vmx-insn]")
{
    VmxFixture f;
    REQUIRE(f.enter());
    u64 v = 0;
    CHECK(f.vmx.vmwrite(field::TSC_OFFSET.kEncoding, 0x1122334455667788) == R::SUCCEED);
    CHECK(f.vmx.vmread(field::TSC_OFFSET.kEncoding | 1, &v) == R::SUCCEED);
    CHECK(v == 0x11223344);
    CHECK(f.vmx.vmwrite(field::TSC_OFFSET.kEncoding | 1, 0xdeadbeef) == R::SUCCEED);
    CHECK(f.vmx.vmread(field::TSC_OFFSET.kEncoding, &v) == R::SUCCEED);
    CHECK(v == 0xdeadbeef55667788);
}

TEST_CASE("VM-instruction error survives later successful instructions", "[vmx-insn]")
{
    VmxFixture f;
    REQUIRE(f.enter());
    CHECK(f.vmx.vmclear(f.kVmxon) == R::FAIL_VALID);
    u64 v = 0;
    CHECK(f.vmx.vmread(field::VM_INSTRUCTION_ERROR.kEncoding, &v) == R::SUCCEED);
    CHECK(v == err(E::VMCLEAR_VMXON_POINTER));
}

namespace {
struct FakeLive : LiveGuestState {
    u64 rip = 0x1234;
    u64 tsc_offset = 0;
    int reads = 0, writes = 0;
    bool owns(u32 encoding) const override { return encoding == field::TSC_OFFSET.kEncoding; }
    u64 read(u32 encoding) override
    {
        ++reads;
        return encoding == field::TSC_OFFSET.kEncoding ? tsc_offset : rip;
    }
    void write(u32 encoding, u64 value) override
    {
        ++writes;
        (encoding == field::TSC_OFFSET.kEncoding ? tsc_offset : rip) = value;
    }
};
}  // namespace

TEST_CASE("An attached live guest state serves GUEST fields and the fields it owns", "[vmx-insn]")
{
    VmxFixture f;
    REQUIRE(f.enter());
    FakeLive live;
    f.vmx.attach_live_guest(&live);
    u64 v = 0;
    CHECK(f.vmx.vmread(field::GUEST_RIP.kEncoding, &v) == R::SUCCEED);
    CHECK(v == 0x1234);
    CHECK(f.vmx.vmwrite(field::GUEST_RIP.kEncoding, 0x5678) == R::SUCCEED);
    CHECK(live.rip == 0x5678);
    CHECK(f.vmx.current_vmcs()->get(field::GUEST_RIP) == 0);  // not stored in the VMCS while live
    CHECK(f.vmx.vmwrite(field::TSC_OFFSET.kEncoding | 1, 0x7) == R::SUCCEED);
    CHECK(live.tsc_offset == 0x700000000);
    CHECK(f.vmx.vmwrite(field::HOST_RIP.kEncoding, 0x99) == R::SUCCEED);  // not live
    CHECK(f.vmx.current_vmcs()->get(field::HOST_RIP) == 0x99);
    // Support checks still apply.
    CHECK(f.vmx.vmwrite(field::GUEST_RIP.kEncoding | 1, 0) == R::FAIL_VALID);
    f.vmx.detach_live_guest();
    CHECK(f.vmx.vmread(field::GUEST_RIP.kEncoding, &v) == R::SUCCEED);
    CHECK(v == 0);
}

// ---- INVEPT / INVVPID ----

TEST_CASE("INVEPT: supported types flush; unsupported type or bad EPTP is VMfail 28", "[vmx-insn]")
{
    VmxFixture f("skylake");
    REQUIRE(f.enter());
    int flushes = 0;
    f.vmx.set_tlb_flush_hook([&] { ++flushes; });
    const u64 good_eptp = 0x20000 | (3 << 3) | 6;
    CHECK(f.vmx.invept(1, {good_eptp, 0}) == R::SUCCEED);
    CHECK(f.vmx.invept(2, {0, 0}) == R::SUCCEED);
    CHECK(flushes == 2);
    CHECK(f.vmx.invept(0, {good_eptp, 0}) == R::FAIL_VALID);
    CHECK(f.error() == err(E::INVALID_INVEPT_INVVPID_OPERAND));
    CHECK(f.vmx.invept(3, {good_eptp, 0}) == R::FAIL_VALID);
    CHECK(f.vmx.invept(1, {0x20000 | (3 << 3) | 1, 0}) == R::FAIL_VALID);  // memory type WC
    CHECK(f.error() == err(E::INVALID_INVEPT_INVVPID_OPERAND));
    CHECK(flushes == 2);
}

TEST_CASE("INVEPT and INVVPID on a CPU without EPT/VPID are #UD", "[vmx-insn]")
{
    VmxFixture f("penryn");
    REQUIRE(f.enter());
    f.vmx.invept(2, {});
    f.vmx.invvpid(2, {});
    CHECK(f.faults == std::vector<VmxFault>{VmxFault::UD, VmxFault::UD});
}

TEST_CASE("INVVPID: types, VPID 0, reserved descriptor bits, non-canonical address", "[vmx-insn]")
{
    VmxFixture f("skylake");
    REQUIRE(f.enter());
    int flushes = 0;
    f.vmx.set_tlb_flush_hook([&] { ++flushes; });
    CHECK(f.vmx.invvpid(0, {1, 0x1000}) == R::SUCCEED);
    CHECK(f.vmx.invvpid(1, {1, 0}) == R::SUCCEED);
    CHECK(f.vmx.invvpid(2, {0, 0}) == R::SUCCEED);
    CHECK(f.vmx.invvpid(3, {1, 0}) == R::SUCCEED);
    CHECK(flushes == 4);
    CHECK(f.vmx.invvpid(4, {1, 0}) == R::FAIL_VALID);
    CHECK(f.error() == err(E::INVALID_INVEPT_INVVPID_OPERAND));
    CHECK(f.vmx.invvpid(1, {0, 0}) == R::FAIL_VALID);
    CHECK(f.vmx.invvpid(3, {0, 0}) == R::FAIL_VALID);
    CHECK(f.vmx.invvpid(0, {0, 0x1000}) == R::FAIL_VALID);
    CHECK(f.vmx.invvpid(0, {1, 0x0000800000000000}) == R::FAIL_VALID);
    CHECK(f.vmx.invvpid(2, {0x10000, 0}) == R::FAIL_VALID);
    CHECK(f.error() == err(E::INVALID_INVEPT_INVVPID_OPERAND));
    CHECK(flushes == 4);
}

// ---- VMLAUNCH / VMRESUME launch state ----

TEST_CASE("VMLAUNCH/VMRESUME launch-state checks", "[vmx-insn]")
{
    VmxFixture f;
    REQUIRE(f.vmx.vmxon(f.kVmxon) == R::SUCCEED);
    CHECK(f.vmx.check_launch(false) == R::FAIL_INVALID);
    CHECK(f.vmx.check_launch(true) == R::FAIL_INVALID);
    REQUIRE(f.vmx.vmptrld(f.kVmcs) == R::SUCCEED);
    CHECK(f.vmx.check_launch(false) == R::SUCCEED);
    CHECK(f.vmx.check_launch(true) == R::FAIL_VALID);
    CHECK(f.error() == err(E::VMRESUME_NONLAUNCHED_VMCS));
    f.vmx.current_vmcs()->set_launched(true);
    CHECK(f.vmx.check_launch(true) == R::SUCCEED);
    CHECK(f.vmx.check_launch(false) == R::FAIL_VALID);
    CHECK(f.error() == err(E::VMLAUNCH_NONCLEAR_VMCS));
    CHECK(f.vmx.fail(E::ENTRY_INVALID_HOST_STATE) == R::FAIL_VALID);
    CHECK(f.error() == err(E::ENTRY_INVALID_HOST_STATE));
}

// ---- through the hal ----

TEST_CASE("The sim hal VMX instructions act on the running machine's VMX CPU", "[vmx-insn]")
{
    VmxFixture f;
    CHECK(hal::vmxon(f.kVmxon) == R::SUCCEED);
    CHECK(hal::vmptrld(f.kVmcs) == R::SUCCEED);
    CHECK(hal::vmwrite(field::GUEST_RIP.kEncoding, 0x7c00) == R::SUCCEED);
    u64 v = 0;
    CHECK(hal::vmread(field::GUEST_RIP.kEncoding, &v) == R::SUCCEED);
    CHECK(v == 0x7c00);
    Hpa p{};
    CHECK(hal::vmptrst(&p) == R::SUCCEED);
    CHECK(p == f.kVmcs);
    CHECK(hal::invept(2, {}) == R::SUCCEED);
    CHECK(hal::invvpid(2, {}) == R::SUCCEED);
    CHECK(hal::vmclear(f.kVmcs) == R::SUCCEED);
    CHECK(hal::vmxoff() == R::SUCCEED);
}
