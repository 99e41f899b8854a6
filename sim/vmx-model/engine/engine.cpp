// Engine set-up, guest-state load/save (SDM Vol. 3C 26.3.2, 27.3), the run
// loop and the live guest state seen by VMREAD/VMWRITE during an exit.
#include <cstdio>
#include <cstdlib>
#include "sim/vmx-model/engine/engine.hpp"

#include "arch/x86/vmx/vmcs_field.hpp"
#include "lib/bits.hpp"
#include "hal/panic.hpp"
#include "sim/platform/machine_memory.hpp"
#include "sim/vmx-model/engine/engine_impl.hpp"
#include "sim/vmx-model/engine/vtime.hpp"

namespace xeno::sim {

namespace f = vmx::field;
using vmx::encoding_type;
using vmx::VmcsFieldType;

namespace {

// VMCS segment fields, in QEMU's segment order (ES CS SS DS FS GS LDTR TR).
struct SegFields {
    u32 selector, base, limit, ar;
};
constexpr SegFields kSegFields[8] = {
    {f::GUEST_ES_SELECTOR.kEncoding, f::GUEST_ES_BASE.kEncoding, f::GUEST_ES_LIMIT.kEncoding, f::GUEST_ES_AR_BYTES.kEncoding},
    {f::GUEST_CS_SELECTOR.kEncoding, f::GUEST_CS_BASE.kEncoding, f::GUEST_CS_LIMIT.kEncoding, f::GUEST_CS_AR_BYTES.kEncoding},
    {f::GUEST_SS_SELECTOR.kEncoding, f::GUEST_SS_BASE.kEncoding, f::GUEST_SS_LIMIT.kEncoding, f::GUEST_SS_AR_BYTES.kEncoding},
    {f::GUEST_DS_SELECTOR.kEncoding, f::GUEST_DS_BASE.kEncoding, f::GUEST_DS_LIMIT.kEncoding, f::GUEST_DS_AR_BYTES.kEncoding},
    {f::GUEST_FS_SELECTOR.kEncoding, f::GUEST_FS_BASE.kEncoding, f::GUEST_FS_LIMIT.kEncoding, f::GUEST_FS_AR_BYTES.kEncoding},
    {f::GUEST_GS_SELECTOR.kEncoding, f::GUEST_GS_BASE.kEncoding, f::GUEST_GS_LIMIT.kEncoding, f::GUEST_GS_AR_BYTES.kEncoding},
    {f::GUEST_LDTR_SELECTOR.kEncoding, f::GUEST_LDTR_BASE.kEncoding, f::GUEST_LDTR_LIMIT.kEncoding, f::GUEST_LDTR_AR_BYTES.kEncoding},
    {f::GUEST_TR_SELECTOR.kEncoding, f::GUEST_TR_BASE.kEncoding, f::GUEST_TR_LIMIT.kEncoding, f::GUEST_TR_AR_BYTES.kEncoding},
};

// VMCS access rights (Table 25-2) <-> QEMU descriptor flags (high dword bits 8..23).
u32 ar_to_flags(u32 ar)
{
    u32 flags = (ar & 0xf0ff) << 8;
    if (ar & vmx::ar::UNUSABLE) flags &= ~desc::P;
    return flags;
}
u32 flags_to_ar(u32 flags)
{
    u32 ar = (flags >> 8) & 0xf0ff;
    if (!(flags & desc::P)) ar |= vmx::ar::UNUSABLE;
    return ar;
}

// The access rights a processor holds for segment register `index`
// (kSegFields order) given the engine's cached flags. QEMU keeps the
// descriptor as it was read, but a processor's segment load sets the
// accessed bit of code/data descriptors (SDM Vol. 3A 3.4.5.1) and LTR marks
// the TSS busy (SDM Vol. 2 "LTR"), and those are the values a VM exit saves.
u32 segment_ar(int index, u32 flags)
{
    u32 ar = flags_to_ar(flags);
    if (ar & vmx::ar::UNUSABLE) return ar;
    constexpr int kTrIndex = 7;
    if (ar & vmx::ar::S)
        ar |= 1;  // type bit 0: accessed
    else if (index == kTrIndex && ((ar & vmx::ar::TYPE_MASK) == 1 || (ar & vmx::ar::TYPE_MASK) == 9))
        ar |= 2;  // type bit 1: busy
    return ar;
}

constexpr u64 kEferLme = bit(8), kEferLma = bit(10);

void block_cb(uc_engine*, u64 address, u32 size, void* user)
{
    static_cast<Engine::Impl*>(user)->on_block(address, size);
}
void intr_cb(uc_engine*, u32 vector, void* user)
{
    static_cast<Engine::Impl*>(user)->on_interrupt(vector);
}
bool invalid_cb(uc_engine*, void* user)
{
    static_cast<Engine::Impl*>(user)->on_invalid_opcode();
    return true;
}
bool tlb_cb(uc_engine*, u64 vaddr, uc_mem_type type, uc_tlb_entry* result, void* user)
{
    return static_cast<Engine::Impl*>(user)->on_tlb_fill(vaddr, type, result);
}
void edge_cb(uc_engine*, uc_tb* cur, uc_tb*, void* user)
{
    static_cast<Engine::Impl*>(user)->on_new_translation(cur->pc);
}

// Unicorn cannot give the model what it needs (a broken installation, not
// anything a guest did): nothing can run in this process.
[[noreturn]] void unicorn_unusable(const char* what)
{
    std::fprintf(stderr, "xeno: unicorn: %s\n", what);
    std::fflush(stderr);
    std::abort();
}

}  // namespace

Engine::Impl::Impl(Engine& e, MachineMemory& m) : engine(e), uc(e.uc_), memory(m), blob(e.uc_, uc_layout()) {}

Engine::Impl::~Impl() = default;

Engine::Engine(MachineMemory& memory, const CpuProfile& profile) : memory_(memory), profile_(profile)
{
    const UcLayout& layout = uc_layout();  // calibrates once per process (self-test inside)
    if (uc_open(UC_ARCH_X86, UC_MODE_64, &uc_) != UC_ERR_OK) unicorn_unusable("uc_open failed");
    // The instruction set the profile's CPUID promises (before anything else
    // touches the engine: the model is fixed when the CPU is created).
    if (uc_ctl_set_cpu_model(uc_, profile.unicorn_cpu_model) != UC_ERR_OK) unicorn_unusable("CPU model refused");
    // Machine memory as the physical address space, in regions of at most
    // 1 GiB (a few large regions keep Unicorn's region lookup cheap).
    constexpr u64 kChunk = u64{1} << 30;
    for (u64 off = 0; off < memory.size(); off += kChunk) {
        u64 len = memory.size() - off < kChunk ? memory.size() - off : kChunk;
        len &= ~u64{0xfff};
        if (len == 0) break;
        if (uc_mem_map_ptr(uc_, off, len, UC_PROT_ALL, memory.data() + off) != UC_ERR_OK)
            unicorn_unusable("mapping machine memory failed");
    }
    if (uc_ctl_tlb_mode(uc_, UC_TLB_VIRTUAL) != UC_ERR_OK) unicorn_unusable("UC_TLB_VIRTUAL unavailable");
    impl_ = std::make_unique<Impl>(*this, memory);
    impl_->live_regs = uc_find_live_regs(uc_, layout);
    impl_->install_hooks();
}

Engine::~Engine()
{
    impl_.reset();
    if (uc_) uc_close(uc_);
}

LiveGuestState& Engine::live_guest()
{
    return *impl_;
}

u64 Engine::vtime_ns() const
{
    return virtual_time_ns(instructions_, exits_) + impl_->idle_ns;
}

void Engine::raise_external_interrupt_at(u64 deadline_ns, u8 vector)
{
    ext_pending_ = true;
    ext_deadline_ = deadline_ns;
    ext_vector_ = vector;
    impl_->update_async_deadline();
}

void Engine::cancel_external_interrupt()
{
    ext_pending_ = false;
    ext_deadline_ = ~u64{0};
    impl_->update_async_deadline();
}

void Engine::request_wall_stop()
{
    wall_stop_.store(true);
    uc_emu_stop(uc_);
}

void Engine::stop(StopCause cause, std::string reason)
{
    if (stop_cause_ != StopCause::NONE) return;
    stop_cause_ = cause;
    stop_reason_ = std::move(reason);
}

bool Engine::stop_if_wall_time_passed()
{
    if (!wall_stop_.load(std::memory_order_relaxed)) [[likely]]
        return false;
    stop(StopCause::WALL_TIME_LIMIT,
         wall_stop_reason_.empty() ? std::string("the run passed its wall-time limit") : wall_stop_reason_);
    return true;
}

bool Engine::stop_past_vtime_limit(u64 vtime)
{
    if (!vtime_limit_ || vtime <= vtime_limit_) return false;
    stop(StopCause::VTIME_LIMIT, "the guest ran past its virtual time limit of " +
                                     std::to_string(vtime_limit_ / 1'000'000) + " ms (" +
                                     std::to_string(instructions_) + " instructions)");
    return true;
}

bool Engine::idle_until_external_interrupt()
{
    // After a stop the wait is over at once (the hypervisor is on its way
    // out: hal::stop_requested); a limit reached here is such a stop.
    if (stopped() || stop_if_wall_time_passed()) return true;
    if (!ext_pending_) return false;
    const u64 now = vtime_ns();
    if (stop_past_vtime_limit(ext_deadline_ > now ? ext_deadline_ : now)) return true;
    if (ext_deadline_ > now) impl_->idle_ns += ext_deadline_ - now;
    cancel_external_interrupt();
    return true;
}

void Engine::flush_tlb()
{
    uc_ctl_flush_tlb(uc_);
}

void Engine::memory_written(u64 hpa, u64 length)
{
    impl_->invalidate_code_at_machine(hpa, length);
    impl_->drop_block_cache();
}

// Translated code is keyed by Unicorn "physical" (= machine) addresses, but
// uc_ctl_remove_cache takes a guest-virtual range and translates its start
// as a code fetch, through the TLB and the fill hook. Two ways to use it:

void Engine::Impl::invalidate_code_at_linear(u64 va, u64 length, u64 machine)
{
    // The probe translates `va` as a fetch in the current context. Its fill
    // must not fail: a failed fill inside uc_emu_start (event delivery from
    // an INT n site hook) leaves Unicorn's exit request pending, and Unicorn
    // then fills 0xfffff000 on its way out, which the model took for a guest
    // #PF at the handler's first instruction (CR2 0xfffff000). Writes the
    // fetch walk refuses (a ring-3 delivery pushing on the supervisor stack
    // of ring 0 or writing the GDT, an execute-disable page) invalidate by
    // machine address instead: translated code there is dropped all the same.
    if (translate_linear(memory, translation_context(), va, Access::FETCH).status != WalkStatus::OK) {
        invalidate_code_at_machine(machine, length);
        return;
    }
    probing_fill = true;
    uc_ctl_remove_cache(uc, va, va + length);
    probing_fill = false;
}

void Engine::Impl::invalidate_code_at_machine(u64 hpa, u64 length)
{
    // No linear address: empty the TLB, answer identity for the call, and
    // drop the identity entries after.
    uc_ctl_flush_tlb(uc);
    identity_fill = true;
    uc_ctl_remove_cache(uc, hpa, hpa + length);
    identity_fill = false;
    uc_ctl_flush_tlb(uc);
}

void Engine::Impl::install_hooks()
{
    uc_hook_add(uc, &block_hook, UC_HOOK_BLOCK, reinterpret_cast<void*>(block_cb), this, 1, 0);
    uc_hook_add(uc, &intr_hook, UC_HOOK_INTR, reinterpret_cast<void*>(intr_cb), this, 1, 0);
    uc_hook_add(uc, &invalid_hook, UC_HOOK_INSN_INVALID, reinterpret_cast<void*>(invalid_cb), this, 1, 0);
    uc_hook_add(uc, &tlb_hook, UC_HOOK_TLB_FILL, reinterpret_cast<void*>(tlb_cb), this, 1, 0);
    uc_hook_add(uc, &edge_hook, UC_HOOK_EDGE_GENERATED, reinterpret_cast<void*>(edge_cb), this, 1, 0);
}

void Engine::Impl::drop_block_cache()
{
    // Hooks stay (a hook on an address that no longer holds a sensitive
    // instruction finds no decode and returns); decodes are redone.
    cur_block_info = nullptr;
    // Nothing cached (a slot only ever points at a block in `blocks`): the
    // hypervisor writes guest memory far more often than code runs between
    // two drops, and clearing 4096 slots every time is not free.
    if (blocks.empty() && sites.empty() && code_pages.empty() && page_blocks.empty()) return;
    blocks.clear();
    sites.clear();
    code_pages.clear();
    page_blocks.clear();
    for (BlockSlot& slot : block_slots) slot = BlockSlot{};
    cur_block_info = nullptr;
}

u64 Engine::Impl::reg(int id)
{
    if (live_regs) {
        // The registers an exit path reads, as the API would return them
        // (mode 64: full GPRs, env->eip, env->cr[n], the CS selector).
        const UcLayout& l = blob.layout();
        switch (id) {
        case UC_X86_REG_RAX: return live_u64(8 * 0);
        case UC_X86_REG_RCX: return live_u64(8 * 1);
        case UC_X86_REG_RDX: return live_u64(8 * 2);
        case UC_X86_REG_RBX: return live_u64(8 * 3);
        case UC_X86_REG_RSP: return live_u64(8 * 4);
        case UC_X86_REG_RBP: return live_u64(8 * 5);
        case UC_X86_REG_RSI: return live_u64(8 * 6);
        case UC_X86_REG_RDI: return live_u64(8 * 7);
        case UC_X86_REG_R8: return live_u64(8 * 8);
        case UC_X86_REG_R9: return live_u64(8 * 9);
        case UC_X86_REG_R10: return live_u64(8 * 10);
        case UC_X86_REG_R11: return live_u64(8 * 11);
        case UC_X86_REG_R12: return live_u64(8 * 12);
        case UC_X86_REG_R13: return live_u64(8 * 13);
        case UC_X86_REG_R14: return live_u64(8 * 14);
        case UC_X86_REG_R15: return live_u64(8 * 15);
        case UC_X86_REG_RIP: return live_u64(l.eip - l.regs);
        case UC_X86_REG_CR0: return live_u64(l.cr - l.regs);
        case UC_X86_REG_CR2: return live_u64(l.cr - l.regs + 16);
        case UC_X86_REG_CR3: return live_u64(l.cr - l.regs + 24);
        case UC_X86_REG_CR4: return live_u64(l.cr - l.regs + 32);
        case UC_X86_REG_CS: {
            u32 sel;
            std::memcpy(&sel, live_regs + (l.segs + 24 - l.regs), sizeof sel);
            return sel & 0xffff;
        }
        default: break;
        }
    }
    u64 v = 0;
    uc_reg_read(uc, id, &v);
    return v;
}

void Engine::Impl::set_reg(int id, u64 v)
{
    uc_reg_write(uc, id, &v);
}

u64 Engine::Impl::rip()
{
    return reg(UC_X86_REG_RIP);
}

void Engine::Impl::set_rip(u64 v)
{
    set_reg(UC_X86_REG_RIP, v);
}

void Engine::Impl::read_gprs(hal::GuestRegs& r)
{
    if (live_regs) {
        std::memcpy(r.gpr, live_regs, sizeof r.gpr);
        r.cr2 = reg(UC_X86_REG_CR2);
        return;
    }
    // One batch call for the 16 GPRs and CR2 (an exit path).
    void* ptrs[17];
    int ids[17];
    for (int i = 0; i < 16; ++i) {
        ids[i] = kGprIds[i];
        ptrs[i] = &r.gpr[i];
    }
    ids[16] = UC_X86_REG_CR2;
    ptrs[16] = &r.cr2;
    uc_reg_read_batch(uc, ids, ptrs, 17);
}

void Engine::Impl::write_changed_gprs()
{
    // Most handlers change no GPR: one comparison instead of sixteen.
    if (std::memcmp(regs->gpr, regs_at_exit.gpr, sizeof regs->gpr) == 0 && regs->cr2 == regs_at_exit.cr2) return;
    for (int i = 0; i < 16; ++i) {
        if (i == 4) continue;  // RSP lives in the VMCS
        if (regs->gpr[i] != regs_at_exit.gpr[i]) set_reg(kGprIds[i], regs->gpr[i]);
    }
    if (regs->cr2 != regs_at_exit.cr2) set_reg(UC_X86_REG_CR2, regs->cr2);
}

unsigned Engine::Impl::code_bits()
{
    const u32 h = blob.hflags();
    return (h & hf::CS64) ? 64 : (h & hf::CS32) ? 32 : 16;
}

TranslationContext Engine::Impl::translation_context()
{
    TranslationContext c;
    c.cr0 = reg(UC_X86_REG_CR0);
    c.cr3 = reg(UC_X86_REG_CR3);
    c.cr4 = reg(UC_X86_REG_CR4);
    uc_x86_msr efer{0xc0000080, 0};
    uc_reg_read(uc, UC_X86_REG_MSR, &efer);
    c.efer = efer.value;
    c.maxphys = engine.profile_.phys_addr_width;
    const u64 rflags = reg(UC_X86_REG_EFLAGS);
    c.user = test_bit(rflags, 17) || (test_bit(c.cr0, 0) && (reg(UC_X86_REG_CS) & 3) == 3);
    c.ept = ept;
    c.eptp = eptp;
    if (pdptes_active && ept && pae_paging(c.cr0, c.cr4, c.efer)) {
        c.pdptes_valid = true;
        for (int i = 0; i < 4; ++i) c.pdptes[i] = pdptes[i];
    }
    return c;
}

Engine::Impl::PdpteLoad Engine::Impl::load_pdptes(u64 cr3, WalkResult* fault)
{
    TranslationContext c;
    c.ept = ept;
    c.eptp = eptp;
    u64 loaded[4] = {};
    for (int i = 0; i < 4; ++i) {
        // A guest-physical access without a linear address: an EPT
        // violation here has bit 7 of its qualification clear (Table 28-7).
        const u64 gpa = (cr3 & 0xffffffe0) + 8u * i;
        const WalkResult w = translate_guest_physical(memory, c, gpa, Access::READ, false, false);
        if (w.status != WalkStatus::OK) {
            *fault = w;
            return PdpteLoad::EPT_FAULT;
        }
        loaded[i] = memory.load<u64>(w.machine_page + (gpa & 0xfff));
        if (pae_pdpte_reserved(loaded[i])) return PdpteLoad::GP;
    }
    for (int i = 0; i < 4; ++i) pdptes[i] = loaded[i];
    pdptes_active = true;
    return PdpteLoad::OK;
}

bool Engine::Impl::read_linear(u64 va, void* out, usize len)
{
    const TranslationContext c = translation_context();
    auto* dst = static_cast<u8*>(out);
    while (len) {
        WalkResult w = translate_linear(memory, c, va, Access::FETCH);
        if (w.status != WalkStatus::OK) return false;
        const usize chunk = 0x1000 - (va & 0xfff) < len ? 0x1000 - (va & 0xfff) : len;
        std::memcpy(dst, memory.data() + w.machine_page + (va & 0xfff), chunk);
        dst += chunk;
        va += chunk;
        len -= chunk;
    }
    return true;
}

void Engine::Impl::load_controls()
{
    VmcsStore& v = *vmcs;
    pin = v.get(f::PIN_BASED_VM_EXEC_CONTROL);
    proc = v.get(f::CPU_BASED_VM_EXEC_CONTROL);
    proc2 = (proc & vmx::proc::ACTIVATE_SECONDARY_CONTROLS) ? v.get(f::SECONDARY_VM_EXEC_CONTROL) : 0;
    exit_ctls = v.get(f::VM_EXIT_CONTROLS);
    entry_ctls = v.get(f::VM_ENTRY_CONTROLS);
    exception_bitmap = v.get(f::EXCEPTION_BITMAP);
    pfec_mask = v.get(f::PAGE_FAULT_ERROR_CODE_MASK);
    pfec_match = v.get(f::PAGE_FAULT_ERROR_CODE_MATCH);
    cr0_mask = v.get(f::CR0_GUEST_HOST_MASK);
    cr4_mask = v.get(f::CR4_GUEST_HOST_MASK);
    cr0_shadow = v.get(f::CR0_READ_SHADOW);
    cr4_shadow = v.get(f::CR4_READ_SHADOW);
    cr3_target_count = v.get(f::CR3_TARGET_COUNT);
    cr3_targets[0] = v.get(f::CR3_TARGET_VALUE0);
    cr3_targets[1] = v.get(f::CR3_TARGET_VALUE1);
    cr3_targets[2] = v.get(f::CR3_TARGET_VALUE2);
    cr3_targets[3] = v.get(f::CR3_TARGET_VALUE3);
    io_bitmap_a = v.get(f::IO_BITMAP_A);
    io_bitmap_b = v.get(f::IO_BITMAP_B);
    msr_bitmap = (proc & vmx::proc::USE_MSR_BITMAPS) ? v.get(f::MSR_BITMAP) : 0;
    tsc_offset = v.get(f::TSC_OFFSET);
    const bool new_ept = (proc2 & vmx::proc2::ENABLE_EPT) != 0;
    const u64 new_eptp = new_ept ? v.get(f::EPT_POINTER) : 0;
    if (new_ept != ept || new_eptp != eptp) uc_ctl_flush_tlb(uc);
    ept = new_ept;
    eptp = new_eptp;
    entry_msr_load_count = v.get(f::VM_ENTRY_MSR_LOAD_COUNT);
    entry_msr_load_addr = entry_msr_load_count ? v.get(f::VM_ENTRY_MSR_LOAD_ADDR) : 0;
    exit_msr_store_count = v.get(f::VM_EXIT_MSR_STORE_COUNT);
    exit_msr_store_addr = exit_msr_store_count ? v.get(f::VM_EXIT_MSR_STORE_ADDR) : 0;
    exit_msr_load_count = v.get(f::VM_EXIT_MSR_LOAD_COUNT);
    exit_msr_load_addr = exit_msr_load_count ? v.get(f::VM_EXIT_MSR_LOAD_ADDR) : 0;
    mtf_update_hook();
}

void Engine::Impl::load_guest_state()
{
    VmcsStore& v = *vmcs;
    blob.save();
    for (int i = 0; i < 8; ++i) {
        const SegFields& s = kSegFields[i];
        blob.set_segment(i, UcSegment{static_cast<u32>(v.get(s.selector)), v.get(s.base),
                                      static_cast<u32>(v.get(s.limit)), ar_to_flags(static_cast<u32>(v.get(s.ar)))});
    }
    blob.set_segment(8, UcSegment{0, v.get(f::GUEST_GDTR_BASE), v.get(f::GUEST_GDTR_LIMIT), 0});
    blob.set_segment(9, UcSegment{0, v.get(f::GUEST_IDTR_BASE), v.get(f::GUEST_IDTR_LIMIT), 0});
    blob.set_cr(0, v.get(f::GUEST_CR0));
    blob.set_cr(2, regs->cr2);
    blob.set_cr(3, v.get(f::GUEST_CR3));
    blob.set_cr(4, v.get(f::GUEST_CR4));
    u64 efer;
    if (entry_ctls & vmx::entry_ctl::LOAD_EFER) {
        efer = v.get(f::GUEST_IA32_EFER);
    } else {
        // 26.3.2.1: without "load IA32_EFER", LMA and LME follow "IA-32e
        // mode guest" and the other bits stay as the host has them.
        efer = engine.host_efer() & ~(kEferLma | kEferLme);
        if (entry_ctls & vmx::entry_ctl::IA32E_MODE_GUEST) efer |= kEferLma | kEferLme;
    }
    blob.set_efer(efer);
    const u64 rflags = v.get(f::GUEST_RFLAGS);
    blob.put<u64>(blob.layout().eflags, rflags);
    blob.recompute_hflags();
    uc_reset_exception_state(blob);
    blob.restore();
    set_reg(UC_X86_REG_EFLAGS, rflags);
    set_reg(UC_X86_REG_RIP, v.get(f::GUEST_RIP));
    set_reg(UC_X86_REG_RSP, v.get(f::GUEST_RSP));
    // 26.3.2.1: DR7 and IA32_DEBUGCTL from the VMCS with "load debug
    // controls"; without it they keep what the processor had, which after
    // the VM exit that returned to the host is DR7 = 400H (28.5.1) and a
    // DEBUGCTL the host never changes (0).
    const bool load_debug = entry_ctls & vmx::entry_ctl::LOAD_DEBUG_CONTROLS;
    set_reg(UC_X86_REG_DR7, load_debug ? v.get(f::GUEST_DR7) : 0x400);
    debugctl = load_debug ? v.get(f::GUEST_IA32_DEBUGCTL) : 0;
    for (int i = 0; i < 16; ++i)
        if (i != 4) set_reg(kGprIds[i], regs->gpr[i]);
    auto wrmsr = [&](u32 msr, u64 value) {
        uc_x86_msr m{msr, value};
        uc_reg_write(uc, UC_X86_REG_MSR, &m);
    };
    wrmsr(0x174, v.get(f::GUEST_SYSENTER_CS));
    wrmsr(0x175, v.get(f::GUEST_SYSENTER_ESP));
    wrmsr(0x176, v.get(f::GUEST_SYSENTER_EIP));
    if (entry_ctls & vmx::entry_ctl::LOAD_PAT) wrmsr(0x277, v.get(f::GUEST_IA32_PAT));
    msr_list_loaded.clear();  // the VM-entry MSR-load list loads every entry again
    interruptibility = v.get(f::GUEST_INTERRUPTIBILITY_INFO);
    // Blocking by STI/MOV SS at entry covers the instruction at GUEST_RIP.
    shadowed = v.get(f::GUEST_RIP) + v.get(f::GUEST_CS_BASE);
    activity = v.get(f::GUEST_ACTIVITY_STATE);
    // 26.3.2.4: PAE paging with EPT takes its PDPTEs from the VMCS.
    pdptes_active = ept && pae_paging(v.get(f::GUEST_CR0), v.get(f::GUEST_CR4), efer);
    if (pdptes_active) {
        pdptes[0] = v.get(f::GUEST_PDPTE0);
        pdptes[1] = v.get(f::GUEST_PDPTE1);
        pdptes[2] = v.get(f::GUEST_PDPTE2);
        pdptes[3] = v.get(f::GUEST_PDPTE3);
    }
    uc_ctl_flush_tlb(uc);
    blob_fresh = false;
}

void Engine::Impl::save_guest_state()
{
    VmcsStore& v = *vmcs;
    blob.save();
    for (int i = 0; i < 8; ++i) {
        const SegFields& s = kSegFields[i];
        const UcSegment seg = blob.segment(i);
        v.set(s.selector, seg.selector);
        v.set(s.base, seg.base);
        v.set(s.limit, seg.limit);
        v.set(s.ar, segment_ar(i, seg.flags));
    }
    const UcSegment gdt = blob.segment(8), idt = blob.segment(9);
    v.set(f::GUEST_GDTR_BASE, gdt.base);
    v.set(f::GUEST_GDTR_LIMIT, gdt.limit);
    v.set(f::GUEST_IDTR_BASE, idt.base);
    v.set(f::GUEST_IDTR_LIMIT, idt.limit);
    v.set(f::GUEST_CR0, blob.cr(0));
    v.set(f::GUEST_CR3, blob.cr(3));
    v.set(f::GUEST_CR4, blob.cr(4));
    const u64 efer = blob.efer();
    // 27.3.4: with EPT, PAE paging's PDPTE registers go to the VMCS.
    if (ept && pae_paging(blob.cr(0), blob.cr(4), efer)) {
        if (!pdptes_active) {  // every way into PAE paging loads them: defensive
            WalkResult unused;
            (void)load_pdptes(blob.cr(3), &unused);
        }
        v.set(f::GUEST_PDPTE0, pdptes[0]);
        v.set(f::GUEST_PDPTE1, pdptes[1]);
        v.set(f::GUEST_PDPTE2, pdptes[2]);
        v.set(f::GUEST_PDPTE3, pdptes[3]);
    }
    if (exit_ctls & vmx::exit_ctl::SAVE_EFER) v.set(f::GUEST_IA32_EFER, efer);
    // 27.2: "IA-32e mode guest" follows EFER.LMA on every VM exit. The
    // model saves lazily, after the exit handler ran: a value the handler
    // wrote (it moved the guest in or out of IA-32e mode) is newer.
    if (!entry_ctls_written) {
        u32 entry = v.get(f::VM_ENTRY_CONTROLS);
        entry = (efer & kEferLma) ? entry | vmx::entry_ctl::IA32E_MODE_GUEST : entry & ~vmx::entry_ctl::IA32E_MODE_GUEST;
        v.set(f::VM_ENTRY_CONTROLS, entry);
    }
    v.set(f::GUEST_RFLAGS, reg(UC_X86_REG_EFLAGS));
    v.set(f::GUEST_RIP, rip());
    v.set(f::GUEST_RSP, reg(UC_X86_REG_RSP));
    if (exit_ctls & vmx::exit_ctl::SAVE_DEBUG_CONTROLS) {  // 28.3.1
        v.set(f::GUEST_DR7, reg(UC_X86_REG_DR7));
        v.set(f::GUEST_IA32_DEBUGCTL, debugctl);
    }
    auto rdmsr = [&](u32 msr) {
        uc_x86_msr m{msr, 0};
        uc_reg_read(uc, UC_X86_REG_MSR, &m);
        return m.value;
    };
    v.set(f::GUEST_SYSENTER_CS, static_cast<u32>(rdmsr(0x174)));
    v.set(f::GUEST_SYSENTER_ESP, rdmsr(0x175));
    v.set(f::GUEST_SYSENTER_EIP, rdmsr(0x176));
    if (exit_ctls & vmx::exit_ctl::SAVE_PAT) v.set(f::GUEST_IA32_PAT, rdmsr(0x277));
    v.set(f::GUEST_INTERRUPTIBILITY_INFO, interruptibility);
    v.set(f::GUEST_ACTIVITY_STATE, activity);
    save_preemption_timer();
    regs->cr2 = reg(UC_X86_REG_CR2);
}

void Engine::Impl::save_preemption_timer()
{
    if (!(pin & vmx::pin::PREEMPTION_TIMER) || !(exit_ctls & vmx::exit_ctl::SAVE_PREEMPTION_TIMER)) return;
    // The TSC ticks left until the deadline, at the profile's rate (25.5.1).
    const u64 now = engine.vtime_ns(), hz = engine.profile_.tsc_hz;
    const u64 left = preemption_deadline > now ? tsc_at_ns(preemption_deadline, hz) - tsc_at_ns(now, hz) : 0;
    vmcs->set(f::VMX_PREEMPTION_TIMER_VALUE, static_cast<u32>(left >> engine.profile_.preemption_timer_rate()));
}

// ---- live guest state (VMREAD/VMWRITE during an exit handler) ----

// Besides the GUEST-type fields the live state takes the CONTROL-type ones
// while an exit handler runs: they go straight to the store, but the engine
// learns which changed, so a RESUME reloads controls only when needed.
bool Engine::Impl::owns(u32 enc) const
{
    return live && encoding_type(enc) == VmcsFieldType::CONTROL;
}

bool Engine::Impl::control_access(u32 enc, const u64* write_value, u64* read_value)
{
    if (encoding_type(enc) != VmcsFieldType::CONTROL) return false;
    if (!write_value) {
        *read_value = vmcs->get(enc);
        if (enc == f::VM_ENTRY_CONTROLS.kEncoding && !entry_ctls_written) {
            // What the exit stored: the IA-32e bit from the guest's EFER.LMA.
            if (!blob_fresh) {
                blob.save();
                blob_fresh = true;
            }
            const u64 ia32e = vmx::entry_ctl::IA32E_MODE_GUEST;
            *read_value = (blob.efer() & kEferLma) ? *read_value | ia32e : *read_value & ~ia32e;
        }
        return true;
    }
    vmcs->set(enc, *write_value);
    if (enc == f::VM_ENTRY_CONTROLS.kEncoding) entry_ctls_written = true;
    const u32 full = enc & ~1u;
    if (full == f::VM_ENTRY_INTR_INFO_FIELD.kEncoding || full == f::VM_ENTRY_EXCEPTION_ERROR_CODE.kEncoding ||
        full == f::VM_ENTRY_INSTRUCTION_LEN.kEncoding)
        injection_written = true;
    else
        controls_dirty = true;
    return true;
}

u64 Engine::Impl::read(u32 enc)
{
    if (!live) return vmcs->get(enc);
    u64 control = 0;
    if (control_access(enc, nullptr, &control)) return control;
    for (auto it = pending.rbegin(); it != pending.rend(); ++it)
        if (it->encoding == enc) return it->value;
    const u64 mask = VmcsStore::width_mask(enc);
    switch (enc) {
    case f::GUEST_RIP.kEncoding: return exit_rip;
    case f::GUEST_RSP.kEncoding: return reg(UC_X86_REG_RSP);
    case f::GUEST_RFLAGS.kEncoding: return reg(UC_X86_REG_EFLAGS);
    case f::GUEST_CR0.kEncoding: return reg(UC_X86_REG_CR0);
    case f::GUEST_CR3.kEncoding: return reg(UC_X86_REG_CR3);
    case f::GUEST_CR4.kEncoding: return reg(UC_X86_REG_CR4);
    case f::GUEST_DR7.kEncoding:
        return (exit_ctls & vmx::exit_ctl::SAVE_DEBUG_CONTROLS) ? reg(UC_X86_REG_DR7) : vmcs->get(enc);
    case f::GUEST_INTERRUPTIBILITY_INFO.kEncoding: return interruptibility;
    case f::GUEST_ACTIVITY_STATE.kEncoding: return activity;
    default: break;
    }
    // Segment and descriptor-table state, EFER: from a saved blob.
    bool in_blob = false;
    for (const SegFields& s : kSegFields)
        if (enc == s.selector || enc == s.base || enc == s.limit || enc == s.ar) in_blob = true;
    if (enc == f::GUEST_GDTR_BASE.kEncoding || enc == f::GUEST_GDTR_LIMIT.kEncoding || enc == f::GUEST_IDTR_BASE.kEncoding ||
        enc == f::GUEST_IDTR_LIMIT.kEncoding || enc == f::GUEST_IA32_EFER.kEncoding)
        in_blob = true;
    if (!in_blob) return vmcs->get(enc);
    if (!blob_fresh) {
        blob.save();
        blob_fresh = true;
    }
    for (int i = 0; i < 8; ++i) {
        const SegFields& s = kSegFields[i];
        const UcSegment seg = blob.segment(i);
        if (enc == s.selector) return seg.selector;
        if (enc == s.base) return seg.base;
        if (enc == s.limit) return seg.limit;
        if (enc == s.ar) return segment_ar(i, seg.flags);
    }
    if (enc == f::GUEST_GDTR_BASE.kEncoding) return blob.segment(8).base;
    if (enc == f::GUEST_GDTR_LIMIT.kEncoding) return blob.segment(8).limit & mask;
    if (enc == f::GUEST_IDTR_BASE.kEncoding) return blob.segment(9).base;
    if (enc == f::GUEST_IDTR_LIMIT.kEncoding) return blob.segment(9).limit & mask;
    return blob.efer();
}

void Engine::Impl::write(u32 enc, u64 value)
{
    if (control_access(enc, &value, nullptr)) return;
    pending.push_back(PendingWrite{enc, value & VmcsStore::width_mask(enc)});
}

}  // namespace xeno::sim
