#include "leaks.h"

#include <algorithm>

#include "apply.h"
#include "decode.h"
#include "keys.h"
#include "read_session.h"
#include "subpath.h"
#include "timeline.h"

namespace spyrec::replayer {
namespace {

std::vector<Mark> read_marks(ReadSession& s) {
    std::vector<Mark> out;
    auto dbi = s.rec().db(Table::kMarks);
    if (!dbi) return out;
    LmdbCursor cursor(s.txn().get(), *dbi);
    MDB_val k{}, v{};
    for (bool more = cursor.get(k, v, MDB_FIRST); more; more = cursor.get(k, v, MDB_NEXT)) {
        auto seq = schema::decode_u64_key(k.mv_data, k.mv_size);
        if (!seq) s.damaged("a marks key of " + std::to_string(k.mv_size) + " bytes");
        std::string where = "mark " + std::to_string(*seq);
        Mark m = decode_mark(s.rec().view(v, where), where);
        if (m.seq != *seq) s.damaged(where + " disagrees with its key");
        out.push_back(std::move(m));
    }
    return out;
}

// One test, from the mark where its setup began to the one where its
// teardown ended.
struct Window {
    std::string test;
    uint64_t from = 0;
    uint64_t to = 0;
};

std::vector<Window> test_windows(const std::vector<Mark>& marks) {
    std::vector<Window> out;
    std::optional<Window> open;
    for (const Mark& m : marks) {
        if (m.phase == Mark::Phase::Setup) {
            open = Window{m.test, m.seq, 0};
        } else if (m.phase == Mark::Phase::None && open) {
            open->to = m.seq;
            out.push_back(std::move(*open));
            open.reset();
        }
    }
    return out;
}

// The keys whose entries differ between two dicts (or two objects'
// attributes): what a leak of a mapping is about. nullopt when the values are
// not two mappings of one kind (a list, a value that appeared or vanished).
std::optional<std::vector<Value>> differing_keys(const std::optional<Value>& a, const std::optional<Value>& b,
                                                 const std::vector<std::string>& ignored) {
    if (!a || !b || a->kind != b->kind) return std::nullopt;
    if (a->kind != Value::Kind::Dict && a->kind != Value::Kind::Object) return std::nullopt;
    std::vector<Value> keys;
    auto note = [&](const std::vector<Entry>& from, const Value& other) {
        for (const Entry& e : from) {
            const Value* there = entry_value(other, e.key);
            if (there && same(*there, e.value)) continue;
            if (e.key.kind == Value::Kind::Str &&
                std::find(ignored.begin(), ignored.end(), e.key.text) != ignored.end()) {
                continue;
            }
            bool already = std::any_of(keys.begin(), keys.end(), [&](const Value& k) { return same(k, e.key); });
            if (!already) keys.push_back(e.key);
        }
    };
    note(a->entries, *b);
    note(b->entries, *a);
    return keys;
}

// Whether a change touched one of `keys` (nullopt: any change counts).
bool touches(const Change& c, const std::optional<std::vector<Value>>& keys) {
    if (!keys) return true;
    if (!c.before || !c.after || c.before->kind != c.after->kind) return true;
    for (const Value& k : *keys) {
        const Value* x = entry_value(*c.before, k);
        const Value* y = entry_value(*c.after, k);
        if ((x == nullptr) != (y == nullptr) || (x && !same(*x, *y))) return true;
    }
    return false;
}

}  // namespace

std::vector<Mark> marks(const Recording& rec) {
    return out_of_memory_is_said(rec, [&] {
        ReadSession s(rec);
        return read_marks(s);
    });
}

std::vector<Leak> leaks(const Recording& rec, const std::vector<IgnoredKey>& ignored) {
    return out_of_memory_is_said(rec, [&] {
        ReadSession s(rec);
        std::vector<Window> windows = test_windows(read_marks(s));
        std::vector<Leak> out;
        if (windows.empty()) return out;
        for (Watch& watch : s.all_watches()) {
            std::vector<std::string> ignored_here;
            for (const IgnoredKey& i : ignored) {
                if (i.watch == watch.expr) ignored_here.push_back(i.key);
            }
            WatchTimeline walk(s, watch);
            walk.from_start();
            for (const Window& w : windows) {
                while (walk.next(w.from)) {}
                std::optional<Value> before = walk.value();
                bool changed = false;
                while (walk.next(w.to)) changed = true;
                if (!changed || !differ(before, walk.value())) continue;
                // Of a mapping, only the keys that differ leaked, and only the
                // changes that touched them are the leak's: pytest setting
                // PYTEST_CURRENT_TEST is not what leaked os.environ['X'].
                auto keys = differing_keys(before, walk.value(), ignored_here);
                if (keys && keys->empty()) continue;
                Leak leak{w.test, watch.expr, w.from, w.to, std::move(before), walk.value(), {}};
                WatchTimeline again(s, watch);
                again.seek(w.from);
                while (auto c = again.next(w.to)) {
                    if (touches(*c, keys)) leak.changes.push_back(s.report(std::move(*c), watch.expr));
                }
                out.push_back(std::move(leak));
            }
        }
        // By the test's place in the session, then by watch (stable).
        std::stable_sort(out.begin(), out.end(), [](const Leak& a, const Leak& b) { return a.from_seq < b.from_seq; });
        return out;
    });
}

}  // namespace spyrec::replayer
