// The balloon's changes to a running domain's physical memory map
// (arch/x86/vmx/physmap.hpp): all-or-nothing extents, the tables the
// processor walks following the p2m, and frames taken away while another
// vcpu runs the guest on another CPU waiting in the quarantine until no CPU
// can reach them. The sim build runs every vcpu on one CPU, so the
// quarantine is driven here by setting in_guest as a second CPU would; the
// hypercalls themselves are covered by the xen-abi scenario.
#include <catch2/catch.hpp>

#include <memory>
#include <vector>

#include "arch/x86/paging/ept.hpp"
#include "arch/x86/paging/phys_mode_pt.hpp"
#include "arch/x86/vmx/physmap.hpp"
#include "arch/x86/vmx/vmx_caps.hpp"
#include "core/cmdline.hpp"
#include "core/domain.hpp"
#include "core/vcpu.hpp"
#include "hal/memory.hpp"
#include "tests/sim_parts.hpp"

using namespace xeno;

namespace {

constexpr u64 kGuestBytes = 4u << 20;

struct Machine {
    test::SimParts parts{"skylake", 32u << 20};
    mm::FrameAllocator frames;
    Options options;
    Domain domain;
    vmx::VmxCaps caps{};  // no INVEPT: the flushes are the model's business, not this test's
    std::vector<std::unique_ptr<Vcpu>> vcpus;

    explicit Machine(u32 count) : options(with_smp(count)), domain(options)
    {
        const MemoryRegion regions[] = {{0, 32u << 20, MemoryRegion::Type::USABLE}};
        REQUIRE(frames.init(regions, 1, nullptr, 0, &hal::machine_to_virt) == Status::OK);
        REQUIRE(domain.build_memory(frames, kGuestBytes) == Status::OK);
        for (u32 i = 0; i < count; ++i) {
            vcpus.push_back(std::make_unique<Vcpu>(domain, caps, i));
            REQUIRE(domain.add_vcpu(*vcpus.back()) == Status::OK);
        }
    }
    static Options with_smp(u32 count)
    {
        Options o;
        o.smp = count;
        return o;
    }
    Vcpu& vcpu(u32 i) { return domain.vcpu(i); }
    u64 mfn(u64 gfn) const { return domain.p2m().mfn(gfn); }
};

constexpr u64 kInvalid = mm::P2m::kInvalidMfn;

}  // namespace

TEST_CASE("physmap: frames leave and come back, all or nothing", "[physmap]")
{
    Machine m(1);
    Vcpu& v = m.vcpu(0);
    mm::Reservation& r = m.domain.reservation();
    const u64 ram = kGuestBytes >> kPageShift;
    CHECK(r.populated == ram);
    CHECK(r.maximum == ram);

    const u64 free_before = m.frames.free_frames();
    const u64 old = m.mfn(0x200);
    REQUIRE(vmx::physmap_remove(v, 0x200, 4) == Status::OK);
    CHECK(r.flush_pending);
    CHECK(v.physmap_seen == 0);  // this CPU invalidates after the batch
    vmx::physmap_flush(v);
    CHECK_FALSE(r.flush_pending);
    for (u64 g = 0x200; g < 0x204; ++g) CHECK(m.mfn(g) == kInvalid);
    CHECK(m.mfn(0x1ff) != kInvalid);
    CHECK(m.mfn(0x204) != kInvalid);
    CHECK(r.populated == ram - 4);
    CHECK(m.frames.free_frames() == free_before + 4);  // one CPU: freed at once
    CHECK(m.frames.is_free(old));
    CHECK(r.generation == 1);
    CHECK(v.physmap_seen == 1);

    // An extent with one frame already gone, or reaching past RAM: nothing.
    CHECK(vmx::physmap_remove(v, 0x1fe, 4) == Status::BAD_ARGUMENT);
    CHECK(m.mfn(0x1fe) != kInvalid);
    CHECK(vmx::physmap_remove(v, ram - 2, 4) == Status::BAD_ARGUMENT);
    CHECK(m.mfn(ram - 1) != kInvalid);
    CHECK(vmx::physmap_remove(v, ~u64{0} - 1, 4) == Status::BAD_ARGUMENT);
    CHECK(vmx::physmap_populate(v, 0x1ff, 2) == Status::BAD_ARGUMENT);  // 0x1ff has RAM
    CHECK(m.mfn(0x200) == kInvalid);
    CHECK(vmx::physmap_populate(v, ram, 1) == Status::BAD_ARGUMENT);    // past RAM
    CHECK(r.populated == ram - 4);

    // Back, zeroed, counted.
    u8* bytes = static_cast<u8*>(hal::machine_to_virt(Hpa::from_frame(m.mfn(0x1ff))));
    bytes[0] = 0xaa;
    REQUIRE(vmx::physmap_populate(v, 0x200, 4) == Status::OK);
    CHECK(r.populated == ram);
    for (u64 g = 0x200; g < 0x204; ++g) {
        REQUIRE(m.mfn(g) != kInvalid);
        const u8* p = static_cast<const u8*>(hal::machine_to_virt(Hpa::from_frame(m.mfn(g))));
        u32 nonzero = 0;
        for (u64 i = 0; i < kPageSize; ++i) nonzero += p[i] != 0;
        CHECK(nonzero == 0);
    }
    CHECK(m.frames.free_frames() == free_before);
    CHECK(r.generation == 1);  // adding needs no one else to invalidate
}

