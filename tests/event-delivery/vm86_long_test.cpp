// Event delivery from virtual-8086 mode and in IA-32e mode, and the
// double-fault escalation table.
#include "sim/vmx-model/event_delivery.hpp"

#include <catch2/catch.hpp>

#include "tests/event-delivery/fixture.hpp"

using namespace xeno;
using namespace xeno::sim;
using namespace xeno::sim::test;
using Kind = DeliveryResult::Kind;

namespace {

constexpr u64 kVm = u64{1} << 17;
constexpr u64 kVif = u64{1} << 19;
constexpr u64 kIopl3 = u64{3} << 12;

DeliveryState vm86_state(u64 iopl_bits)
{
    DeliveryState s = protected_state();
    s.cs = seg(0x1000, arv::VM86 | 0x8, 0x10000, 0xffff);
    s.ss = seg(0x2000, arv::VM86, 0x20000, 0xffff);
    s.ds = seg(0x3000, arv::VM86, 0x30000, 0xffff);
    s.es = seg(0x4000, arv::VM86, 0x40000, 0xffff);
    s.fs = seg(0x5000, arv::VM86, 0x50000, 0xffff);
    s.gs = seg(0x6000, arv::VM86, 0x60000, 0xffff);
    s.rip = 0x0200;
    s.rsp = 0x0100;
    s.rflags = 0x202 | kVm | iopl_bits;
    return s;
}

void ring0_stack(FakeMemory& m)
{
    m.put(kTss + 4, 0x9000, 4);
    m.put(kTss + 8, sel::DATA0, 2);
}

void set_gate(FakeMemory& m, u8 vector, u16 selector, u32 offset, u32 type, u32 dpl)
{
    m.put_desc(kIdt + vector * 8u, desc::make_gate(selector, offset, type, dpl, true));
}

void set_redirection_bit(FakeMemory& m, u8 vector)
{
    const u64 at = kTss + kIoMapBase - 32 + vector / 8;
    m.put(at, m.get(at, 1) | (1u << (vector % 8)), 1);
}

}  // namespace

TEST_CASE("vm86 exception goes to ring 0 with the vm86 frame", "[delivery][vm86]")
{
    FakeMemory m;
    build_gdt(m);
    ring0_stack(m);
    set_gate(m, 13, sel::CODE0, 0xc0001000, desc::TYPE_INTERRUPT_GATE32, 0);
    DeliveryState s = vm86_state(0);
    Event e = hardware(13);
    e.error_code = 0;
    const DeliveryResult r = deliver_event(s, m, e);
    REQUIRE(r.kind == Kind::DELIVERED);
    CHECK(m.get(0x8ffc, 4) == 0x6000);  // GS
    CHECK(m.get(0x8ff8, 4) == 0x5000);  // FS
    CHECK(m.get(0x8ff4, 4) == 0x3000);  // DS
    CHECK(m.get(0x8ff0, 4) == 0x4000);  // ES
    CHECK(m.get(0x8fec, 4) == 0x2000);  // SS
    CHECK(m.get(0x8fe8, 4) == 0x0100);  // ESP
    CHECK(m.get(0x8fe4, 4) == (0x202 | kVm));
    CHECK(m.get(0x8fe0, 4) == 0x1000);  // CS
    CHECK(m.get(0x8fdc, 4) == 0x0200);  // EIP
    CHECK(m.get(0x8fd8, 4) == 0);       // error code
    CHECK(s.rsp == 0x8fd8);
    CHECK(s.rip == 0xc0001000);
    CHECK(s.rflags == 0x2);  // VM and IF cleared
    CHECK(s.cs.selector == sel::CODE0);
    CHECK(s.ss.selector == sel::DATA0);
    for (const DeliverySegment* d : {&s.ds, &s.es, &s.fs, &s.gs}) {
        CHECK(d->selector == 0);
        CHECK((d->ar & vmx::ar::UNUSABLE) != 0);
    }
}

TEST_CASE("vm86 handler must be ring 0 non-conforming code", "[delivery][vm86]")
{
    FakeMemory m;
    build_gdt(m);
    ring0_stack(m);
    set_gate(m, 0x20, sel::CONFORMING, 0x1000, desc::TYPE_INTERRUPT_GATE32, 0);
    DeliveryState s = vm86_state(0);
    const DeliveryResult r = deliver_event(s, m, external(0x20));
    CHECK(r.fault_vector == 13);
    CHECK(r.fault_error_code == (sel::CONFORMING | 1));
}

