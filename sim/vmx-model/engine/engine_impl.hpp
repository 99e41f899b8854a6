// Internal state of the engine shared by engine.cpp (set-up, guest-state
// load/save, run loop, live state) and engine_exits.cpp (exit conditions and
// exit information). Not for use outside sim/vmx-model/engine.
#pragma once

#include <cstring>
#include <string>
#include <utility>
#include <unordered_map>

#include "hal/panic.hpp"

#include "arch/x86/vmx/vmx_arch.hpp"
#include "sim/vmx-model/engine/engine.hpp"
#include "sim/vmx-model/event_delivery.hpp"
#include "sim/vmx-model/vmcs_store.hpp"

namespace xeno::sim {

// Unicorn register ids of GPRs in x86 encoding order.
inline constexpr int kGprIds[16] = {UC_X86_REG_RAX, UC_X86_REG_RCX, UC_X86_REG_RDX, UC_X86_REG_RBX,
                                    UC_X86_REG_RSP, UC_X86_REG_RBP, UC_X86_REG_RSI, UC_X86_REG_RDI,
                                    UC_X86_REG_R8,  UC_X86_REG_R9,  UC_X86_REG_R10, UC_X86_REG_R11,
                                    UC_X86_REG_R12, UC_X86_REG_R13, UC_X86_REG_R14, UC_X86_REG_R15};

struct ExitInfo {
    u32 reason = 0;
    u64 qualification = 0;
    u32 instruction_length = 0;
    u32 instruction_info = 0;
    u32 intr_info = 0;
    u32 intr_error = 0;
    u32 idt_vectoring = 0;
    u32 idt_vectoring_error = 0;
    bool set_gla = false;
    u64 gla = 0;
    bool set_gpa = false;
    u64 gpa = 0;
    bool io_fields = false;
    u64 io_rcx = 0, io_rsi = 0, io_rdi = 0, io_rip = 0;
};

struct Engine::Impl final : LiveGuestState {
    Impl(Engine& engine, MachineMemory& memory);
    ~Impl() override;

    // LiveGuestState
    bool owns(u32 encoding) const override;
    u64 read(u32 encoding) override;
    void write(u32 encoding, u64 value) override;
    // VMREAD/VMWRITE of a CONTROL-type field during an exit (true: handled).
    bool control_access(u32 encoding, const u64* write_value, u64* read_value);

    // ---- engine.cpp ----
    void install_hooks();
    void load_guest_state();       // VMCS guest-state area -> CPU (26.3.2)
    void save_guest_state();       // CPU -> VMCS guest-state area (27.3)
    void load_controls();
    bool enter();                  // checks + load + injection; false: stop (yield/fail)
    bool full_entry();             // checks, controls, guest state, MSR-load list (failures reported); false: stop
    bool entry_checks_pass();
    void arm_preemption_timer();
    void save_preemption_timer();
    bool inject_event();           // VM_ENTRY_INTR_INFO_FIELD (26.6)
    void write_exit_fields(const ExitInfo& x);
    bool resume();
    void apply_pending_and_save();
    DeliveryState capture_delivery_state();
    void apply_delivery_state(const DeliveryState& s);
    bool exception_exits(u8 vector, u32 error_code) const;
    void halt();
    void halt_wait();
    bool async_check();
    bool decode_block(u64 address, u32 size);
    bool install_site(u64 at, const DecodedInsn& d);  // true: a new code hook
    bool take_exit(u64 address, ExitInfo x);
    void emulate_skip(u64 address, u64 next_rip);
    bool io_exits(u32 port, u32 size);
    unsigned cpl();
    bool io_permitted(const DecodedInsn& d);
    bool msr_exits(u32 msr, bool write);
    u64 effective_address(u64 address, const DecodedInsn& d, bool* ok);
    void write_cr_emulated(int cr, u64 value);
    enum class PdpteLoad { OK, GP, EPT_FAULT };  // see load_pdptes
    PdpteLoad entering_pae_loads_pdptes(unsigned cr, u64 old_value, u64 new_value, WalkResult* fault);  // see engine_sites.cpp
    bool native_cr_write_faults(unsigned cr, u64 old_value, u64 new_value, bool long64);  // see engine_sites.cpp
    bool native_wrmsr_faults(u32 msr);  // see engine_sites.cpp
    void site_io(u64 address, const DecodedInsn& d);
    void site_cr(u64 address, const DecodedInsn& d);
    u64 reg(int uc_reg);
    void set_reg(int uc_reg, u64 v);
    u64 rip();
    void set_rip(u64 v);
    void read_gprs(hal::GuestRegs& r);
    void write_changed_gprs();
    TranslationContext translation_context();
    bool read_linear(u64 va, void* out, usize len);
    unsigned code_bits();          // 16/32/64 from hflags (blob saved)

