// One embedded interpreter for every recorder test in the binary (pybind11
// allows one scoped_interpreter per process).
#pragma once
#include <pybind11/embed.h>

inline void embedded_python() { static pybind11::scoped_interpreter guard; }
