#include "xen/guest_access.hpp"

#include "arch/x86/paging/guest_walk_p2m.hpp"
#include "arch/x86/vmx/guest_state.hpp"
#include "arch/x86/vmx/shadow_paging.hpp"
#include "arch/x86/vmx/vmcs.hpp"
#include "core/domain.hpp"
#include "hal/memory.hpp"
#include "public/xen.hpp"

namespace xeno::xen {

namespace {

constexpr int kFault = -err::XEN_EFAULT;

// The calling vcpu's paging state. Under EPT the guest's CR3 and PDPTEs
// are in the VMCS (the walker then reads the PDPTEs from memory, as a
// PAE guest's tables say); under shadow paging the vcpu keeps them.
paging::PagingState hypercall_paging_state(Vcpu& v)
{
    paging::PagingState s = vmx::guest_paging_state(v);
    if (v.paging == GuestPaging::EPT) {
        s.cr3 = vmx::vmcs_read(vmx::field::GUEST_CR3);
        s.pdptes_loaded = false;
    }
    s.cpl = 0;  // the hypervisor copies on the guest kernel's behalf
    s.rflags_ac = true;  // as Xen's copies: SMAP does not stop them
    return s;
}

bool translate(Vcpu& v, u64 linear, bool write, bool update_ad, u64* gpa);

// Whether every page of [linear, linear + length) translates for the
// access: a look only (the guest's accessed and dirty flags stay as they are).
int check_range(Vcpu& v, u64 linear, usize length, bool write)
{
    if (length == 0) return 0;
    if (linear + (length - 1) < linear) return kFault;
    u64 gpa = 0;
    for (u64 page = linear & ~u64{kPageSize - 1}; page <= ((linear + length - 1) & ~u64{kPageSize - 1}); page += kPageSize)
        if (!translate(v, page < linear ? linear : page, write, false, &gpa)) return kFault;
    return 0;
}

// Check every page of [linear, linear + length) first, then copy: a fault
// anywhere leaves everything as it was.
template <class Copy>
int for_each_piece(Vcpu& v, u64 linear, usize length, bool write, Copy&& copy)
{
    if (const int r = check_range(v, linear, length, write)) return r;
    usize done = 0;
    u64 gpa = 0;
    while (done < length) {
        const u64 at = linear + done;
        const usize piece = static_cast<usize>(kPageSize - (at & (kPageSize - 1))) < length - done
                                ? static_cast<usize>(kPageSize - (at & (kPageSize - 1)))
                                : length - done;
        if (!translate(v, at, write, true, &gpa)) return kFault;
        if (!copy(gpa, done, piece)) return kFault;
        done += piece;
    }
    return 0;
}

bool translate(Vcpu& v, u64 linear, bool write, bool update_ad, u64* gpa)
{
    const paging::PagingState s = hypercall_paging_state(v);
    if (vmx::guest_in_64bit_mode(v)) {
        // 4-level paging translates 48 bits: bits 63:47 must all equal
        // bit 47 (SDM Vol. 3A 3.3.7.1), else the access would #GP.
        const u64 top = linear >> 47;
        if (top != 0 && top != (u64{1} << 17) - 1) return false;
    } else {
        linear &= 0xffffffff;  // outside 64-bit mode linear addresses are 32 bits
    }
    u64 address = linear;
    if (paging::paging_mode(s) != paging::PagingMode::NONE) {
        paging::P2mGuestMemory memory(v.domain().p2m(), &hal::machine_to_virt, &hal::machine_memory_written);
        paging::Access access;
        access.type = write ? paging::AccessType::WRITE : paging::AccessType::READ;
        access.update_ad = update_ad;
        const paging::WalkResult r = paging::guest_walk(s, access, Gla{linear}, memory.memory());
        if (r.outcome != paging::WalkOutcome::OK) return false;
        address = r.gpa.value();
    }
    if (!guest_ram_frame(v, address >> kPageShift)) return false;
    *gpa = address;
    return true;
}

}  // namespace

bool translate_guest(Vcpu& v, u64 linear, bool write, u64* gpa) { return translate(v, linear, write, true, gpa); }

bool guest_ram_frame(Vcpu& v, u64 gfn)
{
    const Domain& d = v.domain();
    return d.layout().is_ram(gfn << kPageShift) && d.p2m().mfn(gfn) != mm::P2m::kInvalidMfn;
}

int check_guest_writable(Vcpu& v, u64 linear, usize length) { return check_range(v, linear, length, true); }

int copy_from_guest(Vcpu& v, void* dst, u64 linear, usize length)
{
    u8* out = static_cast<u8*>(dst);
    return for_each_piece(v, linear, length, false, [&](u64 gpa, usize at, usize n) {
        return v.domain().p2m().copy_from_guest(out + at, Gpa{gpa}, n) == Status::OK;
    });
}

int copy_to_guest(Vcpu& v, u64 linear, const void* src, usize length)
{
    const u8* in = static_cast<const u8*>(src);
    return for_each_piece(v, linear, length, true, [&](u64 gpa, usize at, usize n) {
        return v.domain().p2m().copy_to_guest(Gpa{gpa}, in + at, n, &hal::machine_memory_written) == Status::OK;
    });
}

}  // namespace xeno::xen
