// The values of one watch over time, rebuilt from its keyframes and the ops of
// its changes (docs/value-model.md). A timeline holds one value, the current
// one, and walks the watch's changes forward with one LMDB cursor, so walking
// a whole recording costs the size of the value, not of the recording.
#pragma once
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>

#include "read_session.h"

namespace spyrec::replayer {

class WatchTimeline {
public:
    WatchTimeline(ReadSession& session, Watch watch);

    // Positions before the watch's first change: the value is its keyframe
    // at seq 0, or absent if it did not resolve at start.
    void from_start();
    // Positions after the last change with seq <= `seq`: the nearest keyframe
    // at or before it, then the ops of the changes between.
    void seek(uint64_t seq);

    // The value at the current position; nullopt: it did not exist.
    const std::optional<Value>& value() const { return current_; }
    const Watch& watch() const { return watch_; }

    // The next change with seq <= `up_to`, its before/after filled in, and
    // the position moved past it; nullopt when there is none.
    std::optional<Change> next(uint64_t up_to = std::numeric_limits<uint64_t>::max());

    // The value after `change`, given the value before it.
    std::optional<Value> after(const Change& change, const std::optional<Value>& before);

private:
    // Positions the cursor on the first change with seq >= `seq`.
    void position(uint64_t seq);
    // Loads the entry under the cursor (after `op`) if it belongs to this watch.
    void load(MDB_cursor_op op);

    ReadSession& s_;
    Watch watch_;
    std::unique_ptr<LmdbCursor> cursor_;
    MDB_val k_{}, v_{};
    bool pending_ = false;  // (k_, v_) is the next change, not applied yet
    std::optional<Value> current_;
};

}  // namespace spyrec::replayer
