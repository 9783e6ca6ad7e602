// Dumps the records of a real recording as fuzz seeds.
//   fuzz_seeds RECORDING_DIR OUT_DIR              for fuzz_decode: one file per
//       record, its first byte the target's selector for that record's
//       decoder; the keyframes (whole values, selector 3) also go in
//       consecutive pairs (selector 7), so render and diff start from real values.
//   fuzz_seeds --recording RECORDING_DIR OUT_FILE for fuzz_recording: the
//       whole recording (its first 64 records per table) in that target's
//       input layout.
#include <lmdb.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <string_view>

#include "tables.h"

namespace {

int written = 0;

void write_seed(const std::string& out, const std::string& name, uint8_t selector, std::string_view body) {
    std::ofstream f(out + "/" + name + "-" + std::to_string(written++), std::ios::binary);
    f.put(static_cast<char>(selector));
    f.write(body.data(), static_cast<std::streamsize>(body.size()));
}

// Two consecutive keyframes as a pair (selector 7): diff starts from real
// values that differ a little.
void keyframe_pair(std::string_view previous, std::string_view value, const std::string& out) {
    if (previous.empty()) return;
    uint32_t n = static_cast<uint32_t>(previous.size() / 8);
    std::string pair(reinterpret_cast<const char*>(&n), 4);  // little-endian on x86/arm
    write_seed(out, "pair", 7, pair + std::string(previous) + std::string(value));
}

void dump(MDB_env* env, const char* db, const std::string& out, int selector) {
    MDB_txn* txn = nullptr;
    MDB_dbi dbi;
    MDB_cursor* cur = nullptr;
    if (mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn)) return;
    int n = 0;
    std::string previous;
    if (mdb_dbi_open(txn, db, 0, &dbi) == 0 && mdb_cursor_open(txn, dbi, &cur) == 0) {
        MDB_val k, v;
        for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && n < 100;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), ++n) {
            std::string_view key(static_cast<const char*>(k.mv_data), k.mv_size);
            std::string_view value(static_cast<const char*>(v.mv_data), v.mv_size);
            int sel = selector;
            if (selector < 0) {  // the meta table: meta and ending messages
                if (key == "meta")
                    sel = 0;
                else if (key == "ending")
                    sel = 1;
                else
                    continue;
            }
            write_seed(out, db, static_cast<uint8_t>(sel), value);
            if (sel == 3) {
                keyframe_pair(previous, value, out);
                previous.assign(value);
            }
        }
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
}

void append_le(std::string& out, uint64_t n, int bytes) {
    for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
}

// fuzz_recording.cpp's layout: u8 table, u16 key length, key, u32 value length, value.
void dump_recording(MDB_env* env, const std::string& out_file) {
    std::string out;
    MDB_txn* txn = nullptr;
    if (mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn)) return;
    for (size_t t = 0; t < spyrec::schema::kTableCount; ++t) {
        MDB_dbi dbi;
        MDB_cursor* cur = nullptr;
        if (mdb_dbi_open(txn, spyrec::schema::kTableNames[t], 0, &dbi) || mdb_cursor_open(txn, dbi, &cur)) continue;
        MDB_val k, v;
        int n = 0;
        for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && n < 64;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), ++n) {
            out.push_back(static_cast<char>(t));
            append_le(out, k.mv_size, 2);
            out.append(static_cast<const char*>(k.mv_data), k.mv_size);
            append_le(out, v.mv_size, 4);
            out.append(static_cast<const char*>(v.mv_data), v.mv_size);
        }
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    std::ofstream(out_file, std::ios::binary).write(out.data(), static_cast<std::streamsize>(out.size()));
    std::printf("fuzz_seeds: %zu bytes of recording from the first records of each table\n", out.size());
}

}  // namespace

int main(int argc, char** argv) {
    bool whole = argc == 4 && std::string_view(argv[1]) == "--recording";
    if (argc != 3 && !whole) {
        std::fprintf(stderr, "usage: fuzz_seeds [--recording] RECORDING_DIR OUT\n");
        return 2;
    }
    const char* dir = argv[whole ? 2 : 1];
    MDB_env* env = nullptr;
    mdb_env_create(&env);
    mdb_env_set_maxdbs(env, 16);
    if (int rc = mdb_env_open(env, dir, MDB_RDONLY | MDB_NOLOCK, 0)) {
        std::fprintf(stderr, "fuzz_seeds: %s: %s\n", dir, mdb_strerror(rc));
        return 2;
    }
    std::string out = argv[whole ? 3 : 2];
    if (whole) {
        dump_recording(env, out);
        mdb_env_close(env);
        return 0;
    }
    dump(env, "meta", out, -1);
    dump(env, "watches", out, 2);
    dump(env, "changes", out, 4);
    dump(env, "keyframes", out, 3);
    dump(env, "code", out, 5);
    dump(env, "exceptions", out, 6);
    mdb_env_close(env);
    std::printf("fuzz_seeds: %d seeds from %s\n", written, dir);
    return 0;
}
