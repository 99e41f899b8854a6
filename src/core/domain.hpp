// A domain: one guest, its memory (p2m), its devices, and how it ended.
//
// One HVM domain for now: guest RAM from machine frames, module 0 copied to
// guest_load, a 16550 UART at 0x3f8 writing to the GUEST_CONSOLE channel,
// the debug exit port at 0xf4 and System Control Port A (A20) at 0x92. The
// domain lives on start()'s stack (no heap), so it is built in place and
// never copied.
#pragma once

#include "core/boot_info.hpp"
#include "core/cmdline.hpp"
#include "devices/debug_exit.hpp"
#include "devices/io_bus.hpp"
#include "devices/system_control_a.hpp"
#include "devices/uart16550.hpp"
#include "lib/status.hpp"
#include "mm/frame_allocator.hpp"
#include "mm/p2m.hpp"

namespace xeno {

// Status of a domain the hypervisor ended because of what its guest did
// (triple fault, halt with no interrupt source, an exit it cannot handle):
// 255, the largest exit status a process can report (the harness passes the
// status through as its own). A guest may also write 255 to the debug exit
// port; the LOG channel says which it was ("domain: ended with status 255: ...").
inline constexpr int kGuestCrashStatus = 255;

// Per-domain TSC offset: guest TSC = host TSC + 2^40, so a guest can check
// that offsetting is in effect (the cpuid-msr-tsc scenario does).
inline constexpr u64 kDefaultTscOffset = u64{1} << 40;

class Domain {
public:
    static constexpr u16 kUartPort = 0x3f8;

    Domain();
    Domain(const Domain&) = delete;
    Domain& operator=(const Domain&) = delete;

    // Guest RAM of `mem_bytes`, module `image` copied to `load`. TOO_LARGE
    // (with a log line) when the image does not fit.
    Status build(mm::FrameAllocator& frames, u64 mem_bytes, const BootModule& image, Gpa load);

    // End the domain (the first reason wins). `why` is logged.
    void end(int status, const char* why);
    bool ended() const { return ended_; }
    int exit_status() const { return exit_status_; }

    mm::P2m& p2m() { return p2m_; }
    const mm::P2m& p2m() const { return p2m_; }
    devices::IoBus& io() { return io_; }
    devices::Uart16550& uart() { return uart_; }
    u64 mem_bytes() const { return mem_bytes_; }
    u64 tsc_offset() const { return tsc_offset_; }
    void set_tsc_offset(u64 v) { tsc_offset_ = v; }

private:
    static void console_sink(void* context, const char* bytes, usize length);
    static void debug_exit(void* context, u32 status);
    static void reset_request(void* context);

    mm::P2m p2m_;
    devices::IoBus io_;
    devices::Uart16550 uart_;
    devices::DebugExit debug_exit_;
    devices::SystemControlA system_control_a_;
    u64 mem_bytes_ = 0;
    u64 tsc_offset_ = kDefaultTscOffset;
    bool ended_ = false;
    int exit_status_ = 0;
};

}  // namespace xeno
