// The questions a recording answers. Each call (and each cursor) opens one
// read transaction, so it sees everything committed so far even while the
// program is still being recorded. Results are plain structs; the Python binding shapes them into
// the dicts of pyfrontend/README.md.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "recording.h"
#include "records.h"
#include "subpath.h"

namespace spyrec::replayer {

// One frame resolved against its Code record. A frame whose code id has no
// record (a recording cut short) says so in file/function instead of failing
// the whole query.
struct FrameReport {
    uint64_t code_id = 0;
    bool code_found = false;
    std::string file;
    std::string function;
    int32_t line = -1;  // -1: the instruction has no line
    uint32_t offset = 0;
    std::string opname;  // empty when the offset is outside the bytecode
};

struct ChangeReport {
    std::string expr;
    Change change;
    std::vector<FrameReport> stack;  // innermost first; stack[0] is the culprit
    std::vector<FrameReport> trail;  // the thread's recent lines, oldest first
    std::vector<std::string> diff;
    std::optional<std::string> source;  // the culprit's source line, when recorded
};

struct WatchReport {
    Watch watch;
    uint64_t changes = 0;
    std::optional<Value> initial;  // the keyframe at seq 0: the value when the watch started
};

struct ExceptionReport {
    RaisedException exception;
    std::vector<FrameReport> stack;
};

struct ValueAt {
    enum class State { NotWatched, Absent, Present };
    State state = State::NotWatched;
    Value value;  // when Present
};

struct Info {
    uint32_t format_version = 0;
    Meta meta;
    std::optional<Ending> ending;  // absent: still recording, or the process died
    uint64_t changes = 0;
    uint64_t exceptions = 0;
    uint64_t watches = 0;
};

// What a query is about: a watch, or a sub-path of one (`os.environ['TZ']`
// answered from the `os.environ` watch). Which watch answers is the caller's
// choice (the Python API picks the longest watched prefix).
struct Target {
    std::string expr;            // as reports show it
    std::string watch;           // the watch's expression: expr itself, or a prefix of it
    std::vector<SubStep> steps;  // from the watched value to expr's (empty: the watch itself)

    static Target whole(std::string_view expr) { return Target{std::string(expr), std::string(expr), {}}; }
};

// Changes one at a time, oldest first, each with its before/after values
// rebuilt: the history of one target, or every change of every watch by seq
// (per-watch timelines merged). One read transaction per cursor, and memory
// bounded by the watched values' size, whatever the recording's length.
class ChangeCursor {
public:
    ChangeCursor(const Recording& rec, const Target& target);
    explicit ChangeCursor(const Recording& rec);
    ~ChangeCursor();
    ChangeCursor(const ChangeCursor&) = delete;
    ChangeCursor& operator=(const ChangeCursor&) = delete;

    // nullopt at the end. Throws RecordingError (damage, or "out of memory reading ...").
    std::optional<ChangeReport> next();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Raised exceptions one at a time, by seq, in one read transaction.
class ExceptionCursor {
public:
    explicit ExceptionCursor(const Recording& rec);
    ~ExceptionCursor();
    ExceptionCursor(const ExceptionCursor&) = delete;
    ExceptionCursor& operator=(const ExceptionCursor&) = delete;
    std::optional<ExceptionReport> next();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

Info info(const Recording& rec);
// Every watch with its change count and initial value (a key scan of the
// changes table and one keyframe each); watch_list is the records alone.
std::vector<WatchReport> watches(const Recording& rec);
std::vector<Watch> watch_list(const Recording& rec);
// How many changes a watch has (keys only, nothing decoded); 0 if not watched.
uint64_t change_count(const Recording& rec, std::string_view expr);
// nullopt when the target's watch does not exist or the target never changed.
std::optional<ChangeReport> last_change(const Recording& rec, const Target& target);
std::optional<ChangeReport> last_change(const Recording& rec, std::string_view expr);
// Whole histories, for small recordings and tests; ChangeCursor streams.
std::vector<ChangeReport> history(const Recording& rec, const Target& target);  // oldest first
std::vector<ChangeReport> history(const Recording& rec, std::string_view expr);
std::vector<ChangeReport> changes(const Recording& rec);  // every watch, by seq
// The value after the last change with seq <= `seq`; before any change, the
// value when the watch started (if it resolved then), else Absent.
ValueAt value_at(const Recording& rec, const Target& target, uint64_t seq);
ValueAt value_at(const Recording& rec, std::string_view expr, uint64_t seq);
std::vector<ExceptionReport> exceptions(const Recording& rec);  // by seq
// The recorded source of a file split into lines (no line ends); nullopt when
// the recording holds no source for it.
std::optional<std::vector<std::string>> source_lines(const Recording& rec, std::string_view filename);
// (filename, what a reader calls it): `In [3]` for a notebook cell.
std::vector<std::pair<std::string, std::string>> file_labels(const Recording& rec);

// Splits text into lines the way Python numbers them (\n, \r\n, \r).
std::vector<std::string> split_lines(std::string_view text);

}  // namespace spyrec::replayer
