// Event delivery in real mode and 32-bit protected mode: exact frames,
// resulting registers and the faults delivery raises.
#include "sim/vmx-model/event_delivery.hpp"

#include <catch2/catch.hpp>

#include "tests/event-delivery/fixture.hpp"

using namespace xeno;
using namespace xeno::sim;
using namespace xeno::sim::test;
using Kind = DeliveryResult::Kind;

namespace {

DeliveryState real_state()
{
    DeliveryState s;
    s.cr0 = 0x10;
    const u32 ar = 0x3 | vmx::ar::S | vmx::ar::P;
    s.cs = seg(0x1000, 0xb | vmx::ar::S | vmx::ar::P, 0x10000, 0xffff);
    s.ss = seg(0x2000, ar, 0x20000, 0xffff);
    s.ds = s.es = s.fs = s.gs = s.ss;
    s.ldtr = seg(0, 0x82, 0, 0xffff);
    s.tr = seg(0, 0x8b, 0, 0xffff);
    s.idtr_base = 0;
    s.idtr_limit = 0x3ff;
    s.rip = 0x0100;
    s.rsp = 0x0100;
    s.rflags = 0x2 | 0x100 | 0x200 | 0x40000 | 0x10000;  // TF, IF, AC, RF
    return s;
}

}  // namespace

TEST_CASE("real mode INT n goes through the IVT with a FLAGS/CS/IP frame", "[delivery][real]")
{
    FakeMemory m;
    m.put(0x21 * 4, 0x1234, 2);
    m.put(0x21 * 4 + 2, 0xf000, 2);
    DeliveryState s = real_state();
    const DeliveryResult r = deliver_event(s, m, int_n(0x21, 2));
    REQUIRE(r.kind == Kind::DELIVERED);
    // Frame on SS:SP = 0x2000:0x0100: FLAGS at 0xfe, CS at 0xfc, IP at 0xfa.
    CHECK(m.get(0x200fe, 2) == 0x0302);
    CHECK(m.get(0x200fc, 2) == 0x1000);
    CHECK(m.get(0x200fa, 2) == 0x0102);  // past the 2-byte INT 21h
    CHECK(m.writes.size() == 3);
    CHECK(s.rsp == 0x00fa);
    CHECK(s.cs.selector == 0xf000);
    CHECK(s.cs.base == 0xf0000);
    CHECK(s.cs.limit == 0xffff);
    CHECK(s.rip == 0x1234);
    CHECK(s.rflags == 0x2);  // IF, TF, AC and RF cleared
}

TEST_CASE("real mode exception returns to the faulting IP and pushes no error code", "[delivery][real]")
{
    FakeMemory m;
    m.put(13 * 4, 0x5678, 2);
    m.put(13 * 4 + 2, 0x0070, 2);
    DeliveryState s = real_state();
    Event e = hardware(13);
    e.has_error_code = true;
    e.error_code = 0x1234;
    const DeliveryResult r = deliver_event(s, m, e);
    REQUIRE(r.kind == Kind::DELIVERED);
    CHECK(m.get(0x200fa, 2) == 0x0100);
    CHECK(s.rsp == 0x00fa);  // 6 bytes: no error code in real mode
    CHECK(s.cs.base == 0x700);
    CHECK(s.rip == 0x5678);
}

TEST_CASE("real mode SP wraps at 64 KiB and keeps ESP's upper half", "[delivery][real]")
{
    FakeMemory m;
    DeliveryState s = real_state();
    s.rsp = 0x12340000;
    const DeliveryResult r = deliver_event(s, m, external(0x08));
    REQUIRE(r.kind == Kind::DELIVERED);
    CHECK(m.get(0x2fffe, 2) == 0x0302);
    CHECK(m.get(0x2fffa, 2) == 0x0100);
    CHECK(s.rsp == 0x1234fffa);
}

TEST_CASE("real mode vector beyond the IVT limit raises #GP without error code", "[delivery][real]")
{
    FakeMemory m;
    DeliveryState s = real_state();
    s.idtr_limit = 0x86;  // vector 0x21 needs 0x84..0x87
    const DeliveryState before = s;
    const DeliveryResult r = deliver_event(s, m, int_n(0x21));
    REQUIRE(r.kind == Kind::FAULT);
    CHECK(r.fault_vector == 13);
    CHECK_FALSE(r.fault_has_error_code);
    CHECK(same_state(s, before));
    CHECK(m.writes.empty());
}

