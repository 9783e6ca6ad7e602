// Reading a recording written by the fixture writer: every query, the culprit
// and frame resolution, and reading while another process is still writing.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <limits>

#include "fixture_writer.h"
#include "value_builders.h"
#include "queries.h"
#include "render.h"

using namespace spyrec::replayer;
using namespace spyrec::testing;
using Lines = std::vector<std::string>;
using W = FixtureWriter;

namespace {

// Offsets 4 and 8 of demo.py's <module> are a CALL and a STORE_ATTR; offset 2
// of lib.py's helper is a RETURN_VALUE.
std::string demo_bytecode() {
    std::string b(12, '\0');
    b[4] = static_cast<char>(W::kCall);
    b[8] = static_cast<char>(W::kStoreAttr);
    return b;
}

void write_demo(const std::string& dir, bool with_ending = true) {
    W w(dir);
    w.header();
    w.watch(1, "sys.path", str_list({"/lib"}));
    w.watch(2, "os.environ['HOME']");
    w.watch(3, "app.CONFIG", [](s::Value::Builder v) { v.initDict(0); });
    w.code(7, "/src/demo.py", "<module>", demo_bytecode());
    w.code(8, "/src/lib.py", "helper", std::string("\0\0\x28\0", 4));
    w.source("/src/demo.py", "import sys\r\nprint('x')\nsys.path.insert(0, 'animals')\n");

    ChangeSpec c;
    c.watch_id = 1;
    c.seq = 255;
    c.stack = {{7, 4, 3}};
    c.trail = {{7, 0, 1}, {7, 2, 2}};
    c.ops = {Splice({}, 0, 0, {S("animals")})};  // ['/lib'] -> ['animals', '/lib']
    c.opcode = W::kCall;
    w.change(c);

    c.seq = 256;  // 255 -> 256 is where a little-endian key would sort wrong
    c.stack = {{8, 2, 10}, {7, 8, 4}};
    c.trail = {};
    c.ops = {Splice({}, 0, 1, {})};  // -> ['/lib']
    w.change(c);

    c.seq = 1000;
    c.stack = {{99, 0, 5}};                // no code record 99
    c.ops = {Splice({}, 1, 1, {S("x")})};  // -> ['/lib', 'x']
    w.change(c);

    ChangeSpec home;
    home.watch_id = 2;
    home.seq = 100;
    home.kind = s::Change::Kind::APPEARED;
    home.thread = "worker";
    home.thread_id = 2;
    home.stack = {{7, 8, 4}};
    home.keyframe = [](s::Value::Builder v) { v.setStr("/home/u"); };
    home.opcode = W::kStoreAttr;
    w.change(home);
    home.seq = 300;
    home.kind = s::Change::Kind::VANISHED;
    home.keyframe = {};
    w.change(home);

    w.exception(50, "ValueError", "bad", {{7, 4, 3}, {8, 2, 10}}, W::kCall);
    w.exception(51, "ValueError", "bad", {{7, 8, 4}}, W::kStoreAttr, true);
    if (with_ending) w.ending(s::Ending::How::EXITED, 0, 5, 2);
}

std::vector<uint64_t> seqs(const std::vector<ChangeReport>& reports) {
    std::vector<uint64_t> out;
    for (const auto& r : reports) out.push_back(r.change.seq);
    return out;
}

class ReaderTest : public ::testing::Test {
protected:
    void SetUp() override {
        write_demo(dir.path());
        rec = std::make_unique<Recording>(dir.path());
    }
    TempDir dir;
    std::unique_ptr<Recording> rec;
};

}  // namespace

TEST_F(ReaderTest, LastChangeIsTheHighestSeqOfThatWatch) {
    auto last = last_change(*rec, "sys.path");
    ASSERT_TRUE(last);
    EXPECT_EQ(last->change.seq, 1000u);
    EXPECT_EQ(last->expr, "sys.path");
    ASSERT_EQ(last->stack.size(), 1u);
    EXPECT_FALSE(last->stack[0].code_found);
    EXPECT_EQ(last->stack[0].file, "<missing code 99>");
    EXPECT_EQ(last->stack[0].opname, "CALL");
    EXPECT_FALSE(last->source);
    EXPECT_EQ(last->diff, (Lines{"+ [1] 'x'"}));

    auto home = last_change(*rec, "os.environ['HOME']");
    ASSERT_TRUE(home);
    EXPECT_EQ(home->change.seq, 300u);
    EXPECT_EQ(home->change.kind, Change::Kind::Vanished);
    EXPECT_EQ(home->diff, (Lines{"- '/home/u'"}));
}

