// spyrec._core: the one extension module. Reading and recording bind
// themselves; this file only assembles them.
#include <pybind11/pybind11.h>

#include "format.h"

namespace py = pybind11;

void bind_reading(py::module_& m);
void bind_recorder(py::module_& m);

PYBIND11_MODULE(_core, m) {
    m.doc() = "spyrec's C++ core: the recorder and the replayer";
    m.attr("FORMAT_VERSION") = spyrec::schema::kFormatVersion;
    bind_reading(m);  // defines RecordingError, which the recorder raises too
    bind_recorder(m);
}
