#include "sim/platform/machine_memory.hpp"

#include <sys/mman.h>

#include <cstdio>
#include <cstdlib>

namespace xeno::sim {

MachineMemory::MachineMemory(std::uint64_t size) : size_(size)
{
    // mmap gives page-aligned, zero-filled memory and touches nothing until
    // the guest does: large machines cost only what they use.
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        std::fprintf(stderr, "xeno: cannot allocate %llu bytes of machine memory\n",
                     static_cast<unsigned long long>(size));
        std::abort();
    }
    data_ = static_cast<std::uint8_t*>(p);
}

MachineMemory::~MachineMemory() { munmap(data_, size_); }

void MachineMemory::check(std::uint64_t address, std::uint64_t length) const
{
    if (!contains(address, length)) {
        std::fprintf(stderr, "xeno: machine memory access [%#llx, +%llu) outside %#llx bytes\n",
                     static_cast<unsigned long long>(address), static_cast<unsigned long long>(length),
                     static_cast<unsigned long long>(size_));
        std::abort();
    }
}

}  // namespace xeno::sim