TEST_F(ReaderTest, LastChangeOfUnknownOrUnchangedWatchIsNone) {
    EXPECT_FALSE(last_change(*rec, "sys.modules"));
    EXPECT_FALSE(last_change(*rec, "app.CONFIG"));
    EXPECT_TRUE(history(*rec, "app.CONFIG").empty());
}

TEST_F(ReaderTest, HistoryIsOldestFirstWithResolvedCulprits) {
    auto h = history(*rec, "sys.path");
    EXPECT_EQ(seqs(h), (std::vector<uint64_t>{255, 256, 1000}));

    const ChangeReport& first = h[0];
    EXPECT_EQ(first.change.thread_name, "MainThread");
    ASSERT_EQ(first.stack.size(), 1u);
    EXPECT_EQ(first.stack[0].file, "/src/demo.py");
    EXPECT_EQ(first.stack[0].function, "<module>");
    EXPECT_EQ(first.stack[0].line, 3);
    EXPECT_EQ(first.stack[0].offset, 4u);
    EXPECT_EQ(first.stack[0].opname, "CALL");
    ASSERT_TRUE(first.source);
    EXPECT_EQ(*first.source, "sys.path.insert(0, 'animals')");
    EXPECT_EQ(first.diff, (Lines{"+ [0] 'animals'"}));
    ASSERT_EQ(first.trail.size(), 2u);
    EXPECT_EQ(first.trail[0].line, 1);
    EXPECT_EQ(first.trail[1].line, 2);

    // The culprit's opname comes from the change, the caller's from bytecode.
    const ChangeReport& second = h[1];
    ASSERT_EQ(second.stack.size(), 2u);
    EXPECT_EQ(second.stack[0].function, "helper");
    EXPECT_EQ(second.stack[0].opname, "CALL");
    EXPECT_EQ(second.stack[1].opname, "STORE_ATTR");
    EXPECT_EQ(second.stack[1].line, 4);
    EXPECT_FALSE(second.source);  // no source recorded for lib.py
    EXPECT_EQ(second.diff, (Lines{"- [0] 'animals'"}));
}

TEST_F(ReaderTest, ChangesAreOrderedBySeqAcrossWatches) {
    auto all = changes(*rec);
    EXPECT_EQ(seqs(all), (std::vector<uint64_t>{100, 255, 256, 300, 1000}));
    EXPECT_EQ(all[0].expr, "os.environ['HOME']");
    EXPECT_EQ(all[0].change.thread_name, "worker");
    EXPECT_EQ(all[1].expr, "sys.path");
}

TEST_F(ReaderTest, ValueAtFollowsChangesAndInitialValues) {
    auto at = [&](const char* expr, uint64_t seq) { return value_at(*rec, expr, seq); };
    auto list_repr = [&](const char* expr, uint64_t seq) {
        ValueAt v = at(expr, seq);
        return v.state == ValueAt::State::Present ? repr(v.value) : std::string("<absent>");
    };
    EXPECT_EQ(list_repr("sys.path", 0), "['/lib']");  // initial
    EXPECT_EQ(list_repr("sys.path", 254), "['/lib']");
    EXPECT_EQ(list_repr("sys.path", 255), "['animals', '/lib']");
    EXPECT_EQ(list_repr("sys.path", 999), "['/lib']");
    EXPECT_EQ(list_repr("sys.path", std::numeric_limits<uint64_t>::max()), "['/lib', 'x']");

    EXPECT_EQ(at("os.environ['HOME']", 99).state, ValueAt::State::Absent);  // not resolved at start
    EXPECT_EQ(list_repr("os.environ['HOME']", 100), "'/home/u'");
    EXPECT_EQ(at("os.environ['HOME']", 300).state, ValueAt::State::Absent);  // vanished
    EXPECT_EQ(list_repr("app.CONFIG", 5000), "{}");
    EXPECT_EQ(at("nope", 1).state, ValueAt::State::NotWatched);
}

TEST_F(ReaderTest, ExceptionsBySeqWithCulprit) {
    auto ex = exceptions(*rec);
    ASSERT_EQ(ex.size(), 2u);
    EXPECT_EQ(ex[0].exception.seq, 50u);
    EXPECT_EQ(ex[0].exception.type_name, "ValueError");
    EXPECT_EQ(ex[0].exception.message, "bad");
    EXPECT_FALSE(ex[0].exception.reraised);
    ASSERT_EQ(ex[0].stack.size(), 2u);
    EXPECT_EQ(ex[0].stack[0].opname, "CALL");
    EXPECT_EQ(ex[0].stack[1].opname, "RETURN_VALUE");
    EXPECT_TRUE(ex[1].exception.reraised);
    EXPECT_EQ(ex[1].stack[0].opname, "STORE_ATTR");
}

