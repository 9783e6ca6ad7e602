// What `pytest --spyrec` asks of a recording: its marks (where each test's
// phases began) and its leaks (tests after whose teardown a watched value
// differs from what it was when their setup began).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "queries.h"
#include "recording.h"
#include "records.h"

namespace spyrec::replayer {

// Every mark, by seq; empty for a recording made without the plugin.
std::vector<Mark> marks(const Recording& rec);

struct Leak {
    std::string test;             // node id
    std::string expr;             // the watch
    uint64_t from_seq = 0;        // the test's setup mark
    uint64_t to_seq = 0;          // the mark where its teardown ended
    std::optional<Value> before;  // absent: the watch did not exist then
    std::optional<Value> after;
    std::vector<ChangeReport> changes;  // the watch's changes during the test, oldest first
};

// A str key of a watched mapping whose changes are never a leak: a test
// runner's own bookkeeping (pytest's os.environ['PYTEST_CURRENT_TEST']).
struct IgnoredKey {
    std::string watch;
    std::string key;
};

// By test (in the order they ran), then by watch. A test whose teardown never
// ended (the session was interrupted) has no leaks. Walks each watch's
// changes once: the cost is the recording's changes, not its tests times its
// watches.
std::vector<Leak> leaks(const Recording& rec, const std::vector<IgnoredKey>& ignored = {});

}  // namespace spyrec::replayer
