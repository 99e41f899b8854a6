// Hardware task switches (SDM Vol. 3A 7.3) as the hypervisor completes them
// after a task-switch VM exit: CALL and IRET (nesting, back link, NT, busy
// flags), JMP, a task gate in the IDT with an error code, and the faults.
#include <catch2/catch.hpp>

#include "arch/x86/emulate/emulate.hpp"
#include "fake_machine.hpp"

using namespace xeno;
using namespace xeno::emu;
using namespace xeno::emu::test;

namespace {

constexpr u64 kGdt = 0x5000, kTssA = 0x6000, kTssB = 0x6100, kLdtB = 0x7000;
constexpr u16 kCode = 0x08, kData = 0x10, kSelA = 0x18, kSelB = 0x20, kSelLdt = 0x28, kRing3Code = 0x33,
              kRing3Data = 0x3b;

u64 tss_descriptor(u64 base, bool busy)
{
    return 0x67 | (base & 0xffffff) << 16 | u64{busy ? 0x8bu : 0x89u} << 40 | ((base >> 24) & 0xff) << 56;
}

// Task A runs (TR = A, busy); task B's TSS holds a ring-0 flat state at
// 0x3000 with its own registers, CR3 field and an LDT.
struct Tasks {
    FakeMachine m;
    CpuState s;
    EmulateOps ops = m.ops();

    Tasks()
    {
        m.set(kGdt + 0x08, 8, 0x00cf9a000000ffffull);
        m.set(kGdt + 0x10, 8, 0x00cf92000000ffffull);
        m.set(kGdt + kSelA, 8, tss_descriptor(kTssA, true));
        m.set(kGdt + kSelB, 8, tss_descriptor(kTssB, false));
        m.set(kGdt + kSelLdt, 8, 0x0000820070000fffull | (kLdtB & 0xffffff) << 16);
        m.set(kGdt + 0x30, 8, 0x00cffa000000ffffull);  // ring-3 code
        m.set(kGdt + 0x38, 8, 0x00cff2000000ffffull);  // ring-3 data
        s = flat32_state(0x1000);
        s.gdtr = {kGdt, 0x3f};
        s.tr = Segment{kSelA, kTssA, 0x67, 0x8b};
        for (unsigned i = 0; i < 8; ++i) s.gpr[i] = 0xa0 + i;
        s.rflags = flag::FIXED1 | flag::IF | flag::CF;
        // B: EIP 0x3000, EFLAGS with ZF, registers 0xb0.., flat ring-0 segments.
        m.set(kTssB + 0x1c, 4, 0x9000);  // CR3 (paging is off: not loaded)
        m.set(kTssB + 0x20, 4, 0x3000);
        m.set(kTssB + 0x24, 4, flag::FIXED1 | flag::ZF);
        for (unsigned i = 0; i < 8; ++i) m.set(kTssB + 0x28 + 4 * i, 4, 0xb0 + i);
        const u16 sels[6] = {kData, kCode, kData, kData, 0, kData};
        for (unsigned i = 0; i < 6; ++i) m.set(kTssB + 0x48 + 4 * i, 2, sels[i]);
        m.set(kTssB + 0x60, 2, kSelLdt);
    }

    EmulateResult to_b(TaskSwitchSource source, u64 return_rip, bool ec = false, u32 code = 0)
    {
        TaskSwitchRequest r;
        r.selector = kSelB;
        r.source = source;
        r.return_rip = return_rip;
        r.has_error_code = ec;
        r.error_code = code;
        return task_switch(s, ops, r);
    }
    bool busy(u16 sel) const { return (m.get(kGdt + sel + 5, 1) & 2) != 0; }
};

}  // namespace

