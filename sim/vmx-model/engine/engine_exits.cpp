// Where the guest exits (SDM Vol. 3C 26.1, 26.2, 28.2) and the exit
// information the model reports, at the exact RIP of the instruction.
//
// Why per-site code hooks (measured on Unicorn 2.1.4 on this machine):
// - IN/OUT instruction hooks see a stale RIP (the last synchronised EIP, e.g.
//   0x1001 for an OUT at 0x1003) and writing RIP there does not abandon the
//   block: the next OUT in the block still ran. Not usable for exits.
// - CPUID/RDTSC/RDMSR hooks do see the exact RIP, but not IN/OUT, HLT,
//   MOV CR/DR, INVLPG, INT n, which the model needs as well.
// - A UC_HOOK_CODE hook on one address runs before the instruction with the
//   exact RIP and writing RIP there abandons the block (a skipped CPUID was
//   not executed, the next instruction ran). It costs nothing when not hit.
// So: the block hook decodes each new block once (decode.cpp), installs a
// one-address code hook on each instruction that may exit or that the model
// must emulate (RDTSC), and restarts the block so the hook takes effect.
// Inside the hook an exit calls the hypervisor's handler directly and the
// guest goes on at the RIP the handler leaves (26.x: the exiting instruction
// did not execute). Instructions that do not exit run natively in Unicorn.
#include <cstdio>

#include "arch/x86/vmx/vmcs_field.hpp"
#include "lib/bits.hpp"
#include "hal/panic.hpp"
#include "sim/platform/machine_memory.hpp"
#include "sim/vmx-model/engine/engine_impl.hpp"
#include "sim/vmx-model/engine/vtime.hpp"

