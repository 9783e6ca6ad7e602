// Key layout (schema/keys.h): big-endian keys must sort, byte-wise as LMDB
// compares them, in numeric order; decoders must reject wrong sizes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <tuple>
#include <vector>

#include "keys.h"

namespace s = spyrec::schema;

namespace {

template <size_t N>
bool bytes_less(const std::array<uint8_t, N>& a, const std::array<uint8_t, N>& b) {
    return std::memcmp(a.data(), b.data(), N) < 0;
}

}  // namespace

TEST(KeyLayout, ChangeKeysSortByWatchThenNumericSeq) {
    // 255 -> 256 and 2^32 boundaries are where little-endian would misorder.
    std::vector<std::pair<uint32_t, uint64_t>> numeric = {
        {1, 0},          {1, 1}, {1, 255}, {1, 256},       {1, 65535}, {1, 65536}, {1, uint64_t{1} << 32},
        {1, UINT64_MAX}, {2, 0}, {256, 3}, {UINT32_MAX, 0}};
    for (size_t i = 0; i + 1 < numeric.size(); ++i) {
        auto a = s::change_key(numeric[i].first, numeric[i].second);
        auto b = s::change_key(numeric[i + 1].first, numeric[i + 1].second);
        EXPECT_TRUE(bytes_less(a, b)) << "entry " << i;
    }
}

TEST(KeyLayout, SeqKeysSortNumerically) {
    std::vector<uint64_t> seqs = {0, 1, 255, 256, 1000, 1u << 20, uint64_t{1} << 40, UINT64_MAX - 1, UINT64_MAX};
    for (size_t i = 0; i + 1 < seqs.size(); ++i) {
        EXPECT_TRUE(bytes_less(s::seq_key(seqs[i]), s::seq_key(seqs[i + 1]))) << seqs[i];
    }
}

TEST(KeyLayout, ByCodeKeysSortByCodeOffsetSeq) {
    EXPECT_TRUE(bytes_less(s::by_code_key(1, 300, 0), s::by_code_key(2, 0, 0)));
    EXPECT_TRUE(bytes_less(s::by_code_key(1, 255, 9), s::by_code_key(1, 256, 0)));
    EXPECT_TRUE(bytes_less(s::by_code_key(1, 2, 255), s::by_code_key(1, 2, 256)));
}

TEST(KeyLayout, ChangeKeyRoundTrips) {
    auto k = s::change_key(0xdeadbeef, 0x0102030405060708ULL);
    EXPECT_EQ(k[0], 0xde);
    EXPECT_EQ(k[11], 0x08);
    auto d = s::decode_change_key(k.data(), k.size());
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->watch_id, 0xdeadbeefu);
    EXPECT_EQ(d->seq, 0x0102030405060708ULL);
}

TEST(KeyLayout, DecodersRejectWrongSizes) {
    uint8_t buf[16] = {};
    EXPECT_FALSE(s::decode_change_key(buf, 11));
    EXPECT_FALSE(s::decode_change_key(buf, 13));
    EXPECT_FALSE(s::decode_change_key(buf, 0));
    EXPECT_FALSE(s::decode_u64_key(buf, 7));
    EXPECT_FALSE(s::decode_u64_key(buf, 9));
    EXPECT_FALSE(s::decode_u32_key(buf, 3));
    EXPECT_FALSE(s::decode_u32_key(buf, 8));
    EXPECT_TRUE(s::decode_u64_key(buf, 8));
    EXPECT_TRUE(s::decode_u32_key(buf, 4));
}

TEST(KeyLayout, FormatValueIsBigEndian) {
    auto v = s::format_value(0x01020304);
    EXPECT_EQ(v[0], 1);
    EXPECT_EQ(v[3], 4);
    EXPECT_EQ(s::decode_u32_key(v.data(), v.size()), 0x01020304u);
}
