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
        None,
        Bool,
        Int,
        BigInt,
        Float,
        Str,
        Bytes,
        List,
        Tuple,
        Dict,
        Set,
        FrozenSet,
        Object,
        Repr,
        Cycle,
        TooDeep,
        Ref,
        Redacted
    };
    Kind kind = Kind::None;
    bool boolean = false;
    int64_t integer = 0;
    double real = 0.0;
    std::string text;            // BigInt digits, Str (UTF-8), Bytes (raw), Repr, Ref's repr (may be empty)
    std::vector<Value> items;    // List, Tuple, Set, FrozenSet
    std::vector<Entry> entries;  // Dict items, Object attributes
    std::string object_type;     // Object: Instance.typeName ("myapp.Config"); Ref: ObjectRef.typeName
    uint64_t ref_id = 0;         // Ref: the object's id() while it was there; Redacted: the fingerprint
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

// One step from a container to one of its items (schema PathStep): a dict
// key or an attribute name (a Str key of an Object's attributes), or an index
// into a list or tuple.
struct PathStep {
    bool is_index = false;
    uint64_t index = 0;  // when is_index
    Value key;           // otherwise
};

// One edit of a watched value (schema Op); apply.h applies it.
struct Op {
    enum class Kind { SetItem, DeleteItem, Splice, AddElements, RemoveElements, Replace };
    std::vector<PathStep> path;  // from the watched value to the container edited
    Kind kind = Kind::Replace;
    Entry entry;                  // SetItem
    Value value;                  // DeleteItem: the key; Replace: the new value
    uint64_t start = 0, end = 0;  // Splice: items[start:end] = items
    std::vector<Value> items;     // Splice: new items; Add/RemoveElements: the members
};

struct Change {
    enum class Kind { Modified, Appeared, Vanished, Rebound };
    uint64_t seq = 0;
    uint32_t watch_id = 0;
    uint64_t thread_id = 0;
    std::string thread_name;
    std::string task_name;  // the asyncio Task that made it ("": none, or not known)
    Kind kind = Kind::Modified;
    std::vector<Frame> stack;         // innermost first
    std::vector<Frame> recent_lines;  // oldest first
    uint8_t opcode = 0;
    std::vector<Op> ops;        // what changed (Modified without a keyframe)
    bool has_keyframe = false;  // the keyframes table holds the value after it
    uint64_t monotonic_ns = 0;  // CLOCK_MONOTONIC when recorded (0: older recordings)
    // Not stored since format 2: rebuilt by the queries from keyframes and ops.
    std::optional<Value> before;  // absent when the value did not exist before
    std::optional<Value> after;   // absent when it does not exist after (Vanished)
};

struct Code {
    std::string filename;
    std::string qualname;
    int32_t first_line = 0;
    std::string bytecode;
    std::vector<int32_t> lines;
};

// A value inside a watch whose insides spyrec cannot see (schema OpaqueNote).
struct OpaqueNote {
    std::string type_name;
    std::string tracked;  // "rebinding only", "contents (compared)"
    std::string where;    // one path where it was seen: "['arr']"
};

struct Watch {
    uint32_t id = 0;
    std::string expr;
    bool resolved_at_start = false;
    uint64_t start_seq = 0;
    // Rewritten when recording ends; all empty/false if the process died first.
    bool ever_resolved = false;
    std::string unresolved_reason;  // "`__main__` has no SETINGS"
    std::vector<OpaqueNote> opaque;
    uint32_t follow_depth = 0;

    // The recorder said, at the end, that it never found the value.
    bool never_found() const { return !ever_resolved && !unresolved_reason.empty(); }
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
    uint64_t monotonic_ns = 0;
    uint32_t frames_left_out = 0;  // outer frames the recorder did not store
};

// A point in the event order where the program said what it was doing
// (schema Mark): `pytest --spyrec` marks each test's phases.
struct Mark {
    enum class Phase { None, Setup, Call, Teardown };
    uint64_t seq = 0;
    std::string test;  // empty with Phase::None
    Phase phase = Phase::None;
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
    std::vector<std::string> redact_patterns;  // names whose values are fingerprints only
    bool redaction_known = false;              // false: recorded before redaction existed
    int64_t parent_pid = 0;                    // a followed child process: its parent (0: none)
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

const char* kind_name(Change::Kind kind);  // "modified" | "appeared" | "vanished" | "rebound"
const char* how_name(Ending::How how);
const char* phase_name(
    Mark::Phase phase);  // "none" | "setup" | "call" | "teardown"      // "exited" | "exception" | "signal" | "stopped"

}  // namespace spyrec::replayer
