// The redaction primitives: SipHash-2-4 against the reference vectors of its
// paper, and the case-insensitive glob that matches secrets' names.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "redaction.h"

using spyrec::recorder::glob_matches;
using spyrec::recorder::siphash24;

namespace {

// Key 00 01 .. 0f, as SipHash reads it (little-endian words).
const std::array<uint64_t, 2> kKey = {0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};

std::vector<unsigned char> counting(size_t n) {
    std::vector<unsigned char> m(n);
    for (size_t i = 0; i < n; ++i) m[i] = static_cast<unsigned char>(i);
    return m;
}

}  // namespace

TEST(SipHash, ReferenceVectors) {
    EXPECT_EQ(siphash24(kKey, nullptr, 0), 0x726fdb47dd0e0e31ULL);
    auto m = counting(15);
    EXPECT_EQ(siphash24(kKey, m.data(), m.size()), 0xa129ca6149be45e5ULL);
}

TEST(SipHash, EveryByteAndTheLengthCount) {
    auto m = counting(64);
    uint64_t all = siphash24(kKey, m.data(), m.size());
    for (size_t n : {0u, 7u, 8u, 9u, 63u}) EXPECT_NE(siphash24(kKey, m.data(), n), all) << n;
    m[40] ^= 1;
    EXPECT_NE(siphash24(kKey, m.data(), m.size()), all);
    std::array<uint64_t, 2> other = {kKey[0] ^ 1, kKey[1]};
    m[40] ^= 1;
    EXPECT_NE(siphash24(other, m.data(), m.size()), all) << "the key changes every fingerprint";
}

TEST(Glob, CaseInsensitiveStarsAndQuestionMarks) {
    struct Case {
        const char* pattern;
        const char* name;
        bool matches;
    };
    const Case cases[] = {
        {"*TOKEN*", "github_token", true},
        {"*TOKEN*", "TOKEN", true},
        {"AWS_*_KEY*", "AWS_SECRET_ACCESS_KEY", true},
        {"*_pin", "CARD_PIN", true},
        {"pa?s", "PASS", true},
        {"*_pin", "pinned", false},
        {"AUTH_*", "AUTHOR", false},
        {"*SECRET*", "SECRE", false},
        {"", "x", false},
        {"*", "", true},
        // Backtracking: the first "a" is not where the match starts.
        {"*ab*ab", "xaabxab", true},
        {"*ab*ab", "xaabxa", false},
    };
    for (const Case& c : cases) EXPECT_EQ(glob_matches(c.pattern, c.name), c.matches) << c.pattern << " ~ " << c.name;
}