TEST_CASE("vm86 INT n without VME: IOPL 3 uses the IDT, IOPL < 3 is #GP(0)", "[delivery][vm86]")
{
    FakeMemory m;
    build_gdt(m);
    ring0_stack(m);
    set_gate(m, 0x21, sel::CODE0, 0x2000, desc::TYPE_TRAP_GATE32, 3);

    DeliveryState s = vm86_state(kIopl3);  // method 1
    REQUIRE(deliver_event(s, m, int_n(0x21)).kind == Kind::DELIVERED);
    CHECK(m.get(0x8fe4, 4) == (0x202 | kVm | kIopl3));  // EFLAGS
    CHECK(m.get(0x8fdc, 4) == 0x0202);                  // EIP past INT 21h
    CHECK(s.rsp == 0x8fdc);
    CHECK(s.rip == 0x2000);

    s = vm86_state(0);  // method 2
    const DeliveryState before = s;
    const DeliveryResult r = deliver_event(s, m, int_n(0x21));
    REQUIRE(r.kind == Kind::FAULT);
    CHECK(r.fault_vector == 13);
    CHECK(r.fault_has_error_code);
    CHECK(r.fault_error_code == 0);
    CHECK(same_state(s, before));

    // IOPL 3 but gate DPL 0: the gate DPL check applies (CPL 3).
    set_gate(m, 0x22, sel::CODE0, 0x2000, desc::TYPE_TRAP_GATE32, 0);
    s = vm86_state(kIopl3);
    CHECK(deliver_event(s, m, int_n(0x22)).fault_error_code == 0x22 * 8 + 2);
}

TEST_CASE("vm86 INT n with VME and a clear redirection bit goes through the IVT", "[delivery][vm86]")
{
    FakeMemory m;
    build_gdt(m);
    m.put(0x21 * 4, 0x5555, 2);
    m.put(0x21 * 4 + 2, 0xc000, 2);
    DeliveryState s = vm86_state(kIopl3);  // method 5
    s.cr4 = 1;
    s.rflags |= 0x100;  // TF
    const DeliveryResult r = deliver_event(s, m, int_n(0x21));
    REQUIRE(r.kind == Kind::DELIVERED);
    CHECK(m.get(0x200fe, 2) == 0x3302);  // FLAGS as they were
    CHECK(m.get(0x200fc, 2) == 0x1000);
    CHECK(m.get(0x200fa, 2) == 0x0202);
    CHECK(s.rsp == 0xfa);
    CHECK(s.cs.selector == 0xc000);
    CHECK(s.cs.base == 0xc0000);
    CHECK(s.rip == 0x5555);
    CHECK(s.rflags == (0x2 | kVm | kIopl3));  // IF and TF cleared, still vm86
    CHECK(s.ss.selector == 0x2000);
    for (const auto& w : m.writes)
        CHECK_FALSE(w.supervisor);
}

TEST_CASE("vm86 VME redirection with IOPL < 3 virtualises IF as VIF", "[delivery][vm86]")
{
    FakeMemory m;
    build_gdt(m);
    m.put(0x10 * 4, 0x0010, 2);
    m.put(0x10 * 4 + 2, 0xc000, 2);
    DeliveryState s = vm86_state(0);  // method 6
    s.cr4 = 1;
    s.rflags |= kVif;
    REQUIRE(deliver_event(s, m, int_n(0x10)).kind == Kind::DELIVERED);
    CHECK(m.get(0x200fe, 2) == 0x3202);  // IF = VIF = 1, IOPL = 3
    CHECK(s.rflags == (0x202 | kVm));    // VIF cleared, IF kept

    s = vm86_state(0);
    s.cr4 = 1;
    s.rflags = 0x202 | kVm;  // VIF clear
    m.writes.clear();
    REQUIRE(deliver_event(s, m, int_n(0x10)).kind == Kind::DELIVERED);
    CHECK(m.get(0x200fe, 2) == 0x3002);
}

TEST_CASE("vm86 VME with a set redirection bit: IDT at IOPL 3, #GP(0) below", "[delivery][vm86]")
{
    FakeMemory m;
    build_gdt(m);
    ring0_stack(m);
    set_redirection_bit(m, 0x13);
    set_gate(m, 0x13, sel::CODE0, 0x3000, desc::TYPE_INTERRUPT_GATE32, 3);

    DeliveryState s = vm86_state(0);  // method 3
    s.cr4 = 1;
    const DeliveryResult r = deliver_event(s, m, int_n(0x13));
    CHECK(r.fault_vector == 13);
    CHECK(r.fault_error_code == 0);

    s = vm86_state(kIopl3);  // method 4
    s.cr4 = 1;
    REQUIRE(deliver_event(s, m, int_n(0x13)).kind == Kind::DELIVERED);
    CHECK(s.rip == 0x3000);
    CHECK(s.rsp == 0x8fdc);  // 9 dwords, no error code
}

