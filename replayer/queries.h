// The questions a recording answers. Each call opens one read transaction, so
// it sees everything committed so far even while the program is still being
// recorded. Results are plain structs; the Python binding shapes them into
// the dicts of pyfrontend/README.md.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "recording.h"
#include "records.h"

namespace spyrec::replayer {

// One frame resolved against its Code record. A frame whose code id has no
// record (a recording cut short) says so in file/function instead of failing
// the whole query.
struct FrameReport {
    uint64_t code_id = 0;
    bool code_found = false;
    std::string file;
    std::string function;
    int32_t line = -1;          // -1: the instruction has no line
    uint32_t offset = 0;
    std::string opname;         // empty when the offset is outside the bytecode
};

struct ChangeReport {
    std::string expr;
    Change change;
    std::vector<FrameReport> stack;       // innermost first; stack[0] is the culprit
    std::vector<FrameReport> trail;       // the thread's recent lines, oldest first
    std::vector<std::string> diff;
    std::optional<std::string> source;    // the culprit's source line, when recorded
};

struct WatchReport {
    Watch watch;
    uint64_t changes = 0;
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

Info info(const Recording& rec);
std::vector<WatchReport> watches(const Recording& rec);
// nullopt when the expression was not watched or never changed.
std::optional<ChangeReport> last_change(const Recording& rec, std::string_view expr);
std::vector<ChangeReport> history(const Recording& rec, std::string_view expr);   // oldest first
std::vector<ChangeReport> changes(const Recording& rec);                          // every watch, by seq
// The value after the last change with seq <= `seq`; before any change, the
// watch's initial value (if it resolved at start), else Absent.
ValueAt value_at(const Recording& rec, std::string_view expr, uint64_t seq);
std::vector<ExceptionReport> exceptions(const Recording& rec);                    // by seq
// The recorded source of a file split into lines (no line ends); nullopt when
// the recording holds no source for it.
std::optional<std::vector<std::string>> source_lines(const Recording& rec, std::string_view filename);

// Splits text into lines the way Python numbers them (\n, \r\n, \r).
std::vector<std::string> split_lines(std::string_view text);

}  // namespace spyrec::replayer
