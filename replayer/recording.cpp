#include "recording.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <vector>
#include <mutex>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "decode.h"
#include "format.h"
#include "keys.h"

namespace spyrec::replayer {
namespace {

// LMDB trusts the contents of its pages: in a corrupted data.mdb a node can
// point past the end of the file, and touching that part of the mapping is a
// SIGBUS inside LMDB, where no error code can report it. A SIGBUS whose
// address lies in a recording's mapping is therefore turned into the usual one
// line and exit status 2 (a reader process has nothing to save); any other
// SIGBUS goes to the previous handler.
struct MappedRecording {
    std::atomic<const char*> begin{nullptr};
    std::atomic<uint64_t> size{0};
    char message[512] = {};
};
constexpr int kMappedSlots = 16;
MappedRecording mapped[kMappedSlots];
struct sigaction previous_sigbus{};
std::once_flag sigbus_installed;

void on_sigbus(int sig, siginfo_t* info, void* context) {
    const char* addr = static_cast<const char*>(info->si_addr);
    for (auto& m : mapped) {
        const char* begin = m.begin.load();
        if (begin && addr >= begin && uint64_t(addr - begin) < m.size.load()) {
            ssize_t ignored = ::write(2, m.message, strnlen(m.message, sizeof m.message));
            (void)ignored;
            _exit(2);
        }
    }
    sigaction(SIGBUS, &previous_sigbus, nullptr);
    if (previous_sigbus.sa_flags & SA_SIGINFO && previous_sigbus.sa_sigaction) {
        previous_sigbus.sa_sigaction(sig, info, context);
    } else {
        raise(sig);
    }
}

void watch_mapping(const char* begin, uint64_t size, const std::string& path) {
    std::call_once(sigbus_installed, [] {
        struct sigaction action{};
        action.sa_sigaction = on_sigbus;
        action.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&action.sa_mask);
        sigaction(SIGBUS, &action, &previous_sigbus);
    });
    for (auto& m : mapped) {
        if (m.begin.load() == nullptr) {
            std::string text = "spyrec: error: damaged recording: " + path +
                               ": data.mdb is shorter than its pages (damaged, or truncated while being read)\n";
            std::snprintf(m.message, sizeof m.message, "%s", text.c_str());
            m.size.store(size);
            m.begin.store(begin);
            return;
        }
    }
}

// Where LMDB mapped data.mdb: mdb_env_info's me_mapaddr is only the
// MDB_FIXEDMAP address, so look the mapping up by inode in /proc/self/maps.
std::vector<const char*> mappings_of(ino_t inode) {
    std::vector<const char*> out;
    FILE* maps = std::fopen("/proc/self/maps", "r");
    if (!maps) return out;
    char line[4096];
    while (std::fgets(line, sizeof line, maps)) {
        unsigned long long begin = 0, end = 0, offset = 0, ino = 0;
        char perms[8] = {}, dev[32] = {};
        if (std::sscanf(line, "%llx-%llx %7s %llx %31s %llu", &begin, &end, perms, &offset, dev, &ino) == 6 &&
            ino == static_cast<unsigned long long>(inode) && offset == 0) {
            out.push_back(reinterpret_cast<const char*>(begin));
        }
    }
    std::fclose(maps);
    return out;
}

void unwatch_mapping(const char* begin) {
    for (auto& m : mapped) {
        if (begin && m.begin.load() == begin) m.begin.store(nullptr);
    }
}

MDB_val to_val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }

}  // namespace

Recording::~Recording() { unwatch_mapping(map_begin_); }

Recording::Recording(std::string path) : path_(std::move(path)) {
    open_env();
    open_databases();
    load_meta();
}

void Recording::open_env() {
    struct stat st{};
    if (::stat(path_.c_str(), &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) throw RecordingError("no recording at " + path_);
        throw RecordingError("cannot open recording " + path_ + ": " + std::strerror(errno));
    }
    if (!S_ISDIR(st.st_mode)) throw RecordingError("not a spyrec recording: " + path_ + " (not a directory)");
    std::string data_file = path_ + "/data.mdb";
    if (::stat(data_file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
        throw RecordingError("not a spyrec recording: " + path_);
    }

    // Which mappings of data.mdb exist before ours (spyrec.record() in this
    // process maps it too): ours is the one that appears.
    auto before = mappings_of(st.st_ino);
    ino_t inode = st.st_ino;

    // MDB_NOTLS: reader slots belong to our transaction objects, not to the
    // calling thread, so Python threads can share one Reading.
    unsigned flags = MDB_RDONLY | MDB_NOTLS;
    for (int attempt = 0; attempt < 2; ++attempt) {
        LmdbEnv env = LmdbEnv::create();
        mdb_env_set_maxdbs(env.get(), schema::kTableCount);
        int rc = mdb_env_open(env.get(), path_.c_str(), flags, 0);
        if (rc == 0) {
            env_ = std::move(env);
            check_not_truncated(data_file);
            for (const char* m : mappings_of(inode)) {
                if (std::find(before.begin(), before.end(), m) == before.end()) map_begin_ = m;
            }
            if (map_begin_) watch_mapping(map_begin_, map_size_, path_);
            return;
        }
        // A recording in a directory we may not write (someone else's, a
        // read-only copy): lock.mdb cannot be created, so read without the
        // lock table. Safe only because nobody is writing such a copy.
        if ((rc == EACCES || rc == EROFS || rc == EPERM) && !(flags & MDB_NOLOCK)) {
            flags |= MDB_NOLOCK;
            continue;
        }
        if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH) {
            throw RecordingError("not a spyrec recording: " + path_);
        }
        throw RecordingError("cannot open recording " + path_ + ": " + mdb_strerror(rc));
    }
    throw RecordingError("cannot open recording " + path_ + ": permission denied");
}

