// Sub-paths of a watched value: `os.environ['TZ']` when `os.environ` was
// watched. The steps are the rest of the expression after the watch's own
// (pyfrontend/spyrec/watch_expr.py parses it); locate() follows them into a
// value rebuilt for the watch.
#pragma once
#include <vector>

#include "records.h"

namespace spyrec::replayer {

struct SubStep {
    bool attribute = false;  // `.name`: a Str key of an object's attributes
    Value key;               // `[key]`: a dict key, or an Int index into a list or tuple
};

// The item the steps lead to inside `root`, or nullptr when it is not there
// (a missing key, an index out of range, a step into a value that is not a
// container of that kind). Negative indices count from the end, as in Python.
const Value* locate(const Value& root, const std::vector<SubStep>& steps);

// The value under `key` in a dict, or in an object's attributes; nullptr when
// it is not there or `mapping` is neither.
const Value* entry_value(const Value& mapping, const Value& key);

}  // namespace spyrec::replayer
