#include "harness/recording_reader.hpp"

#include <xxhash.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>

#include <fmt/core.h>

#include "harness/machine_digest.hpp"

namespace xeno::harness {

namespace {

constexpr std::size_t kInputChunk = std::size_t{128} << 10;
// Bounds of what a recording can hold, so a corrupted length is found
// before anything that large is allocated (bytes are read as they come).
constexpr std::uint64_t kMaxStringBytes = std::uint64_t{1} << 20;
constexpr std::uint64_t kMaxArgs = 4096;
constexpr std::uint64_t kMaxInputs = 256;
constexpr std::uint64_t kMaxSerialBytes = std::uint64_t{1} << 30;
constexpr std::uint64_t kMaxVcpus = 256;
// Machine memory: 64 GiB of guest RAM (kMaxGuestMemMb) and the hypervisor's
// share and modules fit; a checkpoint's guest frames also span the 1 GiB
// hole below 4 GiB.
constexpr std::uint64_t kMaxMachineBytes = std::uint64_t{128} << 30;
constexpr std::uint64_t kHoleFrames = (std::uint64_t{1} << 30) / kPageBytes;
constexpr std::uint64_t kStateMaskLimit = std::uint64_t{1} << kStateFields;

}  // namespace

RecordingReader::RecordingReader(std::FILE* file, std::filesystem::path path)
    : file_(file), path_(std::move(path)), dctx_(ZSTD_createDCtx()), checksum_(XXH64_createState())
{
    if (checksum_ != nullptr) XXH64_reset(checksum_, 0);
}

RecordingReader::~RecordingReader()
{
    ZSTD_freeDCtx(dctx_);
    XXH64_freeState(checksum_);
    if (file_ != nullptr) std::fclose(file_);
}

Failure RecordingReader::failure() const
{
    return Failure{fmt::format("{}: {}", path_.string(), error_)};
}

bool RecordingReader::corrupted(const std::string& what)
{
    if (error_.empty()) {
        error_ = fmt::format("corrupted recording ({} at byte {} of its body)", what, consumed_ + pos_);
    }
    return false;
}

Outcome<std::unique_ptr<RecordingReader>> RecordingReader::open(const std::filesystem::path& path)
{
    std::FILE* file = std::fopen(path.c_str(), "rb");
    if (file == nullptr) {
        return Failure{fmt::format("cannot read {}: {}", path.string(), std::strerror(errno))};
    }
    std::unique_ptr<RecordingReader> r(new RecordingReader(file, path));
    if (r->dctx_ == nullptr || r->checksum_ == nullptr) {
        return Failure{"could not allocate the decompression context"};
    }
    std::uint8_t header[kRecordingHeaderBytes];
    const std::size_t got = std::fread(header, 1, sizeof header, file);
    const std::size_t magic = got < sizeof kRecordingMagic ? got : sizeof kRecordingMagic;
    if (got == 0) {
        return Failure{fmt::format("{}: empty file, not a xeno recording", path.string())};
    }
    if (std::memcmp(header, kRecordingMagic, magic) != 0) {
        return Failure{fmt::format("{}: not a xeno recording (it does not start with XENOREC)", path.string())};
    }
    if (got < sizeof header) {
        return Failure{fmt::format("{}: truncated recording (the file ends inside its {}-byte header)",
                                   path.string(), sizeof header)};
    }
    std::uint32_t version = 0;
    for (unsigned i = 0; i < 4; ++i) version |= std::uint32_t{header[8 + i]} << (8 * i);
    if (version != kRecordingFormatVersion) {
        return Failure{fmt::format("{}: recording format version {}; this xeno reads version {} only",
                                   path.string(), version, kRecordingFormatVersion)};
    }
    if (header[12] != 0 || header[13] != 0 || header[14] != 0 || header[15] != 0) {
        return Failure{fmt::format("{}: corrupted recording (its header's reserved bytes are not zero)",
                                   path.string())};
    }
    XXH64_update(r->checksum_, header, sizeof header);
    if (!r->read_config()) {
        return r->failure();
    }
    return r;
}

bool RecordingReader::refill()
{
    if (!error_.empty()) return false;
    if (frame_done_) return corrupted("the body ends inside a record");
    if (pos_ != 0) {
        consumed_ += pos_;
        data_.erase(data_.begin(), data_.begin() + static_cast<std::ptrdiff_t>(pos_));
        pos_ = 0;
    }
    if (input_pos_ == input_.size()) {
        input_.resize(kInputChunk);
        const std::size_t got = std::fread(input_.data(), 1, input_.size(), file_);
        input_.resize(got);
        input_pos_ = 0;
        if (got == 0) {
            error_ = std::ferror(file_) != 0 ? fmt::format("cannot read: {}", std::strerror(errno))
                                             : "truncated recording (the file ends inside its compressed body)";
            return false;
        }
    }
    const std::size_t had = data_.size();
    data_.resize(had + ZSTD_DStreamOutSize());
    ZSTD_inBuffer in{input_.data(), input_.size(), input_pos_};
    ZSTD_outBuffer out{data_.data() + had, data_.size() - had, 0};
    const std::size_t ret = ZSTD_decompressStream(dctx_, &out, &in);
    XXH64_update(checksum_, input_.data() + input_pos_, in.pos - input_pos_);
    input_pos_ = in.pos;
    data_.resize(had + out.pos);
    if (ZSTD_isError(ret)) {
        error_ = fmt::format("corrupted recording (zstd: {})", ZSTD_getErrorName(ret));
        return false;
    }
    if (ret == 0) frame_done_ = true;
    return true;
}

bool RecordingReader::need(std::size_t n)
{
    while (data_.size() - pos_ < n) {
        if (!refill()) return false;
    }
    return true;
}

bool RecordingReader::get_byte(std::uint8_t& v)
{
    if (!need(1)) return false;
    v = data_[pos_++];
    return true;
}

bool RecordingReader::get_varint(std::uint64_t& v)
{
    v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        std::uint8_t b = 0;
        if (!get_byte(b)) return false;
        if (shift == 63 && (b & 0x7e) != 0) break;
        v |= std::uint64_t{b & 0x7fu} << shift;
        if ((b & 0x80) == 0) return true;
    }
    return corrupted("a number longer than 64 bits");
}

