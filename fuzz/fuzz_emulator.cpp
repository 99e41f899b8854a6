// fuzz-emulator: the hypervisor's x86 emulator (src/arch/x86/emulate).
//
// Two kinds of input, chosen by bit 7 of the first byte:
//
// Differential (bit 7 set): the next 8 bytes seed the instruction generator
// of tests/emulate/differential_rig.hpp (the unit test's rig), which makes
// one instruction of a known class with random registers, flags and memory;
// it runs in the emulator and in Unicorn 2.1 in real mode (16-bit), flat
// 32-bit protected mode or 64-bit mode (first byte % 3), and any difference
// the rig does not allow is a crash. The allowed differences, all from
// UNICORN-FACTS.md or QEMU's documented behaviour: the flags the SDM leaves
// undefined for the instruction; #PF from the fake memory against Unicorn's
// "unmapped" error; real-mode segment-limit #GP/#SS (QEMU does not check
// them); #UD reported as UC_ERR_INSN_INVALID; QEMU writing EAX on a
// successful 32-bit CMPXCHG; IDIV of -2^31 or -2^63 (the dividend) by -1,
// which Unicorn executes as a trapping host division (SIGFPE), so the
// emulator's #DE is not compared with it.
//
// Raw (bit 7 clear): the input's bytes ARE the instruction (16 bytes), the
// registers and a list of byte patches over a machine with a GDT, an LDT, an
// IDT (or IVT), two TSSs, a task gate and a call gate, in one of eight modes:
// real, virtual-8086, 32-bit protected at CPL 0 and 3, 16-bit protected,
// compatibility, 64-bit at CPL 0 and 3. It exercises what Unicorn cannot run
// or compare (segment loads, far transfers, INT/IRET, MOV CR, LGDT/LTR, task
// switches, event delivery, and any byte sequence at all), so the emulator
// runs alone and is held to its contract (emulate.hpp) and the architecture's
// invariants instead:
//   - an exception has a vector below 32 and an error code exactly for
//     8, 10-14, 17 and 21; EXCEPTION (unless a task switch happened or a REP
//     string instruction completed iterations), UNHANDLED and IO_NEEDED leave
//     the state as it was; UNHANDLED and IO_NEEDED write no memory;
//   - after OK: RFLAGS bit 1 set and its reserved bits clear; RIP within 32
//     bits outside 64-bit mode; CR0.PG only with CR0.PE; EFER.LMA == CR0.PG &&
//     EFER.LME; in virtual-8086 mode every segment register is base
//     selector*16, limit 0xffff, access rights 0xf3 (what VM entry demands);
//     in real mode a segment register the instruction loaded has base
//     selector*16; in protected mode a CS the instruction loaded is a present
//     code segment, CS.RPL is the CPL and a usable SS has DPL == CPL.
// The first byte's bits 5-6 pick emulate_one (0, 1), deliver_event (2) or
// task_switch (3), the last two with their arguments from the instruction
// bytes.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "arch/x86/emulate/emulator.hpp"
#include "tests/emulate/differential_rig.hpp"

using namespace xeno;
using namespace xeno::emu;
using namespace xeno::emu::test;

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail = "")
{
    std::fprintf(stderr, "fuzz-emulator: %s%s%s\n", what, detail.empty() ? "" : ": ", detail.c_str());
    std::abort();
}

// ---------------------------------------------------------------- differential

void differential(const u8* data, std::size_t size)
{
    if (size < 9) return;
    static const unsigned kBits[3] = {16, 32, 64};
    const unsigned bits = kBits[data[0] % 3];
    u64 seed;
    std::memcpy(&seed, data + 1, 8);
    static std::unique_ptr<Unicorn> engines[3];
    static FakeMachine m = [] {
        FakeMachine f(kData + kDataSize);
        map_like_unicorn(f);
        return f;
    }();
    std::unique_ptr<Unicorn>& u = engines[data[0] % 3];
    if (!u) u = std::make_unique<Unicorn>(bits);

    Generator gen(seed, bits);
    CpuState s = bits == 16 ? real_mode_state(0, static_cast<u16>(kCode)) : bits == 32 ? flat32_state(kCode) : long64_state(kCode);
    gen.randomize(s);
    const Case c = gen.make(s);
    const std::vector<u8> bytes = make_case_data(gen, s, c);
    const CaseResult r = run_case(bits, *u, m, s, c, bytes);
    if (r.verdict == Verdict::DISAGREE) {
        std::fprintf(stderr, "(%u-bit, generator seed 0x%llx)\n", bits, static_cast<unsigned long long>(seed));
        fail("the emulator and Unicorn disagree", r.detail);
    }
}

