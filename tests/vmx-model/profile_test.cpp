// CPU profile sanity, host CPU behaviour, and (when the hw build has logged
// them from inside Bochs) the capability MSRs against Bochs's own values.
#include "sim/vmx-model/cpu_profile.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "hal/cpu.hpp"
#include "vmx_fixture.hpp"

using namespace xeno;
using namespace xeno::sim;
using namespace xeno::sim::test;
using namespace xeno::vmx;

TEST_CASE("Profiles: names, lookup and Bochs models", "[profile]")
{
    CHECK(cpu_profile_names() == std::vector<std::string_view>{"penryn", "skylake"});
    CHECK(find_cpu_profile("nehalem") == nullptr);
    CHECK(std::string(profile_named("penryn").bochs_model) == "core2_penryn_t9600");
    CHECK(std::string(profile_named("skylake").bochs_model) == "corei7_skylake_x");
}

TEST_CASE("Profiles: allowed-0 bits are allowed-1, TRUE controls relax only default-1 bits", "[profile]")
{
    for (std::string_view name : cpu_profile_names()) {
        const CpuProfile& p = *find_cpu_profile(name);
        INFO(p.name);
        const u64 ctls[] = {p.vmx.pinbased_ctls, p.vmx.procbased_ctls, p.vmx.exit_ctls, p.vmx.entry_ctls,
                            p.vmx.procbased_ctls2, p.vmx.true_pinbased_ctls, p.vmx.true_procbased_ctls,
                            p.vmx.true_exit_ctls, p.vmx.true_entry_ctls};
        for (u64 c : ctls) CHECK((allowed0(c) & ~allowed1(c)) == 0);
        const std::pair<u64, u64> pairs[] = {{p.vmx.pinbased_ctls, p.vmx.true_pinbased_ctls},
                                             {p.vmx.procbased_ctls, p.vmx.true_procbased_ctls},
                                             {p.vmx.exit_ctls, p.vmx.true_exit_ctls},
                                             {p.vmx.entry_ctls, p.vmx.true_entry_ctls}};
        for (auto [plain, tru] : pairs) {
            CHECK(allowed1(plain) == allowed1(tru));
            CHECK((allowed0(tru) & ~allowed0(plain)) == 0);  // TRUE allowed-0 is a subset
        }
        // Default-1 classes (Vol. 3D, A.2).
        CHECK(allowed0(p.vmx.pinbased_ctls) == 0x16);
        CHECK(allowed0(p.vmx.procbased_ctls) == 0x0401e172);
        CHECK(allowed0(p.vmx.exit_ctls) == 0x00036dff);
        CHECK(allowed0(p.vmx.entry_ctls) == 0x000011ff);
        // CR fixed bits: fixed0 within fixed1; PE NE PG and VMXE required.
        CHECK((p.vmx.cr0_fixed0 & ~p.vmx.cr0_fixed1) == 0);
        CHECK((p.vmx.cr4_fixed0 & ~p.vmx.cr4_fixed1) == 0);
        CHECK(p.vmx.cr0_fixed0 == 0x80000021);
        CHECK((p.vmx.cr4_fixed0 & (1u << 13)) != 0);
        // VMCS region size 4 KiB, write-back, true controls.
        CHECK(basic_vmcs_size(p.vmx.basic) == 4096);
        CHECK(bits(p.vmx.basic, 53, 50) == 6);
        CHECK(p.has_true_controls());
        CHECK((p.vmx.basic & (u64{1} << 31)) == 0);
        // Unrestricted guest needs EPT; EPT needs secondary controls.
        if (p.has_unrestricted_guest()) CHECK(p.has_ept());
        if (p.has_ept()) CHECK(p.has_secondary_controls());
        CHECK(p.cr3_target_count_max() == 4);
    }
}

