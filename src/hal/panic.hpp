// The seam between the hypervisor and the machine it runs on.
//
// Everything in src/hal/*.hpp is declared once and defined twice: by
// src/hal/hw/ for the bare-metal build and by sim/ for the simulated one.
// CMake links exactly one set of definitions; there are no virtual calls and
// nothing outside src/hal/ knows which build it is in.
#pragma once

namespace xeno::hal {

// Stop everything: a broken invariant inside Xeno. Prints msg on the host
// console first. In the sim build it aborts the host program.
[[noreturn]] void panic(const char* msg);

}  // namespace xeno::hal
