// Shared by the entry-check tests: a known-good VMCS for a 32-bit protected-
// mode guest, a real-mode unrestricted guest and a 64-bit guest, and a table
// runner that breaks one thing at a time and checks the SDM's outcome.
#pragma once

#include <catch2/catch.hpp>

#include <functional>
#include <vector>

#include "sim/vmx-model/entry_checks.hpp"
#include "vmx_fixture.hpp"

namespace xeno::sim::test {

using namespace xeno::vmx;
using S = EntryCheckStatus;
using E = VmInstructionError;

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

struct Case {
    const char* name;
    std::function<void(VmcsStore&)> mutate;
    S status;
    u32 code = 0;  // VM-instruction error, or exit reason
    u64 qualification = 0;
};

inline Case ok(const char* name, std::function<void(VmcsStore&)> m) { return {name, std::move(m), S::OK}; }
inline Case ctl(const char* name, std::function<void(VmcsStore&)> m)
{
    return {name, std::move(m), S::VMFAIL_VALID, static_cast<u32>(E::ENTRY_INVALID_CONTROL_FIELD)};
}
inline Case host(const char* name, std::function<void(VmcsStore&)> m)
{
    return {name, std::move(m), S::VMFAIL_VALID, static_cast<u32>(E::ENTRY_INVALID_HOST_STATE)};
}
inline Case guest(const char* name, std::function<void(VmcsStore&)> m, u64 qual = 0)
{
    return {name, std::move(m), S::ENTRY_FAILURE, static_cast<u32>(ExitReason::INVALID_GUEST_STATE), qual};
}

template <class F, class T>
std::function<void(VmcsStore&)> put(F f, T value)
{
    return [=](VmcsStore& v) { v.set(f, static_cast<typename F::Type>(value)); };
}
template <class F>
std::function<void(VmcsStore&)> orv(F f, u64 bits_to_set)
{
    return [=](VmcsStore& v) { v.set(f, static_cast<typename F::Type>(v.get(f) | bits_to_set)); };
}
template <class F>
std::function<void(VmcsStore&)> clr(F f, u64 bits_to_clear)
{
    return [=](VmcsStore& v) { v.set(f, static_cast<typename F::Type>(v.get(f) & ~bits_to_clear)); };
}
inline std::function<void(VmcsStore&)> both(std::function<void(VmcsStore&)> a, std::function<void(VmcsStore&)> b)
{
    return [=](VmcsStore& v) { a(v); b(v); };
}

inline void run_cases(const char* profile, Guest g, const std::vector<Case>& cases)
{
    VmxFixture f(profile);
    EntryEnvironment env;
    env.memory = &f.memory;
    {
        VmcsStore v(f.memory, f.kVmcs);
        setup_good_vmcs(v, f.profile, g);
        const EntryCheckResult r = check_vm_entry(v, f.profile, env);
        INFO("known-good VMCS failed: " << r.check);
        REQUIRE(r.ok());
    }
    for (const Case& c : cases) {
        VmcsStore v(f.memory, f.kVmcs2);
        for (usize i = 0; i < kVmcsFieldCount; ++i) v.set(kVmcsFieldTable[i].encoding, 0);
        setup_good_vmcs(v, f.profile, g);
        c.mutate(v);
        const EntryCheckResult r = check_vm_entry(v, f.profile, env);
        INFO(profile << ": " << c.name << " -> " << r.check);
        CHECK(r.status == c.status);
        if (c.status == S::VMFAIL_VALID) CHECK(static_cast<u32>(r.error) == c.code);
        if (c.status == S::ENTRY_FAILURE) {
            CHECK(static_cast<u32>(r.exit_reason) == c.code);
            CHECK(r.qualification == c.qualification);
            CHECK(r.exit_reason_field() == (0x80000000u | c.code));
        }
    }
}

}  // namespace xeno::sim::test
