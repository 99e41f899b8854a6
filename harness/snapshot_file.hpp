// A snapshot of a run (`xeno run --snapshot-at POINT FILE`, `xeno run
// --restore FILE`): not an image of the process (the hypervisor's state
// lives on the host stack inside Unicorn callbacks, in globals and in
// Unicorn's translation state), but what is needed to get back to the same
// machine state by deterministic re-execution, and to prove it got there:
//
//   - a recording (recording_format.hpp) of the run up to the point: the
//     run's machine arguments, the machine configuration with a digest of
//     every input, and every exit up to the point; its END holds the point
//     (exits, instructions, virtual time, the console so far);
//   - the point: as asked (an exit number, or a virtual time: the first exit
//     at or after it) and the exit it resolved to;
//   - the whole-machine state after that exit's handler: guest RAM page by
//     page through the p2m (XXH3-64 a page, machine_digest.hpp) and each
//     vcpu's registers as its last exit's handler left them (the GuestState
//     of a recording);
//   - the xeno that wrote it: version and a build identifier (xxh64 of the
//     xeno executable).
//
// File: "XENOSNAP" (8 bytes), format version (u32 LE), reserved (u32, 0);
// one zstd frame with its content checksum; xxh64 (seed 0) of every byte
// before it (u64 LE). The body, integers as LEB128 varints, strings and
// byte strings as a varint length and the bytes:
//
//   xeno-version build-id(u64 LE) point-kind(0 exit, 1 vtime) point-value
//   exit vtime-ns guest-instructions console-bytes console-xxh64(u64 LE)
//   vcpus(count, {last-exit GuestState(kStateFields x u64 LE)})
//   pages(count, xxh3-64 x u64 LE) recording(bytes)
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "harness/outcome.hpp"
#include "harness/recording_format.hpp"

namespace xeno::harness {

inline constexpr char kSnapshotMagic[8] = {'X', 'E', 'N', 'O', 'S', 'N', 'A', 'P'};
inline constexpr std::uint32_t kSnapshotFormatVersion = 1;

// Where a snapshot is taken: after the handler of exit N, or of the first
// exit at or after a virtual time.
struct SnapshotPoint {
    enum class Kind : std::uint8_t { EXIT = 0, VTIME = 1 };
    Kind kind = Kind::EXIT;
    std::uint64_t value = 0;  // the exit number, or virtual nanoseconds
};

// "18234": exit 18234; "12.5ms", "250us", "3s", "100ns": virtual time.
Outcome<SnapshotPoint> parse_snapshot_point(std::string_view text);
std::string format_snapshot_point(const SnapshotPoint& point);  // "exit 18234", "virtual time 12500000 ns"

struct SnapshotVcpu {
    std::uint64_t last_exit = 0;  // its last exit up to the point (0: none yet)
    GuestState state{};           // as that exit's handler left it
    bool operator==(const SnapshotVcpu&) const = default;
};

// The machine after the handler of exit `exit`.
struct SnapshotState {
    std::uint64_t exit = 0;
    std::uint64_t vtime_ns = 0;
    std::uint64_t guest_instructions = 0;
    std::uint64_t console_bytes = 0;
    std::uint64_t console_hash = 0;     // xxh64 of the guest's console so far
    std::vector<SnapshotVcpu> vcpus;    // in exit_event.hpp's vcpu order
    std::vector<std::uint64_t> pages;   // guest RAM: XXH3-64 per frame, guest-physical order
};

struct Snapshot {
    std::string xeno_version;
    std::uint64_t build_id = 0;
    SnapshotPoint point;                // as asked
    SnapshotState state;
    std::vector<std::uint8_t> recording;  // a XENOREC file's bytes
};

// The build identifier of this xeno: xxh64 of its executable (0 when it
// cannot be read).
std::uint64_t this_build_id();

// Writes `snapshot` to `path`: its size in bytes, or why not.
Outcome<std::uint64_t> write_snapshot(const std::filesystem::path& path, const Snapshot& snapshot);

// Reads and checks a snapshot file: not one (a recording is named as one),
// another format version, truncated, corrupted: one line that says which.
Outcome<Snapshot> read_snapshot(const std::filesystem::path& path);

// How `now` differs from `saved`, one item a line ("guest RAM: 3 of 32768
// pages differ, at guest-physical 0x1000 0x2000 0x7000", "vcpu 1 rax: saved
// 0x5, now 0x6"); empty when they are the same.
std::vector<std::string> state_differences(const SnapshotState& saved, const SnapshotState& now);

}  // namespace xeno::harness
