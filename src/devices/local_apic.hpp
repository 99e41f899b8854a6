// The local APIC of one vcpu, in xAPIC (MMIO) and x2APIC (MSR) modes, after
// Intel SDM Vol. 3A chapter 11 "Advanced Programmable Interrupt Controller".
//
// What is modelled:
//   - IA32_APIC_BASE (11.4.4) and the mode transitions of 11.12.5 (disabled,
//     xAPIC, x2APIC; x2APIC -> xAPIC and disabled -> x2APIC are #GP).
//   - The register file (Table 11-1 / 11-6): ID, version, TPR, APR, PPR,
//     EOI, RRD, LDR, DFR, SVR, ISR/TMR/IRR, ESR, the seven LVT entries
//     (CMCI, timer, thermal, performance, LINT0, LINT1, error), ICR, the
//     timer's initial/current count and divide configuration, SELF IPI.
//   - Priorities (11.8.3.1 PPR, 11.6.2.4 APR), interrupt acceptance
//     (IRR/TMR), acknowledge (IRR -> ISR) and EOI, level-triggered EOI
//     forwarded to the I/O APIC unless EOI-broadcast suppression is on.
//   - The timer (11.5.4): one-shot, periodic and TSC-deadline, counted on
//     the machine clock, armed on the TimerQueue only for expiries.
//   - Error detection (11.5.3) and the error LVT, IPIs through the ICR
//     (11.6.1) and the x2APIC SELF IPI register (11.12.11), LINT0/LINT1.
//   - INIT reset (11.4.7.3) and the wait-for-SIPI state.
//
// Choices where the SDM leaves room (each is also commented where it acts):
//   - Version register 0x01060014: version 14H (integrated APIC), 7 LVT
//     entries (max LVT entry 6: LVT CMCI exists at 0x2f0, as on Skylake),
//     bit 24: EOI-broadcast suppression supported (Xeno's I/O APIC has the
//     directed EOI register), so SVR bit 12 is writable.
//   - IA32_APIC_BASE: the base is fixed at 0xfee00000 (the hypervisor maps
//     the page there); a write relocating it is refused (#GP). The BSP flag
//     reads as the domain made it and writes to it are ignored.
//   - Reset state deviation: Xeno has no BIOS to program virtual-wire mode,
//     so the BSP's LVT LINT0 comes out of every reset as ExtINT, unmasked
//     (0x700) instead of masked, so that a guest driving the 8259A works
//     without touching its APIC (QEMU and KVM do the same).
//   - xAPIC MMIO: 32-bit registers at 16-byte aligned offsets. Reads of any
//     size return the bytes of the registers they cover (bytes 4-15 of each
//     16-byte slot read 0); writes take effect only when 4 or 8 bytes wide at
//     a slot's start (8: the low 32 bits); narrower or misaligned writes are
//     ignored (as KVM does). Accesses to a reserved slot set ESR bit 7.
//     Outside xAPIC mode the page is not decoded: reads are all ones, writes
//     vanish (11.12.1: like a globally disabled xAPIC).
//   - Writable xAPIC ID (bits 31:24; 11.4.6 calls this model specific).
//   - No spurious interrupts: the hypervisor acknowledges the vector
//     highest_pending() returned at once, so there is no window for one.
//   - SMI messages and LVT SMI are ignored: Xeno has no SMM.
//   - Focus processor checking (SVR bit 9) is stored but not acted on, as
//     on the Pentium 4 and later where the chipset arbitrates.
//   - The timer: bus clock 1 GHz (one count per `divide` ns); a periodic
//     timer fires at most every 200 us (kMinPeriodicNs); the reserved timer
//     mode 3 counts as one-shot; see local_apic_timer.cpp.
//
// The hypervisor's side: it forwards IA32_APIC_BASE, IA32_TSC_DEADLINE and
// the x2APIC MSRs here, routes the xAPIC page (through ApicBus), and before
// each VM entry asks for what is pending (take_init/take_sipi/take_nmi/
// take_extint, highest_pending + acknowledge). `notify` tells it that this
// APIC's deliverable state may have changed (wake the vcpu, re-evaluate).
#pragma once

#include "devices/apic_message.hpp"
#include "devices/guest_tsc.hpp"
#include "devices/timer_queue.hpp"
#include "lib/types.hpp"

