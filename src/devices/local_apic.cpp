// The local APIC's core: reset states, IA32_APIC_BASE, priorities,
// interrupt acceptance, the LVT's local sources, EOI, errors and IPIs.
// Register decoding is in local_apic_regs.cpp, the timer in
// local_apic_timer.cpp.
#include "devices/local_apic.hpp"

namespace xeno::devices {

namespace {

// LVT delivery modes (Figure 11-8) and ICR delivery modes (Figure 11-12).
constexpr u32 kModeFixed = 0;
constexpr u32 kModeLowestPriority = 1;
constexpr u32 kModeSmi = 2;
constexpr u32 kModeNmi = 4;
constexpr u32 kModeInit = 5;
constexpr u32 kModeExtInt = 7;

constexpr u32 kLintExtIntUnmasked = kModeExtInt << 8;  // 0x700: the BSP's LINT0 after reset (see the header)

// IA32_APIC_BASE: bits 0-7 and 9 are reserved, as are the bits above the
// base field 35:12 (a 36-bit physical address width).
constexpr u64 kBaseReserved = 0x2ffu | ~((u64{1} << 36) - 1);
constexpr u64 kBaseAddressMask = ((u64{1} << 36) - 1) & ~u64{0xfff};

u32 lvt_delivery_mode(u32 entry) { return (entry >> 8) & 7; }

}  // namespace

LocalApic::LocalApic(u32 vcpu, u32 apic_id, bool bsp, TimerQueue& timers, GuestTsc tsc, Hooks hooks)
    : vcpu_(vcpu), initial_id_(apic_id), bsp_(bsp), timers_(timers), tsc_(tsc), hooks_(hooks)
{
    timer_.bind(&LocalApic::timer_fired, this);
    reset_registers(false);
    // A processor comes out of reset with its APIC enabled in xAPIC mode
    // (11.12.5.1); an AP then waits for its SIPI.
    wait_for_sipi_ = !bsp_;
}

LocalApic::~LocalApic() { timers_.cancel(timer_); }

// Power-up state (11.4.7.1): IRR, ISR, TMR, ICR, LDR, TPR, the timer's
// counts and divide configuration 0; DFR all ones; every LVT entry masked;
// SVR 0xff (software disabled). The ID returns to the hardware-assigned one
// unless an INIT keeps it (11.4.7.3).
void LocalApic::reset_registers(bool keep_id)
{
    stop_timer();
    if (!keep_id) xapic_id_ = static_cast<u8>(initial_id_);
    tpr_ = 0;
    ldr_ = 0;
    dfr_ = 0xffffffff;
    svr_ = 0xff;
    for (usize i = 0; i < 8; ++i) isr_[i] = tmr_[i] = irr_[i] = 0;
    esr_ = esr_pending_ = 0;
    icr_low_ = icr_destination_ = 0;
    for (u32& entry : lvt_) entry = LVT_MASKED;
    if (bsp_) lvt_[LINT0] = kLintExtIntUnmasked;
    initial_count_ = 0;
    divide_config_ = 0;
    tsc_deadline_ = 0;
}

void LocalApic::init_reset()
{
    reset_registers(true);
    nmi_pending_ = init_pending_ = sipi_pending_ = extint_message_ = false;
    sipi_vector_ = 0;
    wait_for_sipi_ = !bsp_;
    notify();  // LINT0 may have become ExtINT again
}

void LocalApic::notify()
{
    if (hooks_.notify) hooks_.notify(hooks_.notify_context, vcpu_);
}

// ---- IA32_APIC_BASE ----

u64 LocalApic::apic_base() const
{
    return kDefaultBase | (bsp_ ? BASE_BSP : 0) | (x2apic_ ? BASE_EXTD : 0) | (enabled_ ? BASE_EN : 0);
}

bool LocalApic::write_apic_base(u64 value)
{
    if (value & kBaseReserved) return false;
    // The hypervisor decodes the xAPIC page only at 0xfee00000: a relocation
    // would leave the guest talking to nothing, so it is refused.
    if ((value & kBaseAddressMask) != kDefaultBase) return false;
    const bool enable = (value & BASE_EN) != 0;
    const bool extd = (value & BASE_EXTD) != 0;
    // 11.12.5, Figure 11-27: EXTD without EN is the invalid state; x2APIC
    // -> xAPIC and disabled -> x2APIC are illegal transitions.
    if (extd && !enable) return false;
    if (enabled_ && x2apic_ && enable && !extd) return false;
    if (!enabled_ && extd) return false;

    if (enabled_ && !enable) {
        // 11.4.3: disabling may lose the APIC's initialization and return it
        // to the power-up state: Xeno always does (the ID included).
        reset_registers(false);
        enabled_ = false;
        x2apic_ = false;
        notify();  // the 8259A's INTR now goes straight to the processor
        return true;
    }
    if (!enabled_ && enable) {
        enabled_ = true;  // in xAPIC mode, with the power-up register state
        notify();
        return true;
    }
    // xAPIC -> x2APIC: the x2APIC ID is the hardware ID and the LDR is
    // derived from it (11.12.10.2, logical_id()); the other registers keep
    // their values (11.12.5.1 leaves them undefined).
    x2apic_ = extd;
    return true;
}

// ---- Priorities ----

void LocalApic::set_vector(u32 (&bits)[8], u8 vector, bool on)
{
    const u32 mask = 1u << (vector & 31);
    if (on)
        bits[vector >> 5] |= mask;
    else
        bits[vector >> 5] &= ~mask;
}

int LocalApic::highest_vector(const u32 (&bits)[8])
{
    for (int word = 7; word >= 0; --word) {
        const u32 w = bits[word];
        if (w) return word * 32 + (31 - __builtin_clz(w));
    }
    return -1;
}

// PPR (11.8.3.1): the TPR when its class is at least the in-service
// class, else the in-service class.
u8 LocalApic::ppr() const
{
    const int isrv = highest_vector(isr_);
    const u8 isr_class = static_cast<u8>(isrv < 0 ? 0 : (isrv & 0xf0));
    return (tpr_ & 0xf0) >= isr_class ? tpr_ : isr_class;
}

// APR (11.6.2.4, Figure 11-15): the TPR when it is at least the highest
// requested class and above the highest in-service class; otherwise the
// highest of the three classes.
u8 LocalApic::apr() const
{
    const int irrv = highest_vector(irr_);
    const int isrv = highest_vector(isr_);
    const u8 tpr_class = tpr_ & 0xf0;
    const u8 irr_class = static_cast<u8>(irrv < 0 ? 0 : (irrv & 0xf0));
    const u8 isr_class = static_cast<u8>(isrv < 0 ? 0 : (isrv & 0xf0));
    if (tpr_class >= irr_class && tpr_class > isr_class) return tpr_;
    u8 apr_class = tpr_class > isr_class ? tpr_class : isr_class;
    if (irr_class > apr_class) apr_class = irr_class;
    return apr_class;
}

void LocalApic::set_tpr(u8 value)
{
    const u8 old = tpr_;
    tpr_ = value;
    if (value < old) notify();  // a held interrupt may now be deliverable
}

u32 LocalApic::logical_id() const
{
    if (!x2apic_) return ldr_;
    // 11.12.10.2: cluster = x2APIC ID[19:4] in bits 31:16, and one bit per
    // member (ID[3:0]) in bits 15:0.
    return (((initial_id_ >> 4) & 0xffff) << 16) | (1u << (initial_id_ & 15));
}

// ---- Injection ----

int LocalApic::highest_pending() const
{
    if (!enabled_) return -1;
    // A software-disabled APIC still holds what its IRR has (11.4.7.2):
    // those interrupts stay deliverable; it only refuses new fixed ones.
    const int irrv = highest_vector(irr_);
    if (irrv < 0) return -1;
    return (irrv & 0xf0) > (ppr() & 0xf0) ? irrv : -1;
}

void LocalApic::acknowledge(u8 vector)
{
    if (!test_vector(irr_, vector)) return;
    set_vector(irr_, vector, false);
    set_vector(isr_, vector, true);
}

bool LocalApic::extint_pending() const
{
    if (extint_message_) return true;
    if (!enabled_) return lint_level_[0];  // LINT0 is the plain INTR pin
    for (unsigned pin = 0; pin < 2; ++pin) {
        const u32 entry = lvt_[LINT0 + pin];
        // ExtINT is always level sensitive (Figure 11-8 notes): pending while
        // the 8259A holds INTR.
        if (!(entry & LVT_MASKED) && lvt_delivery_mode(entry) == kModeExtInt && lint_active(pin)) return true;
    }
    return false;
}

bool LocalApic::accepts_pic_interrupts() const
{
    if (!enabled_) return true;
    const u32 entry = lvt_[LINT0];
    return !(entry & LVT_MASKED) && lvt_delivery_mode(entry) == kModeExtInt;
}

bool LocalApic::take_nmi()
{
    const bool was = nmi_pending_;
    nmi_pending_ = false;
    return was;
}

bool LocalApic::take_init()
{
    const bool was = init_pending_;
    init_pending_ = false;
    return was;
}

int LocalApic::take_sipi()
{
    if (!sipi_pending_) return -1;
    sipi_pending_ = false;
    wait_for_sipi_ = false;  // the processor starts: later SIPIs are ignored
    return sipi_vector_;
}

bool LocalApic::take_extint()
{
    const bool was = extint_pending();
    extint_message_ = false;
    return was;
}

bool LocalApic::any_pending() const
{
    return highest_pending() >= 0 || nmi_pending_ || init_pending_ || sipi_pending_ || extint_pending();
}

// ---- Acceptance ----

// Vectors 0-15 are illegal (11.5.2): never set in IRR, recorded in ESR.
bool LocalApic::raise_vector(u8 vector, bool level, bool from_error_lvt)
{
    if (vector < 16) {
        // The error LVT's own illegal vector is recorded without signalling
        // the error LVT again (that would never end).
        record_error(ESR_RECEIVE_ILLEGAL_VECTOR, !from_error_lvt);
        return false;
    }
    set_vector(irr_, vector, true);
    set_vector(tmr_, vector, level);
    notify();
    return true;
}

void LocalApic::record_error(u32 esr_bit, bool signal)
{
    esr_pending_ |= esr_bit;
    if (signal) signal_local(ERROR);
}

void LocalApic::accept(const ApicMessage& m)
{
    if (!enabled_) return;  // a globally disabled APIC is not on the bus
    switch (m.mode) {
    case DeliveryMode::FIXED:
    case DeliveryMode::LOWEST_PRIORITY:
        // 11.4.7.2: a software-disabled APIC keeps what IRR holds but does
        // not accept new fixed interrupts; it still takes NMI, INIT, SIPI.
        if (!software_enabled()) return;
        raise_vector(m.vector, m.level_triggered, false);
        return;
    case DeliveryMode::NMI:
        nmi_pending_ = true;
        notify();
        return;
    case DeliveryMode::INIT:
        // The INIT level de-assert (level-triggered, level 0) does nothing
        // on processors after the P6 family (11.4.7.4).
        if (m.level_triggered && !m.assert_level) return;
        // INIT takes effect when it arrives: the APIC is reset (11.4.7.3) and
        // waits for a SIPI at once, so a SIPI that follows before the
        // hypervisor reset the processor's state is not lost. init_pending
        // tells the hypervisor to do the processor part.
        init_reset();
        init_pending_ = true;
        notify();
        return;
    case DeliveryMode::STARTUP:
        // Only a processor in wait-for-SIPI responds, and only to the first.
        if (!wait_for_sipi_ || sipi_pending_) return;
        sipi_pending_ = true;
        sipi_vector_ = m.vector;
        notify();
        return;
    case DeliveryMode::EXTINT:
        extint_message_ = true;
        notify();
        return;
    case DeliveryMode::SMI:
        return;  // no SMM in Xeno
    }
}

// ---- Local sources (LVT) ----

// An LVT source fired (an edge: the timer, the error detector, or a LINT
// pin in an edge-sensitive mode).
void LocalApic::signal_local(Lvt which)
{
    const u32 entry = lvt_[which];
    if (entry & LVT_MASKED) return;
    const u8 vector = static_cast<u8>(entry);
    // The timer and error entries have no delivery mode field: fixed.
    const u32 mode = (which == TIMER || which == ERROR) ? kModeFixed : lvt_delivery_mode(entry);
    switch (mode) {
    case kModeFixed: raise_vector(vector, false, which == ERROR); return;
    case kModeNmi:
        nmi_pending_ = true;
        notify();
        return;
    case kModeInit:
        // INIT is not supported for the CMCI, thermal and performance
        // entries (Figure 11-8 notes).
        if (which != LINT0 && which != LINT1) return;
        init_pending_ = true;
        notify();
        return;
    case kModeSmi: return;  // no SMM
    default: return;        // ExtINT (level: extint_pending), reserved modes
    }
}

bool LocalApic::lint_active(unsigned pin) const
{
    const bool active_low = (lvt_[LINT0 + pin] & LVT_ACTIVE_LOW) != 0;
    return lint_level_[pin] != active_low;
}

// A level-triggered fixed LINT interrupt: delivered while the pin is
// active, once per EOI (remote IRR, Figure 11-8).
void LocalApic::deliver_level_lint(unsigned pin)
{
    u32& entry = lvt_[LINT0 + pin];
    if (entry & LVT_REMOTE_IRR) return;
    if (raise_vector(static_cast<u8>(entry), true, false)) entry |= LVT_REMOTE_IRR;
}

// After a LINT entry changed or an EOI cleared remote IRR: a level-
// triggered fixed entry whose pin is active delivers again.
void LocalApic::reevaluate_lint(unsigned pin)
{
    const u32 entry = lvt_[LINT0 + pin];
    if (entry & LVT_MASKED) return;
    if (lvt_delivery_mode(entry) == kModeFixed && (entry & LVT_LEVEL) && lint_active(pin)) deliver_level_lint(pin);
}

void LocalApic::set_lint(unsigned pin, bool level)
{
    if (pin > 1) return;
    const bool was_level = lint_level_[pin];
    const bool was_active = lint_active(pin);
    lint_level_[pin] = level;
    const bool active = lint_active(pin);

    if (!enabled_) {
        // A globally disabled APIC leaves the pins as the processor's INTR
        // (LINT0) and NMI (LINT1).
        if (pin == 1 && level && !was_level) {
            nmi_pending_ = true;
            notify();
        } else if (pin == 0 && level != was_level) {
            notify();
        }
        return;
    }
    const u32 entry = lvt_[LINT0 + pin];
    if (entry & LVT_MASKED) return;
    switch (lvt_delivery_mode(entry)) {
    case kModeFixed:
        if (entry & LVT_LEVEL) {
            if (active) deliver_level_lint(pin);
        } else if (active && !was_active) {
            raise_vector(static_cast<u8>(entry), false, false);
        }
        return;
    case kModeExtInt:
        if (active != was_active) notify();
        return;
    default:
        // NMI, INIT and SMI are always edge sensitive (Figure 11-8 notes).
        if (active && !was_active) signal_local(pin ? LINT1 : LINT0);
        return;
    }
}

// ---- EOI ----

void LocalApic::eoi()
{
    const int vector = highest_vector(isr_);
    if (vector < 0) return;  // nothing in service: no effect
    const u8 v = static_cast<u8>(vector);
    set_vector(isr_, v, false);
    if (test_vector(tmr_, v)) {
        // A level-triggered LINT entry with this vector may deliver again.
        for (unsigned pin = 0; pin < 2; ++pin) {
            u32& entry = lvt_[LINT0 + pin];
            if ((entry & LVT_REMOTE_IRR) && static_cast<u8>(entry) == v) {
                entry &= ~LVT_REMOTE_IRR;
                reevaluate_lint(pin);
            }
        }
        // 11.8.5: the EOI is broadcast to the I/O APICs, unless SVR bit 12
        // asks for directed EOIs (the guest writes the I/O APIC's EOI
        // register itself).
        if (!(svr_ & SVR_SUPPRESS_EOI_BROADCAST) && hooks_.eoi) hooks_.eoi(hooks_.eoi_context, v);
    }
    notify();  // PPR fell: a held interrupt may be deliverable
}

// ---- IPIs ----

// The ICR was written (11.6.1): send what it describes, after the rules of
// Table 11-3 (valid combinations for the Pentium 4 and later xAPIC).
void LocalApic::send_icr()
{
    const u32 low = icr_low_;
    const u8 vector = static_cast<u8>(low);
    const u32 mode = (low >> 8) & 7;
    const bool logical = (low >> 11) & 1;
    const bool assert_level = (low >> 14) & 1;
    bool level_triggered = (low >> 15) & 1;
    const auto shorthand = static_cast<Shorthand>((low >> 18) & 3);

    // 011 (remote read on the P6) and 111 are reserved in the ICR: nothing
    // is sent.
    if (mode == 3 || mode == kModeExtInt) return;
    // Self and all-including-self are valid with fixed delivery only.
    if ((shorthand == Shorthand::SELF || shorthand == Shorthand::ALL_INCLUDING_SELF) && mode != kModeFixed) return;
    // Level-triggered IPIs other than INIT: "treated as edge triggered if
    // the level bit is 1, otherwise ignored" (Table 11-3 note 2).
    if (level_triggered && mode != kModeInit) {
        if (!assert_level) return;
        level_triggered = false;
    }
    // INIT level de-assert is not valid with self/all-including-self: those
    // were refused above (mode != fixed).
    if ((mode == kModeFixed || mode == kModeLowestPriority) && vector < 16) {
        record_error(ESR_SEND_ILLEGAL_VECTOR, true);  // 11.5.3: not sent
        return;
    }

    ApicMessage m;
    m.vector = vector;
    m.mode = static_cast<DeliveryMode>(mode);
    m.logical = logical;
    m.level_triggered = level_triggered;
    // Edge-triggered messages are always assert messages (11.11.2).
    m.assert_level = level_triggered ? assert_level : true;
    m.shorthand = shorthand;
    m.x2apic_destination = x2apic_;
    m.destination = x2apic_ ? icr_destination_ : (icr_destination_ & 0xff);
    if (hooks_.send) hooks_.send(hooks_.send_context, vcpu_, m);
}

// 11.12.11: the same as an ICR write of a fixed, edge-triggered IPI to self.
void LocalApic::send_self_ipi(u8 vector)
{
    if (vector < 16) {
        record_error(ESR_SEND_ILLEGAL_VECTOR, true);
        return;
    }
    ApicMessage m;
    m.vector = vector;
    m.mode = DeliveryMode::FIXED;
    m.shorthand = Shorthand::SELF;
    m.x2apic_destination = true;
    m.destination = initial_id_;
    if (hooks_.send) hooks_.send(hooks_.send_context, vcpu_, m);
}

}  // namespace xeno::devices
