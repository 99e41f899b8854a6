// The PC's two cascaded Intel 8259A programmable interrupt controllers, and
// the edge/level control registers (ELCR) of the PIIX/ICH chipsets.
//
// Wiring, as on every PC since the AT: the master answers ports 0x20/0x21
// and drives the processor's INTR; the slave answers 0xa0/0xa1 and its INT
// output is the master's IR2 input. ISA IRQ 0-7 are master IR0-7, IRQ 8-15
// slave IR0-7. There is no external "IRQ 2": master IR2 carries the slave,
// so set_irq(2, ...) is ignored (the ISA bus pin labelled IRQ2 reaches the
// slave's IR1, IRQ 9, which is how the AT kept XT cards working).
//
// Modelled, after the 8259A data sheet (Intel 231468):
//   - the ICW1-ICW4 initialisation sequence: ICW1 restarts it at any time
//     (also in the middle of a sequence); ICW3 is expected only in cascade
//     mode (SNGL = 0), ICW4 only when ICW1.IC4 is set. The ICW2 vector base
//     keeps bits 7-3. ICW1 resets what the data sheet lists (edge sense, IMR,
//     priority, slave address 7, special mask, IRR read select, ICW4 fields
//     when IC4 = 0); it also clears ISR, the edge-latched IRR, a pending poll
//     and rotate-in-AEOI, which the data sheet leaves unspecified, so that a
//     re-initialised chip starts clean.
//   - OCW1 (IMR), all eight OCW2 forms (non-specific / specific EOI, their
//     rotating variants, rotate in AEOI set/clear, set priority, no-op),
//     OCW3 (IRR/ISR read select, poll, special mask mode). OCW2/OCW3 written
//     during the ICW sequence act as OCWs without ending the sequence.
//   - edge-triggered inputs latch IRR on a rising edge (a line held high
//     does not request again); level-triggered inputs (ICW1.LTIM for a whole
//     chip, or the ELCR bit for one IRQ: either makes it level) keep IRR equal
//     to the line, so a request that goes away before INTA is withdrawn.
//   - priority resolution with rotation, the fully nested ISR structure,
//     special fully nested mode (a slave's higher-priority request passes the
//     master's in-service cascade input), special mask mode (an in-service
//     level masked in IMR no longer blocks others; a non-specific EOI skips
//     such levels, as the data sheet says), automatic EOI.
//   - the INTA cycle (acknowledge()): the master resolves; when the winner is
//     an input that ICW3 names as a cascade, the slave whose ID matches puts
//     its vector on the bus (no matching slave: the bus floats, 0xff). With
//     no request left at INTA the chip answers IR7 without setting ISR 7 (the
//     data sheet's "default IR7"); a slave doing so answers IRQ 15 while the
//     master has set ISR bit 2, so the guest must EOI the master.
//   - the poll command: the next read of either port of that chip acts as
//     INTA on that chip alone and returns 0x80 | level, or 0 with no request.
//
// Choices where silicon is unspecified or irrelevant:
//   - at power-on every register is zero and the chip is uninitialised: the
//     hypervisor's domain starts the PICs so (there is no BIOS to program
//     them). An uninitialised chip, or one in the middle of its ICW sequence,
//     never raises INT. OCW1-3 written before any ICW1 are stored (Linux
//     probes for the PIC by writing and reading back the IMR first); the ICW1
//     that follows resets them.
//   - the vector is always the 8086-mode one: MCS-80/85 mode (ICW4.uPM = 0,
//     or no ICW4) and the buffered mode bits are stored but do not change
//     what the chip does. The master is the master and the slave the slave
//     whatever ICW1.SNGL, ICW4.BUF/M-S say (the SP/EN pins are hardwired).
//   - the master's IR2 follows the slave's INT like any other input (edge by
//     default, level under the master's LTIM). The slave's INT is taken as
//     dropping during the INTA cycle it answers, so a request still pending
//     in the slave after INTA gives the master a fresh edge.
//   - ELCR (0x4d0 for IRQ 0-7, 0x4d1 for IRQ 8-15; 1 = level): the bits of
//     IRQ 0, 1, 2, 8 and 13 read 0 and ignore writes, as on the PIIX/ICH
//     where the timer, keyboard, cascade, RTC and FPU inputs are edge only.
//     Power-on value 0 (all edge).
//
// Output: output() is the master's INT line; the constructor's callback is
// told each time it changes. The hypervisor calls acknowledge() when it
// delivers the interrupt, then looks at output() again (another request may
// still be waiting: INT then stays high without a new change).
//
// All registers are byte-wide: attach the three port ranges (0x20-0x21,
// 0xa0-0xa1, 0x4d0-0x4d1) byte_wide; a wider access reaching pio_read or
// pio_write anyway is taken as consecutive byte accesses.
#pragma once

#include "lib/types.hpp"

