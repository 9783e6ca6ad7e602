// Replayer results (replayer/queries.h) as Python objects.
#pragma once
#include <pybind11/pybind11.h>

#include <optional>
#include <string>
#include <vector>

#include "queries.h"
#include "render.h"

namespace spyrec::pyconvert {

namespace py = pybind11;

// Recorded UTF-8 text; bytes that are not UTF-8 show U+FFFD instead of raising.
py::str text(const std::string& s);
py::object json(const replayer::Json& j);
py::object value(const std::optional<replayer::Value>& v);  // None when absent
py::object line(int32_t line);                              // None for -1
py::list frames(const std::vector<replayer::FrameReport>& stack);
// The culprit's fields (stack[0]'s) at the top level of a change or exception dict.
void culprit(py::dict& d, const std::vector<replayer::FrameReport>& stack);
// before/after (JSON-able, None when absent) and whether each existed.
void values(py::dict& d, const std::optional<replayer::Value>& before, const std::optional<replayer::Value>& after);
py::dict change(const replayer::ChangeReport& r);
py::list change_list(const std::vector<replayer::ChangeReport>& reports);
py::list text_list(const std::vector<std::string>& texts);

}  // namespace spyrec::pyconvert
