// The writer's queue (write_batch.h) and its ordered puts (Writer::put): the
// bytes come back as they went in, and records in any key order all land.
#include <gtest/gtest.h>
#include <lmdb.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>

#include "keys.h"
#include "lmdb_handles.h"
#include "tables.h"
#include "write_batch.h"
#include "writer.h"

namespace rec = spyrec::recorder;
namespace schema = spyrec::schema;

namespace {

std::string temp_dir(const std::string& name) {
    auto dir = std::filesystem::temp_directory_path() / ("spyrec-test-" + name + "-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir);
    return dir.string();
}

// Every key and value of one table of a closed recording, in key order.
std::map<std::string, std::string> table_contents(const std::string& dir, schema::Table table) {
    auto env = schema::LmdbEnv::create();
    mdb_env_set_maxdbs(env.get(), schema::kTableCount + 1);
    EXPECT_EQ(mdb_env_open(env.get(), dir.c_str(), MDB_RDONLY, 0600), 0);
    schema::LmdbTxn txn(env.get(), schema::LmdbTxn::Mode::kRead);
    MDB_dbi dbi;
    EXPECT_EQ(mdb_dbi_open(txn.get(), schema::table_name(table), 0, &dbi), 0);
    std::map<std::string, std::string> out;
    schema::LmdbCursor cursor(txn.get(), dbi);
    MDB_val k, v;
    for (MDB_cursor_op op = MDB_FIRST; cursor.get(k, v, op); op = MDB_NEXT) {
        out.emplace(std::string(schema::as_view(k)), std::string(schema::as_view(v)));
    }
    return out;
}

}  // namespace

TEST(WriteBatch, GivesBackEachRecordsBytesAndAttachment) {
    rec::WriteBatch batch;
    batch.add(rec::Table::kSources, "a.py", "print(1)");
    const std::string thousand(1000, 'v');
    rec::RecordView with{rec::Table::kChanges, "key2", thousand};
    with.has_with = true;
    with.with_table = rec::Table::kKeyframes;
    with.with_key = "kf";
    with.with_value = "whole value";
    batch.add(with);
    batch.add(rec::Table::kByCode, std::string_view("\0\1", 2), "");
    ASSERT_EQ(batch.size(), 3u);
    EXPECT_EQ(batch.bytes(), 4u + 8 + 4 + 1000 + 2 + 11 + 2);
    EXPECT_EQ(batch[0].table, rec::Table::kSources);
    EXPECT_EQ(batch[0].key, "a.py");
    EXPECT_EQ(batch[0].value, "print(1)");
    EXPECT_FALSE(batch[0].has_with);
    EXPECT_EQ(batch[1].value, thousand);
    ASSERT_TRUE(batch[1].has_with);
    EXPECT_EQ(batch[1].with_table, rec::Table::kKeyframes);
    EXPECT_EQ(batch[1].with_key, "kf");
    EXPECT_EQ(batch[1].with_value, "whole value");
    EXPECT_EQ(batch[2].key, std::string_view("\0\1", 2));
    EXPECT_EQ(batch[2].value, "");

    rec::WriteBatch other;
    other.swap(batch);
    EXPECT_TRUE(batch.empty());
    EXPECT_EQ(other[0].key, "a.py");
}

TEST(WriteBatch, ClearKeepsItsBufferUnlessItGrewPastTheCap) {
    rec::WriteBatch batch;
    batch.add(rec::Table::kSources, "k", std::string(1000, 'x'));
    const char* before = batch[0].value.data();
    batch.clear();
    EXPECT_TRUE(batch.empty());
    batch.add(rec::Table::kSources, "k", std::string(1000, 'y'));
    EXPECT_EQ(batch[0].value.data(), before) << "the buffer was reused, not allocated again";

    batch.add(rec::Table::kSources, "big", std::string(rec::WriteBatch::kKeptBytes + 1, 'z'));
    EXPECT_GT(batch.capacity(), rec::WriteBatch::kKeptBytes);
    batch.clear();
    EXPECT_LE(batch.capacity(), rec::WriteBatch::kKeptBytes) << "a big keyframe's memory went back";
    batch.add(rec::Table::kSources, "k", "small");
    EXPECT_EQ(batch[0].value, "small");
}

TEST(Writer, RecordsInAnyKeyOrderAllLand) {
    // In-order keys take MDB_APPEND; a key below the largest one put takes
    // the ordinary put. Both must land, and the change's index beside it.
    std::string dir = temp_dir("order");
    const uint64_t seqs[] = {5, 6, 2, 9, 1, 10, 3, 11};
    {
        rec::Writer writer(dir, 0);
        writer.start();
        for (uint64_t seq : seqs) {
            auto key = schema::change_key(seq % 2 ? 1 : 2, seq);
            auto index = schema::by_code_key(7, static_cast<uint32_t>(seq % 3), seq);
            std::string value = "change " + std::to_string(seq);
            rec::RecordView change{rec::Table::kChanges, schema::key_view(key), value};
            rec::RecordView by_code{rec::Table::kByCode, schema::key_view(index), ""};
            ASSERT_TRUE(writer.enqueue(change, &by_code));
            if (seq == 9) writer.flush();  // across two transactions too
        }
        writer.close();
        EXPECT_FALSE(writer.cut()) << writer.cut_reason();
    }
    auto changes = table_contents(dir, rec::Table::kChanges);
    auto by_code = table_contents(dir, rec::Table::kByCode);
    ASSERT_EQ(changes.size(), std::size(seqs));
    ASSERT_EQ(by_code.size(), std::size(seqs));
    for (uint64_t seq : seqs) {
        auto key = schema::key_bytes(schema::change_key(seq % 2 ? 1 : 2, seq));
        ASSERT_TRUE(changes.count(key)) << seq;
        EXPECT_EQ(changes[key], "change " + std::to_string(seq));
        EXPECT_TRUE(by_code.count(schema::key_bytes(schema::by_code_key(7, static_cast<uint32_t>(seq % 3), seq))));
    }
    std::filesystem::remove_all(dir);
}
