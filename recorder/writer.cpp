#include "writer.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "keys.h"
#include "spyrec.capnp.h"

namespace spyrec::recorder {
namespace {

std::string errno_text(const std::string& what, const std::string& path) {
    return what + " " + path + ": " + std::strerror(errno);
}

// ---- process-wide hooks: fatal signals and fork -------------------------------
// Live writers, readable from a signal handler (fixed slots of atomics, no locks).
constexpr int kSlots = 8;
std::atomic<Writer*> live_writers[kSlots];
std::mutex hooks_mutex;  // registration only, never taken in a signal handler
bool hooks_installed = false;

constexpr int kFatalSignals[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};
struct sigaction previous_actions[std::size(kFatalSignals)];
std::atomic<bool> in_fatal_handler{false};

void sleep_millis(long ms) {
    struct timespec ts{ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, nullptr);
}

// Async-signal-safe: atomics, nanosleep, sigaction, raise.
void on_fatal_signal(int sig, siginfo_t*, void*) {
    if (!in_fatal_handler.exchange(true)) {
        uint64_t targets[kSlots];
        for (int i = 0; i < kSlots; ++i) {
            Writer* w = live_writers[i].load();
            if (w) w->note_fatal_signal(sig);
            targets[i] = w ? w->crash_flush_target() + 1 : 0;  // + the Ending
        }
        // The writer thread wakes every kBatchMillis and commits the queue.
        for (int waited = 0; waited < Writer::kCrashFlushMillis; waited += 5) {
            bool done = true;
            for (int i = 0; i < kSlots; ++i) {
                Writer* w = live_writers[i].load();
                if (w && !w->committed_through(targets[i])) done = false;
            }
            if (done) break;
            sleep_millis(5);
        }
    }
    for (size_t i = 0; i < std::size(kFatalSignals); ++i) {
        if (kFatalSignals[i] == sig) sigaction(sig, &previous_actions[i], nullptr);
    }
    // A faulting instruction faults again on return; an abort()/kill() signal is
    // delivered again once this handler returns (it is blocked while we run).
    raise(sig);
}

void atfork_prepare() {
    for (auto& slot : live_writers) {
        if (Writer* w = slot.load()) w->pause_for_fork();
    }
}
void atfork_parent() {
    for (auto& slot : live_writers) {
        if (Writer* w = slot.load()) w->resume_after_fork();
    }
}
void atfork_child() {
    for (auto& slot : live_writers) {
        if (Writer* w = slot.exchange(nullptr)) w->forget_after_fork();
    }
}

void register_writer(Writer* w) {
    std::lock_guard<std::mutex> lock(hooks_mutex);
    if (!hooks_installed) {
        hooks_installed = true;
        pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
        for (size_t i = 0; i < std::size(kFatalSignals); ++i) {
            struct sigaction action{};
            action.sa_sigaction = on_fatal_signal;
            action.sa_flags = SA_SIGINFO | SA_ONSTACK;
            sigemptyset(&action.sa_mask);
            sigaction(kFatalSignals[i], &action, &previous_actions[i]);
        }
    }
    for (auto& slot : live_writers) {
        Writer* expected = nullptr;
        if (slot.compare_exchange_strong(expected, w)) return;
    }
    // More than kSlots live recordings: this one simply gets no crash flush.
}

void unregister_writer(Writer* w) {
    for (auto& slot : live_writers) {
        Writer* expected = w;
        slot.compare_exchange_strong(expected, nullptr);
    }
}

// The Ending written when the process dies by a fatal signal.
std::string crash_ending(int sig) {
    capnp::MallocMessageBuilder message;
    auto ending = message.initRoot<schema::Ending>();
    ending.setHow(schema::Ending::How::SIGNAL);
    ending.setSignal(sig);
    ending.setExitStatus(128 + sig);
    ending.setEndTime(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
    const char* name = sigabbrev_np(sig);
    ending.setMessage(std::string("SIG") + (name ? name : "?") +
                      " (the program crashed; written by spyrec's crash handler)");
    auto flat = capnp::messageToFlatArray(message);
    auto bytes = flat.asBytes();
    return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

// A fork() made from a thread other than the main one gives a child whose
// only Python thread ends by returning, not by finalizing: no atexit, no
// exit(); the process ends when its last thread does. This writer thread
// would keep it alive for ever, so it checks: the thread group's leader has
// exited and no thread but this one is left.
bool only_this_thread_left() {
    DIR* tasks = opendir("/proc/self/task");
    if (!tasks) return false;
    int threads = 0;
    while (dirent* entry = readdir(tasks)) {
        if (entry->d_name[0] != '.') ++threads;
    }
    closedir(tasks);
    if (threads != 2) return false;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", static_cast<int>(getpid()));
    FILE* stat = fopen(path, "r");
    if (!stat) return false;
    char buffer[512];
    size_t n = fread(buffer, 1, sizeof buffer - 1, stat);
    fclose(stat);
    buffer[n] = '\0';
    const char* close_paren = strrchr(buffer, ')');  // the name may hold spaces and parentheses
    return close_paren && close_paren[1] == ' ' && close_paren[2] == 'Z';
}

std::string leader_gone_ending() {
    capnp::MallocMessageBuilder message;
    auto ending = message.initRoot<schema::Ending>();
    ending.setHow(schema::Ending::How::EXITED);
    ending.setExitStatus(0);
    ending.setEndTime(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
    ending.setMessage("its last thread ended (a child forked from a thread)");
    auto flat = capnp::messageToFlatArray(message);
    auto bytes = flat.asBytes();
    return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

bool always_kept(const RecordView& r) { return r.table == Table::kMeta || (r.table == Table::kWatches && !r.has_with); }

bool is_ending(const RecordView& r) { return r.table == Table::kMeta && r.key == schema::kEndingKey; }

// The seq in a change key (u32 watch id, u64 seq) or an exception key (u64 seq).
uint64_t seq_of(const RecordView& r) {
    const auto* k = reinterpret_cast<const uint8_t*>(r.key.data());
    if (r.table == Table::kChanges && r.key.size() == 12) return schema::detail::get_be<uint64_t>(k + 4);
    if ((r.table == Table::kExceptions || r.table == Table::kMarks) && r.key.size() == 8)
        return schema::detail::get_be<uint64_t>(k);
    return 0;
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

    env_ = schema::LmdbEnv::create();
    mdb_env_set_maxdbs(env_.get(), schema::kTableCount + 1);
    mdb_env_set_mapsize(env_.get(), map_size_);
    // MDB_NORDAHEAD: the writer touches a few pages of the map per commit;
    // read-ahead would map their neighbours too, and every mapped page is in
    // the program's resident memory.
    int rc = mdb_env_open(env_.get(), dir.c_str(), MDB_NOSYNC | MDB_NOMETASYNC | MDB_NORDAHEAD, 0600);
    if (rc) throw LmdbError("cannot open the recording " + dir, rc);
    schema::LmdbTxn txn(env_.get(), schema::LmdbTxn::Mode::kWrite);
    for (size_t i = 0; i < dbis_.size(); ++i) {
        rc = mdb_dbi_open(txn.get(), schema::kTableNames[i], MDB_CREATE, &dbis_[i]);
        if (rc) throw LmdbError("cannot create a table in " + dir, rc);
    }
    rc = txn.commit();
    if (rc) throw LmdbError("cannot initialise the recording " + dir, rc);
}

Writer::~Writer() {
    try {
        close();
    } catch (...) {}
}

void Writer::start() {
    std::lock_guard<std::mutex> lock(mutex_);
    thread_ = spawn_thread();
    register_writer(this);
}

std::thread Writer::spawn_thread() {
    // A signal sent to the process goes to any thread that does not block it.
    // Python runs the program's handlers (spyrec's SIGTERM handler too) in the
    // main thread, when the signal interrupts what it waits in; taken by this
    // thread instead, a SIGTERM only sets a flag that a main thread blocked in
    // a lock never sees (a multiprocessing pool's terminate() hung). So this
    // thread blocks every signal but the fatal ones a fault raises in it.
    sigset_t blocked, previous;
    sigfillset(&blocked);
    for (int sig : kFatalSignals) sigdelset(&blocked, sig);
    pthread_sigmask(SIG_BLOCK, &blocked, &previous);
    std::thread thread([this] { run(); });
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    return thread;
}

void Writer::ensure_running() {
    if (paused_ && !abandoned_ && !closed_) {
        paused_ = false;
        stopping_ = false;
        thread_ = spawn_thread();
    }
}

bool Writer::enqueue(const RecordView& record, const RecordView* also) {
    // Meta records (the ending) and watch records (rewritten at the end with
    // what spyrec could not see) are always accepted, so a cut recording still
    // says how it ended and what it missed.
    if (cut_.load() && !always_kept(record)) {
        note_cut(record, "");
        if (also) note_cut(*also, "");
        return false;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (closed_ || abandoned_) return false;
    ensure_running();
    queue_.add(record);
    ++enqueued_;
    if (also) {
        queue_.add(*also);
        ++enqueued_;
    }
    enqueued_total_.store(enqueued_);
    if (batch_full()) wake_.notify_one();
    return true;
}

void Writer::flush() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!thread_.joinable()) return;
    uint64_t target = enqueued_;
    flush_wanted_ = true;  // commit now, not when the batch's time is up
    wake_.notify_one();
    flushed_.wait(lock, [&] { return committed_ >= target || stopping_; });
}

void Writer::close() {
    unregister_writer(this);
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (closed_ || abandoned_) return;
        stopping_ = true;
        wake_.notify_one();
    }
    if (thread_.joinable()) thread_.join();
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    if (!queue_.empty()) {
        WriteBatch rest;
        rest.swap(queue_);
        commit(rest);
        committed_ = enqueued_;
        committed_total_.store(committed_);
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

void Writer::pause_for_fork() {
    // Called by the forking thread before fork(): commit the queue and stop the
    // thread, then hold mutex_ through the fork so nothing is half-enqueued.
    bool running;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        running = !closed_ && !abandoned_ && thread_.joinable();
        if (running) {
            stopping_ = true;
            wake_.notify_one();
        }
    }
    if (running) thread_.join();
    mutex_.lock();  // unlocked by resume_after_fork / forget_after_fork
    if (running) paused_ = true;
}

void Writer::resume_after_fork() {
    // The thread is restarted by the next enqueue, not here: CPython counts the
    // process's threads right after fork() returns and warns about any extra one.
    mutex_.unlock();
}

void Writer::forget_after_fork() {
    // The child: the mutex was locked by this (the forking) thread; the thread
    // object is not joinable (joined in prepare). Never touch the parent's
    // environment or its lock.
    abandoned_ = true;
    closed_ = true;
    queue_.clear();
    mutex_.unlock();
    env_.abandon();
    if (lock_fd_ >= 0) ::close(lock_fd_);  // our copy; the parent keeps its lock
    lock_fd_ = -1;
}

void Writer::abandon_after_fork() {
    // Called from the Python fork hook too; the atfork child handler usually
    // got here first. The writer thread does not exist in the child and the
    // mutex may be held by it in the parent's image: touch nothing, leak everything.
    if (abandoned_) return;
    unregister_writer(this);
    new (&mutex_) std::mutex();
    abandoned_ = true;
    closed_ = true;
    stopping_ = true;
    if (thread_.joinable()) thread_.detach();
    env_.abandon();
    if (lock_fd_ >= 0) ::close(lock_fd_);
    lock_fd_ = -1;
}

std::string Writer::cut_reason() const { return cut_reason_; }

void Writer::note_cut(const RecordView& r, const std::string& reason) {
    if (!reason.empty() && !cut_.load()) {
        cut_reason_ = reason;
        cut_.store(true);
    }
    uint64_t seq = seq_of(r);
    if (!seq) return;
    // The Ending's cutAtSeq: the last seq recorded, i.e. one before the first
    // left out. Records are noted from two threads (enqueue after the cut, the
    // writer for its batch), so keep the smallest.
    uint64_t seen = cut_at_seq_.load();
    while ((seen == 0 || seq - 1 < seen) && !cut_at_seq_.compare_exchange_weak(seen, seq - 1)) {}
}

void Writer::stop_disk_error(const std::string& reason) {
    bool first = !cut_.exchange(true);
    cut_reason_ = reason;
    if (first) {
        // One line on stderr, written directly: this is the writer thread, and
        // the program's sys.stderr is not ours to use here.
        std::string line = "spyrec: " + reason + "\n";
        ssize_t ignored = ::write(2, line.data(), line.size());
        (void)ignored;
    }
}

void Writer::run() {
    WriteBatch batch;
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
        wake_.wait_for(lock, std::chrono::milliseconds(kBatchMillis),
                       [&] { return stopping_ || flush_wanted_ || batch_full(); });
        flush_wanted_ = false;
        if (queue_.empty() && !stopping_ && only_this_thread_left()) {
            // Nothing else will end this process: commit, end the recording,
            // and end the process as its last thread's exit would have (status 0).
            WriteBatch last;
            last.add(Table::kMeta, schema::kEndingKey, leader_gone_ending());
            commit(last);
            _exit(0);
        }
        if (int sig = fatal_signal_.exchange(0)) {
            // The fatal-signal handler is waiting for this batch (see on_fatal_signal).
            queue_.add(Table::kMeta, schema::kEndingKey, crash_ending(sig));
            ++enqueued_;
            enqueued_total_.store(enqueued_);
        }
        if (queue_.empty()) {
            flushed_.notify_all();
            if (stopping_) break;
            continue;
        }
        batch.swap(queue_);
        uint64_t upto = enqueued_;
        lock.unlock();
        commit(batch);
        batch.clear();  // its buffers go back to the queue at the next swap
        release_mapped_pages();
        lock.lock();
        committed_ = upto;
        committed_total_.store(upto);
        flushed_.notify_all();
        if (stopping_ && queue_.empty()) break;
    }
}

void Writer::grow_map() {
    map_size_ *= 2;
    int rc = mdb_env_set_mapsize(env_.get(), map_size_);
    if (rc) throw LmdbError("cannot grow the recording map", rc);
}

namespace {

// Where `path` is mapped in this process ({nullptr, 0}: nowhere), from
// /proc/self/maps: "start-end perms offset dev inode path".
std::pair<void*, size_t> locate_mapping(const std::string& file) {
    char* resolved = realpath(file.c_str(), nullptr);  // the kernel lists resolved paths
    if (!resolved) return {nullptr, 0};
    std::string path(resolved);
    std::free(resolved);
    std::ifstream maps("/proc/self/maps");
    std::string line;
    while (std::getline(maps, line)) {
        auto slash = line.find('/');
        if (slash == std::string::npos || line.compare(slash, std::string::npos, path) != 0) continue;
        unsigned long start = 0, end = 0;
        if (std::sscanf(line.c_str(), "%lx-%lx", &start, &end) == 2 && end > start) {
            return {reinterpret_cast<void*>(start), end - start};
        }
    }
    return {nullptr, 0};
}

bool is_disk_error(int code) { return code == ENOSPC || code == EDQUOT || code == EFBIG || code == EIO; }

// Room left for the recording: free space on its file system, and what the
// file size limit (RLIMIT_FSIZE) still allows data.mdb. LMDB reports a short
// write as EIO, so this is how a full disk is told from a failing one.
bool disk_nearly_full(const std::string& dir) {
    struct statvfs fs{};
    return statvfs(dir.c_str(), &fs) == 0 && uint64_t(fs.f_bavail) * fs.f_frsize < Writer::kDiskReserve * 4;
}

// An aborted transaction may have extended data.mdb past the last committed
// page; the next one overwrites those pages, so they count as room.
uint64_t room_left(const std::string& dir, MDB_env* env) {
    uint64_t used = 0;
    MDB_envinfo info{};
    MDB_stat st_env{};
    if (mdb_env_info(env, &info) == 0 && mdb_env_stat(env, &st_env) == 0) {
        used = (uint64_t(info.me_last_pgno) + 1) * st_env.ms_psize;
    }
    struct stat st{};
    uint64_t file = stat((dir + "/data.mdb").c_str(), &st) == 0 ? uint64_t(st.st_size) : used;
    uint64_t slack = file > used ? file - used : 0;
    uint64_t room = UINT64_MAX;
    struct statvfs fs{};
    if (statvfs(dir.c_str(), &fs) == 0) room = uint64_t(fs.f_bavail) * fs.f_frsize + slack;
    struct rlimit lim{};
    if (getrlimit(RLIMIT_FSIZE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY) {
        room = std::min<uint64_t>(room, lim.rlim_cur > used ? lim.rlim_cur - used : 0);
    }
    return room;
}

}  // namespace

void Writer::release_mapped_pages() {
    // The map's pages stay resident after a commit read them, and count in
    // the program's memory. Dropping them costs nothing that matters: the
    // next commit faults in the few it needs from the page cache. LMDB does
    // not say where its map is (mdb_env_info only knows a fixed address), so
    // the kernel's list of this process's mappings does, once per map size.
    if (abandoned_ || !env_.get()) return;
    if (map_located_for_ != map_size_) {
        map_located_for_ = map_size_;
        map_ = locate_mapping(dir_ + "/data.mdb");
    }
    if (map_.first) madvise(map_.first, map_.second, MADV_DONTNEED);
}

void Writer::commit(const WriteBatch& batch) {
    if (abandoned_) return;
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
                    stop_disk_error(std::string(g.what()) + "; recording stopped (what was committed is readable)");
                    return;
                }
            }
            if (!is_disk_error(e.code)) {
                stop_disk_error(std::string(e.what()) + "; recording stopped (what was committed before is readable)");
                for (size_t i = 0; i < batch.size(); ++i) note_cut(batch[i], "");
                return;
            }
            commit_until_full(batch, e.code);
            return;
        }
    }
}

// The batch did not fit: keep as much of it as fits, one record per
// transaction, while leaving kDiskReserve free so the Ending still fits; then
// stop recording with one line on stderr.
void Writer::commit_until_full(const WriteBatch& batch, int code) {
    size_t i = 0;
    for (; i < batch.size(); ++i) {
        if (is_ending(batch[i])) continue;
        if (room_left(dir_, env_.get()) < kDiskReserve) break;
        WriteBatch one;
        one.add(batch[i]);
        try {
            commit_once(one);
        } catch (const LmdbError&) {
            break;
        }
    }
    const char* kept = "; recording stopped (what was committed before is readable)";
    if (disk_nearly_full(dir_) || code == ENOSPC || code == EDQUOT) {
        stop_disk_error(std::string("the disk is full") + kept);
    } else if (code == EFBIG || room_left(dir_, env_.get()) < kDiskReserve * 4) {
        stop_disk_error(std::string("the recording reached the file size limit (ulimit -f)") + kept);
    } else {
        stop_disk_error(std::string("cannot write to the recording: ") + std::strerror(code) + kept);
    }
    for (size_t j = i; j < batch.size(); ++j) note_cut(batch[j], "");
    // The Ending, if it was in this batch, goes last and alone, into the reserve.
    for (size_t k = 0; k < batch.size(); ++k) {
        if (is_ending(batch[k])) {
            WriteBatch one;
            one.add(batch[k]);
            try {
                commit_once(one);
            } catch (const LmdbError&) {}
        }
    }
}

// The Ending record, with cutAtSeq set to the last seq actually recorded (the
// session knows only its own last seq).
std::string Writer::with_cut_ending(std::string_view ending) const {
    if (!cut_.load() || ending.size() % sizeof(capnp::word) != 0 || ending.empty()) return std::string(ending);
    try {
        auto words = kj::heapArray<capnp::word>(ending.size() / sizeof(capnp::word));
        std::memcpy(words.begin(), ending.data(), ending.size());
        capnp::FlatArrayMessageReader reader(words.asPtr());
        capnp::MallocMessageBuilder builder;
        builder.setRoot(reader.getRoot<schema::Ending>());
        auto root = builder.getRoot<schema::Ending>();
        root.setRecordingCut(true);
        if (cut_at_seq_.load() || root.getCutAtSeq() == 0) root.setCutAtSeq(cut_at_seq_.load());
        if (root.getMessage().size() == 0) root.setMessage(cut_reason_);
        auto flat = capnp::messageToFlatArray(builder);
        auto bytes = flat.asBytes();
        return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
    } catch (const kj::Exception&) {
        return std::string(ending);
    }
}

void Writer::commit_once(const WriteBatch& batch) {
    schema::LmdbTxn txn(env_.get(), schema::LmdbTxn::Mode::kWrite);
    uint64_t bytes = 0;
    for (size_t i = 0; i < batch.size(); ++i) {
        const RecordView r = batch[i];
        // Once cut, nothing more but the ending and the watch notes: a change
        // after a gap could not be rebuilt (its ops apply to the value before it).
        if (cut_.load() && !always_kept(r)) {
            note_cut(r, "");
            continue;
        }
        const size_t attached = r.has_with ? r.with_key.size() + r.with_value.size() : 0;
        if (max_size_ && !always_kept(r) &&
            bytes_written_.load() + bytes + r.key.size() + r.value.size() + attached > max_size_) {
            note_cut(r, "the recording reached --max-size; later changes were not recorded");
            continue;
        }
        std::string ending;
        std::string_view value_bytes = r.value;
        if (is_ending(r) && cut_.load()) {
            ending = with_cut_ending(r.value);
            value_bytes = ending;
        }
        MDB_val key{r.key.size(), const_cast<char*>(r.key.data())};
        MDB_val value{value_bytes.size(), const_cast<char*>(value_bytes.data())};
        int rc = put(txn.get(), r.table, key, value);
        if (rc) throw LmdbError("cannot write to the recording", rc);
        if (r.has_with) {
            MDB_val k2{r.with_key.size(), const_cast<char*>(r.with_key.data())};
            MDB_val v2{r.with_value.size(), const_cast<char*>(r.with_value.data())};
            rc = put(txn.get(), r.with_table, k2, v2);
            if (rc) throw LmdbError("cannot write to the recording", rc);
        }
        bytes += r.key.size() + value_bytes.size() + attached;
    }
    int rc = txn.commit();
    if (rc) throw LmdbError("cannot commit to the recording", rc);
    bytes_written_ += bytes;
}

int Writer::put(MDB_txn* txn, Table table, MDB_val& key, MDB_val& value) {
    // Most records come in key order (a watch's changes by seq, an
    // instruction's by_code entries): MDB_APPEND puts those at the end of
    // the table without searching it, and fills pages instead of splitting
    // them in half. last_key_ may run ahead of the table after an aborted
    // transaction, never behind it, so a key it allows is always the largest.
    std::string& last = last_key_[static_cast<size_t>(table)];
    std::string_view k(static_cast<const char*>(key.mv_data), key.mv_size);
    bool in_order = last.empty() || k > std::string_view(last);
    int rc = mdb_put(txn, dbis_[static_cast<size_t>(table)], &key, &value, in_order ? MDB_APPEND : 0);
    if (rc == MDB_KEYEXIST && in_order) rc = mdb_put(txn, dbis_[static_cast<size_t>(table)], &key, &value, 0);
    if (rc == 0 && in_order) last.assign(k);
    return rc;
}

}  // namespace spyrec::recorder
