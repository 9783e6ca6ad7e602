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

inline std::string flat(capnp::MessageBuilder& msg) {
    auto words = capnp::messageToFlatArray(msg);
    auto bytes = words.asBytes();
    return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

template <size_t N>
std::string key(const std::array<uint8_t, N>& k) {
    return std::string(reinterpret_cast<const char*>(k.data()), N);
}

using ValueFn = std::function<void(s::Value::Builder)>;

inline ValueFn str_list(std::vector<std::string> items) {
    return [items](s::Value::Builder v) {
        auto list = v.initList(static_cast<unsigned>(items.size()));
        for (unsigned i = 0; i < items.size(); ++i) list[i].setStr(items[i]);
    };
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
    ValueFn before;  // unset: absent
    ValueFn after;   // unset: absent
    std::vector<FrameSpec> trail;
    uint8_t opcode = 0;
};

class FixtureWriter {
public:
    explicit FixtureWriter(const std::string& dir, std::size_t map_size = 64 << 20) {
        check(mdb_env_create(&env_), "mdb_env_create");
        check(mdb_env_set_maxdbs(env_, s::kDatabaseCount), "mdb_env_set_maxdbs");
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
        for (const char* db : {s::kMetaDb, s::kWatchesDb, s::kChangesDb, s::kCodeDb, s::kSourcesDb,
                               s::kExceptionsDb, s::kByCodeDb}) {
            MDB_dbi dbi;
            check(mdb_dbi_open(txn_, db, MDB_CREATE, &dbi), "mdb_dbi_open");
        }
    }

    void format(uint32_t version = s::kFormatVersion) {
        put(s::kMetaDb, s::kFormatKey, key(s::format_value(version)));
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
        put(s::kMetaDb, s::kMetaKey, flat(msg));
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

    void watch(uint32_t id, const std::string& expr, ValueFn initial = {}, uint64_t start_seq = 0) {
        capnp::MallocMessageBuilder msg;
        auto w = msg.initRoot<s::Watch>();
        w.setId(id);
        w.setExpr(expr);
        w.setResolvedAtStart(static_cast<bool>(initial));
        if (initial) initial(w.initInitial());
        w.setStartSeq(start_seq);
        put(s::kWatchesDb, key(s::watch_key(id)), flat(msg));
    }

    void code(uint64_t id, const std::string& filename, const std::string& qualname, std::string bytecode,
              int32_t first_line = 1) {
        capnp::MallocMessageBuilder msg;
        auto c = msg.initRoot<s::Code>();
        c.setFilename(filename);
        c.setQualname(qualname);
        c.setFirstLine(first_line);
        c.setBytecode(kj::arrayPtr(reinterpret_cast<const kj::byte*>(bytecode.data()), bytecode.size()));
        put(s::kCodeDb, key(s::code_key(id)), flat(msg));
    }

    void source(const std::string& filename, const std::string& text) { put(s::kSourcesDb, filename, text); }

    static std::string change_message(const ChangeSpec& spec) {
        capnp::MallocMessageBuilder msg;
        auto c = msg.initRoot<s::Change>();
        c.setSeq(spec.seq);
        c.setWatchId(spec.watch_id);
        c.setThreadId(spec.thread_id);
        c.setThreadName(spec.thread);
        c.setKind(spec.kind);
        set_frames(c.initStack(static_cast<unsigned>(spec.stack.size())), spec.stack);
        if (spec.before) spec.before(c.initBefore());
        if (spec.after) spec.after(c.initAfter());
        set_frames(c.initRecentLines(static_cast<unsigned>(spec.trail.size())), spec.trail);
        c.setOpcode(spec.opcode);
        return flat(msg);
    }

    void change(const ChangeSpec& spec) {
        put(s::kChangesDb, key(s::change_key(spec.watch_id, spec.seq)), change_message(spec));
    }

    void exception(uint64_t seq, const std::string& type, const std::string& message,
                   std::vector<FrameSpec> stack, uint8_t opcode, bool reraised = false) {
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
        put(s::kExceptionsDb, key(s::seq_key(seq)), flat(msg));
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
        put(s::kMetaDb, s::kEndingKey, flat(msg));
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