TEST_CASE("Profiles: penryn has no EPT, VPID, unrestricted guest or preemption timer", "[profile]")
{
    const CpuProfile& p = profile_named("penryn");
    CHECK_FALSE(p.has_ept());
    CHECK_FALSE(p.has_vpid());
    CHECK_FALSE(p.has_unrestricted_guest());
    CHECK_FALSE(p.has_preemption_timer());
    CHECK(p.has_secondary_controls());  // APIC-access virtualization and WBINVD exiting
    CHECK(allowed1(p.vmx.procbased_ctls2) == (proc2::VIRTUALIZE_APIC_ACCESSES | proc2::WBINVD_EXITING));
    CHECK_FALSE(p.capability_msr(msr::IA32_VMX_EPT_VPID_CAP).has_value());
    CHECK_FALSE(p.capability_msr(msr::IA32_VMX_VMFUNC).has_value());
    CHECK(p.capability_msr(msr::IA32_VMX_PROCBASED_CTLS2).has_value());
    CHECK_FALSE(p.supports_field(field::EPT_POINTER.kEncoding));
    CHECK_FALSE(p.supports_field(field::GUEST_IA32_PAT.kEncoding));
    CHECK(p.supports_field(field::APIC_ACCESS_ADDR.kEncoding));
    CHECK(p.supports_field(field::TSC_OFFSET.kEncoding | 1));
    CHECK_FALSE(p.supports_field(field::GUEST_RIP.kEncoding | 1));
}

TEST_CASE("Profiles: skylake has EPT (4-level, WB, 2M/1G, INVEPT, A/D), VPID, unrestricted guest, timer", "[profile]")
{
    const CpuProfile& p = profile_named("skylake");
    CHECK(p.has_ept());
    CHECK(p.has_vpid());
    CHECK(p.has_unrestricted_guest());
    CHECK(p.has_preemption_timer());
    const u64 cap = *p.capability_msr(msr::IA32_VMX_EPT_VPID_CAP);
    for (u64 b : {ept_cap::WALK_LENGTH_4, ept_cap::MEMTYPE_WB, ept_cap::PDE_2MB, ept_cap::PDPTE_1GB, ept_cap::INVEPT,
                  ept_cap::INVEPT_SINGLE_CONTEXT, ept_cap::INVEPT_ALL_CONTEXT, ept_cap::ACCESSED_DIRTY,
                  ept_cap::INVVPID, ept_cap::INVVPID_ALL_CONTEXT})
        CHECK((cap & b) != 0);
    CHECK(p.preemption_timer_rate() == 0);
    CHECK(p.supports_field(field::EPT_POINTER.kEncoding));
    CHECK(p.supports_field(field::VMX_PREEMPTION_TIMER_VALUE.kEncoding));
    CHECK(p.exit_allows(exit_ctl::SAVE_PREEMPTION_TIMER));
    CHECK(p.entry_allows(entry_ctl::LOAD_EFER));
}

TEST_CASE("CPUID: vendor, VMX feature bit, family/model, physical-address width", "[profile]")
{
    for (const char* name : {"penryn", "skylake"}) {
        VmxFixture f(name);
        INFO(name);
        const hal::CpuidResult l0 = hal::cpuid(0, 0);
        char vendor[13] = {};
        std::memcpy(vendor, &l0.ebx, 4);
        std::memcpy(vendor + 4, &l0.edx, 4);
        std::memcpy(vendor + 8, &l0.ecx, 4);
        CHECK(std::string(vendor) == "GenuineIntel");
        const hal::CpuidResult l1 = hal::cpuid(1, 0);
        CHECK((l1.ecx & (1u << 5)) != 0);  // VMX
        CHECK((l1.edx & (1u << 9)) != 0);  // APIC enabled
        CHECK(bits(l1.eax, 11, 8) == 6);
        CHECK(bits(hal::cpuid(0x80000008, 0).eax, 7, 0) == f.profile.phys_addr_width);
        CHECK((hal::cpuid(0x80000001, 0).edx & (1u << 29)) != 0);  // long mode
        // OSXSAVE follows CR4.
        CHECK((l1.ecx & (1u << 27)) == 0);
    }
    CHECK(bits(profile_named("penryn").cpuid(1, 0).eax, 7, 4) == 0x7);
    CHECK(bits(profile_named("skylake").cpuid(1, 0).eax, 19, 16) == 0x5);
}

