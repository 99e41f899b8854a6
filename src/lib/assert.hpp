// Broken invariants: a bug in Xeno itself, never something a guest caused.
// A guest's misbehaviour is handled as a guest fault, not through here.
#pragma once

#include "hal/panic.hpp"

#define XENO_STRINGIFY_(x) #x
#define XENO_STRINGIFY(x) XENO_STRINGIFY_(x)

#define XENO_ASSERT(cond)                                                                  \
    do {                                                                                   \
        if (!(cond)) [[unlikely]]                                                          \
            ::xeno::hal::panic(__FILE__ ":" XENO_STRINGIFY(__LINE__) ": assertion failed: " #cond); \
    } while (0)
