// Less common paths: 16-bit TSS, LDT handler selectors, INT1's EXT bit,
// descriptor decoding, events that deliver nothing.
#include "sim/vmx-model/event_delivery.hpp"

#include <catch2/catch.hpp>

#include "tests/event-delivery/fixture.hpp"

using namespace xeno;
using namespace xeno::sim;
using namespace xeno::sim::test;
using Kind = DeliveryResult::Kind;

TEST_CASE("descriptor encode/decode round trip", "[delivery][descriptor]")
{
    const desc::Raw d = desc::make_segment(0x12345678, 0xffffffff, arv::CODE32_3);
    const DeliverySegment s = desc::segment_from_raw(0x1b, d);
    CHECK(s.base == 0x12345678);
    CHECK(s.limit == 0xffffffff);
    CHECK(s.ar == arv::CODE32_3);
    const desc::Raw byte_granular = desc::make_segment(0x10000, 0xffff, arv::CODE16_0);
    CHECK(desc::limit_from_raw(byte_granular) == 0xffff);
    CHECK(byte_granular.lo == 0x0000ffff);
    CHECK(byte_granular.hi == 0x00009b01);

    const desc::Gate g = desc::gate_from_raw(desc::make_gate(0x08, 0xdeadbeef, desc::TYPE_TRAP_GATE32, 3, true));
    CHECK(g.offset == 0xdeadbeef);
    CHECK(g.selector == 0x08);
    CHECK(g.type == 0xf);
    CHECK(g.dpl == 3);
    CHECK(g.present);
    CHECK(g.system);
}

TEST_CASE("ring 3 to ring 0 with a 16-bit TSS", "[delivery][protected]")
{
    FakeMemory m;
    build_gdt(m);
    // 16-bit TSS (7.6, Figure 7-11): SP0 at 2, SS0 at 4.
    m.put_desc(kGdt + 0x28, desc::make_segment(static_cast<u32>(kTss), 0x2b, desc::TYPE_TSS16_BUSY | vmx::ar::P));
    m.put(kTss + 2, 0x9000, 2);
    m.put(kTss + 4, sel::DATA0, 2);
    m.put_desc(kIdt + 0x40 * 8, desc::make_gate(sel::CODE0, 0x1000, desc::TYPE_INTERRUPT_GATE32, 0, true));
    DeliveryState s = ring3_state();
    s.tr = seg(sel::TSS, desc::TYPE_TSS16_BUSY | vmx::ar::P, kTss, 0x2b);
    REQUIRE(deliver_event(s, m, external(0x40)).kind == Kind::DELIVERED);
    CHECK(m.get(0x8ffc, 4) == sel::DATA3);
    CHECK(s.rsp == 0x8fec);

    s = ring3_state();
    s.tr = seg(sel::TSS, desc::TYPE_TSS16_BUSY | vmx::ar::P, kTss, 4);  // SS0 would be at 4..5
    const DeliveryResult r = deliver_event(s, m, external(0x40));
    CHECK(r.fault_vector == 10);
    CHECK(r.fault_error_code == (sel::TSS | 1));
}

TEST_CASE("handler selector in the LDT", "[delivery][protected]")
{
    FakeMemory m;
    build_gdt(m);
    constexpr u64 kLdt = 0x5000;
    m.put_desc(kLdt + 8, desc::make_segment(0, 0xffffffff, arv::CODE32_0));
    m.put_desc(kIdt + 0x50 * 8, desc::make_gate(0x0c, 0x1000, desc::TYPE_INTERRUPT_GATE32, 0, true));
    DeliveryState s = protected_state();
    REQUIRE(deliver_event(s, m, external(0x50)).fault_error_code == (0x0c | 1));  // LDTR unusable

    s.ldtr = seg(0x60, 0x2 | vmx::ar::P, kLdt, 0xf);
    REQUIRE(deliver_event(s, m, external(0x50)).kind == Kind::DELIVERED);
    CHECK(s.cs.selector == 0x0c);
    CHECK((m.get(kLdt + 8 + 5, 1) & 1) == 1);  // accessed bit set in the LDT
}

