// RAII owners for LMDB resources, so no error path leaks a write lock or an
// environment. A transaction aborts on scope exit unless committed.
#pragma once
#include <lmdb.h>

#include <stdexcept>
#include <string>

namespace spyrec::recorder {

class LmdbError : public std::runtime_error {
public:
    LmdbError(const std::string& what, int rc)
        : std::runtime_error(what + ": " + mdb_strerror(rc)), code(rc) {}
    int code;
};

class Environment {
public:
    Environment() = default;
    ~Environment() { if (env_) mdb_env_close(env_); }
    Environment(const Environment&) = delete;
    Environment& operator=(const Environment&) = delete;
    void create() {
        int rc = mdb_env_create(&env_);
        if (rc) throw LmdbError("cannot create an LMDB environment", rc);
    }
    // After fork, the child must not close (or use) the parent's environment.
    void abandon() { env_ = nullptr; }
    MDB_env* get() const { return env_; }

private:
    MDB_env* env_ = nullptr;
};

class WriteTransaction {
public:
    explicit WriteTransaction(MDB_env* env) {
        int rc = mdb_txn_begin(env, nullptr, 0, &txn_);
        if (rc) throw LmdbError("cannot begin a write transaction", rc);
    }
    ~WriteTransaction() { if (txn_) mdb_txn_abort(txn_); }
    WriteTransaction(const WriteTransaction&) = delete;
    WriteTransaction& operator=(const WriteTransaction&) = delete;
    MDB_txn* get() const { return txn_; }
    // Returns the LMDB code; the transaction is gone either way.
    int commit() {
        int rc = mdb_txn_commit(txn_);
        txn_ = nullptr;
        return rc;
    }

private:
    MDB_txn* txn_ = nullptr;
};

}  // namespace spyrec::recorder
