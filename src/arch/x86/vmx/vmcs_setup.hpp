// Building a vcpu's VMCS (SDM Vol. 3C chapter 25 "Virtual Machine Control
// Structures", 26.2/26.3 entry checks): controls from the capability MSRs,
// I/O and MSR bitmaps, EPT or physical-mode tables, host state, guest state.
#pragma once

#include "arch/x86/vmx/vmx_caps.hpp"
#include "core/vcpu.hpp"
#include "lib/format.hpp"
#include "lib/status.hpp"
#include "mm/frame_allocator.hpp"

namespace xeno::vmx {

// The controls for `paging` on this CPU. UNSUPPORTED, with the missing
// control named in `error`, when a required control is not allowed. Pure.
Result<VcpuControls> compute_controls(const VmxCaps& caps, GuestPaging paging, Writer& error);

// MSR bitmap (25.6.9): read-low at 0, read-high at 1024, write-low at 2048,
// write-high at 3072; a set bit makes the access exit. Covers MSRs
// 0..0x1fff and 0xc0000000..0xc0001fff; others always exit. Pure.
void msr_bitmap_set(u8* bitmap, u32 msr, bool intercept_read, bool intercept_write);
bool msr_bitmap_intercepts(const u8* bitmap, u32 msr, bool write);

// MSRs whose reads and writes pass through (their guest values are VMCS
// guest state or CPU state the hypervisor does not use).
inline constexpr u32 kPassThroughMsrs[] = {0x174, 0x175, 0x176, 0xc0000100, 0xc0000101, 0xc0000102};

// Where and how a vcpu starts. REAL: real mode at 0:ip with SP=sp (flat
// scenario images; the APs, which wait for a SIPI anyway). FLAT32: 32-bit
// protected mode with paging off, as the boot protocols promise (multiboot,
// PVH, Linux's 32-bit entry): CS = selector 0x10 and DS/ES/FS/GS/SS = 0x18,
// all base 0 and limit 4 GiB, from the GDT at gdt_base (the builder writes
// one there: a guest may reload them), IDT empty, EFLAGS = 2 (IF clear),
// the registers given (EAX..EDI by encoding; ESP = sp). LONG64: 64-bit mode
// as Linux's 64-bit boot protocol entry wants it: paging on with CR3 = cr3
// (the builder's identity map), CR4.PAE, EFER.LME/LMA, CS = 0x10 a 64-bit
// code segment of that GDT, the rest as FLAT32 but 64 bits wide.
struct GuestStart {
    enum class Mode : u8 { REAL, FLAT32, LONG64 };
    Mode mode = Mode::REAL;
    u64 ip = 0;
    u64 sp = 0;
    u64 gpr[8] = {};
    u64 gdt_base = 0;
    u16 gdt_limit = 0;
    u64 cr3 = 0;  // LONG64

    static GuestStart real_mode(u16 ip)
    {
        GuestStart s;
        s.ip = ip;
        s.sp = ip;
        return s;
    }
};

// Allocate the VMCS and everything it points to, make it current and write
// every field; the guest starts as `start` says. Vcpus of one domain share
// its EPT. Logs and returns the failure.
Status vmcs_setup(Vcpu& vcpu, mm::FrameAllocator& frames, const GuestStart& start);

// INVEPT of the vcpu's EPTP on this CPU: single-context when the CPU has
// it, else all-context (nothing when the CPU has no INVEPT).
Status flush_ept(Vcpu& vcpu);

// The vcpu's state as after INIT and a SIPI (SDM Vol. 3A 9.1.1 Table 9-1,
// 9.4.4): real mode at cs:ip, SP and the general registers 0 but EDX (the
// processor signature), nothing pending; its VMCS is current.
Status reset_to_real_mode(Vcpu& vcpu, u16 cs, u16 ip);

}  // namespace xeno::vmx