// ---------------------------------------------------------------- raw machine

constexpr u64 kMemSize = 0x10000;
constexpr u64 kGdt = 0x1000, kLdt = 0x1800, kIdt = 0x2000, kTss = 0x3000, kTss2 = 0x3800;
constexpr u64 kStack = 0x4000;  // 0x4000-0x7fff data and stack
constexpr u64 kRawCode = 0x8000, kHandler = 0x9000;
constexpr u32 kTssLimit = 0x100;  // I/O bitmap from 0x68: ports 0..0x4bf

enum Mode : u8 { REAL, VM86, PROT32, PROT32_CPL3, PROT16, COMPAT, LONG64, LONG64_CPL3 };

// GDT selectors.
constexpr u16 kCode32 = 0x08, kData32 = 0x10, kTssSel = 0x18, kCode64 = 0x20, kCode16 = 0x28, kData16 = 0x30,
              kCode32User = 0x3b, kData32User = 0x43, kCode64User = 0x4b, kTss2Sel = 0x50, kLdtSel = 0x68;

u64 seg_desc(u32 base, u32 limit, u32 access_flags)  // access_flags: bits 47:40 and 55:52 as in desc_ar
{
    return (limit & 0xffff) | (u64{base & 0xffffff} << 16) | (u64{access_flags & 0xff} << 40) |
           (u64{(limit >> 16) & 0xf} << 48) | (u64{(access_flags >> 12) & 0xf} << 52) | (u64{base >> 24} << 56);
}
u64 gate32(u16 selector, u32 offset, u8 type_dpl_p)
{
    return (offset & 0xffff) | (u64{selector} << 16) | (u64{type_dpl_p} << 40) | (u64{offset >> 16} << 48);
}

void put64(FakeMachine& m, u64 at, u64 v) { m.set(at, 8, v); }

void build_machine(FakeMachine& m, Mode mode)
{
    std::memset(m.mem.data(), 0, m.mem.size());
    const u64 gdt[] = {
        0,
        seg_desc(0, 0xfffff, 0xc09b),         // 0x08 code32
        seg_desc(0, 0xfffff, 0xc093),         // 0x10 data32
        seg_desc(kTss, kTssLimit, 0x8b),      // 0x18 TSS32, busy (the current task)
        seg_desc(0, 0xfffff, 0xa09b),         // 0x20 code64
        seg_desc(0, 0xffff, 0x9b),            // 0x28 code16
        seg_desc(0, 0xffff, 0x93),            // 0x30 data16
        seg_desc(0, 0xfffff, 0xc0fb),         // 0x38 code32, DPL 3
        seg_desc(0, 0xfffff, 0xc0f3),         // 0x40 data32, DPL 3
        seg_desc(0, 0xfffff, 0xa0fb),         // 0x48 code64, DPL 3
        seg_desc(kTss2, 0x67, 0x89),          // 0x50 TSS32, available
        u64{kTss2Sel} << 16 | u64{0xe5} << 40,  // 0x58 task gate to 0x50, DPL 3
        gate32(kCode32, kHandler, 0xec),      // 0x60 32-bit call gate, DPL 3
        seg_desc(kLdt, 0x1f, 0x82),           // 0x68 LDT
        seg_desc(0, 0xfffff, 0xc09f),         // 0x70 conforming code32
        seg_desc(0, 0x0fff, 0x4097),          // 0x78 expand-down data32
        seg_desc(0x100, 0xfffff, 0xc09b),     // 0x80 code32 based at 0x100
        seg_desc(0, 0xfffff, 0xc013),         // 0x88 not present data
    };
    for (unsigned i = 0; i < sizeof gdt / sizeof gdt[0]; ++i) put64(m, kGdt + 8 * i, gdt[i]);
    put64(m, kLdt + 0, seg_desc(0x2000, 0xffff, 0x93));  // LDT 0x04: data
    put64(m, kLdt + 8, seg_desc(0, 0xfffff, 0xc09b));    // LDT 0x0c: code32
    put64(m, kLdt + 16, seg_desc(0, 0xfffff, 0xc0f3));   // LDT 0x14: data, DPL 3

    // Interrupt table: the IVT at 0 (real, vm86 reflection), else the IDT.
    const bool long_mode = mode == COMPAT || mode == LONG64 || mode == LONG64_CPL3;
    for (unsigned v = 0; v < 256; ++v) {
        m.set(4 * v, 4, (u32{kHandler >> 4} << 16) | (v & 0xf));  // CS=0x900, IP=v&15
        const u8 type = v == 8 ? 0x85 : (v & 1) ? 0xee : 0xef;  // #DF through the task gate; interrupt/trap gates, DPL 3
        if (long_mode) {
            put64(m, kIdt + 16 * v, gate32(kCode64, kHandler + v, type == 0x85 ? 0xee : type));
            put64(m, kIdt + 16 * v + 8, 0);
        } else if (type == 0x85) {
            put64(m, kIdt + 8 * v, u64{kTss2Sel} << 16 | u64{0x85} << 40);
        } else {
            put64(m, kIdt + 8 * v, gate32(kCode32, kHandler + v, type));
        }
    }
    // The current TSS: ring-0 stack, I/O bitmap at 0x68 (all ports allowed
    // but 0x60-0x67 and 0x3f8-0x3ff); 64-bit: RSP0 at 4.
    if (long_mode) {
        put64(m, kTss + 4, 0x7ff0);
    } else {
        m.set(kTss + 4, 4, 0x7ff0);
        m.set(kTss + 8, 4, kData32);
    }
    m.set(kTss + 0x66, 2, 0x68);
    m.set(kTss + 0x68 + 0x60 / 8, 1, 0xff);
    m.set(kTss + 0x68 + 0x3f8 / 8, 1, 0xff);
    // The other task: EIP at the handler, flat ring-0 segments.
    m.set(kTss2 + 0x20, 4, kHandler);          // EIP
    m.set(kTss2 + 0x24, 4, 0x2);               // EFLAGS
    m.set(kTss2 + 0x38, 4, 0x6ff0);            // ESP
    for (unsigned i = 0; i < 6; ++i) m.set(kTss2 + 0x48 + 4 * i, 2, i == 1 ? kCode32 : kData32);
    // Code: HLT everywhere but the instruction.
    std::memset(&m.mem[kRawCode], 0xf4, 0x2000);
}