namespace {

DeliveryState long_state()
{
    DeliveryState s = protected_state();
    s.cr0 = 0x80000011;
    s.cr4 = 0x20;
    s.efer = 0x500;
    s.cs = seg(sel::CODE64, arv::CODE64_0 | 1);
    s.idtr_limit = 256 * 16 - 1;
    s.rsp = 0x8008;
    return s;
}

void set_gate64(FakeMemory& m, u8 vector, u16 selector, u64 offset, u32 type, u32 dpl, u32 ist = 0)
{
    m.put_desc(kIdt + vector * 16u,
               desc::make_gate(selector, static_cast<u32>(offset), type, dpl, true, ist));
    m.put(kIdt + vector * 16u + 8, offset >> 32, 4);
    m.put(kIdt + vector * 16u + 12, 0, 4);
}

constexpr u64 kHandler = 0xffffffff80001000;

}  // namespace

TEST_CASE("long mode same-privilege frame is aligned and holds SS:RSP", "[delivery][long]")
{
    FakeMemory m;
    build_gdt(m);
    set_gate64(m, 14, sel::CODE64, kHandler, desc::TYPE_INTERRUPT_GATE32, 0);
    DeliveryState s = long_state();
    Event e = hardware(14);
    e.error_code = 0x2;
    REQUIRE(deliver_event(s, m, e).kind == Kind::DELIVERED);
    CHECK(m.get(0x7ff8, 8) == sel::DATA0);
    CHECK(m.get(0x7ff0, 8) == 0x8008);  // RSP before alignment
    CHECK(m.get(0x7fe8, 8) == 0x202);
    CHECK(m.get(0x7fe0, 8) == sel::CODE64);
    CHECK(m.get(0x7fd8, 8) == 0x401000);
    CHECK(m.get(0x7fd0, 8) == 0x2);
    CHECK(s.rsp == 0x7fd0);
    CHECK(s.rip == kHandler);
    CHECK(s.rflags == 0x2);
    CHECK(s.ss.selector == sel::DATA0);
}

TEST_CASE("long mode ring 3 to ring 0 takes RSP0 and nulls SS", "[delivery][long]")
{
    FakeMemory m;
    build_gdt(m);
    m.put(kTss + 4, 0x9008, 8);  // RSP0
    set_gate64(m, 0x80, sel::CODE64, kHandler, desc::TYPE_TRAP_GATE32, 3);
    DeliveryState s = long_state();
    s.cs = seg(sel::CODE64_3, arv::CODE64_3);
    s.ss = seg(sel::DATA3, arv::DATA32_3);
    s.rsp = 0x7003;
    REQUIRE(deliver_event(s, m, int_n(0x80, 2)).kind == Kind::DELIVERED);
    CHECK(m.get(0x8ff8, 8) == sel::DATA3);
    CHECK(m.get(0x8ff0, 8) == 0x7003);
    CHECK(m.get(0x8fe8, 8) == 0x202);
    CHECK(m.get(0x8fe0, 8) == sel::CODE64_3);
    CHECK(m.get(0x8fd8, 8) == 0x401002);
    CHECK(s.rsp == 0x8fd8);
    CHECK(s.cs.selector == sel::CODE64);
    CHECK(s.ss.selector == 0);
    CHECK(s.ss.ar == vmx::ar::UNUSABLE);
    CHECK(s.rflags == 0x202);  // trap gate
}

TEST_CASE("long mode IST switches stacks even without a privilege change", "[delivery][long]")
{
    FakeMemory m;
    build_gdt(m);
    m.put(kTss + 36, 0xa000, 8);  // IST1
    set_gate64(m, 2, sel::CODE64, kHandler, desc::TYPE_INTERRUPT_GATE32, 0, 1);
    DeliveryState s = long_state();
    Event nmi;
    nmi.vector = 2;
    nmi.type = vmx::InterruptionType::NMI;
    REQUIRE(deliver_event(s, m, nmi).kind == Kind::DELIVERED);
    CHECK(m.get(0x9ff8, 8) == sel::DATA0);
    CHECK(m.get(0x9ff0, 8) == 0x8008);
    CHECK(s.rsp == 0x9fd8);
    CHECK(s.ss.selector == sel::DATA0);
}

