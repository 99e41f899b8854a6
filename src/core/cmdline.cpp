#include "core/cmdline.hpp"

namespace xeno {

namespace {

bool word_is(const char* s, usize n, const char* lit)
{
    usize i = 0;
    for (; i < n; ++i)
        if (lit[i] != s[i]) return false;
    return lit[i] == '\0';
}

}  // namespace

bool parse_number(const char* s, usize n, u64* out)
{
    u64 base = 10;
    if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
        n -= 2;
    }
    if (n == 0) return false;
    u64 v = 0;
    for (usize i = 0; i < n; ++i) {
        u64 d;
        const char c = s[i];
        if (c >= '0' && c <= '9')
            d = static_cast<u64>(c - '0');
        else if (base == 16 && c >= 'a' && c <= 'f')
            d = static_cast<u64>(c - 'a' + 10);
        else if (base == 16 && c >= 'A' && c <= 'F')
            d = static_cast<u64>(c - 'A' + 10);
        else
            return false;
        if (v > (~u64{0} - d) / base) return false;
        v = v * base + d;
    }
    *out = v;
    return true;
}

Status parse_cmdline(const char* cmdline, Options* out, Writer& error)
{
    Options o;
    const char* p = cmdline ? cmdline : "";
    while (*p) {
        while (*p == ' ') ++p;
        if (!*p) break;
        const char* word = p;
        while (*p && *p != ' ') ++p;
        const usize len = static_cast<usize>(p - word);
        usize eq = 0;
        while (eq < len && word[eq] != '=') ++eq;
        const char* value = word + eq + 1;
        const usize vlen = eq < len ? len - eq - 1 : 0;
        auto bad = [&](const char* why) {
            error.str("cmdline: ").str(why).str(": '").str(word, len).ch('\'');
            return Status::BAD_ARGUMENT;
        };
        if (eq == len) return bad("expected key=value");
        u64 n = 0;
        if (word_is(word, eq, "guest_mem_mb")) {
            if (!parse_number(value, vlen, &n) || n == 0 || n > kMaxGuestMemMb) return bad("guest_mem_mb must be 1..65536");
            o.guest_mem_mb = n;
        } else if (word_is(word, eq, "guest_load")) {
            if (!parse_number(value, vlen, &n)) return bad("guest_load is not a number");
            o.guest_load = n;
        } else if (word_is(word, eq, "guest_entry")) {
            if (!parse_number(value, vlen, &n) || n > 0xffff)
                return bad("guest_entry must be a number below 0x10000 (real mode, CS=0)");
            o.guest_entry = n;
            o.guest_entry_given = true;
        } else if (word_is(word, eq, "paging")) {
            if (word_is(value, vlen, "ept"))
                o.paging = PagingMode::EPT;
            else if (word_is(value, vlen, "shadow"))
                o.paging = PagingMode::SHADOW;
            else
                return bad("paging must be ept or shadow");
        } else if (word_is(word, eq, "shadow_pages")) {
            if (!parse_number(value, vlen, &n) || n < kMinShadowPages || n > kMaxShadowPages)
                return bad("shadow_pages must be 16..65536");
            o.shadow_pages = static_cast<u32>(n);
        } else if (word_is(word, eq, "trace")) {
            if (word_is(value, vlen, "on"))
                o.trace = true;
            else if (word_is(value, vlen, "off"))
                o.trace = false;
            else
                return bad("trace must be on or off");
        } else if (word_is(word, eq, "smp")) {
            if (!parse_number(value, vlen, &n) || n == 0 || n > kMaxSmp) return bad("smp must be 1..32");
            o.smp = static_cast<u32>(n);
        } else if (word_is(word, eq, "maxcpus")) {
            if (!parse_number(value, vlen, &n) || n == 0 || n > kMaxHostCpus) return bad("maxcpus must be 1..8");
            o.maxcpus = static_cast<u32>(n);
        } else if (word_is(word, eq, "quantum_us")) {
            if (!parse_number(value, vlen, &n) || n == 0 || n > 1000000) return bad("quantum_us must be 1..1000000");
            o.quantum_us = n;
        } else if (word_is(word, eq, "debug_exit")) {
            if (word_is(value, vlen, "xeno"))
                o.debug_exit = DebugExitStyle::XENO;
            else if (word_is(value, vlen, "qemu"))
                o.debug_exit = DebugExitStyle::QEMU;
            else
                return bad("debug_exit must be xeno or qemu");
        } else if (word_is(word, eq, "on_reset")) {
            if (word_is(value, vlen, "exit"))
                o.on_reset = ResetAction::EXIT;
            else if (word_is(value, vlen, "restart"))
                o.on_reset = ResetAction::RESTART;
            else
                return bad("on_reset must be exit or restart");
        } else if (word_is(word, eq, "rtc_epoch")) {
            if (!parse_number(value, vlen, &n) || n > (u64{1} << 40)) return bad("rtc_epoch must be Unix seconds");
            o.rtc_epoch = n;
        } else {
            return bad("unknown key");
        }
    }
    if (!o.guest_entry_given) {
        if (o.guest_load > 0xffff) {
            error.str("cmdline: guest_load above 0xffff needs an explicit guest_entry below 0x10000");
            return Status::BAD_ARGUMENT;
        }
        o.guest_entry = o.guest_load;
    }
    *out = o;
    return Status::OK;
}

}  // namespace xeno
