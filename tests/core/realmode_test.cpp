#include <catch2/catch.hpp>

#include "arch/x86/vmx/realmode.hpp"
#include "arch/x86/vmx/realmode_emulate.hpp"

using namespace xeno;
using namespace xeno::vmx;

namespace {

emu::CpuState real_mode_state()
{
    emu::CpuState s;
    for (unsigned i = 0; i < emu::kSegCount; ++i) s.seg[i] = {static_cast<u16>(0x100 * i), u64{0x1000} * i, 0xffff, i == 1 ? 0x9bu : 0x93u};
    s.tr = {0, 0x1000000, kVm86TssLimit, 0x8b};
    s.ldtr = {0, 0, 0xffff, ar::UNUSABLE};
    s.cr0 = 0x10;
    return s;
}

emu::CpuState flat_protected_state()
{
    emu::CpuState s = real_mode_state();
    s.cr0 = 0x11;
    for (unsigned i = 0; i < emu::kSegCount; ++i) s.seg[i] = {0x10, 0, 0xffffffff, 0xc093};
    s.seg[1] = {0x08, 0, 0xffffffff, 0xc09b};
    return s;
}

}  // namespace

TEST_CASE("vm86 TSS layout constants (SDM 3A 8.2.1, 20.3.3)", "[realmode]")
{
    CHECK(kVm86TssIoMapBase == 136);      // 104-byte TSS + 32-byte redirection bitmap
    CHECK(kVm86TssLimit == 136 + 8192);   // the 0xff byte after the 8 KiB I/O bitmap
    CHECK(kVm86TssLimit < Vcpu::kVm86TssFrames * kPageSize);
    CHECK(kVm86SegmentAr == 0xf3);
}

TEST_CASE("real mode is vm86-representable only with vm86-form caches", "[realmode]")
{
    emu::CpuState s = real_mode_state();
    CHECK(realmode_vm86_representable(s));
    s.sreg(emu::Seg::DS).limit = 0xffffffff;  // "unreal" mode
    CHECK_FALSE(realmode_vm86_representable(s));
    s = real_mode_state();
    s.sreg(emu::Seg::ES).base = 0x12345;
    CHECK_FALSE(realmode_vm86_representable(s));
    s = real_mode_state();
    s.sreg(emu::Seg::CS).ar |= ar::DB;  // 32-bit code cache left from protected mode
    CHECK_FALSE(realmode_vm86_representable(s));
}

TEST_CASE("protected-mode segment state against the VM-entry checks", "[realmode]")
{
    emu::CpuState s = flat_protected_state();
    CHECK(protected_mode_segments_enterable(s));

    // Right after MOV CR0 (PE=1): real-mode caches, CS sel 0 DPL 0: enterable.
    s = real_mode_state();
    s.cr0 = 0x11;
    for (unsigned i = 0; i < emu::kSegCount; ++i) s.seg[i].selector = 0, s.seg[i].base = 0;
    CHECK(protected_mode_segments_enterable(s));

    s = flat_protected_state();
    s.sreg(emu::Seg::CS).ar = 0xc093;  // data segment in CS
    CHECK_FALSE(protected_mode_segments_enterable(s));
    s = flat_protected_state();
    s.sreg(emu::Seg::SS).selector = 0x13;  // RPL 3 with CS RPL 0
    CHECK_FALSE(protected_mode_segments_enterable(s));
    s = flat_protected_state();
    s.sreg(emu::Seg::DS).ar = 0xc092;  // not accessed
    CHECK_FALSE(protected_mode_segments_enterable(s));
    s = flat_protected_state();
    s.sreg(emu::Seg::DS).ar = ar::UNUSABLE;  // null selector: fine
    CHECK(protected_mode_segments_enterable(s));
    s = flat_protected_state();
    s.sreg(emu::Seg::FS).ar = 0x4093;  // 4 GiB limit without G
    CHECK_FALSE(protected_mode_segments_enterable(s));
    s = flat_protected_state();
    s.tr.ar = 0x89;  // available, not busy
    CHECK_FALSE(protected_mode_segments_enterable(s));
}
