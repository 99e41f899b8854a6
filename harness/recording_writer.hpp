// Writing a recording (recording_format.hpp) as the run goes: the header
// and CONFIG first, EXIT and CHECKPOINT records as the machine reports them,
// END last. The body is compressed in fixed-size pieces at one zstd level,
// single-threaded, so the same run gives the same file byte for byte.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "harness/outcome.hpp"
#include "harness/recording_format.hpp"

struct ZSTD_CCtx_s;
struct XXH64_state_s;

namespace xeno::harness {

class RecordingWriter {
public:
    // Creates (or truncates) `path` and writes the header and CONFIG.
    static Outcome<std::unique_ptr<RecordingWriter>> create(const std::filesystem::path& path,
                                                            const RecordedConfig& config);
    ~RecordingWriter();
    RecordingWriter(const RecordingWriter&) = delete;
    RecordingWriter& operator=(const RecordingWriter&) = delete;

    void exit(const ExitRecord& exit);
    void checkpoint(std::uint64_t after_exit, std::uint64_t vtime_ns, const std::vector<std::uint64_t>& page_hashes);
    // END (its record counts filled in), the end of the zstd frame, and the
    // file closed: the file's size, or why it could not be written.
    Outcome<std::uint64_t> finish(EndRecord end);

    std::uint64_t exit_records() const { return exit_records_; }
    std::uint64_t checkpoint_records() const { return checkpoint_records_; }

private:
    RecordingWriter(std::FILE* file, std::filesystem::path path);
    void put_varint(std::uint64_t v);
    void put_u64(std::uint64_t v);
    void put_string(const std::string& s);
    void put_bytes(const std::uint8_t* data, std::size_t n);
    void put_state(const GuestState& state, const GuestState& reference);
    // Compresses what is pending (all of it at the end: the frame's end).
    void compress(bool end);
    void fail(std::string why);
    void write(const void* data, std::size_t n);  // to the file, and into the file checksum

    std::FILE* file_;
    std::filesystem::path path_;
    ZSTD_CCtx_s* cctx_ = nullptr;
    XXH64_state_s* checksum_ = nullptr;  // of every byte written
    std::string pending_;            // body bytes not compressed yet
    std::vector<char> compressed_;   // zstd's output buffer
    std::string error_;              // the first failure

    std::vector<GuestState> last_handled_;  // per vcpu: the reference of its next taken state
    std::uint64_t last_number_ = 0, last_vtime_ = 0, last_instructions_ = 0;
    std::vector<std::uint64_t> last_pages_;
    std::uint64_t exit_records_ = 0, checkpoint_records_ = 0;
};

}  // namespace xeno::harness
