// A known-good VMCS for a 32-bit protected-mode guest, a real-mode
// unrestricted guest and a 64-bit guest, on any profile: the starting point of
// the entry-check tests (entry_check_cases.hpp) and of fuzz/fuzz_entry_checks.cpp.
#pragma once

#include "arch/x86/vmx/vmcs_field.hpp"
#include "arch/x86/vmx/vmx_arch.hpp"
#include "sim/vmx-model/cpu_profile.hpp"
#include "sim/vmx-model/vmcs_store.hpp"

namespace xeno::sim::test {

using namespace xeno::vmx;

enum class Guest { PROTECTED32, REAL_UNRESTRICTED, LONG64 };

inline constexpr u64 kEptp = 0x40000 | (3 << 3) | 6;

inline void set_segment(VmcsStore& v, unsigned i, u16 sel, u64 base, u32 limit, u32 ar)
{
    v.set(0x0800 + 2 * i, sel);
    v.set(0x6806 + 2 * i, base);
    v.set(0x4800 + 2 * i, limit);
    v.set(0x4814 + 2 * i, ar);
}

inline void setup_good_vmcs(VmcsStore& v, const CpuProfile& p, Guest g)
{
    // Controls: the required (allowed-0) bits, plus what the guest needs.
    u32 procc = allowed0(p.vmx.procbased_ctls) | proc::HLT_EXITING;
    u32 proc2c = 0;
    u32 entryc = allowed0(p.vmx.entry_ctls);
    if (g == Guest::REAL_UNRESTRICTED) {
        procc |= proc::ACTIVATE_SECONDARY_CONTROLS;
        proc2c = proc2::ENABLE_EPT | proc2::UNRESTRICTED_GUEST;
        v.set(field::EPT_POINTER, kEptp);
    }
    if (g == Guest::LONG64) entryc |= entry_ctl::IA32E_MODE_GUEST;
    v.set(field::PIN_BASED_VM_EXEC_CONTROL, allowed0(p.vmx.pinbased_ctls));
    v.set(field::CPU_BASED_VM_EXEC_CONTROL, procc);
    v.set(field::SECONDARY_VM_EXEC_CONTROL, proc2c);
    v.set(field::VM_EXIT_CONTROLS, allowed0(p.vmx.exit_ctls) | exit_ctl::HOST_ADDRESS_SPACE_SIZE);
    v.set(field::VM_ENTRY_CONTROLS, entryc);

    // Host: 64-bit.
    v.set(field::HOST_CR0, 0x80050033);
    v.set(field::HOST_CR3, 0x1000);
    v.set(field::HOST_CR4, 0x26a0);
    v.set(field::HOST_CS_SELECTOR, 0x08);
    v.set(field::HOST_SS_SELECTOR, 0x10);
    v.set(field::HOST_DS_SELECTOR, 0x10);
    v.set(field::HOST_ES_SELECTOR, 0x10);
    v.set(field::HOST_TR_SELECTOR, 0x18);
    v.set(field::HOST_TR_BASE, 0x2000);
    v.set(field::HOST_GDTR_BASE, 0x1000);
    v.set(field::HOST_IDTR_BASE, 0x3000);
    v.set(field::HOST_RIP, 0xffffffff80001000);
    v.set(field::HOST_RSP, 0xffffffff80008000);

    // Guest.
    v.set(field::VMCS_LINK_POINTER, ~u64{0});
    v.set(field::GUEST_DR7, 0x400);
    v.set(field::GUEST_RFLAGS, 0x2);
    v.set(field::GUEST_CR3, 0x30000);
    v.set(field::GUEST_GDTR_LIMIT, 0x27);
    v.set(field::GUEST_IDTR_LIMIT, 0x7ff);
    set_segment(v, 6, 0, 0, 0, ar::UNUSABLE);                 // LDTR
    switch (g) {
    case Guest::PROTECTED32:
        v.set(field::GUEST_CR0, 0x80000031);  // PE ET NE PG
        v.set(field::GUEST_CR4, 0x2000);
        set_segment(v, 1, 0x08, 0, 0xffffffff, 0xc09b);  // CS: code, accessed, 32-bit, 4 KiB granular
        for (unsigned i : {0u, 2u, 3u, 4u, 5u}) set_segment(v, i, 0x10, 0, 0xffffffff, 0xc093);
        set_segment(v, 7, 0x18, 0x1000, 0x67, 0x8b);  // TR: busy 32-bit TSS
        v.set(field::GUEST_RIP, 0x100000);
        break;
    case Guest::REAL_UNRESTRICTED:
        v.set(field::GUEST_CR0, 0x30);  // ET NE
        v.set(field::GUEST_CR4, 0x2000);
        set_segment(v, 1, 0xf000, 0xf0000, 0xffff, 0x9b);
        for (unsigned i : {0u, 2u, 3u, 4u, 5u}) set_segment(v, i, 0, 0, 0xffff, 0x93);
        set_segment(v, 7, 0, 0, 0xffff, 0x8b);
        v.set(field::GUEST_RIP, 0xfff0);
        break;
    case Guest::LONG64:
        v.set(field::GUEST_CR0, 0x80000031);
        v.set(field::GUEST_CR4, 0x2020);  // PAE VMXE
        v.set(field::GUEST_IA32_EFER, 0x500);
        set_segment(v, 1, 0x08, 0, 0xffffffff, 0xa09b);  // L=1 D=0
        for (unsigned i : {0u, 2u, 3u, 4u, 5u}) set_segment(v, i, 0x10, 0, 0xffffffff, 0xc093);
        set_segment(v, 7, 0x18, 0x1000, 0x67, 0x8b);
        v.set(field::GUEST_RIP, 0xffffffff80000000);
        break;
    }
}

}  // namespace xeno::sim::test