TEST_CASE("INT1 skips the DPL check, sets EXT and returns past the instruction", "[delivery][protected]")
{
    FakeMemory m;
    build_gdt(m);
    m.put(kTss + 4, 0x9000, 4);
    m.put(kTss + 8, sel::DATA0, 2);
    m.put_desc(kIdt + 1 * 8, desc::make_gate(sel::CODE0, 0x1000, desc::TYPE_INTERRUPT_GATE32, 0, true));
    Event icebp;
    icebp.vector = 1;
    icebp.type = vmx::InterruptionType::PRIVILEGED_SOFTWARE_EXCEPTION;
    icebp.instruction_length = 1;
    DeliveryState s = ring3_state();
    REQUIRE(deliver_event(s, m, icebp).kind == Kind::DELIVERED);
    CHECK(m.get(0x8fec, 4) == 0x401001);

    m.put_desc(kIdt + 1 * 8, desc::make_gate(sel::CODE0, 0x1000, desc::TYPE_INTERRUPT_GATE32, 0, false));
    s = ring3_state();
    CHECK(deliver_event(s, m, icebp).fault_error_code == 1 * 8 + 3);
}

TEST_CASE("MTF (other event) delivers nothing", "[delivery]")
{
    FakeMemory m;
    DeliveryState s = protected_state();
    const DeliveryState before = s;
    Event mtf;
    mtf.type = vmx::InterruptionType::OTHER_EVENT;
    CHECK(deliver_event(s, m, mtf).kind == Kind::DELIVERED);
    CHECK(same_state(s, before));
    CHECK(m.reads.empty());
}

TEST_CASE("accesses outside guest memory are memory exits, state unchanged", "[delivery][real]")
{
    FakeMemory m;
    DeliveryState s;
    s.cr0 = 0x10;
    s.ss = seg(0xf000, 0x3 | vmx::ar::S | vmx::ar::P, 0xf0000, 0xffff);
    s.cs = seg(0, 0xb | vmx::ar::S | vmx::ar::P, 0, 0xffff);
    s.idtr_base = 0x200000;  // beyond the fake memory
    const DeliveryState before = s;
    const DeliveryResult r = deliver_event(s, m, external(8));
    CHECK(r.kind == Kind::MEMORY_EXIT);
    CHECK(r.memory.fault == MemFault::OUTSIDE);
    CHECK(r.memory.address == 0x200020);
    CHECK(same_state(s, before));
}

TEST_CASE("long mode same-privilege delivery at CPL 3 pushes as a user", "[delivery][long]")
{
    FakeMemory m;
    build_gdt(m);
    m.put_desc(kIdt + 0x60 * 16, desc::make_gate(sel::CODE64_3, 0x00401800, desc::TYPE_TRAP_GATE32, 3, true));
    DeliveryState s = protected_state();
    s.cr0 = 0x80000011;
    s.cr4 = 0x20;
    s.efer = 0x500;
    s.idtr_limit = 0xfff;
    s.cs = seg(sel::CODE64_3, arv::CODE64_3);
    s.ss = seg(sel::DATA3, arv::DATA32_3);
    s.rsp = 0x7000;
    m.writes.clear();
    REQUIRE(deliver_event(s, m, int_n(0x60)).kind == Kind::DELIVERED);
    CHECK(s.rsp == 0x7000 - 40);
    CHECK(s.ss.selector == sel::DATA3);
    CHECK(s.cs.selector == sel::CODE64_3);
    unsigned stack_writes = 0;
    for (const auto& w : m.writes) {
        if (w.linear >= 0x6fd8 && w.linear < 0x7000) {
            ++stack_writes;
            CHECK_FALSE(w.supervisor);
        }
    }
    CHECK(stack_writes == 5);
}

TEST_CASE("push_rf sets RF in the saved image only", "[delivery][protected]")
{
    CHECK(exception_sets_rf(13));
    CHECK(exception_sets_rf(14));
    CHECK_FALSE(exception_sets_rf(1));
    CHECK_FALSE(exception_sets_rf(3));
    CHECK_FALSE(exception_sets_rf(8));

    FakeMemory m;
    build_gdt(m);
    m.put_desc(kIdt + 6 * 8, desc::make_gate(sel::CODE0, 0x1000, desc::TYPE_INTERRUPT_GATE32, 0, true));
    DeliveryState s = protected_state();
    Event ud = hardware(6);
    ud.push_rf = true;
    REQUIRE(deliver_event(s, m, ud).kind == Kind::DELIVERED);
    CHECK(m.get(0x7ffc, 4) == (0x202 | 0x10000));
    CHECK(s.rflags == 0x2);
}
