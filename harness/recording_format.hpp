// The format of a recording (`xeno record`, `xeno replay`): what a recorded
// run consists of, and how it is laid out in the file.
//
// File: a 16-byte header that is not compressed (so a wrong file or version
// is named before anything is decompressed), one zstd frame with its
// content checksum (so a corrupted body is found, not replayed), and a
// checksum of the whole file (a changed bit that zstd would not notice, in
// padding, is found too):
//
//   header   "XENOREC\n" (8 bytes), format version (u32 LE), reserved (u32, 0)
//   body     CONFIG, then EXIT and CHECKPOINT records in the run's order, then END
//   trailer  xxh64 (seed 0) of every byte before it, u64 LE
//
// Integers in the body are LEB128 varints unless said otherwise; strings and
// byte strings are a varint length and the bytes. Register values are 8-byte
// little-endian (zstd compresses the repeats better than varints would).
//
//   CONFIG      'C' xeno-version run-args(count, strings) checkpoint-exits
//               checkpoint-vtime-ns profile memory-bytes guest-cmdline cmdline
//               max-guest-instructions max-vtime-ns wall-timeout-ms decoy-bytes
//               rtc-epoch inputs(count, {name size xxh128-low xxh128-high})
//               serial-input(bytes)
//   EXIT        'X' number-delta vcpu reason qualification vtime-delta(zigzag)
//               instructions-delta(zigzag) taken-state handled-state
//               where a state is a varint bit mask of the fields (GuestState)
//               that differ from a reference, then those fields' values: the
//               taken state against the vcpu's last handled state (all zero
//               before its first exit), the handled state against the taken one
//   CHECKPOINT  'K' after-exit vtime-ns page-count changed-count
//               changed-count x {page-index-delta xxh3-64 (8 bytes)}: the
//               pages of guest RAM (guest-physical order, machine_digest.hpp)
//               whose hash changed since the last checkpoint (since all-zero
//               pages for the first, or when the page count changes)
//   END         'E' ok failure status(zigzag) end end-reason error exits
//               guest-instructions emulated-instructions vtime-ns memory-hash
//               console-bytes console-xxh64 exit-records checkpoint-records
//
// A new field or record kind is a new format version: a reader refuses any
// version but its own rather than guess.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace xeno::harness {

inline constexpr char kRecordingMagic[8] = {'X', 'E', 'N', 'O', 'R', 'E', 'C', '\n'};
inline constexpr std::uint32_t kRecordingFormatVersion = 1;
inline constexpr std::size_t kRecordingHeaderBytes = 16;
inline constexpr std::size_t kRecordingTrailerBytes = 8;

enum class RecordTag : std::uint8_t { CONFIG = 'C', EXIT = 'X', CHECKPOINT = 'K', END = 'E' };

// Defaults of `xeno record`: a checkpoint after every this many exits, or
// the first exit past this much virtual time since the last one.
inline constexpr std::uint64_t kDefaultCheckpointExits = 1000;
inline constexpr std::uint64_t kDefaultCheckpointVtimeMs = 100;

inline constexpr std::uint64_t kPageBytes = 4096;

// A file that went into the machine: its name in the machine's
// configuration ("boot module 0", the module's string, "serial input") and
// its identity.
struct InputDigest {
    std::string name;
    std::uint64_t size = 0;
    std::uint64_t hash_low = 0, hash_high = 0;  // XXH3-128 of the bytes
    bool operator==(const InputDigest&) const = default;
};

// Everything that went into the recorded run: the arguments it was started
// with, and the machine configuration they produced (every file as a digest,
// the serial input embedded), so a replay can check it runs the same inputs.
struct RecordedConfig {
    std::string xeno_version;              // the xeno that recorded (a replay on another one says so)
    std::vector<std::string> run_args;     // `xeno run`'s arguments
    std::uint64_t checkpoint_exits = 0;    // 0: none by exit count
    std::uint64_t checkpoint_vtime_ns = 0; // 0: none by virtual time
    std::string profile;
    std::uint64_t memory_bytes = 0;
    std::string guest_cmdline;
    std::string cmdline;                   // the hypervisor's command line
    std::uint64_t max_guest_instructions = 0;
    std::uint64_t max_vtime_ns = 0;
    std::uint64_t wall_timeout_ms = 0;
    std::uint64_t decoy_bytes = 0;
    std::uint64_t rtc_epoch = 0;           // the RTC's time at virtual time 0 (Unix seconds)
    std::vector<InputDigest> inputs;       // boot module 0, the other modules, the serial input
    std::vector<std::uint8_t> serial_input;
};

// The guest state an exit record holds: what VM exits and entries carry
// between the guest and the hypervisor. gpr[4] (RSP) is not in it: the VMCS
// has RSP; GuestRegs' slot is not loaded or saved.
inline constexpr std::size_t kStateFields = 34;
inline constexpr std::array<const char*, kStateFields> kStateFieldNames = {
    "rax",  "rcx",    "rdx", "rbx", "rbp", "rsi", "rdi",  "r8",   "r9",   "r10",   "r11",   "r12",
    "r13",  "r14",    "r15", "rip", "rsp", "rflags", "cr0", "cr3", "cr4", "cr2", "dr0", "dr1",
    "dr2",  "dr3",    "dr6", "xcr0", "star", "lstar", "cstar", "fmask", "kernel_gs_base",
    "fpu-xxh64",
};
using GuestState = std::array<std::uint64_t, kStateFields>;
inline constexpr std::size_t kRipField = 15;
static_assert(kStateFieldNames[kRipField][0] == 'r' && kStateFieldNames[kRipField][1] == 'i' &&
              kStateFieldNames[kRipField][2] == 'p' && kStateFieldNames[kRipField][3] == '\0');

// One VM exit: as the exit left the guest (taken) and as its handler left
// it for the next entry (handled).
struct ExitRecord {
    std::uint64_t number = 0;
    std::uint32_t vcpu = 0;
    std::uint32_t reason = 0;
    std::uint64_t qualification = 0;
    std::uint64_t vtime_ns = 0;
    std::uint64_t guest_instructions = 0;
    GuestState taken{};
    GuestState handled{};
};

// Guest RAM after the handler of exit `after_exit`, page by page.
struct CheckpointRecord {
    std::uint64_t after_exit = 0;
    std::uint64_t vtime_ns = 0;
    std::vector<std::uint64_t> page_hashes;  // per guest frame, the full list (the reader applies the changes)
};

// How the run ended (sim::MachineResult), with witnesses of its outputs.
struct EndRecord {
    bool ok = false;
    std::uint8_t failure = 0;              // sim::MachineResult::Failure
    std::int64_t status = -1;
    std::string end, end_reason, error;
    std::uint64_t exits = 0;
    std::uint64_t guest_instructions = 0;
    std::uint64_t emulated_instructions = 0;
    std::uint64_t vtime_ns = 0;
    std::uint64_t memory_hash = 0;         // xxh64 of machine memory after the domain was torn down
    std::uint64_t console_bytes = 0;
    std::uint64_t console_hash = 0;        // xxh64 of the guest's console output
    std::uint64_t exit_records = 0;
    std::uint64_t checkpoint_records = 0;
    bool operator==(const EndRecord&) const = default;
};

// Signed deltas as varints: 0, -1, 1, -2, ... as 0, 1, 2, 3, ...
constexpr std::uint64_t zigzag_encode(std::int64_t v)
{
    return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}
constexpr std::int64_t zigzag_decode(std::uint64_t v)
{
    return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
}

}  // namespace xeno::harness
