// Self-calibration of Unicorn's CPUX86State layout (see uc_internals.hpp).
// Measured on Unicorn 2.1.4: the uc_context header is 40 bytes, regs follow,
// and the SegmentCache arrays are laid out as in QEMU 5's target/i386/cpu.h.
// Nothing here hard-codes those numbers: they are searched for and checked.
#include "sim/vmx-model/engine/uc_internals.hpp"

#include <vector>

#include "hal/panic.hpp"

namespace xeno::sim {
namespace {

[[noreturn]] void fail(const char* what)
{
    hal::panic(what);
}

std::vector<std::size_t> find_u64(const std::uint8_t* p, std::size_t size, std::uint64_t v)
{
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i + 8 <= size; i += 4)
        if (std::memcmp(p + i, &v, 8) == 0) out.push_back(i);
    return out;
}

std::vector<std::size_t> find_u32(const std::uint8_t* p, std::size_t size, std::uint32_t v)
{
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i + 4 <= size; i += 4)
        if (std::memcmp(p + i, &v, 4) == 0) out.push_back(i);
    return out;
}

std::size_t unique(const std::vector<std::size_t>& v, const char* what)
{
    if (v.size() != 1) fail(what);
    return v[0];
}

struct Scratch {
    uc_engine* uc = nullptr;
    std::vector<std::uint8_t> mem = std::vector<std::uint8_t>(0x3000);
    std::vector<std::uint8_t> snap;
    uc_context* ctx = nullptr;

    Scratch()
    {
        if (uc_open(UC_ARCH_X86, UC_MODE_64, &uc) != UC_ERR_OK) fail("unicorn: uc_open failed");
        // Page-align inside the vector.
        auto base = reinterpret_cast<std::uintptr_t>(mem.data());
        auto aligned = (base + 0xfff) & ~std::uintptr_t{0xfff};
        if (uc_mem_map_ptr(uc, 0, 0x2000, UC_PROT_ALL, reinterpret_cast<void*>(aligned)) != UC_ERR_OK)
            fail("unicorn: calibration map failed");
        code = reinterpret_cast<std::uint8_t*>(aligned);
        uc_context_alloc(uc, &ctx);
    }
    ~Scratch()
    {
        uc_context_free(ctx);
        uc_close(uc);
    }
    const std::uint8_t* save()
    {
        uc_context_save(uc, ctx);
        return reinterpret_cast<const std::uint8_t*>(ctx);
    }
    std::uint8_t* code = nullptr;
};

struct GpProbe {
    Scratch* s;
    std::vector<std::uint8_t> after;
};

void on_gp(uc_engine* uc, std::uint32_t, void* user)
{
    auto* probe = static_cast<GpProbe*>(user);
    std::size_t size = uc_context_size(uc);
    const std::uint8_t* p = probe->s->save();
    probe->after.assign(p, p + size);
    uc_emu_stop(uc);
}

// Runs "mov ax, sel; mov ds, ax" with an empty GDT: #GP(sel).
std::vector<std::uint8_t> provoke_gp(Scratch& s, std::uint16_t sel, std::vector<std::uint8_t>* before)
{
    const std::uint8_t code[] = {0x66, 0xb8, static_cast<std::uint8_t>(sel), static_cast<std::uint8_t>(sel >> 8),
                                 0x8e, 0xd8, 0xf4};
    std::memcpy(s.code + 0x1000, code, sizeof code);
    uc_ctl_remove_cache(s.uc, 0x1000, 0x1010);
    std::size_t size = uc_context_size(s.uc);
    if (before) {
        const std::uint8_t* p = s.save();
        before->assign(p, p + size);
    }
    GpProbe probe{&s, {}};
    uc_hook h;
    uc_hook_add(s.uc, &h, UC_HOOK_INTR, reinterpret_cast<void*>(on_gp), &probe, 1, 0);
    uc_emu_start(s.uc, 0x1000, 0x1000 + sizeof code, 0, 0);
    uc_hook_del(s.uc, h);
    if (probe.after.empty()) fail("unicorn calibration: #GP probe did not fault");
    return probe.after;
}

