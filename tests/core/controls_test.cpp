#include "arch/x86/vmx/controls.hpp"

#include <catch2/catch.hpp>
#include <string>

#include "arch/x86/vmx/cr_values.hpp"
#include "arch/x86/vmx/vmcs_setup.hpp"
#include "sim/vmx-model/cpu_profile.hpp"

using namespace xeno;
using namespace xeno::vmx;

namespace {

u64 cap(u32 allowed0, u32 allowed1) { return (u64{allowed1} << 32) | allowed0; }

// Capability values shaped like the two profiles (what matters here: which
// controls are allowed; the exact numbers come from the sim profiles/Bochs).
VmxCaps skylake_like()
{
    VmxCaps c;
    c.basic = (u64{1} << 55) | (u64{1} << 54) | (u64{0x1000} << 32) | 4;
    c.pinbased = cap(0x16, 0x7f);
    c.procbased = cap(0x04006172, 0xfff9fffe);
    c.exit = cap(0x00036dfb, 0x03ffffff);
    c.entry = cap(0x000011fb, 0x0003ffff);
    c.procbased2 = cap(0, 0x000000ff);
    c.ept_vpid = bit(6) | bit(14);
    c.cr0_fixed0 = 0x80000021;
    c.cr0_fixed1 = 0xffffffff;
    c.cr4_fixed0 = 0x2000;
    c.cr4_fixed1 = 0x003727ff;
    return c;
}

VmxCaps penryn_like()
{
    VmxCaps c = skylake_like();
    c.basic &= ~(u64{1} << 55);
    c.procbased = cap(0x0401e172, 0x77fbfffe);  // no ACTIVATE_SECONDARY_CONTROLS; CR3 exiting default1
    c.exit = cap(0x00036dff, 0x0003ffff);       // no EFER/PAT switching
    c.entry = cap(0x000011ff, 0x00003fff);
    c.procbased2 = 0;
    c.ept_vpid = 0;
    return c;
}

}  // namespace

TEST_CASE("adjust_controls: allowed-0 forces ones, allowed-1 clears, missing required reported", "[vmx][controls]")
{
    const u64 msr = cap(0x00000016, 0x0000007f);
    AdjustedControls a = adjust_controls(0x9, 0x0, msr);  // EXTERNAL_INTERRUPT_EXITING | NMI_EXITING
    CHECK(a.ok());
    CHECK(a.value == (0x9 | 0x16));
    a = adjust_controls(0x1, 0x80, msr);  // optional bit 7 not allowed: silently dropped
    CHECK(a.ok());
    CHECK(a.value == 0x17);
    a = adjust_controls(0x101, 0, msr);  // required bit 8 not allowed
    CHECK_FALSE(a.ok());
    CHECK(a.missing == 0x100);
    CHECK(control_allowed(0x40, msr));
    CHECK_FALSE(control_allowed(0x80, msr));
}

