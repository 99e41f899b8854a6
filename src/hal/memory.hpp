// Machine memory as the hypervisor reaches it (see panic.hpp for what src/hal
// is). The hypervisor owns the machine memory that the boot memory map
// describes; the mm/ allocator hands it out. This is only the mapping.
#pragma once

#include "lib/types.hpp"

namespace xeno::hal {

// Where the hypervisor reaches machine address hpa. Valid for every address
// the boot memory map lists as usable.
void* machine_to_virt(Hpa hpa);

// The hypervisor wrote machine memory [hpa, hpa+length) that a guest may
// execute from. hw: nothing (x86 keeps instruction fetch coherent). sim: the
// engine drops translated code for that range.
void machine_memory_written(Hpa hpa, usize length);

}  // namespace xeno::hal
