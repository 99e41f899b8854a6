// VM-entry checks on the controls and the host state (SDM Vol. 3C, 27.2):
// a known-good VMCS, then one field broken at a time, each with the outcome
// the SDM gives; passing variants show the boundary of each rule.
#include "sim/vmx-model/entry_checks.hpp"

#include <catch2/catch.hpp>

#include "entry_check_cases.hpp"

using namespace xeno;
using namespace xeno::sim;
using namespace xeno::sim::test;
using namespace xeno::vmx;

TEST_CASE("Entry checks: VM-execution, exit and entry controls (27.2.1) fail with error 7", "[entry-checks]")
{
    const std::vector<Case> cases = {
        ctl("pin-based default-1 bit cleared", clr(field::PIN_BASED_VM_EXEC_CONTROL, 0x2)),
        ctl("pin-based unsupported bit (posted interrupts)", orv(field::PIN_BASED_VM_EXEC_CONTROL, pin::POSTED_INTERRUPTS)),
        ok("pin-based NMI exiting + virtual NMIs", orv(field::PIN_BASED_VM_EXEC_CONTROL, pin::NMI_EXITING | pin::VIRTUAL_NMIS)),
        ctl("virtual NMIs without NMI exiting", orv(field::PIN_BASED_VM_EXEC_CONTROL, pin::VIRTUAL_NMIS)),
        ctl("NMI-window exiting without virtual NMIs", orv(field::CPU_BASED_VM_EXEC_CONTROL, proc::NMI_WINDOW_EXITING)),
        ok("CR3 exiting may be 0 with TRUE controls", clr(field::CPU_BASED_VM_EXEC_CONTROL, proc::CR3_LOAD_EXITING | proc::CR3_STORE_EXITING)),
        ctl("primary default-1 bit 1 cleared", clr(field::CPU_BASED_VM_EXEC_CONTROL, 0x2)),
        ctl("primary reserved bit 0 set", orv(field::CPU_BASED_VM_EXEC_CONTROL, 0x1)),
        ctl("monitor trap flag unsupported", orv(field::CPU_BASED_VM_EXEC_CONTROL, proc::MONITOR_TRAP_FLAG)),
        ctl("secondary reserved bit", both(orv(field::CPU_BASED_VM_EXEC_CONTROL, proc::ACTIVATE_SECONDARY_CONTROLS),
                                           put(field::SECONDARY_VM_EXEC_CONTROL, 1u << 31))),
        ok("secondary bits ignored when not activated", put(field::SECONDARY_VM_EXEC_CONTROL, 1u << 31)),
        ok("CR3-target count 4", put(field::CR3_TARGET_COUNT, 4)),
        ctl("CR3-target count 5", put(field::CR3_TARGET_COUNT, 5)),
        ok("I/O bitmaps aligned", both(orv(field::CPU_BASED_VM_EXEC_CONTROL, proc::USE_IO_BITMAPS),
                                       both(put(field::IO_BITMAP_A, 0x50000), put(field::IO_BITMAP_B, 0x51000)))),
        ctl("I/O bitmap A unaligned", both(orv(field::CPU_BASED_VM_EXEC_CONTROL, proc::USE_IO_BITMAPS),
                                           both(put(field::IO_BITMAP_A, 0x50010), put(field::IO_BITMAP_B, 0x51000)))),
        ctl("I/O bitmap B beyond width", both(orv(field::CPU_BASED_VM_EXEC_CONTROL, proc::USE_IO_BITMAPS),
                                              both(put(field::IO_BITMAP_A, 0x50000), put(field::IO_BITMAP_B, u64{1} << 48)))),
        ok("MSR bitmap aligned", both(orv(field::CPU_BASED_VM_EXEC_CONTROL, proc::USE_MSR_BITMAPS), put(field::MSR_BITMAP, 0x52000))),
        ctl("MSR bitmap unaligned", both(orv(field::CPU_BASED_VM_EXEC_CONTROL, proc::USE_MSR_BITMAPS), put(field::MSR_BITMAP, 0x52800))),
        ok("TPR shadow with aligned virtual-APIC page", both(orv(field::CPU_BASED_VM_EXEC_CONTROL, proc::USE_TPR_SHADOW),
                                                             put(field::VIRTUAL_APIC_PAGE_ADDR, 0x53000))),
        ctl("TPR shadow with unaligned virtual-APIC page", both(orv(field::CPU_BASED_VM_EXEC_CONTROL, proc::USE_TPR_SHADOW),
                                                                put(field::VIRTUAL_APIC_PAGE_ADDR, 0x53008))),
        ctl("TPR threshold bits 31:4", both(orv(field::CPU_BASED_VM_EXEC_CONTROL, proc::USE_TPR_SHADOW),
                                            both(put(field::VIRTUAL_APIC_PAGE_ADDR, 0x53000), put(field::TPR_THRESHOLD, 0x10)))),
        ctl("TPR threshold above VTPR", both(orv(field::CPU_BASED_VM_EXEC_CONTROL, proc::USE_TPR_SHADOW),
                                             both(put(field::VIRTUAL_APIC_PAGE_ADDR, 0x53000), put(field::TPR_THRESHOLD, 0x2)))),
        ctl("MSR-store area unaligned", both(put(field::VM_EXIT_MSR_STORE_COUNT, 1), put(field::VM_EXIT_MSR_STORE_ADDR, 0x54008))),
        ok("MSR-load area aligned", both(put(field::VM_EXIT_MSR_LOAD_COUNT, 2), put(field::VM_EXIT_MSR_LOAD_ADDR, 0x54010))),
        ctl("MSR-load area ends beyond width", both(put(field::VM_ENTRY_MSR_LOAD_COUNT, 2),
                                                    put(field::VM_ENTRY_MSR_LOAD_ADDR, (u64{1} << 40) - 16))),
        ctl("VM-exit default-1 bit cleared", clr(field::VM_EXIT_CONTROLS, 0x1)),
        ok("save debug controls may be 0 (TRUE)", clr(field::VM_EXIT_CONTROLS, exit_ctl::SAVE_DEBUG_CONTROLS)),
        ctl("VM-entry default-1 bit cleared", clr(field::VM_ENTRY_CONTROLS, 0x1)),
        ctl("entry to SMM outside SMM", orv(field::VM_ENTRY_CONTROLS, entry_ctl::ENTRY_TO_SMM)),
        // Event injection.
        ok("inject #GP with error code", both(put(field::VM_ENTRY_INTR_INFO_FIELD, make_intr_info(vector::GP, InterruptionType::HARDWARE_EXCEPTION, true)),
                                              put(field::VM_ENTRY_EXCEPTION_ERROR_CODE, 0x10))),
        ctl("inject #GP without error code", put(field::VM_ENTRY_INTR_INFO_FIELD, make_intr_info(vector::GP, InterruptionType::HARDWARE_EXCEPTION, false))),
        ctl("inject #UD with error code", put(field::VM_ENTRY_INTR_INFO_FIELD, make_intr_info(vector::UD, InterruptionType::HARDWARE_EXCEPTION, true))),
        ctl("inject error code bits 31:16", both(put(field::VM_ENTRY_INTR_INFO_FIELD, make_intr_info(vector::GP, InterruptionType::HARDWARE_EXCEPTION, true)),
                                                 put(field::VM_ENTRY_EXCEPTION_ERROR_CODE, 0x10000))),
        ctl("inject reserved type 1", put(field::VM_ENTRY_INTR_INFO_FIELD, 0x80000120u)),
        ctl("inject NMI with vector 3", put(field::VM_ENTRY_INTR_INFO_FIELD, make_intr_info(3, InterruptionType::NMI, false))),
        ok("inject NMI", put(field::VM_ENTRY_INTR_INFO_FIELD, make_intr_info(vector::NMI, InterruptionType::NMI, false))),
        ctl("inject hardware exception vector 32", put(field::VM_ENTRY_INTR_INFO_FIELD, make_intr_info(32, InterruptionType::HARDWARE_EXCEPTION, false))),
        ctl("inject reserved bits 30:12", put(field::VM_ENTRY_INTR_INFO_FIELD, make_intr_info(vector::UD, InterruptionType::HARDWARE_EXCEPTION, false) | (1u << 20))),
        ok("inject software interrupt with length 2", both(put(field::VM_ENTRY_INTR_INFO_FIELD, make_intr_info(0x80, InterruptionType::SOFTWARE_INTERRUPT, false)),
                                                           put(field::VM_ENTRY_INSTRUCTION_LEN, 2))),
        ctl("inject software interrupt with length 16", both(put(field::VM_ENTRY_INTR_INFO_FIELD, make_intr_info(0x80, InterruptionType::SOFTWARE_INTERRUPT, false)),
                                                             put(field::VM_ENTRY_INSTRUCTION_LEN, 16))),
    };
    run_cases("penryn", Guest::PROTECTED32, cases);
    run_cases("skylake", Guest::PROTECTED32, cases);
}