    // ---- engine_exits.cpp ----
    void on_block(u64 address, u32 size);
    [[gnu::noinline]] void on_block_slow(u64 address, u32 size);  // armed events, cache misses
    [[gnu::noinline]] void instruction_limit_reached(u64 where_linear);  // stop_machine with the reason
    void on_site(u64 address);
    void on_interrupt(u32 vector);
    void on_invalid_opcode();
    bool on_tlb_fill(u64 vaddr, uc_mem_type type, uc_tlb_entry* entry);
    bool implicit_supervisor_access(u64 vaddr);   // see engine_exits.cpp
    bool identity_fill = false;  // invalidate_code_at_machine: the fill hook maps identity
    bool probing_fill = false;   // invalidate_code_at_linear: fill failures are not guest faults
    void invalidate_code_at_linear(u64 va, u64 length, u64 machine);  // machine: where va maps
    void invalidate_code_at_machine(u64 hpa, u64 length);
    void after_stop();
    // The machine stops (Engine::stopped(): a limit of the run, or the model
    // cannot go on): record the cause and reason, then leave_unicorn(). The
    // caller returns at once, as after a YIELD (false where it reports
    // whether the guest goes on); nothing of the guest runs any more.
    void stop_machine(StopCause cause, std::string why);
    // Leave uc_emu_start as a YIELD does, without saving guest state: the
    // block in progress is abandoned (writing RIP from a hook does that) and
    // run() returns.
    void leave_unicorn();
    // The EPT exit for an implicit access (delivery, task-switch checks)
    // whose walk failed; `x` carries what the caller already set.
    bool memory_exit(const MemResult& m, ExitInfo x);
    // Far JMP/CALL to a TSS or task gate, IRET with NT (engine_tasks.cpp).
    void task_switch_site(u64 address, const DecodedInsn& d);
    u64 page_crossing_instruction(u64 linear_rip);  // see after_stop
    u64 outside_64bit_wrapped(u64 rip_or_linear);    // bits 63:32 cleared outside 64-bit mode
    u64 run_until = ~u64{0};  // a linear address uc_emu_start stops at (once), see after_stop
    u64 exact_fault_address(u64 page, bool fetch);  // handle what stopped uc_emu_start
    // Deliver an exit to the handler; returns true when the guest goes on.
    bool exit(const ExitInfo& info);
    // A guest exception (hardware, or software with length) at the current RIP.
    bool exception(u8 vector, vmx::InterruptionType type, bool has_error, u32 error, u32 length, u64 pf_address);
    // Deliver an event through the guest IDT/IVT; exits when delivery faults
    // into the exception bitmap or the walk exits. Returns true to go on.
    bool deliver(const Event& event, bool injected);
    void retire_block_partial(u64 linear, bool count_current);
    u64 precise_instructions(u64 linear) const;
    void drop_block_cache();

    Engine& engine;
    uc_engine* uc;
    MachineMemory& memory;
    UcCpuBlob blob;
    // The engine's live regs[0] (uc_find_live_regs), or nullptr: reg(),
    // rip() and read_gprs() then load registers directly, not through the API.
    const u8* live_regs = nullptr;
    u64 live_u64(usize offset) const
    {
        u64 v;
        std::memcpy(&v, live_regs + offset, sizeof v);
        return v;
    }