namespace xeno::devices {

class LocalApic {
public:
    // An IPI the ICR (or SELF IPI register) issues; the bus routes it.
    using Send = void (*)(void* context, u32 source_vcpu, const ApicMessage& message);
    // This APIC's deliverable state may have changed.
    using Notify = void (*)(void* context, u32 vcpu);
    // EOI of a level-triggered vector (TMR set): the I/O APIC clears remote IRR.
    using Eoi = void (*)(void* context, u8 vector);

    struct Hooks {
        Send send = nullptr;
        void* send_context = nullptr;
        Notify notify = nullptr;
        void* notify_context = nullptr;
        Eoi eoi = nullptr;
        void* eoi_context = nullptr;
    };

    // MSRs the hypervisor forwards.
    static constexpr u32 MSR_APIC_BASE = 0x1b;
    static constexpr u32 MSR_TSC_DEADLINE = 0x6e0;
    static constexpr u32 MSR_X2APIC_FIRST = 0x800;
    static constexpr u32 MSR_X2APIC_LAST = 0x8ff;
    static constexpr bool is_x2apic_msr(u32 msr) { return msr >= MSR_X2APIC_FIRST && msr <= MSR_X2APIC_LAST; }

    static constexpr u64 kDefaultBase = 0xfee00000;
    static constexpr u64 BASE_BSP = u64{1} << 8;
    static constexpr u64 BASE_EXTD = u64{1} << 10;  // x2APIC mode
    static constexpr u64 BASE_EN = u64{1} << 11;    // global enable

    // xAPIC register offsets (SDM Table 11-1); the x2APIC MSR is
    // 0x800 + offset / 16 (Table 11-6).
    static constexpr u32 REG_ID = 0x20;
    static constexpr u32 REG_VERSION = 0x30;
    static constexpr u32 REG_TPR = 0x80;
    static constexpr u32 REG_APR = 0x90;
    static constexpr u32 REG_PPR = 0xa0;
    static constexpr u32 REG_EOI = 0xb0;
    static constexpr u32 REG_RRD = 0xc0;
    static constexpr u32 REG_LDR = 0xd0;
    static constexpr u32 REG_DFR = 0xe0;
    static constexpr u32 REG_SVR = 0xf0;
    static constexpr u32 REG_ISR = 0x100;  // 8 registers, 0x100-0x170
    static constexpr u32 REG_TMR = 0x180;  // 0x180-0x1f0
    static constexpr u32 REG_IRR = 0x200;  // 0x200-0x270
    static constexpr u32 REG_ESR = 0x280;
    static constexpr u32 REG_LVT_CMCI = 0x2f0;
    static constexpr u32 REG_ICR_LOW = 0x300;
    static constexpr u32 REG_ICR_HIGH = 0x310;
    static constexpr u32 REG_LVT_TIMER = 0x320;
    static constexpr u32 REG_LVT_THERMAL = 0x330;
    static constexpr u32 REG_LVT_PERF = 0x340;
    static constexpr u32 REG_LVT_LINT0 = 0x350;
    static constexpr u32 REG_LVT_LINT1 = 0x360;
    static constexpr u32 REG_LVT_ERROR = 0x370;
    static constexpr u32 REG_TIMER_INITIAL = 0x380;
    static constexpr u32 REG_TIMER_CURRENT = 0x390;
    static constexpr u32 REG_TIMER_DIVIDE = 0x3e0;
    static constexpr u32 REG_SELF_IPI = 0x3f0;  // x2APIC only (MSR 0x83f)
    static constexpr u32 msr_of(u32 offset) { return MSR_X2APIC_FIRST + offset / 16; }

    static constexpr u32 kVersion = 0x01060014;  // EOI-broadcast suppression, max LVT 6, version 14H

    // SVR (Figure 11-23).
    static constexpr u32 SVR_ENABLE = 1u << 8;
    static constexpr u32 SVR_FOCUS_DISABLE = 1u << 9;
    static constexpr u32 SVR_SUPPRESS_EOI_BROADCAST = 1u << 12;

    // LVT fields (Figure 11-8).
    static constexpr u32 LVT_DELIVERY_STATUS = 1u << 12;
    static constexpr u32 LVT_ACTIVE_LOW = 1u << 13;
    static constexpr u32 LVT_REMOTE_IRR = 1u << 14;
    static constexpr u32 LVT_LEVEL = 1u << 15;
    static constexpr u32 LVT_MASKED = 1u << 16;
    static constexpr u32 LVT_TIMER_PERIODIC = 1u << 17;
    static constexpr u32 LVT_TIMER_TSC_DEADLINE = 2u << 17;

