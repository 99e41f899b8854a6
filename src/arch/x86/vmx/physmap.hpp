// Changing a running domain's guest-physical memory map: Xen's shared pages
// placed outside RAM, and the balloon (memory_op's reservation operations)
// taking RAM frames away and giving them back.
//
// The p2m is the authority (mm/p2m.hpp); what the processor walks is built
// from it and must follow: the domain's EPT, or under shadow paging the
// shadow cache (which reads the p2m at every fill) and each vcpu's
// physical-mode tables. A frame taken away is unmapped everywhere, and the
// translations this CPU caches are invalidated after the batch
// (physmap_flush) before the guest runs again; a vcpu running the
// guest on another CPU may still reach the frame through its own cached
// translation until it leaves the guest, so such frames wait in the
// domain's quarantine (mm::Reservation) and are freed only when no vcpu of
// an older generation is in guest mode; its CPU invalidates before its
// next entry (physmap_sync). The sim build and shadow paging run every vcpu
// of a domain on one CPU: there frames are freed at once.
#pragma once

#include "core/vcpu.hpp"
#include "lib/status.hpp"
#include "lib/types.hpp"

namespace xeno::vmx {

// Place machine frame `frame` at guest frame `gfn`, outside the guest's RAM
// (mm::P2m::map_outside): in the p2m, which shadow paging reads at each
// fill, and in the domain's EPT when it has one (a new entry: nothing
// cached to invalidate on other CPUs; this one flushes the EPTP anyway, as
// the sim's model keeps its own view). Xen's shared pages a guest maps into
// unpopulated address space go here.
Status map_frame_outside_ram(Vcpu& vcpu, u64 gfn, Hpa frame);

// Whether guest frame `gfn` is a place for RAM: inside the p2m's range and
// RAM in the domain's layout (not the MMIO hole, not past the top).
bool physmap_ram_slot(Vcpu& vcpu, u64 gfn);

// Back guest frames [gfn, gfn + count), each a RAM slot with no frame now,
// with fresh zeroed machine frames (below 4 GiB for frames a guest with
// paging off reaches under shadow paging). All or nothing: BAD_ARGUMENT
// when a frame is not such a slot, NO_MEMORY when the machine has too few
// frames (nothing changed then). The caller checks the reservation limit.
Status physmap_populate(Vcpu& vcpu, u64 gfn, u64 count);

// Take guest frames [gfn, gfn + count), each backed RAM, out of the guest
// (the caller has checked that the hypervisor uses none of them). All or
// nothing: BAD_ARGUMENT when one is not backed RAM, BUSY when the
// quarantine cannot take them while other CPUs still run the guest (the
// guest may try again). Afterwards an access there is one to unpopulated
// space (all ones, writes dropped; a fetch ends the domain).
Status physmap_remove(Vcpu& vcpu, u64 gfn, u64 count);

// After a batch of physmap_populate / physmap_remove by `vcpu` (its VMCS
// current), before the guest runs again: invalidate this CPU's
// translations (INVEPT; under shadow paging drop the shadows and rebuild
// the vcpu's address space). Once per batch: a removal of 600 frames is
// one flush. physmap_sync does it too if a caller did not.
void physmap_flush(Vcpu& vcpu);

// Before `vcpu` enters the guest on this CPU (big lock held): invalidate
// this CPU's EPT translations if the domain removed frames since the vcpu
// last did, and free the quarantined frames no CPU can reach any more.
void physmap_sync(Vcpu& vcpu);

}  // namespace xeno::vmx
