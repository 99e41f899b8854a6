// Shared by the entry-check tests: a table runner that breaks one thing at a
// time in a known-good VMCS (good_vmcs.hpp) and checks the SDM's outcome.
#pragma once

#include <catch2/catch.hpp>

#include <functional>
#include <vector>

#include "sim/vmx-model/entry_checks.hpp"
#include "tests/vmx-model/good_vmcs.hpp"
#include "vmx_fixture.hpp"

namespace xeno::sim::test {

using namespace xeno::vmx;
using S = EntryCheckStatus;
using E = VmInstructionError;

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
