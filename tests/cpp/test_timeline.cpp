// Values rebuilt from keyframes and ops: value_at at every seq, history's
// before/after, last_change, the merged changes(), sub-paths of a watch, and
// recordings whose ops or keyframes do not add up.
#include <gtest/gtest.h>

#include <limits>
#include <map>

#include "fixture_writer.h"
#include "queries.h"
#include "render.h"
#include "value_builders.h"

using namespace spyrec::replayer;
using namespace spyrec::testing;
using W = FixtureWriter;

namespace {

constexpr uint64_t kEnd = std::numeric_limits<uint64_t>::max();

std::string shown(const ValueAt& v) { return v.state == ValueAt::State::Present ? repr(v.value, 1000) : "<absent>"; }
std::string shown(const std::optional<Value>& v) { return v ? repr(*v, 1000) : "<absent>"; }

ChangeSpec whole(uint32_t watch, uint64_t seq, s::Change::Kind kind, Value v) {
    ChangeSpec c;
    c.watch_id = watch;
    c.seq = seq;
    c.kind = kind;
    c.keyframe = value_fn(std::move(v));
    return c;
}

// app.CONFIG (watch 1), a dict, through every kind of change; the expected
// value after each seq. Watch 2 (sys.path) interleaves its seqs with it.
std::map<uint64_t, std::string> write_config(W& w) {
    using K = s::Change::Kind;
    w.header();
    w.watch(1, "app.CONFIG", value_fn(D({{S("db"), D({{S("host"), S("a")}})}})));
    w.watch(2, "sys.path", value_fn(StrList({"/lib"})));
    w.watch(3, "app.LATE");  // never resolved at start, never changed
    std::map<uint64_t, std::string> expected;
    expected[0] = "{'db': {'host': 'a'}}";
    w.change(modified(1, 2, {SetItem({}, S("debug"), B(true))}));
    expected[2] = "{'db': {'host': 'a'}, 'debug': True}";
    w.change(modified(2, 3, {Splice({}, 0, 0, {S("x")})}));
    w.change(modified(1, 4, {Replace({Key(S("db")), Key(S("host"))}, S("b")), DelItem({}, S("debug"))}));
    expected[4] = "{'db': {'host': 'b'}}";
    // A modified change may carry a keyframe too (equal to its ops' result).
    ChangeSpec with_keyframe = modified(1, 6, {SetItem({}, S("finder"), Ref("m.Finder", 0x1a2b))});
    with_keyframe.keyframe = value_fn(D({{S("db"), D({{S("host"), S("b")}})}, {S("finder"), Ref("m.Finder", 0x1a2b)}}));
    w.change(with_keyframe);
    expected[6] = "{'db': {'host': 'b'}, 'finder': <m.Finder object #1a2b>}";
    w.change(modified(1, 7, {Replace({Key(S("finder"))}, Ref("m.Finder", 0x3c4d))}));
    expected[7] = "{'db': {'host': 'b'}, 'finder': <m.Finder object #3c4d>}";
    w.change(modified(2, 8, {Splice({}, 0, 1, {})}));
    ChangeSpec gone;
    gone.watch_id = 1;
    gone.seq = 9;
    gone.kind = K::VANISHED;
    w.change(gone);
    expected[9] = "<absent>";
    w.change(whole(1, 11, K::APPEARED, D({{S("db"), I(1)}})));
    expected[11] = "{'db': 1}";
    w.change(modified(1, 12, {SetItem({}, S("db"), I(2))}));
    expected[12] = "{'db': 2}";
    w.change(whole(1, 14, K::REBOUND, D({{S("db"), I(2)}})));  // another dict, equal contents
    expected[14] = "{'db': 2}";
    w.change(modified(1, 15, {SetItem({}, S("db"), I(3))}));
    expected[15] = "{'db': 3}";
    return expected;
}

class TimelineTest : public ::testing::Test {
protected:
    void SetUp() override {
        {
            W w(dir.path());
            expected = write_config(w);
        }
        rec = std::make_unique<Recording>(dir.path());
    }
    // The expected value at any seq: the entry at or before it.
    std::string expected_at(uint64_t seq) { return std::prev(expected.upper_bound(seq))->second; }

    TempDir dir;
    std::unique_ptr<Recording> rec;
    std::map<uint64_t, std::string> expected;
};

}  // namespace

