#include "harness/recording_writer.hpp"

#include <xxhash.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>

#include <fmt/core.h>

#include "harness/machine_digest.hpp"

namespace xeno::harness {

namespace {

// Body bytes gathered before they go to zstd: fixed, so the pieces zstd is
// given (and so the file) depend only on the run.
constexpr std::size_t kPieceBytes = std::size_t{1} << 20;
// zstd's level: the per-exit records repeat a lot; 3 is fast and small.
constexpr int kZstdLevel = 3;

}  // namespace

RecordingWriter::RecordingWriter(std::FILE* file, std::filesystem::path path)
    : file_(file),
      path_(std::move(path)),
      cctx_(ZSTD_createCCtx()),
      checksum_(XXH64_createState()),
      compressed_(ZSTD_CStreamOutSize())
{
    if (checksum_ != nullptr) XXH64_reset(checksum_, 0);
    if (cctx_ == nullptr || checksum_ == nullptr) {
        fail("zstd could not allocate its compression context");
        return;
    }
    ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, kZstdLevel);
    ZSTD_CCtx_setParameter(cctx_, ZSTD_c_checksumFlag, 1);
}

RecordingWriter::~RecordingWriter()
{
    ZSTD_freeCCtx(cctx_);
    XXH64_freeState(checksum_);
    if (file_ != nullptr) std::fclose(file_);
}

Outcome<std::unique_ptr<RecordingWriter>> RecordingWriter::create(const std::filesystem::path& path,
                                                                  const RecordedConfig& c)
{
    std::FILE* file = std::fopen(path.c_str(), "wb");
    if (file == nullptr) {
        return Failure{fmt::format("cannot write {}: {}", path.string(), std::strerror(errno))};
    }
    std::unique_ptr<RecordingWriter> w(new RecordingWriter(file, path));
    std::uint8_t header[kRecordingHeaderBytes] = {};
    std::memcpy(header, kRecordingMagic, sizeof kRecordingMagic);
    for (unsigned i = 0; i < 4; ++i) header[8 + i] = static_cast<std::uint8_t>(kRecordingFormatVersion >> (8 * i));
    w->write(header, sizeof header);

    w->pending_.push_back(static_cast<char>(RecordTag::CONFIG));
    w->put_string(c.xeno_version);
    w->put_varint(c.run_args.size());
    for (const std::string& a : c.run_args) w->put_string(a);
    w->put_varint(c.checkpoint_exits);
    w->put_varint(c.checkpoint_vtime_ns);
    w->put_string(c.profile);
    w->put_varint(c.memory_bytes);
    w->put_string(c.guest_cmdline);
    w->put_string(c.cmdline);
    w->put_varint(c.max_guest_instructions);
    w->put_varint(c.max_vtime_ns);
    w->put_varint(c.wall_timeout_ms);
    w->put_varint(c.decoy_bytes);
    w->put_varint(c.rtc_epoch);
    w->put_varint(c.inputs.size());
    for (const InputDigest& d : c.inputs) {
        w->put_string(d.name);
        w->put_varint(d.size);
        w->put_u64(d.hash_low);
        w->put_u64(d.hash_high);
    }
    w->put_bytes(c.serial_input.data(), c.serial_input.size());
    if (!w->error_.empty()) {
        return Failure{w->error_};
    }
    return w;
}

void RecordingWriter::fail(std::string why)
{
    if (error_.empty()) error_ = fmt::format("cannot write {}: {}", path_.string(), why);
}

void RecordingWriter::write(const void* data, std::size_t n)
{
    if (n == 0 || file_ == nullptr || checksum_ == nullptr) return;
    XXH64_update(checksum_, data, n);
    if (std::fwrite(data, 1, n, file_) != n) fail(std::strerror(errno));
}

void RecordingWriter::put_varint(std::uint64_t v)
{
    while (v >= 0x80) {
        pending_.push_back(static_cast<char>((v & 0x7f) | 0x80));
        v >>= 7;
    }
    pending_.push_back(static_cast<char>(v));
}

void RecordingWriter::put_u64(std::uint64_t v)
{
    for (unsigned i = 0; i < 8; ++i) pending_.push_back(static_cast<char>(v >> (8 * i)));
}

void RecordingWriter::put_string(const std::string& s)
{
    put_varint(s.size());
    pending_.append(s);
}

void RecordingWriter::put_bytes(const std::uint8_t* data, std::size_t n)
{
    put_varint(n);
    pending_.append(reinterpret_cast<const char*>(data), n);
    if (pending_.size() >= kPieceBytes) compress(false);
}

void RecordingWriter::put_state(const GuestState& state, const GuestState& reference)
{
    std::uint64_t mask = 0;
    for (std::size_t i = 0; i < kStateFields; ++i) {
        if (state[i] != reference[i]) mask |= std::uint64_t{1} << i;
    }
    put_varint(mask);
    for (std::size_t i = 0; i < kStateFields; ++i) {
        if (mask & (std::uint64_t{1} << i)) put_u64(state[i]);
    }
}