TEST_CASE("physmap: the domain's EPT and physical-mode tables follow the p2m", "[physmap]")
{
    Machine m(2);
    Vcpu& v = m.vcpu(0);
    paging::EptBuilder ept(m.frames, &hal::machine_to_virt);
    REQUIRE(ept.create_root() == Status::OK);
    REQUIRE(ept.map_p2m(m.domain.p2m()) == Status::OK);
    m.domain.eptp = paging::make_eptp(ept.root());
    v.eptp = m.vcpu(1).eptp = m.domain.eptp;
    REQUIRE(ept.lookup(Gpa{0x300000}).ok());
    REQUIRE(vmx::physmap_remove(v, 0x300, 1) == Status::OK);
    CHECK(ept.lookup(Gpa{0x300000}).status() == Status::NOT_FOUND);
    CHECK(ept.lookup(Gpa{0x301000}).ok());
    REQUIRE(vmx::physmap_populate(v, 0x300, 1) == Status::OK);
    REQUIRE(ept.lookup(Gpa{0x300000}).ok());
    CHECK((ept.lookup(Gpa{0x300000}).value() & paging::ept::ADDRESS_MASK) >> kPageShift == m.mfn(0x300));

    Machine s(2);
    paging::PhysModeTables pt[2] = {{s.frames, &hal::machine_to_virt}, {s.frames, &hal::machine_to_virt}};
    for (u32 i = 0; i < 2; ++i) {
        REQUIRE(pt[i].create_root() == Status::OK);
        REQUIRE(pt[i].map_p2m(s.domain.p2m()) == Status::OK);
        s.vcpu(i).phys_mode_root = pt[i].root();
    }
    REQUIRE(vmx::physmap_remove(s.vcpu(1), 0x123, 1) == Status::OK);
    for (u32 i = 0; i < 2; ++i) CHECK(pt[i].lookup(0x123).status() == Status::NOT_FOUND);
    REQUIRE(vmx::physmap_populate(s.vcpu(1), 0x123, 1) == Status::OK);
    for (u32 i = 0; i < 2; ++i) {
        REQUIRE(pt[i].lookup(0x123).ok());
        CHECK(pt[i].lookup(0x123).value() >> kPageShift == s.mfn(0x123));
    }
}

TEST_CASE("physmap: frames another CPU may still reach wait in the quarantine", "[physmap]")
{
    Machine m(3);
    Vcpu& caller = m.vcpu(0);
    Vcpu& running = m.vcpu(1);  // in guest mode on another CPU
    Vcpu& halted = m.vcpu(2);   // not in guest mode: it invalidates before its next entry
    mm::Reservation& r = m.domain.reservation();
    running.in_guest = true;
    const u64 free_before = m.frames.free_frames();
    const u64 gone = m.mfn(0x280);
    REQUIRE(vmx::physmap_remove(caller, 0x280, 8) == Status::OK);
    vmx::physmap_flush(caller);
    CHECK(caller.physmap_seen == r.generation);
    CHECK(m.mfn(0x280) == kInvalid);
    CHECK(r.quarantined_count == 8);
    CHECK(m.frames.free_frames() == free_before);
    CHECK_FALSE(m.frames.is_free(gone));

    // Another vcpu's entry does not free them while `running` is stale.
    vmx::physmap_sync(halted);
    CHECK(halted.physmap_seen == r.generation);
    CHECK(r.quarantined_count == 8);
    // `running` exits (its exit handler clears in_guest) and re-enters:
    // its own sync invalidates and frees them.
    running.in_guest = false;
    vmx::physmap_sync(running);
    CHECK(running.physmap_seen == r.generation);
    CHECK(r.quarantined_count == 0);
    CHECK(m.frames.free_frames() == free_before + 8);
    CHECK(m.frames.is_free(gone));

    // A vcpu in guest mode that already invalidated holds nothing back.
    running.in_guest = true;
    REQUIRE(vmx::physmap_remove(caller, 0x290, 1) == Status::OK);
    CHECK(r.quarantined_count == 1);
    running.physmap_seen = r.generation;  // (its CPU invalidated)
    vmx::physmap_sync(caller);
    CHECK(r.quarantined_count == 0);
}

TEST_CASE("physmap: a full quarantine refuses the removal and changes nothing", "[physmap]")
{
    Machine m(2);
    Vcpu& caller = m.vcpu(0);
    m.vcpu(1).in_guest = true;
    mm::Reservation& r = m.domain.reservation();
    REQUIRE(vmx::physmap_remove(caller, 0x100, mm::Reservation::kMaxQuarantined - 2) == Status::OK);
    const u64 populated = r.populated, generation = r.generation;
    const u64 kept = m.mfn(0x380);
    CHECK(vmx::physmap_remove(caller, 0x380, 3) == Status::BAD_STATE);
    CHECK(m.mfn(0x380) == kept);
    CHECK(r.populated == populated);
    CHECK(r.generation == generation);
    CHECK(r.quarantined_count == mm::Reservation::kMaxQuarantined - 2);
    REQUIRE(vmx::physmap_remove(caller, 0x380, 2) == Status::OK);  // what still fits
    CHECK(r.quarantined_count == mm::Reservation::kMaxQuarantined);
}
