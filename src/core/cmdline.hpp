// The hypervisor command line: space-separated key=value words.
//
//   guest_mem_mb=<n>     guest RAM in MiB (default 16, 1..65536; above 3 GiB it continues at 4 GiB)
//   guest_load=<addr>    guest-physical address module 0 is copied to (default 0x7c00)
//   guest_entry=<addr>   initial IP, real mode with CS=0 (default: guest_load)
//   paging=ept|shadow    default: ept when the CPU has EPT and unrestricted guest, else shadow
//   shadow_pages=<n>     shadow paging: at most n shadow page-table pages (default 1024, 16..65536)
//   trace=on|off         one trace line per VM exit on the TRACE channel (default off)
//   smp=<n>              vcpus (default 1, 1..32): vcpu 0 starts at the entry, the others wait for INIT-SIPI-SIPI
//   maxcpus=<n>          physical CPUs the hypervisor runs vcpus on (default 8, 1..8; the sim build has one)
//   quantum_us=<n>       time slice of a vcpu when others are runnable on its CPU (default 1000, 1..1000000)
//   debug_exit=xeno|qemu port 0xf4: the status is the value written (xeno, default) or, as QEMU's
//                        isa-debug-exit, (value << 1) | 1
//   on_reset=exit|restart a reset the guest asks for (0xcf9, port 0x92, the i8042, a triple fault
//                        of the BSP... see core/domain.hpp) ends the run (default) or boots the domain again
//   rtc_epoch=<n>        the RTC's time at machine-clock 0, in Unix seconds (default 1767225600: 2026-01-01 00:00 UTC)
//
// Numbers are decimal or 0x-prefixed hex. An unknown key or a bad value is an
// error with a one-line message; parsing is pure (no hal) so it is unit tested.
#pragma once

#include "lib/format.hpp"
#include "lib/status.hpp"
#include "lib/types.hpp"

namespace xeno {

enum class PagingMode : u8 { AUTO, EPT, SHADOW };
enum class DebugExitStyle : u8 { XENO, QEMU };
enum class ResetAction : u8 { EXIT, RESTART };

inline constexpr u32 kMinShadowPages = 16;
inline constexpr u32 kMaxShadowPages = 65536;
inline constexpr u32 kDefaultShadowPages = 1024;
inline constexpr u32 kMaxSmp = 32;
inline constexpr u64 kMaxGuestMemMb = 65536;
inline constexpr u32 kMaxHostCpus = 8;  // hal::kMaxCpus
// 1 ms: a VM exit costs ~1 us on a processor but ~30 us in Bochs (its
// instructions per emulated second): a slice must hold many exits anyway.
inline constexpr u64 kDefaultQuantumUs = 1000;
inline constexpr u64 kDefaultRtcEpoch = 1767225600;  // 2026-01-01 00:00:00 UTC

struct Options {
    u64 guest_mem_mb = 16;
    u64 guest_load = 0x7c00;
    u64 guest_entry = 0;
    bool guest_entry_given = false;
    PagingMode paging = PagingMode::AUTO;
    u32 shadow_pages = kDefaultShadowPages;
    bool trace = false;
    u32 smp = 1;
    u32 maxcpus = kMaxHostCpus;
    u64 quantum_us = kDefaultQuantumUs;
    u64 rtc_epoch = kDefaultRtcEpoch;
    DebugExitStyle debug_exit = DebugExitStyle::XENO;
    ResetAction on_reset = ResetAction::EXIT;
};

// Parse `cmdline` (nullptr or "" gives the defaults). On error, returns
// BAD_ARGUMENT and writes one line (no newline) describing it to `error`.
Status parse_cmdline(const char* cmdline, Options* out, Writer& error);

// Parse a whole number (decimal or 0x hex) from [s, s+n). False on junk or overflow.
bool parse_number(const char* s, usize n, u64* out);

}  // namespace xeno
