#include "harness/snapshot_file.hpp"

#include <xxhash.h>
#include <zstd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>

#include <fmt/core.h>

namespace xeno::harness {

namespace {

constexpr std::size_t kHeaderBytes = 16;
constexpr std::size_t kTrailerBytes = 8;
constexpr int kZstdLevel = 3;
// Bounds of what a snapshot holds, so a corrupted count is found before
// anything that large is allocated.
constexpr std::uint64_t kMaxStringBytes = std::uint64_t{1} << 20;
constexpr std::uint64_t kMaxVcpus = 256;
constexpr std::uint64_t kMaxPages = (std::uint64_t{128} << 30) / kPageBytes;
constexpr std::uint64_t kMaxBodyBytes = std::uint64_t{8} << 30;
constexpr std::size_t kPagesNamed = 16;

void put_varint(std::string& out, std::uint64_t v)
{
    while (v >= 0x80) {
        out.push_back(static_cast<char>((v & 0x7f) | 0x80));
        v >>= 7;
    }
    out.push_back(static_cast<char>(v));
}

void put_u64(std::string& out, std::uint64_t v)
{
    for (unsigned i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}

void put_bytes(std::string& out, const void* data, std::size_t n)
{
    put_varint(out, n);
    out.append(static_cast<const char*>(data), n);
}

std::uint64_t get_le64(const std::uint8_t* p)
{
    std::uint64_t v = 0;
    for (unsigned i = 0; i < 8; ++i) v |= std::uint64_t{p[i]} << (8 * i);
    return v;
}

// The body as it is read: every read checked against its end.
class BodyReader {
public:
    BodyReader(const std::vector<std::uint8_t>& body) : body_(body) {}
    const std::string& error() const { return error_; }
    bool at_end() const { return pos_ == body_.size(); }

    bool varint(std::uint64_t& v, std::uint64_t max, const char* what)
    {
        v = 0;
        for (unsigned shift = 0; shift < 64; shift += 7) {
            if (pos_ == body_.size()) return fail(fmt::format("it ends inside {}", what));
            const std::uint8_t b = body_[pos_++];
            if (shift == 63 && (b & 0x7e) != 0) break;
            v |= std::uint64_t{b & 0x7fu} << shift;
            if ((b & 0x80) == 0) {
                if (v > max) return fail(fmt::format("{} {} is more than {}", what, v, max));
                return true;
            }
        }
        return fail(fmt::format("{} is longer than 64 bits", what));
    }
    bool u64(std::uint64_t& v, const char* what)
    {
        if (body_.size() - pos_ < 8) return fail(fmt::format("it ends inside {}", what));
        v = get_le64(body_.data() + pos_);
        pos_ += 8;
        return true;
    }
    bool bytes(std::vector<std::uint8_t>& out, std::uint64_t max, const char* what)
    {
        std::uint64_t n = 0;
        if (!varint(n, max, what)) return false;
        if (body_.size() - pos_ < n) return fail(fmt::format("it ends inside {}", what));
        out.assign(body_.begin() + static_cast<std::ptrdiff_t>(pos_),
                   body_.begin() + static_cast<std::ptrdiff_t>(pos_ + n));
        pos_ += n;
        return true;
    }
    bool string(std::string& out, const char* what)
    {
        std::vector<std::uint8_t> b;
        if (!bytes(b, kMaxStringBytes, what)) return false;
        out.assign(b.begin(), b.end());
        return true;
    }
    bool fail(const std::string& why)
    {
        if (error_.empty()) error_ = fmt::format("{} at byte {} of its body", why, pos_);
        return false;
    }

private:
    const std::vector<std::uint8_t>& body_;
    std::size_t pos_ = 0;
    std::string error_;
};

}  // namespace

Outcome<SnapshotPoint> parse_snapshot_point(std::string_view text)
{
    const auto bad = [text] {
        return Failure{fmt::format("--snapshot-at: expected an exit number (18234) or a virtual time with a unit "
                                   "(12.5ms, 250us, 3s, 100ns), got \"{}\"",
                                   text)};
    };
    std::size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
    if (digits == 0) return bad();
    std::uint64_t whole = 0;
    if (std::from_chars(text.data(), text.data() + digits, whole).ec != std::errc()) return bad();
    std::string_view rest = text.substr(digits);
    if (rest.empty()) {
        if (whole == 0) return Failure{"--snapshot-at: exits are numbered from 1"};
        return SnapshotPoint{SnapshotPoint::Kind::EXIT, whole};
    }
    // A fraction, exact in nanoseconds: digits past them are refused.
    std::string_view fraction;
    if (rest.front() == '.') {
        std::size_t n = 1;
        while (n < rest.size() && rest[n] >= '0' && rest[n] <= '9') ++n;
        fraction = rest.substr(1, n - 1);
        rest = rest.substr(n);
        if (fraction.empty()) return bad();
    }
    std::uint64_t scale = 0;  // nanoseconds per unit
    if (rest == "ns") scale = 1;
    else if (rest == "us") scale = 1'000;
    else if (rest == "ms") scale = 1'000'000;
    else if (rest == "s") scale = 1'000'000'000;
    else return bad();
    std::uint64_t ns = 0;
    if (__builtin_mul_overflow(whole, scale, &ns)) return bad();
    std::uint64_t place = scale;
    for (char c : fraction) {
        place /= 10;
        if (place == 0 && c != '0') {
            return Failure{fmt::format("--snapshot-at: {} is finer than a nanosecond", text)};
        }
        if (__builtin_add_overflow(ns, place * static_cast<std::uint64_t>(c - '0'), &ns)) return bad();
    }
    return SnapshotPoint{SnapshotPoint::Kind::VTIME, ns};
}

std::string format_snapshot_point(const SnapshotPoint& point)
{
    return point.kind == SnapshotPoint::Kind::EXIT ? fmt::format("exit {}", point.value)
                                                   : fmt::format("virtual time {} ns", point.value);
}

std::uint64_t this_build_id()
{
    static const std::uint64_t id = [] {
        std::FILE* exe = std::fopen("/proc/self/exe", "rb");
        if (exe == nullptr) return std::uint64_t{0};
        XXH64_state_t* state = XXH64_createState();
        XXH64_reset(state, 0);
        std::vector<char> buffer(std::size_t{1} << 20);
        std::size_t got = 0;
        while ((got = std::fread(buffer.data(), 1, buffer.size(), exe)) > 0) XXH64_update(state, buffer.data(), got);
        std::fclose(exe);
        const std::uint64_t sum = XXH64_digest(state);
        XXH64_freeState(state);
        return sum;
    }();
    return id;
}

Outcome<std::uint64_t> write_snapshot(const std::filesystem::path& path, const Snapshot& s)
{
    std::string body;
    put_bytes(body, s.xeno_version.data(), s.xeno_version.size());
    put_u64(body, s.build_id);
    put_varint(body, static_cast<std::uint64_t>(s.point.kind));
    put_varint(body, s.point.value);
    for (std::uint64_t v : {s.state.exit, s.state.vtime_ns, s.state.guest_instructions, s.state.console_bytes}) {
        put_varint(body, v);
    }
    put_u64(body, s.state.console_hash);
    put_varint(body, s.state.vcpus.size());
    for (const SnapshotVcpu& v : s.state.vcpus) {
        put_varint(body, v.last_exit);
        for (std::uint64_t field : v.state) put_u64(body, field);
    }
    put_varint(body, s.state.pages.size());
    for (std::uint64_t h : s.state.pages) put_u64(body, h);
    put_bytes(body, s.recording.data(), s.recording.size());

    ZSTD_CCtx* cctx = ZSTD_createCCtx();
    if (cctx == nullptr) return Failure{"zstd could not allocate its compression context"};
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, kZstdLevel);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
    std::string file(kHeaderBytes + ZSTD_compressBound(body.size()), '\0');
    std::memcpy(file.data(), kSnapshotMagic, sizeof kSnapshotMagic);
    for (unsigned i = 0; i < 4; ++i) file[8 + i] = static_cast<char>(kSnapshotFormatVersion >> (8 * i));
    const std::size_t packed =
        ZSTD_compress2(cctx, file.data() + kHeaderBytes, file.size() - kHeaderBytes, body.data(), body.size());
    ZSTD_freeCCtx(cctx);
    if (ZSTD_isError(packed)) return Failure{std::string("zstd: ") + ZSTD_getErrorName(packed)};
    file.resize(kHeaderBytes + packed);
    put_u64(file, XXH64(file.data(), file.size(), 0));