TEST_CASE("task switch: CALL nests (back link, NT, both busy), IRET returns and saves the callee")
{
    Tasks t;
    const EmulateResult r = t.to_b(TaskSwitchSource::CALL, 0x1007);
    REQUIRE(r.outcome == EmulateOutcome::OK);
    CHECK((r.effects & effect::TASK_SWITCHED) != 0);
    // The old task's dynamic fields.
    CHECK(t.m.get(kTssA + 0x20, 4) == 0x1007);
    CHECK(t.m.get(kTssA + 0x24, 4) == (flag::FIXED1 | flag::IF | flag::CF));
    CHECK(t.m.get(kTssA + 0x28 + 4 * RBX, 4) == 0xa3);
    CHECK(t.m.get(kTssA + 0x48 + 4 * 1, 2) == kCode);
    // The new task.
    CHECK(t.s.rip == 0x3000);
    CHECK(t.s.gpr[RSP] == 0xb4);
    CHECK(t.s.rflags == (flag::FIXED1 | flag::ZF | flag::NT));
    CHECK(t.s.tr.selector == kSelB);
    CHECK(t.s.tr.base == kTssB);
    CHECK((t.s.tr.ar & 0xf) == 0xb);
    CHECK((t.s.cr0 & cr0::TS) != 0);
    CHECK(t.s.cr3 == 0);  // paging off: CR3 not loaded
    CHECK(t.s.ldtr.selector == kSelLdt);
    CHECK(t.s.ldtr.base == kLdtB);
    CHECK(t.s.sreg(Seg::CS).selector == kCode);
    CHECK(t.s.sreg(Seg::CS).limit == 0xffffffff);
    CHECK((t.s.sreg(Seg::FS).ar & 0x10000) != 0);  // a null selector: unusable
    CHECK(t.m.get(kTssB, 2) == kSelA);              // back link
    CHECK(t.busy(kSelA));
    CHECK(t.busy(kSelB));

    // B returns with IRET (NT set): back to A through the back link.
    t.s.gpr[RAX] = 0x1234;
    TaskSwitchRequest back;
    back.selector = kSelA;
    back.source = TaskSwitchSource::IRET;
    back.return_rip = 0x3010;
    REQUIRE(task_switch(t.s, t.ops, back).outcome == EmulateOutcome::OK);
    CHECK(t.s.rip == 0x1007);
    CHECK(t.s.gpr[RBX] == 0xa3);
    CHECK(t.s.rflags == (flag::FIXED1 | flag::IF | flag::CF));  // A's own, NT clear
    CHECK(t.s.tr.selector == kSelA);
    CHECK(t.m.get(kTssB + 0x20, 4) == 0x3010);
    CHECK(t.m.get(kTssB + 0x28, 4) == 0x1234);
    CHECK((t.m.get(kTssB + 0x24, 4) & flag::NT) == 0);  // saved with NT cleared
    CHECK_FALSE(t.busy(kSelB));
    CHECK(t.busy(kSelA));
}

TEST_CASE("task switch: JMP frees the old task; no back link, no NT")
{
    Tasks t;
    t.m.set(kTssB, 2, 0x7777);
    REQUIRE(t.to_b(TaskSwitchSource::JMP, 0x1005).outcome == EmulateOutcome::OK);
    CHECK_FALSE(t.busy(kSelA));
    CHECK(t.busy(kSelB));
    CHECK(t.m.get(kTssB, 2) == 0x7777);
    CHECK((t.s.rflags & flag::NT) == 0);
    CHECK(t.s.rip == 0x3000);
}

TEST_CASE("task switch: a task gate in the IDT pushes the exception's error code on the new stack")
{
    Tasks t;
    t.m.set(kTssB + 0x38, 4, 0x8000);  // ESP
    REQUIRE(t.to_b(TaskSwitchSource::IDT_GATE, 0x1000, true, 0x5a).outcome == EmulateOutcome::OK);
    CHECK(t.s.gpr[RSP] == 0x7ffc);
    CHECK(t.m.get(0x7ffc, 4) == 0x5a);
    CHECK(t.m.get(kTssA + 0x20, 4) == 0x1000);  // a fault saves the faulting EIP
    CHECK(t.m.get(kTssB, 2) == kSelA);
    CHECK((t.s.rflags & flag::NT) != 0);
}

TEST_CASE("task switch: paging on loads CR3 from the new TSS; a ring-3 task gets CPL 3")
{
    Tasks t;
    t.s.cr0 |= cr0::PG;
    const u16 sels[6] = {kRing3Data, kRing3Code, kRing3Data, kRing3Data, kRing3Data, kRing3Data};
    for (unsigned i = 0; i < 6; ++i) t.m.set(kTssB + 0x48 + 4 * i, 2, sels[i]);
    REQUIRE(t.to_b(TaskSwitchSource::JMP, 0x1005).outcome == EmulateOutcome::OK);
    CHECK(t.s.cr3 == 0x9000);
    CHECK(cpl(t.s) == 3);
    CHECK((t.s.sreg(Seg::SS).ar & 0x60) == 0x60);
}

