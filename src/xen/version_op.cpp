// xen_version: what Xen a guest runs on (docs/xen-abi.md).
#include "public/compat.hpp"
#include "public/version.hpp"
#include "xen/guest_access.hpp"
#include "xen/hypercall.hpp"

namespace xeno::xen {

namespace {

// Fixed strings: a run is deterministic, so nothing here depends on when or
// where Xeno was built.
constexpr char kExtraversion[] = ".0-xeno";
constexpr char kCapabilities[] = "hvm-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_32p";
constexpr char kChangeset[] = "xeno";
constexpr u64 kVirtStart = 0xffff800000000000;

// The capabilities answer is 1 KiB: built at compile time rather than on the
// hypervisor's stack.
struct CapabilitiesText {
    xen_capabilities_info_t text;
};
constexpr CapabilitiesText make_capabilities()
{
    CapabilitiesText c{};
    for (usize i = 0; i < sizeof kCapabilities; ++i) c.text[i] = kCapabilities[i];
    return c;
}
constexpr CapabilitiesText kCapabilitiesText = make_capabilities();

template <usize N, usize M>
void fill(char (&out)[N], const char (&text)[M])
{
    static_assert(M <= N);
    __builtin_memset(out, 0, N);
    __builtin_memcpy(out, text, M);
}

u32 feature_submap(u32 index)
{
    if (index != 0) return 0;
    return (1u << xenfeat::writable_page_tables) | (1u << xenfeat::auto_translated_physmap) |
           (1u << xenfeat::hvm_callback_vector) | (1u << xenfeat::hvm_safe_pvclock);
}

}  // namespace

i64 do_xen_version(Hypercall& call)
{
    Vcpu& v = call.vcpu;
    const u64 arg = call.arg[1];
    switch (call.arg[0]) {
    case xenver::version: return xen_version_value(4, 19);
    case xenver::extraversion: {
        xen_extraversion_t text;
        fill(text, kExtraversion);
        return copy_to_guest(v, arg, text, sizeof text);
    }
    case xenver::compile_info: {
        xen_compile_info info;
        fill(info.compiler, "xeno");
        fill(info.compile_by, "xeno");
        fill(info.compile_domain, "xeno");
        fill(info.compile_date, "2026-12-07");
        return put_guest(v, arg, info);
    }
    case xenver::capabilities: return copy_to_guest(v, arg, kCapabilitiesText.text, sizeof kCapabilitiesText.text);
    case xenver::changeset: {
        xen_changeset_info_t text;
        fill(text, kChangeset);
        return copy_to_guest(v, arg, text, sizeof text);
    }
    case xenver::platform_parameters:
        if (!call.long_mode) return put_guest(v, arg, compat::xen_platform_parameters{compat::kHypervisorVirtStart});
        return put_guest(v, arg, xen_platform_parameters{kVirtStart});
    case xenver::get_features: {
        xen_feature_info info;
        if (const int r = get_guest(v, arg, &info)) return r;
        info.submap = feature_submap(info.submap_idx);
        return put_guest(v, arg, info);
    }
    case xenver::pagesize: return kPageSize;
    case xenver::guest_handle: {
        const xen_domain_handle_t handle = {};
        return copy_to_guest(v, arg, handle, sizeof handle);
    }
    case xenver::commandline:
    case xenver::build_id: return -err::XEN_EPERM;  // the privileged domain's
    default: return -err::XEN_ENOSYS;
    }
}

}  // namespace xeno::xen
