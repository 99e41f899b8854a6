// Guest memory as hypercalls reach it: every guest pointer a hypercall takes
// is a guest-linear address of the calling vcpu, translated through its page
// tables (guest-physical with paging off), and must end in the domain's
// RAM. A range that does not translate, that reaches MMIO, a hole or past
// the end of RAM, or that the guest's page tables do not let a supervisor
// write, gives -EFAULT, under EPT and shadow paging alike, and nothing is
// copied then: each page is checked before a byte moves.
//
// The vcpu's VMCS must be current (the hypercall runs in its exit handler).
#pragma once

#include "core/vcpu.hpp"
#include "lib/types.hpp"

namespace xeno::xen {

// 0, or -EFAULT.
int copy_from_guest(Vcpu& vcpu, void* dst, u64 linear, usize length);
int copy_to_guest(Vcpu& vcpu, u64 linear, const void* src, usize length);

template <class T>
int get_guest(Vcpu& vcpu, u64 linear, T* out)
{
    return copy_from_guest(vcpu, out, linear, sizeof(T));
}
template <class T>
int put_guest(Vcpu& vcpu, u64 linear, const T& value)
{
    return copy_to_guest(vcpu, linear, &value, sizeof(T));
}

// 0 if the guest could be written at every byte of [linear, linear +
// length) (nothing is written), else -EFAULT: an operation checks its
// output first, so that it fails before it changes anything.
int check_guest_writable(Vcpu& vcpu, u64 linear, usize length);

// The guest-physical address of `linear` for a hypercall (write access when
// `write`), or false.
bool translate_guest(Vcpu& vcpu, u64 linear, bool write, u64* gpa);

// Whether guest frame `gfn` is the domain's RAM (where shared structures may go).
bool guest_ram_frame(Vcpu& vcpu, u64 gfn);

}  // namespace xeno::xen
