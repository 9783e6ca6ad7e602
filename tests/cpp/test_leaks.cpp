// pytest --spyrec's questions of a recording: its marks, and which tests
// leaked (a watched value that differs after a test's teardown from what it
// was when its setup began), on recordings written by hand.
#include <gtest/gtest.h>

#include <memory>

#include "fixture_writer.h"
#include "leaks.h"
#include "recording.h"
#include "recording_error.h"
#include "render.h"
#include "value_builders.h"

using namespace spyrec::replayer;
using namespace spyrec::testing;
using W = FixtureWriter;
using P = s::Mark::Phase;

namespace {

std::vector<std::string> leak_names(const std::vector<Leak>& leaks) {
    std::vector<std::string> out;
    for (const Leak& l : leaks) out.push_back(l.test + " " + l.expr);
    return out;
}

// Watch 1: os.environ (a dict); watch 2: app.REG (a list).
// t1 sets X and leaves it; t2 sets Y and deletes it again; t3 only changes
// the runner's key; t4 appends to REG; t5 never finishes its teardown.
void write_session(W& w) {
    w.header();
    w.watch(1, "os.environ", value_fn(D({{S("HOME"), S("/root")}})));
    w.watch(2, "app.REG", value_fn(L({})));
    w.test_marks("t.py::t1", 1, 9);
    w.change(modified(1, 4, {SetItem({}, S("RUNNER"), S("t1"))}));
    w.change(modified(1, 5, {SetItem({}, S("X"), S("1"))}));
    w.change(modified(1, 8, {DelItem({}, S("RUNNER"))}));
    w.test_marks("t.py::t2", 10, 19);
    w.change(modified(1, 14, {SetItem({}, S("Y"), S("2"))}));
    w.change(modified(1, 15, {DelItem({}, S("Y"))}));
    w.test_marks("t.py::t3", 20, 29);
    w.change(modified(1, 24, {SetItem({}, S("RUNNER"), S("t3"))}));
    w.test_marks("t.py::t4", 30, 39);
    w.change(modified(2, 34, {Splice({}, 0, 0, {S("h")})}));
    w.mark(40, "t.py::t5", P::SETUP);
    w.change(modified(2, 41, {Splice({}, 1, 1, {S("never torn down")})}));
}

// The session above, written and opened.
struct Session {
    TempDir dir;
    std::unique_ptr<Recording> rec;
    Session() {
        {
            W w(dir.path());
            write_session(w);
        }
        rec = std::make_unique<Recording>(dir.path());
    }
};

}  // namespace

TEST(Leaks, MarksComeBackBySeq) {
    Session session;
    const Recording& rec = *session.rec;
    auto all = marks(rec);
    ASSERT_EQ(all.size(), 17u);
    EXPECT_EQ(all[0].seq, 1u);
    EXPECT_EQ(all[0].test, "t.py::t1");
    EXPECT_EQ(all[0].phase, Mark::Phase::Setup);
    EXPECT_EQ(all[3].phase, Mark::Phase::None);
    EXPECT_STREQ(phase_name(all[2].phase), "teardown");
}

TEST(Leaks, OnlyWhatDiffersAfterTeardownLeaks) {
    Session session;
    const Recording& rec = *session.rec;
    auto found = leaks(rec, {{"os.environ", "RUNNER"}});
    // t2 undid its change; t3 changed only an ignored key; t5 never ended.
    EXPECT_EQ(leak_names(found), (std::vector<std::string>{"t.py::t1 os.environ", "t.py::t4 app.REG"}));
    const Leak& env = found[0];
    EXPECT_EQ(env.from_seq, 1u);
    EXPECT_EQ(env.to_seq, 9u);
    EXPECT_EQ(repr(*env.before, 1000), "{'HOME': '/root'}");
    EXPECT_EQ(repr(*env.after, 1000), "{'HOME': '/root', 'X': '1'}");
    // Of the three changes during t1, only the one that touched X is the leak's.
    ASSERT_EQ(env.changes.size(), 1u);
    EXPECT_EQ(env.changes[0].change.seq, 5u);
}

TEST(Leaks, WithoutTheIgnoredKeyTheRunnersChangeIsALeakToo) {
    Session session;
    const Recording& rec = *session.rec;
    auto found = leaks(rec);
    EXPECT_EQ(leak_names(found),
              (std::vector<std::string>{"t.py::t1 os.environ", "t.py::t3 os.environ", "t.py::t4 app.REG"}));
    EXPECT_EQ(found[0].changes.size(), 1u);  // RUNNER was set and removed within t1
}

TEST(Leaks, ARecordingWithoutMarksHasNone) {
    TempDir dir;
    {
        W w(dir.path());
        w.header();
        w.watch(1, "app.REG", value_fn(L({})));
        w.change(modified(1, 1, {Splice({}, 0, 0, {S("h")})}));
    }
    Recording rec(dir.path());
    EXPECT_TRUE(marks(rec).empty());
    EXPECT_TRUE(leaks(rec).empty());
}

TEST(LeaksHostile, AMarkThatDisagreesWithItsKeyIsDamage) {
    TempDir dir;
    {
        W w(dir.path());
        w.header();
        capnp::MallocMessageBuilder msg;
        auto m = msg.initRoot<s::Mark>();
        m.setSeq(7);
        w.put(s::table_name(s::Table::kMarks), key(s::seq_key(3)), flat(msg));
        w.put(s::table_name(s::Table::kMarks), std::string("short"), "garbage");
    }
    Recording rec(dir.path());
    try {
        marks(rec);
        FAIL() << "a damaged mark was read";
    } catch (const RecordingError& e) {
        EXPECT_NE(std::string(e.what()).find("damaged recording"), std::string::npos) << e.what();
    }
}