    std::FILE* out = std::fopen(path.c_str(), "wb");
    if (out == nullptr) return Failure{fmt::format("cannot write {}: {}", path.string(), std::strerror(errno))};
    const bool written = std::fwrite(file.data(), 1, file.size(), out) == file.size();
    const int error = errno;
    if (std::fclose(out) != 0 || !written) {
        return Failure{fmt::format("cannot write {}: {}", path.string(), std::strerror(written ? errno : error))};
    }
    return static_cast<std::uint64_t>(file.size());
}

Outcome<Snapshot> read_snapshot(const std::filesystem::path& path)
{
    const std::string name = path.string();
    std::FILE* in = std::fopen(path.c_str(), "rb");
    if (in == nullptr) return Failure{fmt::format("cannot read {}: {}", name, std::strerror(errno))};
    std::vector<std::uint8_t> file;
    std::uint8_t chunk[1 << 16];
    std::size_t got = 0;
    while ((got = std::fread(chunk, 1, sizeof chunk, in)) > 0) {
        file.insert(file.end(), chunk, chunk + got);
        if (file.size() > kMaxBodyBytes) break;
    }
    const bool read_error = std::ferror(in) != 0;
    std::fclose(in);
    if (read_error) return Failure{fmt::format("cannot read {}", name)};
    if (file.empty()) return Failure{fmt::format("{}: empty file, not a xeno snapshot", name)};
    const std::size_t magic = std::min(file.size(), sizeof kSnapshotMagic);
    if (std::memcmp(file.data(), kSnapshotMagic, magic) != 0) {
        if (file.size() >= sizeof kRecordingMagic && std::memcmp(file.data(), kRecordingMagic, 8) == 0) {
            return Failure{fmt::format("{} is a recording (xeno record), not a snapshot: --restore takes a file "
                                       "written by xeno run --snapshot-at (a recording replays with xeno replay)",
                                       name)};
        }
        return Failure{fmt::format("{}: not a xeno snapshot (it does not start with XENOSNAP)", name)};
    }
    if (file.size() < kHeaderBytes) {
        return Failure{fmt::format("{}: truncated snapshot (the file ends inside its {}-byte header)", name,
                                   kHeaderBytes)};
    }
    std::uint32_t version = 0;
    for (unsigned i = 0; i < 4; ++i) version |= std::uint32_t{file[8 + i]} << (8 * i);
    if (version != kSnapshotFormatVersion) {
        return Failure{fmt::format("{}: snapshot format version {}; this xeno reads version {} only", name, version,
                                   kSnapshotFormatVersion)};
    }
    if (file[12] != 0 || file[13] != 0 || file[14] != 0 || file[15] != 0) {
        return Failure{fmt::format("{}: corrupted snapshot (its header's reserved bytes are not zero)", name)};
    }
    if (file.size() < kHeaderBytes + kTrailerBytes + 1) {
        return Failure{fmt::format("{}: truncated snapshot (no body after its header)", name)};
    }
    const std::size_t body_end = file.size() - kTrailerBytes;
    if (XXH64(file.data(), body_end, 0) != get_le64(file.data() + body_end)) {
        return Failure{fmt::format("{}: truncated or corrupted snapshot (its checksum does not match its bytes)",
                                   name)};
    }

    // The body: one zstd frame, which must fill the file up to the trailer.
    ZSTD_DCtx* dctx = ZSTD_createDCtx();
    if (dctx == nullptr) return Failure{"zstd could not allocate its decompression context"};
    std::vector<std::uint8_t> body;
    ZSTD_inBuffer zin{file.data() + kHeaderBytes, body_end - kHeaderBytes, 0};
    std::size_t ret = 1;
    std::string zstd_error;
    while (ret != 0) {
        const std::size_t had = body.size();
        body.resize(had + ZSTD_DStreamOutSize());
        ZSTD_outBuffer zout{body.data() + had, body.size() - had, 0};
        ret = ZSTD_decompressStream(dctx, &zout, &zin);
        body.resize(had + zout.pos);
        if (ZSTD_isError(ret)) {
            zstd_error = ZSTD_getErrorName(ret);
            break;
        }
        if (body.size() > kMaxBodyBytes) {
            zstd_error = "the body is larger than any snapshot's";
            break;
        }
        if (ret != 0 && zin.pos == zin.size && zout.pos == 0) {
            zstd_error = "the compressed body ends early";
            break;
        }
    }
    ZSTD_freeDCtx(dctx);
    if (!zstd_error.empty()) return Failure{fmt::format("{}: corrupted snapshot (zstd: {})", name, zstd_error)};
    if (zin.pos != zin.size) return Failure{fmt::format("{}: corrupted snapshot (bytes after its body)", name)};

    Snapshot s;
    BodyReader r(body);
    std::uint64_t kind = 0, vcpus = 0, pages = 0;
    bool ok = r.string(s.xeno_version, "the xeno version") && r.u64(s.build_id, "the build identifier") &&
              r.varint(kind, 1, "the point's kind") && r.varint(s.point.value, UINT64_MAX, "the point") &&
              r.varint(s.state.exit, UINT64_MAX, "the exit number") &&
              r.varint(s.state.vtime_ns, UINT64_MAX, "the virtual time") &&
              r.varint(s.state.guest_instructions, UINT64_MAX, "the instruction count") &&
              r.varint(s.state.console_bytes, UINT64_MAX, "the console size") &&
              r.u64(s.state.console_hash, "the console hash") && r.varint(vcpus, kMaxVcpus, "the vcpu count");
    s.point.kind = static_cast<SnapshotPoint::Kind>(kind);
    for (std::uint64_t v = 0; ok && v < vcpus; ++v) {
        SnapshotVcpu vcpu;
        ok = r.varint(vcpu.last_exit, s.state.exit, "a vcpu's last exit");
        for (std::uint64_t& field : vcpu.state) ok = ok && r.u64(field, "a vcpu's registers");
        s.state.vcpus.push_back(vcpu);
    }
    ok = ok && r.varint(pages, kMaxPages, "the page count");
    if (ok) s.state.pages.resize(pages);
    for (std::uint64_t p = 0; ok && p < pages; ++p) ok = r.u64(s.state.pages[p], "the page hashes");
    ok = ok && r.bytes(s.recording, kMaxBodyBytes, "the recording");
    if (ok && !r.at_end()) ok = r.fail("bytes after the recording");
    if (ok && s.state.exit == 0) ok = r.fail("the exit number is 0");
    if (!ok) return Failure{fmt::format("{}: corrupted snapshot ({})", name, r.error())};
    return s;
}

std::vector<std::string> state_differences(const SnapshotState& saved, const SnapshotState& now)
{
    std::vector<std::string> out;
    const auto number = [&out](const char* what, std::uint64_t a, std::uint64_t b) {
        if (a != b) out.push_back(fmt::format("{}: saved {}, now {}", what, a, b));
    };
    number("exit", saved.exit, now.exit);
    number("virtual time (ns)", saved.vtime_ns, now.vtime_ns);
    number("guest instructions", saved.guest_instructions, now.guest_instructions);
    if (saved.console_bytes != now.console_bytes || saved.console_hash != now.console_hash) {
        out.push_back(fmt::format("guest console so far: saved {} bytes (xxh64 {:#018x}), now {} bytes (xxh64 {:#018x})",
                                  saved.console_bytes, saved.console_hash, now.console_bytes, now.console_hash));
    }
    number("vcpus", saved.vcpus.size(), now.vcpus.size());
    for (std::size_t v = 0; v < saved.vcpus.size() && v < now.vcpus.size(); ++v) {
        const SnapshotVcpu& a = saved.vcpus[v];
        const SnapshotVcpu& b = now.vcpus[v];
        if (a.last_exit != b.last_exit) {
            out.push_back(fmt::format("vcpu {} last exit: saved {}, now {}", v, a.last_exit, b.last_exit));
        }
        for (std::size_t i = 0; i < kStateFields; ++i) {
            if (a.state[i] != b.state[i]) {
                out.push_back(fmt::format("vcpu {} {}: saved {:#x}, now {:#x}", v, kStateFieldNames[i], a.state[i],
                                          b.state[i]));
            }
        }
    }
    if (saved.pages.size() != now.pages.size()) {
        out.push_back(fmt::format("guest RAM: saved {} pages, now {}", saved.pages.size(), now.pages.size()));
    } else {
        std::vector<std::uint64_t> differing;
        for (std::size_t p = 0; p < saved.pages.size(); ++p) {
            if (saved.pages[p] != now.pages[p]) differing.push_back(p * kPageBytes);
        }
        if (!differing.empty()) {
            std::string line = fmt::format("guest RAM: {} of {} pages differ, at guest-physical", differing.size(),
                                           saved.pages.size());
            for (std::size_t i = 0; i < differing.size() && i < kPagesNamed; ++i) line += fmt::format(" {:#x}", differing[i]);
            if (differing.size() > kPagesNamed) line += fmt::format(" (and {} more)", differing.size() - kPagesNamed);
            out.push_back(std::move(line));
        }
    }
    return out;
}

}  // namespace xeno::harness
