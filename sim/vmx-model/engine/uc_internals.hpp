// Everything the model knows about Unicorn's internal CPU state lives here
// (and in uc_internals.cpp): the layout of QEMU's CPUX86State inside a
// uc_context blob, found by self-calibration when the engine starts.
//
// Why: the public API exposes only segment selectors, not the hidden
// base/limit/access rights a VM entry loads and a VM exit saves, and writing
// CR0/CR4/EFER through it does not recompute the derived "hflags" that the
// translator keys on (UNICORN-FACTS.md, "CPU state the API does not expose").
// So guest-state loads and saves go through uc_context_save/restore, and
// this file finds the offsets by writing known values through the API and
// searching the blob for them, then checks the result (self-test). A Unicorn
// whose layout does not match fails loudly at start-up, never silently.
#pragma once

#include <unicorn/unicorn.h>

#include <cstdint>
#include <cstring>

namespace xeno::sim {

// QEMU's segment cache (SegmentCache in target/i386/cpu.h): flags hold bits
// 8..23 of the descriptor's high dword, i.e. VMCS AR bits 0..15 shifted by 8.
struct UcSegment {
    std::uint32_t selector;
    std::uint64_t base;
    std::uint32_t limit;
    std::uint32_t flags;
};

// Offsets (bytes from the start of a uc_context) of the fields the model uses.
struct UcLayout {
    std::size_t context_size = 0;
    std::size_t regs = 0;      // target_ulong regs[16]
    std::size_t eip = 0;
    std::size_t eflags = 0;
    std::size_t hflags = 0;    // uint32
    std::size_t segs = 0;      // SegmentCache segs[6] (ES CS SS DS FS GS), 24 bytes each
    std::size_t ldt = 0, tr = 0, gdt = 0, idt = 0;
    std::size_t cr = 0;        // target_ulong cr[5]
    std::size_t efer = 0;
    std::size_t error_code = 0;     // int32, error code of the exception in flight
    std::size_t old_exception = 0;  // int32, QEMU's double-fault bookkeeping
};

// Derived-flag bits of QEMU's hflags (target/i386/cpu.h, HF_*_SHIFT).
namespace hf {
inline constexpr std::uint32_t CPL_MASK = 3;
inline constexpr std::uint32_t INHIBIT_IRQ = 1u << 3;
inline constexpr std::uint32_t CS32 = 1u << 4;
inline constexpr std::uint32_t SS32 = 1u << 5;
inline constexpr std::uint32_t ADDSEG = 1u << 6;
inline constexpr std::uint32_t PE = 1u << 7;
inline constexpr std::uint32_t MP = 1u << 9;
inline constexpr std::uint32_t EM = 1u << 10;
inline constexpr std::uint32_t TS = 1u << 11;
inline constexpr std::uint32_t LMA = 1u << 14;
inline constexpr std::uint32_t CS64 = 1u << 15;
inline constexpr std::uint32_t SMM = 1u << 19;
inline constexpr std::uint32_t SVME = 1u << 20;
inline constexpr std::uint32_t GUEST = 1u << 21;
inline constexpr std::uint32_t OSFXSR = 1u << 22;
inline constexpr std::uint32_t SMAP = 1u << 23;
inline constexpr std::uint32_t MPX = 3u << 25;
}  // namespace hf

// QEMU descriptor-flag bits (DESC_*_MASK).
namespace desc {
inline constexpr std::uint32_t P = 1u << 15;
inline constexpr std::uint32_t L = 1u << 21;
inline constexpr std::uint32_t B = 1u << 22;
}  // namespace desc

// A saved CPU state with typed access through the calibrated layout.
class UcCpuBlob {
public:
    UcCpuBlob(uc_engine* uc, const UcLayout& layout);
    ~UcCpuBlob();
    UcCpuBlob(const UcCpuBlob&) = delete;
    UcCpuBlob& operator=(const UcCpuBlob&) = delete;

    void save();     // engine -> blob
    void restore();  // blob -> engine

    template <typename T>
    T get(std::size_t offset) const
    {
        T v;
        std::memcpy(&v, bytes() + offset, sizeof v);
        return v;
    }
    template <typename T>
    void put(std::size_t offset, T v)
    {
        std::memcpy(bytes() + offset, &v, sizeof v);
    }

    // seg: 0..5 ES CS SS DS FS GS, 6 LDTR, 7 TR, 8 GDTR, 9 IDTR.
    UcSegment segment(int seg) const;
    void set_segment(int seg, const UcSegment& s);

    std::uint64_t cr(int n) const { return get<std::uint64_t>(layout_.cr + 8 * static_cast<std::size_t>(n)); }
    void set_cr(int n, std::uint64_t v) { put(layout_.cr + 8 * static_cast<std::size_t>(n), v); }
    std::uint64_t efer() const { return get<std::uint64_t>(layout_.efer); }
    void set_efer(std::uint64_t v) { put(layout_.efer, v); }
    std::uint64_t eflags() const { return get<std::uint64_t>(layout_.eflags); }
    std::uint32_t hflags() const { return get<std::uint32_t>(layout_.hflags); }
    void set_hflags(std::uint32_t v) { put(layout_.hflags, v); }
    std::int32_t error_code() const { return get<std::int32_t>(layout_.error_code); }

    // Recompute hflags from CR0/CR4/EFER, CS/SS/DS/ES and RFLAGS.VM, as
    // QEMU's cpu_x86_load_seg_cache/cpu_x86_update_cr0 would have.
    void recompute_hflags();

    const UcLayout& layout() const { return layout_; }

private:
    std::uint8_t* bytes() const { return reinterpret_cast<std::uint8_t*>(ctx_); }
    std::size_t seg_offset(int seg) const;

    uc_engine* uc_;
    const UcLayout& layout_;
    uc_context* ctx_ = nullptr;
};

// Finds the layout on a scratch engine (its own memory: it runs two tiny
// guest instructions to locate the error-code and exception bookkeeping).
// Panics with a clear message if the layout does not verify.
const UcLayout& uc_layout();

// The live register file of one engine: the address of CPUX86State's
// regs[0] inside the running engine (uc_live_regs.cpp), so exit paths read
// GPRs, RIP, CRs and CS as plain loads instead of one uc_reg_read each (an
// exit reads ~20 registers). Found by planting a signature in the GPRs and
// searching the memory the uc_struct points to; accepted only if the whole
// range from regs[0] to the control registers equals a uc_context_save of the
// same engine. nullptr when not found: callers then use the public API.
// Offsets from the result are layout offsets minus layout.regs.
const std::uint8_t* uc_find_live_regs(uc_engine* uc, const UcLayout& layout);

// Reset QEMU's double-fault bookkeeping after the model took an exception
// out of Unicorn's hands, so the next one is not reported as #DF.
void uc_reset_exception_state(UcCpuBlob& blob);

}  // namespace xeno::sim
