#include "core/domain.hpp"

#include "core/log.hpp"
#include "hal/console.hpp"
#include "hal/memory.hpp"

namespace xeno {

Domain::Domain() : uart_(kUartPort, &Domain::console_sink, this), debug_exit_(&Domain::debug_exit, this),
      system_control_a_(&Domain::reset_request, this)
{
    // Fixed, distinct ranges on an empty bus: cannot fail.
    (void)io_.attach(kUartPort, kUartPort + 7, devices::port_device(uart_), true);
    (void)io_.attach(devices::DebugExit::kDefaultPort, devices::DebugExit::kDefaultPort,
                     devices::port_device(debug_exit_), false);
    (void)io_.attach(devices::SystemControlA::kPort, devices::SystemControlA::kPort,
                     devices::port_device(system_control_a_), true);
}

void Domain::reset_request(void* context)
{
    static_cast<Domain*>(context)->end(kGuestCrashStatus, "guest requested a reset through port 0x92 (not supported yet)");
}

void Domain::console_sink(void*, const char* bytes, usize length)
{
    hal::console_write(hal::Channel::GUEST_CONSOLE, bytes, length);
}

void Domain::debug_exit(void* context, u32 status)
{
    Domain& d = *static_cast<Domain*>(context);
    if (d.ended_) return;
    d.ended_ = true;
    d.exit_status_ = static_cast<int>(status & 0x7fffffff);
    LogLine{}.str("domain: guest wrote ").dec(status).str(" to the debug exit port");
}

void Domain::end(int status, const char* why)
{
    if (ended_) return;
    ended_ = true;
    exit_status_ = status;
    LogLine{}.str("domain: ended with status ").sdec(status).str(": ").str(why);
}

Status Domain::build(mm::FrameAllocator& frames, u64 mem_bytes, const BootModule& image, Gpa load)
{
    mem_bytes_ = mem_bytes;
    const u64 guest_frames = mem_bytes >> kPageShift;
    if (image.size > mem_bytes || load.value() > mem_bytes - image.size) {
        LogLine{}.str("domain: guest image of ").dec(image.size).str(" bytes at ").hex(load.value())
            .str(" does not fit in ").dec(mem_bytes >> 20).str(" MiB of guest RAM");
        return Status::TOO_LARGE;
    }
    if (frames.free_frames() < guest_frames + 64) {
        LogLine{}.str("domain: ").dec(mem_bytes >> 20).str(" MiB of guest RAM needs ").dec(guest_frames)
            .str(" frames, only ").dec(frames.free_frames()).str(" free");
        return Status::NO_MEMORY;
    }
    Status s = p2m_.init(frames, guest_frames, &hal::machine_to_virt);
    if (s == Status::OK) s = p2m_.populate(frames);
    if (s != Status::OK) {
        LogLine{}.str("domain: cannot allocate guest RAM: ").str(status_name(s));
        return s;
    }
    s = p2m_.copy_to_guest(load, hal::machine_to_virt(image.start), image.size, &hal::machine_memory_written);
    if (s != Status::OK) {
        LogLine{}.str("domain: copying the guest image failed: ").str(status_name(s));
        return s;
    }
    LogLine{}.str("domain: ").dec(mem_bytes >> 20).str(" MiB guest RAM, image ").dec(image.size)
        .str(" bytes at ").hex(load.value());
    return Status::OK;
}

}  // namespace xeno