TEST_CASE("real mode push beyond SS limit raises #SS", "[delivery][real]")
{
    FakeMemory m;
    DeliveryState s = real_state();
    s.rsp = 1;  // first word would sit at 0xffff..0x10000
    const DeliveryResult r = deliver_event(s, m, external(0x08));
    REQUIRE(r.kind == Kind::FAULT);
    CHECK(r.fault_vector == 12);
    CHECK_FALSE(r.fault_has_error_code);
}

namespace {

void set_gate(FakeMemory& m, u8 vector, u16 selector, u32 offset, u32 type, u32 dpl, bool present = true)
{
    m.put_desc(kIdt + vector * 8u, desc::make_gate(selector, offset, type, dpl, present));
}

}  // namespace

TEST_CASE("32-bit interrupt gate at the same privilege, no error code", "[delivery][protected]")
{
    FakeMemory m;
    build_gdt(m);
    set_gate(m, 0x20, sel::CODE0, 0x00c01000, desc::TYPE_INTERRUPT_GATE32, 0);
    DeliveryState s = protected_state();
    s.rflags = 0x202 | 0x100 | 0x4000 | 0x10000;  // IF, TF, NT, RF
    const DeliveryResult r = deliver_event(s, m, external(0x20));
    REQUIRE(r.kind == Kind::DELIVERED);
    CHECK(m.get(0x7ffc, 4) == (0x202 | 0x100 | 0x4000 | 0x10000));
    CHECK(m.get(0x7ff8, 4) == sel::CODE0);
    CHECK(m.get(0x7ff4, 4) == 0x401000);
    CHECK(s.rsp == 0x7ff4);
    CHECK(s.rip == 0x00c01000);
    CHECK(s.cs.selector == sel::CODE0);
    CHECK(s.ss.selector == sel::DATA0);
    CHECK(s.rflags == 0x2);  // IF, TF, NT, RF cleared
    // Loading CS set the accessed bit, in the descriptor and in AR.
    CHECK((m.get(kGdt + 0x08 + 5, 1) & 1) == 1);
    CHECK(s.cs.ar == (arv::CODE32_0 | 1));
    for (const auto& w : m.writes)
        CHECK(w.supervisor);
}

TEST_CASE("32-bit interrupt gate with an error code", "[delivery][protected]")
{
    FakeMemory m;
    build_gdt(m);
    set_gate(m, 13, sel::CODE0, 0x00c02000, desc::TYPE_INTERRUPT_GATE32, 0);
    DeliveryState s = protected_state();
    Event e = hardware(13);
    e.error_code = 0x28;
    const DeliveryResult r = deliver_event(s, m, e);
    REQUIRE(r.kind == Kind::DELIVERED);
    CHECK(m.get(0x7ffc, 4) == 0x202);
    CHECK(m.get(0x7ff8, 4) == sel::CODE0);
    CHECK(m.get(0x7ff4, 4) == 0x401000);
    CHECK(m.get(0x7ff0, 4) == 0x28);
    CHECK(s.rsp == 0x7ff0);
    CHECK(s.rip == 0x00c02000);
}

TEST_CASE("ring 3 to ring 0 switches to SS0:ESP0 from the 32-bit TSS", "[delivery][protected]")
{
    FakeMemory m;
    build_gdt(m);
    m.put(kTss + 4, 0x9000, 4);       // ESP0
    m.put(kTss + 8, sel::DATA0, 2);   // SS0
    set_gate(m, 0x40, sel::CODE0, 0x00c03000, desc::TYPE_INTERRUPT_GATE32, 0);
    DeliveryState s = ring3_state();
    const DeliveryResult r = deliver_event(s, m, external(0x40));
    REQUIRE(r.kind == Kind::DELIVERED);
    CHECK(m.get(0x8ffc, 4) == sel::DATA3);   // old SS
    CHECK(m.get(0x8ff8, 4) == 0x7000);       // old ESP
    CHECK(m.get(0x8ff4, 4) == 0x202);        // EFLAGS
    CHECK(m.get(0x8ff0, 4) == sel::CODE3);   // old CS
    CHECK(m.get(0x8fec, 4) == 0x401000);     // EIP
    CHECK(s.rsp == 0x8fec);
    CHECK(s.ss.selector == sel::DATA0);
    CHECK(s.ss.ar == arv::DATA32_0);
    CHECK(s.cs.selector == sel::CODE0);
    CHECK(s.rip == 0x00c03000);
    CHECK(s.rflags == 0x2);
    CHECK(s.ds.selector == sel::DATA3);  // data segments untouched outside vm86
}

