// The recording writer: owns the LMDB environment and a thread that commits
// queued records in batches. The monitoring callbacks never touch LMDB: they
// hand finished, serialized records to `enqueue`, which takes a short mutex
// and copies their bytes into the queue's buffer (write_batch.h; no Python
// calls while it is held).
//
// Durability: a batch is committed when it holds kBatchRecords records or
// kBatchBytes bytes, or kBatchMillis have passed since its first record,
// whichever is first. A
// committed batch survives the process dying in any way (SIGKILL included);
// at most the last uncommitted batch is lost. The environment is opened with
// MDB_NOSYNC: a crash of the process loses nothing committed, a crash of the
// operating system may lose the last seconds.
//
// Fatal signals (SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL): a handler asks the
// writer thread to commit what is queued, waits for it at most kCrashFlushMillis
// (doing only async-signal-safe things itself: atomic loads, nanosleep), then
// puts the previous handler back and re-raises, so the process dies as it
// would have. If the crash left a lock the writer thread needs (the heap's,
// say) the wait times out and the last batch is lost, as with SIGKILL.
//
// fork(): a pthread_atfork handler commits the queue and stops the writer
// thread before the fork (so the child inherits no half-written state and
// CPython sees no extra thread to warn about); the parent restarts it at the
// next record; in the child the writer is abandoned: it never touches the
// parent's environment.
#pragma once
#include <lmdb.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "lmdb_handles.h"
#include "tables.h"
#include "write_batch.h"

namespace spyrec::recorder {

using schema::LmdbError;
using schema::Table;

class Writer {
public:
    static constexpr size_t kBatchRecords = 4096;
    // Or this many bytes (a stored source file, a large keyframe): the queue
    // and LMDB's dirty pages of one transaction are what the recorder adds to
    // the program's peak memory, so a batch stays small.
    static constexpr size_t kBatchBytes = 256 * 1024;
    static constexpr int kBatchMillis = 50;
    static constexpr int kCrashFlushMillis = 500;
    // Left free on a full disk so the Ending record still fits.
    static constexpr uint64_t kDiskReserve = 256 * 1024;

    // Creates `dir` (0700) if needed, takes its lock file (an error if another
    // live recorder holds it), opens the environment (files 0600). Throws
    // std::runtime_error with a one-line message.
    Writer(const std::string& dir, uint64_t max_size_bytes);
    ~Writer();

    void start();
    // Returns false once recording has been cut (max size or a disk error).
    // The bytes are copied (the views need not outlive the call); `also` (a
    // record that indexes this one) is queued with it under the same lock.
    bool enqueue(const RecordView& record, const RecordView* also = nullptr);
    // Blocks until everything enqueued so far is committed.
    void flush();
    // Flushes, stops the thread, closes the environment.
    void close();
    // In a forked child: forget everything without touching LMDB.
    void abandon_after_fork();

    bool cut() const { return cut_.load(); }
    std::string cut_reason() const;
    // The seq of the first change left out of the recording (0: none).
    uint64_t cut_at_seq() const { return cut_at_seq_.load(); }
    uint64_t bytes_written() const { return bytes_written_.load(); }

    // For the fatal-signal handler: true once everything enqueued before the
    // call to crash_flush_target() is committed. Async-signal-safe.
    uint64_t crash_flush_target() const { return enqueued_total_.load(); }
    // Asks the writer thread to add an Ending (how: signal) to its next batch.
    void note_fatal_signal(int sig) { fatal_signal_.store(sig); }
    bool committed_through(uint64_t target) const { return committed_total_.load() >= target; }
    void pause_for_fork();     // pthread_atfork prepare
    void resume_after_fork();  // parent
    void forget_after_fork();  // child

private:
    void run();
    std::thread spawn_thread();  // runs run() with the process's signals blocked
    void ensure_running();       // with mutex_ held
    void stop_disk_error(const std::string& reason);
    void note_cut(const RecordView& r, const std::string& reason);
    std::string with_cut_ending(std::string_view ending) const;
    void commit(const WriteBatch& batch);
    void release_mapped_pages();
    bool batch_full() const { return queue_.size() >= kBatchRecords || queue_.bytes() >= kBatchBytes; }
    void commit_once(const WriteBatch& batch);
    int put(MDB_txn* txn, Table table, MDB_val& key, MDB_val& value);
    void commit_until_full(const WriteBatch& batch, int code);
    void grow_map();

    std::string dir_;
    uint64_t max_size_;
    schema::LmdbEnv env_;
    std::array<MDB_dbi, schema::kTableCount> dbis_{};
    std::array<std::string, schema::kTableCount> last_key_;  // the largest key put in each table (put())
    size_t map_size_ = size_t{64} << 20;
    std::pair<void*, size_t> map_{nullptr, 0};  // data.mdb's mapping (release_mapped_pages)
    size_t map_located_for_ = 0;                // the map size map_ was found for
    int lock_fd_ = -1;

    std::mutex mutex_;
    std::condition_variable wake_;
    std::condition_variable flushed_;
    WriteBatch queue_;
    uint64_t enqueued_ = 0;
    uint64_t committed_ = 0;
    bool stopping_ = false;
    bool flush_wanted_ = false;  // flush() is waiting: commit without waiting for the batch to fill
    std::thread thread_;
    std::atomic<bool> cut_{false};
    std::string cut_reason_;
    std::atomic<uint64_t> bytes_written_{0};
    bool closed_ = false;
    bool abandoned_ = false;  // in a forked child
    bool paused_ = false;     // the thread was stopped for a fork; restart on the next record
    std::atomic<uint64_t> enqueued_total_{0};
    std::atomic<uint64_t> committed_total_{0};
    std::atomic<uint64_t> cut_at_seq_{0};
    std::atomic<int> fatal_signal_{0};
};

}  // namespace spyrec::recorder