    // The run in progress.
    VmcsStore* vmcs = nullptr;
    hal::GuestRegs* regs = nullptr;
    hal::ExitHandler handler = nullptr;
    void* handler_context = nullptr;
    bool stop_requested = false;
    hal::VmxResult result = hal::VmxResult::SUCCEED;
    hal::GuestRegs regs_at_exit{};
    u64 exit_rip = 0;
    bool in_handler = false;
    bool live = true;
    bool gprs_valid = false;         // *regs already holds the CPU's GPRs for this exit
    bool exit_rip_valid = false;     // exit_rip already holds the CPU's RIP for this exit
    bool controls_dirty = false;     // a control field was written during the exit
    bool entry_ctls_written = false; // VM_ENTRY_CONTROLS was written during the exit (its IA-32e bit is the handler's)
    bool injection_written = false;  // VM-entry event-injection fields were written  // false while an entry failure is reported: VMREAD sees the VMCS
    bool blob_fresh = false;
    struct PendingWrite {
        u32 encoding;
        u64 value;
    };
    std::vector<PendingWrite> pending;

    // Controls, cached at each entry.
    u32 pin = 0, proc = 0, proc2 = 0, exit_ctls = 0, entry_ctls = 0;
    u32 exception_bitmap = 0, pfec_mask = 0, pfec_match = 0;
    u64 cr0_mask = 0, cr4_mask = 0, cr0_shadow = 0, cr4_shadow = 0;
    u32 cr3_target_count = 0;
    u64 cr3_targets[4] = {};
    u64 io_bitmap_a = 0, io_bitmap_b = 0, msr_bitmap = 0, tsc_offset = 0, eptp = 0;
    bool ept = false;
    // The PDPTE registers for PAE paging under EPT (TranslationContext).
    bool pdptes_active = false;
    u64 pdptes[4] = {};
    // MOV to CR3 (or to CR0/CR4 into PAE paging) under EPT: load the
    // registers from the PDPT at `cr3`, whose address EPT translates
    // (SDM Vol. 3C 29.3.2). GP: a reserved bit (#GP(0)); EPT_FAULT: the
    // translation failed (in *fault), and the MOV exits for it, not retired.
    PdpteLoad load_pdptes(u64 cr3, WalkResult* fault);
    // What a failed load does to the MOV at `address`, not retired: #GP(0)
    // for GP, the VM exit (or #MC) of `fault` for EPT_FAULT. False for OK.
    bool pdpte_load_failed(u64 address, PdpteLoad load, const WalkResult& fault);
    static bool pae_paging(u64 cr0, u64 cr4, u64 efer)
    {
        return (cr0 & (u64{1} << 31)) && (cr4 & (u64{1} << 5)) && !(efer & (u64{1} << 10));
    }
    u32 interruptibility = 0, activity = 0;
    // Blocking by STI / MOV SS (SDM Vol. 3C 25.4.2) lasts until the
    // instruction after the one that set it has run: `shadowed` is that
    // instruction's linear address. A block that starts there keeps the
    // blocking (the instruction has not run); any other instruction boundary
    // the model sees (a later block, an exit elsewhere) ends it.
    u64 shadowed = ~u64{0};
    void begin_shadow(u32 blocking, u64 next_linear)
    {
        interruptibility |= blocking;
        shadowed = next_linear;
    }
    // The guest must stop at linear address `target` (an instruction
    // boundary inside the current block) for the asynchronous checks of the
    // block hook: an interrupt window may open there. The instruction at
    // `site` (a hook) has not run yet: run again from it until `target`.
    u64 active_until = ~u64{0};  // the `until` of the uc_emu_start in progress
    void window_check_at(u64 site, u64 target);
    void end_shadow_unless_at(u64 linear)
    {
        if (linear != shadowed) {
            interruptibility &= ~(vmx::interruptibility::BLOCKING_BY_STI | vmx::interruptibility::BLOCKING_BY_MOV_SS);
            shadowed = ~u64{0};
        }
    }
    u64 preemption_deadline = ~u64{0};
    // The earliest virtual time at which an asynchronous exit may be due
    // (the pending external interrupt's deadline, the preemption timer's),
    // ~0 for none: the block hook compares against it alone, and a deadline
    // inside a block stops the guest at exactly that instruction.
    u64 async_deadline = ~u64{0};
    void update_async_deadline()
    {
        const u64 ext = engine.ext_pending_ ? engine.ext_deadline_ : ~u64{0};
        async_deadline = ext < preemption_deadline ? ext : preemption_deadline;
    }
    u64 idle_ns = 0;  // virtual time spent in HLT