TEST_CASE("Entry checks: penryn-only and skylake-only controls", "[entry-checks]")
{
    run_cases("penryn", Guest::PROTECTED32, {
        ctl("preemption timer unsupported", orv(field::PIN_BASED_VM_EXEC_CONTROL, pin::PREEMPTION_TIMER)),
        ctl("EPT unsupported", both(orv(field::CPU_BASED_VM_EXEC_CONTROL, proc::ACTIVATE_SECONDARY_CONTROLS),
                                    put(field::SECONDARY_VM_EXEC_CONTROL, proc2::ENABLE_EPT))),
        ctl("load EFER unsupported", orv(field::VM_ENTRY_CONTROLS, entry_ctl::LOAD_EFER)),
        ctl("software interrupt with length 0 (no MISC bit 30)",
            both(put(field::VM_ENTRY_INTR_INFO_FIELD, make_intr_info(0x80, InterruptionType::SOFTWARE_INTERRUPT, false)),
                 put(field::VM_ENTRY_INSTRUCTION_LEN, 0))),
        ok("APIC-access page aligned", both(orv(field::CPU_BASED_VM_EXEC_CONTROL, proc::ACTIVATE_SECONDARY_CONTROLS),
                                            both(put(field::SECONDARY_VM_EXEC_CONTROL, proc2::VIRTUALIZE_APIC_ACCESSES),
                                                 put(field::APIC_ACCESS_ADDR, 0x55000)))),
        ctl("APIC-access page unaligned", both(orv(field::CPU_BASED_VM_EXEC_CONTROL, proc::ACTIVATE_SECONDARY_CONTROLS),
                                               both(put(field::SECONDARY_VM_EXEC_CONTROL, proc2::VIRTUALIZE_APIC_ACCESSES),
                                                    put(field::APIC_ACCESS_ADDR, 0x55001)))),
    });
    auto sec = [](u32 proc2c) {
        return both(orv(field::CPU_BASED_VM_EXEC_CONTROL, proc::ACTIVATE_SECONDARY_CONTROLS),
                    put(field::SECONDARY_VM_EXEC_CONTROL, proc2c));
    };
    run_cases("skylake", Guest::PROTECTED32, {
        ok("preemption timer with save", both(orv(field::PIN_BASED_VM_EXEC_CONTROL, pin::PREEMPTION_TIMER),
                                              orv(field::VM_EXIT_CONTROLS, exit_ctl::SAVE_PREEMPTION_TIMER))),
        ctl("save preemption timer without the timer", orv(field::VM_EXIT_CONTROLS, exit_ctl::SAVE_PREEMPTION_TIMER)),
        ok("VPID 1", both(sec(proc2::ENABLE_VPID), put(field::VIRTUAL_PROCESSOR_ID, 1))),
        ctl("VPID 0", sec(proc2::ENABLE_VPID)),
        ok("EPT with a valid EPTP", both(sec(proc2::ENABLE_EPT), put(field::EPT_POINTER, kEptp))),
        ok("EPTP with A/D enabled", both(sec(proc2::ENABLE_EPT), put(field::EPT_POINTER, kEptp | 0x40))),
        ok("EPTP UC memory type", both(sec(proc2::ENABLE_EPT), put(field::EPT_POINTER, (kEptp & ~u64{7})))),
        ctl("EPTP memory type WT", both(sec(proc2::ENABLE_EPT), put(field::EPT_POINTER, (kEptp & ~u64{7}) | 4))),
        ctl("EPTP walk length 5", both(sec(proc2::ENABLE_EPT), put(field::EPT_POINTER, (kEptp & ~u64{0x38}) | (4 << 3)))),
        ctl("EPTP reserved bit 8", both(sec(proc2::ENABLE_EPT), put(field::EPT_POINTER, kEptp | 0x100))),
        ctl("EPTP beyond width", both(sec(proc2::ENABLE_EPT), put(field::EPT_POINTER, kEptp | (u64{1} << 45)))),
        ctl("unrestricted guest without EPT", sec(proc2::UNRESTRICTED_GUEST)),
        ctl("PML without EPT", both(sec(proc2::ENABLE_PML), put(field::PML_ADDRESS, 0x56000))),
        ctl("x2APIC virtualization without TPR shadow", sec(proc2::VIRTUALIZE_X2APIC)),
        ctl("virtual-interrupt delivery without external-interrupt exiting",
            both(sec(proc2::VIRTUAL_INTERRUPT_DELIVERY), both(orv(field::CPU_BASED_VM_EXEC_CONTROL, proc::USE_TPR_SHADOW),
                                                             put(field::VIRTUAL_APIC_PAGE_ADDR, 0x53000)))),
        ok("software interrupt with length 0 (MISC bit 30)",
           both(put(field::VM_ENTRY_INTR_INFO_FIELD, make_intr_info(0x80, InterruptionType::SOFTWARE_INTERRUPT, false)),
                put(field::VM_ENTRY_INSTRUCTION_LEN, 0))),
        ok("VMCS shadowing with aligned bitmaps", both(sec(proc2::VMCS_SHADOWING),
                                                      both(put(field::VMREAD_BITMAP, 0x57000), put(field::VMWRITE_BITMAP, 0x58000)))),
        ctl("VMCS shadowing with unaligned VMREAD bitmap", both(sec(proc2::VMCS_SHADOWING),
                                                               both(put(field::VMREAD_BITMAP, 0x57004), put(field::VMWRITE_BITMAP, 0x58000)))),
    });
}

