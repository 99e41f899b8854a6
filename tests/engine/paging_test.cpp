// The model's page walk: translations and #PF error codes per paging mode,
// EPT violations with the Table 28-7 qualification.
#include "tests/engine/fixture.hpp"

namespace xeno::sim::test {

using vmx::ExitReason;

namespace {

// 32-bit paging: PD at 0x20000, PT at 0x21000. VA 0x400000 -> PA 0x50000
// (user, read-only), VA 0x401000 -> PA 0x51000 (supervisor, writable),
// VA 0x800000 4 MiB PSE page -> PA 0x400000, identity for the first 4 MiB via PSE.
void setup_32bit(Guest& g)
{
    g.mem.store<u32>(0x20000 + 0 * 4, 0x00000083);           // 0-4 MiB: PSE identity, RW
    g.mem.store<u32>(0x20000 + 1 * 4, 0x00021007);           // 4-8 MiB: PT, RW, user
    g.mem.store<u32>(0x20000 + 2 * 4, 0x00400083);           // 8-12 MiB: PSE -> 4 MiB
    g.mem.store<u32>(0x21000 + 0 * 4, 0x00050005);           // 0x400000: present, RO, user
    g.mem.store<u32>(0x21000 + 1 * 4, 0x00051003);           // 0x401000: present, RW, supervisor
    g.vmcs.set(f::GUEST_CR3, 0x20000);
    g.vmcs.set(f::GUEST_CR0, 0x80010031);  // PG, WP, NE, ET, PE
    g.vmcs.set(f::GUEST_CR4, 0x2010);      // VMXE, PSE
    g.vmcs.set(f::EXCEPTION_BITMAP, 1u << vmx::vector::PF);
}

}  // namespace

TEST_CASE("32-bit paging: 4 KiB and 4 MiB translations, A/D bits", "[engine][paging]")
{
    Guest g;
    g.flat32(0x10000);
    setup_32bit(g);
    g.mem.store<u32>(0x50010, 0xcafe0001);
    g.mem.store<u32>(0x400020, 0xcafe0002);
    g.code(0x10000, {
        0xa1, 0x10, 0x00, 0x40, 0x00,        // mov eax, [0x400010]
        0x8b, 0x1d, 0x20, 0x00, 0x80, 0x00,  // mov ebx, [0x800020]
        0xc7, 0x05, 0x00, 0x10, 0x40, 0x00, 0x78, 0x56, 0x34, 0x12,  // mov dword [0x401000], 0x12345678
        0xf4,
    });
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    REQUIRE(g.exits.size() == 1);
    CHECK(g.exits[0].reason == reason(ExitReason::HLT));
    CHECK((g.regs.gpr[0] & 0xffffffff) == 0xcafe0001);
    CHECK((g.regs.gpr[3] & 0xffffffff) == 0xcafe0002);
    CHECK(g.mem.load<u32>(0x51000) == 0x12345678);
    CHECK((g.mem.load<u32>(0x21000) & 0x60) == 0x20);  // accessed, not dirty
    CHECK((g.mem.load<u32>(0x21004) & 0x60) == 0x60);  // accessed and dirty
}

TEST_CASE("32-bit paging: #PF error codes and CR2 (exit qualification)", "[engine][paging]")
{
    struct Case {
        std::initializer_list<u8> code;
        u64 address;
        u32 error;
    };
    const Case cases[] = {
        {{0xa1, 0x00, 0x00, 0xc0, 0x00}, 0xc00000, 0x0},               // not present, read
        {{0xa1, 0x23, 0x01, 0xc0, 0x00}, 0xc00123, 0x0},               // CR2 is the byte, not the page
        {{0xc7, 0x05, 0x00, 0x00, 0x40, 0x00, 1, 0, 0, 0}, 0x400000, 0x3},  // write to RO with WP
        {{0xc7, 0x05, 0x00, 0x00, 0xc0, 0x00, 1, 0, 0, 0}, 0xc00000, 0x2},  // not present, write
    };
    for (const Case& c : cases) {
        Guest g;
        g.flat32(0x10000);
        setup_32bit(g);
        g.code(0x10000, c.code);
        REQUIRE(g.run() == hal::VmxResult::SUCCEED);
        REQUIRE(g.exits.size() == 1);
        CHECK(g.exits[0].reason == reason(ExitReason::EXCEPTION_NMI));
        CHECK(g.exits[0].intr_info == 0x80000b0eu);  // valid, error code, hardware exception, #PF
        CHECK(g.exits[0].intr_error == c.error);
        CHECK(g.exits[0].qualification == c.address);
        CHECK(g.exits[0].rip == 0x10000);
    }
}

// Unicorn translates a whole block before running it: a block whose last
// instruction reaches into a page that is not present fails its fetch
// before any of its instructions ran. The instructions before the crossing
// one must run first, and their own faults come first (SDM 3A 6.5: faults
// are reported on the instruction that causes them).
TEST_CASE("32-bit paging: an instruction crossing into a not-present page faults after the ones before it",
          "[engine][paging]")
{
    Guest g;
    g.flat32(0x401ff8);
    setup_32bit(g);
    g.code(0x51ff8, {
        0x41, 0x41,                    // inc ecx; inc ecx
        0xb8, 0x78, 0x56, 0x34, 0x12,  // mov eax, 0x12345678
        0xbb,                          // mov ebx, imm32: its immediate lies on 0x402000, not present
    });
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    REQUIRE(g.exits.size() == 1);
    CHECK(g.exits[0].reason == reason(ExitReason::EXCEPTION_NMI));
    CHECK(g.exits[0].intr_info == 0x80000b0eu);
    CHECK(g.exits[0].intr_error == 0x0);            // not present, supervisor read (no I/D without NX/SMEP)
    CHECK(g.exits[0].qualification == 0x402000);    // the first byte on the missing page
    CHECK(g.exits[0].rip == 0x401fff);              // the crossing instruction
    CHECK((g.regs.gpr[1] & 0xffffffff) == 2);       // ECX: the instructions before it ran
    CHECK((g.regs.gpr[0] & 0xffffffff) == 0x12345678);
}

TEST_CASE("32-bit paging: a data fault on the next page comes before the fetch of an instruction crossing into it",
          "[engine][paging]")
{
    const u64 start = GENERATE(u64{0x401ff0}, u64{0x401ff6});  // crossing later / block ends at the boundary
    CAPTURE(start);
    Guest g;
    g.flat32(start);
    setup_32bit(g);
    if (start == 0x401ff0)
        g.code(0x51ff0, {
            0x41,                          // inc ecx
            0xa1, 0x10, 0x20, 0x40, 0x00,  // mov eax, [0x402010]: not present
            0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90,  // nops up to 0x401fff
            0xbb,                          // mov ebx, imm32 crossing into 0x402000
        });
    else
        g.code(0x51ff6, {
            0x41,                          // inc ecx
            0xa1, 0x10, 0x20, 0x40, 0x00,  // mov eax, [0x402010]: not present
            0x90, 0x90, 0x90, 0x90,        // nops up to the boundary; the next fetch is at 0x402000
        });
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    REQUIRE(g.exits.size() == 1);
    CHECK(g.exits[0].reason == reason(ExitReason::EXCEPTION_NMI));
    CHECK(g.exits[0].intr_error == 0x0);
    CHECK(g.exits[0].qualification == 0x402010);  // the operand, not the page
    CHECK(g.exits[0].rip == start + 1);            // the MOV
    CHECK((g.regs.gpr[1] & 0xffffffff) == 1);
}

TEST_CASE("#PF error-code mask/match selects which page faults exit", "[engine][paging]")
{
    Guest g;
    g.flat32(0x10000);
    setup_32bit(g);
    // Bit 14 set, mask W, match W: only write faults exit; the read fault
    // goes to the guest IDT (empty here: #PF -> #DF -> triple fault).
    g.vmcs.set(f::PAGE_FAULT_ERROR_CODE_MASK, 2);
    g.vmcs.set(f::PAGE_FAULT_ERROR_CODE_MATCH, 2);
    g.code(0x10000, {0xa1, 0x00, 0x00, 0xc0, 0x00});
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    REQUIRE(g.exits.size() == 1);
    CHECK(g.exits[0].reason == reason(ExitReason::TRIPLE_FAULT));
}

TEST_CASE("4-level paging with a 2 MiB page in a 64-bit guest", "[engine][paging]")
{
    Guest g;
    g.flat32(0x10000);
    g.vmcs.set(f::GUEST_CS_AR_BYTES, 0xa09b);  // L=1
    g.vmcs.set(f::VM_ENTRY_CONTROLS, vmx::entry_ctl::IA32E_MODE_GUEST | vmx::entry_ctl::LOAD_EFER);
    g.vmcs.set(f::GUEST_IA32_EFER, 0xd00);  // NXE, LMA, LME
    g.mem.store<u64>(0x30000, 0x31003);                    // PML4[0]
    g.mem.store<u64>(0x31000, 0x32003);                    // PDPT[0]
    g.mem.store<u64>(0x32000, 0x000083);                   // PD[0]: 2 MiB identity
    g.mem.store<u64>(0x32000 + 8 * 5, 0x200083 | (u64{1} << 63));  // PD[5]: 0xa00000 -> 0x200000, NX
    g.mem.store<u64>(0x200040, 0x1122334455667788ull);
    g.vmcs.set(f::GUEST_CR3, 0x30000);
    g.vmcs.set(f::GUEST_CR0, 0x80010031);
    g.vmcs.set(f::GUEST_CR4, 0x2020);  // PAE
    g.code(0x10000, {
        0x48, 0x8b, 0x04, 0x25, 0x40, 0x00, 0xa0, 0x00,  // mov rax, [0xa00040]
        0xf4,
    });
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    REQUIRE(g.exits.size() == 1);
    CHECK(g.exits[0].reason == reason(ExitReason::HLT));
    CHECK(g.regs.gpr[0] == 0x1122334455667788ull);
    CHECK((g.vmcs.get(f::VM_ENTRY_CONTROLS) & vmx::entry_ctl::IA32E_MODE_GUEST) != 0);
}

TEST_CASE("EPT: translation and an EPT violation with the SDM qualification", "[engine][ept]")
{
    Guest g;
    g.flat32(0x10000);
    g.vmcs.set(f::CPU_BASED_VM_EXEC_CONTROL, vmx::proc::HLT_EXITING | vmx::proc::ACTIVATE_SECONDARY_CONTROLS);
    g.vmcs.set(f::SECONDARY_VM_EXEC_CONTROL, vmx::proc2::ENABLE_EPT);
    // EPT: PML4 0x100000, PDPT 0x101000, PD 0x102000. GPA 0-2 MiB -> machine
    // 0-2 MiB (RWX, 2 MiB page); GPA 2-4 MiB -> machine 4-6 MiB read-only.
    g.mem.store<u64>(0x100000, 0x101007);
    g.mem.store<u64>(0x101000, 0x102007);
    g.mem.store<u64>(0x102000, 0x000000 | 0x87 | (6u << 3));
    g.mem.store<u64>(0x102008, 0x400000 | 0x81 | (6u << 3));
    g.vmcs.set(f::EPT_POINTER, 0x100000 | 0x18 | 6);
    g.mem.store<u32>(0x400100, 0xfeedf00d);
    g.code(0x10000, {
        0xa1, 0x00, 0x01, 0x20, 0x00,                         // mov eax, [0x200100] (GPA 0x200100 -> 0x400100)
        0xc7, 0x05, 0x00, 0x02, 0x20, 0x00, 1, 0, 0, 0,       // 10005 mov dword [0x200200], 1 -> violation
        0xf4,
    });
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    REQUIRE(g.exits.size() == 1);
    CHECK((g.regs.gpr[0] & 0xffffffff) == 0xfeedf00d);
    CHECK(g.exits[0].reason == reason(ExitReason::EPT_VIOLATION));
    CHECK(g.exits[0].rip == 0x10005);
    // Write access; readable, not writable, not executable; linear address valid, final translation.
    CHECK(g.exits[0].qualification == (0x2 | 0x8 | 0x80 | 0x100));
    CHECK(g.exits[0].gpa == 0x200200);
    CHECK(g.exits[0].gla == 0x200200);
}

// PAE paging under EPT runs on the PDPTE registers (SDM Vol. 3A 4.4.1): VM
// entry loads them from the VMCS (Vol. 3C 26.3.2.4), MOV to CR3 from memory,
// VM exit saves them (27.3.4). The PDPT in memory is not read by the walks.
TEST_CASE("EPT with PAE paging: PDPTE registers from the VMCS, reloaded by MOV CR3, saved at exit", "[engine][ept]")
{
    Guest g;
    g.flat32(0x10000);
    g.vmcs.set(f::CPU_BASED_VM_EXEC_CONTROL, vmx::proc::HLT_EXITING | vmx::proc::ACTIVATE_SECONDARY_CONTROLS);
    g.vmcs.set(f::SECONDARY_VM_EXEC_CONTROL, vmx::proc2::ENABLE_EPT);
    g.mem.store<u64>(0x100000, 0x101007);  // EPT: GPA 0-6 MiB identity (2 MiB pages)
    g.mem.store<u64>(0x101000, 0x102007);
    g.mem.store<u64>(0x102000, 0x000000 | 0x87 | (6u << 3));
    g.mem.store<u64>(0x102008, 0x200000 | 0x87 | (6u << 3));
    g.mem.store<u64>(0x102010, 0x400000 | 0x87 | (6u << 3));
    g.vmcs.set(f::EPT_POINTER, 0x100000 | 0x18 | 6);
    // Two page directories for linear 0-1 GiB: A maps 0x200000 to 0x200000,
    // B maps it to 0x400000 (2 MiB pages; 0-2 MiB identity in both).
    g.mem.store<u64>(0x20000, 0x83);
    g.mem.store<u64>(0x20008, 0x200083);
    g.mem.store<u64>(0x21000, 0x83);
    g.mem.store<u64>(0x21008, 0x400083);
    g.mem.store<u64>(0x22000, 0x21001);  // the PDPT in memory: B
    g.mem.store<u32>(0x200000, 0xaaaa);
    g.mem.store<u32>(0x400000, 0xbbbb);
    g.vmcs.set(f::GUEST_CR3, 0x22000);
    g.vmcs.set(f::GUEST_CR0, 0x80000031);  // PG, NE, ET, PE
    g.vmcs.set(f::GUEST_CR4, 0x2020);      // VMXE, PAE
    g.vmcs.set(f::GUEST_PDPTE0, 0x20001);  // the registers: A
    g.code(0x10000, {
        0xa1, 0x00, 0x00, 0x20, 0x00,  // mov eax, [0x200000]: through the registers (A)
        0x0f, 0x20, 0xd9,              // mov ecx, cr3
        0x0f, 0x22, 0xd9,              // mov cr3, ecx: reload from memory (B)
        0x8b, 0x1d, 0x00, 0x00, 0x20, 0x00,  // mov ebx, [0x200000]
        0xf4,
    });
    REQUIRE(g.run() == hal::VmxResult::SUCCEED);
    REQUIRE(g.exits.size() == 1);
    CHECK(g.exits[0].reason == reason(ExitReason::HLT));
    CHECK((g.regs.gpr[0] & 0xffffffff) == 0xaaaa);
    CHECK((g.regs.gpr[3] & 0xffffffff) == 0xbbbb);
    CHECK(g.vmcs.get(f::GUEST_PDPTE0) == 0x21001);  // saved at the exit

    SECTION("a reserved bit in a PDPTE makes MOV CR3 #GP(0)")
    {
        Guest h;
        h.flat32(0x10000);
        h.vmcs.set(f::CPU_BASED_VM_EXEC_CONTROL, vmx::proc::HLT_EXITING | vmx::proc::ACTIVATE_SECONDARY_CONTROLS);
        h.vmcs.set(f::SECONDARY_VM_EXEC_CONTROL, vmx::proc2::ENABLE_EPT);
        for (u64 a : {u64{0x100000}, u64{0x101000}, u64{0x102000}, u64{0x102008}}) h.mem.store<u64>(a, g.mem.load<u64>(a));
        h.vmcs.set(f::EPT_POINTER, 0x100000 | 0x18 | 6);
        h.mem.store<u64>(0x20000, 0x83);
        h.mem.store<u64>(0x22000, 0x20001);
        h.mem.store<u64>(0x23000, 0x20001 | 0x4);  // bit 2 (U/S) is reserved in a PDPTE
        h.vmcs.set(f::GUEST_CR3, 0x22000);
        h.vmcs.set(f::GUEST_CR0, 0x80000031);
        h.vmcs.set(f::GUEST_CR4, 0x2020);
        h.vmcs.set(f::GUEST_PDPTE0, 0x20001);
        h.vmcs.set(f::EXCEPTION_BITMAP, 1u << vmx::vector::GP);
        h.code(0x10000, {0xb8, 0x00, 0x30, 0x02, 0x00, 0x0f, 0x22, 0xd8, 0xf4});  // mov eax, 0x23000; mov cr3, eax
        REQUIRE(h.run() == hal::VmxResult::SUCCEED);
        CHECK(h.exits[0].reason == reason(ExitReason::EXCEPTION_NMI));
        CHECK((h.exits[0].intr_info & 0xff) == vmx::vector::GP);
        CHECK(h.exits[0].rip == 0x10005);
    }

    SECTION("a PDPT that EPT does not map: MOV CR3 exits for an EPT violation without a linear address")
    {
        Guest h;
        h.flat32(0x10000);
        h.vmcs.set(f::CPU_BASED_VM_EXEC_CONTROL, vmx::proc::HLT_EXITING | vmx::proc::ACTIVATE_SECONDARY_CONTROLS);
        h.vmcs.set(f::SECONDARY_VM_EXEC_CONTROL, vmx::proc2::ENABLE_EPT);
        for (u64 a : {u64{0x100000}, u64{0x101000}, u64{0x102000}, u64{0x102008}, u64{0x102010}})
            h.mem.store<u64>(a, g.mem.load<u64>(a));
        h.vmcs.set(f::EPT_POINTER, 0x100000 | 0x18 | 6);
        h.mem.store<u64>(0x20000, 0x83);
        h.mem.store<u64>(0x22000, 0x20001);
        h.vmcs.set(f::GUEST_CR3, 0x22000);
        h.vmcs.set(f::GUEST_CR0, 0x80000031);
        h.vmcs.set(f::GUEST_CR4, 0x2020);
        h.vmcs.set(f::GUEST_PDPTE0, 0x20001);
        // GPA 0x600fe0: past the 6 MiB EPT maps.
        h.code(0x10000, {0xb8, 0xe0, 0x0f, 0x60, 0x00, 0x0f, 0x22, 0xd8, 0xf4});  // mov eax, 0x600fe0; mov cr3, eax
        REQUIRE(h.run() == hal::VmxResult::SUCCEED);
        REQUIRE(h.exits.size() == 1);
        CHECK(h.exits[0].reason == reason(ExitReason::EPT_VIOLATION));
        CHECK(h.exits[0].rip == 0x10005);             // the MOV, not retired
        CHECK(h.exits[0].qualification == 0x1);      // a read; not present; no linear address (bit 7 clear)
        CHECK(h.exits[0].gpa == 0x600fe0);            // the first PDPTE
        CHECK(h.vmcs.get(f::GUEST_CR3) == 0x22000);  // unchanged
        CHECK(h.vmcs.get(f::GUEST_PDPTE0) == 0x20001);
    }
}

}  // namespace xeno::sim::test
