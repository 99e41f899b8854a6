#include "harness/expectation.hpp"

#include <algorithm>

#include <fmt/core.h>

namespace xeno::harness {

std::string quote(std::string_view text)
{
    std::string out = "\"";
    for (char c : text) {
        auto u = static_cast<unsigned char>(c);
        switch (c) {
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\\': out += "\\\\"; break;
        case '"': out += "\\\""; break;
        default:
            if (u < 0x20 || u >= 0x7f) {
                out += fmt::format("\\x{:02x}", u);
            } else {
                out += c;
            }
        }
    }
    out += '"';
    return out;
}

namespace {

// Where the line holding byte `at` of `text` starts.
std::size_t line_begin(std::string_view text, std::size_t at)
{
    if (at == 0) {
        return 0;
    }
    std::size_t newline = text.rfind('\n', at - 1);
    return newline == std::string_view::npos ? 0 : newline + 1;
}

// The line of `text` that holds byte `at`, without its newline.
std::string_view line_at(std::string_view text, std::size_t at)
{
    std::size_t begin = line_begin(text, at);
    std::size_t end = text.find('\n', begin);
    return text.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin);
}

std::string compare_console(std::string_view want, std::string_view got)
{
    auto mismatch = std::mismatch(want.begin(), want.end(), got.begin(), got.end());
    auto at = static_cast<std::size_t>(mismatch.first - want.begin());
    std::size_t line = 1 + static_cast<std::size_t>(std::count(want.begin(), want.begin() + static_cast<long>(at), '\n'));
    std::size_t column = at - line_begin(want, at) + 1;
    if (at == want.size()) {
        return fmt::format("console has extra output at line {}, column {}: {}", line, column,
                           quote(line_at(got, at)));
    }
    if (at == got.size()) {
        return fmt::format("console ends early at line {}, column {}: expected the line {}", line, column,
                           quote(line_at(want, at)));
    }
    return fmt::format("console differs at line {}, column {}: expected {} but got {}", line, column,
                       quote(line_at(want, at)), quote(line_at(got, at)));
}

}  // namespace

bool guest_chose_end(std::string_view end)
{
    return end.empty() || end == "exit" || end == "poweroff";
}

std::optional<std::string> compare_expectation(const Expectation& expect, int status, std::string_view console,
                                               std::string_view end, std::string_view end_reason)
{
    // The console first: when a check fails, its FAIL line says more than the status.
    if (expect.console && *expect.console != console) {
        return compare_console(*expect.console, console);
    }
    if (!end.empty() && end != expect.end) {
        return fmt::format("the domain ended ({}: {}) but expected {}", end, end_reason, expect.end);
    }
    if (guest_chose_end(expect.end) && status != expect.status) {
        return fmt::format("status {} but expected {}", status, expect.status);
    }
    return std::nullopt;
}

}  // namespace xeno::harness
