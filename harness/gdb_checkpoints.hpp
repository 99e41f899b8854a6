// Fork-based checkpoints for the GDB stub's reverse execution.
//
// Reverse execution re-runs the machine to an earlier instruction
// (gdb_target.hpp). From the start that costs the whole run so far; a
// checkpoint makes it cost only the part since the checkpoint. A checkpoint
// is the process itself, forked at a stop: the parent keeps the machine
// exactly as it was there and waits, the child goes on as the live session.
// When GDB asks to go back, the live process writes where to into the
// memory the processes share and exits; its parent, if it stands at or
// before that point, forks a fresh child that runs from there (the parent
// stays a checkpoint), else it exits too and the request goes up the chain;
// the first process (xeno's own, whose exit status the caller sees) re-runs
// the machine in-process when the point is before all checkpoints. When the
// run ends, the live process prints what xeno prints and exits; each
// checkpoint exits with its status, so xeno's process ends last.
//
// What the live process changes and a woken checkpoint must see lives in a
// MAP_SHARED page: the output already passed on (so a re-run repeats none),
// the protocol state (no-ack mode, selected threads, a stop reply owed), the
// breakpoints and watchpoints, and the message itself.
#pragma once

#include <cstdint>

#include "harness/gdb_stop.hpp"

namespace xeno::harness::gdb {

struct CheckpointMessage {
    enum class Kind : std::uint8_t {
        NONE,        // the child ended the run: exit with its status
        REWIND,      // stop at `position` with `report`
        SCAN_BELOW,  // reverse-continue: the last hit before `position`
    };
    Kind kind = Kind::NONE;
    std::uint64_t position = 0;
    StopReport report;
};

struct SharedPoint {
    PointType type;
    std::uint64_t address, length;
    std::uint8_t ranges;                 // machine ranges used (watchpoints: at most 2 pages)
    std::uint64_t machine[2][2];         // (begin, length)
};

struct ServerShared {
    bool ack_mode = true;
    bool resume_pending = false;        // GDB waits for a stop reply
    std::uint64_t general_thread = 0;   // Hg
    std::uint64_t continue_thread = 0;  // Hc
};

inline constexpr unsigned kMaxSharedPoints = 64;

struct SharedSession {
    std::uint64_t passed_on[3] = {};  // console, log, trace bytes passed on (gdb_run.cpp)
    ServerShared server;
    CheckpointMessage message;
    unsigned point_count = 0;
    SharedPoint points[kMaxSharedPoints] = {};
};

// A SharedSession in anonymous shared memory (inherited by forked children);
// nullptr if mmap fails (the stub then runs without checkpoints).
SharedSession* map_shared_session();

// The checkpoint interval: XENO_GDB_CHECKPOINT_INTERVAL instructions if set
// (0: no checkpoints), else the default.
inline constexpr std::uint64_t kDefaultCheckpointInterval = 4'000'000;
std::uint64_t checkpoint_interval_from_environment();

}  // namespace xeno::harness::gdb