bool RecordingReader::get_varint_max(std::uint64_t& v, std::uint64_t max, const char* what)
{
    if (!get_varint(v)) return false;
    if (v > max) return corrupted(fmt::format("{} {} is more than {}", what, v, max));
    return true;
}

bool RecordingReader::get_u64(std::uint64_t& v)
{
    if (!need(8)) return false;
    v = 0;
    for (unsigned i = 0; i < 8; ++i) v |= std::uint64_t{data_[pos_ + i]} << (8 * i);
    pos_ += 8;
    return true;
}

bool RecordingReader::get_bytes(std::vector<std::uint8_t>& bytes, std::uint64_t max, const char* what)
{
    std::uint64_t n = 0;
    if (!get_varint_max(n, max, what)) return false;
    bytes.clear();
    // As they arrive: a corrupted length runs into the end of the body
    // before it allocates much.
    while (bytes.size() < n) {
        if (data_.size() == pos_ && !refill()) return false;
        const std::size_t take = std::min<std::uint64_t>(n - bytes.size(), data_.size() - pos_);
        bytes.insert(bytes.end(), data_.begin() + static_cast<std::ptrdiff_t>(pos_),
                     data_.begin() + static_cast<std::ptrdiff_t>(pos_ + take));
        pos_ += take;
    }
    return true;
}

bool RecordingReader::get_string(std::string& s, std::uint64_t max, const char* what)
{
    std::vector<std::uint8_t> bytes;
    if (!get_bytes(bytes, max, what)) return false;
    s.assign(bytes.begin(), bytes.end());
    return true;
}

bool RecordingReader::get_state(GuestState& state, const GuestState& reference)
{
    std::uint64_t mask = 0;
    if (!get_varint_max(mask, kStateMaskLimit - 1, "a register mask")) return false;
    for (std::size_t i = 0; i < kStateFields; ++i) {
        state[i] = reference[i];
        if ((mask & (std::uint64_t{1} << i)) && !get_u64(state[i])) return false;
    }
    return true;
}

