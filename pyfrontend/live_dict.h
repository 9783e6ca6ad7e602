// The recorder's live change (recorder/live_change.h) as the dict a query
// returns, plus "frame": the culprit's live frame object, or None.
#pragma once
#include <pybind11/pybind11.h>

#include "live_change.h"

namespace spyrec::pyconvert {

pybind11::dict live_dict(const recorder::LiveChange& live);

}  // namespace spyrec::pyconvert