TEST_CASE("trap gate keeps IF", "[delivery][protected]")
{
    FakeMemory m;
    build_gdt(m);
    set_gate(m, 0x30, sel::CODE0, 0x1000, desc::TYPE_TRAP_GATE32, 0);
    DeliveryState s = protected_state();
    s.rflags = 0x302;  // IF, TF
    REQUIRE(deliver_event(s, m, external(0x30)).kind == Kind::DELIVERED);
    CHECK(s.rflags == 0x202);
}

TEST_CASE("not-present gate raises #NP with the IDT error code", "[delivery][protected]")
{
    FakeMemory m;
    build_gdt(m);
    set_gate(m, 0x31, sel::CODE0, 0x1000, desc::TYPE_INTERRUPT_GATE32, 3, false);
    DeliveryState s = protected_state();
    const DeliveryState before = s;
    DeliveryResult r = deliver_event(s, m, external(0x31));
    REQUIRE(r.kind == Kind::FAULT);
    CHECK(r.fault_vector == 11);
    CHECK(r.fault_has_error_code);
    CHECK(r.fault_error_code == 0x31 * 8 + 2 + 1);  // IDT and EXT
    CHECK(same_state(s, before));

    r = deliver_event(s, m, int_n(0x31));
    REQUIRE(r.kind == Kind::FAULT);
    CHECK(r.fault_vector == 11);
    CHECK(r.fault_error_code == 0x31 * 8 + 2);  // INT n: EXT clear
}

TEST_CASE("INT n through a gate with DPL below CPL raises #GP(vector*8+2)", "[delivery][protected]")
{
    FakeMemory m;
    build_gdt(m);
    set_gate(m, 0x80, sel::CODE0, 0x1000, desc::TYPE_INTERRUPT_GATE32, 0);
    m.put(kTss + 4, 0x9000, 4);
    m.put(kTss + 8, sel::DATA0, 2);
    DeliveryState s = ring3_state();
    const DeliveryResult r = deliver_event(s, m, int_n(0x80));
    REQUIRE(r.kind == Kind::FAULT);
    CHECK(r.fault_vector == 13);
    CHECK(r.fault_error_code == 0x80 * 8 + 2);

    Event int3;
    int3.vector = 3;
    int3.type = vmx::InterruptionType::SOFTWARE_EXCEPTION;
    int3.instruction_length = 1;
    set_gate(m, 3, sel::CODE0, 0x1000, desc::TYPE_INTERRUPT_GATE32, 0);
    CHECK(deliver_event(s, m, int3).fault_error_code == 3 * 8 + 2);

    // A hardware event through the same gate skips the DPL check.
    REQUIRE(deliver_event(s, m, external(0x80)).kind == Kind::DELIVERED);
    CHECK(s.cs.selector == sel::CODE0);
}

TEST_CASE("INT n through a DPL 3 gate returns past the instruction", "[delivery][protected]")
{
    FakeMemory m;
    build_gdt(m);
    set_gate(m, 0x80, sel::CODE0, 0x1000, desc::TYPE_TRAP_GATE32, 3);
    m.put(kTss + 4, 0x9000, 4);
    m.put(kTss + 8, sel::DATA0, 2);
    DeliveryState s = ring3_state();
    REQUIRE(deliver_event(s, m, int_n(0x80, 2)).kind == Kind::DELIVERED);
    CHECK(m.get(0x8fec, 4) == 0x401002);
    CHECK(s.rflags == 0x202);
}

TEST_CASE("conforming handler runs at the current CPL on the current stack", "[delivery][protected]")
{
    FakeMemory m;
    build_gdt(m);
    set_gate(m, 0x41, sel::CONFORMING, 0x2000, desc::TYPE_INTERRUPT_GATE32, 0);
    DeliveryState s = ring3_state();
    REQUIRE(deliver_event(s, m, external(0x41)).kind == Kind::DELIVERED);
    CHECK(s.cs.selector == (sel::CONFORMING | 3));
    CHECK(s.ss.selector == sel::DATA3);
    CHECK(s.rsp == 0x7000 - 12);
    CHECK(m.get(0x6ffc, 4) == 0x202);
    CHECK(m.get(0x6ff8, 4) == sel::CODE3);
    CHECK(m.get(0x6ff4, 4) == 0x401000);
    for (const auto& w : m.writes)
        if (w.linear < 0x7000 && w.linear >= 0x6ff4)
            CHECK_FALSE(w.supervisor);  // CPL 3 pushes are user accesses
}

