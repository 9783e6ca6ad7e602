// Damaged and hostile recordings: every one must end in a RecordingError with
// a one-line message, never a crash, a hang or another exception type.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <random>

#include "decode.h"
#include "fixture_writer.h"
#include "value_builders.h"
#include "queries.h"

using namespace spyrec::replayer;
using namespace spyrec::testing;
using W = FixtureWriter;

namespace {

// Runs fn and returns the RecordingError message; fails the test on success
// or on any other exception.
template <typename Fn>
std::string error_of(Fn&& fn) {
    try {
        fn();
    } catch (const RecordingError& e) {
        std::string what = e.what();
        EXPECT_EQ(what.find('\n'), std::string::npos) << what;
        return what;
    }
    ADD_FAILURE() << "expected a RecordingError";
    return "";
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

std::string valid_change() {
    ChangeSpec c;
    c.seq = 7;
    c.stack = {{1, 2, 3}};
    c.ops = {Splice({}, 0, 0, {S("b"), S("a")})};
    return W::change_message(c);
}

// A recording whose only change of "sys.path" has the given message bytes.
void write_with_change_bytes(const std::string& dir, const std::string& bytes) {
    W w(dir);
    w.header();
    w.watch(1, "sys.path", str_list({}));
    w.put(s::table_name(s::Table::kChanges), key(s::change_key(1, 7)), bytes);
}

// The capnp word at index i of a flat message (after the segment table).
uint64_t word(const std::string& m, size_t i) {
    uint64_t w;
    std::memcpy(&w, m.data() + 8 * i, 8);
    return w;
}
void set_word(std::string& m, size_t i, uint64_t w) { std::memcpy(m.data() + 8 * i, &w, 8); }

// Index (in the flat array) of the first inline-composite list pointer whose
// elements are structs (the stack's, the ops', or a list of Values): decoding
// walks each of them.
size_t composite_list_pointer(const std::string& m) {
    for (size_t i = 1; i < m.size() / 8; ++i) {
        uint64_t w = word(m, i);
        if ((w & 3) == 1 && ((w >> 32) & 7) == 7) return i;
    }
    return 0;
}

}  // namespace

TEST(Hostile, MissingDirectory) {
    EXPECT_EQ(error_of([] { Recording r("/nonexistent/spyrec/rec"); }), "no recording at /nonexistent/spyrec/rec");
}

TEST(Hostile, DirectoryWithoutDataFile) {
    TempDir dir;
    EXPECT_EQ(error_of([&] { Recording r(dir.path()); }), "not a spyrec recording: " + dir.path());
}

TEST(Hostile, PlainFileInsteadOfDirectory) {
    TempDir dir;
    std::string file = dir.path() + "/file";
    std::ofstream(file) << "hello";
    EXPECT_TRUE(starts_with(error_of([&] { Recording r(file); }), "not a spyrec recording: " + file));
}

TEST(Hostile, GarbageDataFile) {
    TempDir dir;
    std::ofstream out(dir.path() + "/data.mdb", std::ios::binary);
    std::mt19937 rng(1);
    for (int i = 0; i < 65536; ++i) out.put(static_cast<char>(rng()));
    out.close();
    std::string msg = error_of([&] { Recording r(dir.path()); });
    EXPECT_TRUE(starts_with(msg, "not a spyrec recording") || starts_with(msg, "cannot open recording")) << msg;
}

TEST(Hostile, LmdbWithoutFormatKey) {
    TempDir dir;
    {
        W w(dir.path());
        w.put("other", "k", "v");
    }
    EXPECT_EQ(error_of([&] { Recording r(dir.path()); }), "not a spyrec recording: " + dir.path());
    {
        W w(dir.path());
        w.put(s::table_name(s::Table::kMeta), "unrelated", "v");
    }
    EXPECT_EQ(error_of([&] { Recording r(dir.path()); }), "not a spyrec recording: " + dir.path());
}

TEST(Hostile, NewerFormatVersion) {
    TempDir dir;
    {
        W w(dir.path());
        w.header();
        w.format(s::kFormatVersion + 1);
    }
    EXPECT_EQ(error_of([&] { Recording r(dir.path()); }),
              "recording format version " + std::to_string(s::kFormatVersion + 1) +
                  " is newer than this spyrec reads (" + std::to_string(s::kFormatVersion) + "); upgrade spyrec");
}

TEST(Hostile, FormatOneIsRefusedNamingBothVersions) {
    TempDir dir;
    {
        W w(dir.path());
        w.header();
        w.format(1);
    }
    EXPECT_EQ(error_of([&] { Recording r(dir.path()); }),
              "recording format version 1 was written by an older spyrec; this spyrec reads formats 2 to 3");
}

TEST(Hostile, FormatKeyOfWrongSize) {
    TempDir dir;
    {
        W w(dir.path());
        w.header();
        w.put(s::table_name(s::Table::kMeta), s::kFormatKey, std::string("\0\0\1", 3));
    }
    EXPECT_TRUE(starts_with(error_of([&] { Recording r(dir.path()); }), "damaged recording: "));
}

TEST(Hostile, MissingOrGarbageMeta) {
    TempDir dir;
    {
        W w(dir.path());
        w.create_all();
        w.format();
    }
    EXPECT_TRUE(starts_with(error_of([&] { Recording r(dir.path()); }), "damaged recording: "));
    {
        W w(dir.path());
        w.put(s::table_name(s::Table::kMeta), s::kMetaKey, std::string(16, '\xff'));
    }
    EXPECT_TRUE(starts_with(error_of([&] { Recording r(dir.path()); }), "damaged recording: "));
}

TEST(Hostile, TruncatedChangeMessage) {
    std::string bytes = valid_change();
    ASSERT_GT(bytes.size(), 16u);
    TempDir dir;
    write_with_change_bytes(dir.path(), bytes.substr(0, bytes.size() - 8));
    Recording rec(dir.path());
    std::string msg = error_of([&] { last_change(rec, "sys.path"); });
    EXPECT_TRUE(starts_with(msg, "damaged recording: change 1/7")) << msg;
    EXPECT_TRUE(starts_with(error_of([&] { history(rec, "sys.path"); }), "damaged recording: "));
    EXPECT_TRUE(starts_with(error_of([&] { changes(rec); }), "damaged recording: "));
}

TEST(Hostile, OddSizedAndEmptyMessages) {
    for (std::string bytes : {std::string(7, 'x'), std::string(), std::string(13, '\0')}) {
        TempDir dir;
        write_with_change_bytes(dir.path(), bytes);
        Recording rec(dir.path());
        std::string msg = error_of([&] { last_change(rec, "sys.path"); });
        EXPECT_NE(msg.find("not a whole message"), std::string::npos) << msg;
    }
}

TEST(Hostile, ChangeDisagreeingWithItsKey) {
    TempDir dir;
    {
        W w(dir.path());
        w.header();
        w.watch(1, "sys.path", str_list({}));
        ChangeSpec c;
        c.watch_id = 1;
        c.seq = 99;
        w.put(s::table_name(s::Table::kChanges), key(s::change_key(1, 7)), W::change_message(c));
    }
    Recording rec(dir.path());
    EXPECT_NE(error_of([&] { last_change(rec, "sys.path"); }).find("disagrees with its key"), std::string::npos);
}

TEST(Hostile, BadKeySizes) {
    TempDir dir;
    {
        W w(dir.path());
        w.header();
        w.watch(1, "sys.path", str_list({}));
        w.put(s::table_name(s::Table::kChanges), "short", valid_change());
        w.put(s::table_name(s::Table::kExceptions), "abc", "12345678");
    }
    Recording rec(dir.path());
    EXPECT_TRUE(starts_with(error_of([&] { changes(rec); }), "damaged recording: "));
    EXPECT_TRUE(starts_with(error_of([&] { exceptions(rec); }), "damaged recording: "));
    EXPECT_TRUE(starts_with(error_of([&] { watches(rec); }), "damaged recording: "));
}

TEST(Hostile, DeeplyNestedValue) {
    capnp::MallocMessageBuilder msg;
    auto c = msg.initRoot<s::Change>();
    c.setSeq(7);
    c.setWatchId(1);
    auto v = c.initOps(1)[0].initReplace();
    for (int i = 0; i < 10000; ++i) v = v.initList(1)[0];
    v.setInteger(1);
    std::string bytes = flat(msg);
    std::string m = error_of([&] { decode_change(bytes, "change 1/7"); });
    EXPECT_TRUE(starts_with(m, "damaged recording: change 1/7: ")) << m;
}

TEST(Hostile, NestingWithinTheLimitDecodes) {
    capnp::MallocMessageBuilder msg;
    auto c = msg.initRoot<s::Change>();
    auto v = c.initOps(1)[0].initReplace();
    for (int i = 0; i < 100; ++i) v = v.initList(1)[0];
    v.setInteger(1);
    Change decoded = decode_change(flat(msg), "change");
    ASSERT_EQ(decoded.ops.size(), 1u);
    EXPECT_EQ(decoded.ops[0].value.items.size(), 1u);
}

TEST(Hostile, ListDeclaringMoreElementsThanItsBytes) {
    std::string bytes = valid_change();
    size_t p = composite_list_pointer(bytes);
    ASSERT_NE(p, 0u);
    // Pointer: claim 2^28 words; tag: claim 2^28 elements.
    uint64_t w = word(bytes, p);
    set_word(bytes, p, (w & 0x7ffffffffULL) | (uint64_t{1} << 28 << 35));
    int32_t offset = static_cast<int32_t>(static_cast<uint32_t>(w)) >> 2;
    size_t tag = p + 1 + offset;
    ASSERT_LT(tag, bytes.size() / 8);
    uint64_t t = word(bytes, tag);
    set_word(bytes, tag, (t & ~0xfffffffcULL) | (uint64_t{1} << 28 << 2));
    EXPECT_TRUE(starts_with(error_of([&] { decode_change(bytes, "change"); }), "damaged recording: "));
}

TEST(Hostile, ZeroSizedElementsCannotAmplify) {
    // A list of zero-size structs costs no bytes per element; a million of
    // them must not become a million Values.
    for (uint64_t count : {uint64_t{1} << 20, (uint64_t{1} << 29) - 1}) {
        std::string bytes = valid_change();
        size_t p = composite_list_pointer(bytes);
        ASSERT_NE(p, 0u);
        uint64_t w = word(bytes, p);
        set_word(bytes, p, w & 0x7ffffffffULL);  // zero words of elements
        int32_t offset = static_cast<int32_t>(static_cast<uint32_t>(w)) >> 2;
        size_t tag = p + 1 + offset;
        set_word(bytes, tag, count << 2);  // struct tag: count elements of 0 data, 0 pointers
        std::string m = error_of([&] { decode_change(bytes, "change"); });
        EXPECT_TRUE(starts_with(m, "damaged recording: ")) << m;
    }
}

TEST(Hostile, UnalignedBytesDecode) {
    std::string bytes = valid_change();
    std::string shifted = "x" + bytes;
    Change c = decode_change(std::string_view(shifted).substr(1), "change");
    EXPECT_EQ(c.seq, 7u);
    ASSERT_EQ(c.ops.size(), 1u);
    EXPECT_EQ(c.ops[0].items.size(), 2u);
}

// Every truncation, every single-byte corruption, and random garbage: the
// result is a decoded record or a RecordingError, nothing else.
TEST(Hostile, CorruptedMessagesNeverCrash) {
    const std::string good = valid_change();
    auto survive = [](const std::string& bytes) {
        try {
            decode_change(bytes, "change");
        } catch (const RecordingError&) {}
    };
    for (size_t n = 0; n < good.size(); ++n) survive(good.substr(0, n));
    for (size_t i = 0; i < good.size(); ++i) {
        for (uint8_t x : {0x01, 0x80, 0xff}) {
            std::string bad = good;
            bad[i] = static_cast<char>(bad[i] ^ x);
            survive(bad);
        }
    }
    std::mt19937_64 rng(42);
    for (int i = 0; i < 3000; ++i) {
        std::string bad(8 * (1 + rng() % 32), '\0');
        for (char& ch : bad) ch = static_cast<char>(rng());
        if (i % 2) bad.replace(0, 8, good.substr(0, 8));  // a plausible segment table
        survive(bad);
    }
}
