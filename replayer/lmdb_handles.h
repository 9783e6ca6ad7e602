// RAII owners for the LMDB handles the replayer uses. Reading never writes, so
// the transaction owner is read-only and always ends with abort (for a
// read-only transaction, abort and commit both just release the reader slot).
#pragma once
#include <lmdb.h>

#include <string>
#include <string_view>

#include "recording_error.h"

namespace spyrec::replayer {

class LmdbEnv {
public:
    LmdbEnv() = default;
    ~LmdbEnv() { if (env_) mdb_env_close(env_); }
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
        if (rc != 0) throw RecordingError(std::string("cannot create an LMDB environment: ") + mdb_strerror(rc));
        return env;
    }
    MDB_env* get() const { return env_; }

private:
    MDB_env* env_ = nullptr;
};

class ReadTxn {
public:
    // A writer in another process may have grown the map since we opened it;
    // LMDB then says MDB_MAP_RESIZED and the reader adopts the new size.
    explicit ReadTxn(MDB_env* env) {
        int rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn_);
        if (rc == MDB_MAP_RESIZED) {
            rc = mdb_env_set_mapsize(env, 0);
            if (rc == 0) rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn_);
        }
        if (rc != 0) throw RecordingError(std::string("cannot read the recording: ") + mdb_strerror(rc));
    }
    ~ReadTxn() { if (txn_) mdb_txn_abort(txn_); }
    ReadTxn(const ReadTxn&) = delete;
    ReadTxn& operator=(const ReadTxn&) = delete;
    // Ends the transaction keeping the DBI handles it opened (LMDB only keeps
    // handles opened in a transaction that commits).
    void commit() {
        int rc = mdb_txn_commit(txn_);
        txn_ = nullptr;
        if (rc != 0) throw RecordingError(std::string("cannot read the recording: ") + mdb_strerror(rc));
    }
    MDB_txn* get() const { return txn_; }

private:
    MDB_txn* txn_ = nullptr;
};

class Cursor {
public:
    Cursor(MDB_txn* txn, MDB_dbi dbi) {
        int rc = mdb_cursor_open(txn, dbi, &cursor_);
        if (rc != 0) throw RecordingError(std::string("cannot read the recording: ") + mdb_strerror(rc));
    }
    ~Cursor() { if (cursor_) mdb_cursor_close(cursor_); }
    Cursor(const Cursor&) = delete;
    Cursor& operator=(const Cursor&) = delete;

    // Positions the cursor; false when there is no such entry (MDB_NOTFOUND).
    bool get(MDB_val& key, MDB_val& data, MDB_cursor_op op) {
        int rc = mdb_cursor_get(cursor_, &key, &data, op);
        if (rc == MDB_NOTFOUND) return false;
        if (rc != 0) throw RecordingError(std::string("damaged recording: ") + mdb_strerror(rc));
        return true;
    }

private:
    MDB_cursor* cursor_ = nullptr;
};

inline std::string_view as_view(const MDB_val& v) {
    return {static_cast<const char*>(v.mv_data), v.mv_size};
}

}  // namespace spyrec::replayer