void RecordingWriter::exit(const ExitRecord& e)
{
    if (last_handled_.size() <= e.vcpu) last_handled_.resize(e.vcpu + std::size_t{1}, GuestState{});
    pending_.push_back(static_cast<char>(RecordTag::EXIT));
    put_varint(e.number - last_number_);
    put_varint(e.vcpu);
    put_varint(e.reason);
    put_varint(e.qualification);
    put_varint(zigzag_encode(static_cast<std::int64_t>(e.vtime_ns - last_vtime_)));
    put_varint(zigzag_encode(static_cast<std::int64_t>(e.guest_instructions - last_instructions_)));
    put_state(e.taken, last_handled_[e.vcpu]);
    put_state(e.handled, e.taken);
    last_handled_[e.vcpu] = e.handled;
    last_number_ = e.number;
    last_vtime_ = e.vtime_ns;
    last_instructions_ = e.guest_instructions;
    ++exit_records_;
    if (pending_.size() >= kPieceBytes) compress(false);
}

void RecordingWriter::checkpoint(std::uint64_t after_exit, std::uint64_t vtime_ns,
                                 const std::vector<std::uint64_t>& pages)
{
    if (last_pages_.size() != pages.size()) {
        // The first checkpoint (memory does not change size in a run):
        // against all-zero pages, which fresh machine memory is.
        last_pages_.assign(pages.size(), zero_page_hash());
    }
    pending_.push_back(static_cast<char>(RecordTag::CHECKPOINT));
    put_varint(after_exit);
    put_varint(vtime_ns);
    put_varint(pages.size());
    std::uint64_t changed = 0;
    for (std::size_t p = 0; p < pages.size(); ++p) changed += pages[p] != last_pages_[p];
    put_varint(changed);
    std::uint64_t previous = 0;
    for (std::size_t p = 0; p < pages.size(); ++p) {
        if (pages[p] == last_pages_[p]) continue;
        put_varint(p - previous);
        put_u64(pages[p]);
        previous = p;
    }
    last_pages_ = pages;
    ++checkpoint_records_;
    if (pending_.size() >= kPieceBytes) compress(false);
}

void RecordingWriter::compress(bool end)
{
    if (cctx_ == nullptr) return;
    ZSTD_inBuffer in{pending_.data(), pending_.size(), 0};
    const ZSTD_EndDirective mode = end ? ZSTD_e_end : ZSTD_e_continue;
    for (;;) {
        ZSTD_outBuffer out{compressed_.data(), compressed_.size(), 0};
        const std::size_t left = ZSTD_compressStream2(cctx_, &out, &in, mode);
        if (ZSTD_isError(left)) {
            fail(std::string("zstd: ") + ZSTD_getErrorName(left));
            break;
        }
        write(compressed_.data(), out.pos);
        if (!error_.empty()) break;
        if (end ? left == 0 : in.pos == in.size) break;
    }
    pending_.clear();
}

Outcome<std::uint64_t> RecordingWriter::finish(EndRecord end)
{
    end.exit_records = exit_records_;
    end.checkpoint_records = checkpoint_records_;
    pending_.push_back(static_cast<char>(RecordTag::END));
    pending_.push_back(static_cast<char>(end.ok ? 1 : 0));
    put_varint(end.failure);
    put_varint(zigzag_encode(end.status));
    put_string(end.end);
    put_string(end.end_reason);
    put_string(end.error);
    for (std::uint64_t v : {end.exits, end.guest_instructions, end.emulated_instructions, end.vtime_ns}) put_varint(v);
    put_u64(end.memory_hash);
    put_varint(end.console_bytes);
    put_u64(end.console_hash);
    put_varint(end.exit_records);
    put_varint(end.checkpoint_records);
    compress(true);
    if (checksum_ != nullptr) {
        // The file checksum: zstd's covers the decompressed body, this one
        // every byte of the file (bits zstd would ignore included).
        const std::uint64_t sum = XXH64_digest(checksum_);
        std::uint8_t trailer[kRecordingTrailerBytes];
        for (unsigned i = 0; i < 8; ++i) trailer[i] = static_cast<std::uint8_t>(sum >> (8 * i));
        write(trailer, sizeof trailer);
    }
    std::FILE* file = file_;
    file_ = nullptr;
    const long size = std::ftell(file);
    if (std::ferror(file) != 0) fail(std::strerror(errno));
    if (std::fclose(file) != 0) fail(std::strerror(errno));
    if (!error_.empty()) return Failure{error_};
    return static_cast<std::uint64_t>(size);
}

}  // namespace xeno::harness