TEST_F(TimelineTest, ValueAtEverySeqIsTheKeyframePlusOps) {
    for (uint64_t seq = 0; seq <= 20; ++seq) {
        EXPECT_EQ(shown(value_at(*rec, "app.CONFIG", seq)), expected_at(seq)) << "seq " << seq;
    }
    EXPECT_EQ(shown(value_at(*rec, "app.CONFIG", kEnd)), "{'db': 3}");
    EXPECT_EQ(shown(value_at(*rec, "sys.path", 3)), "['x', '/lib']");
    EXPECT_EQ(shown(value_at(*rec, "sys.path", 8)), "['/lib']");
    EXPECT_EQ(value_at(*rec, "app.LATE", 5).state, ValueAt::State::Absent);
}

TEST_F(TimelineTest, HistoryFillsBeforeAndAfterOfEveryChange) {
    auto h = history(*rec, "app.CONFIG");
    std::vector<uint64_t> seqs;
    std::string previous = expected[0];
    for (const ChangeReport& r : h) {
        seqs.push_back(r.change.seq);
        EXPECT_EQ(shown(r.change.before), previous) << "seq " << r.change.seq;
        EXPECT_EQ(shown(r.change.after), expected[r.change.seq]) << "seq " << r.change.seq;
        EXPECT_TRUE(r.change.ops.empty());  // a report carries values, not edits
        previous = expected[r.change.seq];
    }
    EXPECT_EQ(seqs, (std::vector<uint64_t>{2, 4, 6, 7, 9, 11, 12, 14, 15}));
    EXPECT_EQ(h[3].diff,
              (std::vector<std::string>{"~ ['finder']: <m.Finder object #1a2b> -> <m.Finder object #3c4d>"}));
    EXPECT_EQ(h[4].change.kind, Change::Kind::Vanished);
    EXPECT_EQ(h[5].change.kind, Change::Kind::Appeared);
    EXPECT_EQ(h[7].change.kind, Change::Kind::Rebound);
    EXPECT_STREQ(kind_name(h[7].change.kind), "rebound");
}

TEST_F(TimelineTest, LastChangeHasTheValueBeforeAndAfter) {
    auto last = last_change(*rec, "app.CONFIG");
    ASSERT_TRUE(last);
    EXPECT_EQ(last->change.seq, 15u);
    EXPECT_EQ(shown(last->change.before), "{'db': 2}");
    EXPECT_EQ(shown(last->change.after), "{'db': 3}");
    EXPECT_EQ(last->diff, (std::vector<std::string>{"~ ['db']: 2 -> 3"}));
    EXPECT_FALSE(last_change(*rec, "app.LATE"));
}

TEST_F(TimelineTest, ChangesMergeWatchesBySeq) {
    ChangeCursor cursor(*rec);
    std::vector<std::pair<uint64_t, std::string>> got;
    while (auto r = cursor.next()) got.emplace_back(r->change.seq, r->expr);
    ASSERT_EQ(got.size(), 11u);
    for (size_t i = 1; i < got.size(); ++i) EXPECT_LT(got[i - 1].first, got[i].first);
    EXPECT_EQ(got[1], (std::pair<uint64_t, std::string>{3, "sys.path"}));
    EXPECT_EQ(got[2], (std::pair<uint64_t, std::string>{4, "app.CONFIG"}));
}

