// Machine memory for unit tests of mm/ and paging/: a zeroed host buffer that
// stands for machine addresses [0, kFakeMemoryBytes).
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "lib/types.hpp"

namespace xeno::test {

inline constexpr std::uint64_t kFakeMemoryBytes = 16ull << 20;

inline std::vector<std::uint8_t>& fake_memory()
{
    static std::vector<std::uint8_t> m(kFakeMemoryBytes);
    return m;
}

inline void* fake_map(Hpa hpa) { return fake_memory().data() + hpa.value(); }

inline void fake_memory_reset() { std::memset(fake_memory().data(), 0xcc, fake_memory().size()); }

}  // namespace xeno::test