    // ESR bits (11.5.3).
    static constexpr u32 ESR_SEND_ILLEGAL_VECTOR = 1u << 5;
    static constexpr u32 ESR_RECEIVE_ILLEGAL_VECTOR = 1u << 6;
    static constexpr u32 ESR_ILLEGAL_REGISTER = 1u << 7;

    // A periodic timer's shortest period (see local_apic_timer.cpp).
    static constexpr u64 kMinPeriodicNs = 200'000;

    LocalApic(u32 vcpu, u32 apic_id, bool bsp, TimerQueue& timers, GuestTsc tsc, Hooks hooks);
    LocalApic(const LocalApic&) = delete;
    LocalApic& operator=(const LocalApic&) = delete;
    ~LocalApic();

    // ---- IA32_APIC_BASE (MSR 0x1b) ----
    u64 apic_base() const;
    bool write_apic_base(u64 value);  // false: #GP
    bool hw_enabled() const { return enabled_; }
    bool xapic_mode() const { return enabled_ && !x2apic_; }
    bool x2apic_mode() const { return enabled_ && x2apic_; }
    bool software_enabled() const { return (svr_ & SVR_ENABLE) != 0; }

    // ---- Register access ----
    // The xAPIC page (offset within the 4 KiB page). `vcpu` is the accessing
    // vcpu, which the caller (ApicBus) already used to pick this APIC.
    u64 mmio_read(u32 vcpu, u64 offset, u8 size);
    void mmio_write(u32 vcpu, u64 offset, u8 size, u64 value);
    // The x2APIC MSRs 0x800-0x8ff. false: #GP (not in x2APIC mode, no such
    // register, wrong direction, reserved bits set).
    bool msr_read(u32 msr, u64* value);
    bool msr_write(u32 msr, u64 value);

    // ---- Inputs ----
    // A message the bus addressed to this APIC.
    void accept(const ApicMessage& message);
    // The level of the LINT0/LINT1 pin (pin 0 or 1; the 8259A's INTR is on
    // LINT0). Delivered per the LVT entry.
    void set_lint(unsigned pin, bool level);
    // Whether the 8259A's INTR reaches the processor: the APIC is globally
    // disabled (the pin is plain INTR), or LINT0 is unmasked ExtINT.
    bool accepts_pic_interrupts() const;
    // The hypervisor says whether the vcpu waits for a SIPI (an AP after
    // INIT); a STARTUP message is recorded only then.
    void set_wait_for_sipi(bool waiting) { wait_for_sipi_ = waiting; }
    bool waiting_for_sipi() const { return wait_for_sipi_; }

    // ---- Injection (the hypervisor, before each VM entry) ----
    // The highest IRR vector whose priority class is above the PPR's, or -1.
    int highest_pending() const;
    // `vector` is being delivered: IRR -> ISR (ignored unless IRR has it).
    void acknowledge(u8 vector);
    bool nmi_pending() const { return nmi_pending_; }
    bool init_pending() const { return init_pending_; }
    bool sipi_pending() const { return sipi_pending_; }
    bool extint_pending() const;  // then the 8259A supplies the vector
    bool take_nmi();
    bool take_init();
    int take_sipi();  // the SIPI vector, -1 if none; leaves wait-for-SIPI
    bool take_extint();
    // Anything at all to deliver (wake a halted vcpu).
    bool any_pending() const;

    // ---- Priorities ----
    u8 tpr() const { return tpr_; }
    void set_tpr(u8 value);  // CR8 writes: the hypervisor passes CR8 << 4
    u8 ppr() const;
    u8 apr() const;

    // ---- IA32_TSC_DEADLINE (MSR 0x6e0) ----
    u64 tsc_deadline() const;
    void write_tsc_deadline(u64 guest_tsc);

    // INIT (11.4.7.3): the power-up state except the APIC ID; the APIC base
    // and mode are kept. An AP then waits for SIPI; the BSP does not (it
    // restarts at the reset vector).
    void init_reset();

    // ---- For the bus ----
    u32 vcpu() const { return vcpu_; }
    u32 x2apic_id() const { return initial_id_; }
    u8 xapic_id() const { return xapic_id_; }
    // The ID physical destinations compare against in the current mode.
    u32 physical_id() const { return x2apic_ ? initial_id_ : xapic_id_; }
    // The LDR as the current mode defines it (x2APIC: derived from the ID).
    u32 logical_id() const;
    // xAPIC logical model from DFR[31:28]: 0000b cluster, else flat.
    bool cluster_model() const { return (dfr_ >> 28) == 0; }