UcLayout calibrate()
{
    Scratch s;
    UcLayout l;
    l.context_size = uc_context_size(s.uc);
    const std::size_t n = l.context_size;

    std::uint64_t v = 0x5a17c0de8badf00dull;
    uc_reg_write(s.uc, UC_X86_REG_RAX, &v);
    l.regs = unique(find_u64(s.save(), n, v), "unicorn calibration: RAX not found in context");
    l.eip = l.regs + 16 * 8;
    l.eflags = l.eip + 8;
    v = 0x1357924680ull;
    uc_reg_write(s.uc, UC_X86_REG_RIP, &v);
    if (reinterpret_cast<const std::uint8_t*>(s.save()) && std::memcmp(s.save() + l.eip, &v, 8) != 0)
        fail("unicorn calibration: EIP is not after regs[16]");

    uc_x86_mmr mmr{0x1230, 0x1122334455667788ull, 0xabcde, 0x8200};
    uc_reg_write(s.uc, UC_X86_REG_LDTR, &mmr);
    l.ldt = unique(find_u64(s.save(), n, mmr.base), "unicorn calibration: LDTR base not found") - 8;
    l.segs = l.ldt - 6 * 24;
    l.tr = l.ldt + 24;
    l.gdt = l.ldt + 48;
    l.idt = l.ldt + 72;
    l.cr = l.ldt + 96;
    l.hflags = l.segs - 8;

    const std::uint8_t* p = s.save();
    auto u32_at = [&](std::size_t off) { std::uint32_t x; std::memcpy(&x, p + off, 4); return x; };
    auto u64_at = [&](std::size_t off) { std::uint64_t x; std::memcpy(&x, p + off, 8); return x; };
    if (u32_at(l.ldt) != 0x1230 || u32_at(l.ldt + 16) != 0xabcde || u32_at(l.ldt + 20) != 0x8200)
        fail("unicorn calibration: SegmentCache layout differs");
    std::uint32_t h = u32_at(l.hflags);
    if ((h & (hf::PE | hf::LMA | hf::CS64)) != (hf::PE | hf::LMA | hf::CS64))
        fail("unicorn calibration: hflags not where expected");

    v = 0x7fff12345000ull;
    uc_reg_write(s.uc, UC_X86_REG_FS_BASE, &v);
    p = s.save();
    if (u64_at(l.segs + 4 * 24 + 8) != v) fail("unicorn calibration: FS base not in segs[4]");
    uc_x86_mmr g{0, 0xfeed0000ull, 0x2ff, 0};
    uc_reg_write(s.uc, UC_X86_REG_GDTR, &g);
    v = 0x123456000ull;
    uc_reg_write(s.uc, UC_X86_REG_CR3, &v);
    p = s.save();
    if (u64_at(l.gdt + 8) != g.base || u32_at(l.gdt + 16) != 0x2ff) fail("unicorn calibration: GDTR layout");
    if (u64_at(l.cr + 24) != v) fail("unicorn calibration: CR3 not in cr[3]");
    v = 0;
    uc_reg_write(s.uc, UC_X86_REG_CR3, &v);
    uc_x86_mmr g0{0, 0, 0, 0};
    uc_reg_write(s.uc, UC_X86_REG_GDTR, &g0);

    // EFER: two values written through WRMSR, the one offset holding both.
    uc_x86_msr m{0xc0000080, 0xd01};
    uc_reg_write(s.uc, UC_X86_REG_MSR, &m);
    auto first = find_u64(s.save(), n, 0xd01);
    m.value = 0x501;
    uc_reg_write(s.uc, UC_X86_REG_MSR, &m);
    p = s.save();
    for (std::size_t off : first)
        if (off > l.cr && u64_at(off) == 0x501) l.efer = off;
    if (!l.efer) fail("unicorn calibration: EFER not found");

    // Error code and double-fault bookkeeping: two #GPs with distinct codes.
    std::vector<std::uint8_t> before;
    auto a = provoke_gp(s, 0x7ff8, &before);
    auto ca = find_u32(a.data(), n, 0x7ff8);
    std::vector<std::size_t> old_candidates;
    for (std::size_t i = l.cr; i + 4 <= n; i += 4) {
        std::int32_t x0, x1;
        std::memcpy(&x0, before.data() + i, 4);
        std::memcpy(&x1, a.data() + i, 4);
        if (x0 == -1 && x1 == 13) old_candidates.push_back(i);
    }
    // Without resetting the bookkeeping, QEMU reports the second #GP as #DF.
    if (old_candidates.size() == 1) {
        const std::uint8_t* cur = s.save();
        std::vector<std::uint8_t> copy(cur, cur + n);
        std::int32_t minus_one = -1;
        std::memcpy(reinterpret_cast<std::uint8_t*>(s.ctx) + old_candidates[0], &minus_one, 4);
        uc_context_restore(s.uc, s.ctx);
    }
    auto b = provoke_gp(s, 0x6ff0, nullptr);
    for (std::size_t off : ca) {
        std::uint32_t x;
        std::memcpy(&x, b.data() + off, 4);
        if (x == 0x6ff0 && off > l.cr) {
            if (l.error_code) fail("unicorn calibration: error code ambiguous");
            l.error_code = off;
        }
    }
    if (!l.error_code) fail("unicorn calibration: error code not found");
    // Unicorn 2.1 may reset the bookkeeping itself; then there is nothing to fix.
    l.old_exception = old_candidates.size() == 1 ? old_candidates[0] : 0;
    return l;
}

}  // namespace

