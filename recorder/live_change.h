// What the recorder hands the live hook (`spyrec run --print/--break`, the DAP
// debuggee) at each change: the records exactly as written, plus the Code
// records they name. The binding reads them with the replayer, so a live change
// is the same dict as a query's (pyfrontend/live_dict.cpp).
#pragma once
#include <Python.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace spyrec::recorder {

struct LiveChange {
    std::string expr;
    std::string change;                                   // the Change record
    std::optional<std::string> before, after;             // framed Values; absent: it did not exist
    std::vector<std::pair<uint64_t, std::string>> codes;  // (code id, Code record) of every frame named
    const std::vector<std::string>* opnames = nullptr;    // by opcode, as the Meta stores them
    PyObject* frame = nullptr;  // borrowed: the culprit's frame when it is this thread's, else null
};

// Called in the thread that made the change, with the GIL. False: it failed
// and a Python exception is set.
using LiveHook = std::function<bool(const LiveChange&)>;

}  // namespace spyrec::recorder
