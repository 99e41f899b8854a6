// hw_main: where boot.S lands in the high half with a stack and a zeroed
// .bss. Brings up the console, descriptor tables, C++ runtime and time,
// turns the multiboot2 information into BootInfo, runs the hypervisor's
// start routine (or, given a module "xeno-batch", each domain of the batch
// through it: batch.cpp) and powers the machine off with its status:
//   xeno: exit status <n>
#include "core/boot_info.hpp"
#include "hal/hw/hw.hpp"
#include "hal/hw/layout.h"
#include "hal/panic.hpp"
#include "lib/format.hpp"

namespace xeno::hw {
namespace {

BootInfo g_boot;

void log_boot_info(const BootInfo& boot)
{
    FixedWriter<160> w;
    w.str("hw: cmdline \"").str(boot.cmdline).str("\"\n");
    log_str(w.c_str());
    for (usize i = 0; i < boot.region_count; ++i) {
        const MemoryRegion& r = boot.regions[i];
        w.clear();
        w.str("hw: memory ").hex_digits(r.base, 12).str("-").hex_digits(r.base + r.length, 12)
            .str(r.type == MemoryRegion::Type::USABLE ? " usable\n" : " reserved\n");
        log_str(w.c_str());
    }
    for (usize i = 0; i < boot.module_count; ++i) {
        const BootModule& m = boot.modules[i];
        w.clear();
        w.str("hw: module ").hex(m.start.value()).str(" size ").dec(m.size).str(" \"").str(m.cmdline).str("\"\n");
        log_str(w.c_str());
    }
}

u64 usable_limit(const BootInfo& boot)
{
    u64 limit = 0;
    for (usize i = 0; i < boot.region_count; ++i)
        if (boot.regions[i].type == MemoryRegion::Type::USABLE && boot.regions[i].base + boot.regions[i].length > limit)
            limit = boot.regions[i].base + boot.regions[i].length;
    return limit;
}

}  // namespace
}  // namespace xeno::hw

extern "C" [[noreturn]] void hw_main(xeno::u64 magic, xeno::u64 info)
{
    using namespace xeno;
    hw::serial_init(hw::kCom1);
    hw::serial_init(hw::kCom2);
    hw::log_str("hw: xeno kernel entered long mode\n");
    hw::trace_port_init();
    hw::descriptors_init(0);
    hw::pic_disable();
    hw::paging_drop_identity_map();
    hw::run_global_constructors();
    if (magic != MULTIBOOT2_BOOTLOADER_MAGIC) hal::panic("not started by a multiboot2 boot loader");
    if (!hw::parse_multiboot2(info, hw::g_boot)) hal::panic("unusable multiboot2 information");
    hw::paging_extend_direct_map(hw::usable_limit(hw::g_boot));
    hw::log_boot_info(hw::g_boot);
    hw::time_init();
    hw::host_timer_init();
    hw::cpu_local_init(0);
    hw::log_capabilities();

    // A module "xeno-batch" (batch.cpp) runs its list of domains instead of one.
    const BootModule* batch = hw::find_batch_module(hw::g_boot);
    const int status = batch ? hw::run_batch(hw::g_boot, *batch) : start(hw::g_boot);

    FixedWriter<64> w;
    w.str("xeno: exit status ").sdec(status).str("\n");
    hw::log_str(w.c_str());
    hw::power_off();
}