void raw_state(CpuState& s, Mode mode)
{
    s = CpuState{};
    s.gdtr = {kGdt, 0xff};
    s.ldtr = Segment{kLdtSel, kLdt, 0x1f, 0x82};
    s.tr = Segment{kTssSel, kTss, kTssLimit, 0x8b};
    s.idtr = {kIdt, mode >= COMPAT ? 0xfffu : 0x7ffu};
    s.cr0 = cr0::PE | cr0::ET | cr0::NE;
    auto flat = [&](u16 cs, u32 cs_ar, u16 ds, u32 ds_ar, u32 limit) {
        for (unsigned i = 0; i < kSegCount; ++i) s.seg[i] = Segment{ds, 0, limit, ds_ar};
        s.sreg(Seg::CS) = Segment{cs, 0, limit, cs_ar};
    };
    switch (mode) {
    case REAL:
        s = real_mode_state(static_cast<u16>(kRawCode >> 4), 0);
        s.idtr = {0, 0x3ff};
        return;
    case VM86:
        for (unsigned i = 0; i < kSegCount; ++i) s.seg[i] = vm86_segment(0);
        s.sreg(Seg::CS) = vm86_segment(static_cast<u16>(kRawCode >> 4));
        s.rflags |= flag::VM;
        return;
    case PROT32: flat(kCode32, 0xc09b, kData32, 0xc093, 0xffffffff); break;
    case PROT32_CPL3: flat(kCode32User, 0xc0fb, kData32User, 0xc0f3, 0xffffffff); break;
    case PROT16: flat(kCode16, 0x9b, kData16, 0x93, 0xffff); break;
    case COMPAT:
    case LONG64:
    case LONG64_CPL3:
        if (mode == LONG64_CPL3)
            flat(kCode64User, 0xa0fb, kData32User, 0xc0f3, 0xffffffff);
        else
            flat(mode == COMPAT ? kCode32 : kCode64, mode == COMPAT ? 0xc09b : 0xa09b, kData32, 0xc093, 0xffffffff);
        s.cr0 |= cr0::PG;
        s.cr4 = 1u << 5;  // PAE
        s.efer = efer::LME | efer::LMA;
        s.tr = Segment{kTssSel, kTss, kTssLimit, 0x8b};
        break;
    }
    s.rip = kRawCode;
}

bool same_segment(const Segment& a, const Segment& b)
{
    return a.selector == b.selector && a.base == b.base && a.limit == b.limit && a.ar == b.ar;
}

