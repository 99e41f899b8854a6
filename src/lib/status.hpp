// Host-recoverable errors: a flat status vocabulary and Result<T>.
//
// Three channels of errors exist in Xeno: guest-visible errors become an
// injected fault or a Xen errno in the guest's RAX; host-recoverable errors
// are a Status (this file); broken invariants are XENO_ASSERT (lib/assert.hpp).
#pragma once

#include <type_traits>
#include <utility>

#include "lib/types.hpp"

namespace xeno {

enum class Status : u8 {
    OK,
    NO_MEMORY,        // an allocation from machine memory failed
    BAD_ARGUMENT,     // a caller passed something out of range
    BAD_STATE,        // the object is not in a state that allows the call
    NOT_FOUND,        // a lookup found nothing
    UNSUPPORTED,      // the CPU or the build cannot do it
    VMX_FAIL,         // a VMX instruction failed (VMfailInvalid or VMfailValid)
    GUEST_FAULT,      // the guest did something that ends it
    TOO_LARGE,        // does not fit (an image, a table, a buffer)
};

const char* status_name(Status s);

// A value or a Status, never both. T must be trivially destructible: Results
// travel through freestanding code where nothing owns a heap.
template <typename T>
class [[nodiscard]] Result {
    static_assert(std::is_trivially_destructible_v<T>);

public:
    constexpr Result(T value) : value_(value), status_(Status::OK) {}  // NOLINT: implicit by design
    constexpr Result(Status status) : value_(), status_(status) {}     // NOLINT

    constexpr bool ok() const { return status_ == Status::OK; }
    constexpr Status status() const { return status_; }
    constexpr const T& value() const { return value_; }
    constexpr T& value() { return value_; }
    constexpr T value_or(T fallback) const { return ok() ? value_ : fallback; }

private:
    T value_;
    Status status_;
};

}  // namespace xeno

// Propagate a failed Status or Result out of the enclosing function.
#define XENO_TRY(expr)                                                     \
    do {                                                                   \
        auto xeno_try_status_ = ::xeno::detail_status_of(expr);            \
        if (xeno_try_status_ != ::xeno::Status::OK) return xeno_try_status_; \
    } while (0)

namespace xeno {
constexpr Status detail_status_of(Status s) { return s; }
template <typename T>
constexpr Status detail_status_of(const Result<T>& r) { return r.status(); }
}  // namespace xeno
