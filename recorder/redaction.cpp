#include "redaction.h"

#include <sys/random.h>

#include <cctype>
#include <cstring>
#include <random>

namespace spyrec::recorder {
namespace {

inline uint64_t rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

struct SipState {
    uint64_t v0, v1, v2, v3;
    void round() {
        v0 += v1;
        v1 = rotl(v1, 13);
        v1 ^= v0;
        v0 = rotl(v0, 32);
        v2 += v3;
        v3 = rotl(v3, 16);
        v3 ^= v2;
        v0 += v3;
        v3 = rotl(v3, 21);
        v3 ^= v0;
        v2 += v1;
        v1 = rotl(v1, 17);
        v1 ^= v2;
        v2 = rotl(v2, 32);
    }
    void absorb(uint64_t m) {
        v3 ^= m;
        round();
        round();
        v0 ^= m;
    }
};

uint64_t load_le(const unsigned char* p, size_t n) {
    uint64_t m = 0;
    for (size_t i = 0; i < n; ++i) m |= static_cast<uint64_t>(p[i]) << (8 * i);
    return m;
}

std::array<uint64_t, 2> random_key() {
    std::array<uint64_t, 2> key{};
    size_t got = 0;
    auto* out = reinterpret_cast<unsigned char*>(key.data());
    while (got < sizeof key) {
        ssize_t n = getrandom(out + got, sizeof key - got, 0);
        if (n <= 0) break;
        got += static_cast<size_t>(n);
    }
    if (got < sizeof key) {  // no getrandom: the C++ library's entropy source
        std::random_device rd;
        for (auto& word : key) word = (static_cast<uint64_t>(rd()) << 32) ^ rd();
    }
    return key;
}

}  // namespace

uint64_t siphash24(const std::array<uint64_t, 2>& key, const void* data, size_t size) {
    SipState s{key[0] ^ 0x736f6d6570736575ULL, key[1] ^ 0x646f72616e646f6dULL, key[0] ^ 0x6c7967656e657261ULL,
               key[1] ^ 0x7465646279746573ULL};
    const auto* p = static_cast<const unsigned char*>(data);
    size_t whole = size - size % 8;
    for (size_t i = 0; i < whole; i += 8) s.absorb(load_le(p + i, 8));
    s.absorb((static_cast<uint64_t>(size & 0xff) << 56) | load_le(p + whole, size % 8));
    s.v2 ^= 0xff;
    for (int i = 0; i < 4; ++i) s.round();
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

bool glob_matches(std::string_view pattern, std::string_view name) {
    // Iterative glob with one backtrack point (the last `*`): linear in practice.
    size_t p = 0, n = 0, star = std::string_view::npos, resume = 0;
    auto same = [](char a, char b) {
        return std::toupper(static_cast<unsigned char>(a)) == std::toupper(static_cast<unsigned char>(b));
    };
    while (n < name.size()) {
        if (p < pattern.size() && (pattern[p] == '?' || (pattern[p] != '*' && same(pattern[p], name[n])))) {
            ++p;
            ++n;
        } else if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            resume = n;
        } else if (star != std::string_view::npos) {
            p = star + 1;
            n = ++resume;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*') ++p;
    return p == pattern.size();
}

Redactor::Redactor(std::vector<std::string> patterns) : patterns_(std::move(patterns)), key_(random_key()) {}

bool Redactor::secret_name(std::string_view name) const {
    for (const std::string& p : patterns_) {
        if (glob_matches(p, name)) return true;
    }
    return false;
}

bool Redactor::secret_key(PyObject* key) const {
    if (patterns_.empty() || key == nullptr) return false;
    if (PyUnicode_Check(key)) {
        Py_ssize_t size = 0;
        const char* text = PyUnicode_AsUTF8AndSize(key, &size);
        if (!text) {
            PyErr_Clear();
            return false;
        }
        return secret_name(std::string_view(text, static_cast<size_t>(size)));
    }
    if (PyBytes_Check(key)) {
        return secret_name(std::string_view(PyBytes_AS_STRING(key), static_cast<size_t>(PyBytes_GET_SIZE(key))));
    }
    return false;
}

}  // namespace spyrec::recorder
