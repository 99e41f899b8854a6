// The PC/AT keyboard controller (an Intel 8042 running IBM's firmware, PS/2
// variant) with a PS/2 keyboard behind it and no mouse. Ports: 0x60 data,
// 0x64 status (read) / command (write). Sources: the IBM PC AT Technical
// Reference (keyboard controller commands, ports), the PS/2 keyboard
// interface as described by A. Chapweske and the OSDev wiki.
//
// Status register (0x64 read): OBF (bit 0) output buffer full; IBF (1)
// always 0, every command completes at once; SYS (2) = command byte bit 2;
// A2 (3) last write went to 0x64; INH (4) 1 = keyboard not inhibited,
// always (no keylock); AUXB (5) the output buffer holds aux data; timeout
// (6) and parity error (7) always 0.
//
// Controller commands (0x64 write): 0x20-0x3f read byte n of the internal
// RAM (byte 0 is the command byte), 0x60-0x7f write it (next data byte);
// 0xa7/0xa8 disable/enable the aux interface, 0xa9 test it (0x00), 0xaa
// self-test (0x55), 0xab test the keyboard interface (0x00), 0xad/0xae
// disable/enable the keyboard interface, 0xc0 read the input port, 0xd0 read
// the output port, 0xd1 write it (next data byte), 0xd2/0xd3 place the next
// data byte in the output buffer as keyboard/aux data, 0xd4 send the next
// data byte to the aux device, 0xdd/0xdf A20 off/on, 0xf0-0xff pulse the
// output port lines whose bit is clear in the low nibble (bit 0 = CPU reset,
// so 0xfe resets). Other commands are ignored. A command written while an
// earlier one waits for its data byte replaces it.
//
// Keyboard commands (0x60 write when no controller command waits for data):
// 0xed LEDs + argument, 0xee echo, 0xf0 scan code set + argument (0 = report,
// 1-3 = select), 0xf2 identify (0xab 0x83), 0xf3 typematic + argument, 0xf4
// enable scanning, 0xf5 disable scanning and restore defaults, 0xf6 restore
// defaults, 0xfe resend the last byte, 0xff reset (0xfa 0xaa); every command
// but echo and resend is acknowledged with 0xfa, and unknown ones answered
// 0xfe. A command byte (0xed or above) given where an argument is expected
// aborts that command and runs, as keyboards do.
//
// Output: responses and keyboard bytes queue (16 deep; more are dropped)
// behind the one-byte output buffer and move into it one by one as the guest
// reads port 0x60; reading an empty buffer returns the last byte again.
// Controller command results queue like keyboard data (in order, AUXB clear,
// IRQ 1). IRQ 1 is high while the buffer holds keyboard data and command byte
// bit 0 is set, IRQ 12 likewise for aux data and bit 1: a read lowers the
// line and the next byte raises it again, a fresh edge for the PIC.
//
// Choices and limits:
//   - power-on command byte 0x40 (translation on, both interfaces enabled,
//     interrupts off, SYS clear: there is no BIOS to have passed POST). The
//     self-test leaves 0x44, the same with SYS set, and empties the output
//     queue; it does not touch the output port.
//   - scan code translation (command byte bit 6) is stored, not applied:
//     bytes pass untranslated (so identify reads 0xab 0x83 and a scan code
//     set report reads the set's number, as with translation off).
//   - no mouse: each byte sent to the aux device (0xd4) is answered 0xfe from
//     the aux side, what the controller reports for an absent device.
//   - keyboard commands are answered even while the keyboard interface is
//     disabled (command byte bit 4); key_input() bytes are dropped while the
//     interface is disabled or scanning is off.
//   - output port: bit 0 (CPU reset, active low) writes as a pulse: writing 0
//     calls the reset callback and the bit reads back 1. Bit 1 gates A20:
//     stored, reported through the A20 callback when it changes (Xeno's guest
//     memory never wraps, as with port 0x92). Bits 4/5 read as the IRQ 1/12
//     outputs; the rest read back as written (power-on 0xcf: A20 on, reset
//     line, clock and data lines high). Input port reads 0xa0 (keyboard not
//     inhibited, no manufacturing jumper).
#pragma once

#include "devices/irq.hpp"
#include "lib/types.hpp"

namespace xeno::devices {

class I8042 {
public:
    using ResetFn = void (*)(void* context);
    using A20Fn = void (*)(void* context, bool enabled);

    static constexpr u16 kDataPort = 0x60;
    static constexpr u16 kStatusPort = 0x64;

    // Status register.
    static constexpr u8 kStatusOutputFull = 1u << 0;
    static constexpr u8 kStatusInputFull = 1u << 1;
    static constexpr u8 kStatusSystem = 1u << 2;
    static constexpr u8 kStatusCommand = 1u << 3;
    static constexpr u8 kStatusNotInhibited = 1u << 4;
    static constexpr u8 kStatusAuxData = 1u << 5;
    static constexpr u8 kStatusTimeout = 1u << 6;
    static constexpr u8 kStatusParity = 1u << 7;

