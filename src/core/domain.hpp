// A domain: one guest, its memory (p2m), its vcpus, its platform (the
// devices of a PC and the wiring between them), and how it ended.
//
// The platform (DESIGN.md "The platform a guest sees"): on the port bus a
// 16550 UART at 0x3f8 (IRQ 4), the debug exit port 0xf4, System Control
// Ports A (0x92) and B (0x61), the 8254 PIT (0x40-0x43, IRQ 0), the dual
// 8259A PIC (0x20/0x21, 0xa0/0xa1, ELCR 0x4d0/0x4d1), the MC146818 RTC and
// CMOS (0x70/0x71, IRQ 8), the i8042 keyboard controller (0x60/0x64, IRQ 1
// and 12) and the ACPI PM block (PM1a event/control and the PM timer at
// kAcpiPmBase, SCI on IRQ 9); on the MMIO bus the I/O APIC at 0xfec00000
// and each vcpu's local APIC at 0xfee00000; QEMU's fw_cfg at 0x510-0x51b
// (what the domain builder fills it with: boot/domain_builder.hpp) and the
// reset control register 0xcf9. ISA IRQ n reaches the 8259A
// input n and the I/O APIC pin n, except IRQ 0 which reaches pin 2 (the
// interrupt source override every PC firmware reports). The 8259A's output
// reaches the BSP through LINT0 (virtual-wire mode); the I/O APIC and the
// local APICs' ICRs deliver over the APIC bus; a local APIC's EOI of a
// level-triggered vector goes back to the I/O APIC.
//
// The domain lives on start()'s stack (no heap for itself), built in place
// and never copied; its vcpus come from the hypervisor heap.
#pragma once

#include "arch/x86/paging/shadow.hpp"
#include "boot/guest_layout.hpp"
#include "core/boot_info.hpp"
#include "core/cmdline.hpp"
#include "devices/acpi_pm.hpp"
#include "devices/apic_bus.hpp"
#include "devices/debug_exit.hpp"
#include "devices/fw_cfg.hpp"
#include "devices/i8042.hpp"
#include "devices/io_apic.hpp"
#include "devices/io_bus.hpp"
#include "devices/mmio_bus.hpp"
#include "devices/pic8259.hpp"
#include "devices/pit8254.hpp"
#include "devices/reset_control.hpp"
#include "devices/rtc_cmos.hpp"
#include "devices/system_control_a.hpp"
#include "devices/system_control_b.hpp"
#include "devices/timer_queue.hpp"
#include "devices/uart16550.hpp"
#include "lib/format.hpp"
#include "lib/status.hpp"
#include "mm/frame_allocator.hpp"
#include "mm/p2m.hpp"
#include "mm/reservation.hpp"
#include "xen/xen_domain.hpp"

namespace xeno {

class Vcpu;
class Scheduler;

inline constexpr u32 kMaxVcpus = 32;

// Status of a domain the hypervisor ended because of what its guest did
// (triple fault, an exit it cannot handle, ...): 255, the largest exit
// status a process can report. The end's kind (DomainEnd) says whether a
// status came from the guest: only EXIT_PORT and POWER_OFF ones do.
inline constexpr int kGuestCrashStatus = 255;

// Per-domain TSC offset: guest TSC = host TSC + 2^40, so a guest can check
// that offsetting is in effect (the cpuid-msr-tsc scenario does).
inline constexpr u64 kDefaultTscOffset = u64{1} << 40;

// How a domain ended.
enum class DomainEnd : u8 {
    RUNNING,
    EXIT_PORT,  // the guest wrote its status to the debug exit port
    POWER_OFF,  // the guest powered off (ACPI S5): status 0
    CRASHED,    // the hypervisor ended it for what its guest did (triple fault, an exit it cannot complete)
    HALTED,     // every vcpu halted (or waits for SIPI) and nothing can ever wake one
    RESET,      // the guest asked for a reset (on_reset=exit; with on_reset=restart the domain boots again)
};
const char* domain_end_name(DomainEnd end);  // "running", "exit", "poweroff", "crash", "halted", "reset"

class Domain {
public:
    static constexpr u16 kUartPort = 0x3f8;
    static constexpr u32 kUartIrq = 4;
    static constexpr u16 kAcpiPmBase = 0x600;
    static constexpr u32 kSciIrq = 9;
    static constexpr u64 kIoApicBase = 0xfec00000;
    static constexpr u64 kLocalApicBase = 0xfee00000;

    explicit Domain(const Options& options);
    Domain(const Domain&) = delete;
    Domain& operator=(const Domain&) = delete;

    // Guest RAM of `mem_bytes` (boot/guest_layout.hpp: above 3 GiB it
    // continues at 4 GiB), zeroed. NO_MEMORY (with a log line) when the
    // machine has too little.
    Status build_memory(mm::FrameAllocator& frames, u64 mem_bytes);
    // A flat image: module `image` copied to `load`. TOO_LARGE (with a log
    // line) when it does not fit in RAM.
    Status load_flat_image(const BootModule& image, Gpa load);
    // Bytes for the UART's receiver, arriving at its line rate from time 0
    // (a boot module the harness or the boot loader supplied; it must stay
    // where it is for the domain's life).
    void attach_serial_input(const u8* bytes, usize length);