TEST_CASE("Host CPU: capability MSRs read-only, feature control locks, plain MSRs store", "[profile]")
{
    VmxFixture f("skylake");
    CHECK(hal::rdmsr(msr::IA32_VMX_BASIC) == f.profile.vmx.basic);
    CHECK(hal::rdmsr(msr::IA32_VMX_TRUE_PROCBASED_CTLS) == f.profile.vmx.true_procbased_ctls);
    CHECK_FALSE(f.host.try_wrmsr(msr::IA32_VMX_BASIC, 0));
    // Locked at reset (as Bochs's BIOS-less reset leaves it): writes fault.
    CHECK(hal::rdmsr(msr::IA32_FEATURE_CONTROL) == (kFeatureControlLock | kFeatureControlVmxOutsideSmx));
    CHECK_FALSE(f.host.try_wrmsr(msr::IA32_FEATURE_CONTROL, 0));
    CHECK(f.host.last_fault().find("locked") != std::string::npos);
    hal::wrmsr(msr::IA32_LSTAR, 0xffff800000001000);
    CHECK(hal::rdmsr(msr::IA32_LSTAR) == 0xffff800000001000);
    CHECK(f.host.try_rdmsr(0x12345) == std::nullopt);
    CHECK_FALSE(f.host.try_rdmsr(msr::IA32_VMX_VMFUNC + 1).has_value());

    CpuProfile unlocked = f.profile;
    unlocked.feature_control_reset = 0;
    HostCpu h(unlocked);
    CHECK(h.try_wrmsr(msr::IA32_FEATURE_CONTROL, kFeatureControlVmxOutsideSmx));
    CHECK(h.try_wrmsr(msr::IA32_FEATURE_CONTROL, kFeatureControlLock | kFeatureControlVmxOutsideSmx));
    CHECK_FALSE(h.try_wrmsr(msr::IA32_FEATURE_CONTROL, 0));
    CHECK(h.rdmsr(msr::IA32_FEATURE_CONTROL) == (kFeatureControlLock | kFeatureControlVmxOutsideSmx));
}

TEST_CASE("Host CPU: control registers and the fixed bits in VMX operation", "[profile]")
{
    VmxFixture f("penryn");
    CHECK(hal::read_cr0() == 0x80050033);
    CHECK((hal::read_cr4() & (1u << 13)) != 0);
    REQUIRE(f.enter());
    CHECK_FALSE(f.host.try_write_cr4(f.host.cr4() & ~(u64{1} << 13)));  // VMXE stays set in VMX operation
    CHECK_FALSE(f.host.try_write_cr0(f.host.cr0() & ~(u64{1} << 5)));   // NE too
    CHECK(f.host.try_write_cr4(f.host.cr4() | (u64{1} << 7)));
    CHECK_FALSE(f.host.try_write_cr4(f.host.cr4() | (u64{1} << 20)));   // SMEP: not on penryn
    const hal::HostSegments s = hal::host_segments();
    CHECK(s.cs == 0x08);
    CHECK(s.tr != 0);
    CHECK(hal::inb(0x3f8) == 0xff);
}

