// Plain, owning C++ copies of the recording's records. decode.cpp is the only
// place that touches Cap'n Proto readers; everything after it (queries, diff,
// render, the Python binding) works on these, so a hostile byte can only ever
// fail inside decode.cpp, where it becomes a RecordingError.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace spyrec::replayer {

struct Entry;

// A structural snapshot of a Python value (schema Value, see spyrec.capnp).
struct Value {
    enum class Kind {
        None, Bool, Int, BigInt, Float, Str, Bytes, List, Tuple, Dict,
        Set, FrozenSet, Object, Repr, Cycle, TooDeep
    };
    Kind kind = Kind::None;
    bool boolean = false;
    int64_t integer = 0;
    double real = 0.0;
    std::string text;            // BigInt digits, Str (UTF-8), Bytes (raw), Repr
    std::vector<Value> items;    // List, Tuple, Set, FrozenSet
    std::vector<Entry> entries;  // Dict items, Object attributes
    std::string object_type;     // Object: Instance.typeName ("myapp.Config")
    std::string subclass;        // Value.typeName: a subclass of the shape ("collections.OrderedDict")
    uint64_t truncated = 0;      // items left out by the recorder's width limit
};

struct Entry {
    Value key;
    Value value;
};

struct Frame {
    uint64_t code_id = 0;
    uint32_t offset = 0;
    int32_t line = -1;
};

struct Change {
    enum class Kind { Modified, Appeared, Vanished };
    uint64_t seq = 0;
    uint32_t watch_id = 0;
    uint64_t thread_id = 0;
    std::string thread_name;
    Kind kind = Kind::Modified;
    std::vector<Frame> stack;        // innermost first
    std::optional<Value> before;     // absent when kind is Appeared
    std::optional<Value> after;      // absent when kind is Vanished
    std::vector<Frame> recent_lines; // oldest first
    uint8_t opcode = 0;
};

struct Code {
    std::string filename;
    std::string qualname;
    int32_t first_line = 0;
    std::string bytecode;
    std::vector<int32_t> lines;
};

struct Watch {
    uint32_t id = 0;
    std::string expr;
    bool resolved_at_start = false;
    std::optional<Value> initial;
    uint64_t start_seq = 0;
};

struct RaisedException {
    uint64_t seq = 0;
    uint64_t thread_id = 0;
    std::string thread_name;
    std::string type_name;
    std::string message;
    std::vector<Frame> stack;
    bool reraised = false;
    uint8_t opcode = 0;
};

struct Meta {
    uint32_t format_version = 0;
    std::string python_version;
    std::vector<std::string> argv;
    std::string cwd;
    double start_time = 0.0;
    std::vector<std::string> opnames;
    std::string spyrec_version;
    int64_t pid = 0;
};

struct Ending {
    enum class How { Exited, Exception, Signal, Stopped };
    How how = How::Exited;
    int32_t exit_status = 0;
    int32_t signal = 0;
    double end_time = 0.0;
    std::string message;
    uint64_t changes = 0;
    uint64_t exceptions = 0;
    uint64_t cut_at_seq = 0;
    bool recording_cut = false;
};

const char* kind_name(Change::Kind kind);   // "modified" | "appeared" | "vanished"
const char* how_name(Ending::How how);      // "exited" | "exception" | "signal" | "stopped"

}  // namespace spyrec::replayer