TEST_CASE("16-bit interrupt gate pushes words", "[delivery][protected]")
{
    FakeMemory m;
    build_gdt(m);
    set_gate(m, 0x42, sel::CODE16, 0x12345678, desc::TYPE_INTERRUPT_GATE16, 0);
    DeliveryState s = protected_state();
    Event e = hardware(13);
    e.error_code = 0xabcd;
    m.put_desc(kIdt + 13 * 8, desc::make_gate(sel::CODE16, 0x0042, desc::TYPE_INTERRUPT_GATE16, 0, true));
    REQUIRE(deliver_event(s, m, e).kind == Kind::DELIVERED);
    CHECK(m.get(0x7ffe, 2) == 0x202);
    CHECK(m.get(0x7ffc, 2) == sel::CODE0);
    CHECK(m.get(0x7ffa, 2) == 0x1000);  // IP: low word of EIP
    CHECK(m.get(0x7ff8, 2) == 0xabcd);
    CHECK(s.rsp == 0x7ff8);
    CHECK(s.rip == 0x42);
    CHECK(s.cs.base == 0x10000);
}

TEST_CASE("a task gate is checked, then reported for the task-switch exit", "[delivery][protected]")
{
    FakeMemory m;
    build_gdt(m);
    DeliveryState s = protected_state();
    s.gdtr_limit = 0x5f;  // room for a second TSS at 0x58
    const DeliveryState before = s;
    SECTION("an available 32-bit TSS: TASK_SWITCH with its selector, state unchanged")
    {
        m.put_desc(kGdt + 0x58, desc::make_segment(0x9000, 0x67, 0x9 | vmx::ar::P));
        set_gate(m, 8, 0x58, 0, desc::TYPE_TASK_GATE, 0);
        const DeliveryResult r = deliver_event(s, m, hardware(8));
        REQUIRE(r.kind == Kind::TASK_SWITCH);
        CHECK(r.task_selector == 0x58);
        CHECK(s.rip == before.rip);
        CHECK(s.rsp == before.rsp);
    }
    SECTION("the gate names the busy current TSS: #GP(selector, EXT)")
    {
        set_gate(m, 8, sel::TSS, 0, desc::TYPE_TASK_GATE, 0);
        const DeliveryResult r = deliver_event(s, m, hardware(8));
        REQUIRE(r.kind == Kind::FAULT);
        CHECK(r.fault_vector == 13);
        CHECK(r.fault_error_code == (sel::TSS | 1u));
    }
    SECTION("a TSS below the minimum limit: #TS; not present: #NP; not a TSS: #GP")
    {
        set_gate(m, 8, 0x58, 0, desc::TYPE_TASK_GATE, 0);
        m.put_desc(kGdt + 0x58, desc::make_segment(0x9000, 0x60, 0x9 | vmx::ar::P));
        CHECK(deliver_event(s, m, hardware(8)).fault_vector == 10);
        m.put_desc(kGdt + 0x58, desc::make_segment(0x9000, 0x67, 0x9));
        CHECK(deliver_event(s, m, hardware(8)).fault_vector == 11);
        m.put_desc(kGdt + 0x58, desc::make_segment(0, 0xffffffff, arv::DATA32_0));
        CHECK(deliver_event(s, m, hardware(8)).fault_vector == 13);
    }
}

TEST_CASE("vector beyond the IDT limit and bad handler CS raise #GP", "[delivery][protected]")
{
    FakeMemory m;
    build_gdt(m);
    DeliveryState s = protected_state();
    s.idtr_limit = 0x20 * 8 + 6;
    DeliveryResult r = deliver_event(s, m, external(0x20));
    CHECK(r.fault_vector == 13);
    CHECK(r.fault_error_code == 0x20 * 8 + 3);

    s = protected_state();
    set_gate(m, 0x21, sel::DATA0, 0x1000, desc::TYPE_INTERRUPT_GATE32, 0);  // data segment as CS
    r = deliver_event(s, m, external(0x21));
    CHECK(r.fault_vector == 13);
    CHECK(r.fault_error_code == (sel::DATA0 | 1));

    set_gate(m, 0x22, 0, 0x1000, desc::TYPE_INTERRUPT_GATE32, 0);  // null CS
    r = deliver_event(s, m, external(0x22));
    CHECK(r.fault_vector == 13);
    CHECK(r.fault_error_code == 1);

    set_gate(m, 0x23, 0x100, 0x1000, desc::TYPE_INTERRUPT_GATE32, 0);  // beyond the GDT
    r = deliver_event(s, m, int_n(0x23));
    CHECK(r.fault_vector == 13);
    CHECK(r.fault_error_code == 0x100);
}