    // End the domain (the first end wins). `why` is logged and kept.
    void end(DomainEnd kind, int status, const char* why);
    // The guest reset the machine (`why` names how: 0xcf9, port 0x92, the
    // i8042, INIT to the BSP, a triple fault): the domain ends as RESET, or,
    // with on_reset=restart, ends wanting to boot again (restart_requested).
    void reset(const char* why);
    bool restart_requested() const { return restart_requested_; }
    ResetAction on_reset() const { return on_reset_; }
    bool ended() const { return end_ != DomainEnd::RUNNING; }
    DomainEnd end_kind() const { return end_; }
    int exit_status() const { return exit_status_; }
    const char* end_reason() const { return end_reason_.c_str(); }

    mm::P2m& p2m() { return p2m_; }
    // The machine frames build_memory took the guest's RAM from, for what
    // the domain needs later (nullptr before).
    mm::FrameAllocator* frames() { return frames_; }
    const mm::P2m& p2m() const { return p2m_; }
    // Its reservation: frames held and allowed, balloon removals in flight.
    mm::Reservation& reservation() { return reservation_; }
    devices::IoBus& io() { return io_; }
    devices::MmioBus& mmio() { return mmio_; }
    devices::TimerQueue& timers() { return timers_; }
    devices::Uart16550& uart() { return uart_; }
    devices::DualPic& pic() { return pic_; }
    devices::IoApic& ioapic() { return ioapic_; }
    devices::ApicBus& apic_bus() { return apic_bus_; }
    devices::RtcCmos& rtc() { return rtc_; }
    devices::FwCfg& fw_cfg() { return fw_cfg_; }
    // The Xen interface the guest sees (docs/xen-abi.md).
    xen::XenDomain& xen() { return xen_; }
    // The RTC's time at machine-clock 0 (Unix seconds): Xen's wall clock too.
    u64 rtc_epoch() const { return rtc_epoch_; }
    // The console input attach_serial_input gave (the PV console reads it too).
    const u8* serial_input() const { return serial_input_; }
    usize serial_input_length() const { return serial_input_length_; }
    u64 mem_bytes() const { return layout_.ram_bytes; }
    const boot::GuestLayout& layout() const { return layout_; }
    u64 tsc_offset() const { return tsc_offset_; }
    void set_tsc_offset(u64 v) { tsc_offset_ = v; }
    const devices::GuestTsc& guest_tsc() const { return guest_tsc_; }
    // Shadow paging's page-table cache, shared by the vcpus; the EPT
    // pointer the vcpus share (0 until the first vcpu built the tables).
    paging::ShadowMmu& shadow() { return shadow_; }
    u64 eptp = 0;

    // The vcpus, in order: vcpu 0 is the BSP. planned_vcpus: how many the
    // domain will have (the command line's smp), known before they exist.
    u32 planned_vcpus() const { return planned_vcpus_; }
    Status add_vcpu(Vcpu& vcpu);
    u32 vcpu_count() const { return vcpu_count_; }
    Vcpu& vcpu(u32 index) { return *vcpus_[index]; }

    // Drive ISA interrupt line `irq` (0-15): the 8259A input and the I/O
    // APIC pin behind it.
    void set_isa_irq(u32 irq, bool level);
    devices::IrqLine isa_irq_line(u32 irq);

    // A local APIC or the 8259A may have something new for `vcpu`: its
    // physical CPU looks again (scheduler.hpp).
    void kick(u32 vcpu);

private:
    static void console_sink(void* context, const char* bytes, usize length);
    static void debug_exit(void* context, u32 status);
    static void reset_port92(void* context);
    static void reset_i8042(void* context);
    static void reset_cf9(void* context);
    static void sleep_request(void* context, u8 slp_typ);
    static void isa_irq(void* context, u32 line, bool level);
    static void pic_output(void* context, bool level);
    static void ioapic_deliver(void* context, const devices::ApicMessage& message);
    static u64 clock_now(void* context);
    static u64 tsc_to_ns(void* context, u64 guest_tsc);
    static u64 ns_to_tsc(void* context, u64 ns);
    static bool guest_read(void* context, u64 gpa, void* out, usize length);
    static bool guest_write(void* context, u64 gpa, const void* in, usize length);
    void attach_devices();

    mm::P2m p2m_;
    mm::FrameAllocator* frames_ = nullptr;
    mm::Reservation reservation_;
    paging::ShadowMmu shadow_;
    devices::TimerQueue timers_;
    devices::GuestTsc guest_tsc_;
    devices::IoBus io_;
    devices::MmioBus mmio_;
    devices::Uart16550 uart_;
    devices::DebugExit debug_exit_;
    devices::SystemControlA system_control_a_;
    devices::ResetControl reset_control_;
    devices::Pit8254 pit_;
    devices::SystemControlB system_control_b_;
    devices::DualPic pic_;
    devices::IoApic ioapic_;
    devices::ApicBus apic_bus_;
    devices::RtcCmos rtc_;
    devices::AcpiPm acpi_pm_;
    devices::I8042 i8042_;
    devices::FwCfg fw_cfg_;
    u64 rtc_epoch_ = 0;
    const u8* serial_input_ = nullptr;
    usize serial_input_length_ = 0;
    Vcpu* vcpus_[kMaxVcpus] = {};
    u32 vcpu_count_ = 0;
    u32 planned_vcpus_ = 1;
    boot::GuestLayout layout_;
    u64 tsc_offset_ = kDefaultTscOffset;
    DomainEnd end_ = DomainEnd::RUNNING;
    DebugExitStyle debug_exit_style_;
    ResetAction on_reset_;
    bool restart_requested_ = false;
    int exit_status_ = 0;
    FixedWriter<160> end_reason_;
    // Last: its destructor cancels its timers on timers_.
    xen::XenDomain xen_;
};

}  // namespace xeno