bool RecordingReader::read_config()
{
    std::uint8_t tag = 0;
    if (!get_byte(tag)) return false;
    if (tag != static_cast<std::uint8_t>(RecordTag::CONFIG)) {
        return corrupted("the body does not start with the run's configuration");
    }
    RecordedConfig& c = config_;
    std::uint64_t n = 0;
    if (!get_string(c.xeno_version, kMaxStringBytes, "the version's length")) return false;
    if (!get_varint_max(n, kMaxArgs, "the argument count")) return false;
    c.run_args.resize(n);
    for (std::string& a : c.run_args) {
        if (!get_string(a, kMaxStringBytes, "an argument's length")) return false;
    }
    if (!get_varint(c.checkpoint_exits) || !get_varint(c.checkpoint_vtime_ns)) return false;
    if (!get_string(c.profile, kMaxStringBytes, "the profile's length")) return false;
    if (!get_varint_max(c.memory_bytes, kMaxMachineBytes, "the machine memory size")) return false;
    if (!get_string(c.guest_cmdline, kMaxStringBytes, "a module string's length")) return false;
    if (!get_string(c.cmdline, kMaxStringBytes, "the command line's length")) return false;
    for (std::uint64_t* v : {&c.max_guest_instructions, &c.max_vtime_ns, &c.wall_timeout_ms, &c.decoy_bytes,
                             &c.rtc_epoch}) {
        if (!get_varint(*v)) return false;
    }
    if (!get_varint_max(n, kMaxInputs, "the input count")) return false;
    c.inputs.resize(n);
    for (InputDigest& d : c.inputs) {
        if (!get_string(d.name, kMaxStringBytes, "an input name's length") || !get_varint(d.size) ||
            !get_u64(d.hash_low) || !get_u64(d.hash_high)) {
            return false;
        }
    }
    return get_bytes(c.serial_input, kMaxSerialBytes, "the serial input's length");
}

bool RecordingReader::read_exit()
{
    ExitRecord& e = exit_;
    std::uint64_t delta = 0, vcpu = 0, reason = 0, vtime = 0, instructions = 0;
    if (!get_varint(delta) || !get_varint_max(vcpu, kMaxVcpus - 1, "a vcpu number") ||
        !get_varint_max(reason, 0xffffffff, "an exit reason") || !get_varint(e.qualification) ||
        !get_varint(vtime) || !get_varint(instructions)) {
        return false;
    }
    if (delta == 0) return corrupted("an exit numbered like the one before it");
    e.number += delta;
    e.vcpu = static_cast<std::uint32_t>(vcpu);
    e.reason = static_cast<std::uint32_t>(reason);
    e.vtime_ns += static_cast<std::uint64_t>(zigzag_decode(vtime));
    e.guest_instructions += static_cast<std::uint64_t>(zigzag_decode(instructions));
    if (last_handled_.size() <= e.vcpu) last_handled_.resize(e.vcpu + std::size_t{1}, GuestState{});
    if (!get_state(e.taken, last_handled_[e.vcpu]) || !get_state(e.handled, e.taken)) return false;
    last_handled_[e.vcpu] = e.handled;
    ++exit_records_;
    return true;
}

bool RecordingReader::read_checkpoint()
{
    CheckpointRecord& k = checkpoint_;
    std::uint64_t pages = 0, changed = 0;
    if (!get_varint(k.after_exit) || !get_varint(k.vtime_ns)) return false;
    if (!get_varint_max(pages, config_.memory_bytes / kPageBytes + kHoleFrames, "a checkpoint's page count")) {
        return false;
    }
    if (!get_varint_max(changed, pages, "the changed-page count")) return false;
    if (k.page_hashes.size() != pages) k.page_hashes.assign(pages, zero_page_hash());
    std::uint64_t page = 0;
    for (std::uint64_t i = 0; i < changed; ++i) {
        std::uint64_t delta = 0;
        if (!get_varint(delta)) return false;
        if ((i != 0 && delta == 0) || delta >= pages - page) return corrupted("a page index out of order or range");
        page += delta;
        if (!get_u64(k.page_hashes[page])) return false;
    }
    ++checkpoint_records_;
    return true;
}

