// Basic integer types and strong address types.
//
// Mixing guest-physical, machine (host-physical) and linear addresses is the
// classic hypervisor bug, so each kind of address is its own type: converting
// between them takes an explicit call that names what is being translated.
#pragma once

#include <cstddef>
#include <compare>
#include <cstdint>

namespace xeno {

using u8 = std::uint8_t;
using u16 = std::uint16_t;
using u32 = std::uint32_t;
using u64 = std::uint64_t;
using i8 = std::int8_t;
using i16 = std::int16_t;
using i32 = std::int32_t;
using i64 = std::int64_t;
using usize = std::size_t;

inline constexpr u64 kPageShift = 12;
inline constexpr u64 kPageSize = u64{1} << kPageShift;
inline constexpr u64 kPageMask = ~(kPageSize - 1);

// An address of one kind. Tag only distinguishes the kinds.
template <typename Tag>
struct Address {
    u64 raw = 0;

    constexpr Address() = default;
    constexpr explicit Address(u64 value) : raw(value) {}

    constexpr u64 value() const { return raw; }
    constexpr u64 frame() const { return raw >> kPageShift; }
    constexpr u64 page_offset() const { return raw & (kPageSize - 1); }
    constexpr Address page_base() const { return Address{raw & kPageMask}; }
    constexpr bool page_aligned() const { return (raw & (kPageSize - 1)) == 0; }
    constexpr Address operator+(u64 offset) const { return Address{raw + offset}; }
    constexpr auto operator<=>(const Address&) const = default;

    static constexpr Address from_frame(u64 frame) { return Address{frame << kPageShift}; }
};

struct MachineTag;
struct GuestPhysTag;
struct LinearTag;

using Hpa = Address<MachineTag>;    // machine (host-physical) address
using Gpa = Address<GuestPhysTag>;  // guest-physical address
using Gla = Address<LinearTag>;     // guest-linear address

}  // namespace xeno
