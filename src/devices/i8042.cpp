#include "devices/i8042.hpp"

namespace xeno::devices {

namespace {

// Controller commands (port 0x64), IBM PC AT Technical Reference.
constexpr u8 kReadRamFirst = 0x20;  // 0x20 reads the command byte
constexpr u8 kReadRamLast = 0x3f;
constexpr u8 kWriteRamFirst = 0x60;  // 0x60 writes the command byte
constexpr u8 kWriteRamLast = 0x7f;
constexpr u8 kDisableAux = 0xa7;
constexpr u8 kEnableAux = 0xa8;
constexpr u8 kTestAux = 0xa9;
constexpr u8 kSelfTest = 0xaa;
constexpr u8 kTestKeyboard = 0xab;
constexpr u8 kDisableKeyboard = 0xad;
constexpr u8 kEnableKeyboard = 0xae;
constexpr u8 kReadInputPort = 0xc0;
constexpr u8 kReadOutputPort = 0xd0;
constexpr u8 kWriteOutputPort = 0xd1;
constexpr u8 kWriteKeyboardBuffer = 0xd2;
constexpr u8 kWriteAuxBuffer = 0xd3;
constexpr u8 kWriteAuxDevice = 0xd4;
constexpr u8 kA20Off = 0xdd;
constexpr u8 kA20On = 0xdf;
constexpr u8 kPulseFirst = 0xf0;

// Keyboard commands (port 0x60).
constexpr u8 kKbdSetLeds = 0xed;
constexpr u8 kKbdEcho = 0xee;
constexpr u8 kKbdScancodeSet = 0xf0;
constexpr u8 kKbdIdentify = 0xf2;
constexpr u8 kKbdTypematic = 0xf3;
constexpr u8 kKbdEnable = 0xf4;
constexpr u8 kKbdDisable = 0xf5;
constexpr u8 kKbdDefaults = 0xf6;
constexpr u8 kKbdResend = 0xfe;
constexpr u8 kKbdReset = 0xff;
constexpr u8 kKbdFirstCommand = kKbdSetLeds;  // bytes below are arguments
// Identify: an MF2 keyboard.
constexpr u8 kKbdId0 = 0xab;
constexpr u8 kKbdId1 = 0x83;

}  // namespace

// ---------------------------------------------------------------------------
// Output buffer and interrupts

u8 I8042::status() const
{
    u8 s = kStatusNotInhibited;
    if (output_full_) s |= kStatusOutputFull;
    if (output_full_ && output_aux_) s |= kStatusAuxData;
    if (ram_[0] & kCmdSystem) s |= kStatusSystem;
    if (last_write_command_) s |= kStatusCommand;
    return s;
}

void I8042::update_irqs()
{
    const bool kbd = output_full_ && !output_aux_ && (ram_[0] & kCmdKeyboardInterrupt);
    const bool aux = output_full_ && output_aux_ && (ram_[0] & kCmdAuxInterrupt);
    if (kbd != irq1_level_) {
        irq1_level_ = kbd;
        irq1_.set_level(kbd);
    }
    if (aux != irq12_level_) {
        irq12_level_ = aux;
        irq12_.set_level(aux);
    }
}

void I8042::fill_output_buffer()
{
    if (output_full_ || queue_count_ == 0) return;
    const Entry& e = queue_[queue_head_];
    output_byte_ = e.byte;
    output_aux_ = e.source == Source::Aux;
    output_full_ = true;
    queue_head_ = (queue_head_ + 1) % kQueueDepth;
    --queue_count_;
}

void I8042::push(u8 byte, Source source)
{
    if (queue_count_ == kQueueDepth) return;  // overrun: the byte is lost
    Entry& e = queue_[(queue_head_ + queue_count_) % kQueueDepth];
    e.byte = byte;
    e.source = source;
    ++queue_count_;
    fill_output_buffer();
    update_irqs();
}

void I8042::clear_output()
{
    queue_head_ = queue_count_ = 0;
    output_full_ = false;
    output_aux_ = false;
    update_irqs();
}

u8 I8042::read_data()
{
    const u8 value = output_byte_;  // an empty buffer reads its last byte again
    if (output_full_) {
        output_full_ = false;
        update_irqs();  // the byte is taken: the line drops ...
        fill_output_buffer();
        update_irqs();  // ... and rises again for the next one
    }
    return value;
}

// ---------------------------------------------------------------------------
// Output port

u8 I8042::read_output_port() const
{
    u8 value = static_cast<u8>(output_port_ & ~(kOutKeyboardIrq | kOutAuxIrq));
    if (irq1_level_) value |= kOutKeyboardIrq;
    if (irq12_level_) value |= kOutAuxIrq;
    return value;
}

void I8042::set_a20(bool on)
{
    if (on == a20()) return;
    output_port_ = static_cast<u8>(on ? (output_port_ | kOutA20) : (output_port_ & ~kOutA20));
    if (a20_) a20_(a20_context_, on);
}

void I8042::request_reset()
{
    ++reset_requests_;
    if (reset_) reset_(context_);
}

void I8042::write_output_port(u8 value)
{
    // Bits 4/5 are driven by the buffer state; the reset line reads back
    // high (the reset is taken as a pulse).
    const u8 kept = kOutKeyboardIrq | kOutAuxIrq | kOutA20;
    output_port_ = static_cast<u8>((output_port_ & kept) | (value & ~kept) | kOutResetLine);
    set_a20((value & kOutA20) != 0);
    if (!(value & kOutResetLine)) request_reset();
}

// ---------------------------------------------------------------------------
// Controller commands

void I8042::controller_command(u8 command)
{
    awaiting_ = Awaiting::Nothing;  // a new command replaces one waiting for data
    if (command >= kReadRamFirst && command <= kReadRamLast) {
        push(ram_[command & 0x1f], Source::Keyboard);
        return;
    }
    if (command >= kWriteRamFirst && command <= kWriteRamLast) {
        ram_index_ = static_cast<u8>(command & 0x1f);
        awaiting_ = Awaiting::RamByte;
        return;
    }
    if (command >= kPulseFirst) {
        // Pulse low the output port lines whose bit is 0 in the low nibble.
        // Only bit 0, the CPU reset, leaves a mark; A20 comes back as it was.
        if (!(command & kOutResetLine)) request_reset();
        return;
    }
    switch (command) {
    case kDisableAux: ram_[0] |= kCmdDisableAux; break;
    case kEnableAux: ram_[0] = static_cast<u8>(ram_[0] & ~kCmdDisableAux); break;
    case kTestAux: push(kInterfaceTestPassed, Source::Keyboard); break;
    case kSelfTest:
        // The controller restarts its firmware: pending output is lost, the
        // command byte takes its post-test value (SYS set), 0x55 reports
        // success.
        clear_output();
        ram_[0] = kCommandByteAfterSelfTest;
        push(kSelfTestPassed, Source::Keyboard);
        break;
    case kTestKeyboard: push(kInterfaceTestPassed, Source::Keyboard); break;
    case kDisableKeyboard: ram_[0] |= kCmdDisableKeyboard; break;
    case kEnableKeyboard: ram_[0] = static_cast<u8>(ram_[0] & ~kCmdDisableKeyboard); break;
    case kReadInputPort: push(kInputPort, Source::Keyboard); break;
    case kReadOutputPort: push(read_output_port(), Source::Keyboard); break;
    case kWriteOutputPort: awaiting_ = Awaiting::OutputPort; break;
    case kWriteKeyboardBuffer: awaiting_ = Awaiting::KeyboardBuffer; break;
    case kWriteAuxBuffer: awaiting_ = Awaiting::AuxBuffer; break;
    case kWriteAuxDevice: awaiting_ = Awaiting::AuxDevice; break;
    case kA20Off: set_a20(false); break;
    case kA20On: set_a20(true); break;
    default: break;  // not a command this controller knows: ignored
    }
    update_irqs();  // the command byte may have changed
}

void I8042::controller_data(u8 value)
{
    const Awaiting what = awaiting_;
    awaiting_ = Awaiting::Nothing;
    switch (what) {
    case Awaiting::RamByte:
        ram_[ram_index_] = value;
        update_irqs();  // interrupt enables may have changed
        break;
    case Awaiting::OutputPort: write_output_port(value); break;
    case Awaiting::KeyboardBuffer: push(value, Source::Keyboard); break;
    case Awaiting::AuxBuffer: push(value, Source::Aux); break;
    case Awaiting::AuxDevice: push(kResend, Source::Aux); break;  // no mouse
    case Awaiting::Nothing: break;
    }
}

// ---------------------------------------------------------------------------
// The keyboard

void I8042::keyboard_send(u8 byte)
{
    // Resend repeats the last byte other than a resend request itself.
    if (byte != kResend) last_sent_ = byte;
    push(byte, Source::Keyboard);
}

void I8042::keyboard_defaults()
{
    scancode_set_ = 2;
    typematic_ = kTypematicDefault;
}

void I8042::keyboard_argument(u8 value)
{
    const Argument what = argument_;
    argument_ = Argument::None;
    switch (what) {
    case Argument::Leds:
        leds_ = static_cast<u8>(value & 7);  // scroll, num, caps lock
        keyboard_send(kAck);
        break;
    case Argument::Typematic:
        typematic_ = static_cast<u8>(value & 0x7f);  // bit 7 must be 0
        keyboard_send(kAck);
        break;
    case Argument::ScancodeSet:
        if (value == 0) {
            keyboard_send(kAck);
            keyboard_send(scancode_set_);
        } else if (value <= 3) {
            scancode_set_ = value;
            keyboard_send(kAck);
        } else {
            keyboard_send(kResend);  // no such set
        }
        break;
    case Argument::None: break;
    }
}

void I8042::keyboard_command(u8 command)
{
    argument_ = Argument::None;
    switch (command) {
    case kKbdSetLeds:
        keyboard_send(kAck);
        argument_ = Argument::Leds;
        break;
    case kKbdEcho: keyboard_send(kEcho); break;
    case kKbdScancodeSet:
        keyboard_send(kAck);
        argument_ = Argument::ScancodeSet;
        break;
    case kKbdIdentify:
        keyboard_send(kAck);
        keyboard_send(kKbdId0);
        keyboard_send(kKbdId1);
        break;
    case kKbdTypematic:
        keyboard_send(kAck);
        argument_ = Argument::Typematic;
        break;
    case kKbdEnable:
        scanning_ = true;
        keyboard_send(kAck);
        break;
    case kKbdDisable:
        keyboard_defaults();
        scanning_ = false;
        keyboard_send(kAck);
        break;
    case kKbdDefaults:
        keyboard_defaults();
        keyboard_send(kAck);
        break;
    case kKbdResend: push(last_sent_, Source::Keyboard); break;
    case kKbdReset:
        keyboard_defaults();
        leds_ = 0;
        scanning_ = true;
        keyboard_send(kAck);
        keyboard_send(kSelfTestOk);
        break;
    default: keyboard_send(kResend); break;
    }
}

void I8042::keyboard_write(u8 value)
{
    if (argument_ != Argument::None && value < kKbdFirstCommand) {
        keyboard_argument(value);
    } else {
        keyboard_command(value);
    }
}

void I8042::key_input(u8 byte)
{
    if (!scanning_ || (ram_[0] & kCmdDisableKeyboard)) return;
    keyboard_send(byte);
}

// ---------------------------------------------------------------------------
// Ports

u32 I8042::pio_read(u16 port, u8 /*size*/)
{
    switch (port) {
    case kDataPort: return read_data();
    case kStatusPort: return status();
    default: return 0xff;
    }
}

void I8042::pio_write(u16 port, u8 /*size*/, u32 value)
{
    const u8 byte = static_cast<u8>(value);
    switch (port) {
    case kDataPort:
        last_write_command_ = false;
        if (awaiting_ != Awaiting::Nothing) {
            controller_data(byte);
        } else {
            keyboard_write(byte);
        }
        break;
    case kStatusPort:
        last_write_command_ = true;
        controller_command(byte);
        break;
    default: break;
    }
}

void I8042::reset()
{
    for (u8& b : ram_) b = 0;
    ram_[0] = kCommandBytePowerOn;
    last_write_command_ = false;
    awaiting_ = Awaiting::Nothing;
    ram_index_ = 0;
    output_byte_ = 0;
    clear_output();  // lowers IRQ 1 and 12
    argument_ = Argument::None;
    scanning_ = true;
    leds_ = 0;
    last_sent_ = 0;
    keyboard_defaults();
    const bool a20_on = (kOutputPortPowerOn & kOutA20) != 0;
    output_port_ = static_cast<u8>((kOutputPortPowerOn & ~kOutA20) | (output_port_ & kOutA20));
    set_a20(a20_on);
}

}  // namespace xeno::devices