TEST_CASE("task switch: faults before the switch change nothing, faults after it belong to the new task")
{
    SECTION("the new TSS is busy (CALL): #GP(selector), nothing written")
    {
        Tasks t;
        t.m.set(kGdt + kSelB, 8, tss_descriptor(kTssB, true));
        const CpuState before = t.s;
        const unsigned writes = t.m.writes;
        const EmulateResult r = t.to_b(TaskSwitchSource::CALL, 0x1007);
        REQUIRE(r.outcome == EmulateOutcome::EXCEPTION);
        CHECK(r.vector == 13);
        CHECK(r.error_code == kSelB);
        CHECK((r.effects & effect::TASK_SWITCHED) == 0);
        CHECK(t.s.rip == before.rip);
        CHECK(t.s.tr.selector == kSelA);
        CHECK(t.m.writes == writes);
    }
    SECTION("IRET to an available TSS: #TS(selector)")
    {
        Tasks t;
        TaskSwitchRequest r;
        r.selector = kSelB;
        r.source = TaskSwitchSource::IRET;
        const EmulateResult e = task_switch(t.s, t.ops, r);
        REQUIRE(e.outcome == EmulateOutcome::EXCEPTION);
        CHECK(e.vector == 10);
        CHECK(e.error_code == kSelB);
    }
    SECTION("a TSS limit below 0x67: #TS; not present: #NP; a 16-bit TSS: unhandled")
    {
        Tasks t;
        t.m.set(kGdt + kSelB, 8, tss_descriptor(kTssB, false) - 0x67 + 0x60);
        CHECK(t.to_b(TaskSwitchSource::JMP, 0).vector == 10);
        t.m.set(kGdt + kSelB, 8, tss_descriptor(kTssB, false) & ~(u64{0x80} << 40));
        CHECK(t.to_b(TaskSwitchSource::JMP, 0).vector == 11);
        t.m.set(kGdt + kSelB, 8, (tss_descriptor(kTssB, false) & ~(u64{0xf} << 40)) | u64{1} << 40);
        CHECK(t.to_b(TaskSwitchSource::JMP, 0).outcome == EmulateOutcome::UNHANDLED);
    }
    SECTION("a new task whose CS is a data segment: #TS(CS) in the new task")
    {
        Tasks t;
        t.m.set(kTssB + 0x48 + 4, 2, kData);
        const EmulateResult r = t.to_b(TaskSwitchSource::JMP, 0x1005);
        REQUIRE(r.outcome == EmulateOutcome::EXCEPTION);
        CHECK(r.vector == 10);
        CHECK(r.error_code == kData);
        CHECK((r.effects & effect::TASK_SWITCHED) != 0);
        CHECK(t.s.tr.selector == kSelB);       // switched
        CHECK(t.s.rip == 0x3000);
        CHECK(t.m.get(kTssA + 0x20, 4) == 0x1005);  // the old task was saved
    }
    SECTION("in IA-32e mode there are no task switches: #GP(0)")
    {
        Tasks t;
        t.s = long64_state(0x1000);
        t.s.gdtr = {kGdt, 0x3f};
        const EmulateResult r = t.to_b(TaskSwitchSource::JMP, 0);
        REQUIRE(r.outcome == EmulateOutcome::EXCEPTION);
        CHECK(r.vector == 13);
    }
}

TEST_CASE("emulated far CALL to a TSS and IRET with NT switch tasks; JMP through a task gate too")
{
    Tasks t;
    t.m.put(0x1000, {0x9a, 0x00, 0x00, 0x00, 0x00, kSelB, 0x00});  // call 0x20:0
    t.m.put(0x3000, {0xcf});                                       // iretd (NT set by the CALL)
    EmulateResult r = emulate_one(t.s, t.ops);
    REQUIRE(r.outcome == EmulateOutcome::OK);
    CHECK((r.effects & effect::TASK_SWITCHED) != 0);
    CHECK(t.s.tr.selector == kSelB);
    CHECK(t.s.rip == 0x3000);
    CHECK((t.s.rflags & flag::NT) != 0);
    CHECK(t.m.get(kTssA + 0x20, 4) == 0x1007);  // the return point: after the CALL
    r = emulate_one(t.s, t.ops);
    REQUIRE(r.outcome == EmulateOutcome::OK);
    CHECK(t.s.tr.selector == kSelA);
    CHECK(t.s.rip == 0x1007);
    CHECK(t.m.get(kTssB + 0x20, 4) == 0x3001);
    CHECK_FALSE(t.busy(kSelB));

    // JMP through a task gate (GDT slot 0x40, DPL 0) to B again.
    t.m.set(kGdt + 0x40, 8, u64{kSelB} << 16 | u64{0x85} << 40);
    t.s.gdtr.limit = 0x47;
    t.m.put(0x1007, {0xea, 0x00, 0x00, 0x00, 0x00, 0x40, 0x00});  // jmp 0x40:0
    r = emulate_one(t.s, t.ops);
    REQUIRE(r.outcome == EmulateOutcome::OK);
    CHECK(t.s.tr.selector == kSelB);
    CHECK(t.s.rip == 0x3001);  // B resumes after its IRET
    CHECK_FALSE(t.busy(kSelA));
    CHECK((t.s.rflags & flag::NT) == 0);
}

TEST_CASE("emulated far JMP to a TSS whose new task faults: the fault is the new task's")
{
    Tasks t;
    t.m.set(kTssB + 0x48 + 4 * 2, 2, kCode);  // SS = a code segment: #TS(SS)
    t.m.put(0x1000, {0xea, 0x00, 0x00, 0x00, 0x00, kSelB, 0x00});
    const EmulateResult r = emulate_one(t.s, t.ops);
    REQUIRE(r.outcome == EmulateOutcome::EXCEPTION);
    CHECK(r.vector == 10);
    CHECK(r.error_code == kCode);
    CHECK(t.s.tr.selector == kSelB);
    CHECK(t.s.rip == 0x3000);
    CHECK(t.m.get(kTssA + 0x20, 4) == 0x1007);
}
