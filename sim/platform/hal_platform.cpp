// The sim build's definitions of the platform part of the seam: panic,
// console channels, machine memory (src/hal/{panic,console,memory}.hpp).
#include <cstdio>
#include <cstdlib>

#include "hal/console.hpp"
#include "hal/memory.hpp"
#include "hal/panic.hpp"
#include "sim/platform/machine.hpp"
#include "sim/platform/machine_memory.hpp"
#include "sim/platform/sim_context.hpp"

namespace xeno::hal {

void panic(const char* msg)
{
    std::fprintf(stderr, "xeno: hypervisor panic: %s\n", msg);
    std::fflush(stderr);
    std::abort();
}

void console_write(Channel channel, const char* bytes, usize length)
{
    const sim::MachineOutput* out = sim::sim_context().output;
    if (!out) return;
    const std::function<void(const char*, std::size_t)>* sink = nullptr;
    switch (channel) {
    case Channel::LOG: sink = &out->log; break;
    case Channel::GUEST_CONSOLE: sink = &out->guest_console; break;
    case Channel::TRACE: sink = &out->trace; break;
    }
    if (sink && *sink) (*sink)(bytes, length);
}

void* machine_to_virt(Hpa hpa)
{
    sim::MachineMemory& memory = *sim::sim_context().memory;
    if (!memory.contains(hpa.value(), 1)) panic("machine_to_virt: address outside machine memory");
    return memory.data() + hpa.value();
}

}  // namespace xeno::hal