    // Command byte (RAM byte 0).
    static constexpr u8 kCmdKeyboardInterrupt = 1u << 0;
    static constexpr u8 kCmdAuxInterrupt = 1u << 1;
    static constexpr u8 kCmdSystem = 1u << 2;
    static constexpr u8 kCmdDisableKeyboard = 1u << 4;
    static constexpr u8 kCmdDisableAux = 1u << 5;
    static constexpr u8 kCmdTranslate = 1u << 6;
    static constexpr u8 kCommandBytePowerOn = kCmdTranslate;
    static constexpr u8 kCommandByteAfterSelfTest = kCmdTranslate | kCmdSystem;

    // Output port.
    static constexpr u8 kOutResetLine = 1u << 0;  // 0 holds the CPU in reset
    static constexpr u8 kOutA20 = 1u << 1;
    static constexpr u8 kOutKeyboardIrq = 1u << 4;
    static constexpr u8 kOutAuxIrq = 1u << 5;
    static constexpr u8 kOutputPortPowerOn = 0xcf;
    static constexpr u8 kInputPort = 0xa0;

    static constexpr u8 kSelfTestPassed = 0x55;
    static constexpr u8 kInterfaceTestPassed = 0x00;
    // Keyboard replies.
    static constexpr u8 kAck = 0xfa;
    static constexpr u8 kResend = 0xfe;
    static constexpr u8 kEcho = 0xee;
    static constexpr u8 kSelfTestOk = 0xaa;  // basic assurance test passed
    static constexpr u8 kTypematicDefault = 0x2b;  // 10.9 characters/s after 500 ms

    static constexpr usize kQueueDepth = 16;

    I8042(IrqLine irq1, IrqLine irq12, ResetFn on_reset, void* context)
        : irq1_(irq1), irq12_(irq12), reset_(on_reset), context_(context)
    {
    }

    void set_a20_callback(A20Fn on_a20, void* context)
    {
        a20_ = on_a20;
        a20_context_ = context;
    }

    u32 pio_read(u16 port, u8 size);
    void pio_write(u16 port, u8 size, u32 value);

    // A byte from the keyboard (a scan code, already in the form the guest
    // reads).
    void key_input(u8 byte);

    // The controller and keyboard back to power-on (IRQ lines lowered, A20
    // on; the A20 callback is told if that changes it).
    void reset();

    bool a20() const { return (output_port_ & kOutA20) != 0; }
    u8 status() const;
    u8 command_byte() const { return ram_[0]; }
    u8 leds() const { return leds_; }
    u8 scancode_set() const { return scancode_set_; }
    u8 typematic() const { return typematic_; }
    bool scanning() const { return scanning_; }
    u64 reset_requests() const { return reset_requests_; }

private:
    enum class Source : u8 { Keyboard, Aux };
    // What the next data byte written to port 0x60 is for.
    enum class Awaiting : u8 { Nothing, RamByte, OutputPort, KeyboardBuffer, AuxBuffer, AuxDevice };
    enum class Argument : u8 { None, Leds, ScancodeSet, Typematic };
    struct Entry {
        u8 byte = 0;
        Source source = Source::Keyboard;
    };

    u8 read_data();
    void controller_command(u8 command);
    void controller_data(u8 value);
    void keyboard_write(u8 value);
    void keyboard_command(u8 command);
    void keyboard_argument(u8 value);
    void keyboard_defaults();
    void keyboard_send(u8 byte);
    void push(u8 byte, Source source);
    void clear_output();
    void fill_output_buffer();
    void update_irqs();
    void write_output_port(u8 value);
    u8 read_output_port() const;
    void set_a20(bool on);
    void request_reset();

    IrqLine irq1_;
    IrqLine irq12_;
    ResetFn reset_;
    void* context_;
    A20Fn a20_ = nullptr;
    void* a20_context_ = nullptr;

    // Controller.
    u8 ram_[32] = {kCommandBytePowerOn};
    u8 output_port_ = kOutputPortPowerOn;
    bool last_write_command_ = false;  // status A2
    Awaiting awaiting_ = Awaiting::Nothing;
    u8 ram_index_ = 0;
    u8 output_byte_ = 0;
    bool output_full_ = false;
    bool output_aux_ = false;
    Entry queue_[kQueueDepth] = {};
    usize queue_head_ = 0, queue_count_ = 0;
    bool irq1_level_ = false, irq12_level_ = false;
    u64 reset_requests_ = 0;

    // Keyboard.
    Argument argument_ = Argument::None;
    bool scanning_ = true;
    u8 scancode_set_ = 2;
    u8 leds_ = 0;
    u8 typematic_ = kTypematicDefault;
    u8 last_sent_ = 0;  // for the resend command
};

}  // namespace xeno::devices