TEST_CASE("Entry checks: host state (27.2.2-27.2.4) fails with error 8", "[entry-checks]")
{
    const std::vector<Case> cases = {
        host("HOST_CR0.PE clear", clr(field::HOST_CR0, 1)),
        host("HOST_CR0.NE clear", clr(field::HOST_CR0, 0x20)),
        host("HOST_CR4.VMXE clear", clr(field::HOST_CR4, 0x2000)),
        host("HOST_CR4 unsupported bit", orv(field::HOST_CR4, u64{1} << 23)),
        host("HOST_CR4.PAE clear with 64-bit host", clr(field::HOST_CR4, 0x20)),
        host("HOST_CR3 beyond width", put(field::HOST_CR3, u64{1} << 40)),
        host("HOST_CS null", put(field::HOST_CS_SELECTOR, 0)),
        host("HOST_TR null", put(field::HOST_TR_SELECTOR, 0)),
        host("HOST_SS RPL 3", put(field::HOST_SS_SELECTOR, 0x13)),
        host("HOST_DS TI set", put(field::HOST_DS_SELECTOR, 0x14)),
        ok("HOST_SS null with 64-bit host", put(field::HOST_SS_SELECTOR, 0)),
        host("HOST_FS_BASE not canonical", put(field::HOST_FS_BASE, 0x0000800000000000)),
        host("HOST_GDTR_BASE not canonical", put(field::HOST_GDTR_BASE, 0x8000000000000000)),
        host("HOST_RIP not canonical", put(field::HOST_RIP, 0x00ff800000000000)),
        host("HOST_SYSENTER_EIP not canonical", put(field::HOST_IA32_SYSENTER_EIP, 0x0001000000000000)),
        host("32-bit host in IA-32e mode", clr(field::VM_EXIT_CONTROLS, exit_ctl::HOST_ADDRESS_SPACE_SIZE)),
    };
    run_cases("penryn", Guest::PROTECTED32, cases);
    run_cases("skylake", Guest::PROTECTED32, cases);
    run_cases("skylake", Guest::PROTECTED32, {
        ok("load host PAT", both(orv(field::VM_EXIT_CONTROLS, exit_ctl::LOAD_PAT), put(field::HOST_IA32_PAT, 0x0007040600070406))),
        host("load host PAT with type 2", both(orv(field::VM_EXIT_CONTROLS, exit_ctl::LOAD_PAT), put(field::HOST_IA32_PAT, 0x0007040600070402))),
        ok("load host EFER LMA LME", both(orv(field::VM_EXIT_CONTROLS, exit_ctl::LOAD_EFER), put(field::HOST_IA32_EFER, 0xd01))),
        host("load host EFER without LMA", both(orv(field::VM_EXIT_CONTROLS, exit_ctl::LOAD_EFER), put(field::HOST_IA32_EFER, 0x101))),
        host("load host EFER reserved bit", both(orv(field::VM_EXIT_CONTROLS, exit_ctl::LOAD_EFER), put(field::HOST_IA32_EFER, 0xd03))),
    });
}

TEST_CASE("Entry checks: host address-space size outside IA-32e mode", "[entry-checks]")
{
    VmxFixture f("skylake");
    VmcsStore v(f.memory, f.kVmcs);
    setup_good_vmcs(v, f.profile, Guest::PROTECTED32);
    EntryEnvironment env;
    env.current_efer = 0;  // a 32-bit host
    CHECK(check_vm_entry(v, f.profile, env).error == E::ENTRY_INVALID_HOST_STATE);
    v.set(field::VM_EXIT_CONTROLS, v.get(field::VM_EXIT_CONTROLS) & ~exit_ctl::HOST_ADDRESS_SPACE_SIZE);
    v.set(field::HOST_RIP, u64{0x1000});
    CHECK(check_vm_entry(v, f.profile, env).ok());
    v.set(field::HOST_RIP, 0x1'0000'0000);
    CHECK(check_vm_entry(v, f.profile, env).error == E::ENTRY_INVALID_HOST_STATE);
}