bool same_state(const CpuState& a, const CpuState& b)
{
    if (std::memcmp(a.gpr, b.gpr, sizeof a.gpr) != 0 || a.rip != b.rip || a.rflags != b.rflags) return false;
    for (unsigned i = 0; i < kSegCount; ++i)
        if (!same_segment(a.seg[i], b.seg[i])) return false;
    return same_segment(a.ldtr, b.ldtr) && same_segment(a.tr, b.tr) && a.gdtr.base == b.gdtr.base &&
           a.gdtr.limit == b.gdtr.limit && a.idtr.base == b.idtr.base && a.idtr.limit == b.idtr.limit &&
           a.cr0 == b.cr0 && a.cr2 == b.cr2 && a.cr3 == b.cr3 && a.cr4 == b.cr4 && a.cr8 == b.cr8 &&
           a.efer == b.efer && std::memcmp(a.dr, b.dr, sizeof a.dr) == 0;
}

// A REP/REPNE prefix among the instruction's prefixes: such a string
// instruction may fault after completing iterations, which it keeps.
bool has_rep_prefix(const u8* code, unsigned n)
{
    for (unsigned i = 0; i < n; ++i) {
        const u8 b = code[i];
        if (b == 0xf2 || b == 0xf3) return true;
        const bool prefix = b == 0x66 || b == 0x67 || b == 0xf0 || b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e ||
                            b == 0x64 || b == 0x65 || (b & 0xf0) == 0x40;
        if (!prefix) return false;
    }
    return false;
}

std::string describe(const CpuState& s)
{
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "rip=%llx rflags=%llx cr0=%llx efer=%llx cs=%x/%llx/%x/%x ss=%x/%x", static_cast<unsigned long long>(s.rip),
                  static_cast<unsigned long long>(s.rflags), static_cast<unsigned long long>(s.cr0),
                  static_cast<unsigned long long>(s.efer), s.sreg(Seg::CS).selector,
                  static_cast<unsigned long long>(s.sreg(Seg::CS).base), s.sreg(Seg::CS).limit, s.sreg(Seg::CS).ar,
                  s.sreg(Seg::SS).selector, s.sreg(Seg::SS).ar);
    return buf;
}

void check_after_ok(const CpuState& before, const CpuState& s)
{
    constexpr u64 kReservedFlags = (1u << 3) | (1u << 5) | (1u << 15) | ~u64{0x3fffff};
    if (!(s.rflags & flag::FIXED1) || (s.rflags & kReservedFlags)) fail("RFLAGS reserved bits wrong", describe(s));
    const bool lma = s.efer & efer::LMA;
    if (!(lma && (s.sreg(Seg::CS).ar & vmx::ar::L)) && (s.rip >> 32)) fail("RIP beyond 32 bits outside 64-bit mode", describe(s));
    if ((s.cr0 & cr0::PG) && !(s.cr0 & cr0::PE)) fail("CR0.PG without CR0.PE", describe(s));
    if (lma != ((s.cr0 & cr0::PG) && (s.efer & efer::LME))) fail("EFER.LMA != CR0.PG && EFER.LME", describe(s));
    const CpuMode mode = cpu_mode(s);
    if (mode == CpuMode::VM86) {
        for (unsigned i = 0; i < kSegCount; ++i)
            if (!same_segment(s.seg[i], vm86_segment(s.seg[i].selector)))
                fail("a virtual-8086 segment register is not selector*16/0xffff/0xf3", describe(s));
        return;
    }
    if (mode == CpuMode::REAL) {
        for (unsigned i = 0; i < kSegCount; ++i)
            if (s.seg[i].selector != before.seg[i].selector && s.seg[i].base != u64{s.seg[i].selector} << 4)
                fail("a real-mode segment load with base != selector*16", describe(s));
        return;
    }
    const Segment& cs = s.sreg(Seg::CS);
    const Segment& ss = s.sreg(Seg::SS);
    const bool cs_changed = !same_segment(cs, before.sreg(Seg::CS));
    const bool ss_changed = !same_segment(ss, before.sreg(Seg::SS));
    if (cs_changed && (!(cs.ar & 0x80) || !is_code(cs.ar) || (cs.ar & vmx::ar::UNUSABLE)))
        fail("CS loaded with something other than a present code segment", describe(s));
    if ((cs_changed || ss_changed) && !(ss.ar & vmx::ar::UNUSABLE) && dpl_of(ss.ar) != (cs.selector & 3u))
        fail("CS.RPL != SS.DPL (the CPL)", describe(s));
}

