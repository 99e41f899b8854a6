// The local APIC's register file and its two windows: the xAPIC MMIO page
// (Table 11-1) and the x2APIC MSRs (Table 11-6, 11.12.1).
//
// Both windows index registers by slot (xAPIC offset / 16 = MSR - 0x800).
// read_register/write_register hold the per-register rules and report an
// access the register does not allow; the xAPIC window turns that into
// "ignored" (or ESR bit 7 for a reserved slot), the x2APIC window into #GP.
#include "devices/local_apic.hpp"

namespace xeno::devices {

namespace {

constexpr unsigned slot(u32 offset) { return offset >> 4; }
constexpr unsigned kSlots = 0x40;  // 0x000-0x3f0; the rest of the page is reserved

// ICR low bits that mean something (vector, delivery mode, destination
// mode, level, trigger, shorthand; Figure 11-12). Delivery status (bit 12)
// reads 0 and is reserved in x2APIC mode (11.12.9).
constexpr u32 kIcrLowBits = 0x000ccfff;
// SVR: vector, APIC enable, focus checking, EOI-broadcast suppression.
constexpr u32 kSvrBits = 0x13ff;
// Divide configuration: bits 0, 1 and 3 (Figure 11-10).
constexpr u32 kDivideBits = 0xb;

}  // namespace

// ---- The register file ----

LocalApic::RegAccess LocalApic::read_register(unsigned index, u64* value)
{
    const bool x2 = x2apic_;
    u64 v = 0;
    if (index >= slot(REG_ISR) && index < slot(REG_ISR) + 8) {
        v = isr_[index - slot(REG_ISR)];
    } else if (index >= slot(REG_TMR) && index < slot(REG_TMR) + 8) {
        v = tmr_[index - slot(REG_TMR)];
    } else if (index >= slot(REG_IRR) && index < slot(REG_IRR) + 8) {
        v = irr_[index - slot(REG_IRR)];
    } else if (index >= slot(REG_LVT_TIMER) && index <= slot(REG_LVT_ERROR)) {
        v = lvt_[TIMER + (index - slot(REG_LVT_TIMER))];
    } else {
        switch (index) {
        case slot(REG_ID): v = x2 ? initial_id_ : u32{xapic_id_} << 24; break;
        case slot(REG_VERSION): v = kVersion; break;
        case slot(REG_TPR): v = tpr_; break;
        case slot(REG_APR):
            if (x2) return RegAccess::ABSENT;
            v = apr();
            break;
        case slot(REG_PPR): v = ppr(); break;
        case slot(REG_EOI): return RegAccess::WRONG_DIRECTION;
        case slot(REG_RRD):
            // Remote read (a P6 feature) is not supported: RRD reads 0.
            if (x2) return RegAccess::ABSENT;
            break;
        case slot(REG_LDR): v = logical_id(); break;
        case slot(REG_DFR):
            if (x2) return RegAccess::ABSENT;
            v = dfr_;
            break;
        case slot(REG_SVR): v = svr_; break;
        case slot(REG_ESR): v = esr_; break;
        case slot(REG_LVT_CMCI): v = lvt_[CMCI]; break;
        case slot(REG_ICR_LOW):
            // Delivery status reads 0: a send completes at once.
            v = x2 ? (u64{icr_destination_} << 32) | icr_low_ : icr_low_;
            break;
        case slot(REG_ICR_HIGH):
            if (x2) return RegAccess::ABSENT;  // one 64-bit MSR 0x830; no 0x831
            v = (icr_destination_ & 0xff) << 24;
            break;
        case slot(REG_TIMER_INITIAL): v = initial_count_; break;
        case slot(REG_TIMER_CURRENT): v = current_count(timers_.now()); break;
        case slot(REG_TIMER_DIVIDE): v = divide_config_; break;
        case slot(REG_SELF_IPI): return x2 ? RegAccess::WRONG_DIRECTION : RegAccess::ABSENT;
        default: return RegAccess::ABSENT;
        }
    }
    *value = v;
    return RegAccess::OK;
}

LocalApic::RegAccess LocalApic::write_register(unsigned index, u64 value)
{
    const bool x2 = x2apic_;
    const u32 v = static_cast<u32>(value);
    // x2APIC mode checks reserved bits: a non-zero write to one is #GP
    // (11.12.1.3). The xAPIC drops them.
    const auto reserved = [&](u32 defined) { return x2 && (v & ~defined) != 0; };

    if ((index >= slot(REG_ISR) && index < slot(REG_IRR) + 8) || index == slot(REG_VERSION) ||
        index == slot(REG_PPR) || index == slot(REG_TIMER_CURRENT)) {
        return RegAccess::WRONG_DIRECTION;  // read-only
    }
    if (index == slot(REG_LVT_CMCI) || (index >= slot(REG_LVT_TIMER) && index <= slot(REG_LVT_ERROR))) {
        const Lvt which = index == slot(REG_LVT_CMCI) ? CMCI : static_cast<Lvt>(TIMER + (index - slot(REG_LVT_TIMER)));
        // Delivery status and remote IRR are read-only bits, not reserved.
        const u32 read_only = LVT_DELIVERY_STATUS | ((which == LINT0 || which == LINT1) ? LVT_REMOTE_IRR : 0);
        u32 writable = 0;
        switch (which) {
        case TIMER: writable = 0xff | LVT_MASKED | (3u << 17); break;
        case LINT0:
        case LINT1: writable = 0x7ff | LVT_ACTIVE_LOW | LVT_LEVEL | LVT_MASKED; break;
        case ERROR: writable = 0xff | LVT_MASKED; break;
        default: writable = 0x7ff | LVT_MASKED; break;  // CMCI, thermal, performance
        }
        if (reserved(writable | read_only)) return RegAccess::RESERVED_BITS;
        write_lvt(which, v & writable);
        return RegAccess::OK;
    }

    switch (index) {
    case slot(REG_ID):
        if (x2) return RegAccess::WRONG_DIRECTION;  // the x2APIC ID is read-only
        xapic_id_ = static_cast<u8>(v >> 24);
        return RegAccess::OK;
    case slot(REG_TPR):
        if (reserved(0xff)) return RegAccess::RESERVED_BITS;
        set_tpr(static_cast<u8>(v));
        return RegAccess::OK;
    case slot(REG_APR):
    case slot(REG_RRD): return x2 ? RegAccess::ABSENT : RegAccess::WRONG_DIRECTION;
    case slot(REG_EOI):
        if (reserved(0)) return RegAccess::RESERVED_BITS;  // x2APIC: only 0 may be written
        eoi();
        return RegAccess::OK;
    case slot(REG_LDR):
        if (x2) return RegAccess::WRONG_DIRECTION;  // derived from the x2APIC ID
        ldr_ = v & 0xff000000;
        return RegAccess::OK;
    case slot(REG_DFR):
        if (x2) return RegAccess::ABSENT;
        dfr_ = (v & 0xf0000000) | 0x0fffffff;  // bits 27:0 are reserved and read as ones
        return RegAccess::OK;
    case slot(REG_SVR):
        if (reserved(kSvrBits)) return RegAccess::RESERVED_BITS;
        write_svr(v & kSvrBits);
        return RegAccess::OK;
    case slot(REG_ESR):
        if (reserved(0)) return RegAccess::RESERVED_BITS;
        // 11.5.3: a write latches the errors detected since the previous
        // write into what ESR reads, and starts collecting anew.
        esr_ = esr_pending_;
        esr_pending_ = 0;
        return RegAccess::OK;
    case slot(REG_ICR_LOW):
        if (x2) {
            if (v & ~kIcrLowBits) return RegAccess::RESERVED_BITS;
            icr_destination_ = static_cast<u32>(value >> 32);
        }
        icr_low_ = v & kIcrLowBits;
        send_icr();
        return RegAccess::OK;
    case slot(REG_ICR_HIGH):
        if (x2) return RegAccess::ABSENT;
        icr_destination_ = v >> 24;  // bits 55:32 are reserved
        return RegAccess::OK;
    case slot(REG_TIMER_INITIAL): write_initial_count(v); return RegAccess::OK;
    case slot(REG_TIMER_DIVIDE):
        if (reserved(kDivideBits)) return RegAccess::RESERVED_BITS;
        write_divide(v & kDivideBits);
        return RegAccess::OK;
    case slot(REG_SELF_IPI):
        if (!x2) return RegAccess::ABSENT;
        if (reserved(0xff)) return RegAccess::RESERVED_BITS;
        send_self_ipi(static_cast<u8>(v));
        return RegAccess::OK;
    default: return RegAccess::ABSENT;
    }
}

void LocalApic::write_svr(u32 value)
{
    const bool was_enabled = software_enabled();
    svr_ = value;
    if (was_enabled && !software_enabled()) {
        // 11.4.7.2: software disabling sets every LVT mask bit (and writes
        // cannot clear them while disabled: write_lvt).
        for (u32& entry : lvt_) entry |= LVT_MASKED;
        notify();  // an unmasked ExtINT LINT0 is gone
    }
}

void LocalApic::write_lvt(Lvt which, u32 value)
{
    if (!software_enabled()) value |= LVT_MASKED;  // 11.4.7.2
    if (which == TIMER) {
        write_lvt_timer(value);
        return;
    }
    if (which == LINT0 || which == LINT1) {
        const unsigned pin = which == LINT1 ? 1 : 0;
        lvt_[which] = value | (lvt_[which] & LVT_REMOTE_IRR);
        reevaluate_lint(pin);  // unmasking a level entry whose pin is active delivers
        notify();              // ExtINT may have come or gone
        return;
    }
    lvt_[which] = value;
}

// ---- The xAPIC window ----

u32 LocalApic::read_xapic_slot(unsigned index)
{
    u64 v = 0;
    switch (index < kSlots ? read_register(index, &v) : RegAccess::ABSENT) {
    case RegAccess::OK: return static_cast<u32>(v);
    case RegAccess::ABSENT: record_error(ESR_ILLEGAL_REGISTER, true); return 0;
    default: return 0;  // EOI is write-only: reads 0
    }
}

u64 LocalApic::mmio_read(u32 /*vcpu*/, u64 offset, u8 size)
{
    if (!xapic_mode()) return size >= 8 ? ~u64{0} : (u64{1} << (8 * size)) - 1;
    u64 result = 0;
    unsigned cached_slot = ~0u;
    u32 cached = 0;
    for (unsigned i = 0; i < size && i < 8; ++i) {
        const u64 byte_offset = (offset + i) & 0xfff;
        const unsigned within = byte_offset & 0xf;
        if (within >= 4) continue;  // a register is the first 4 bytes of its slot
        const unsigned index = static_cast<unsigned>(byte_offset >> 4);
        if (index != cached_slot) {
            cached = read_xapic_slot(index);
            cached_slot = index;
        }
        result |= u64{(cached >> (8 * within)) & 0xff} << (8 * i);
    }
    return result;
}

void LocalApic::mmio_write(u32 /*vcpu*/, u64 offset, u8 size, u64 value)
{
    if (!xapic_mode()) return;
    offset &= 0xfff;
    // Only whole-register writes count (see the header); an 8-byte write
    // puts its high half into the slot's reserved bytes.
    if ((offset & 0xf) != 0 || size < 4) return;
    const unsigned index = static_cast<unsigned>(offset >> 4);
    const RegAccess r = index < kSlots ? write_register(index, static_cast<u32>(value)) : RegAccess::ABSENT;
    if (r == RegAccess::ABSENT) record_error(ESR_ILLEGAL_REGISTER, true);
}

// ---- The x2APIC window ----

bool LocalApic::msr_read(u32 msr, u64* value)
{
    if (!x2apic_mode() || !is_x2apic_msr(msr)) return false;
    const unsigned index = msr - MSR_X2APIC_FIRST;
    if (index >= kSlots) return false;
    u64 v = 0;
    if (read_register(index, &v) != RegAccess::OK) return false;
    *value = v;
    return true;
}

bool LocalApic::msr_write(u32 msr, u64 value)
{
    if (!x2apic_mode() || !is_x2apic_msr(msr)) return false;
    const unsigned index = msr - MSR_X2APIC_FIRST;
    if (index >= kSlots) return false;
    // Every register but the ICR is 32 bits wide: bits 63:32 are reserved.
    if (index != slot(REG_ICR_LOW) && (value >> 32) != 0) return false;
    return write_register(index, value) == RegAccess::OK;
}

}  // namespace xeno::devices
