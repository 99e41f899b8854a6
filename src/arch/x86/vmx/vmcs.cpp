#include "arch/x86/vmx/vmcs.hpp"

namespace xeno::vmx {

// Plain counters; the hypervisor runs one CPU, one vcpu at a time.
namespace {
u64 g_failures = 0;
u32 g_last_failed = 0;
}  // namespace

u64& vmcs_access_failures() { return g_failures; }
u32& vmcs_last_failed_encoding() { return g_last_failed; }

}  // namespace xeno::vmx
