// Reading a recording (recording_format.hpp) record by record, with every
// field checked: a file that is not a recording, of another format version,
// truncated or corrupted gives one line that says which, never a crash, a
// huge allocation or a hang. The zstd checksum is only known at the end of
// the body, so a replay reads the whole file once (check_recording) before
// it trusts any record.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "harness/outcome.hpp"
#include "harness/recording_format.hpp"

struct ZSTD_DCtx_s;
struct XXH64_state_s;

namespace xeno::harness {

class RecordingReader {
public:
    // Opens `path`, checks its header and reads CONFIG.
    static Outcome<std::unique_ptr<RecordingReader>> open(const std::filesystem::path& path);
    ~RecordingReader();
    RecordingReader(const RecordingReader&) = delete;
    RecordingReader& operator=(const RecordingReader&) = delete;

    const RecordedConfig& config() const { return config_; }

    // Reads the next record: EXIT (exit()), CHECKPOINT (checkpoint()) or END
    // (end(), after which the body and the file must end: checked here).
    Outcome<RecordTag> next();
    const ExitRecord& exit() const { return exit_; }
    const CheckpointRecord& checkpoint() const { return checkpoint_; }
    const EndRecord& end() const { return end_; }

private:
    RecordingReader(std::FILE* file, std::filesystem::path path);
    bool need(std::size_t n);  // at least n decompressed bytes at pos_ (else error_)
    bool refill();
    bool get_byte(std::uint8_t& v);
    bool get_varint(std::uint64_t& v);
    bool get_varint_max(std::uint64_t& v, std::uint64_t max, const char* what);
    bool get_u64(std::uint64_t& v);
    bool get_string(std::string& s, std::uint64_t max, const char* what);
    bool get_bytes(std::vector<std::uint8_t>& bytes, std::uint64_t max, const char* what);
    bool get_state(GuestState& state, const GuestState& reference);
    bool read_config();
    bool read_exit();
    bool read_checkpoint();
    bool read_end();
    bool check_stream_end();
    bool corrupted(const std::string& what);
    Failure failure() const;

    std::FILE* file_;
    std::filesystem::path path_;
    ZSTD_DCtx_s* dctx_ = nullptr;
    XXH64_state_s* checksum_ = nullptr;   // of the bytes before the trailer, as they are read
    std::vector<std::uint8_t> input_;      // compressed bytes read from the file
    std::size_t input_pos_ = 0;
    std::vector<std::uint8_t> data_;       // decompressed bytes not consumed yet (from pos_)
    std::size_t pos_ = 0;
    std::uint64_t consumed_ = 0;           // decompressed bytes consumed before data_ (for messages)
    bool frame_done_ = false;
    bool ended_ = false;
    std::string error_;

    RecordedConfig config_;
    ExitRecord exit_;
    CheckpointRecord checkpoint_;
    EndRecord end_;
    std::vector<GuestState> last_handled_;
    std::uint64_t exit_records_ = 0, checkpoint_records_ = 0;
};

// A whole recording read and checked: its configuration and how the
// recorded run ended.
struct RecordingSummary {
    RecordedConfig config;
    EndRecord end;
};
Outcome<RecordingSummary> check_recording(const std::filesystem::path& path);

}  // namespace xeno::harness
