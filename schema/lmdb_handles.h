// RAII owners for LMDB handles, shared by the recorder (which writes) and the
// replayer (which only reads), so no error path leaks a write lock, a reader
// slot or an environment. A transaction aborts on scope exit unless committed.
//
// Errors are LmdbError: one line saying what was being done, LMDB's message,
// and its code (the writer reacts to MDB_MAP_FULL and disk errors). The
// Python binding raises them as spyrec's RecordingError.
#pragma once
#include <lmdb.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace spyrec::schema {

class LmdbError : public std::runtime_error {
public:
    LmdbError(const std::string& doing, int rc) : std::runtime_error(doing + ": " + mdb_strerror(rc)), code(rc) {}
    int code;
};

class LmdbEnv {
public:
    LmdbEnv() = default;
    ~LmdbEnv() {
        if (env_) mdb_env_close(env_);
    }
    LmdbEnv(const LmdbEnv&) = delete;
    LmdbEnv& operator=(const LmdbEnv&) = delete;
    LmdbEnv(LmdbEnv&& other) noexcept : env_(other.env_) { other.env_ = nullptr; }
    LmdbEnv& operator=(LmdbEnv&& other) noexcept {
        if (this != &other) {
            if (env_) mdb_env_close(env_);
            env_ = other.env_;
            other.env_ = nullptr;
        }
        return *this;
    }
    static LmdbEnv create() {
        LmdbEnv env;
        int rc = mdb_env_create(&env.env_);
        if (rc != 0) throw LmdbError("cannot create an LMDB environment", rc);
        return env;
    }
    // After fork, the child must not close (or use) the parent's environment.
    void abandon() { env_ = nullptr; }
    MDB_env* get() const { return env_; }

private:
    MDB_env* env_ = nullptr;
};

class LmdbTxn {
public:
    enum class Mode { kRead, kWrite };

    // A reader adopts a map that a writer in another process has grown
    // since it was opened (LMDB says MDB_MAP_RESIZED).
    LmdbTxn(MDB_env* env, Mode mode) {
        unsigned flags = mode == Mode::kRead ? MDB_RDONLY : 0;
        int rc = mdb_txn_begin(env, nullptr, flags, &txn_);
        if (rc == MDB_MAP_RESIZED && mode == Mode::kRead) {
            rc = mdb_env_set_mapsize(env, 0);
            if (rc == 0) rc = mdb_txn_begin(env, nullptr, flags, &txn_);
        }
        if (rc != 0) {
            txn_ = nullptr;
            throw LmdbError(mode == Mode::kRead ? "cannot read the recording" : "cannot begin a write transaction", rc);
        }
    }
    ~LmdbTxn() {
        if (txn_) mdb_txn_abort(txn_);
    }
    LmdbTxn(const LmdbTxn&) = delete;
    LmdbTxn& operator=(const LmdbTxn&) = delete;
    MDB_txn* get() const { return txn_; }
    // Returns LMDB's code; the transaction is gone either way. A reader
    // commits to keep the table handles it opened (LMDB keeps only those
    // opened in a transaction that commits).
    int commit() {
        int rc = mdb_txn_commit(txn_);
        txn_ = nullptr;
        return rc;
    }

private:
    MDB_txn* txn_ = nullptr;
};

class LmdbCursor {
public:
    LmdbCursor(MDB_txn* txn, MDB_dbi dbi) {
        int rc = mdb_cursor_open(txn, dbi, &cursor_);
        if (rc != 0) throw LmdbError("cannot read the recording", rc);
    }
    ~LmdbCursor() {
        if (cursor_) mdb_cursor_close(cursor_);
    }
    LmdbCursor(const LmdbCursor&) = delete;
    LmdbCursor& operator=(const LmdbCursor&) = delete;

    // Positions the cursor; false when there is no such entry (MDB_NOTFOUND).
    bool get(MDB_val& key, MDB_val& data, MDB_cursor_op op) {
        int rc = mdb_cursor_get(cursor_, &key, &data, op);
        if (rc == MDB_NOTFOUND) return false;
        if (rc != 0) throw LmdbError("damaged recording", rc);
        return true;
    }

private:
    MDB_cursor* cursor_ = nullptr;
};

inline std::string_view as_view(const MDB_val& v) { return {static_cast<const char*>(v.mv_data), v.mv_size}; }

}  // namespace spyrec::schema
