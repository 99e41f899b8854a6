// Machine memory through the direct map (hal/memory.hpp; layout.h).
#include <compare>  // lib/types.hpp defaults operator<=> without including it

#include "hal/memory.hpp"
#include "hal/hw/layout.h"

namespace xeno::hal {

void* machine_to_virt(Hpa hpa)
{
    return reinterpret_cast<void*>(DIRECT_MAP_BASE + hpa.value());
}

// x86 keeps instruction fetch coherent with stores (SDM Vol. 3A, 11.6
// "Self-Modifying Code"): nothing to do.
void machine_memory_written(Hpa, usize) {}

}  // namespace xeno::hal