    // Decoded blocks and interception sites (linear addresses).
    struct Block {
        u32 size = 0;
        std::vector<u16> offsets;
        bool unread = false;  // its bytes could not be read (not mapped yet): decode again next time
    };
    std::unordered_map<u64, Block> blocks;
    // Decodes are keyed by linear address, but one linear page may hold
    // different code in different address spaces (two processes): each
    // linear page with decoded blocks remembers the machine page they were
    // read from, and a TLB fill that maps it elsewhere drops them (see
    // code_page_filled). page_blocks: the blocks with a byte on each page.
    std::unordered_map<u64, u64> code_pages;
    std::unordered_map<u64, std::vector<u64>> page_blocks;
    void code_page_filled(u64 linear_page, u64 machine_page);
    // Unicorn translated the block at `pc` anew (UC_HOOK_EDGE_GENERATED):
    // its bytes may have changed (guest self-modifying code, which Unicorn
    // detects itself), so a decode made before is dropped.
    void on_new_translation(u64 pc);
    void forget_block(u64 start);
    void note_code_page(u64 linear_page, u64 block_address);
    void count_block(u64 address, const Block* block);  // on_block's bookkeeping
    // A deadline falls inside the block at `address`: run up to the
    // instruction where it falls (true), so the exit happens exactly there.
    bool stop_at_deadline(u64 address, const Block& block);
    // Direct-mapped front cache of `blocks` (the block hook runs per block).
    struct BlockSlot {
        u64 address = ~u64{0};
        u32 size = 0;
        const Block* block = nullptr;
    };
    static constexpr usize kBlockSlots = 4096;
    std::vector<BlockSlot> block_slots = std::vector<BlockSlot>(kBlockSlots);
    std::unordered_map<u64, DecodedInsn> sites;   // decoded instruction at each hooked address
    std::unordered_map<u64, uc_hook> hooked;      // addresses with a code hook (never removed)
    u64 cur_block = 0;
    const Block* cur_block_info = nullptr;

    // What stopped the engine from inside a hook.
    enum class Stop : u8 { NONE, WALK, UNICORN_ERROR, DEADLINE };
    Stop stop = Stop::NONE;
    WalkResult walk{};
    u64 walk_va = 0;
    u64 walk_rip = 0;
    bool walk_fetch = false;  // the failed fill was an instruction fetch
    // Failed fetch fills of pages no instruction at RIP touches, since the
    // last VM exit (after_stop runs again from RIP for the first few).
    static constexpr u32 kMaxStrayFetchFills = 4;
    u32 stray_fetch_fills = 0;

    uc_hook block_hook = 0, intr_hook = 0, tlb_hook = 0, invalid_hook = 0, edge_hook = 0;

    // ---- engine_guest_extras.cpp: DR0-DR3, DR6, XCR0 (hal::GuestRegs) ----
    // The processor state VM entries and exits leave alone, as hal::run's
    // register block carries it: loaded into the engine before each entry,
    // DR6 stored back after each exit.
    u64 xcr0 = 0;               // the guest's XCR0 (Unicorn's CPU has no XSAVE: XGETBV is emulated)
    u64 debugctl = 0;           // the guest's IA32_DEBUGCTL (Unicorn has none; load/save debug controls)
    hal::GuestRegs extras_loaded{};  // what load_guest_extras last gave the engine
    bool extras_valid = false;
    bool dr6_written = false;   // a #DB or a native MOV DR since the last exit: DR6 may have changed
    void load_guest_extras();
    void store_guest_extras();
    bool site_xgetbv(u64 address, const DecodedInsn& d);

