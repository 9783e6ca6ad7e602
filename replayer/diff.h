// A structural diff of two recorded Values, as the human lines a change report
// shows. Paths are Python-like, from the watched value down:
//   + [0] 'animals'                 an item inserted into a list (new index)
//   - [3] 'x'                       an item removed from a list (old index)
//   + ['k'] 1 / - ['k'] 1           a dict key added / removed
//   ~ ['db']['host']: 'a' -> 'b'    a value replaced at a path
//   ~ .name: 'a' -> 'b'             an attribute of a plain object
//   + {'x'} / - ['k'] {'x'}         a set member added / removed
//   ~ 'a' -> 'b'                    the whole value replaced
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "apply.h"  // same(): structural equality
#include "records.h"

namespace spyrec::replayer {

// Lists of different lengths are aligned with a longest-common-subsequence;
// past this many differing items (after trimming the common ends) the diff
// says "replaced" instead of spending O(n*m).
inline constexpr size_t kLcsLimit = 2000;
// A diff stops after this many lines and says so.
inline constexpr size_t kMaxDiffLines = 500;

std::vector<std::string> diff(const Value& before, const Value& after);

// For changes where a side is absent: appeared -> "+ value", vanished -> "- value".
std::vector<std::string> diff(const std::optional<Value>& before, const std::optional<Value>& after);

}  // namespace spyrec::replayer
