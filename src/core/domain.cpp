#include "core/domain.hpp"

#include "core/log.hpp"
#include "core/scheduler.hpp"
#include "core/vcpu.hpp"
#include "hal/console.hpp"
#include "hal/memory.hpp"
#include "hal/cpu.hpp"
#include "hal/timer.hpp"

namespace xeno {

const char* domain_end_name(DomainEnd end)
{
    switch (end) {
    case DomainEnd::RUNNING: return "running";
    case DomainEnd::EXIT_PORT: return "exit";
    case DomainEnd::POWER_OFF: return "poweroff";
    case DomainEnd::CRASHED: return "crash";
    case DomainEnd::HALTED: return "halted";
    case DomainEnd::RESET: return "reset";
    }
    return "?";
}

Domain::Domain(const Options& options)
    : timers_(&Domain::clock_now, this),
      uart_(kUartPort, &Domain::console_sink, this),
      debug_exit_(&Domain::debug_exit, this),
      system_control_a_(&Domain::reset_port92, this),
      reset_control_(&Domain::reset_cf9, this),
      pit_(timers_, isa_irq_line(0)),
      system_control_b_(pit_, timers_),
      pic_(&Domain::pic_output, this),
      ioapic_(0, &Domain::ioapic_deliver, this),
      rtc_(timers_, isa_irq_line(8), options.rtc_epoch),
      acpi_pm_(timers_, isa_irq_line(kSciIrq), kAcpiPmBase),
      i8042_(isa_irq_line(1), isa_irq_line(12), &Domain::reset_i8042, this),
      fw_cfg_(devices::GuestMemoryAccess{this, &Domain::guest_read, &Domain::guest_write}),
      rtc_epoch_(options.rtc_epoch),
      debug_exit_style_(options.debug_exit),
      on_reset_(options.on_reset),
      xen_(*this)
{
    planned_vcpus_ = options.smp;
    guest_tsc_.to_ns = &Domain::tsc_to_ns;
    guest_tsc_.from_ns = &Domain::ns_to_tsc;
    guest_tsc_.context = this;
    uart_.set_irq(isa_irq_line(kUartIrq));
    uart_.set_timers(timers_);
    acpi_pm_.set_sleep_handler(&Domain::sleep_request, this);
    attach_devices();
}

void Domain::attach_devices()
{
    // Fixed, distinct ranges on empty buses: cannot fail.
    (void)io_.attach(kUartPort, kUartPort + 7, devices::port_device(uart_), true);
    (void)io_.attach(devices::DebugExit::kDefaultPort, devices::DebugExit::kDefaultPort,
                     devices::port_device(debug_exit_), false);
    (void)io_.attach(devices::SystemControlA::kPort, devices::SystemControlA::kPort,
                     devices::port_device(system_control_a_), true);
    (void)io_.attach(0x40, 0x43, devices::port_device(pit_), true);
    (void)io_.attach(0x61, 0x61, devices::port_device(system_control_b_), true);
    (void)io_.attach(0x20, 0x21, devices::port_device(pic_), true);
    (void)io_.attach(0xa0, 0xa1, devices::port_device(pic_), true);
    (void)io_.attach(0x4d0, 0x4d1, devices::port_device(pic_), true);
    (void)io_.attach(0x70, 0x71, devices::port_device(rtc_), true);
    (void)io_.attach(0x60, 0x60, devices::port_device(i8042_), true);
    (void)io_.attach(0x64, 0x64, devices::port_device(i8042_), true);
    (void)io_.attach(kAcpiPmBase, kAcpiPmBase + 11, devices::port_device(acpi_pm_), false);
    (void)io_.attach(devices::FwCfg::kFirstPort, devices::FwCfg::kLastPort, devices::port_device(fw_cfg_), false);
    (void)io_.attach(devices::ResetControl::kPort, devices::ResetControl::kPort, devices::port_device(reset_control_),
                     false);
    (void)mmio_.attach(kIoApicBase, 0x1000, devices::mmio_device(ioapic_));
}

// ---- the machine clock, the guest's TSC ----

u64 Domain::clock_now(void*) { return hal::time_ns(); }

u64 Domain::tsc_to_ns(void* context, u64 guest_tsc)
{
    // A guest TSC below the offset was before the machine clock started.
    const Domain& d = *static_cast<Domain*>(context);
    return guest_tsc <= d.tsc_offset_ ? 0 : hal::time_at_tsc(guest_tsc - d.tsc_offset_);
}

u64 Domain::ns_to_tsc(void* context, u64 ns)
{
    const Domain& d = *static_cast<Domain*>(context);
    return hal::tsc_at(ns) + d.tsc_offset_;
}

// Guest RAM for fw_cfg's DMA: all of it or nothing (the p2m refuses a range
// with any byte outside RAM before it copies).
bool Domain::guest_read(void* context, u64 gpa, void* out, usize length)
{
    return static_cast<Domain*>(context)->p2m_.copy_from_guest(out, Gpa{gpa}, length) == Status::OK;
}

bool Domain::guest_write(void* context, u64 gpa, const void* in, usize length)
{
    return static_cast<Domain*>(context)->p2m_.copy_to_guest(Gpa{gpa}, in, length, &hal::machine_memory_written) ==
           Status::OK;
}

// ---- interrupt wiring ----

devices::IrqLine Domain::isa_irq_line(u32 irq)
{
    devices::IrqLine l;
    l.set = &Domain::isa_irq;
    l.context = this;
    l.line = irq;
    return l;
}

void Domain::isa_irq(void* context, u32 line, bool level)
{
    static_cast<Domain*>(context)->set_isa_irq(line, level);
}

void Domain::set_isa_irq(u32 irq, bool level)
{
    if (irq >= 16) return;
    pic_.set_irq(irq, level);
    ioapic_.set_irq(irq == 0 ? 2 : irq, level);
}

void Domain::pic_output(void* context, bool level)
{
    // The 8259A's INT is wired to the BSP's LINT0 (virtual-wire mode; the
    // INTR pin itself with the local APIC disabled): the APIC then reports an
    // ExtINT, and the injection code runs the INTA cycle on the PIC for the
    // vector (interrupt_injection.cpp).
    Domain& d = *static_cast<Domain*>(context);
    if (d.vcpu_count_ > 0) d.vcpus_[0]->lapic().set_lint(0, level);
}

void Domain::ioapic_deliver(void* context, const devices::ApicMessage& message)
{
    static_cast<Domain*>(context)->apic_bus_.deliver(-1, message);
}

void Domain::kick(u32 vcpu)
{
    if (vcpu < vcpu_count_ && vcpus_[vcpu]->scheduler) vcpus_[vcpu]->scheduler->kick();
}

Status Domain::add_vcpu(Vcpu& vcpu)
{
    if (vcpu_count_ == kMaxVcpus) return Status::TOO_LARGE;
    vcpus_[vcpu_count_++] = &vcpu;
    if (vcpu_count_ == 1) {
        // One page for every vcpu: the APIC bus hands each access to the
        // APIC of the vcpu that made it (open bus outside xAPIC mode).
        XENO_TRY(mmio_.attach(kLocalApicBase, 0x1000, devices::mmio_device(apic_bus_)));
    }
    return apic_bus_.attach(vcpu.lapic());
}

// ---- devices that end the domain ----

void Domain::console_sink(void*, const char* bytes, usize length)
{
    hal::console_write(hal::Channel::GUEST_CONSOLE, bytes, length);
}

void Domain::debug_exit(void* context, u32 value)
{
    Domain& d = *static_cast<Domain*>(context);
    FixedWriter<96> why;
    why.str("the guest wrote ").dec(value).str(" to the debug exit port");
    u32 status = value & 0x7fffffff;
    if (d.debug_exit_style_ == DebugExitStyle::QEMU) {
        // QEMU's isa-debug-exit: the process exits with (value << 1) | 1.
        status = ((value << 1) | 1) & 0x7fffffff;
        why.str(" (QEMU style: status ").dec(status).ch(')');
    }
    d.end(DomainEnd::EXIT_PORT, static_cast<int>(status), why.c_str());
}

void Domain::reset_port92(void* context)
{
    static_cast<Domain*>(context)->reset("the guest reset the machine through port 0x92 (fast reset)");
}

void Domain::reset_i8042(void* context)
{
    static_cast<Domain*>(context)->reset("the guest reset the machine through the i8042 (command 0xfe)");
}

void Domain::reset_cf9(void* context)
{
    static_cast<Domain*>(context)->reset("the guest reset the machine through the reset control register 0xcf9");
}

void Domain::reset(const char* why)
{
    if (ended()) return;
    if (on_reset_ == ResetAction::RESTART) {
        restart_requested_ = true;
        FixedWriter<160> w;
        w.str(why).str(": restarting");
        end(DomainEnd::RESET, kGuestCrashStatus, w.c_str());
        return;
    }
    end(DomainEnd::RESET, kGuestCrashStatus, why);
}

void Domain::sleep_request(void* context, u8 slp_typ)
{
    Domain& d = *static_cast<Domain*>(context);
    if (slp_typ == devices::AcpiPm::kSlpTypS5) {
        d.end(DomainEnd::POWER_OFF, 0, "guest powered off");
        return;
    }
    FixedWriter<96> why;
    why.str("the guest entered ACPI sleep type ").dec(slp_typ).str(", which the platform does not have");
    d.end(DomainEnd::CRASHED, kGuestCrashStatus, why.c_str());
}

void Domain::end(DomainEnd kind, int status, const char* why)
{
    if (ended() || kind == DomainEnd::RUNNING) return;
    end_ = kind;
    exit_status_ = status;
    end_reason_.clear();
    end_reason_.str(why);
    LogLine{}.str("domain: ended (").str(domain_end_name(kind)).str(") with status ").sdec(status).str(": ").str(why);
    // The physical CPUs running its other vcpus stop too.
    for (u32 i = 0; i < vcpu_count_; ++i)
        if (vcpus_[i]->scheduler) vcpus_[i]->scheduler->kick();
}

void Domain::attach_serial_input(const u8* bytes, usize length)
{
    uart_.set_input(bytes, length, timers_);
    serial_input_ = bytes;
    serial_input_length_ = length;
    LogLine{}.str("domain: ").dec(length).str(" bytes of serial input for the UART");
}

Status Domain::build_memory(mm::FrameAllocator& frames, u64 mem_bytes)
{
    layout_ = boot::guest_layout(mem_bytes);
    frames_ = &frames;
    const u64 guest_frames = mem_bytes >> kPageShift;
    if (frames.free_frames() < guest_frames + 64) {
        LogLine{}.str("domain: ").dec(mem_bytes >> 20).str(" MiB of guest RAM needs ").dec(guest_frames)
            .str(" frames, only ").dec(frames.free_frames()).str(" free");
        return Status::NO_MEMORY;
    }
    Status s = p2m_.init(frames, layout_.frame_span(), &hal::machine_to_virt);
    if (s == Status::OK) s = p2m_.populate_range(frames, 0, layout_.low_end >> kPageShift);
    if (s == Status::OK && layout_.high_end)
        s = p2m_.populate_range(frames, boot::k4GiB >> kPageShift, (layout_.high_end - boot::k4GiB) >> kPageShift,
                                true);
    if (s != Status::OK) {
        LogLine{}.str("domain: cannot allocate guest RAM: ").str(status_name(s));
        return s;
    }
    rtc_.set_memory_size(mem_bytes);
    reservation_.populated = reservation_.maximum = guest_frames;
    LogLine line;
    line.str("domain: ").dec(mem_bytes >> 20).str(" MiB guest RAM");
    if (layout_.high_end) line.str(" (").dec((layout_.high_end - boot::k4GiB) >> 20).str(" MiB of it above 4 GiB)");
    return Status::OK;
}

Status Domain::load_flat_image(const BootModule& image, Gpa load)
{
    if (image.size > layout_.low_end || load.value() > layout_.low_end - image.size) {
        LogLine{}.str("domain: guest image of ").dec(image.size).str(" bytes at ").hex(load.value())
            .str(" does not fit in ").dec(layout_.low_end >> 20).str(" MiB of guest RAM");
        return Status::TOO_LARGE;
    }
    const Status s =
        p2m_.copy_to_guest(load, hal::machine_to_virt(image.start), image.size, &hal::machine_memory_written);
    if (s != Status::OK) {
        LogLine{}.str("domain: copying the guest image failed: ").str(status_name(s));
        return s;
    }
    LogLine{}.str("domain: image ").dec(image.size).str(" bytes at ").hex(load.value());
    return Status::OK;
}

}  // namespace xeno
