// A test-only recording writer: raw LMDB + Cap'n Proto, laid out per
// schema/keys.h, so the replayer can be tested without the recorder (and fed
// bytes the recorder would never write). Everything goes into one write
// transaction, committed by commit() or the destructor.
#pragma once
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <lmdb.h>
#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "format.h"
#include "keys.h"
#include "message_bytes.h"
#include "tables.h"
#include "records.h"
#include "spyrec.capnp.h"

namespace spyrec::testing {

namespace s = spyrec::schema;

// A fresh directory under /tmp, removed with everything in it.
class TempDir {
public:
    TempDir() {
        char tmpl[] = "/tmp/spyrec-test-XXXXXX";
        if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

inline void check(int rc, const char* what) {
    if (rc != 0) throw std::runtime_error(std::string(what) + ": " + mdb_strerror(rc));
}

inline std::string flat(capnp::MessageBuilder& msg) { return s::message_bytes(msg); }

template <size_t N>
std::string key(const std::array<uint8_t, N>& k) {
    return s::key_bytes(k);
}

using ValueFn = std::function<void(s::Value::Builder)>;

inline ValueFn str_list(std::vector<std::string> items) {
    return [items](s::Value::Builder v) {
        auto list = v.initList(static_cast<unsigned>(items.size()));
        for (unsigned i = 0; i < items.size(); ++i) list[i].setStr(items[i]);
    };
}

// Writes a replayer Value (records.h, built with value_builders.h) as the
// schema Value it was decoded from: tests state values and ops once, in the
// replayer's terms.
inline void encode(s::Value::Builder out, const replayer::Value& v) {
    using K = replayer::Value::Kind;
    if (v.truncated) out.setTruncated(v.truncated);
    if (!v.subclass.empty()) out.setTypeName(v.subclass);
    auto items = [&](capnp::List<s::Value>::Builder list) {
        for (unsigned i = 0; i < v.items.size(); ++i) encode(list[i], v.items[i]);
    };
    auto entries = [&](capnp::List<s::Entry>::Builder list) {
        for (unsigned i = 0; i < v.entries.size(); ++i) {
            encode(list[i].initKey(), v.entries[i].key);
            encode(list[i].initValue(), v.entries[i].value);
        }
    };
    auto n = static_cast<unsigned>(v.items.size());
    auto m = static_cast<unsigned>(v.entries.size());
    switch (v.kind) {
        case K::None: out.setNone(); break;
        case K::Bool: out.setBoolean(v.boolean); break;
        case K::Int: out.setInteger(v.integer); break;
        case K::BigInt: out.setBigInteger(v.text); break;
        case K::Float: out.setFloat(v.real); break;
        case K::Str: out.setStr(v.text); break;
        case K::Bytes:
            out.setBytes(kj::arrayPtr(reinterpret_cast<const kj::byte*>(v.text.data()), v.text.size()));
            break;
        case K::List: items(out.initList(n)); break;
        case K::Tuple: items(out.initTuple(n)); break;
        case K::Set: items(out.initSet(n)); break;
        case K::FrozenSet: items(out.initFrozenset(n)); break;
        case K::Dict: entries(out.initDict(m)); break;
        case K::Object: {
            auto obj = out.initObject();
            obj.setTypeName(v.object_type);
            entries(obj.initAttributes(m));
            break;
        }
        case K::Repr: out.setRepr(v.text); break;
        case K::Cycle: out.setCycle(); break;
        case K::TooDeep: out.setTooDeep(); break;
        case K::Ref: {
            auto ref = out.initRef();
            ref.setTypeName(v.object_type);
            ref.setId(v.ref_id);
            ref.setRepr(v.text);
            break;
        }
        case K::Redacted: out.setRedacted(v.ref_id); break;
    }
}

inline void encode(s::Op::Builder out, const replayer::Op& op) {
    using K = replayer::Op::Kind;
    auto path = out.initPath(static_cast<unsigned>(op.path.size()));
    for (unsigned i = 0; i < op.path.size(); ++i) {
        if (op.path[i].is_index) {
            path[i].setIndex(op.path[i].index);
        } else {
            encode(path[i].initKey(), op.path[i].key);
        }
    }
    auto items = [&](capnp::List<s::Value>::Builder list) {
        for (unsigned i = 0; i < op.items.size(); ++i) encode(list[i], op.items[i]);
    };
    auto n = static_cast<unsigned>(op.items.size());
    switch (op.kind) {
        case K::SetItem: {
            auto e = out.initSetItem();
            encode(e.initKey(), op.entry.key);
            encode(e.initValue(), op.entry.value);
            break;
        }
        case K::DeleteItem: encode(out.initDeleteItem(), op.value); break;
        case K::Splice: {
            auto sp = out.initSplice();
            sp.setStart(op.start);
            sp.setEnd(op.end);
            items(sp.initNewItems(n));
            break;
        }
        case K::AddElements: items(out.initAddElements(n)); break;
        case K::RemoveElements: items(out.initRemoveElements(n)); break;
        case K::Replace: encode(out.initReplace(), op.value); break;
    }
}

inline ValueFn value_fn(replayer::Value v) {
    return [v](s::Value::Builder out) { encode(out, v); };
}

struct FrameSpec {
    uint64_t code_id;
    uint32_t offset;
    int32_t line;
};

struct ChangeSpec {
    uint32_t watch_id = 1;
    uint64_t seq = 1;
    std::string thread = "MainThread";
    uint64_t thread_id = 1;
    s::Change::Kind kind = s::Change::Kind::MODIFIED;
    std::vector<FrameSpec> stack;
    std::vector<replayer::Op> ops;  // what changed (modified)
    ValueFn keyframe;               // set: hasKeyframe, and the keyframes table holds it
    std::vector<FrameSpec> trail;
    uint8_t opcode = 0;
};

// A modified change of `watch` at `seq` made of `ops`.
inline ChangeSpec modified(uint32_t watch, uint64_t seq, std::vector<replayer::Op> ops) {
    ChangeSpec c;
    c.watch_id = watch;
    c.seq = seq;
    c.ops = std::move(ops);
    return c;
}

// What the recorder rewrites into a watch when recording ends.
struct WatchNotes {
    bool ever_resolved = true;
    std::string unresolved_reason;
    std::vector<std::array<std::string, 3>> opaque;  // typeName, tracked, where
    uint32_t follow_depth = 0;
};

class FixtureWriter {
public:
    explicit FixtureWriter(const std::string& dir, std::size_t map_size = 64 << 20) {
        check(mdb_env_create(&env_), "mdb_env_create");
        check(mdb_env_set_maxdbs(env_, s::kTableCount), "mdb_env_set_maxdbs");
        check(mdb_env_set_mapsize(env_, map_size), "mdb_env_set_mapsize");
        check(mdb_env_open(env_, dir.c_str(), 0, 0600), "mdb_env_open");
        begin();
    }
    ~FixtureWriter() {
        if (txn_) mdb_txn_commit(txn_);
        mdb_env_close(env_);
    }
    FixtureWriter(const FixtureWriter&) = delete;
    FixtureWriter& operator=(const FixtureWriter&) = delete;

    void commit() {
        check(mdb_txn_commit(txn_), "mdb_txn_commit");
        txn_ = nullptr;
        begin();
    }

    void put(const char* db, std::string_view k, std::string_view v) {
        MDB_dbi dbi;
        check(mdb_dbi_open(txn_, db, MDB_CREATE, &dbi), "mdb_dbi_open");
        MDB_val kv{k.size(), const_cast<char*>(k.data())};
        MDB_val vv{v.size(), const_cast<char*>(v.data())};
        check(mdb_put(txn_, dbi, &kv, &vv, 0), "mdb_put");
    }

    // Creates every sub-database, as the recorder does in its first transaction.
    void create_all() {
        for (const char* db :
             {s::table_name(s::Table::kMeta), s::table_name(s::Table::kWatches), s::table_name(s::Table::kChanges),
              s::table_name(s::Table::kCode), s::table_name(s::Table::kSources), s::table_name(s::Table::kExceptions),
              s::table_name(s::Table::kByCode), s::table_name(s::Table::kKeyframes), s::table_name(s::Table::kMarks)}) {
            MDB_dbi dbi;
            check(mdb_dbi_open(txn_, db, MDB_CREATE, &dbi), "mdb_dbi_open");
        }
    }

    void format(uint32_t version = s::kFormatVersion) {
        put(s::table_name(s::Table::kMeta), s::kFormatKey, key(s::format_value(version)));
    }

    // A minimal valid recording header: all sub-databases, format, meta.
    void header(std::vector<std::string> opnames = default_opnames()) {
        create_all();
        format();
        capnp::MallocMessageBuilder msg;
        auto m = msg.initRoot<s::Meta>();
        m.setFormatVersion(s::kFormatVersion);
        m.setPythonVersion("3.12.1");
        auto argv = m.initArgv(2);
        argv.set(0, "demo.py");
        argv.set(1, "--flag");
        m.setCwd("/home/user");
        m.setStartTime(1700000000.5);
        auto names = m.initOpnames(static_cast<unsigned>(opnames.size()));
        for (unsigned i = 0; i < opnames.size(); ++i) names.set(i, opnames[i]);
        m.setSpyrecVersion("0.1.0");
        m.setPid(4242);
        put(s::table_name(s::Table::kMeta), s::kMetaKey, flat(msg));
    }

    // Opcode numbers the fixtures use; the rest are "<N>".
    static constexpr uint8_t kCall = 10, kStoreAttr = 20, kStoreSubscr = 30, kReturn = 40;
    static std::vector<std::string> default_opnames() {
        std::vector<std::string> names(256);
        for (unsigned i = 0; i < names.size(); ++i) names[i] = "<" + std::to_string(i) + ">";
        names[kCall] = "CALL";
        names[kStoreAttr] = "STORE_ATTR";
        names[kStoreSubscr] = "STORE_SUBSCR";
        names[kReturn] = "RETURN_VALUE";
        return names;
    }

    // `initial` set: the watch resolved at start, and it is the seq-0 keyframe.
    void watch(uint32_t id, const std::string& expr, ValueFn initial = {}, uint64_t start_seq = 0,
               const WatchNotes& notes = {}) {
        capnp::MallocMessageBuilder msg;
        auto w = msg.initRoot<s::Watch>();
        w.setId(id);
        w.setExpr(expr);
        w.setResolvedAtStart(static_cast<bool>(initial));
        w.setStartSeq(start_seq);
        w.setEverResolved(notes.ever_resolved);
        w.setUnresolvedReason(notes.unresolved_reason);
        auto opaque = w.initOpaque(static_cast<unsigned>(notes.opaque.size()));
        for (unsigned i = 0; i < notes.opaque.size(); ++i) {
            opaque[i].setTypeName(notes.opaque[i][0]);
            opaque[i].setTracked(notes.opaque[i][1]);
            opaque[i].setWhere(notes.opaque[i][2]);
        }
        w.setFollowDepth(notes.follow_depth);
        put(s::table_name(s::Table::kWatches), key(s::watch_key(id)), flat(msg));
        if (initial) keyframe(id, 0, initial);
    }

    void keyframe(uint32_t watch_id, uint64_t seq, const ValueFn& value) {
        put(s::table_name(s::Table::kKeyframes), key(s::keyframe_key(watch_id, seq)), value_message(value));
    }

    static std::string value_message(const ValueFn& value) {
        capnp::MallocMessageBuilder msg;
        value(msg.initRoot<s::Value>());
        return flat(msg);
    }

    void code(uint64_t id, const std::string& filename, const std::string& qualname, std::string bytecode,
              int32_t first_line = 1) {
        capnp::MallocMessageBuilder msg;
        auto c = msg.initRoot<s::Code>();
        c.setFilename(filename);
        c.setQualname(qualname);
        c.setFirstLine(first_line);
        c.setBytecode(kj::arrayPtr(reinterpret_cast<const kj::byte*>(bytecode.data()), bytecode.size()));
        put(s::table_name(s::Table::kCode), key(s::code_key(id)), flat(msg));
    }

    void source(const std::string& filename, const std::string& text) {
        put(s::table_name(s::Table::kSources), filename, text);
    }

    static std::string change_message(const ChangeSpec& spec) {
        capnp::MallocMessageBuilder msg;
        auto c = msg.initRoot<s::Change>();
        c.setSeq(spec.seq);
        c.setWatchId(spec.watch_id);
        c.setThreadId(spec.thread_id);
        c.setThreadName(spec.thread);
        c.setKind(spec.kind);
        set_frames(c.initStack(static_cast<unsigned>(spec.stack.size())), spec.stack);
        auto ops = c.initOps(static_cast<unsigned>(spec.ops.size()));
        for (unsigned i = 0; i < spec.ops.size(); ++i) encode(ops[i], spec.ops[i]);
        c.setHasKeyframe(static_cast<bool>(spec.keyframe));
        set_frames(c.initRecentLines(static_cast<unsigned>(spec.trail.size())), spec.trail);
        c.setOpcode(spec.opcode);
        return flat(msg);
    }

    void change(const ChangeSpec& spec) {
        put(s::table_name(s::Table::kChanges), key(s::change_key(spec.watch_id, spec.seq)), change_message(spec));
        if (spec.keyframe) keyframe(spec.watch_id, spec.seq, spec.keyframe);
    }

    void exception(uint64_t seq, const std::string& type, const std::string& message, std::vector<FrameSpec> stack,
                   uint8_t opcode, bool reraised = false) {
        capnp::MallocMessageBuilder msg;
        auto e = msg.initRoot<s::RaisedException>();
        e.setSeq(seq);
        e.setThreadId(1);
        e.setThreadName("MainThread");
        e.setTypeName(type);
        e.setMessage(message);
        set_frames(e.initStack(static_cast<unsigned>(stack.size())), stack);
        e.setReraised(reraised);
        e.setOpcode(opcode);
        put(s::table_name(s::Table::kExceptions), key(s::seq_key(seq)), flat(msg));
    }

    void mark(uint64_t seq, const std::string& test, s::Mark::Phase phase) {
        capnp::MallocMessageBuilder msg;
        auto m = msg.initRoot<s::Mark>();
        m.setSeq(seq);
        m.setTest(test);
        m.setPhase(phase);
        put(s::table_name(s::Table::kMarks), key(s::seq_key(seq)), flat(msg));
    }

    // A test's four marks: setup, call, teardown at first, first+1, first+2,
    // and the end of its teardown at `end`.
    void test_marks(const std::string& test, uint64_t first, uint64_t end) {
        mark(first, test, s::Mark::Phase::SETUP);
        mark(first + 1, test, s::Mark::Phase::CALL);
        mark(first + 2, test, s::Mark::Phase::TEARDOWN);
        mark(end, "", s::Mark::Phase::NONE);
    }

    void ending(s::Ending::How how, int32_t exit_status, uint64_t changes, uint64_t exceptions) {
        capnp::MallocMessageBuilder msg;
        auto e = msg.initRoot<s::Ending>();
        e.setHow(how);
        e.setExitStatus(exit_status);
        e.setEndTime(1700000010.25);
        e.setMessage("done");
        e.setChanges(changes);
        e.setExceptions(exceptions);
        put(s::table_name(s::Table::kMeta), s::kEndingKey, flat(msg));
    }

private:
    void begin() { check(mdb_txn_begin(env_, nullptr, 0, &txn_), "mdb_txn_begin"); }

    static void set_frames(capnp::List<s::Frame>::Builder out, const std::vector<FrameSpec>& frames) {
        for (unsigned i = 0; i < frames.size(); ++i) {
            out[i].setCodeId(frames[i].code_id);
            out[i].setOffset(frames[i].offset);
            out[i].setLine(frames[i].line);
        }
    }

    MDB_env* env_ = nullptr;
    MDB_txn* txn_ = nullptr;
};

}  // namespace spyrec::testing
