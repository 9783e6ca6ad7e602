// Two renderings of a recorded Value, neither of which runs anything:
//   repr()    — Python-like text (what `repr` would have printed, as far as a
//               snapshot knows), cut to a length bound; used by diffs and reports.
//   to_json() — the JSON-able tree pyfrontend/README.md promises for
//               `before`/`after`: repr strings wherever JSON has no type.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "records.h"

namespace spyrec::replayer {

inline constexpr size_t kReprLimit = 200;

// Text longer than `limit` bytes is cut (at a UTF-8 boundary) and ends in "...".
std::string repr(const Value& value, size_t limit = kReprLimit);

// Python's repr of a float: shortest round-trip digits, "1e+16", "0.0001", "nan".
std::string float_repr(double value);
// Python's repr of a str (UTF-8 in), choosing quotes as Python does.
std::string str_repr(std::string_view utf8);
// Python's repr of bytes: b'..' with \x escapes.
std::string bytes_repr(std::string_view bytes);

struct JsonMember;

struct Json {
    // BigInt: decimal digits (optionally "-") too large for int64; the binding
    // makes it a Python int.
    enum class Kind { Null, Bool, Int, BigInt, Float, Str, Array, Object };
    Kind kind = Kind::Null;
    bool boolean = false;
    int64_t integer = 0;
    double real = 0.0;
    std::string text;                 // BigInt, Str
    std::vector<Json> items;          // Array
    std::vector<JsonMember> members;  // Object, in recorded order
};

struct JsonMember {
    std::string key;
    Json value;
};

Json to_json(const Value& value);

// An object compared by identity: its recorded repr when it has one, else
// "<myapp.Finder object #1a2b>" (the hex id tells two objects apart).
std::string ref_repr(const Value& ref);

// A redacted value's fingerprint as shown: 12 hex digits (48 of its 64 bits).
std::string fingerprint_text(const Value& redacted);

// The marker a truncated container ends with: "<3 more>".
std::string more_marker(uint64_t truncated);

}  // namespace spyrec::replayer