TEST_F(TimelineTest, SubPathHistoryKeepsTheChangesWhereTheSubValueDiffers) {
    Target host{"app.CONFIG['db']['host']", "app.CONFIG", {SubStep{false, S("db")}, SubStep{false, S("host")}}};
    auto h = history(*rec, host);
    ASSERT_EQ(h.size(), 2u);  // 'a' -> 'b' at 4; gone at 9 (and never back: db is an int then)
    EXPECT_EQ(h[0].change.seq, 4u);
    EXPECT_EQ(h[0].expr, "app.CONFIG['db']['host']");
    EXPECT_EQ(h[0].diff, (std::vector<std::string>{"~ 'a' -> 'b'"}));
    EXPECT_EQ(h[1].change.seq, 9u);
    EXPECT_EQ(h[1].change.kind, Change::Kind::Vanished);
    EXPECT_EQ(shown(h[1].change.before), "'b'");

    Target db{"app.CONFIG['db']", "app.CONFIG", {SubStep{false, S("db")}}};
    std::vector<uint64_t> seqs;
    for (const auto& r : history(*rec, db)) seqs.push_back(r.change.seq);
    EXPECT_EQ(seqs, (std::vector<uint64_t>{4, 9, 11, 12, 15}));  // not 14: the rebinding kept db at 2
    EXPECT_EQ(history(*rec, db)[2].change.kind, Change::Kind::Appeared);

    auto last = last_change(*rec, host);
    ASSERT_TRUE(last);
    EXPECT_EQ(last->change.seq, 9u);
    EXPECT_EQ(shown(value_at(*rec, host, 3)), "'a'");
    EXPECT_EQ(shown(value_at(*rec, host, 5)), "'b'");
    EXPECT_EQ(value_at(*rec, host, 12).state, ValueAt::State::Absent);
    EXPECT_EQ(value_at(*rec, Target{"nope.X['a']", "nope.X", {SubStep{false, S("a")}}}, 3).state,
              ValueAt::State::NotWatched);
}

TEST_F(TimelineTest, SubPathIndicesCountFromTheEndWhenNegative) {
    Target first{"sys.path[0]", "sys.path", {SubStep{false, I(0)}}};
    Target last{"sys.path[-1]", "sys.path", {SubStep{false, I(-1)}}};
    EXPECT_EQ(shown(value_at(*rec, first, 3)), "'x'");
    EXPECT_EQ(shown(value_at(*rec, last, 3)), "'/lib'");
    EXPECT_EQ(history(*rec, last).size(), 0u);
    EXPECT_EQ(history(*rec, first).size(), 2u);
}

TEST(Timeline, AttributeStepsLookIntoObjectsOnly) {
    TempDir dir;
    {
        W w(dir.path());
        w.header();
        w.watch(1, "app.settings", value_fn(Obj("app.Settings", {{"port", I(80)}})));
        w.watch(2, "app.table", value_fn(D({{S("port"), I(80)}})));
        w.change(modified(1, 1, {SetItem({}, S("port"), I(81))}));
    }
    Recording rec(dir.path());
    Target port{"app.settings.port", "app.settings", {SubStep{true, S("port")}}};
    EXPECT_EQ(shown(value_at(rec, port, 0)), "80");
    EXPECT_EQ(shown(value_at(rec, port, 1)), "81");
    EXPECT_EQ(value_at(rec, Target{"app.table.port", "app.table", {SubStep{true, S("port")}}}, 0).state,
              ValueAt::State::Absent);
}

TEST(Timeline, AKeyframeIsPreferredToTheOps) {
    TempDir dir;
    {
        W w(dir.path());
        w.header();
        w.watch(1, "app.L", value_fn(L({})));
        ChangeSpec c = modified(1, 1, {Splice({}, 0, 0, {I(1)})});
        c.keyframe = value_fn(L({I(42)}));  // disagrees on purpose
        w.change(c);
        w.change(modified(1, 2, {Splice({}, 1, 1, {I(2)})}));
    }
    Recording rec(dir.path());
    EXPECT_EQ(shown(value_at(rec, "app.L", 1)), "[42]");
    EXPECT_EQ(shown(value_at(rec, "app.L", 2)), "[42, 2]");
    EXPECT_EQ(shown(history(rec, "app.L")[1].change.after), "[42, 2]");
}

TEST(Timeline, ManyChangesBetweenKeyframes) {
    TempDir dir;
    {
        W w(dir.path());
        w.header();
        w.watch(1, "app.N", value_fn(L({})));
        for (uint64_t seq = 1; seq <= 600; ++seq) {
            ChangeSpec c = modified(1, seq, {Splice({}, seq - 1, seq - 1, {I(static_cast<int64_t>(seq))})});
            if (seq % 256 == 0) {  // as the recorder does: a keyframe every 256 changes
                std::vector<Value> items;
                for (uint64_t i = 1; i <= seq; ++i) items.push_back(I(static_cast<int64_t>(i)));
                c.keyframe = value_fn(L(items));
            }
            w.change(c);
        }
    }
    Recording rec(dir.path());
    for (uint64_t seq : {0, 1, 255, 256, 257, 511, 512, 513, 600}) {
        ValueAt v = value_at(rec, "app.N", seq);
        ASSERT_EQ(v.state, ValueAt::State::Present);
        ASSERT_EQ(v.value.items.size(), seq) << "seq " << seq;
        if (seq) {
            EXPECT_EQ(v.value.items.back().integer, static_cast<int64_t>(seq));
        }
    }
    ChangeCursor cursor(rec, Target::whole("app.N"));
    uint64_t n = 0;
    while (auto r = cursor.next()) {
        ++n;
        ASSERT_EQ(r->change.after->items.size(), n);
        ASSERT_EQ(r->diff, (std::vector<std::string>{"+ [" + std::to_string(n - 1) + "] " + std::to_string(n)}));
    }
    EXPECT_EQ(n, 600u);
}

