#include "lib/format.hpp"

namespace xeno {

Writer& Writer::ch(char c)
{
    if (cap_ == 0 || len_ + 1 >= cap_) {
        truncated_ = true;
        return *this;
    }
    buf_[len_++] = c;
    buf_[len_] = '\0';
    return *this;
}

Writer& Writer::str(const char* s)
{
    while (s && *s) ch(*s++);
    return *this;
}

Writer& Writer::str(const char* s, usize n)
{
    for (usize i = 0; i < n; ++i) ch(s[i]);
    return *this;
}

Writer& Writer::dec(u64 value)
{
    char digits[20];
    unsigned n = 0;
    do {
        digits[n++] = static_cast<char>('0' + value % 10);
        value /= 10;
    } while (value);
    while (n) ch(digits[--n]);
    return *this;
}

Writer& Writer::sdec(i64 value)
{
    if (value < 0) {
        ch('-');
        return dec(~static_cast<u64>(value) + 1);
    }
    return dec(static_cast<u64>(value));
}

Writer& Writer::hex(u64 value)
{
    str("0x");
    unsigned digits = 1;
    for (u64 v = value >> 4; v; v >>= 4) ++digits;
    return hex_digits(value, digits);
}

Writer& Writer::hex_digits(u64 value, unsigned digits)
{
    static constexpr char kHex[] = "0123456789abcdef";
    for (unsigned i = digits; i-- > 0;) ch(kHex[(value >> (i * 4)) & 0xf]);
    return *this;
}

usize string_length(const char* s)
{
    usize n = 0;
    while (s[n]) ++n;
    return n;
}

bool string_equal(const char* a, const char* b)
{
    while (*a && *a == *b) ++a, ++b;
    return *a == *b;
}

bool string_starts_with(const char* s, const char* prefix)
{
    while (*prefix)
        if (*s++ != *prefix++) return false;
    return true;
}

}  // namespace xeno