TEST_CASE("long mode faults: gate type, handler CS, canonical, #PF on push", "[delivery][long]")
{
    FakeMemory m;
    build_gdt(m);
    DeliveryState s = long_state();

    set_gate64(m, 0x20, sel::CODE64, kHandler, desc::TYPE_INTERRUPT_GATE16, 0);
    DeliveryResult r = deliver_event(s, m, external(0x20));
    CHECK(r.fault_vector == 13);
    CHECK(r.fault_error_code == 0x20 * 8 + 3);

    set_gate64(m, 0x21, sel::CODE0, kHandler, desc::TYPE_INTERRUPT_GATE32, 0);  // 32-bit CS
    r = deliver_event(s, m, external(0x21));
    CHECK(r.fault_vector == 13);
    CHECK(r.fault_error_code == (sel::CODE0 | 1));

    set_gate64(m, 0x22, sel::CODE64, 0x0000800000000000, desc::TYPE_INTERRUPT_GATE32, 0);
    r = deliver_event(s, m, external(0x22));
    CHECK(r.fault_vector == 13);
    CHECK(r.fault_error_code == 1);

    s.idtr_limit = 0x23 * 16 + 14;
    r = deliver_event(s, m, external(0x23));
    CHECK(r.fault_vector == 13);
    CHECK(r.fault_error_code == 0x23 * 8 + 3);

    s = long_state();
    set_gate64(m, 0x24, sel::CODE64, kHandler, desc::TYPE_INTERRUPT_GATE32, 0);
    m.trap(0x7000, 0x1000);
    const DeliveryState before = s;
    r = deliver_event(s, m, external(0x24));
    REQUIRE(r.kind == Kind::FAULT);
    CHECK(r.fault_vector == 14);
    CHECK(r.fault_error_code == 2);
    CHECK(r.memory.address == 0x7ff8);
    CHECK(same_state(s, before));
}

TEST_CASE("combine() follows SDM Table 6-5", "[delivery][escalation]")
{
    using EK = EscalationResult::Kind;
    CHECK(is_contributory(0));
    CHECK(is_contributory(10));
    CHECK(is_contributory(11));
    CHECK(is_contributory(12));
    CHECK(is_contributory(13));
    CHECK_FALSE(is_contributory(14));
    CHECK_FALSE(is_contributory(6));
    CHECK_FALSE(is_contributory(2));

    // Benign first: the second is delivered.
    CHECK(combine(1, 13).kind == EK::DELIVER_SECOND);
    CHECK(combine(6, 14).kind == EK::DELIVER_SECOND);
    CHECK(combine(0x30, 13).vector == 13);
    // Contributory first.
    CHECK(combine(13, 6).kind == EK::DELIVER_SECOND);
    CHECK(combine(13, 11).kind == EK::DOUBLE_FAULT);
    CHECK(combine(0, 10).vector == 8);
    CHECK(combine(12, 14).kind == EK::DELIVER_SECOND);
    // Page fault first.
    CHECK(combine(14, 6).kind == EK::DELIVER_SECOND);
    CHECK(combine(14, 13).kind == EK::DOUBLE_FAULT);
    CHECK(combine(14, 14).kind == EK::DOUBLE_FAULT);
    // Double fault first: shutdown.
    CHECK(combine(8, 13).kind == EK::TRIPLE_FAULT);
    CHECK(combine(8, 14).kind == EK::TRIPLE_FAULT);

    // INT 13 is a software interrupt, not a contributory exception.
    CHECK(combine(int_n(13), 13).kind == EK::DELIVER_SECOND);
    CHECK(combine(hardware(13), 13).kind == EK::DOUBLE_FAULT);
}

TEST_CASE("escalate() builds the next event", "[delivery][escalation]")
{
    FakeMemory m;
    build_gdt(m);
    DeliveryState s = protected_state();
    // #GP whose gate is missing: #NP, contributory on contributory -> #DF(0).
    m.put_desc(kIdt + 13 * 8, desc::make_gate(sel::CODE0, 0x1000, desc::TYPE_INTERRUPT_GATE32, 0, false));
    Event gp = hardware(13);
    const DeliveryResult r = deliver_event(s, m, gp);
    REQUIRE(r.fault_vector == 11);
    Event next;
    REQUIRE(escalate(gp, r, next));
    CHECK(next.vector == 8);
    CHECK(next.has_error_code);
    CHECK(next.error_code == 0);

    // External interrupt whose gate is missing: deliver the #NP itself.
    m.put_desc(kIdt + 0x20 * 8, desc::make_gate(sel::CODE0, 0x1000, desc::TYPE_INTERRUPT_GATE32, 0, false));
    const DeliveryResult r2 = deliver_event(s, m, external(0x20));
    REQUIRE(escalate(external(0x20), r2, next));
    CHECK(next.vector == 11);
    CHECK(next.error_code == 0x20 * 8 + 3);

    // #DF that faults: triple fault.
    CHECK_FALSE(escalate(hardware(8), r, next));
}
