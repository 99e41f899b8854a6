// What the GDB stub's halves tell each other about stops and resumes.
#pragma once

#include <cstdint>

namespace xeno::harness::gdb {

// Why the machine stopped, for the stop reply.
struct StopReport {
    enum class Why : std::uint8_t { INITIAL, STEP, SWBREAK, HWBREAK, WATCH, RWATCH, AWATCH, INTERRUPT, HISTORY_BEGIN };
    Why why = Why::INITIAL;
    std::uint32_t vcpu = 0;
    std::uint64_t data_address = 0;  // watchpoints
};

// What GDB asked for when it resumed the machine.
struct Resume {
    enum class Kind : std::uint8_t { CONTINUE, STEP, REVERSE_CONTINUE, REVERSE_STEP, DETACH, KILL };
    Kind kind = Kind::CONTINUE;
    std::uint32_t vcpu = 0;  // the vcpu that steps
};

// Z packet types.
enum class PointType : std::uint8_t { SOFTWARE = 0, HARDWARE = 1, WRITE = 2, READ = 3, ACCESS = 4 };

}  // namespace xeno::harness::gdb