// Recordings that do not add up: always a one-line "damaged recording".
namespace {

std::string error_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const RecordingError& e) {
        return e.what();
    }
    ADD_FAILURE() << "expected a RecordingError";
    return "";
}

std::string damaged_history(const std::function<void(W&)>& write, std::string* path = nullptr) {
    TempDir dir;
    {
        W w(dir.path());
        w.header();
        w.watch(1, "app.L", value_fn(L({I(0)})));
        write(w);
    }
    Recording rec(dir.path());
    std::string h = error_of([&] { history(rec, "app.L"); });
    EXPECT_EQ(error_of([&] { value_at(rec, "app.L", kEnd); }), h);
    EXPECT_EQ(error_of([&] { last_change(rec, "app.L"); }), h);
    if (path) *path = dir.path();
    return h;
}

}  // namespace

TEST(TimelineHostile, AnOpOutOfRangeInARecordedChange) {
    std::string path;
    std::string m = damaged_history([](W& w) { w.change(modified(1, 3, {Splice({}, 5, 6, {})})); }, &path);
    EXPECT_EQ(m, "damaged recording: " + path + ": change 1/3: a splice op of [5:6] on 1 items");
}

TEST(TimelineHostile, EditingAValueThatVanished) {
    std::string path;
    std::string m = damaged_history(
        [](W& w) {
            ChangeSpec gone;
            gone.seq = 2;
            gone.kind = s::Change::Kind::VANISHED;
            w.change(gone);
            w.change(modified(1, 3, {Splice({}, 0, 0, {I(1)})}));
        },
        &path);
    EXPECT_EQ(m, "damaged recording: " + path + ": change 1/3 edits a value that did not exist");
}

TEST(TimelineHostile, AKeyframeThatIsNotThere) {
    std::string path;
    std::string m = damaged_history(
        [](W& w) {
            ChangeSpec c = whole(1, 3, s::Change::Kind::REBOUND, L({}));
            w.put(s::table_name(s::Table::kChanges), key(s::change_key(1, 3)),
                  W::change_message(c));  // no keyframe record
        },
        &path);
    EXPECT_EQ(m, "damaged recording: " + path + ": change 1/3 has no keyframe, but says it has");
}

TEST(TimelineHostile, AppearedWithoutAKeyframe) {
    std::string m = damaged_history([](W& w) {
        ChangeSpec c;
        c.seq = 3;
        c.kind = s::Change::Kind::APPEARED;
        w.change(c);
    });
    EXPECT_EQ(m, "damaged recording: change 1/3: a appeared change without a keyframe");
}

TEST(TimelineHostile, AGarbageKeyframe) {
    std::string m = damaged_history([](W& w) {
        w.put(s::table_name(s::Table::kKeyframes), key(s::keyframe_key(1, 0)), std::string(16, '\xff'));
        w.change(modified(1, 3, {Splice({}, 0, 0, {I(1)})}));
    });
    EXPECT_EQ(m.rfind("damaged recording: keyframe 1/0: ", 0), 0u) << m;
}

TEST_F(TimelineTest, ChangeCountReadsKeysOfThatWatchOnly) {
    EXPECT_EQ(change_count(*rec, "app.CONFIG"), 9u);
    EXPECT_EQ(change_count(*rec, "sys.path"), 2u);
    EXPECT_EQ(change_count(*rec, "app.LATE"), 0u);
    EXPECT_EQ(change_count(*rec, "nope"), 0u);
    auto list = watch_list(*rec);
    ASSERT_EQ(list.size(), 3u);
    EXPECT_EQ(list[2].expr, "app.LATE");
}