TEST_F(ReaderTest, InfoAndWatches) {
    Info i = info(*rec);
    EXPECT_EQ(i.format_version, spyrec::schema::kFormatVersion);
    EXPECT_EQ(i.meta.python_version, "3.12.1");
    EXPECT_EQ(i.meta.argv, (std::vector<std::string>{"demo.py", "--flag"}));
    EXPECT_EQ(i.meta.pid, 4242);
    EXPECT_EQ(i.changes, 5u);
    EXPECT_EQ(i.exceptions, 2u);
    EXPECT_EQ(i.watches, 3u);
    ASSERT_TRUE(i.ending);
    EXPECT_EQ(i.ending->how, Ending::How::Exited);
    EXPECT_STREQ(how_name(i.ending->how), "exited");
    EXPECT_EQ(i.ending->end_time, 1700000010.25);

    auto ws = watches(*rec);
    ASSERT_EQ(ws.size(), 3u);
    EXPECT_EQ(ws[0].watch.expr, "sys.path");
    EXPECT_EQ(ws[0].changes, 3u);
    EXPECT_TRUE(ws[0].watch.resolved_at_start);
    EXPECT_EQ(ws[1].changes, 2u);
    EXPECT_FALSE(ws[1].watch.resolved_at_start);
    EXPECT_EQ(ws[2].changes, 0u);
}

TEST_F(ReaderTest, SourceLinesSplitLikePython) {
    auto lines = source_lines(*rec, "/src/demo.py");
    ASSERT_TRUE(lines);
    EXPECT_EQ(*lines, (Lines{"import sys", "print('x')", "sys.path.insert(0, 'animals')"}));
    EXPECT_FALSE(source_lines(*rec, "/src/other.py"));
    EXPECT_EQ(split_lines("a\rb\r\n\nc"), (Lines{"a", "b", "", "c"}));
}

TEST(Reader, RecordingWithoutEndingStillReads) {
    TempDir dir;
    write_demo(dir.path(), false);
    Recording rec(dir.path());
    EXPECT_FALSE(info(rec).ending);
    EXPECT_EQ(last_change(rec, "sys.path")->change.seq, 1000u);
}

TEST(Reader, ReadsWhatAnotherProcessHasCommittedWhileItWrites) {
    TempDir dir;
    int to_parent[2], to_child[2];
    ASSERT_EQ(pipe(to_parent), 0);
    ASSERT_EQ(pipe(to_child), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        int status = 0;
        try {
            char go;
            W w(dir.path());
            w.header();
            w.watch(1, "sys.path", str_list({"/lib"}));
            ChangeSpec c;
            c.seq = 1;
            c.ops = {Splice({}, 0, 0, {S("a")})};
            w.change(c);
            w.commit();  // the writer keeps a write transaction open after this
            if (write(to_parent[1], "1", 1) != 1 || read(to_child[0], &go, 1) != 1) status = 2;
            c.seq = 2;
            c.ops = {Splice({}, 0, 0, {S("b")})};
            w.change(c);
            w.commit();
            if (write(to_parent[1], "2", 1) != 1 || read(to_child[0], &go, 1) != 1) status = 2;
        } catch (...) {
            status = 1;
        }
        _exit(status);
    }
    char got = 0;
    ASSERT_EQ(read(to_parent[0], &got, 1), 1);
    Recording rec(dir.path());
    EXPECT_EQ(last_change(rec, "sys.path")->change.seq, 1u);
    EXPECT_FALSE(info(rec).ending);
    ASSERT_EQ(write(to_child[1], "g", 1), 1);
    ASSERT_EQ(read(to_parent[0], &got, 1), 1);
    EXPECT_EQ(last_change(rec, "sys.path")->change.seq, 2u);  // same Recording sees the new commit
    ASSERT_EQ(write(to_child[1], "g", 1), 1);
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(Reader, OpensARecordingInAReadOnlyDirectory) {
    TempDir src, dst;
    write_demo(src.path());
    std::string ro = dst.path() + "/ro";
    std::filesystem::create_directory(ro);
    std::filesystem::copy_file(src.path() + "/data.mdb", ro + "/data.mdb");  // no lock.mdb
    chmod(dst.path().c_str(), 0755);
    chmod((ro + "/data.mdb").c_str(), 0644);
    chmod(ro.c_str(), 0555);
    // Root can write anywhere: read as `nobody` instead, in a child process.
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(3);
        try {
            Recording rec(ro);
            auto last = last_change(rec, "sys.path");
            _exit(last && last->change.seq == 1000u ? 0 : 1);
        } catch (const std::exception&) {
            _exit(2);
        }
    }
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status)) << status;
    EXPECT_EQ(WEXITSTATUS(status), 0) << "1: wrong answer, 2: could not read it, 3: could not become nobody";
    chmod(ro.c_str(), 0755);
}