const UcLayout& uc_layout()
{
    static const UcLayout layout = calibrate();
    return layout;
}

UcCpuBlob::UcCpuBlob(uc_engine* uc, const UcLayout& layout) : uc_(uc), layout_(layout)
{
    if (uc_context_alloc(uc_, &ctx_) != UC_ERR_OK) hal::panic("unicorn: uc_context_alloc failed");
}

UcCpuBlob::~UcCpuBlob()
{
    uc_context_free(ctx_);
}

void UcCpuBlob::save()
{
    uc_context_save(uc_, ctx_);
}

void UcCpuBlob::restore()
{
    uc_context_restore(uc_, ctx_);
}

std::size_t UcCpuBlob::seg_offset(int seg) const
{
    return seg < 6 ? layout_.segs + 24 * static_cast<std::size_t>(seg) : layout_.ldt + 24 * static_cast<std::size_t>(seg - 6);
}

UcSegment UcCpuBlob::segment(int seg) const
{
    std::size_t o = seg_offset(seg);
    return UcSegment{get<std::uint32_t>(o), get<std::uint64_t>(o + 8), get<std::uint32_t>(o + 16),
                     get<std::uint32_t>(o + 20)};
}

void UcCpuBlob::set_segment(int seg, const UcSegment& s)
{
    std::size_t o = seg_offset(seg);
    put(o, s.selector);
    put(o + 8, s.base);
    put(o + 16, s.limit);
    put(o + 20, s.flags);
}

void UcCpuBlob::recompute_hflags()
{
    constexpr int kEs = 0, kCs = 1, kSs = 2, kDs = 3;
    const std::uint64_t cr0 = cr(0), cr4 = cr(4), ef = efer();
    const bool vm = (eflags() >> 17) & 1;
    std::uint32_t h = hflags();
    h &= ~(hf::CPL_MASK | hf::INHIBIT_IRQ | hf::CS32 | hf::SS32 | hf::ADDSEG | hf::PE | hf::MP | hf::EM | hf::TS |
           hf::LMA | hf::CS64 | hf::SVME | hf::GUEST | hf::OSFXSR | hf::SMAP | hf::MPX | hf::SMM);
    const bool pe = cr0 & 1;
    if (pe) h |= hf::PE;
    h |= static_cast<std::uint32_t>((cr0 << 8) & (hf::MP | hf::EM | hf::TS));  // CR0 bits 1..3 -> 9..11
    const bool lma = (ef >> 10) & 1;
    if (lma) h |= hf::LMA;
    if ((ef >> 12) & 1) h |= hf::SVME;
    if ((cr4 >> 9) & 1) h |= hf::OSFXSR;
    if ((cr4 >> 21) & 1) h |= hf::SMAP;
    const UcSegment cs = segment(kCs), ss = segment(kSs);
    if (lma && (cs.flags & desc::L)) {
        h |= hf::CS64 | hf::CS32 | hf::SS32;
    } else {
        if (cs.flags & desc::B) h |= hf::CS32;
        if (ss.flags & desc::B) h |= hf::SS32;
    }
    std::uint32_t cpl = 0;
    if (vm) cpl = 3;
    else if (pe) cpl = (ss.flags >> 13) & 3;
    h |= cpl;
    if (!(h & hf::CS64)) {
        if (!pe || vm || !(h & hf::CS32)) h |= hf::ADDSEG;
        else if ((segment(kDs).base | segment(kEs).base | ss.base) != 0) h |= hf::ADDSEG;
    }
    set_hflags(h);
}

void uc_reset_exception_state(UcCpuBlob& blob)
{
    if (blob.layout().old_exception) blob.put<std::int32_t>(blob.layout().old_exception, -1);
}

}  // namespace xeno::sim
