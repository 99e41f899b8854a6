// One line on the LOG channel: LogLine{}.str("x=").hex(x); writes the line
// (and its '\n') when the temporary dies at the end of the statement.
#pragma once

#include "hal/console.hpp"
#include "lib/format.hpp"

namespace xeno {

class LogLine : public FixedWriter<256> {
public:
    LogLine() = default;
    ~LogLine()
    {
        hal::console_write(hal::Channel::LOG, c_str(), size());
        hal::console_write(hal::Channel::LOG, "\n", 1);
    }
};

}  // namespace xeno
