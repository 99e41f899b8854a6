// The hypervisor's side of the guest's PV console and XenStore, as Xen's
// console daemon and xenstored would be (docs/xen-abi.md), and console_io.
// Both rings sit in guest RAM the guest can change at any moment: indices
// are read once, checked, and bytes are copied before they are used.
#include "core/domain.hpp"
#include "core/log.hpp"
#include "hal/console.hpp"
#include "hal/memory.hpp"
#include "public/console.hpp"
#include "public/xs_wire.hpp"
#include "xen/guest_access.hpp"
#include "xen/hypercall.hpp"
#include "xen/xen_domain.hpp"
#include "xen/xenstore.hpp"

namespace xeno::xen {

namespace {

constexpr u64 kMaxConsoleWrite = 16 * 1024 * 1024;
constexpr usize kConsoleChunk = 256;  // bytes per continuation step of console_io write

template <class T>
T* ring_at(Domain& d, u64 gfn)
{
    Result<Hpa> h = d.p2m().translate(Gpa::from_frame(gfn));
    return h.ok() ? static_cast<T*>(hal::machine_to_virt(h.value())) : nullptr;
}

}  // namespace

void XenDomain::service_console()
{
    if (!console_connected_) LogLine{}.str("xen: the guest uses its PV console ring");
    console_connected_ = true;
    xencons_interface* ring = ring_at<xencons_interface>(domain_, kConsoleRingGfn);
    if (!ring) return;
    bool notify = false;
    // Output: what the guest produced since the last look.
    const u32 prod = __atomic_load_n(&ring->out_prod, __ATOMIC_ACQUIRE);
    u32 cons = __atomic_load_n(&ring->out_cons, __ATOMIC_RELAXED);
    if (xencons_queued(prod, cons) > sizeof ring->out) cons = prod - sizeof ring->out;  // a lying producer: keep the last ring's worth
    char text[sizeof ring->out];
    usize n = 0;
    for (; cons != prod; ++cons) text[n++] = ring->out[mask_xencons_idx(cons, sizeof ring->out)];
    if (n) {
        hal::console_write(hal::Channel::GUEST_CONSOLE, text, n);
        __atomic_store_n(&ring->out_cons, cons, __ATOMIC_RELEASE);
        notify = true;
    }
    // Input: console input the guest has room for.
    const u32 in_cons = __atomic_load_n(&ring->in_cons, __ATOMIC_ACQUIRE);
    u32 in_prod = __atomic_load_n(&ring->in_prod, __ATOMIC_RELAXED);
    if (xencons_queued(in_prod, in_cons) <= sizeof ring->in) {
        u8 byte;
        while (xencons_space(in_prod, in_cons, sizeof ring->in) > 0 && console_read(&byte, 1) == 1) {
            ring->in[mask_xencons_idx(in_prod++, sizeof ring->in)] = static_cast<char>(byte);
            notify = true;
        }
        __atomic_store_n(&ring->in_prod, in_prod, __ATOMIC_RELEASE);
    }
    if (notify) {
        hal::machine_memory_written(domain_.p2m().translate(Gpa::from_frame(kConsoleRingGfn)).value(), kPageSize);
        set_pending(kConsolePort);
    }
}

void XenDomain::service_store()
{
    xenstore_domain_interface* ring = ring_at<xenstore_domain_interface>(domain_, kStoreRingGfn);
    if (!ring || !store_) return;
    if (!store_connected_) LogLine{}.str("xen: the guest uses the XenStore ring");
    store_connected_ = true;
    if (store_->service(*ring)) {
        hal::machine_memory_written(domain_.p2m().translate(Gpa::from_frame(kStoreRingGfn)).value(), kPageSize);
        set_pending(kStorePort);
    }
}

usize XenDomain::console_read(u8* out, usize length)
{
    const u8* input = domain_.serial_input();
    const usize total = domain_.serial_input_length();
    usize n = 0;
    while (n < length && console_input_used_ < total) out[n++] = input[console_input_used_++];
    return n;
}

i64 do_console_io(Hypercall& call)
{
    Vcpu& v = call.vcpu;
    const u64 count = call.arg[1];
    const u64 buffer = call.arg[2];
    switch (call.arg[0]) {
    case consoleio::write: {
        if (count > kMaxConsoleWrite) return -err::XEN_EINVAL;
        // A chunk per step; a longer write continues with the rest, so
        // interrupts are delivered between the steps.
        char chunk[kConsoleChunk];
        const usize n = count < kConsoleChunk ? static_cast<usize>(count) : kConsoleChunk;
        if (const int r = copy_from_guest(v, chunk, buffer, n)) return r;
        hal::console_write(hal::Channel::GUEST_CONSOLE, chunk, n);
        if (n < count) {
            call.arg[1] = count - n;
            call.arg[2] = buffer + n;
            call.preempted = true;
        }
        return 0;
    }
    case consoleio::read: {
        u8 bytes[kConsoleChunk];
        const usize want = count < kConsoleChunk ? static_cast<usize>(count) : kConsoleChunk;
        // Check the buffer first: input taken is not given back.
        u8 probe = 0;
        if (want && copy_from_guest(v, &probe, buffer, 1) != 0) return -err::XEN_EFAULT;
        const usize n = v.domain().xen().console_read(bytes, want);
        if (const int r = copy_to_guest(v, buffer, bytes, n)) return r;
        return static_cast<i64>(n);
    }
    default: return -err::XEN_ENOSYS;
    }
}

}  // namespace xeno::xen