namespace {
// tests/data/bochs-vmx-msrs-<profile>.txt: lines "0x480 0x..." (MSR, value)
// and "cpuid <leaf> <subleaf> <eax> <ebx> <ecx> <edx>", '#' comments.
struct BochsCaps {
    std::vector<std::pair<u32, u64>> msrs;
    std::vector<CpuidLeaf> cpuid;
};

BochsCaps read_bochs_caps(const std::string& profile)
{
    std::ifstream in(std::string(XENO_SOURCE_DIR) + "/tests/data/bochs-vmx-msrs-" + profile + ".txt");
    BochsCaps out;
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        std::string a;
        if (!(ls >> a) || a[0] == '#') continue;
        if (a == "cpuid") {
            std::string f[6];
            for (auto& x : f) ls >> x;
            auto h = [](const std::string& x) { return static_cast<u32>(std::stoul(x, nullptr, 16)); };
            out.cpuid.push_back({h(f[0]), h(f[1]), false, h(f[2]), h(f[3]), h(f[4]), h(f[5])});
            continue;
        }
        std::string b;
        ls >> b;
        out.msrs.emplace_back(static_cast<u32>(std::stoul(a, nullptr, 16)), std::stoull(b, nullptr, 16));
    }
    return out;
}
}  // namespace

TEST_CASE("Profiles match the capability MSRs Bochs 2.7 reports (tests/data/bochs-vmx-msrs-*.txt)", "[profile][bochs-data]")
{
    for (std::string_view name : cpu_profile_names()) {
        const CpuProfile& p = *find_cpu_profile(name);
        const BochsCaps caps = read_bochs_caps(p.name);
        if (caps.msrs.empty()) {
            WARN("no Bochs MSR log for " << p.name << " yet");
            continue;
        }
        // Every capability MSR Bochs reports, with its value...
        std::vector<u32> seen;
        for (auto [index, value] : caps.msrs) {
            INFO(p.name << " MSR 0x" << std::hex << index);
            if (index == msr::IA32_FEATURE_CONTROL) {
                CHECK(p.feature_control_reset == value);
                continue;
            }
            REQUIRE(index >= msr::IA32_VMX_BASIC);
            REQUIRE(index <= msr::IA32_VMX_VMFUNC);
            seen.push_back(index);
            const std::optional<u64> mine = p.capability_msr(index);
            REQUIRE(mine.has_value());
            CHECK(*mine == value);
        }
        // ...and none that Bochs does not have.
        for (u32 index = msr::IA32_VMX_BASIC; index <= msr::IA32_VMX_VMFUNC; ++index) {
            INFO(p.name << " MSR 0x" << std::hex << index);
            const bool in_bochs = std::find(seen.begin(), seen.end(), index) != seen.end();
            CHECK(p.capability_msr(index).has_value() == in_bochs);
        }
    }
}

TEST_CASE("Host CPUID matches what Bochs 2.7 reports (tests/data/bochs-vmx-msrs-*.txt)", "[profile][bochs-data]")
{
    for (std::string_view name : cpu_profile_names()) {
        VmxFixture f(std::string(name).c_str());
        const BochsCaps caps = read_bochs_caps(f.profile.name);
        if (caps.cpuid.empty()) continue;
        for (const CpuidLeaf& l : caps.cpuid) {
            INFO(f.profile.name << " CPUID 0x" << std::hex << l.leaf << "." << l.subleaf);
            const hal::CpuidResult r = f.host.cpuid(l.leaf, l.subleaf);
            CHECK(r.eax == l.eax);
            CHECK(r.ebx == l.ebx);
            CHECK(r.ecx == l.ecx);
            CHECK(r.edx == l.edx);
        }
    }
}

TEST_CASE("Host CPU: IA32_TSC follows its source (virtual time) and WRMSR moves it", "[profile]")
{
    VmxFixture f("penryn");
    // Through the hal with no engine running, the virtual-time source reads 0.
    CHECK(hal::rdmsr(msr::IA32_TSC) == 0);
    u64 now = 10;
    f.host.set_tsc_source([&] { return now; });
    CHECK(hal::rdmsr(msr::IA32_TSC) == 10);
    hal::wrmsr(msr::IA32_TSC, 1000);
    CHECK(hal::rdmsr(msr::IA32_TSC) == 1000);
    now = 25;
    CHECK(hal::rdmsr(msr::IA32_TSC) == 1015);
}
