// fuzz-entry-checks: random VMCS contents through the VMX model's VM-entry
// checks (sim/vmx-model/entry_checks*.cpp) on both CPU profiles.
//
// Input: one byte of set-up (profile, starting VMCS, environment), then
// 11-byte edits (op, field index, value) applied to the VMCS or to machine
// memory (where the checks read PDPTEs, the VMCS link pointer and the
// virtual-APIC page). Starting from a known-good VMCS (tests/vmx-model/
// good_vmcs.hpp) lets the fuzzer reach the guest-state checks, which a VMCS
// of random bytes never gets past the control checks to.
//
// Properties: no crash, no sanitizer report, no panic of the model; the
// verdict is well-formed (VMfailValid with error 7 or 8, or an entry failure
// with reason 33 or 34, and the rule named); check_vm_entry is the first
// failure of the controls, host-state and guest-state checks in that order
// (SDM Vol. 3C 27.1-27.3); the checks change neither the VMCS nor memory and
// give the same verdict twice.
//
// Bochs: no Bochs-sampled verdicts exist in the tree (tests/data holds
// Bochs's capability MSRs, which the profiles already mirror), so agreement
// with Bochs is not checked here.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "sim/platform/machine_memory.hpp"
#include "sim/vmx-model/entry_checks.hpp"
#include "tests/vmx-model/good_vmcs.hpp"

using namespace xeno;
using namespace xeno::sim;
using namespace xeno::sim::test;

namespace {

constexpr u64 kMemoryBytes = 512 << 10;  // the good VMCS's pointers (EPTP 0x40000, CR3 0x30000) lie inside
constexpr Hpa kVmcs{0xf000};

[[noreturn]] void fail(const char* what, const EntryCheckResult& r)
{
    std::fprintf(stderr, "fuzz-entry-checks: %s (status %d, error %u, reason %u, check '%s')\n", what,
                 static_cast<int>(r.status), static_cast<unsigned>(r.error), static_cast<unsigned>(r.exit_reason),
                 r.check ? r.check : "(null)");
    std::abort();
}

bool same(const EntryCheckResult& a, const EntryCheckResult& b)
{
    return a.status == b.status && a.error == b.error && a.exit_reason == b.exit_reason &&
           a.qualification == b.qualification && std::strcmp(a.check, b.check) == 0;
}

void check_well_formed(const EntryCheckResult& r)
{
    if (!r.check) fail("no rule named", r);
    switch (r.status) {
    case EntryCheckStatus::OK: return;
    case EntryCheckStatus::VMFAIL_VALID:
        if (r.error != vmx::VmInstructionError::ENTRY_INVALID_CONTROL_FIELD &&
            r.error != vmx::VmInstructionError::ENTRY_INVALID_HOST_STATE)
            fail("VMfailValid with an error other than 7 or 8", r);
        if (r.check[0] == '\0') fail("a failure without the rule's name", r);
        return;
    case EntryCheckStatus::ENTRY_FAILURE:
        if (r.exit_reason != vmx::ExitReason::INVALID_GUEST_STATE && r.exit_reason != vmx::ExitReason::MSR_LOADING)
            fail("an entry failure with a reason other than 33 or 34", r);
        if (r.check[0] == '\0') fail("a failure without the rule's name", r);
        return;
    }
    fail("an unknown status", r);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    static MachineMemory memory(kMemoryBytes);
    if (size < 1) return 0;
    const u8 setup = data[0];
    const CpuProfile& profile = *find_cpu_profile((setup & 1) ? "penryn" : "skylake");
    std::memset(memory.data(), 0, memory.size());
    memory.store<u32>(kVmcs.value(), profile.vmcs_revision());
    VmcsStore v(memory, kVmcs);
    switch ((setup >> 1) & 3) {
    case 0: setup_good_vmcs(v, profile, Guest::PROTECTED32); break;
    case 1: setup_good_vmcs(v, profile, Guest::REAL_UNRESTRICTED); break;
    case 2: setup_good_vmcs(v, profile, Guest::LONG64); break;
    default: break;  // every field zero
    }
    EntryEnvironment env;
    env.memory = (setup & 8) ? nullptr : &memory;
    env.current_efer = (setup & 16) ? 0 : 0xd01;
    env.in_smm = (setup & 32) != 0;

    // Edits: op (low 2 bits), field index or memory slot (16 bits), value (64 bits).
    for (std::size_t at = 1; at + 11 <= size; at += 11) {
        const u8 op = data[at] & 3;
        u16 index;
        u64 value;
        std::memcpy(&index, data + at + 1, 2);
        std::memcpy(&value, data + at + 3, 8);
        const u32 encoding = vmx::kVmcsFieldTable[index % vmx::kVmcsFieldCount].encoding;
        switch (op) {
        case 0: v.set(encoding, value); break;
        case 1: v.set(encoding, v.get(encoding) ^ value); break;
        case 2: v.set(encoding, v.get(encoding) & ~value); break;
        default: {  // a quadword of memory outside the VMCS page
            u64 slot = (u64{index} * 8) % kMemoryBytes;
            if (slot >= kVmcs.value() && slot < kVmcs.value() + 0x1000) slot += 0x1000;
            memory.store<u64>(slot, value);
            break;
        }
        }
    }

    static std::vector<u8> before(kMemoryBytes);  // static: a fresh 512 KiB block per input would dominate the run time
    std::memcpy(before.data(), memory.data(), kMemoryBytes);
    const EntryCheckResult r = check_vm_entry(v, profile, env);
    check_well_formed(r);
    if (std::memcmp(before.data(), memory.data(), memory.size()) != 0) fail("the checks changed memory or the VMCS", r);
    if (!same(r, check_vm_entry(v, profile, env))) fail("a second check gave another verdict", r);

    // The whole is its parts, in the SDM's order.
    EntryCheckResult first = check_entry_controls(v, profile, env);
    if (first.ok()) first = check_host_state(v, profile, env);
    if (first.ok()) first = check_guest_state(v, profile, env);
    if (!same(r, first)) fail("check_vm_entry is not controls, host, guest in order", r);
    if (r.status == EntryCheckStatus::VMFAIL_VALID &&
        (r.error == vmx::VmInstructionError::ENTRY_INVALID_CONTROL_FIELD) != !check_entry_controls(v, profile, env).ok())
        fail("error 7 without a failed control check", r);
    return 0;
}