TEST_CASE("compute_controls: skylake-like with EPT", "[vmx][controls]")
{
    FixedWriter<200> err;
    Result<VcpuControls> r = compute_controls(skylake_like(), GuestPaging::EPT, err);
    REQUIRE(r.ok());
    const VcpuControls& c = r.value();
    CHECK((c.pin & (pin::EXTERNAL_INTERRUPT_EXITING | pin::NMI_EXITING)) == (pin::EXTERNAL_INTERRUPT_EXITING | pin::NMI_EXITING));
    CHECK(c.proc & proc::HLT_EXITING);
    CHECK(c.proc & proc::USE_IO_BITMAPS);
    CHECK(c.proc & proc::USE_MSR_BITMAPS);
    CHECK(c.proc & proc::USE_TSC_OFFSETTING);
    CHECK(c.proc & proc::ACTIVATE_SECONDARY_CONTROLS);
    CHECK_FALSE(c.proc & proc::CR3_LOAD_EXITING);  // TRUE controls allow clearing it
    CHECK_FALSE(c.proc & proc::INVLPG_EXITING);
    CHECK(c.proc2 == (proc2::ENABLE_EPT | proc2::UNRESTRICTED_GUEST | proc2::ENABLE_VPID | proc2::ENABLE_RDTSCP |
                      proc2::WBINVD_EXITING));
    // What would run natively and reach the host (MWAIT parks the CPU; the
    // monitor, the counters, the debug registers), intercepted.
    for (u32 ctl : {proc::MWAIT_EXITING, proc::MONITOR_EXITING, proc::RDPMC_EXITING, proc::MOV_DR_EXITING}) {
        INFO("control " << std::hex << ctl);
        CHECK((c.proc & ctl) == ctl);
    }
    // GUEST_DR7 is the guest's DR7: loaded at entry, saved at exit.
    CHECK(c.entry & entry_ctl::LOAD_DEBUG_CONTROLS);
    CHECK(c.exit & exit_ctl::SAVE_DEBUG_CONTROLS);
    CHECK(c.load_efer);
    CHECK(c.load_pat);
    CHECK_FALSE(c.entry & entry_ctl::IA32E_MODE_GUEST);
    CHECK(c.exception_bitmap == 0);
    CHECK(c.cr4_mask & cr4::VMXE);
    CHECK_FALSE(c.cr0_mask & cr0::PE);  // unrestricted guest owns PE/PG
    CHECK_FALSE(c.cr0_mask & cr0::PG);
    CHECK(c.cr0_mask & cr0::NE);
}

TEST_CASE("compute_controls: penryn-like has shadow controls and vm86 exception bitmap", "[vmx][controls]")
{
    FixedWriter<200> err;
    Result<VcpuControls> r = compute_controls(penryn_like(), GuestPaging::SHADOW, err);
    REQUIRE(r.ok());
    const VcpuControls& c = r.value();
    CHECK(c.proc & proc::INVLPG_EXITING);
    CHECK(c.proc & proc::CR3_LOAD_EXITING);
    CHECK(c.proc & proc::CR3_STORE_EXITING);
    CHECK_FALSE(c.proc & proc::ACTIVATE_SECONDARY_CONTROLS);
    CHECK(c.proc2 == 0);
    for (u32 ctl : {proc::MWAIT_EXITING, proc::MONITOR_EXITING, proc::RDPMC_EXITING, proc::MOV_DR_EXITING}) {
        INFO("control " << std::hex << ctl);
        CHECK((c.proc & ctl) == ctl);
    }
    CHECK_FALSE(c.load_efer);
    CHECK_FALSE(c.load_pat);
    CHECK(c.exception_bitmap == 0xffffffffu);
    CHECK(c.cr0_mask & cr0::PE);
    CHECK(c.cr0_mask & cr0::PG);
    CHECK(c.cr4_mask & cr4::VME);

    // EPT requested on a CPU without secondary controls: fails, names the control.
    Result<VcpuControls> bad = compute_controls(penryn_like(), GuestPaging::EPT, err);
    CHECK(bad.status() == Status::UNSUPPORTED);
    CHECK(std::string(err.c_str()).find("primary processor-based") != std::string::npos);
}

TEST_CASE("CR0/CR4 real values and masks", "[vmx][cr]")
{
    const VmxCaps s = skylake_like();
    const CrPolicy ug{true, false};
    CHECK(cr0_real(cr0::ET, s, ug) == (cr0::ET | cr0::NE));  // PE/PG exempt with unrestricted guest
    CHECK(cr4_real(0, s, ug) == cr4::VMXE);
    const CrPolicy vm86{false, true};
    // PE/PG for the hypervisor's tables, WP for its read-only shadow leaves.
    CHECK(cr0_real(cr0::ET, s, vm86) == (cr0::ET | cr0::NE | cr0::PE | cr0::PG | cr0::WP));
    CHECK(cr0_mask(s, vm86) & cr0::WP);
    CHECK(cr4_real(0, s, vm86) == (cr4::VMXE | cr4::VME));
    CHECK(cr4_real(cr4::PAE | cr4::OSFXSR, s, vm86) == (cr4::VMXE | cr4::VME | cr4::OSFXSR));  // paging bits are ours
    CHECK((cr4_mask(s, ug) & ~u64{0xffffffff}) == 0);
    CHECK(cr4_mask(s, ug) & bit(12));  // bit 12 not allowed by CR4_FIXED1 here: owned
    CHECK_FALSE(cr4_guest_allowed(s) & cr4::VMXE);
}

