#include "timeline.h"

#include "apply.h"
#include "keys.h"

namespace spyrec::replayer {

WatchTimeline::WatchTimeline(ReadSession& session, Watch watch) : s_(session), watch_(std::move(watch)) {
    if (auto dbi = s_.rec().db(Table::kChanges)) cursor_ = std::make_unique<LmdbCursor>(s_.txn().get(), *dbi);
}

void WatchTimeline::load(MDB_cursor_op op) {
    pending_ = cursor_->get(k_, v_, op) && s_.change_key_of(k_, "changes").watch_id == watch_.id;
}

void WatchTimeline::position(uint64_t seq) {
    pending_ = false;
    if (!cursor_) return;
    auto target = schema::change_key(watch_.id, seq);
    k_ = to_val(key_view(target));
    load(MDB_SET_RANGE);
}

void WatchTimeline::from_start() {
    current_ = s_.keyframe(watch_.id, 0);
    position(0);
}

void WatchTimeline::seek(uint64_t seq) {
    auto keyframe = s_.keyframe_at_or_before(watch_.id, seq);
    uint64_t from = 0;
    current_.reset();
    if (keyframe) {
        from = keyframe->first + 1;
        current_ = std::move(keyframe->second);
        if (keyframe->first == std::numeric_limits<uint64_t>::max()) return;
    }
    position(from);
    while (pending_) {
        if (s_.change_key_of(k_, "changes").seq > seq) return;
        Change c = s_.change_at(k_, v_);
        current_ = after(c, current_);
        load(MDB_NEXT);
    }
}

std::optional<Value> WatchTimeline::after(const Change& c, const std::optional<Value>& before) {
    std::string where = s_.rec().path() + ": " + record_name("change", c.watch_id, c.seq);
    if (c.kind == Change::Kind::Vanished) return std::nullopt;
    if (c.has_keyframe) {
        auto value = s_.keyframe(c.watch_id, c.seq);
        if (!value) throw RecordingError("damaged recording: " + where + " has no keyframe, but says it has");
        return value;
    }
    if (!before) throw RecordingError("damaged recording: " + where + " edits a value that did not exist");
    Value out = *before;
    apply(out, c.ops, where);
    return out;
}

std::optional<Change> WatchTimeline::next(uint64_t up_to) {
    if (!pending_ || s_.change_key_of(k_, "changes").seq > up_to) return std::nullopt;
    Change c = s_.change_at(k_, v_);
    load(MDB_NEXT);
    c.after = after(c, current_);
    c.before = std::move(current_);
    current_ = c.after;
    return c;
}

}  // namespace spyrec::replayer
