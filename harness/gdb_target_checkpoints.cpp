// The GDB stub's fork-based checkpoints (gdb_checkpoints.hpp).
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <new>

#include "harness/gdb_target.hpp"

namespace xeno::harness::gdb {

namespace {

// Forked copies held at once: each keeps its share of machine memory that
// later runs changed (copy-on-write), so the chain is bounded.
constexpr unsigned kMaxCheckpoints = 16;

}  // namespace

SharedSession* map_shared_session()
{
    void* p = ::mmap(nullptr, sizeof(SharedSession), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    return new (p) SharedSession{};
}

std::uint64_t checkpoint_interval_from_environment()
{
    const char* text = std::getenv("XENO_GDB_CHECKPOINT_INTERVAL");
    if (!text || !*text) return kDefaultCheckpointInterval;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(text, &end, 10);
    return *end ? kDefaultCheckpointInterval : v;
}

void Target::publish_points()
{
    shared_->point_count = 0;
    for (const Point& p : points_) {
        if (shared_->point_count == kMaxSharedPoints) break;  // insert_point keeps to the limit
        SharedPoint& s = shared_->points[shared_->point_count++];
        s.type = p.type;
        s.address = p.address;
        s.length = p.length;
        s.ranges = 0;
        for (auto [begin, length] : p.machine) {
            if (s.ranges == 2) break;
            s.machine[s.ranges][0] = begin;
            s.machine[s.ranges][1] = length;
            ++s.ranges;
        }
    }
}

void Target::load_points()
{
    points_.clear();
    for (unsigned i = 0; i < shared_->point_count; ++i) {
        const SharedPoint& s = shared_->points[i];
        Point p{s.type, s.address, s.length, {}};
        for (unsigned r = 0; r < s.ranges; ++r) p.machine.emplace_back(s.machine[r][0], s.machine[r][1]);
        points_.push_back(std::move(p));
    }
    update_watching();
}

void Target::leave_to_checkpoint(CheckpointMessage::Kind kind, std::uint64_t position, const StopReport& report)
{
    publish_points();
    shared_->message = CheckpointMessage{kind, position, report};
    // What this process wrote counts as passed on: it must reach the file.
    std::fflush(nullptr);
    std::_Exit(0);
}

void Target::checkpoint_if_due()
{
    if (!shared_ || checkpoint_interval_ == 0 || depth_ >= kMaxCheckpoints || modified_ || detached_) return;
    if (position_ < checkpoint_position_ + checkpoint_interval_) return;
    std::fflush(nullptr);  // nothing buffered twice
    for (;;) {
        shared_->message = CheckpointMessage{};
        const pid_t child = ::fork();
        if (child < 0) return;  // no checkpoint: go on without one
        if (child == 0) {
            // The live session from here on; it dies with its checkpoint
            // (xeno killed: no orphaned copies left running).
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            ++depth_;
            checkpoint_position_ = position_;
            if (plan_ == Plan::REPLAY_TO && plan_position_ == position_) {
                plan_ = Plan::LIVE;
                immediate_stop_ = plan_report_;
            } else if (plan_ == Plan::SCAN) {
                // The instruction here, not yet run, is part of the scan.
                StopReport::Why why;
                if (breakpoint_at(current_address_, &why)) {
                    scan_found_ = true;
                    scan_best_ = position_;
                    scan_report_ = StopReport{plain_unless_flat(current_address_, why), current_vcpu_, 0};
                }
            }
            return;
        }
        // The checkpoint: wait for the live session to end or come back.
        int status = 0;
        while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
        }
        const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        const CheckpointMessage m = shared_->message;
        if (m.kind == CheckpointMessage::Kind::NONE) std::_Exit(code);  // the run ended there; all is printed
        load_points();
        if (m.kind == CheckpointMessage::Kind::REWIND && m.position >= position_) {
            plan_ = Plan::REPLAY_TO;
            plan_position_ = m.position;
            plan_report_ = m.report;
            continue;  // a new child runs from here to there
        }
        if (m.kind == CheckpointMessage::Kind::SCAN_BELOW && m.position > position_) {
            plan_ = Plan::SCAN;
            plan_position_ = m.position;
            scan_found_ = false;
            continue;  // a new child looks for the last hit between here and there
        }
        if (depth_ > 0) std::_Exit(0);  // before this checkpoint: the one above decides
        // Before the first checkpoint: this process re-runs from the start.
        shared_->message = CheckpointMessage{};
        if (m.kind == CheckpointMessage::Kind::REWIND) rewind_to(m.position, m.report);
        else scan_before(m.position);
        return;
    }
}

}  // namespace xeno::harness::gdb