TEST_CASE("privilege change faults: TSS limit, SS not present", "[delivery][protected]")
{
    FakeMemory m;
    build_gdt(m);
    set_gate(m, 0x40, sel::CODE0, 0x1000, desc::TYPE_INTERRUPT_GATE32, 0);
    DeliveryState s = ring3_state();
    s.tr.limit = 8;  // ESP0/SS0 need bytes 4..9
    DeliveryResult r = deliver_event(s, m, external(0x40));
    CHECK(r.fault_vector == 10);
    CHECK(r.fault_error_code == (sel::TSS | 1));

    s = ring3_state();
    m.put(kTss + 4, 0x9000, 4);
    m.put(kTss + 8, sel::DATA0_NP, 2);
    r = deliver_event(s, m, external(0x40));
    CHECK(r.fault_vector == 12);
    CHECK(r.fault_error_code == (sel::DATA0_NP | 1));

    m.put(kTss + 8, sel::DATA3, 2);  // SS DPL 3 for a ring-0 handler
    r = deliver_event(s, m, external(0x40));
    CHECK(r.fault_vector == 10);
    CHECK(r.fault_error_code == (sel::DATA3 & ~3u | 1));
}

TEST_CASE("stack faults during the push: #SS(EXT) on limit, #PF with CR2", "[delivery][protected]")
{
    FakeMemory m;
    build_gdt(m);
    set_gate(m, 0x20, sel::CODE0, 0x1000, desc::TYPE_INTERRUPT_GATE32, 0);
    DeliveryState s = protected_state();
    s.ss.limit = 0xffff;
    s.ss.ar = 0x3 | vmx::ar::S | vmx::ar::P | vmx::ar::DB;
    s.rsp = 8;  // 12 bytes do not fit above offset 0
    const DeliveryState before = s;
    DeliveryResult r = deliver_event(s, m, external(0x20));
    REQUIRE(r.kind == Kind::FAULT);
    CHECK(r.fault_vector == 12);
    CHECK(r.fault_error_code == 1);
    CHECK(same_state(s, before));
    CHECK(m.writes.empty());  // the room check comes before any write

    // Expand-down stack: offsets must lie above the limit.
    s.ss.ar = 0x7 | vmx::ar::S | vmx::ar::P | vmx::ar::DB;
    s.ss.limit = 0x7ff7;
    s.rsp = 0x8000;
    r = deliver_event(s, m, external(0x20));
    CHECK(r.fault_vector == 12);
    s.ss.limit = 0x7ff3;
    CHECK(deliver_event(s, m, external(0x20)).kind == Kind::DELIVERED);

    s = protected_state();
    m.trap(0x7ff0, 0x10);  // the page under ESP faults
    const DeliveryState before_pf = s;
    r = deliver_event(s, m, external(0x20));
    REQUIRE(r.kind == Kind::FAULT);
    CHECK(r.fault_vector == 14);
    CHECK(r.fault_error_code == 2);  // supervisor write, not present
    CHECK(r.memory.address == 0x7ffc);
    CHECK(same_state(s, before_pf));
}

TEST_CASE("EPT violation on the IDT read is a memory exit", "[delivery][protected]")
{
    FakeMemory m;
    build_gdt(m);
    set_gate(m, 0x20, sel::CODE0, 0x1000, desc::TYPE_INTERRUPT_GATE32, 0);
    m.trap(kIdt + 0x20 * 8, 8, MemFault::EPT_VIOLATION);
    DeliveryState s = protected_state();
    const DeliveryResult r = deliver_event(s, m, external(0x20));
    CHECK(r.kind == Kind::MEMORY_EXIT);
    CHECK(r.memory.fault == MemFault::EPT_VIOLATION);
    CHECK(r.memory.address == kIdt + 0x20 * 8);
}
