// Machine memory of the simulated machine: one host buffer, page aligned and
// zero filled, that Unicorn maps as the guest-execution engine's physical
// address space and the hypervisor reaches through hal::machine_to_virt.
#pragma once

#include <cstdint>
#include <cstring>

namespace xeno::sim {

class MachineMemory {
public:
    explicit MachineMemory(std::uint64_t size);
    ~MachineMemory();
    MachineMemory(const MachineMemory&) = delete;
    MachineMemory& operator=(const MachineMemory&) = delete;

    std::uint8_t* data() { return data_; }
    const std::uint8_t* data() const { return data_; }
    std::uint64_t size() const { return size_; }

    bool contains(std::uint64_t address, std::uint64_t length) const
    {
        return address <= size_ && length <= size_ - address;
    }

    // Little-endian accessors for the model's own use. The caller has
    // checked contains(); out-of-range access is a bug in Xeno (panics).
    template <typename T>
    T load(std::uint64_t address) const
    {
        check(address, sizeof(T));
        T value;
        std::memcpy(&value, data_ + address, sizeof(T));
        return value;
    }
    template <typename T>
    void store(std::uint64_t address, T value)
    {
        check(address, sizeof(T));
        std::memcpy(data_ + address, &value, sizeof(T));
    }

private:
    void check(std::uint64_t address, std::uint64_t length) const;

    std::uint8_t* data_;
    std::uint64_t size_;
};

}  // namespace xeno::sim