namespace xeno::devices {

class DualPic {
public:
    using OutputChanged = void (*)(void* context, bool level);

    static constexpr u16 kMasterCommandPort = 0x20;
    static constexpr u16 kMasterDataPort = 0x21;
    static constexpr u16 kSlaveCommandPort = 0xa0;
    static constexpr u16 kSlaveDataPort = 0xa1;
    static constexpr u16 kElcrMasterPort = 0x4d0;
    static constexpr u16 kElcrSlavePort = 0x4d1;
    static constexpr u32 kCascadeIrq = 2;
    static constexpr u32 kIrqCount = 16;
    // ELCR bits that can be set: not IRQ 0, 1, 2 (master) nor 8, 13 (slave).
    static constexpr u8 kElcrMasterWritable = 0xf8;
    static constexpr u8 kElcrSlaveWritable = 0xde;
    // Index of a chip in the inspection calls.
    static constexpr u32 kMaster = 0;
    static constexpr u32 kSlave = 1;

    DualPic(OutputChanged changed, void* context);

    u32 pio_read(u16 port, u8 size);
    void pio_write(u16 port, u8 size, u32 value);

    // The level of ISA IRQ line `irq` (0-15). IRQ 2 and numbers past 15 are
    // ignored (see above).
    void set_irq(u32 irq, bool level);

    // The master's INT output to the processor.
    bool output() const { return output_; }
    bool has_interrupt() const { return output_; }

    // The processor's interrupt acknowledge cycle: the vector to deliver.
    u8 acknowledge();

    // Both chips and the ELCR back to the power-on state. Input line levels
    // are kept: they are wires driven by the devices, not PIC state.
    void reset();

    // Inspection (debugging, tests); chip is kMaster or kSlave.
    bool initialised(u32 chip) const { return chip_at(chip).initialised(); }
    u8 vector_base(u32 chip) const { return chip_at(chip).vector_base(); }

private:
    // One 8259A.
    class Chip {
    public:
        static constexpr u8 kNone = 0xff;  // no request

        explicit Chip(bool master) : master_(master) {}

        void power_on();
        void write_command(u8 value);  // A0 = 0: ICW1, OCW2, OCW3
        void write_data(u8 value);     // A0 = 1: ICW2-ICW4 in the sequence, else OCW1
        u8 read(bool a0);              // a pending poll, else IRR/ISR (A0 = 0) or IMR
        void set_input(unsigned ir, bool level);
        void set_elcr(u8 level_bits);
        u8 elcr() const { return elcr_; }

        // INT: a request that would interrupt now.
        bool int_output() const { return best_request() != kNone; }
        // INTA (or poll) on this chip: the winning level, now in service
        // (unless AEOI), or kNone.
        u8 take();
        u8 vector(unsigned ir) const { return static_cast<u8>(vector_base_ | ir); }
        // Whether ICW3 says a slave hangs on input `ir` (master, cascade mode).
        bool cascades(unsigned ir) const;
        u8 slave_id() const { return static_cast<u8>(icw3_ & 7); }
        bool initialised() const { return init_ == Init::Ready; }
        u8 vector_base() const { return vector_base_; }

    private:
        enum class Init : u8 { PowerOn, ExpectIcw2, ExpectIcw3, ExpectIcw4, Ready };

        void icw1(u8 value);
        void ocw2(u8 value);
        void ocw3(u8 value);
        void end_of_interrupt(u8 level, bool rotate);
        void non_specific_eoi(bool rotate);
        u8 level_mask() const { return ltim_ ? u8{0xff} : elcr_; }
        u8 highest(u8 bits) const;
        unsigned rank(unsigned ir) const { return (ir - lowest_priority_ - 1) & 7; }
        u8 best_request() const;

        bool master_;
        Init init_ = Init::PowerOn;
        u8 irr_ = 0, isr_ = 0, imr_ = 0;
        u8 lines_ = 0;  // current input levels (edge detection)
        u8 elcr_ = 0;
        u8 vector_base_ = 0;
        u8 icw3_ = 0;
        u8 lowest_priority_ = 7;
        bool ltim_ = false, single_ = false, expects_icw4_ = false;
        bool x86_mode_ = false, auto_eoi_ = false, buffered_ = false, buffered_master_ = false;
        bool special_fully_nested_ = false;
        bool rotate_in_auto_eoi_ = false, special_mask_ = false, read_isr_ = false, poll_ = false;
    };

    const Chip& chip_at(u32 chip) const { return chip == kSlave ? slave_ : master_; }
    u8 read_byte(u16 port);
    void write_byte(u16 port, u8 value);
    // Propagates the slave's INT to master IR2 and the master's INT to the
    // processor, telling the owner of a change.
    void update();

    OutputChanged changed_;
    void* context_;
    Chip master_{true};
    Chip slave_{false};
    bool output_ = false;
};

}  // namespace xeno::devices