    // ---- Observation (tests, debugging) ----
    bool irr_has(u8 vector) const { return test_vector(irr_, vector); }
    bool isr_has(u8 vector) const { return test_vector(isr_, vector); }
    bool tmr_has(u8 vector) const { return test_vector(tmr_, vector); }

private:
    enum Lvt : unsigned { CMCI, TIMER, THERMAL, PERF, LINT0, LINT1, ERROR, kLvtCount };
    enum class TimerMode : u8 { ONE_SHOT, PERIODIC, TSC_DEADLINE };
    enum class RegAccess : u8 { OK, ABSENT, WRONG_DIRECTION, RESERVED_BITS };

    static bool test_vector(const u32 (&bits)[8], u8 vector) { return (bits[vector >> 5] >> (vector & 31)) & 1; }
    static void set_vector(u32 (&bits)[8], u8 vector, bool on);
    static int highest_vector(const u32 (&bits)[8]);

    // local_apic.cpp
    void reset_registers(bool keep_id);
    void notify();
    bool raise_vector(u8 vector, bool level, bool from_error_lvt);
    void record_error(u32 esr_bit, bool signal);
    void signal_local(Lvt which);
    bool lint_active(unsigned pin) const;
    void deliver_level_lint(unsigned pin);
    void reevaluate_lint(unsigned pin);
    void eoi();
    void send_icr();
    void send_self_ipi(u8 vector);

    // local_apic_regs.cpp
    RegAccess read_register(unsigned index, u64* value);
    RegAccess write_register(unsigned index, u64 value);
    u32 read_xapic_slot(unsigned slot);
    void write_svr(u32 value);
    void write_lvt(Lvt which, u32 value);

    // local_apic_timer.cpp
    static void timer_fired(void* context, u64 now);
    void on_timer(u64 now);
    TimerMode timer_mode() const;
    u32 divide_value() const;
    u64 full_period_ns() const;
    u64 counts_in(u64 ns) const;
    u64 ns_for_counts(u32 count) const;
    void start_countdown(u64 now, u32 count);
    void stop_timer();
    void catch_up_timer(u64 now);
    u32 current_count(u64 now) const;
    void write_initial_count(u32 value);
    void write_divide(u32 value);
    void write_lvt_timer(u32 value);

    // Identity and wiring.
    u32 vcpu_ = 0;
    u32 initial_id_ = 0;  // the hardware-assigned ID: the x2APIC ID
    bool bsp_ = false;
    TimerQueue& timers_;
    GuestTsc tsc_{};
    Hooks hooks_{};
    DeviceTimer timer_{};

    // IA32_APIC_BASE.
    bool enabled_ = true;
    bool x2apic_ = false;

    // Registers.
    u8 xapic_id_ = 0;
    u8 tpr_ = 0;
    u32 ldr_ = 0;  // xAPIC: bits 31:24
    u32 dfr_ = 0xffffffff;
    u32 svr_ = 0xff;
    u32 isr_[8] = {};
    u32 tmr_[8] = {};
    u32 irr_[8] = {};
    u32 esr_ = 0;          // what ESR reads: latched at the last ESR write
    u32 esr_pending_ = 0;  // errors detected since the last ESR write
    u32 icr_low_ = 0;
    u32 icr_destination_ = 0;  // xAPIC: ICR[63:56]; x2APIC: ICR[63:32]
    u32 lvt_[kLvtCount] = {};
    u32 initial_count_ = 0;
    u32 divide_config_ = 0;

    // Timer state: counting down from anchor_count_ at anchor_ns_, at
    // initial_count_ counts per period_ns_; expiry_ns_ is when it reaches 0.
    u32 anchor_count_ = 0;  // 0: not counting
    u64 anchor_ns_ = 0;
    u64 period_ns_ = 0;
    u64 expiry_ns_ = kNever;
    u64 tsc_deadline_ = 0;  // armed TSC deadline (guest TSC), 0: disarmed

    // Pins and pending processor events.
    bool lint_level_[2] = {};
    bool nmi_pending_ = false;
    bool init_pending_ = false;
    bool sipi_pending_ = false;
    u8 sipi_vector_ = 0;
    bool extint_message_ = false;  // an ExtINT message (from the I/O APIC)
    bool wait_for_sipi_ = false;
};

}  // namespace xeno::devices