namespace xeno::sim {

namespace f = vmx::field;
using vmx::ExitReason;
using vmx::InterruptionType;

namespace {

void site_cb(uc_engine*, u64 address, u32, void* user)
{
    static_cast<Engine::Impl*>(user)->on_site(address);
}

u32 reason(ExitReason r)
{
    return static_cast<u32>(r);
}

bool needs_site(InsnKind k)
{
    return k != InsnKind::OTHER;
}

}  // namespace

// ---- counting ----

void Engine::Impl::retire_block_partial(u64 linear, bool count_current)
{
    if (!cur_block_info) return;
    const auto& offs = cur_block_info->offsets;
    const u64 n = offs.size();
    u64 k = n;
    for (u64 i = 0; i < n; ++i)
        if (cur_block + offs[i] == linear) {
            k = i;
            break;
        }
    u64 undo = n - k;
    if (count_current && undo > 0) --undo;
    engine.instructions_ -= undo;
    cur_block_info = nullptr;
}

u64 Engine::Impl::precise_instructions(u64 linear) const
{
    if (!cur_block_info) return engine.instructions_;
    const auto& offs = cur_block_info->offsets;
    const u64 n = offs.size();
    u64 k = n;
    for (u64 i = 0; i < n; ++i)
        if (cur_block + offs[i] == linear) {
            k = i;
            break;
        }
    return engine.instructions_ - (n - k);
}

// ---- blocks ----

bool Engine::Impl::decode_block(u64 address, u32 size)
{
    blob.save();
    const unsigned mode = code_bits();
    std::vector<u8> buf(size);
    Block b;
    b.size = size;
    bool added = false;
    if (size && read_linear(address, buf.data(), size)) {
        usize i = 0;
        while (i < size) {
            DecodedInsn d = decode_insn(buf.data() + i, size - i, mode);
            b.offsets.push_back(static_cast<u16>(i));
            if (d.length == 0) {
                // The block ends inside this instruction: Unicorn stopped
                // translating where it raises a fault, having read only the
                // opcode (MOV DR at CPL 3: #GP). Its hook must still run
                // first when the VM exit has priority over that fault
                // (26.1.3), so decode it from its own bytes.
                u8 whole[15] = {};
                usize n = 15;
                while (n && !read_linear(address + i, whole, n)) --n;
                d = n ? decode_insn(whole, n, mode) : DecodedInsn{};
                if (d.length != 0 && needs_site(d.kind)) added |= install_site(address + i, d);
                break;
            }
            if (needs_site(d.kind)) added |= install_site(address + i, d);
            i += d.length;
        }
    } else {
        // The code is not mapped where the model's walk looks (the processor
        // ran it from a translation it still holds): count it as one
        // instruction and try again the next time it runs.
        b.offsets.push_back(0);
        b.unread = size != 0;
    }
    if (!b.unread && size) {
        note_code_page(address & ~u64{0xfff}, address);
        const u64 last = (address + size - 1) & ~u64{0xfff};
        if (last != (address & ~u64{0xfff})) note_code_page(last, address);
    }
    blocks[address] = std::move(b);
    return added;
}

bool Engine::Impl::install_site(u64 at, const DecodedInsn& d)
{
    sites[at] = d;
    if (hooked.find(at) != hooked.end()) return false;
    uc_hook h;
    uc_hook_add(uc, &h, UC_HOOK_CODE, reinterpret_cast<void*>(site_cb), this, at, at);
    hooked.emplace(at, h);
    return true;  // a new hook: takes effect in a fresh translation
}

void Engine::Impl::note_code_page(u64 linear_page, u64 block_address)
{
    const WalkResult w = translate_linear(memory, translation_context(), linear_page, Access::FETCH);
    if (w.status != WalkStatus::OK) return;  // read a moment ago: cannot fail
    code_pages[linear_page] = w.machine_page;
    page_blocks[linear_page].push_back(block_address);
}

// Every successful TLB fill that allows execution: a linear page whose
// decodes were read from another machine page now holds other code.
void Engine::Impl::code_page_filled(u64 linear_page, u64 machine_page)
{
    const auto page = code_pages.find(linear_page);
    if (page == code_pages.end() || page->second == machine_page) return;
    code_pages.erase(page);
    const auto list = page_blocks.find(linear_page);
    if (list == page_blocks.end()) return;
    const std::vector<u64> starts = std::move(list->second);
    page_blocks.erase(list);
    for (u64 start : starts) forget_block(start);
}

void Engine::Impl::on_new_translation(u64 pc)
{
    if (blocks.find(pc) != blocks.end()) forget_block(pc);
}

void Engine::Impl::forget_block(u64 start)
{
    const auto it = blocks.find(start);
    if (it == blocks.end()) return;
    for (u16 offset : it->second.offsets) sites.erase(start + offset);
    BlockSlot& slot = block_slots[(start ^ (start >> 12)) & (kBlockSlots - 1)];
    if (slot.block == &it->second) slot = BlockSlot{};
    if (cur_block_info == &it->second) cur_block_info = nullptr;
    blocks.erase(it);
}

void Engine::Impl::on_block(u64 address, u32 size)
{
    // Runs once per executed block: the common case (no window exiting, no
    // asynchronous deadline at or inside this block, block in the
    // direct-mapped cache, under the limit) stays free of calls so the
    // compiler gives it no stack frame; everything else is out of line.
    const BlockSlot& slot = block_slots[(address ^ (address >> 12)) & (kBlockSlots - 1)];
    if (slot.address != address || slot.size != size ||
        (proc & (vmx::proc::INTERRUPT_WINDOW_EXITING | vmx::proc::NMI_WINDOW_EXITING))) [[unlikely]] {
        on_block_slow(address, size);
        return;
    }
    if (async_deadline != ~u64{0} &&
        virtual_time_ns(engine.instructions_, engine.exits_) + idle_ns + slot.block->offsets.size() > async_deadline)
        [[unlikely]] {
        on_block_slow(address, size);
        return;
    }
    count_block(address, slot.block);
}

void Engine::Impl::count_block(u64 address, const Block* block)
{
    // At a block's start the count is exact (a block cut short by an exit or
    // a fault gave back what it did not run): past the limit, this block
    // does not run. The block's own instructions are counted up front, so
    // checking after adding them would refuse a guest that ends (exits)
    // inside a block that straddles the limit.
    if (engine.instruction_limit_ && engine.instructions_ + engine.rep_elements_ + engine.emulated_ > engine.instruction_limit_)
        [[unlikely]] {
        instruction_limit_reached(address);
        return;
    }
    engine.instructions_ += block->offsets.size();
    cur_block = address;
    cur_block_info = block;
    end_shadow_unless_at(address);
}

void Engine::Impl::instruction_limit_reached(u64 where_linear)
{
    // Where it was is the first thing one wants to know about a guest that
    // never stops (the block about to run, or the exiting instruction: its
    // linear address).
    char where[32];
    std::snprintf(where, sizeof where, "%#llx", static_cast<unsigned long long>(where_linear));
    std::string why = "the guest ran past its limit of " + std::to_string(engine.instruction_limit_) +
                      " instructions (at rip " + where;
    if (engine.rep_elements_)
        why += "; " + std::to_string(engine.rep_elements_) + " of them elements of REP INS/OUTS";
    if (engine.emulated_) why += "; " + std::to_string(engine.emulated_) + " of them emulated by the hypervisor";
    why += ")";
    stop_machine(StopCause::INSTRUCTION_LIMIT, std::move(why));
}

void Engine::Impl::stop_machine(StopCause cause, std::string why)
{
    engine.stop(cause, std::move(why));
    leave_unicorn();
}

void Engine::Impl::leave_unicorn()
{
    stop_requested = true;
    cur_block_info = nullptr;
    gprs_valid = false;
    exit_rip_valid = false;
    set_rip(rip());
    uc_emu_stop(uc);
}

void Engine::Impl::on_block_slow(u64 address, u32 size)
{
    end_shadow_unless_at(address);  // an instruction boundary: the shadow may be over
    if (async_check()) return;
    BlockSlot& slot = block_slots[(address ^ (address >> 12)) & (kBlockSlots - 1)];
    const Block* block = slot.block;
    if (slot.address != address || slot.size != size) {
        auto it = blocks.find(address);
        if (it == blocks.end() || it->second.size != size || it->second.unread) {
            if (decode_block(address, size)) {
                // New code hooks take effect only in a fresh translation.
                uc_ctl_remove_cache(uc, address, address + (size ? size : 1));
                cur_block_info = nullptr;
                set_rip(rip());
                return;
            }
            it = blocks.find(address);
        }
        block = &it->second;
        if (!block->unread) slot = BlockSlot{address, size, block};
    }
    if (stop_at_deadline(address, *block)) return;
    count_block(address, block);
}

void Engine::Impl::window_check_at(u64 site, u64 target)
{
    if (active_until == target) return;  // already running up to there
    retire_block_partial(site, false);
    run_until = target;
    stop = Stop::DEADLINE;
    cur_block_info = nullptr;
    set_rip(rip());
    uc_emu_stop(uc);
}

bool Engine::Impl::stop_at_deadline(u64 address, const Block& block)
{
    if (async_deadline == ~u64{0}) return false;
    const u64 now = engine.vtime_ns();
    const u64 n = block.offsets.size();
    // async_check took a deadline already reached; one beyond the block's
    // last instruction is for a later block.
    if (async_deadline <= now || async_deadline >= now + n) return false;
    // Instruction k of the block starts at now + k: the asynchronous event
    // is recognised at that boundary. Leave the block unexecuted and run
    // from its start to there (uc_emu_start's `until`); the block hook then
    // sees the rest of the block as a new one, at the deadline.
    const u64 target = address + block.offsets[async_deadline - now];
    // Running up to `target` already, yet the block hook reports the whole
    // block: Unicorn ran a translation it had cached before this `until`
    // (its own invalidation of the block holding `until` did not reach it),
    // and stopping again would retry the same forever (Linux livelocked so
    // in its boot). Drop the translation; the next one ends at `target`.
    if (active_until == target) uc_ctl_remove_cache(uc, address, address + block.size);
    run_until = target;
    stop = Stop::DEADLINE;
    cur_block_info = nullptr;
    set_rip(rip());
    uc_emu_stop(uc);
    return true;
}

bool Engine::Impl::async_check()
{
    if (engine.vtime_limit_ && engine.stop_past_vtime_limit(engine.vtime_ns())) [[unlikely]] {
        leave_unicorn();
        return true;
    }
    const bool windows = proc & (vmx::proc::INTERRUPT_WINDOW_EXITING | vmx::proc::NMI_WINDOW_EXITING);
    if (!windows && async_deadline == ~u64{0}) return false;
    const u64 now = engine.vtime_ns();
    if (!windows && now < async_deadline) return false;
    cur_block_info = nullptr;
    if (now >= preemption_deadline) {
        preemption_deadline = now;  // expired: saves as 0
        update_async_deadline();
        ExitInfo x;
        x.reason = reason(ExitReason::PREEMPTION_TIMER);
        exit(x);
        return true;
    }
    const u64 rflags = (engine.ext_pending_ || windows) ? reg(UC_X86_REG_EFLAGS) : 0;
    const bool if_open = test_bit(rflags, 9) &&
                         !(interruptibility & (vmx::interruptibility::BLOCKING_BY_STI | vmx::interruptibility::BLOCKING_BY_MOV_SS));
    if (engine.ext_pending_ && now >= engine.ext_deadline_) {
        if (pin & vmx::pin::EXTERNAL_INTERRUPT_EXITING) {
            engine.ext_pending_ = false;
            update_async_deadline();
            ExitInfo x;
            x.reason = reason(ExitReason::EXTERNAL_INTERRUPT);
            if (exit_ctls & vmx::exit_ctl::ACK_INTERRUPT_ON_EXIT)
                x.intr_info = vmx::make_intr_info(engine.ext_vector_, InterruptionType::EXTERNAL_INTERRUPT, false);
            activity = static_cast<u32>(vmx::ActivityState::ACTIVE);
            exit(x);
            return true;
        }
        if (if_open) {
            engine.ext_pending_ = false;
            update_async_deadline();
            activity = static_cast<u32>(vmx::ActivityState::ACTIVE);
            Event e;
            e.vector = engine.ext_vector_;
            e.type = InterruptionType::EXTERNAL_INTERRUPT;
            deliver(e, false);
            return true;
        }
    }
    if ((proc & vmx::proc::INTERRUPT_WINDOW_EXITING) && if_open) {
        ExitInfo x;
        x.reason = reason(ExitReason::INTERRUPT_WINDOW);
        exit(x);
        return true;
    }
    if ((proc & vmx::proc::NMI_WINDOW_EXITING) && !(interruptibility & vmx::interruptibility::BLOCKING_BY_NMI)) {
        ExitInfo x;
        x.reason = reason(ExitReason::NMI_WINDOW);
        exit(x);
        return true;
    }
    return false;
}

void Engine::Impl::on_interrupt(u32 vector)
{
    if (engine.stopped()) return;  // Unicorn on its way out of a stopped run: nothing of the guest runs
    // A fault Unicorn raised (Unicorn never delivers through the IDT): RIP is
    // the faulting instruction.
    if (vector == vmx::vector::DB) dr6_written = true;  // for store_guest_extras
    blob.save();
    const u32 error = static_cast<u32>(blob.error_code());
    if (blob.layout().old_exception) {
        uc_reset_exception_state(blob);
        blob.restore();
    }
    const u64 linear = rip() + blob.segment(1).base;
    retire_block_partial(linear, false);
    const u8 v = static_cast<u8>(vector);
    exception(v, InterruptionType::HARDWARE_EXCEPTION, vmx::exception_has_error_code(v), error, 0, 0);
}

void Engine::Impl::on_invalid_opcode()
{
    if (engine.stopped()) return;
    // #UD reaches UC_HOOK_INSN_INVALID (not UC_HOOK_INTR) with RIP at the
    // instruction; VMX instructions never get here (their sites exit first).
    blob.save();
    retire_block_partial(rip() + blob.segment(1).base, false);
    exception(vmx::vector::UD, InterruptionType::HARDWARE_EXCEPTION, false, 0, 0, 0);
}

bool Engine::Impl::on_tlb_fill(u64 vaddr, uc_mem_type type, uc_tlb_entry* entry)
{
    // After a failed fill Unicorn probes 0xfffffffffffff000 on its way out
    // (measured on 2.1.4): keep the first failure, it is the guest's.
    if (identity_fill) {  // Engine::memory_written's cache invalidation
        entry->paddr = vaddr & ~u64{0xfff};
        entry->perms = static_cast<uc_prot>(UC_PROT_READ | UC_PROT_WRITE | UC_PROT_EXEC);
        return true;
    }
    if (probing_fill) {  // invalidate_code_at_linear: a failure is nobody's fault
        const WalkResult p = translate_linear(memory, translation_context(), vaddr, Access::FETCH);
        if (p.status != WalkStatus::OK) return false;
        if (p.executable) code_page_filled(vaddr & ~u64{0xfff}, p.machine_page);
        entry->paddr = p.machine_page;
        entry->perms = static_cast<uc_prot>(UC_PROT_READ | (p.writable ? UC_PROT_WRITE : 0) |
                                             (p.executable ? UC_PROT_EXEC : 0));
        return true;
    }
    if (stop != Stop::NONE || stop_requested) return false;
    const Access acc = type == UC_MEM_WRITE ? Access::WRITE : type == UC_MEM_FETCH ? Access::FETCH : Access::READ;
    TranslationContext c = translation_context();
    WalkResult w = translate_linear(memory, c, vaddr, acc);
    if (w.status == WalkStatus::PAGE_FAULT && c.user && acc != Access::FETCH && implicit_supervisor_access(vaddr)) {
        // A descriptor-table access the processor makes on its own behalf:
        // supervisor-mode whatever the CPL (SDM Vol. 3A 4.6). Unicorn's fill
        // hook is not told the access's privilege (QEMU's kernel MMU index),
        // so the model infers it from the instruction and the address.
        c.user = false;
        w = translate_linear(memory, c, vaddr, acc);
    }
    if (w.status == WalkStatus::OK) {
        if (w.executable) code_page_filled(vaddr & ~u64{0xfff}, w.machine_page);
        entry->paddr = w.machine_page;
        entry->perms = static_cast<uc_prot>(UC_PROT_READ | (w.writable ? UC_PROT_WRITE : 0) |
                                             (w.executable ? UC_PROT_EXEC : 0));
        return true;
    }
    stop = Stop::WALK;
    walk = w;
    walk_va = vaddr;
    walk_fetch = acc == Access::FETCH;
    walk_rip = rip();
    return false;
}

// Whether a ring-3 data access to `vaddr`'s page is one of the implicit
// supervisor accesses of the instruction at RIP: the page holds part of the
// GDT, LDT, IDT or TSS and the instruction loads a segment descriptor or
// goes through a gate or the TSS (MOV/POP Sreg, LDS/LES/LSS/LFS/LGS, far
// JMP/CALL/RET, IRET, INT n/INT3/INTO, LAR/LSL/VERR/VERW). A user access to
// data on such a page by any other instruction stays a user access.
bool Engine::Impl::implicit_supervisor_access(u64 vaddr)
{
    blob.save();
    blob_fresh = false;
    const u64 page = vaddr & ~u64{0xfff};
    auto overlaps = [page](u64 base, u64 limit) { return base <= page + 0xfff && page <= base + limit; };
    const UcSegment gdt = blob.segment(8), idt = blob.segment(9), ldt = blob.segment(6), tss = blob.segment(7);
    if (!overlaps(gdt.base, gdt.limit) && !overlaps(idt.base, idt.limit) && !overlaps(ldt.base, ldt.limit) &&
        !overlaps(tss.base, tss.limit))
        return false;
    u8 b[15] = {};
    usize n = 15;
    const u64 linear_rip = rip() + blob.segment(1).base;
    while (n && !read_linear(linear_rip, b, n)) --n;
    if (!n) return false;
    const DecodedInsn d = decode_insn(b, n, code_bits());
    if (!d.length) return false;
    const u8 op = d.opcode;
    if (!d.two_byte) {
        switch (op) {
        case 0x8e: case 0x07: case 0x17: case 0x1f:  // MOV Sreg, POP ES/SS/DS
        case 0xc4: case 0xc5:                        // LES, LDS
        case 0xea: case 0x9a: case 0xca: case 0xcb:  // far JMP/CALL, far RET
        case 0xcf: case 0xcc: case 0xcd: case 0xce:  // IRET, INT3, INT n, INTO
            return true;
        case 0xff: {
            const unsigned reg = (d.modrm >> 3) & 7;
            return d.has_modrm && (reg == 3 || reg == 5);  // CALL/JMP m16:32
        }
        default: return false;
        }
    }
    switch (op) {
    case 0xa1: case 0xa9:              // POP FS/GS
    case 0xb2: case 0xb4: case 0xb5:   // LSS, LFS, LGS
    case 0x00: case 0x02: case 0x03:   // LLDT/LTR/VERR/VERW group, LAR, LSL
        return true;
    default: return false;
    }
}

// Unicorn's TLB-fill hook gets the page, not the byte: the architectural
// address (CR2, GUEST_LINEAR_ADDRESS) is recovered from the instruction's
// memory operand when it lies on that page (ModRM and moffs forms; string
// and stack instructions by RSI/RDI/RSP), else the page address stays.
u64 Engine::Impl::exact_fault_address(u64 page, bool fetch)
{
    blob.save();
    const u64 cs_base = blob.segment(1).base;
    const u64 linear_rip = rip() + cs_base;
    // A fetch faults at RIP, or at the start of the next page for an
    // instruction that crosses into it. A data access on RIP's own page is
    // still a data access: its address comes from the operand below.
    if (fetch) return (linear_rip & ~u64{0xfff}) == page ? linear_rip : page;
    u8 b[15] = {};
    usize n = 15;
    while (n && !read_linear(linear_rip, b, n)) --n;
    if (!n) return page;
    const DecodedInsn d = decode_insn(b, n, code_bits());
    if (!d.length) return page;
    auto on_page = [&](u64 a) { return (a & ~u64{0xfff}) == page; };
    if (d.has_modrm && (d.modrm >> 6) != 3) {
        bool ok;
        const u64 ea = effective_address(linear_rip, d, &ok);
        if (ok && on_page(ea)) return ea;
    }
    // The descriptor a selector-checking or -loading instruction reads on
    // its own (LAR, LSL, VERR, VERW, LLDT, LTR, MOV to Sreg): the GDT or
    // LDT entry of the selector in its r/m operand. The processor reports
    // the descriptor's address (Bochs does too); its selector operand, read
    // first, was the check above.
    const unsigned modrm_reg = (d.modrm >> 3) & 7;
    const bool reads_descriptor =
        d.has_modrm && ((!d.two_byte && d.opcode == 0x8e) ||
                        (d.two_byte && (d.opcode == 0x02 || d.opcode == 0x03 ||
                                        (d.opcode == 0x00 && modrm_reg >= 2 && modrm_reg <= 5))));
    if (reads_descriptor) {
        u16 selector = 0;
        bool have = false;
        if ((d.modrm >> 6) == 3) {
            selector = static_cast<u16>(reg(kGprIds[(d.modrm & 7) | ((d.rex & 1) << 3)]));
            have = true;
        } else {
            bool ok;
            const u64 ea = effective_address(linear_rip, d, &ok);
            have = ok && read_linear(ea, &selector, 2);
        }
        if (have && (selector & ~3u)) {
            const UcSegment table = (selector & 4) ? blob.segment(6) : blob.segment(8);
            const u64 descriptor = table.base + (selector & ~u64{7});
            if (on_page(descriptor)) return descriptor;
            if (on_page(descriptor + 7)) return page;  // it crosses into the page
        }
    }
    if (!d.two_byte && d.opcode >= 0xa0 && d.opcode <= 0xa3) {
        const unsigned asz = d.mode == 64 ? (d.addrsize ? 4 : 8) : ((d.mode == 32) != d.addrsize ? 4 : 2);
        u64 a = 0;
        std::memcpy(&a, b + d.length - asz, asz);
        const int seg = d.segment != 0xff ? d.segment : 3;
        if (d.mode != 64 || seg >= 4) a += blob.segment(seg).base;
        if (on_page(a)) return a;
    }
    // Stack accesses: a push (PUSH, CALL, ENTER) writes below RSP, its
    // first byte at RSP - operand size; a pop reads at RSP. The operand size
    // of the stack access is the instruction's (8 in 64-bit mode unless 66h).
    const u64 stack = reg(UC_X86_REG_RSP) + blob.segment(2).base;
    const u64 push_size = d.mode == 64 ? (d.opsize ? 2 : 8) : ((d.mode == 32) != d.opsize ? 4 : 2);
    const u64 candidates[4] = {reg(UC_X86_REG_RSI) + blob.segment(3).base, reg(UC_X86_REG_RDI) + blob.segment(0).base,
                               stack - push_size, stack};
    for (u64 a : candidates)
        if (on_page(a)) return a;
    return page;
}

// Unicorn lets EIP run past 4 GiB in 32-bit code (a near jump below 0 leaves
// it sign-extended, and the addresses it then faults on too); a processor
// wraps it. Outside 64-bit mode RIP and linear addresses are 32 bits (SDM
// Vol. 3C 26.3.1.4).
u64 Engine::Impl::outside_64bit_wrapped(u64 v)
{
    if (!(v >> 32)) return v;
    blob.save();
    return code_bits() == 64 ? v : v & 0xffffffffu;
}

// Unicorn translates a block ahead of executing it, and fetches the next
// page as soon as the block's last instruction reaches into it. When that
// fetch fails, no instruction of the block has run: the fault belongs to
// the instruction that crosses into the page, and the ones before it must
// run first (their own data faults come first, as on a processor). Returns
// the linear address of that crossing instruction, or `linear_rip` when the
// instruction at RIP itself crosses (or cannot be decoded).
u64 Engine::Impl::page_crossing_instruction(u64 linear_rip)
{
    const u64 page_end = (linear_rip | 0xfff) + 1;
    u64 at = linear_rip;
    while (at < page_end) {
        u8 b[15] = {};
        const usize avail = page_end - at < 15 ? static_cast<usize>(page_end - at) : 15;
        if (!read_linear(at, b, avail)) return linear_rip;
        const DecodedInsn d = decode_insn(b, avail, code_bits());
        if (!d.length) return at;  // runs past the page end: this one crosses
        at += d.length;
    }
    return page_end;  // the block ends exactly at the boundary
}

void Engine::Impl::after_stop()
{
    set_rip(walk_rip);
    walk_va = outside_64bit_wrapped(walk_va);
    if (walk_fetch) {
        blob.save();
        const u64 linear_rip = rip() + blob.segment(1).base;
        if ((walk_va & ~u64{0xfff}) == (linear_rip & ~u64{0xfff}) + 0x1000) {
            const u64 crossing = page_crossing_instruction(linear_rip);
            if (crossing != linear_rip) {
                // Run up to it: `until` ends Unicorn's block there, so the
                // next page is fetched again only by the crossing one.
                run_until = crossing;
                retire_block_partial(linear_rip, false);
                cur_block_info = nullptr;
                return;
            }
        }
        // An instruction at RIP fetches from RIP's page and the next one
        // only. A failed fetch fill of any other page is Unicorn's own
        // probe of 0xfffffffffffff000 (UNICORN-FACTS; seen when an
        // instruction crossing a page boundary ran right after an interrupt
        // window, Linux on penryn with 2 vcpus), not the guest's fault: run
        // again from RIP. A few in a row without a VM exit between (a probe
        // that keeps failing) go to the guest as the fault they look like.
        const u64 va_page = walk_va & ~u64{0xfff}, rip_page = linear_rip & ~u64{0xfff};
        if (va_page != rip_page && va_page != rip_page + 0x1000 && stray_fetch_fills < kMaxStrayFetchFills) {
            ++stray_fetch_fills;
            retire_block_partial(linear_rip, false);
            cur_block_info = nullptr;
            return;
        }
    }
    walk_va = exact_fault_address(walk_va & ~u64{0xfff}, walk_fetch);
    if (walk.status == WalkStatus::EPT_VIOLATION && (walk.qualification & eptq::GLA_TRANSLATION))
        walk.gpa = (walk.gpa & ~u64{0xfff}) | (walk_va & 0xfff);
    blob.save();
    retire_block_partial(walk_rip + blob.segment(1).base, false);
    cur_block_info = nullptr;
    ExitInfo x;
    switch (walk.status) {
    case WalkStatus::PAGE_FAULT:
        exception(vmx::vector::PF, InterruptionType::HARDWARE_EXCEPTION, true, walk.pf_error, 0, walk_va);
        return;
    case WalkStatus::EPT_VIOLATION:
        x.reason = reason(ExitReason::EPT_VIOLATION);
        x.qualification = walk.qualification;
        x.set_gpa = true;
        x.gpa = walk.gpa;
        x.set_gla = (walk.qualification & eptq::GLA_VALID) != 0;
        x.gla = walk_va;
        exit(x);
        return;
    case WalkStatus::EPT_MISCONFIG:
        x.reason = reason(ExitReason::EPT_MISCONFIG);
        x.set_gpa = true;
        x.gpa = walk.gpa;
        exit(x);
        return;
    case WalkStatus::NO_MEMORY:
        // No architectural exit exists for a physical address with nothing
        // behind it: the model raises a machine check (#MC) in the guest.
        exception(vmx::vector::MC, InterruptionType::HARDWARE_EXCEPTION, false, 0, 0, 0);
        return;
    case WalkStatus::OK: return;
    }
}

bool Engine::Impl::pdpte_load_failed(u64 address, PdpteLoad load, const WalkResult& fault)
{
    if (load == PdpteLoad::OK) return false;
    if (load == PdpteLoad::GP) {
        retire_block_partial(address, false);
        exception(vmx::vector::GP, InterruptionType::HARDWARE_EXCEPTION, true, 0, 0, 0);
        return true;
    }
    ExitInfo x;
    switch (fault.status) {
    case WalkStatus::EPT_VIOLATION:
        x.reason = reason(ExitReason::EPT_VIOLATION);
        x.qualification = fault.qualification;
        break;
    case WalkStatus::EPT_MISCONFIG: x.reason = reason(ExitReason::EPT_MISCONFIG); break;
    default:
        // EPT tables pointing outside machine memory: as for any walk.
        retire_block_partial(address, false);
        exception(vmx::vector::MC, InterruptionType::HARDWARE_EXCEPTION, false, 0, 0, 0);
        return true;
    }
    x.set_gpa = true;
    x.gpa = fault.gpa;
    take_exit(address, x);
    return true;
}

void Engine::Impl::halt()
{
    activity = static_cast<u32>(vmx::ActivityState::HLT);
    halt_wait();
}

void Engine::Impl::halt_wait()
{
    const u64 now = engine.vtime_ns();
    u64 wake = ~u64{0};
    if (engine.ext_pending_ && ((pin & vmx::pin::EXTERNAL_INTERRUPT_EXITING) || test_bit(reg(UC_X86_REG_EFLAGS), 9)))
        wake = engine.ext_deadline_;
    if (preemption_deadline < wake) wake = preemption_deadline;
    if (wake == ~u64{0}) {
        stop_machine(StopCause::ENGINE_FAILURE, "engine: the guest halted with nothing to wake it");
        return;
    }
    if (wake > now) idle_ns += wake - now;
}

}  // namespace xeno::sim
