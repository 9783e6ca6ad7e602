// libFuzzer target over the replayer's reading of a whole recording: the
// LMDB layer (keys checked against their records, cursors, seeks back to a
// keyframe, streaming merges) and every query on top of it. The contract
// under test (recording.h, queries.h): any recording either answers or
// throws RecordingError; nothing crashes, hangs, leaks or trips ASan/UBSan.
//
// Input: the records of a recording, each as
//   u8 table (schema::Table, modulo the table count), u16 key length, key,
//   u32 value length, value        (lengths little-endian, cut at the input's end)
// written into a fresh LMDB environment, which Recording then opens. LMDB's
// own page format is not fuzzed here: a damaged data.mdb is a different
// input (tests/python/test_reliability_input.py flips and truncates real
// files). Seeds are real recordings (fuzz_seeds --recording).
#include <lmdb.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "queries.h"
#include "recording.h"
#include "recording_error.h"
#include "tables.h"

using namespace spyrec::replayer;
namespace fs = std::filesystem;

namespace {

struct Record {
    uint8_t table;
    std::string_view key;
    std::string_view value;
};

uint64_t read_le(const uint8_t*& p, const uint8_t* end, int bytes) {
    uint64_t n = 0;
    for (int i = 0; i < bytes && p < end; ++i) n |= uint64_t(*p++) << (8 * i);
    return n;
}

std::vector<Record> parse(const uint8_t* p, size_t size) {
    const uint8_t* end = p + size;
    std::vector<Record> out;
    while (p < end && out.size() < 4096) {
        uint8_t table = static_cast<uint8_t>(*p++ % spyrec::schema::kTableCount);
        // read_le moves p: read the length before measuring what is left.
        size_t klen = read_le(p, end, 2);
        klen = std::min(klen, size_t(end - p));
        std::string_view key(reinterpret_cast<const char*>(p), klen);
        p += klen;
        size_t vlen = read_le(p, end, 4);
        vlen = std::min(vlen, size_t(end - p));
        std::string_view value(reinterpret_cast<const char*>(p), vlen);
        p += vlen;
        // LMDB refuses empty keys and keys over its maximum (511 bytes).
        if (!key.empty() && key.size() <= 511) out.push_back(Record{table, key, value});
    }
    return out;
}

const std::string& scratch_dir() {
    // Never destroyed: the exit handler that removes it runs after static
    // destructors may have.
    static const std::string* dir = [] {
        std::string tmpl = (fs::temp_directory_path() / "spyrec-fuzz-XXXXXX").string();
        if (!mkdtemp(tmpl.data())) std::abort();
        auto* made = new std::string(tmpl);
        std::atexit([] { fs::remove_all(scratch_dir()); });
        return made;
    }();
    return *dir;
}

bool write_recording(const std::vector<Record>& records, const std::string& dir) {
    fs::remove(dir + "/data.mdb");
    fs::remove(dir + "/lock.mdb");
    MDB_env* env = nullptr;
    if (mdb_env_create(&env)) return false;
    mdb_env_set_maxdbs(env, spyrec::schema::kTableCount + 1);
    mdb_env_set_mapsize(env, 64u << 20);
    bool ok = false;
    MDB_txn* txn = nullptr;
    if (mdb_env_open(env, dir.c_str(), MDB_NOSYNC | MDB_NOMETASYNC, 0600) == 0 &&
        mdb_txn_begin(env, nullptr, 0, &txn) == 0) {
        ok = true;
        MDB_dbi dbis[spyrec::schema::kTableCount];
        for (size_t i = 0; i < spyrec::schema::kTableCount && ok; ++i) {
            ok = mdb_dbi_open(txn, spyrec::schema::kTableNames[i], MDB_CREATE, &dbis[i]) == 0;
        }
        for (const Record& r : records) {
            if (!ok) break;
            MDB_val k{r.key.size(), const_cast<char*>(r.key.data())};
            MDB_val v{r.value.size(), const_cast<char*>(r.value.data())};
            ok = mdb_put(txn, dbis[r.table], &k, &v, 0) == 0;
        }
        ok = ok ? mdb_txn_commit(txn) == 0 : (mdb_txn_abort(txn), false);
    }
    mdb_env_close(env);
    return ok;
}

void sink(const std::string& s) {
    volatile size_t n = s.size();
    (void)n;
}

void read_everything(const std::string& dir) {
    Recording rec(dir);
    (void)info(rec);
    std::vector<WatchReport> reports = watches(rec);
    int budget = 8;  // watches queried in depth: each query is one more pass
    for (const WatchReport& w : reports) {
        if (budget-- == 0) break;
        const std::string& expr = w.watch.expr;
        (void)change_count(rec, expr);
        uint64_t last_seq = 0;
        ChangeCursor cursor(rec, Target::whole(expr));
        for (int i = 0; i < 64; ++i) {
            std::optional<ChangeReport> c = cursor.next();
            if (!c) break;
            last_seq = c->change.seq;
            for (const std::string& line : c->diff) sink(line);
        }
        if (auto last = last_change(rec, expr)) sink(last->expr);
        for (uint64_t seq : {uint64_t{0}, last_seq / 2, last_seq, last_seq + 1}) (void)value_at(rec, expr, seq);
    }
    ChangeCursor all(rec);
    for (int i = 0; i < 64 && all.next(); ++i) {}
    ExceptionCursor excs(rec);
    for (int i = 0; i < 64 && excs.next(); ++i) {}
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::vector<Record> records = parse(data, size);
    const std::string& dir = scratch_dir();
    if (!write_recording(records, dir)) return 0;
    try {
        read_everything(dir);
    } catch (const RecordingError&) {}
    return 0;
}
