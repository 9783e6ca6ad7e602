// An open recording: the LMDB environment (read-only), its sub-database
// handles and the decoded Meta record. Opening checks, in order, that the path
// exists, that it is an LMDB environment, that it carries a spyrec format key,
// and that the format version is one this build reads. Every query opens its
// own short read transaction, so a recording that another process is still
// writing shows everything committed so far.
#pragma once
#include <lmdb.h>

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "lmdb_handles.h"
#include "recording_error.h"
#include "tables.h"
#include "records.h"

namespace spyrec::replayer {

// LMDB handles and the table list are schema/'s, shared with the recorder.
using schema::as_view;
using schema::LmdbCursor;
using schema::LmdbEnv;
using schema::Table;
using ReadTxn = schema::LmdbTxn;  // always Mode::kRead here: reading never writes

class Recording {
public:
    // Throws RecordingError: "no recording at PATH", "not a spyrec recording:
    // PATH", "recording format version N is newer than ...", "damaged recording: ...".
    explicit Recording(std::string path);
    ~Recording();
    Recording(const Recording&) = delete;
    Recording& operator=(const Recording&) = delete;

    const std::string& path() const { return path_; }
    const Meta& meta() const { return meta_; }
    uint32_t format_version() const { return format_version_; }
    MDB_env* env() const { return env_.get(); }

    // The handle of a sub-database, or nullopt when the recording lacks it
    // (treated as empty by the queries).
    std::optional<MDB_dbi> db(Table which) const { return dbis_[schema::table_index(which)]; }

    // One exact-key lookup; nullopt when the key (or the sub-database) is absent.
    // The view points into the map and is valid until txn ends.
    std::optional<std::string_view> get(const ReadTxn& txn, Table which, std::string_view key) const;

    // The bytes of an LMDB key or value, after checking they lie inside the
    // mapped file: LMDB trusts the sizes in its pages, and a damaged page can
    // claim a value running past the end of data.mdb (a SIGBUS, not an error).
    std::string_view view(const MDB_val& v, std::string_view where) const;

    // Number of entries in a sub-database (0 when absent).
    uint64_t count(const ReadTxn& txn, Table which) const;

private:
    void open_env();
    void check_not_truncated(const std::string& data_file);
    void open_databases();
    void load_meta();

    std::string path_;
    LmdbEnv env_;
    std::array<std::optional<MDB_dbi>, schema::kTableCount> dbis_{};
    uint32_t format_version_ = 0;
    const char* map_begin_ = nullptr;  // our mapping of data.mdb
    uint64_t map_size_ = 0;
    mutable uint64_t file_size_ = 0;
    Meta meta_;
};

}  // namespace spyrec::replayer