// LMDB maps data.mdb and trusts its meta page: a page past the end of a
// truncated file is a SIGBUS on first touch, not an error code. So refuse a
// file shorter than the last page the meta page says is in use. (A recording
// still being written only ever grows: the writer extends the file before it
// commits a meta page that points past the old end.)
void Recording::check_not_truncated(const std::string& data_file) {
    MDB_envinfo info{};
    MDB_stat st{};
    struct stat file{};
    if (mdb_env_info(env_.get(), &info) != 0 || mdb_env_stat(env_.get(), &st) != 0 ||
        ::stat(data_file.c_str(), &file) != 0) {
        throw RecordingError("damaged recording: " + path_ + ": cannot read its size");
    }
    uint64_t needed = (uint64_t(info.me_last_pgno) + 1) * st.ms_psize;
    file_size_ = uint64_t(file.st_size);
    map_size_ = info.me_mapsize;
    if (uint64_t(file.st_size) < needed) {
        throw RecordingError("damaged recording: " + path_ + ": data.mdb is truncated (" +
                             std::to_string(file.st_size) + " bytes, " + std::to_string(needed) + " expected)");
    }
}

void Recording::open_databases() {
    ReadTxn txn(env_.get(), ReadTxn::Mode::kRead);
    for (size_t i = 0; i < std::size(schema::kTableNames); ++i) {
        MDB_dbi dbi = 0;
        int rc = mdb_dbi_open(txn.get(), schema::kTableNames[i], 0, &dbi);
        if (rc == 0) {
            dbis_[i] = dbi;
        } else if (rc != MDB_NOTFOUND && rc != MDB_INCOMPATIBLE) {
            throw RecordingError("cannot open recording " + path_ + ": " + mdb_strerror(rc));
        }
    }
    if (!db(Table::kMeta)) throw RecordingError("not a spyrec recording: " + path_);

    auto format = get(txn, Table::kMeta, schema::kFormatKey);
    if (!format) throw RecordingError("not a spyrec recording: " + path_);
    auto version = schema::decode_u32_key(format->data(), format->size());
    if (!version) throw RecordingError("damaged recording: " + path_ + ": the format key is not 4 bytes");
    format_version_ = *version;
    if (format_version_ > schema::kFormatVersion) {
        throw RecordingError("recording format version " + std::to_string(format_version_) +
                             " is newer than this spyrec reads (" + std::to_string(schema::kFormatVersion) +
                             "); upgrade spyrec");
    }
    if (format_version_ < schema::kOldestReadableFormat) {
        // Format 1 stored whole values per change; format 2 stores ops and
        // keyframes (docs/value-model.md). Nothing converts one to the other.
        throw RecordingError("recording format version " + std::to_string(format_version_) +
                             " was written by an older spyrec; this spyrec reads formats " +
                             std::to_string(schema::kOldestReadableFormat) + " to " +
                             std::to_string(schema::kFormatVersion));
    }
    // Committing keeps the DBI handles for the life of the environment.
    if (int rc = txn.commit(); rc != 0) throw schema::LmdbError("cannot read the recording", rc);
}

void Recording::load_meta() {
    ReadTxn txn(env_.get(), ReadTxn::Mode::kRead);
    auto bytes = get(txn, Table::kMeta, schema::kMetaKey);
    if (!bytes) throw RecordingError("damaged recording: " + path_ + " has no meta record");
    meta_ = decode_meta(*bytes, "the meta record");
}

std::optional<std::string_view> Recording::get(const ReadTxn& txn, Table which, std::string_view key) const {
    auto dbi = db(which);
    if (!dbi) return std::nullopt;
    MDB_val k = to_val(key);
    MDB_val v{};
    int rc = mdb_get(txn.get(), *dbi, &k, &v);
    if (rc == MDB_NOTFOUND) return std::nullopt;
    if (rc != 0) throw RecordingError("damaged recording: " + path_ + ": " + mdb_strerror(rc));
    return view(v, "a record");
}

std::string_view Recording::view(const MDB_val& v, std::string_view where) const {
    const char* p = static_cast<const char*>(v.mv_data);
    auto outside = [&] {
        return map_begin_ && v.mv_size &&
               (p < map_begin_ || p > map_begin_ + file_size_ || v.mv_size > uint64_t(map_begin_ + file_size_ - p));
    };
    if (outside()) {
        // A recording still being written grows: look again before blaming it.
        struct stat file{};
        if (::stat((path_ + "/data.mdb").c_str(), &file) == 0) file_size_ = uint64_t(file.st_size);
    }
    if (outside()) {
        throw RecordingError("damaged recording: " + path_ + ": " + std::string(where) +
                             " runs past the end of data.mdb");
    }
    return as_view(v);
}

uint64_t Recording::count(const ReadTxn& txn, Table which) const {
    auto dbi = db(which);
    if (!dbi) return 0;
    MDB_stat st{};
    int rc = mdb_stat(txn.get(), *dbi, &st);
    if (rc != 0) throw RecordingError("damaged recording: " + path_ + ": " + mdb_strerror(rc));
    return st.ms_entries;
}

}  // namespace spyrec::replayer
