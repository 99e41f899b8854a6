// A small formatter over a caller-provided buffer: freestanding code has no
// printf. Output past the buffer's end is dropped and marked truncated, never
// written out of bounds.
#pragma once

#include "lib/types.hpp"

namespace xeno {

class Writer {
public:
    Writer(char* buffer, usize capacity) : buf_(buffer), cap_(capacity) { terminate(); }

    Writer& str(const char* s);
    Writer& str(const char* s, usize n);
    Writer& ch(char c);
    Writer& dec(u64 value);
    Writer& sdec(i64 value);
    Writer& hex(u64 value);             // "0x" then lowercase digits, no padding
    Writer& hex_digits(u64 value, unsigned digits);  // exactly `digits` digits, no prefix

    const char* c_str() const { return buf_; }
    usize size() const { return len_; }
    bool truncated() const { return truncated_; }
    void clear() { len_ = 0; truncated_ = false; terminate(); }

private:
    void terminate() { if (cap_) buf_[len_ < cap_ ? len_ : cap_ - 1] = '\0'; }

    char* buf_;
    usize cap_;
    usize len_ = 0;
    bool truncated_ = false;
};

// A Writer that owns its buffer.
template <usize N>
class FixedWriter : public Writer {
public:
    FixedWriter() : Writer(storage_, N) {}
    FixedWriter(const FixedWriter&) = delete;
    FixedWriter& operator=(const FixedWriter&) = delete;

private:
    char storage_[N] = {};
};

usize string_length(const char* s);
bool string_equal(const char* a, const char* b);
bool string_starts_with(const char* s, const char* prefix);

}  // namespace xeno