bool RecordingReader::read_end()
{
    EndRecord& e = end_;
    std::uint8_t ok = 0;
    std::uint64_t failure = 0, status = 0;
    if (!get_byte(ok) || !get_varint_max(failure, 4, "a failure kind") || !get_varint(status)) return false;
    if (ok > 1) return corrupted("a flag that is neither 0 nor 1");
    e.ok = ok == 1;
    e.failure = static_cast<std::uint8_t>(failure);
    e.status = zigzag_decode(status);
    if (!get_string(e.end, kMaxStringBytes, "a string's length") ||
        !get_string(e.end_reason, kMaxStringBytes, "a string's length") ||
        !get_string(e.error, kMaxStringBytes, "a string's length")) {
        return false;
    }
    for (std::uint64_t* v : {&e.exits, &e.guest_instructions, &e.emulated_instructions, &e.vtime_ns}) {
        if (!get_varint(*v)) return false;
    }
    if (!get_u64(e.memory_hash) || !get_varint(e.console_bytes) || !get_u64(e.console_hash) ||
        !get_varint(e.exit_records) || !get_varint(e.checkpoint_records)) {
        return false;
    }
    if (e.exit_records != exit_records_ || e.checkpoint_records != checkpoint_records_) {
        return corrupted(fmt::format("its end counts {} exits and {} checkpoints, the body has {} and {}",
                                     e.exit_records, e.checkpoint_records, exit_records_, checkpoint_records_));
    }
    return check_stream_end();
}

bool RecordingReader::check_stream_end()
{
    if (pos_ != data_.size()) return corrupted("data after the end record");
    // The rest of the frame: its checksum, checked by zstd.
    while (!frame_done_) {
        if (!refill()) return false;
        if (pos_ != data_.size()) return corrupted("data after the end record");
    }
    // The trailer: exactly the file checksum, then the end of the file.
    std::vector<std::uint8_t> trailer(input_.begin() + static_cast<std::ptrdiff_t>(input_pos_), input_.end());
    input_pos_ = input_.size();
    std::uint8_t more[kRecordingTrailerBytes + 1];
    while (trailer.size() <= kRecordingTrailerBytes) {
        const std::size_t got = std::fread(more, 1, sizeof more, file_);
        if (got == 0) break;
        trailer.insert(trailer.end(), more, more + got);
    }
    if (trailer.size() < kRecordingTrailerBytes) {
        error_ = "truncated recording (the file ends inside its closing checksum)";
        return false;
    }
    if (trailer.size() > kRecordingTrailerBytes) {
        error_ = "corrupted recording (bytes after its closing checksum)";
        return false;
    }
    std::uint64_t sum = 0;
    for (unsigned i = 0; i < 8; ++i) sum |= std::uint64_t{trailer[i]} << (8 * i);
    if (sum != XXH64_digest(checksum_)) {
        error_ = "corrupted recording (the file's checksum does not match its bytes)";
        return false;
    }
    return true;
}

Outcome<RecordTag> RecordingReader::next()
{
    if (ended_) {
        return Failure{fmt::format("{}: read past the end record", path_.string())};
    }
    std::uint8_t tag = 0;
    bool ok = get_byte(tag);
    if (ok) {
        switch (static_cast<RecordTag>(tag)) {
        case RecordTag::EXIT: ok = read_exit(); break;
        case RecordTag::CHECKPOINT: ok = read_checkpoint(); break;
        case RecordTag::END:
            ok = read_end();
            ended_ = true;
            break;
        case RecordTag::CONFIG:
        default: ok = corrupted(fmt::format("an unknown record kind {:#04x}", tag)); break;
        }
    }
    if (!ok) return failure();
    return static_cast<RecordTag>(tag);
}

Outcome<RecordingSummary> check_recording(const std::filesystem::path& path)
{
    Outcome<std::unique_ptr<RecordingReader>> opened = RecordingReader::open(path);
    if (!opened.ok()) return Failure{opened.error()};
    RecordingReader& reader = *opened.value();
    for (;;) {
        Outcome<RecordTag> tag = reader.next();
        if (!tag.ok()) return Failure{tag.error()};
        if (tag.value() == RecordTag::END) break;
    }
    return RecordingSummary{reader.config(), reader.end()};
}

}  // namespace xeno::harness