void check_result(const char* what, const EmulateResult& r, const CpuState& before, const CpuState& s,
                  unsigned writes_before, const FakeMachine& m, bool rep)
{
    if (r.length > 15) fail("an instruction longer than 15 bytes");
    switch (r.outcome) {
    case EmulateOutcome::OK: check_after_ok(before, s); return;
    case EmulateOutcome::EXCEPTION: {
        if (r.vector >= 32) fail("an exception vector above 31");
        const bool ec = r.vector == 8 || (r.vector >= 10 && r.vector <= 14) || r.vector == 17 || r.vector == 21;
        if (ec != r.has_error_code) fail("error code presence does not match the vector", std::to_string(r.vector));
        if (!(r.effects & effect::TASK_SWITCHED) && !rep && !same_state(before, s))
            fail("EXCEPTION changed the state", std::string(what) + " vector " + std::to_string(r.vector) + " " +
                                                     describe(before) + " -> " + describe(s));
        return;
    }
    case EmulateOutcome::UNHANDLED:
    case EmulateOutcome::IO_NEEDED:
        if (!same_state(before, s)) fail("UNHANDLED/IO_NEEDED changed the state", what);
        if (m.writes != writes_before) fail("UNHANDLED/IO_NEEDED wrote memory", what);
        return;
    }
    fail("an unknown outcome");
}

void raw(const u8* data, std::size_t size)
{
    // Layout: [0] selector, [1..16] instruction bytes, [17..48] eight 32-bit
    // GPRs, [49..50] RFLAGS low bits, then (u16 offset, u8 value) patches.
    if (size < 51) return;
    static FakeMachine m(kMemSize);
    const Mode mode = static_cast<Mode>(data[0] & 7);
    const unsigned entry = (data[0] >> 5) & 3;
    // Each mode's machine is built once and copied per input.
    static std::vector<u8> built[8];
    if (built[mode].empty()) {
        build_machine(m, mode);
        built[mode] = m.mem;
    }
    std::memcpy(m.mem.data(), built[mode].data(), kMemSize);
    m.port_log.clear();
    m.writes = 0;
    const u8* code = data + 1;
    std::memcpy(&m.mem[kRawCode], code, 16);
    for (std::size_t at = 51; at + 3 <= size; at += 3) {
        u16 offset;
        std::memcpy(&offset, data + at, 2);
        if (offset < kRawCode || offset >= kRawCode + 16) m.mem[offset] = data[at + 2];
    }
    CpuState s;
    raw_state(s, mode);
    for (unsigned i = 0; i < 8; ++i) {
        u32 v;
        std::memcpy(&v, data + 17 + 4 * i, 4);
        s.gpr[i] = mode >= COMPAT ? (u64{v} << 32 | v) : v;
        s.gpr[8 + i] = u64{v} * 0x9e3779b97f4a7c15ull;
    }
    s.gpr[RSP] = kStack + 0x2000 + (s.gpr[RSP] & 0x1ff0);
    u16 fl;
    std::memcpy(&fl, data + 49, 2);
    // Arithmetic flags, TF, IF, DF, OF, IOPL, NT from the input; bit 15 asks the port callbacks to decline.
    s.rflags |= fl & (flag::ARITH | flag::IF | flag::DF | flag::IOPL | flag::NT);
    m.decline_io = fl & 0x8000;
    if (mode == REAL) s.rflags &= ~(flag::IOPL | flag::NT);
    if (mode >= COMPAT) s.rflags &= ~flag::NT;  // IRET with NT is #GP in long mode anyway; keep the start state valid

    const CpuState before = s;
    const unsigned writes_before = m.writes;
    const EmulateOps ops = m.ops();
    EmulateResult r;
    const char* what = "emulate_one";
    if (entry == 2) {
        what = "deliver_event";
        r = deliver_event(s, ops, code[0], code[1] & 1, static_cast<u32>(code[2] | code[3] << 8), s.rip + (code[1] >> 4),
                          code[1] & 2);
    } else if (entry == 3) {
        what = "task_switch";
        TaskSwitchRequest req;
        req.selector = static_cast<u16>(code[0] | code[1] << 8);
        req.source = static_cast<TaskSwitchSource>(code[2] & 3);
        req.return_rip = s.rip + (code[3] & 15);
        req.has_error_code = code[4] & 1;
        req.error_code = static_cast<u32>(code[5] | code[6] << 8);
        r = task_switch(s, ops, req);
    } else {
        r = emulate_one(s, ops);
    }
    check_result(what, r, before, s, writes_before, m, entry < 2 && has_rep_prefix(code, 15));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < 1) return 0;
    if (data[0] & 0x80)
        differential(data, size);
    else
        raw(data, size);
    return 0;
}

// Unicorn keeps allocations across inputs (translated code, a reopened
// engine's state), so libFuzzer's per-input leak check would run LeakSanitizer
// after nearly every input (most of the run time) and report the engine's
// caches. Leaks in the emulator itself cannot occur: it allocates nothing.
extern "C" const char* __asan_default_options() { return "detect_leaks=0"; }
