// Rebuilding a watched value from its keyframe and the ops of the changes
// after it (docs/value-model.md, "How changes are stored"). Ops come from the
// recording, so they are untrusted: a path that does not lead anywhere, an
// index out of range or an op of the wrong shape for its container is a
// RecordingError ("damaged recording: <where>: ..."), never a crash.
#pragma once
#include <optional>
#include <string_view>

#include "records.h"

namespace spyrec::replayer {

// Structural equality, as the snapshot sees it: NaN equals NaN (the snapshot
// did not change), 0.0 is not -0.0 (their reprs differ), and two refs are
// equal when they name the same object (id and type; the repr is a label).
bool same(const Value& a, const Value& b);

// Whether a value that may not exist (nullopt) differs: existing or not, or by `same`.
inline bool differ(const std::optional<Value>& a, const std::optional<Value>& b) {
    if (a.has_value() != b.has_value()) return true;
    return a && !same(*a, *b);
}

// Applies one op to `root` in place. `where` names the change in errors.
void apply(Value& root, const Op& op, std::string_view where);

// Applies a change's ops in order.
void apply(Value& root, const std::vector<Op>& ops, std::string_view where);

}  // namespace spyrec::replayer