    // ---- engine_msr_lists.cpp: VM-entry MSR-load, VM-exit MSR-store/load (SDM 26.4, 28.4) ----
    u32 entry_msr_load_count = 0, exit_msr_store_count = 0, exit_msr_load_count = 0;
    // What the last VM-entry MSR-load list gave the engine, while nothing
    // else has written those MSRs since (cleared by a native WRMSR and a
    // guest-state load): an entry loads only what differs.
    std::vector<std::pair<u32, u64>> msr_list_loaded;
    u64 entry_msr_load_addr = 0, exit_msr_store_addr = 0, exit_msr_load_addr = 0;
    // 0: loaded; else the 1-based index of the entry that failed (reason 34).
    u32 load_entry_msr_list();
    // At a VM exit: guest MSRs into the store list, host MSRs from the load
    // list and the "load IA32_PAT/EFER" host fields (28.3.1, 28.4). False: a
    // VMX abort (28.7), the machine stopped.
    bool exit_msrs();
    // An entry failure with `reason` (33, 34): the handler sees it as an
    // exit with bit 31 set; true when it resumed (the entry is retried).
    bool report_entry_failure(u32 reason, u64 qualification);

    // ---- engine_instructions.cpp: the instruction sites added for the
    // controls the model implements and the faults that come before exits ----
    // True when the VMX instruction at `address` faulted (#UD) instead of exiting.
    bool vmx_instruction_faults(u64 address, const DecodedInsn& d);
    void site_vmfunc(u64 address, const DecodedInsn& d);
    void site_descriptor_table(u64 address, const DecodedInsn& d);
    void site_rdrand(u64 address, const DecodedInsn& d);
    void site_invpcid(u64 address, const DecodedInsn& d);
    void site_cmpxchg8b16b(u64 address, const DecodedInsn& d);

    // ---- engine_fast_system_calls.cpp: SYSCALL and SYSENTER, which Unicorn
    // turns into hook calls instead of executing them ----
    void site_syscall(u64 address, const DecodedInsn& d);
    void site_sysenter(u64 address, const DecodedInsn& d);
    // Scaling, index, base, segment and address size of a memory operand,
    // in the VMX instruction-information layout (SDM 28.2.5), and its
    // displacement (the exit qualification of these exits).
    u32 memory_operand_info(u64 address, const DecodedInsn& d, u64* displacement);
    // The guest TSC as RDTSC reads it at the instruction at `address`:
    // virtual time at the profile's rate, TSC scaling, TSC offset (25.6.5).
    u64 guest_tsc(u64 address);
    // Fault-type exception at the current instruction (retires nothing of it).
    void fault(u64 address, u8 vector, bool error_code);
    // A memory operand's access failed (m): #PF to the guest, or the EPT
    // violation or misconfiguration exit; the instruction is not retired.
    void operand_fault(u64 address, const MemResult& m);

    // ---- engine_mtf.cpp: the monitor trap flag (SDM 26.5.2) ----
    uc_hook mtf_hook = 0;
    bool mtf_armed = false;   // an instruction boundary has passed since the entry (or an event was delivered)
    u64 mtf_armed_at = ~u64{0};  // instruction count where it was armed
    void mtf_update_hook();      // after load_controls: install or remove the every-instruction hook
    void mtf_entry(bool event_delivered);
    bool mtf_boundary(u64 address);  // true: an MTF VM exit was taken at `address`

    u64 random_state = 0x9e3779b97f4a7c15ull;  // RDRAND/RDSEED run by the model (deterministic)

    // ---- NMI blocking (engine_instructions.cpp): IRET and injected NMIs (SDM 25.3, 26.6.1.2) ----
    void iret_unblocks_nmi();
};

}  // namespace xeno::sim
