// The C/C++ runtime a freestanding kernel must supply itself: the memory
// functions GCC emits calls to (even with -ffreestanding), global
// constructors from .init_array, and the ABI hooks that must never run.
#include "hal/hw/hw.hpp"
#include "hal/panic.hpp"

extern "C" {

// rep movsq/stosq for the bulk and movsb/stosb for the tail: GCC cannot
// turn these back into calls to the very functions being defined, and
// emulators such as Bochs count every string iteration as an instruction,
// so quadwords make zeroing guest RAM 8x cheaper there.
void* memcpy(void* dst, const void* src, xeno::usize n)
{
    void* d = dst;
    xeno::usize quads = n / 8, tail = n % 8;
    asm volatile("rep movsq" : "+D"(d), "+S"(src), "+c"(quads) : : "memory");
    asm volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(tail) : : "memory");
    return dst;
}

void* memset(void* dst, int c, xeno::usize n)
{
    void* d = dst;
    const xeno::u64 pattern = 0x0101010101010101ull * static_cast<unsigned char>(c);
    xeno::usize quads = n / 8, tail = n % 8;
    asm volatile("rep stosq" : "+D"(d), "+c"(quads) : "a"(pattern) : "memory");
    asm volatile("rep stosb" : "+D"(d), "+c"(tail) : "a"(pattern) : "memory");
    return dst;
}

void* memmove(void* dst, const void* src, xeno::usize n)
{
    auto* d = static_cast<unsigned char*>(dst);
    const auto* s = static_cast<const unsigned char*>(src);
    if (d <= s || d >= s + n) return memcpy(dst, src, n);
    // Overlap with dst above src: copy backwards.
    unsigned char* dl = d + n - 1;
    const unsigned char* sl = s + n - 1;
    asm volatile("std\n\trep movsb\n\tcld" : "+D"(dl), "+S"(sl), "+c"(n) : : "memory");
    return dst;
}

int memcmp(const void* a, const void* b, xeno::usize n)
{
    const auto* x = static_cast<const unsigned char*>(a);
    const auto* y = static_cast<const unsigned char*>(b);
    for (xeno::usize i = 0; i < n; ++i)
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
}

// Static destructors are registered with atexit (-fno-use-cxa-atexit); the
// hypervisor never exits through them.
int atexit(void (*)()) { return 0; }

void __cxa_pure_virtual() { xeno::hal::panic("pure virtual function called"); }

extern void (*const __init_array_start[])();
extern void (*const __init_array_end[])();

}  // extern "C"

// There is no heap behind operator new/delete; deleting destructors are still
// emitted for classes with virtual destructors.
void operator delete(void*) noexcept { xeno::hal::panic("operator delete called"); }
void operator delete(void*, xeno::usize) noexcept { xeno::hal::panic("operator delete called"); }

namespace xeno::hw {

void run_global_constructors()
{
    for (auto* f = __init_array_start; f != __init_array_end; ++f) (*f)();
}

}  // namespace xeno::hw