TEST_CASE("MSR bitmap: pass-through set, everything else intercepted", "[vmx][msr]")
{
    u8 bitmap[4096];
    for (u8& b : bitmap) b = 0xff;
    for (u32 m : kPassThroughMsrs) msr_bitmap_set(bitmap, m, false, false);
    CHECK_FALSE(msr_bitmap_intercepts(bitmap, 0x174, false));
    CHECK_FALSE(msr_bitmap_intercepts(bitmap, 0x176, true));
    CHECK_FALSE(msr_bitmap_intercepts(bitmap, 0xc0000100, false));
    CHECK_FALSE(msr_bitmap_intercepts(bitmap, 0xc0000102, true));
    CHECK(msr_bitmap_intercepts(bitmap, 0x10, false));
    CHECK(msr_bitmap_intercepts(bitmap, 0xc0000080, true));
    CHECK(msr_bitmap_intercepts(bitmap, 0x40000000, false));
    // Layout (SDM 25.6.9): 0x174 is read-low byte 0x2e bit 4, write-low at 2048 + 0x2e.
    CHECK(bitmap[0x2e] == static_cast<u8>(~0x70));
    CHECK(bitmap[2048 + 0x2e] == static_cast<u8>(~0x70));
    // 0xc0000100..102: read-high at 1024 + 0x20, bits 0..2.
    CHECK(bitmap[1024 + 0x20] == 0xf8);
    CHECK(bitmap[3072 + 0x20] == 0xf8);
}

TEST_CASE("compute_controls uses only controls the software model implements, on both profiles", "[vmx][controls]")
{
    // The model refuses VM entry with a control it does not implement
    // (sim/vmx-model/model_controls.hpp): Xeno must never ask for one.
    for (std::string_view name : sim::cpu_profile_names()) {
        const sim::CpuProfile& p = *sim::find_cpu_profile(name);
        VmxCaps caps;
        caps.basic = p.vmx.basic;
        caps.pinbased = p.pin_ctls();
        caps.procbased = p.proc_ctls();
        caps.exit = p.exit_ctls();
        caps.entry = p.entry_ctls();
        caps.procbased2 = p.has_secondary_controls() ? p.vmx.procbased_ctls2 : 0;
        caps.ept_vpid = p.vmx.ept_vpid_cap;
        caps.cr0_fixed0 = p.vmx.cr0_fixed0;
        caps.cr0_fixed1 = p.vmx.cr0_fixed1;
        caps.cr4_fixed0 = p.vmx.cr4_fixed0;
        caps.cr4_fixed1 = p.vmx.cr4_fixed1;
        for (GuestPaging paging : {GuestPaging::EPT, GuestPaging::SHADOW}) {
            if (paging == GuestPaging::EPT && !caps.ept_usable()) continue;
            INFO(name << (paging == GuestPaging::EPT ? " ept" : " shadow"));
            FixedWriter<200> err;
            const Result<VcpuControls> r = compute_controls(caps, paging, err);
            REQUIRE(r.ok());
            const VcpuControls& c = r.value();
            CHECK((c.pin & ~p.implemented.pin) == 0);
            CHECK((c.proc & ~p.implemented.proc) == 0);
            CHECK((c.proc2 & ~p.implemented.proc2) == 0);
            CHECK((c.exit & ~p.implemented.exit) == 0);
            CHECK(((c.entry | entry_ctl::IA32E_MODE_GUEST) & ~p.implemented.entry) == 0);
        }
    }
}
