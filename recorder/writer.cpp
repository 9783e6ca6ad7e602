#include "writer.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "keys.h"

namespace spyrec::recorder {
namespace {

const char* table_name(Table t) {
    switch (t) {
        case Table::kMeta: return schema::kMetaDb;
        case Table::kWatches: return schema::kWatchesDb;
        case Table::kChanges: return schema::kChangesDb;
        case Table::kCode: return schema::kCodeDb;
        case Table::kSources: return schema::kSourcesDb;
        case Table::kExceptions: return schema::kExceptionsDb;
        case Table::kByCode: return schema::kByCodeDb;
        case Table::kCount: break;
    }
    return "?";
}

std::string errno_text(const std::string& what, const std::string& path) {
    return what + " " + path + ": " + std::strerror(errno);
}

}  // namespace

Writer::Writer(const std::string& dir, uint64_t max_size_bytes) : dir_(dir), max_size_(max_size_bytes) {
    // Recordings can hold secrets (environment values, configuration): owner only.
    if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
        throw std::runtime_error(errno_text("cannot create the recording directory", dir));
    }
    struct stat st{};
    if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        throw std::runtime_error("not a directory: " + dir);
    }
    std::string lock_path = dir + "/spyrec.lock";
    lock_fd_ = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd_ < 0) throw std::runtime_error(errno_text("cannot open", lock_path));
    if (flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
        ::close(lock_fd_);
        lock_fd_ = -1;
        throw std::runtime_error("another spyrec is already recording into " + dir);
    }
    // A directory that already holds a finished recording is not reused:
    // mixing two runs in one log would make every answer wrong.
    std::string data_path = dir + "/data.mdb";
    if (access(data_path.c_str(), F_OK) == 0) {
        flock(lock_fd_, LOCK_UN);
        ::close(lock_fd_);
        lock_fd_ = -1;
        throw std::runtime_error("a recording already exists in " + dir + " (choose a new -o directory)");
    }

    env_.create();
    mdb_env_set_maxdbs(env_.get(), schema::kDatabaseCount + 1);
    mdb_env_set_mapsize(env_.get(), map_size_);
    int rc = mdb_env_open(env_.get(), dir.c_str(), MDB_NOSYNC | MDB_NOMETASYNC, 0600);
    if (rc) throw LmdbError("cannot open the recording " + dir, rc);
    WriteTransaction txn(env_.get());
    for (size_t i = 0; i < dbis_.size(); ++i) {
        rc = mdb_dbi_open(txn.get(), table_name(static_cast<Table>(i)), MDB_CREATE, &dbis_[i]);
        if (rc) throw LmdbError("cannot create a table in " + dir, rc);
    }
    rc = txn.commit();
    if (rc) throw LmdbError("cannot initialise the recording " + dir, rc);
}

Writer::~Writer() {
    try {
        close();
    } catch (...) {
    }
}

void Writer::start() { thread_ = std::thread([this] { run(); }); }

bool Writer::enqueue(Record record) {
    // Meta records (the ending) are always accepted so a cut recording still says how it ended.
    if (cut_.load() && record.table != Table::kMeta) return false;
    std::lock_guard<std::mutex> lock(mutex_);
    if (closed_) return false;
    queue_.push_back(std::move(record));
    ++enqueued_;
    if (queue_.size() >= kBatchRecords) wake_.notify_one();
    return true;
}

void Writer::flush() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!thread_.joinable()) return;
    uint64_t target = enqueued_;
    wake_.notify_one();
    flushed_.wait(lock, [&] { return committed_ >= target || stopping_; });
}

void Writer::close() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (closed_) return;
        stopping_ = true;
        wake_.notify_one();
    }
    if (thread_.joinable()) thread_.join();
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    if (!queue_.empty()) {
        std::vector<Record> rest;
        rest.swap(queue_);
        commit(rest);
    }
    if (env_.get()) {
        mdb_env_sync(env_.get(), 1);
    }
    if (lock_fd_ >= 0) {
        flock(lock_fd_, LOCK_UN);
        ::close(lock_fd_);
        lock_fd_ = -1;
    }
}

void Writer::abandon_after_fork() {
    // The writer thread does not exist in the child and the mutex may be held
    // by it in the parent's image: touch nothing, leak everything.
    new (&mutex_) std::mutex();
    closed_ = true;
    stopping_ = true;
    thread_.detach();
    env_.abandon();
    if (lock_fd_ >= 0) ::close(lock_fd_);   // closes our copy; the parent keeps its lock
    lock_fd_ = -1;
}

std::string Writer::cut_reason() const {
    return cut_reason_;
}

void Writer::run() {
    std::vector<Record> batch;
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
        wake_.wait_for(lock, std::chrono::milliseconds(kBatchMillis),
                       [&] { return stopping_ || queue_.size() >= kBatchRecords; });
        if (queue_.empty()) {
            flushed_.notify_all();
            if (stopping_) break;
            continue;
        }
        batch.swap(queue_);
        uint64_t upto = enqueued_;
        lock.unlock();
        commit(batch);
        batch.clear();
        lock.lock();
        committed_ = upto;
        flushed_.notify_all();
        if (stopping_ && queue_.empty()) break;
    }
}

void Writer::grow_map() {
    map_size_ *= 2;
    int rc = mdb_env_set_mapsize(env_.get(), map_size_);
    if (rc) throw LmdbError("cannot grow the recording map", rc);
}

void Writer::commit(std::vector<Record>& batch) {
    for (int attempt = 0; attempt < 40; ++attempt) {
        try {
            commit_once(batch);
            return;
        } catch (const LmdbError& e) {
            if (e.code == MDB_MAP_FULL) {
                // Grow instead of failing; the aborted batch is retried whole.
                try {
                    grow_map();
                    continue;
                } catch (const LmdbError& g) {
                    cut_reason_ = g.what();
                }
            } else {
                cut_reason_ = e.what();
                if (e.code == ENOSPC) cut_reason_ = "the disk is full; recording stopped (what was committed is readable)";
            }
            cut_.store(true);
            return;
        }
    }
}

void Writer::commit_once(std::vector<Record>& batch) {
    WriteTransaction txn(env_.get());
    uint64_t bytes = 0;
    for (const auto& r : batch) {
        if (max_size_ && r.table != Table::kMeta &&
            bytes_written_.load() + bytes + r.key.size() + r.value.size() > max_size_) {
            if (!cut_.load()) {
                cut_reason_ = "the recording reached --max-size; later changes were not recorded";
                cut_.store(true);
            }
            continue;
        }
        MDB_val key{r.key.size(), const_cast<char*>(r.key.data())};
        MDB_val value{r.value.size(), const_cast<char*>(r.value.data())};
        int rc = mdb_put(txn.get(), dbis_[static_cast<size_t>(r.table)], &key, &value, 0);
        if (rc) throw LmdbError("cannot write to the recording", rc);
        bytes += r.key.size() + r.value.size();
    }
    int rc = txn.commit();
    if (rc) throw LmdbError("cannot commit to the recording", rc);
    bytes_written_ += bytes;
}

}  // namespace spyrec::recorder
