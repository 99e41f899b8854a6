// The real-mode figures of xeno-bench (bench/guests/realmode_*.asm): guests
// that stay in real mode, which skylake runs with unrestricted guest and
// penryn in virtual-8086 mode (src/arch/x86/vmx/realmode.hpp).
#pragma once

#include <cstdint>
#include <string>

namespace xeno::bench {

// realmode_compute_{insns,exits,emulated}_per_s: a 16-bit checksum loop of
// `iterations` x 13 instructions, its result checked against a bare Unicorn
// engine running the same bytes in 16-bit mode.
void realmode_compute(std::uint32_t iterations, const std::string& profile);

// realmode_softint_{insns,exits,emulated}_per_s and realmode_softint_ns (per
// INT 0x40 / IRET round trip): `calls` service calls through the guest's IVT.
void realmode_softint(std::uint32_t calls, const std::string& profile);

}  // namespace xeno::bench
