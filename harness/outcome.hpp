// A value or a one-line error message: how the harness reports bad input
// (a scenario file, an argument, a guest image) without exceptions crossing
// its interfaces. Hosted counterpart of lib/status.hpp's Result<T>, which
// carries no message.
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace xeno::harness {

struct Failure {
    std::string message;  // one line, no trailing newline
};

template <typename T>
class [[nodiscard]] Outcome {
public:
    Outcome(T value) : value_(std::move(value)) {}              // NOLINT: implicit by design
    Outcome(Failure failure) : error_(std::move(failure.message)) {}  // NOLINT

    bool ok() const { return value_.has_value(); }
    const T& value() const& { return *value_; }
    T& value() & { return *value_; }
    T&& value() && { return std::move(*value_); }
    const std::string& error() const { return error_; }

private:
    std::optional<T> value_;
    std::string error_;
};

}  // namespace xeno::harness
