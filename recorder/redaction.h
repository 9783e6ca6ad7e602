// Secrets stay out of recordings (docs/reliability.md, "Security"): a value
// whose dict key, os.environ name or attribute name matches one of the
// redaction patterns is stored as a redaction marker holding a keyed
// fingerprint of the value, never the value's bytes. Equal values give
// equal fingerprints within one recording, so "it changed" and "these two
// are equal" stay answerable.
//
// The fingerprint is SipHash-2-4 of the value's canonical snapshot, keyed by
// 128 random bits drawn when the recording starts and never stored: nobody
// holding the recording can test guesses of a secret against it, and
// fingerprints of two recordings cannot be compared. Cold path only.
#pragma once
#include <Python.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace spyrec::recorder {

// SipHash-2-4 (Aumasson and Bernstein) of `data` under a 128-bit key.
uint64_t siphash24(const std::array<uint64_t, 2>& key, const void* data, size_t size);

// Case-insensitive glob (`*`: any run, `?`: one character) of `name`.
bool glob_matches(std::string_view pattern, std::string_view name);

class Redactor {
public:
    // `patterns` empty: nothing is redacted.
    explicit Redactor(std::vector<std::string> patterns);

    bool active() const { return !patterns_.empty(); }
    const std::vector<std::string>& patterns() const { return patterns_; }

    // Whether a name (a dict key, an attribute name, an os.environ name) is a secret's.
    bool secret_name(std::string_view name) const;
    // The same for a key object: a str or bytes key; anything else is not a name.
    bool secret_key(PyObject* key) const;

    uint64_t fingerprint(const void* data, size_t size) const { return siphash24(key_, data, size); }

private:
    std::vector<std::string> patterns_;
    std::array<uint64_t, 2> key_{};
};

}  // namespace spyrec::recorder
