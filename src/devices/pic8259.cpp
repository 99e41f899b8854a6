#include "devices/pic8259.hpp"

namespace xeno::devices {

namespace {

// ICW1 (A0 = 0, D4 = 1), 8259A data sheet figure "Initialization Command Word Format".
constexpr u8 kIcw1Ic4 = 1u << 0;   // ICW4 follows
constexpr u8 kIcw1Sngl = 1u << 1;  // single chip: no ICW3
constexpr u8 kIcw1Ltim = 1u << 3;  // level-triggered inputs
constexpr u8 kIcw1Marker = 1u << 4;
// ICW4.
constexpr u8 kIcw4Upm = 1u << 0;   // 8086/8088 mode
constexpr u8 kIcw4Aeoi = 1u << 1;  // automatic EOI
constexpr u8 kIcw4Ms = 1u << 2;    // buffered mode: master (1) or slave (0)
constexpr u8 kIcw4Buf = 1u << 3;   // buffered mode
constexpr u8 kIcw4Sfnm = 1u << 4;  // special fully nested mode
// OCW3 (A0 = 0, D4 = 0, D3 = 1).
constexpr u8 kOcw3Marker = 1u << 3;
constexpr u8 kOcw3Ris = 1u << 0;   // read ISR (1) or IRR (0) ...
constexpr u8 kOcw3Rr = 1u << 1;    // ... when RR is set
constexpr u8 kOcw3Poll = 1u << 2;
constexpr u8 kOcw3Smm = 1u << 5;   // set (1) or reset (0) special mask ...
constexpr u8 kOcw3Esmm = 1u << 6;  // ... when ESMM is set
// The poll word: I (bit 7) = a request was found, W2-W0 = its level.
constexpr u8 kPollInterrupt = 0x80;
// OCW2 commands, bits R SL EOI (7-5).
enum Ocw2 : u8 {
    kRotateInAeoiClear = 0,
    kNonSpecificEoi = 1,
    kNoOperation = 2,
    kSpecificEoi = 3,
    kRotateInAeoiSet = 4,
    kRotateOnNonSpecificEoi = 5,
    kSetPriority = 6,
    kRotateOnSpecificEoi = 7,
};

constexpr u8 bit8(unsigned n) { return static_cast<u8>(1u << n); }

}  // namespace

// ---------------------------------------------------------------------------
// One 8259A

void DualPic::Chip::power_on()
{
    const u8 lines = lines_;  // driven from outside: survives
    *this = Chip(master_);
    lines_ = lines;
}

u8 DualPic::Chip::highest(u8 bits) const
{
    // IR (lowest + 1) has the highest priority, IR lowest the lowest.
    for (unsigned i = 0; i < 8; ++i) {
        const unsigned ir = (lowest_priority_ + 1 + i) & 7;
        if (bits & bit8(ir)) return static_cast<u8>(ir);
    }
    return kNone;
}

u8 DualPic::Chip::best_request() const
{
    if (!initialised()) return kNone;
    const u8 request = highest(static_cast<u8>(irr_ & ~imr_));
    if (request == kNone) return kNone;
    // In special mask mode a level masked in IMR no longer holds off the
    // others, whether lower or higher (data sheet, "Special Mask Mode").
    const u8 blocking = special_mask_ ? static_cast<u8>(isr_ & ~imr_) : isr_;
    const u8 in_service = highest(blocking);
    if (in_service == kNone || rank(request) < rank(in_service)) return request;
    // Special fully nested mode: the master lets a slave interrupt again
    // while one of its requests is in service, the slave having resolved
    // that the new request has a higher priority ("Special Fully Nest Mode").
    if (special_fully_nested_ && request == in_service && cascades(request)) return request;
    return kNone;
}

bool DualPic::Chip::cascades(unsigned ir) const
{
    return master_ && !single_ && (icw3_ & bit8(ir)) != 0;
}

u8 DualPic::Chip::take()
{
    const u8 ir = best_request();
    if (ir == kNone) return kNone;
    const u8 mask = bit8(ir);
    // The acknowledge resets the IRR bit; a level-triggered input sets it
    // again at once while its line stays high, so that IRR just follows it.
    if (!(level_mask() & mask)) irr_ = static_cast<u8>(irr_ & ~mask);
    if (auto_eoi_) {
        // AEOI: the ISR bit is reset at the end of the INTA sequence, with
        // rotation when "rotate in AEOI" is set.
        if (rotate_in_auto_eoi_) lowest_priority_ = ir;
    } else {
        isr_ = static_cast<u8>(isr_ | mask);
    }
    return ir;
}

void DualPic::Chip::set_input(unsigned ir, bool level)
{
    const u8 mask = bit8(ir);
    const bool was_high = (lines_ & mask) != 0;
    if (level) {
        lines_ = static_cast<u8>(lines_ | mask);
        if (!was_high || (level_mask() & mask)) irr_ = static_cast<u8>(irr_ | mask);
    } else {
        lines_ = static_cast<u8>(lines_ & ~mask);
        if (level_mask() & mask) irr_ = static_cast<u8>(irr_ & ~mask);
    }
}

void DualPic::Chip::set_elcr(u8 level_bits)
{
    elcr_ = level_bits;
    // Inputs now level-triggered report their line; edge-triggered ones
    // keep what they latched.
    const u8 level = level_mask();
    irr_ = static_cast<u8>((irr_ & ~level) | (lines_ & level));
}

void DualPic::Chip::icw1(u8 value)
{
    ltim_ = (value & kIcw1Ltim) != 0;
    single_ = (value & kIcw1Sngl) != 0;
    expects_icw4_ = (value & kIcw1Ic4) != 0;
    // ADI (bit 2) and A7-A5 (bits 7-5) only matter in MCS-80/85 mode: ignored.
    // What ICW1 resets (data sheet, "Initialization Command Words"): the
    // edge sense circuit (an input must go low to high again), IMR, the
    // priority (IR7 lowest), the slave address (7), special mask mode, the
    // read select (IRR); with IC4 = 0 every ICW4 function is zeroed, and
    // with IC4 = 1 the ICW4 about to come sets them all.
    imr_ = 0;
    isr_ = 0;
    irr_ = static_cast<u8>(lines_ & level_mask());
    lowest_priority_ = 7;
    icw3_ = 7;
    special_mask_ = false;
    read_isr_ = false;
    poll_ = false;
    rotate_in_auto_eoi_ = false;
    x86_mode_ = auto_eoi_ = buffered_ = buffered_master_ = special_fully_nested_ = false;
    init_ = Init::ExpectIcw2;
}

void DualPic::Chip::non_specific_eoi(bool rotate)
{
    // Resets the highest-priority ISR bit; in special mask mode an ISR bit
    // masked in IMR is not reset by a non-specific EOI (data sheet, "End of
    // Interrupt").
    const u8 eligible = special_mask_ ? static_cast<u8>(isr_ & ~imr_) : isr_;
    const u8 level = highest(eligible);
    if (level == kNone) return;  // nothing in service: nothing to end or rotate
    end_of_interrupt(level, rotate);
}

void DualPic::Chip::end_of_interrupt(u8 level, bool rotate)
{
    isr_ = static_cast<u8>(isr_ & ~bit8(level));
    if (rotate) lowest_priority_ = level;  // the serviced level goes last
}

void DualPic::Chip::ocw2(u8 value)
{
    const u8 level = static_cast<u8>(value & 7);
    switch (value >> 5) {
    case kNonSpecificEoi: non_specific_eoi(false); break;
    case kSpecificEoi: end_of_interrupt(level, false); break;
    case kRotateOnNonSpecificEoi: non_specific_eoi(true); break;
    case kRotateInAeoiSet: rotate_in_auto_eoi_ = true; break;
    case kRotateInAeoiClear: rotate_in_auto_eoi_ = false; break;
    case kRotateOnSpecificEoi: end_of_interrupt(level, true); break;
    case kSetPriority: lowest_priority_ = level; break;
    case kNoOperation: break;
    default: break;
    }
}

void DualPic::Chip::ocw3(u8 value)
{
    if (value & kOcw3Esmm) special_mask_ = (value & kOcw3Smm) != 0;
    if (value & kOcw3Poll) poll_ = true;
    if (value & kOcw3Rr) read_isr_ = (value & kOcw3Ris) != 0;
    // Bit 7 is reserved (0): ignored.
}

void DualPic::Chip::write_command(u8 value)
{
    if (value & kIcw1Marker) {
        icw1(value);
    } else if (value & kOcw3Marker) {
        ocw3(value);
    } else {
        ocw2(value);
    }
}

void DualPic::Chip::write_data(u8 value)
{
    switch (init_) {
    case Init::ExpectIcw2:
        // 8086 mode: T7-T3 are the vector's high bits, the IR level fills
        // the low three; bits 2-0 of ICW2 are ignored.
        vector_base_ = static_cast<u8>(value & 0xf8);
        init_ = !single_ ? Init::ExpectIcw3 : expects_icw4_ ? Init::ExpectIcw4 : Init::Ready;
        break;
    case Init::ExpectIcw3:
        // A master's ICW3 has a bit per input carrying a slave; a slave's
        // has its ID in bits 2-0 (bits 7-3 are 0).
        icw3_ = value;
        init_ = expects_icw4_ ? Init::ExpectIcw4 : Init::Ready;
        break;
    case Init::ExpectIcw4:
        x86_mode_ = (value & kIcw4Upm) != 0;
        auto_eoi_ = (value & kIcw4Aeoi) != 0;
        buffered_master_ = (value & kIcw4Ms) != 0;
        buffered_ = (value & kIcw4Buf) != 0;
        special_fully_nested_ = (value & kIcw4Sfnm) != 0;
        init_ = Init::Ready;
        break;
    case Init::PowerOn:
    case Init::Ready:
        imr_ = value;  // OCW1
        break;
    }
}

u8 DualPic::Chip::read(bool a0)
{
    if (poll_) {
        // The data sheet: with P set, the next RD pulse to the chip is an
        // interrupt acknowledge, and reads the poll word.
        poll_ = false;
        const u8 ir = take();
        return ir == kNone ? u8{0} : static_cast<u8>(kPollInterrupt | ir);
    }
    if (a0) return imr_;
    return read_isr_ ? isr_ : irr_;
}

// ---------------------------------------------------------------------------
// The pair

DualPic::DualPic(OutputChanged changed, void* context) : changed_(changed), context_(context) {}

void DualPic::update()
{
    master_.set_input(kCascadeIrq, slave_.int_output());
    const bool level = master_.int_output();
    if (level == output_) return;
    output_ = level;
    if (changed_) changed_(context_, level);
}

void DualPic::set_irq(u32 irq, bool level)
{
    if (irq >= kIrqCount || irq == kCascadeIrq) return;
    if (irq < 8) {
        master_.set_input(irq, level);
    } else {
        slave_.set_input(irq - 8, level);
    }
    update();
}

u8 DualPic::acknowledge()
{
    u8 vector = 0;
    const u8 ir = master_.take();
    if (ir == Chip::kNone) {
        vector = master_.vector(7);  // default IR7, ISR untouched
    } else if (!master_.cascades(ir)) {
        vector = master_.vector(ir);
    } else if (slave_.slave_id() != ir) {
        vector = 0xff;  // cascade address names no slave: nobody drives the bus
    } else {
        const u8 slave_ir = slave_.take();
        vector = slave_.vector(slave_ir == Chip::kNone ? 7 : slave_ir);
        // The slave's INT counts as dropped for this INTA: a request still
        // pending there reaches the master as a new edge (update() below).
        master_.set_input(kCascadeIrq, false);
    }
    update();
    return vector;
}

void DualPic::reset()
{
    master_.power_on();
    slave_.power_on();
    update();
}

u8 DualPic::read_byte(u16 port)
{
    switch (port) {
    case kMasterCommandPort: return master_.read(false);
    case kMasterDataPort: return master_.read(true);
    case kSlaveCommandPort: return slave_.read(false);
    case kSlaveDataPort: return slave_.read(true);
    case kElcrMasterPort: return master_.elcr();
    case kElcrSlavePort: return slave_.elcr();
    default: return 0xff;
    }
}

void DualPic::write_byte(u16 port, u8 value)
{
    switch (port) {
    case kMasterCommandPort: master_.write_command(value); break;
    case kMasterDataPort: master_.write_data(value); break;
    case kSlaveCommandPort: slave_.write_command(value); break;
    case kSlaveDataPort: slave_.write_data(value); break;
    case kElcrMasterPort: master_.set_elcr(static_cast<u8>(value & kElcrMasterWritable)); break;
    case kElcrSlavePort: slave_.set_elcr(static_cast<u8>(value & kElcrSlaveWritable)); break;
    default: return;
    }
}

u32 DualPic::pio_read(u16 port, u8 size)
{
    u32 value = 0;
    for (u8 i = 0; i < size && i < 4; ++i) {
        value |= u32{read_byte(static_cast<u16>(port + i))} << (8 * i);
    }
    update();  // a poll read is an acknowledge
    return value;
}

void DualPic::pio_write(u16 port, u8 size, u32 value)
{
    for (u8 i = 0; i < size && i < 4; ++i) {
        write_byte(static_cast<u16>(port + i), static_cast<u8>(value >> (8 * i)));
    }
    update();
}

}  // namespace xeno::devices
