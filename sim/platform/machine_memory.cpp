#include "sim/platform/machine_memory.hpp"

#include <sys/mman.h>

#include <cstdio>
#include <cstdlib>

namespace xeno::sim {

namespace {

// Machine memory sits at a fixed host address when it can (the first free
// slot from kFixedBase, one per live machine). The hypervisor keeps pointers
// in its own structures, and in this build those are host addresses into this
// buffer: at a fixed place they are the same on every run, so two runs of one
// machine leave machine memory byte for byte the same (MachineResult::
// memory_hash) however the host laid out its other mappings in between.
constexpr std::uint64_t kFixedBase = std::uint64_t{0x200000000000};  // 32 TiB
constexpr std::uint64_t kSlotBytes = std::uint64_t{1} << 40;          // 1 TiB a machine
constexpr unsigned kSlots = 16;

void* map_machine_memory(std::uint64_t size)
{
    constexpr int kFlags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
    if (size <= kSlotBytes) {
        for (unsigned slot = 0; slot < kSlots; ++slot) {
            void* want = reinterpret_cast<void*>(kFixedBase + slot * kSlotBytes);
            void* p = mmap(want, size, PROT_READ | PROT_WRITE, kFlags | MAP_FIXED_NOREPLACE, -1, 0);
            if (p == want) return p;
            if (p != MAP_FAILED) munmap(p, size);  // a kernel without MAP_FIXED_NOREPLACE treats it as a hint
        }
    }
    return mmap(nullptr, size, PROT_READ | PROT_WRITE, kFlags, -1, 0);
}

}  // namespace

MachineMemory::MachineMemory(std::uint64_t size) : size_(size)
{
    // mmap gives page-aligned, zero-filled memory and touches nothing until
    // the guest does: large machines cost only what they use.
    void* p = map_machine_memory(size);
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
