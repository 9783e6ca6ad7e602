// The recorder's two halves that need no monitoring: snapshots (run in an
// embedded interpreter) and the LMDB writer, read back with the replayer.
// These are the round trip every query depends on: Python value -> canonical
// Value -> Change record -> LMDB -> decode -> render/diff.
#include <gtest/gtest.h>
#include <pybind11/embed.h>

#include "embedded_python.h"

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <filesystem>
#include <string>

#include "decode.h"
#include "diff.h"
#include "format.h"
#include "keys.h"
#include "message_bytes.h"
#include "queries.h"
#include "recording.h"
#include "render.h"
#include "snapshot.h"
#include "spyrec.capnp.h"
#include "writer.h"

namespace py = pybind11;
namespace rec = spyrec::recorder;
namespace rep = spyrec::replayer;
namespace schema = spyrec::schema;

namespace {

void interpreter() { embedded_python(); }

std::string temp_dir(const std::string& name) {
    auto dir = std::filesystem::temp_directory_path() / ("spyrec-test-" + name + "-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir);
    return dir.string();
}

template <size_t N>
std::string key_bytes(const std::array<uint8_t, N>& key) {
    return std::string(reinterpret_cast<const char*>(key.data()), N);
}

using spyrec::schema::message_bytes;

// A framed message holding the snapshot of a Python expression's value.
std::string snapshot_of(const char* expression) {
    interpreter();
    py::object value = py::eval(expression);
    capnp::MallocMessageBuilder message;
    rec::snapshot_value(value.ptr(), message.initRoot<schema::Value>(), rec::SnapshotLimits{});
    return message_bytes(message);
}

rep::Value decoded(const char* expression) { return rep::decode_value(snapshot_of(expression), "test"); }

}  // namespace

TEST(Snapshot, BuiltinContainersRoundTripToPythonLikeText) {
    EXPECT_EQ(rep::repr(decoded("['a', 1, 2.5, None, True, b'x']")), "['a', 1, 2.5, None, True, b'x']");
    EXPECT_EQ(rep::repr(decoded("{'k': (1, 2)}")), "{'k': (1, 2)}");
    EXPECT_EQ(rep::repr(decoded("2**100")), "1267650600228229401496703205376");
}

TEST(Snapshot, ListInsertDiffsAsOneAddedItem) {
    auto before = decoded("['/usr/lib', '/site']");
    auto after = decoded("['animals', '/usr/lib', '/site']");
    auto lines = rep::diff(before, after);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0], "+ [0] 'animals'");
}

TEST(Snapshot, PlainObjectsAreTheirTypeAndDictWithoutUserCode) {
    interpreter();
    py::exec(R"(
class Loud:
    def __init__(self):
        self.x = 1
    def __repr__(self):
        raise RuntimeError("repr must not be called")
    def __eq__(self, other):
        raise RuntimeError("eq must not be called")
    __hash__ = None
)",
             py::globals());
    auto value = decoded("Loud()");
    ASSERT_EQ(value.kind, rep::Value::Kind::Object);
    EXPECT_EQ(value.object_type, "__main__.Loud");
    ASSERT_EQ(value.entries.size(), 1u);
    EXPECT_FALSE(PyErr_Occurred());
}

TEST(Snapshot, CyclesAndDepthAreBounded) {
    interpreter();
    py::exec(
        "cyc = []\ncyc.append(cyc)\ndeep = [[[[[[[[[[1]]]]]]]]]]\n"
        "deeper = [1]\nfor _ in range(100): deeper = [deeper]",
        py::globals());
    auto cyc = decoded("cyc");
    ASSERT_EQ(cyc.items.size(), 1u);
    EXPECT_EQ(cyc.items[0].kind, rep::Value::Kind::Cycle);
    EXPECT_EQ(rep::repr(decoded("deep")), "[[[[[[[[[[1]]]]]]]]]]") << "containers are followed all the way down";
    EXPECT_NE(rep::repr(decoded("deeper")).find("..."), std::string::npos) << "but not past the depth limit";
}

TEST(Store, WriterCommitsAndReplayerReadsBack) {
    std::string dir = temp_dir("store");
    {
        rec::Writer writer(dir, 0);
        writer.start();
        auto version = schema::format_value(schema::kFormatVersion);
        writer.enqueue({rec::Table::kMeta, std::string(schema::kFormatKey),
                        std::string(reinterpret_cast<const char*>(version.data()), version.size())});
        capnp::MallocMessageBuilder meta;
        meta.initRoot<schema::Meta>().setFormatVersion(schema::kFormatVersion);
        writer.enqueue({rec::Table::kMeta, std::string(schema::kMetaKey), message_bytes(meta)});
        capnp::MallocMessageBuilder watch;
        auto w = watch.initRoot<schema::Watch>();
        w.setId(1);
        w.setExpr("sys.path");
        writer.enqueue({rec::Table::kWatches, key_bytes(schema::watch_key(1)), message_bytes(watch)});
        for (uint64_t seq = 1; seq <= 3; ++seq) {
            capnp::MallocMessageBuilder change;
            auto c = change.initRoot<schema::Change>();
            c.setSeq(seq);
            c.setWatchId(1);
            c.setThreadName("MainThread");
            c.setKind(schema::Change::Kind::REBOUND);
            c.setHasKeyframe(true);  // the after value is a keyframe
            writer.enqueue({rec::Table::kChanges, key_bytes(schema::change_key(1, seq)), message_bytes(change)});
            capnp::MallocMessageBuilder keyframe;
            keyframe.initRoot<schema::Value>().initList(seq);
            writer.enqueue({rec::Table::kKeyframes, key_bytes(schema::keyframe_key(1, seq)), message_bytes(keyframe)});
        }
        writer.flush();
        // Committed data is readable while the writer is still open.
        rep::Recording live(dir);
        EXPECT_EQ(rep::history(live, "sys.path").size(), 3u);
        writer.close();
    }
    rep::Recording reopened(dir);
    auto last = rep::last_change(reopened, "sys.path");
    ASSERT_TRUE(last.has_value());
    EXPECT_EQ(last->change.seq, 3u);
    ASSERT_TRUE(last->change.after.has_value());
    EXPECT_EQ(last->change.after->items.size(), 3u);
    std::filesystem::remove_all(dir);
}

TEST(Store, SecondWriterOnTheSameDirectoryIsRefused) {
    std::string dir = temp_dir("lock");
    rec::Writer first(dir, 0);
    EXPECT_THROW(rec::Writer second(dir, 0), std::runtime_error);
    first.close();
    std::filesystem::remove_all(dir);
}

TEST(Store, MapGrowsInsteadOfFailing) {
    std::string dir = temp_dir("grow");
    {
        rec::Writer writer(dir, 0);
        writer.start();
        std::string big(1 << 20, 'x');  // 100 MiB in all: past the initial 64 MiB map
        for (uint64_t i = 0; i < 100; ++i) {
            writer.enqueue({rec::Table::kSources, "file" + std::to_string(i), big});
        }
        writer.close();
        EXPECT_FALSE(writer.cut()) << writer.cut_reason();
    }
    std::filesystem::remove_all(dir);
}
